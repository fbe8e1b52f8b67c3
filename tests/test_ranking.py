"""``sk-autoencoder outliers FILE``: what it reads, prints and writes; its answers to bad input."""

import re

import numpy as np
import pandas as pd
import pytest

from .test_cli import START_UP, check_refused, run, run_without_keras

N_ROWS, N_PLANTED = 400, 20


def table_with_outliers():
    """A table with text and missing values whose first rows break a relation the others
    keep (c is twice a), labelled in the column "fraud"."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=N_ROWS), "b": rng.normal(size=N_ROWS)})
    frame["city"] = rng.choice(["Paris", "Lyon", None], size=N_ROWS)
    frame["c"] = 2 * frame["a"] + 0.1 * rng.normal(size=N_ROWS)
    frame.loc[: N_PLANTED - 1, "c"] = 5 * rng.normal(size=N_PLANTED)
    frame.loc[5, "b"] = np.nan
    frame["fraud"] = np.where(np.arange(N_ROWS) < N_PLANTED, "yes", "no")
    return frame


def test_a_csv_with_text_missing_values_and_labels(tmp_path):
    table_with_outliers().to_csv(tmp_path / "table.csv", index=False)
    result = run(
        "outliers", "table.csv", "--label", "fraud", "--epochs", "30", "--out", "out", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines() if START_UP.search(line)]
    out = tmp_path / "out"
    assert {path.name for path in out.iterdir()} == {
        "scores.csv",
        "report.md",
        "report.html",
        "histogram.png",
    }
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["row", "score", "outlier"]
    assert len(scores) == N_ROWS and (scores["score"] <= 0).all()
    # The printed top rows are the lowest scores of the file, most outlying first.
    printed = [
        int(match[1])
        for match in re.finditer(r"^\s*(\d+)\s+-?[\d.e+-]+\s+(?:yes|no)\s", result.stdout, re.M)
    ]
    assert printed == list(scores.sort_values("score", kind="stable")["row"][:10])
    # The planted rows are found, and the reports say how and against what.
    assert sum(row < N_PLANTED for row in printed) >= 8
    report = (out / "report.md").read_text()
    assert "One-hot encoded 1 text column (city)" in report
    assert "The label's rarer value, 'yes', marks the outliers." in report
    aucs = {
        match[1]: float(match[2])
        for match in re.finditer(
            r"^\| (autoencoder|IsolationForest|PCA reconstruction error) \| ([\d.]+) \|",
            report,
            re.M,
        )
    }
    assert set(aucs) == {"autoencoder", "IsolationForest", "PCA reconstruction error"}
    assert aucs["autoencoder"] >= 0.9
    assert re.search(r"\| \d+ \| -[\d.e+-]+ \| yes \| [ca] \(", report)
    assert "data:image/png;base64," in (out / "report.html").read_text()


def bad_inputs(folder):
    table_with_outliers().to_csv(folder / "table.csv", index=False)
    table_with_outliers()[:6].to_csv(folder / "short.csv", index=False)
    return [
        (["outliers", "missing.csv"], "missing.csv: no such file"),
        (["outliers", "table.csv", "--label", "colour"], "no column named 'colour'"),
        (["outliers", "table.csv", "--label", "city"], "--label needs a column of two values"),
        (["outliers", "short.csv"], "too few rows to rank: 6 rows"),
        (["outliers", "table.csv", "--contamination", "0.7"], "0.7 is not in (0, 0.5]"),
        (["outliers", "table.csv", "--contamination", "many"], "'many' is neither auto"),
        (["outliers", "table.csv", "--out", "table.csv"], "is a file, not a folder"),
    ]


def test_bad_input_is_one_line_and_status_2_before_keras_loads(tmp_path):
    check_refused(bad_inputs(tmp_path), tmp_path)


@pytest.mark.parametrize("arguments", [["outliers", "--help"], ["--help"]])
def test_help_names_the_command_before_keras_loads(tmp_path, arguments):
    result = run_without_keras(arguments, tmp_path)
    assert result.returncode == 0
    assert "outliers" in result.stdout and "keras imported: False" in result.stdout
