"""The installed ``sk-autoencoder`` command, run as a user runs it: in a subprocess."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sk_autoencoder import _cli
from sk_autoencoder._data import FASHION_MNIST_FILES

from .test_persistence import hear_ctrl_c

COMMAND = Path(sys.executable).with_name("sk-autoencoder")
# Tiny fits: these tests check what the command reads, prints and writes.
FAST = ["--dims", "2", "3", "--epochs", "2"]
REPORT_FILES = {"report.md", "report.html", "results.csv", "mse.png", "codes.png"}
# What TensorFlow's C++ core writes at start-up, which the command must hold back.
START_UP = re.compile(r"cuda|cuInit|oneDNN|absl|cpu_feature_guard|I0000|E0000", re.IGNORECASE)
# Runs the command's main and then says whether Keras was ever imported.
WITHOUT_KERAS = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('keras imported:', 'keras' in sys.modules))\n"
    "from sk_autoencoder._cli import main\n"
    "main(sys.argv[1:])\n"
)


def run(*args, cwd):
    return subprocess.run(
        [str(COMMAND), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def table_rows(stdout):
    """The table's data rows as printed: ``(dim, reducer, mse, ratio)``."""
    pattern = re.compile(
        r"^\s*(\d+)\s+(PCA|autoencoder|denoising autoencoder)\s+([\d.]+)\s+([\d.]+)"
    )
    return [
        (int(match[1]), match[2], float(match[3]), float(match[4]))
        for match in map(pattern.match, stdout.splitlines())
        if match
    ]


def check_success(result, out):
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines() if START_UP.search(line)]
    rows = table_rows(result.stdout)
    assert [(dim, name) for dim, name, _, _ in rows] == [
        (dim, name) for dim in (2, 3) for name in ("PCA", "autoencoder", "denoising autoencoder")
    ]
    assert all(ratio == 1.0 for _, name, _, ratio in rows if name == "PCA")
    assert REPORT_FILES <= {path.name for path in out.iterdir()}
    csv = pd.read_csv(out / "results.csv")
    assert_allclose(csv["held-out MSE"], [mse for _, _, mse, _ in rows], atol=5e-5)
    assert_allclose(csv["MSE / PCA's"], [ratio for _, _, _, ratio in rows], atol=5e-3)
    report = (out / "report.md").read_text()
    verdict = next(
        line for line in result.stdout.splitlines() if "PCA" in line and "." in line[-1:]
    )
    assert verdict in report
    assert "data:image/png;base64," in (out / "report.html").read_text()
    return csv


def mixed_table(n=120):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(n, 2))
    frame = pd.DataFrame(codes @ rng.normal(size=(2, 5)), columns=list("abcde"))
    frame["city"] = rng.choice(["Oslo", "Lima", "Pune"], size=n)
    frame["kind"] = np.where(codes[:, 0] > 0, "up", "down")
    frame.loc[::7, "a"] = np.nan
    frame.loc[3::11, "city"] = None
    return frame


def test_a_csv_with_text_and_missing_values(tmp_path):
    mixed_table().to_csv(tmp_path / "mixed.csv", index=False)
    result = run("compare", "mixed.csv", "--target", "kind", "--out", "out", *FAST, cwd=tmp_path)
    csv = check_success(result, tmp_path / "out")
    assert csv["accuracy"].between(0, 1).all()
    report = (tmp_path / "out" / "report.md").read_text()
    assert "One-hot encoded 1 text column (city)" in report
    assert "Replaced 18 missing numeric values" in report
    assert "Gave 11 missing text values a category of their own: city (11)" in report
    # One line per fit, as the fits go.
    assert len(re.findall(r"^\[\d/6\] ", result.stdout, re.MULTILINE)) == 6


def test_a_tiny_table_never_loses_to_pca_and_the_verdict_says_so(tmp_path):
    # 21 rows of 4 columns (14 to train on): too few for a network to show a gain.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(21, 2)) @ rng.normal(size=(2, 4)), columns=list("abcd"))
    frame += 0.3 * rng.normal(size=frame.shape)
    frame.to_csv(tmp_path / "tiny.csv", index=False)
    result = run("compare", "tiny.csv", "--quick", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    # --quick takes the code sizes below the 4 features.
    assert list(csv["encoding_dim"].unique()) == [2]
    autoencoders = csv[csv["reducer"] != "PCA"]
    assert (autoencoders["MSE / PCA's"] <= 1.02).all()
    assert (autoencoders["denoising / PCA's"] <= 1.02).all()
    verdict = result.stdout.split("\n\nReports:")[0].splitlines()[-1]
    assert verdict.startswith("No autoencoder beats PCA at any code size (2)")
    assert "PCA does better" not in verdict
    assert f"{(autoencoders['kept'] == 'PCA').sum()} of 2 autoencoders are PCA" in verdict


def test_a_parquet_file(tmp_path):
    mixed_table().drop(columns="kind").to_parquet(tmp_path / "mixed.parquet")
    result = run("compare", "mixed.parquet", "--out", "out", *FAST, cwd=tmp_path)
    csv = check_success(result, tmp_path / "out")
    assert "accuracy" not in csv


def test_an_npy_file_of_images(tmp_path):
    images = np.random.default_rng(0).random((90, 3, 4), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)
    result = run("compare", "images.npy", *FAST, cwd=tmp_path)
    # By default the reports go to a new folder here, and never over an earlier one.
    check_success(result, tmp_path / "compare-images")
    assert (tmp_path / "compare-images" / "reconstructions.png").exists()
    again = run("compare", "images.npy", *FAST, cwd=tmp_path)
    check_success(again, tmp_path / "compare-images-2")


def bad_inputs(folder):
    """``(arguments, message)`` pairs: each input is bad in one way the message names."""
    mixed_table().to_csv(folder / "mixed.csv", index=False)
    pd.DataFrame({"a": [1, 2, 3, 4], "b": [4, 3, 2, 1]}).to_csv(folder / "short.csv", index=False)
    pd.DataFrame({"same": [1] * 40, "id": [f"r{i}" for i in range(40)]}).to_csv(
        folder / "useless.csv", index=False
    )
    (folder / "broken.parquet").write_bytes(b"not parquet")
    (folder / "broken.npy").write_bytes(b"not an array")
    # A header whose shape lost its closing bracket: numpy's parser raises TokenError.
    np.save(folder / "damaged.npy", np.zeros((30, 4)))
    data = (folder / "damaged.npy").read_bytes()
    (folder / "damaged.npy").write_bytes(data.replace(b"(30, 4)", b"(30, 4 "))
    (folder / "idx").mkdir()
    for name in FASHION_MNIST_FILES.values():
        (folder / "idx" / name).write_bytes(b"\x1f\x8b not gzip")
    (folder / "table.xlsx").write_bytes(b"")
    (folder / "used").mkdir()
    (folder / "used" / "report.md").write_text("the user's own")
    return [
        (["compare", "missing.csv"], "missing.csv: no such file"),
        (["compare", "table.xlsx"], "unknown format '.xlsx'"),
        (["compare", "broken.parquet"], "broken.parquet is not a readable Parquet file"),
        (["compare", "broken.npy"], "broken.npy is not a readable .npy array"),
        (["compare", "damaged.npy"], "damaged.npy is not a readable .npy array"),
        (["compare", "fashion-mnist", "--data-dir", "idx"], "cannot be read"),
        (["compare", "useless.csv"], "no usable column"),
        (["compare", "mixed.csv", "--target", "colour"], "no column named 'colour'"),
        (["compare", "short.csv", "--dims", "1"], "too few rows to compare: 4 rows"),
        (
            ["compare", "mixed.csv", "--dims", "20"],
            "code size 20 is not below the number of features",
        ),
        (["compare", "mixed.csv", "--dims", "0"], "argument --dims: 0 is not positive"),
        (["compare", "mixed.csv", "--out", "mixed.csv"], "is a file, not a folder"),
        (["compare", "mixed.csv", "--out", "mixed.csv/sub"], "is a file, not a folder"),
        (["compare", "mixed.csv", "--out", "used"], "already holds files"),
        (["compare", "mixed.csv", "--out", "/proc/never"], "cannot write reports to"),
    ]


def run_without_keras(arguments, cwd):
    """The command's main run on ``arguments``; its stdout ends saying whether Keras
    was imported."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_KERAS, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_refused(cases, folder):
    """Each ``(arguments, message)`` of ``cases`` is refused with one line holding
    ``message`` and exit status 2, before Keras loads, leaving nothing behind."""
    for arguments, message in cases:
        if "--out" not in arguments:
            arguments = [*arguments, "--out", "never"]
        result = run_without_keras(arguments, folder)
        lines = result.stderr.splitlines()
        assert result.returncode == 2, (arguments, result.stderr)
        assert len(lines) == 1 and message in lines[0], (arguments, lines)
        assert "keras imported: False" in result.stdout, arguments
        # Nothing is left behind: no report folder, no half-written staging folder.
        assert not (folder / "never").exists()
        assert not list(folder.glob(".never-*"))


def test_bad_input_is_one_line_and_status_2_before_keras_loads(tmp_path):
    check_refused(bad_inputs(tmp_path), tmp_path)
    assert [path.name for path in (tmp_path / "used").iterdir()] == ["report.md"]
    assert (tmp_path / "used" / "report.md").read_text() == "the user's own"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signal_number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)]
)
def test_an_interrupted_run_leaves_nothing(tmp_path, signal_number, status):
    mixed_table(2_000).to_csv(tmp_path / "mixed.csv", index=False)
    with open(tmp_path / "stdout", "w") as stdout:
        process = subprocess.Popen(
            [str(COMMAND), "compare", "mixed.csv", "--out", "out", "--epochs", "500"],
            cwd=tmp_path,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=hear_ctrl_c,
        )
        # Interrupted between fits: once the first fit has printed its line.
        deadline = time.monotonic() + 240
        while "[1/" not in (tmp_path / "stdout").read_text() and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.2)
        assert list(tmp_path.glob(".out-*")), "no staging folder while the fits run"
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert not [line for line in stderr.splitlines() if START_UP.search(line)]
    if signal_number == signal.SIGINT:
        assert stderr.splitlines() == ["sk-autoencoder: interrupted; nothing was written."]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mixed.csv", "stdout"]


# A signal whose exception is dropped where it lands: in a garbage collector callback,
# as JAX's is (Python reports it to sys.unraisablehook), or in code that catches every
# exception (silently); then a wait the signal must cut short.
DROPPED = """
import gc, os, signal, sys, time
from sk_autoencoder import _cli

signum = signal.SIGINT if sys.argv[1] == "int" else signal.SIGTERM

def dropping_it(phase, info):
    gc.callbacks.remove(dropping_it)
    os.kill(os.getpid(), signum)
    time.sleep(5)

try:
    with _cli._Interrupts():
        if sys.argv[2] == "gc":
            gc.callbacks.append(dropping_it)
            gc.collect()
        else:
            try:
                os.kill(os.getpid(), signum)
                time.sleep(5)
            except BaseException:
                pass
        time.sleep(60)
    print("ran on")
except (KeyboardInterrupt, _cli._Terminated) as unwound:
    print("unwound by", type(unwound).__name__)
"""


@pytest.mark.parametrize("where", ["gc", "catch-all"])
@pytest.mark.parametrize("interrupt", ["int", "term"])
def test_a_dropped_interrupt_is_sent_again(interrupt, where):
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", DROPPED, interrupt, where],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=hear_ctrl_c,
        check=False,
    )
    expected = "KeyboardInterrupt" if interrupt == "int" else "_Terminated"
    assert result.stdout == f"unwound by {expected}\n", result.stderr
    assert result.stderr == "", "the dropped interrupt was reported"
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_dropped_just_before_the_reports_move_stops_them(
    tmp_path, monkeypatch, signum
):
    monkeypatch.setattr(_cli, "_quiet_backend", lambda: None)

    def write_dropping_it(staging, command):
        (staging / "report.md").write_text(command)
        try:
            signal.raise_signal(signum)
        except BaseException:
            pass

    expected = KeyboardInterrupt if signum == signal.SIGINT else _cli._Terminated
    with pytest.raises(expected), _cli._Interrupts() as interrupts:
        _cli._reports_written(tmp_path / "out", ["compare"], write_dropping_it, interrupts)
    assert list(tmp_path.iterdir()) == []


def test_once_unwinding_a_signal_sent_again_leaves_the_clean_up_alone():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with _cli._Interrupts() as interrupts:
        try:
            signal.raise_signal(signal.SIGTERM)
        except _cli._Terminated:
            # At once, as the command's clean-up does, before the resender's next copy.
            interrupts.settle()
        else:
            pytest.fail("SIGTERM raised nothing")
        # As the staging folder is removed: the resender's last copy, a second Ctrl-C.
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_help_version_and_python_m(tmp_path):
    for arguments in (["--help"], ["compare", "--help"]):
        result = run(*arguments, cwd=tmp_path)
        assert result.returncode == 0 and "usage: sk-autoencoder" in result.stdout
    version = run("--version", cwd=tmp_path)
    assert re.fullmatch(r"sk-autoencoder \d+\.\d+\.\d+\n", version.stdout)
    as_module = subprocess.run(
        [sys.executable, "-m", "sk_autoencoder", "compare", "missing.npy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert as_module.returncode == 2 and "missing.npy: no such file" in as_module.stderr


def test_the_built_in_digits_quick(tmp_path):
    result = run("compare", "digits", "--quick", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines() if START_UP.search(line)]
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(csv["encoding_dim"].unique()) == [2, 8]
    assert "reconstructions.png" in {path.name for path in (tmp_path / "out").iterdir()}
