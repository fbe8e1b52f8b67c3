"""Saving and loading: the safe one-file format, and pickle / joblib across processes."""

import io
import json
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

import sk_autoencoder
from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

from . import ENVIRONMENT
from .test_base import outputs, run_python

ESTIMATORS = {
    "plain": lambda: AutoencoderTransformer(
        3, hidden_layer_sizes=(8,), epochs=4, random_state=0, early_stopping=True
    ),
    "denoising": lambda: DenoisingAutoencoderTransformer(
        3, hidden_layer_sizes=(8, 4), noise="salt_and_pepper", noise_level=0.2, epochs=4
    ),
}


def fitted_state(estimator):
    return {
        name: value
        for name, value in vars(estimator).items()
        if name not in ("model_", "encoder_", "decoder_")
    }


def assert_same_estimator(restored, original, X):
    assert type(restored) is type(original)
    assert restored.get_params() == original.get_params()
    assert repr(fitted_state(restored)) == repr(fitted_state(original))
    if hasattr(original, "model_"):
        for after, before in zip(outputs(restored, X), outputs(original, X), strict=True):
            assert_array_equal(after, before)


@pytest.fixture
def frame(blobs):
    return pd.DataFrame(blobs, columns=[f"x{i}" for i in range(blobs.shape[1])])


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("fitted", [False, True])
def test_save_and_load_round_trip_exactly(tmp_path, frame, kind, fitted):
    estimator = ESTIMATORS[kind]().set_output(transform="pandas")
    if fitted:
        estimator.fit(frame)
    estimator.save(tmp_path / "reducer.skae")
    restored = sk_autoencoder.load(tmp_path / "reducer.skae")
    assert_same_estimator(restored, estimator, frame)
    if fitted:
        assert list(restored.transform(frame).columns) == list(estimator.get_feature_names_out())
        # The optimizer's state travels too: a warm refit is not needed to use it, but
        # its step count shows it was saved.
        assert int(restored.model_.optimizer.iterations) == int(
            estimator.model_.optimizer.iterations
        )


def test_a_loaded_estimator_refits(tmp_path, blobs):
    estimator = ESTIMATORS["plain"]().fit(blobs)
    estimator.save(tmp_path / "reducer.skae")
    restored = sk_autoencoder.load(tmp_path / "reducer.skae").fit(blobs)
    assert_array_equal(restored.transform(blobs), estimator.transform(blobs))


def test_params_that_json_cannot_hold_are_refused_at_save(tmp_path):
    estimator = AutoencoderTransformer(random_state=np.random.RandomState(0))
    with pytest.raises(TypeError, match=r"random_state=RandomState.*pickle"):
        estimator.save(tmp_path / "reducer.skae")


@pytest.fixture
def saved(tmp_path, blobs):
    """The path of a fitted estimator's file, and the estimator."""
    estimator = ESTIMATORS["plain"]().fit(blobs)
    path = tmp_path / "reducer.skae"
    estimator.save(path)
    return path, estimator


def rewrite(path, document=None, model=None):
    """Rewrite the archive at ``path`` with another JSON document or model bytes."""
    with zipfile.ZipFile(path) as archive:
        old_document = json.loads(archive.read("estimator.json"))
        old_model = archive.read("model.keras")
    document = document or old_document
    if model is not None:
        document["members"] = {"model.keras": len(model)}
    model = old_model if model is None else model
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("estimator.json", json.dumps(document))
        archive.writestr("model.keras", model)
    return old_document


def edited(path, edit):
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("estimator.json"))
    edit(document)
    return document


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda path: path.write_bytes(path.read_bytes()[:-100]), "damaged"),
        (lambda path: path.write_bytes(b"not a zip file at all"), "damaged"),
        (lambda path: path.write_text("{}"), "damaged"),
        (lambda path: rewrite(path, model=b"garbage"), r"\.keras member is not a zip archive"),
        (
            lambda path: rewrite(path, edited(path, lambda d: d.update(format_version=99))),
            "format version 99 by sk_autoencoder 0.1.0; this sk_autoencoder",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d.update(format="other"))),
            "not a file written by sk_autoencoder",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d.update({"class": "os.system"}))),
            "unknown estimator class 'os.system'",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d["params"].update(epochs=-1))),
            "invalid estimator data.*epochs",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d["params"].update(spam=1))),
            "invalid estimator data.*spam",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d["params"].update(encoding_dim=2))),
            "codes of 3 values, but records .*encoding_dim=2",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d["fitted"].update(_fit=1))),
            "unexpected fitted attributes",
        ),
        (
            lambda path: rewrite(path, edited(path, lambda d: d["fitted"].update(n_iter_="lots"))),
            "n_iter_='lots' is not valid",
        ),
        (
            lambda path: rewrite(
                path,
                edited(
                    path,
                    lambda d: d["fitted"].update(
                        feature_names_in_={"array": ["a", "b"], "dtype": "<U1"}
                    ),
                ),
            ),
            "feature_names_in_=array.*'a', 'b'.* is not valid",
        ),
        (
            lambda path: rewrite(
                path,
                edited(
                    path,
                    lambda d: d["fitted"].update(loss_curve_=[*d["fitted"]["loss_curve_"], 1.0]),
                ),
            ),
            "loss_curve_=.* is not valid",
        ),
        (
            lambda path: rewrite(
                path,
                edited(
                    path,
                    lambda d: d["private"].update(
                        _sklearn_output_config={"dict": {"transform": "spreadsheet"}}
                    ),
                ),
            ),
            "unknown output setting",
        ),
        (
            lambda path: rewrite(
                path, edited(path, lambda d: d.update(members={"model.keras": 10}))
            ),
            "model.keras' holds more than 10 bytes",
        ),
    ],
    ids=[
        "truncated",
        "not-a-zip",
        "not-a-zip-text",
        "bad-model",
        "future-version",
        "other-format",
        "unknown-class",
        "invalid-param",
        "unknown-param",
        "model-mismatch",
        "private-attribute",
        "n_iter-not-a-count",
        "feature-names-of-other-count",
        "loss-curve-of-other-length",
        "unknown-output-setting",
        "member-larger-than-declared",
    ],
)
def test_damaged_or_tampered_files_give_a_clear_error(saved, damage, match):
    path, _ = saved
    damage(path)
    with pytest.raises(ValueError, match=match):
        sk_autoencoder.load(path)


def test_a_model_carrying_code_is_refused_and_its_code_never_runs(saved, tmp_path):
    path, _ = saved
    ran = tmp_path / "code-ran"
    inputs = keras.Input((6,))
    # A Lambda layer stores Python bytecode in the .keras file; safe mode refuses it.
    # The file's name is a constant in the function's code, which Keras stores.
    payload = keras.layers.Lambda(eval(f"lambda x: (open({str(ran)!r}, 'w').close(), x)[1]"))
    malicious = keras.Model(inputs, payload(inputs))
    malicious.save(tmp_path / "malicious.keras")
    ran.unlink(missing_ok=True)
    rewrite(path, model=(tmp_path / "malicious.keras").read_bytes())
    with pytest.raises(ValueError, match=r"cannot be loaded.*safe_mode"):
        sk_autoencoder.load(path)
    assert not ran.exists()


def test_a_model_that_is_no_encoder_and_decoder_is_refused(saved, tmp_path):
    path, _ = saved
    inputs = keras.Input((6,))
    keras.Model(inputs, keras.layers.Dense(6)(inputs)).save(tmp_path / "other.keras")
    rewrite(path, model=(tmp_path / "other.keras").read_bytes())
    with pytest.raises(ValueError, match="cannot be loaded"):
        sk_autoencoder.load(path)


def test_a_model_of_other_layers_loads_and_runs(saved, tmp_path, blobs):
    # Any network of Keras's own layers is run, compiled: a softmax code, say.
    path, _ = saved
    inputs = keras.Input((6,))
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    encoder.name = "encoder"
    decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6)], name="decoder")
    keras.Model(inputs, decoder(encoder(inputs))).save(tmp_path / "other.keras")
    rewrite(path, model=(tmp_path / "other.keras").read_bytes())
    codes = sk_autoencoder.load(path).transform(blobs)
    np.testing.assert_allclose(codes.sum(axis=1), 1, rtol=1e-5)


SAVED_IN_ANOTHER_PROCESS = """
    import pickle, sys
    import joblib, numpy as np
    import sk_autoencoder

    folder = sys.argv[1] if len(sys.argv) > 1 else {folder!r}
    X = np.load(folder + "/X.npy")
    for name in ("plain", "denoising"):
        for how, restored in (
            ("pickle", pickle.load(open(f"{{folder}}/{{name}}.pkl", "rb"))),
            ("joblib", joblib.load(f"{{folder}}/{{name}}.joblib")),
            ("safe", sk_autoencoder.load(f"{{folder}}/{{name}}.skae")),
        ):
            np.save(f"{{folder}}/{{name}}-{{how}}.npy", restored.transform(X))
"""


def test_every_format_round_trips_into_a_fresh_process(tmp_path, blobs):
    np.save(tmp_path / "X.npy", blobs)
    estimators = {name: make().fit(blobs) for name, make in ESTIMATORS.items()}
    for name, estimator in estimators.items():
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(estimator))
        joblib.dump(estimator, tmp_path / f"{name}.joblib")
        estimator.save(tmp_path / f"{name}.skae")
    run_python(textwrap.dedent(SAVED_IN_ANOTHER_PROCESS).format(folder=str(tmp_path)))
    for name, estimator in estimators.items():
        for how in ("pickle", "joblib", "safe"):
            restored_codes = np.load(tmp_path / f"{name}-{how}.npy")
            assert_array_equal(restored_codes, estimator.transform(blobs), err_msg=how)


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_unfitted_estimators_round_trip(tmp_path, kind, how):
    estimator = ESTIMATORS[kind]()
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(estimator))
    else:
        joblib.dump(estimator, tmp_path / "reducer.joblib")
        restored = joblib.load(tmp_path / "reducer.joblib")
    assert_same_estimator(restored, estimator, None)
    with pytest.raises(NotFittedError):
        restored.transform(np.zeros((1, 6)))


UNFITTED_IN_ANOTHER_PROCESS = """
import json, pickle, sys
import joblib
import sk_autoencoder
from sklearn.exceptions import NotFittedError

folder = {folder!r}
loaded = {{}}
for name in ("plain", "denoising"):
    for how, restored in (
        ("pickle", pickle.load(open(f"{{folder}}/{{name}}.pkl", "rb"))),
        ("joblib", joblib.load(f"{{folder}}/{{name}}.joblib")),
        ("safe", sk_autoencoder.load(f"{{folder}}/{{name}}.skae")),
    ):
        try:
            restored.transform([[0.0] * 6])
            fitted = True
        except NotFittedError:
            fitted = False
        params = repr(restored.get_params())
        loaded[f"{{name}}-{{how}}"] = [type(restored).__name__, params, fitted]
print(json.dumps(loaded))
"""


def test_unfitted_estimators_round_trip_into_a_fresh_process(tmp_path):
    estimators = {name: make() for name, make in ESTIMATORS.items()}
    for name, estimator in estimators.items():
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(estimator))
        joblib.dump(estimator, tmp_path / f"{name}.joblib")
        estimator.save(tmp_path / f"{name}.skae")
    printed = run_python(UNFITTED_IN_ANOTHER_PROCESS.format(folder=str(tmp_path))).stdout
    loaded = json.loads(printed.strip().splitlines()[-1])
    assert loaded == {
        f"{name}-{how}": [type(estimator).__name__, repr(estimator.get_params()), False]
        for name, estimator in estimators.items()
        for how in ("pickle", "joblib", "safe")
    }


def zip_structure_offsets(data):
    """Offsets of every byte of ``data``'s zip structure: local headers, central
    directory and its end record."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos, start = archive.infolist(), archive.start_dir
    offsets = set(range(start, len(data)))
    for info in infos:
        local_header = 30 + len(info.filename.encode()) + len(info.extra)
        offsets.update(range(info.header_offset, info.header_offset + local_header))
    return sorted(offsets)


def damaged_copies(data, count):
    """``count`` damaged copies of ``data``: truncations, and one flipped bit at every
    byte of the zip's structure and at positions spread over the whole file."""
    truncations = np.unique(np.linspace(0, len(data) - 1, count // 10).astype(int))
    for end in truncations:
        yield f"truncated at {end}", data[:end]
    structure = zip_structure_offsets(data)
    spread = np.linspace(0, len(data) - 1, count - len(truncations) - len(structure))
    for number, offset in enumerate([*structure, *spread.astype(int)]):
        copy = bytearray(data)
        copy[offset] ^= 1 << (number % 8)
        yield f"bit {number % 8} of byte {offset} flipped", bytes(copy)


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_every_damaged_copy_is_refused_or_loads_unchanged(tmp_path, blobs, kind):
    estimator = ESTIMATORS[kind]().set_params(hidden_layer_sizes=(4,), epochs=2)
    estimator.fit(blobs[:40])
    original = tmp_path / "reducer.skae"
    estimator.save(original)
    data, expected = original.read_bytes(), outputs(estimator, blobs[:5])
    path, outcomes = tmp_path / "damaged.skae", {"refused": 0, "unchanged": 0}
    for damage, copy in damaged_copies(data, 2_000):
        path.write_bytes(copy)
        try:
            restored = sk_autoencoder.load(path)
        except ValueError as error:
            assert str(path) in str(error), damage
            outcomes["refused"] += 1
            continue
        for after, before in zip(outputs(restored, blobs[:5]), expected, strict=True):
            assert_array_equal(after, before, err_msg=damage)
        outcomes["unchanged"] += 1
    print(f"{kind}: {outcomes} of {len(data)} bytes' damaged copies")  # shown by pytest -s
    assert sum(outcomes.values()) >= 2_000
    assert outcomes["refused"] > 1_000


def test_a_header_nested_too_deep_is_refused(saved):
    path, _ = saved
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("estimator.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nests deeper than"):
        sk_autoencoder.load(path)


def test_a_header_too_large_is_refused(saved):
    path, _ = saved
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("estimator.json", " " * 17 * 2**20 + "{}")
    with pytest.raises(ValueError, match=r"estimator\.json' holds more than"):
        sk_autoencoder.load(path)


def test_non_finite_weights_are_refused(saved, tmp_path):
    path, estimator = saved
    weights = estimator.model_.get_weights()
    weights[0][0, 0] = np.nan
    model = keras.models.clone_model(estimator.model_)
    model.set_weights(weights)
    model.save(tmp_path / "nan.keras")
    rewrite(path, model=(tmp_path / "nan.keras").read_bytes())
    with pytest.raises(ValueError, match=r"weight .* is not finite"):
        sk_autoencoder.load(path)


def write_zeros(archive, name, size):
    """Add a member of ``size`` zero bytes, written a block at a time."""
    block, info = bytes(2**24), zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        for _ in range(size // len(block)):
            member.write(block)


PEAK_MEMORY_OF_LOADS = """
    import resource, sys
    import sk_autoencoder

    first, *paths = {paths!r}
    sk_autoencoder.load(first)  # Keras and its backend, loaded and warm
    for path in paths:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            sk_autoencoder.load(path)
            outcome = "loaded"
        except ValueError as error:
            outcome = "refused" if path in str(error) else "other-error"
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(outcome, grown)
"""


@pytest.mark.slow
def test_members_of_zeros_are_refused_in_bounded_memory(saved, tmp_path):
    # 1 GiB of zeros deflates to about 1 MB: an extra member, and a model member whose
    # header declares it all (one larger than its header declares is refused unread).
    path, _ = saved
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("estimator.json"))
    bombs = []
    for name, declared in [("extra", None), ("declared", 2**30)]:
        bomb = tmp_path / f"{name}.skae"
        bombs.append(str(bomb))
        if declared is not None:
            document["members"] = {"model.keras": declared}
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.writestr("estimator.json", json.dumps(document))
            with zipfile.ZipFile(path) as original:
                if name == "extra":
                    archive.writestr("model.keras", original.read("model.keras"))
            write_zeros(archive, "zeros" if name == "extra" else "model.keras", 2**30)
        assert bomb.stat().st_size < 8 * 2**20
    code = textwrap.dedent(PEAK_MEMORY_OF_LOADS).format(paths=[str(path), *bombs])
    printed = run_python(code)
    lines = printed.stdout.strip().splitlines()[-2:]
    print("\n".join(lines))  # outcome, MiB of peak memory grown; shown by pytest -s
    for line in lines:
        outcome, grown = line.split()
        assert outcome == "refused", line
        assert float(grown) < 64, line


CUT_SHORT_SAVE = """
    import os, sys, tempfile
    import numpy as np
    from sk_autoencoder import AutoencoderTransformer

    X = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    large = AutoencoderTransformer(
        2, hidden_layer_sizes=(1024, 1024), epochs=1, early_stopping=False, random_state=0
    ).fit(X)
    # What the fit left in the temporary folder (TensorFlow's autograph files).
    print(" ".join(["saving", *os.listdir(tempfile.gettempdir())]), flush=True)
    large.save(sys.argv[1])
"""


def hear_ctrl_c():
    """Let a child hear SIGINT as Ctrl-C, although the suite may run where SIGINT is
    ignored (a shell's background job), which the child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("cut", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_save_cut_short_leaves_the_previous_file(tmp_path, blobs, cut):
    folder, temporary = tmp_path / "models", tmp_path / "tmp"
    folder.mkdir()
    temporary.mkdir()
    target = folder / "reducer.skae"
    previous = ESTIMATORS["plain"]().fit(blobs)
    previous.save(target)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CUT_SHORT_SAVE), str(target)],
        env={**ENVIRONMENT, "TMPDIR": str(temporary)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=hear_ctrl_c,
    )
    try:
        saving, *left_by_fit = child.stdout.readline().split()
        assert saving == "saving", child.stderr.read()
        # Cut when the model is being written into the save's folder.
        deadline = time.monotonic() + 120
        while not any(folder.glob(".reducer.skae.*.saving/*")):
            assert child.poll() is None and time.monotonic() < deadline, "the save ended"
            time.sleep(0.0005)
        child.send_signal(cut)
        child.wait(60)
    finally:
        child.kill()
    if child.returncode == 0:
        # Ctrl-C landed where Python drops exceptions (a garbage collector callback)
        # and the save went on: then it finished whole, with nothing left beside it.
        assert cut == signal.SIGINT and "KeyboardInterrupt" in child.stderr.read()
        assert sk_autoencoder.load(target).hidden_layer_sizes == (1024, 1024)
        assert list(folder.iterdir()) == [target]
        return
    for after, before in zip(
        outputs(sk_autoencoder.load(target), blobs), outputs(previous, blobs), strict=True
    ):
        assert_array_equal(after, before)
    assert {path.name for path in temporary.iterdir()} <= set(left_by_fit)
    leftovers = [path.name for path in folder.iterdir() if path != target]
    if cut == signal.SIGINT:
        assert leftovers == []
    else:
        assert len(leftovers) <= 1 and all(name.endswith(".saving") for name in leftovers)
    previous.save(target)
    assert list(folder.iterdir()) == [target]


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 4 MiB tmpfs, where this process may mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_raises_oserror_and_leaves_the_previous_file(small_disk, blobs):
    target = small_disk / "reducer.skae"
    previous = ESTIMATORS["plain"]().fit(blobs)
    previous.save(target)
    large = AutoencoderTransformer(
        2, hidden_layer_sizes=(700, 700), epochs=1, early_stopping=False, random_state=0
    ).fit(blobs)
    with pytest.raises(OSError):
        large.save(target)
    for after, before in zip(
        outputs(sk_autoencoder.load(target), blobs), outputs(previous, blobs), strict=True
    ):
        assert_array_equal(after, before)
    assert list(small_disk.iterdir()) == [target]
