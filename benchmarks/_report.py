"""Shared pieces of the benchmark scripts: the machine, tables, timing."""

import csv
import statistics
import time
from pathlib import Path

from sk_autoencoder._report import machine

__all__ = [
    "machine",
    "markdown_table",
    "median_seconds",
    "write_csv",
    "write_report",
    "write_results",
]


def median_seconds(function, *, repeats, warmup=1):
    """Median wall time of ``function()`` over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def write_results(out_dir, name, header, rows, preamble):
    """Write ``name.md`` (preamble and table) and ``name.csv`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(header, rows)
    (out_dir / f"{name}.md").write_text(f"{preamble}\n\n{table}\n")
    write_csv(out_dir / f"{name}.csv", header, rows)
    return table


def write_report(out_dir, name, preamble, sections):
    """Write ``name.md``: the preamble, then each section's heading, text and table.

    ``sections`` holds ``(heading, text, header, rows, csv_name)`` tuples; each table
    is also written to ``csv_name.csv``. Returns the Markdown.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [preamble]
    for heading, text, header, rows, csv_name in sections:
        parts.append(f"## {heading}\n\n{text}\n\n{markdown_table(header, rows)}".strip())
        write_csv(out_dir / f"{csv_name}.csv", header, rows)
    markdown = "\n\n".join(parts) + "\n"
    (out_dir / f"{name}.md").write_text(markdown)
    return markdown
