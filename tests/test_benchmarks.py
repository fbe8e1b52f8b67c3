"""The benchmark scripts run end to end (in their --quick form) and write their results.

The longest of them are marked ``benchmark``: the README's test command leaves them out,
and ``pytest --benchmarks`` (which CI runs) adds them.
"""

import gzip
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from benchmarks._data import FASHION_MNIST_DIR, FASHION_MNIST_FILES, fashion_mnist, read_idx
from benchmarks.fits import MEMORY_BAR_MIB, ORDERS
from benchmarks.scale import FIT_CONTENDERS
from benchmarks.speed import CONTENDERS, LIMIT, OURS, median_figures, targets

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_module(module, *args, expect=0):
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # A quick run takes minutes; beside another on the second worker, twice that.
        timeout=1200,
        check=False,
    )
    assert result.returncode == expect, result.stderr[-3000:]
    return result


def bar_met(figure, bar):
    """Whether ``figure`` meets ``bar`` ("at most 0.5", "at least 0.4")."""
    kind, value = bar.rsplit(" ", 1)
    return figure <= float(value) if kind == "at most" else figure >= float(value)


def table_rows(markdown, heading):
    """The data rows of the table under ``## heading``, as lists of cells."""
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_main_job_compares_with_pca_and_draws(tmp_path):
    printed = run_module("benchmarks", "--quick", "--out", str(tmp_path)).stdout
    assert "[16/16] encoding_dim=32: fitting denoising autoencoder" in printed
    report = (tmp_path / "digits.md").read_text()
    assert report in printed

    comparison = table_rows(report, "Reconstruction, classification, time")
    # The convolutional autoencoder at the middle dimension alone.
    assert [(row[0], row[1]) for row in comparison] == [
        (str(dim), reducer)
        for dim in (2, 4, 8, 16, 32)
        for reducer in ("PCA", "autoencoder", "denoising autoencoder")
        + ("convolutional autoencoder",) * (dim == 8)
    ]
    pca_mse = {row[0]: float(row[2]) for row in comparison if row[1] == "PCA"}
    for row in comparison:
        mse, ratio, accuracy = float(row[2]), float(row[3]), float(row[4])
        assert mse > 0 and 0 <= accuracy <= 1
        # Each ratio is the row's error over PCA's at the same dimension: to its own
        # rounding, and that of the two errors it is recomputed from.
        pca = pca_mse[row[0]]
        rounding = 5e-4 + (5e-5 / mse + 5e-5 / pca) * ratio
        assert abs(ratio - mse / pca) <= rounding
        if row[1] != "PCA":
            assert 0 <= int(row[8]) <= int(row[7])  # the kept epoch is one that ran
    noise = table_rows(report, "Denoising")
    assert [row[0] for row in noise] == ["0.25", "0.5", "1.0"]
    search = table_rows(report, "Grid search")
    assert sorted(row[3] for row in search) == ["1", "2"]
    assert "Chosen: encoding_dim=" in report

    for name in ("comparison", "denoising", "search"):
        assert (tmp_path / f"{name}.csv").read_text().startswith(("encoding_dim,", "noise_level,"))
    for name in ("mse", "accuracy", "images"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.benchmark
def test_overhead_reports_ratios(tmp_path):
    run_module("benchmarks.overhead", "--quick", "--out", str(tmp_path))
    # The script runs on the suite's backend and names its file after it.
    table = (tmp_path / f"overhead-{keras.backend.backend()}.md").read_text()
    for measure in ("fit", "transform, 1 rows", "transform, 100 rows", "transform, 10,000 rows"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {measure} | "))
        ours, by_hand, ratio = (float(cell) for cell in row.split(" | ")[1:4])
        # The times are rounded to the microsecond: 0.3 % on the shortest.
        assert ratio == pytest.approx(ours / by_hand, rel=0.01, abs=1e-4)


@pytest.mark.benchmark
def test_onnx_reports_ratios_and_differences(tmp_path):
    pytest.importorskip("skl2onnx")
    run_module("benchmarks.onnx", "--quick", "--out", str(tmp_path))
    table = (tmp_path / f"onnx-{keras.backend.backend()}.md").read_text()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| dense |")]
    rows += [line.split(" | ") for line in table.splitlines() if line.startswith("| conv |")]
    assert [row[1] for row in rows] == ["1", "1,000", "60,000"] * 2
    for row in rows:
        runtime, ours, ratio, difference = (float(cell.strip(" |")) for cell in row[2:6])
        # The times are rounded to a tenth of a microsecond: 0.5 % on the shortest.
        assert ratio == pytest.approx(runtime / ours, rel=0.01, abs=1e-4)
        assert difference <= 1e-5


@pytest.mark.benchmark
@pytest.mark.each_backend
@pytest.mark.skipif(
    not all((Path(FASHION_MNIST_DIR) / name).is_file() for name in FASHION_MNIST_FILES.values()),
    reason="needs Debian's dataset-fashion-mnist",
)
def test_networks_compares_with_raw_keras(tmp_path):
    printed = run_module("benchmarks.networks", "--quick", "--out", str(tmp_path)).stdout
    report = (tmp_path / "networks.md").read_text()
    assert report in printed
    epochs = table_rows(report, "Training")
    assert [row[0] for row in epochs] == ["conv", "own dense", "ready dense"]
    # A quick run's epochs are too short to time (a difference of two fits): the
    # table's shape, and its bar, are what it shows.
    assert all(float(cell) == float(cell) for row in epochs for cell in row[1:4])
    assert "Convolutional epoch / Model.fit's:" in report
    (transform,) = table_rows(report, "Inference")
    assert all(float(cell) > 0 for cell in transform)


@pytest.mark.benchmark
def test_start_times_both_starts_on_both_backends(tmp_path):
    run_module("benchmarks.start", "--quick", "--out", str(tmp_path))
    markdown = (tmp_path / "start.md").read_text()
    rows = table_rows(markdown, "Fit time by start")
    assert [row[0] for row in rows] == ["TensorFlow", "JAX"]
    for _, random, pca, ratio, rounds, bar, met in rows:
        each = [float(value) for value in rounds.split()]
        assert len(each) == 2 and all(value > 0 for value in each)
        # The ratio is the median of the rounds' ratios, not of the medians' ratio.
        assert float(ratio) == pytest.approx(np.median(each), abs=1e-3)
        assert float(random) > 0 and float(pca) > 0
        assert met == ("yes" if bar_met(float(ratio), bar) else "no")
    assert (tmp_path / "start.csv").exists()


@pytest.mark.benchmark
@pytest.mark.each_backend
def test_speed_compares_every_contender(tmp_path):
    printed = run_module("benchmarks.speed", "--quick", "--out", str(tmp_path)).stdout
    report = (tmp_path / "speed.md").read_text()
    assert report in printed and "GFLOP/s" in report
    rows = table_rows(report, "Speed, random")
    assert [row[0] for row in rows] == [*CONTENDERS, "limit: epoch FLOPs / GEMM rate"]
    by_name = {row[0]: row for row in rows}
    for name in CONTENDERS:
        # Figures in columns 1, 3, ... 11 (s per epoch, fit, three transforms, peak RSS).
        figures = [float(cell) for cell in by_name[name][1:12:2] if cell]
        assert len(figures) == (5 if name == "PCA(32)" else 6), by_name[name]
        assert all(figure > 0 for figure in figures[1:]), by_name[name]
    # Each column's ratios are to sk_autoencoder's best backend: one of them is 1.
    for column in range(4, 13, 2):
        assert "1.00" in {by_name[name][column] for name in OURS}
    targets = table_rows(report, "Targets")
    # Against the fastest peer; then per backend: raw Keras, MLPRegressor, the GEMM
    # share (a bar for the fastest backend only) and two transforms against PCA's.
    assert len(targets) == 1 + 5 * len(OURS)
    reported = [row[0] for row in targets if row[4] == ""]
    assert len(reported) == len(OURS) - 1
    assert all(name.endswith("share of the GEMM rate") for name in reported)
    for row in (row for row in targets if row[4] != ""):
        # One round: its ratio is the median, and "met" says whether it meets the bar.
        ratio, met = float(row[1]), bar_met(float(row[1]), row[3])
        assert float(row[2]) == ratio and row[4] == ("yes" if met else "no")
        assert row[5] == ("1 of 1" if met else "0 of 1")
    by_round = table_rows(report, "Seconds per epoch by round, random")
    assert [row[0] for row in by_round] == [
        *(name for name in CONTENDERS if name != "PCA(32)"),
        LIMIT,
    ]
    assert all(row[1] == row[2] for row in by_round)  # one round: its figure is the median
    assert (tmp_path / "speed-random.csv").read_text().startswith("contender,s per epoch,")


def speed_round(ours_tensorflow, raw_tensorflow, limit=0.05):
    """One round's figures, as benchmarks.speed collects them, with chosen epochs."""
    transforms = {"transform 1": 1e-3, "transform 1,000": 2e-3, "transform 60,000": 0.05}
    return {
        "sk_autoencoder, TensorFlow": {"epoch": ours_tensorflow, **transforms, "note": ""},
        "sk_autoencoder, JAX": {"epoch": 0.25, **transforms, "note": ""},
        "sk_autoencoder, torch": {"epoch": 0.8, **transforms, "note": ""},
        "raw Keras, TensorFlow": {"epoch": raw_tensorflow, "note": ""},
        "raw Keras, JAX": {"epoch": 0.6, "note": ""},
        "raw Keras, torch": {"epoch": 1.0, "note": ""},
        "scikeras AutoEncoder, TensorFlow": {"failed": "TypeError: no"},
        "MLPRegressor(32)": {"epoch": 0.7, "note": ""},
        "PCA(32)": {"transform 1": 5e-4, "transform 60,000": 0.05, "note": ""},
        LIMIT: {"epoch": limit},
    }


def test_speed_bars_hold_the_median_of_ratios_taken_within_rounds():
    # TensorFlow's ratio to raw Keras is 0.4, 0.6 and 0.45 in the three rounds; the ratio
    # of the medians (0.5 / 1.0) would be another figure.
    rounds = [speed_round(0.4, 1.0), speed_round(0.6, 1.0), speed_round(0.5, 1.1)]
    medians = {name: median_figures([run[name] for run in rounds]) for name in rounds[0]}
    assert medians["sk_autoencoder, TensorFlow"]["epoch"] == 0.5
    assert medians["raw Keras, TensorFlow"]["epoch"] == 1.0
    assert medians["scikeras AutoEncoder, TensorFlow"] == {"failed": "TypeError: no"}
    rows = {row[0]: row[1:] for row in targets(rounds, medians)}
    tensorflow = rows["sk_autoencoder, TensorFlow: s per epoch / raw Keras's"]
    assert tensorflow == ["0.45", "0.40, 0.60, 0.45", "at most 0.5", "yes", "2 of 3"]
    # JAX is the faster backend; the fastest peer is raw Keras on JAX (0.6 s).
    assert rows["sk_autoencoder, JAX: s per epoch / fastest peer's"][:4] == [
        "0.42",
        "0.42, 0.42, 0.42",
        "at most 0.9",
        "yes",
    ]
    assert rows["sk_autoencoder, JAX: share of the GEMM rate"][3:] == ["no", "0 of 3"]
    assert rows["sk_autoencoder, TensorFlow: share of the GEMM rate"][2:] == ["reported", "", ""]
    # Every backend against MLPRegressor (0.7 s) and raw Keras on itself.
    assert rows["sk_autoencoder, torch: s per epoch / MLPRegressor's"][:4] == [
        "1.14",
        "1.14, 1.14, 1.14",
        "at most 0.9",
        "no",
    ]
    assert rows["sk_autoencoder, torch: s per epoch / raw Keras's"][3] == "no"


@pytest.mark.benchmark
@pytest.mark.each_backend
def test_scale_reports_fit_memory_and_transform(tmp_path):
    printed = run_module("benchmarks.scale", "--quick", "--out", str(tmp_path)).stdout
    report = (tmp_path / "scale.md").read_text()
    assert report in printed
    fits = table_rows(report, "Fit, by rows")
    assert [row[2] for row in fits] == list(FIT_CONTENDERS)
    for row in fits:
        seconds, ratio, rise, per_x = (float(cell) for cell in row[3:7])
        assert seconds > 0 and ratio > 0 and rise >= 0
        assert per_x == pytest.approx(rise * 1024 / float(row[1]), rel=0.05, abs=0.01)
    # Raw Keras's ratios are to themselves.
    assert {row[4] for row in fits if row[2].startswith("raw Keras")} == {"1.00"}
    transforms = table_rows(report, "Transform of 5,000 rows")
    assert [(row[0], row[1]) for row in transforms] == [
        (backend, method)
        for backend in ("TensorFlow", "JAX")
        for method in ("transform", "inverse_transform", "score_samples")
    ]
    for row in transforms:
        ours, raw, ratio = (float(cell) for cell in row[2:5])
        assert ratio == pytest.approx(ours / raw, rel=0.05, abs=0.01)
    targets = table_rows(report, "Targets")
    # Memory at the largest size on both backends, and the six transform ratios.
    assert len(targets) == 8
    for row in targets:
        assert row[3] == ("yes" if bar_met(float(row[1]), row[2]) else "no"), row
    assert (tmp_path / "scale-fit.csv").read_text().startswith("rows,X (MiB),contender,")


@pytest.mark.benchmark
@pytest.mark.each_backend
def test_repeated_fits_keep_memory_flat_on_every_backend(tmp_path):
    printed = run_module("benchmarks.fits", "--quick", "--out", str(tmp_path)).stdout
    report = (tmp_path / "fits.md").read_text()
    assert report in printed
    memory = table_rows(report, "Memory over repeated fits")
    assert [(row[0], row[1]) for row in memory] == [
        (backend, order) for backend in ("TensorFlow", "JAX", "torch") for order in ORDERS
    ]
    for row in memory:
        first, last, growth = float(row[2]), float(row[3]), float(row[4])
        assert growth == pytest.approx(last - first, abs=0.11)
        # 40 fits, 30 of them measured: the bar of 300 fits, every fit a new network
        # on TensorFlow before its steps were kept was 4 MiB a fit.
        assert growth <= MEMORY_BAR_MIB, row
        assert row[5:] == ["yes", "yes"], row
    compiling = table_rows(report, "Compiling a network's steps")
    assert [row[0] for row in compiling] == ["TensorFlow", "JAX"]
    for row in compiling:
        first, second, compiling = (float(cell) for cell in row[1:4])
        assert second < first and compiling == pytest.approx(first - second, abs=0.011)
    xla = table_rows(report, "XLA on TensorFlow")
    assert [row[0].split(",")[0] for row in xla] == [
        "seed workload",
        "each round",
        "denoising fit",
        "denoising fit",
    ]
    for row in (xla[0], *xla[2:]):
        with_xla, without, ratio = (float(cell) for cell in row[1:4])
        assert ratio == pytest.approx(with_xla / without, rel=0.02, abs=0.006)


def write_idx(path, array):
    """Write ``array`` (uint8) as a gzipped IDX file, as Fashion-MNIST ships."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion_mnist(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "X_train": rng.integers(0, 256, size=(30, 28, 28)),
        "y_train": rng.integers(0, 10, size=30),
        "X_test": rng.integers(0, 256, size=(12, 28, 28)),
        "y_test": rng.integers(0, 10, size=12),
    }
    for key, name in FASHION_MNIST_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    return tmp_path, arrays


def test_reads_fashion_mnist_idx_files(fake_fashion_mnist):
    folder, arrays = fake_fashion_mnist
    dataset = fashion_mnist(folder)
    assert dataset.X_train.shape == (30, 784) and dataset.X_train.dtype == np.float32
    assert_array_equal(dataset.X_train * 255, arrays["X_train"].reshape(30, 784))
    assert_array_equal(dataset.y_test, arrays["y_test"])
    assert dataset.X_test.min() >= 0 and dataset.X_test.max() <= 1


def test_a_truncated_idx_file_is_refused(fake_fashion_mnist):
    folder, _ = fake_fashion_mnist
    path = folder / FASHION_MNIST_FILES["X_test"]
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    with pytest.raises(ValueError, match="promises"):
        read_idx(path)


def test_missing_fashion_mnist_says_where_it_looked_and_how_to_get_it(tmp_path):
    result = run_module(
        "benchmarks", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), expect=2
    )
    assert f"Fashion-MNIST is not in {tmp_path}" in result.stderr
    assert "apt-get install dataset-fashion-mnist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.benchmark
@pytest.mark.each_backend
def test_compare_memory_reports_what_a_memory_mapped_comparison_takes(tmp_path):
    run_module("benchmarks.compare_memory", "--quick", "--out", str(tmp_path))
    lines = (tmp_path / "compare-memory.md").read_text().splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    rows = [row for row in cells if row[0] in ("TensorFlow", "JAX")]
    assert len(rows) == 2
    for _, _, file_gib, rise, anonymous, completes, _, on_disk, _ in rows:
        # compare prepared the rows on disk, and allocated less than a copy of them.
        assert on_disk == "yes" and 0 < float(anonymous) < float(file_gib)
        assert float(anonymous) <= float(rise)
        assert completes in ("yes", "not measured")
    targets = [
        row for row in cells if len(row) == 4 and row[0].startswith(("TensorFlow:", "JAX:"))
    ]
    assert len(targets) == 4
    for measure, figure, bar, met in targets:
        if "anonymous" in measure:
            assert met == ("yes" if bar_met(float(figure), bar) else "no")
        else:
            assert met == figure


@pytest.mark.benchmark
@pytest.mark.each_backend
def test_guarantee_measures_both_releases_on_both_backends(tmp_path):
    run_module("benchmarks.guarantee", "--quick", "--out", str(tmp_path))
    report = (tmp_path / "guarantee.md").read_text()
    for backend, title in (("tensorflow", "TensorFlow"), ("jax", "JAX")):
        bars = table_rows(report, f"{title}: the bars")
        assert bars[0][:2] == ["cases measured", "3 of 3"]
        assert all(met in ("yes", "no") for *_, met in bars)
        cases = table_rows(report, f"{title}: every case")
        assert [(row[0], row[4]) for row in cases] == [
            ("linnerud", "2"),
            ("iris", "2"),
            ("wine", "4"),
        ]
        for row in cases:
            previous, now, kept = float(row[6]), float(row[7]), row[8]
            assert previous > 0 and now > 0 and kept in ("yes", "no")
            # PCA kept is PCA: its ratio is 1 to float32 rounding.
            assert kept == "no" or now == pytest.approx(1, abs=1e-3)
        assert (tmp_path / f"cases-{backend}.csv").exists()


@pytest.mark.benchmark
def test_anomaly_scores_every_contender(tmp_path):
    printed = run_module("benchmarks.anomaly", "--quick", "--out", str(tmp_path)).stdout
    summary = pd.read_csv(tmp_path / "anomaly-summary.csv")
    assert set(summary["contender"]) == {
        "autoencoder",
        "autoencoder, robust=False",
        "IsolationForest",
        "LocalOutlierFactor",
        "OneClassSVM",
        "PCA reconstruction",
        # The test extra installs pyod and torch.
        "pyod AutoEncoder",
    }
    assert summary["task"].nunique() == 2
    for measure in ("ROC AUC", "average precision", "F1"):
        assert summary[measure].between(0, 1).all()
    # Malignant tumours stand apart: every contender ranks them well above chance.
    assert (summary["ROC AUC"] > 0.8).all()
    assert "Published mean AUROC on one-class Fashion-MNIST" in printed
