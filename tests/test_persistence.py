"""Saving and loading: the safe one-file format, and pickle / joblib across processes."""

import json
import pickle
import textwrap
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
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("estimator.json", json.dumps(document or old_document))
        archive.writestr("model.keras", old_model if model is None else model)
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
        (lambda path: rewrite(path, model=b"garbage"), "Keras model that cannot be loaded"),
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
