"""The benchmark scripts run end to end (in their --quick form) and write their tables."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module, out):
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_main_job_compares_with_pca(tmp_path):
    printed = run_module("benchmarks", tmp_path)
    table = (tmp_path / "digits.md").read_text()
    assert "| encoding_dim | PCA MSE | autoencoder MSE |" in table
    for dim in (2, 4, 8, 16, 32):
        assert f"\n| {dim} | " in table
    assert (tmp_path / "digits.csv").read_text().count("\n") == 6
    assert "[5/5] encoding_dim=32" in printed


def test_overhead_reports_ratios(tmp_path):
    run_module("benchmarks.overhead", tmp_path)
    table = (tmp_path / "overhead-tensorflow.md").read_text()
    for measure in ("fit", "transform, 1 rows", "transform, 100 rows", "transform, 10,000 rows"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {measure} | "))
        ratio = float(row.split(" | ")[3])
        assert ratio > 0
