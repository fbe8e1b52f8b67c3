"""compare on a memory-mapped .npy larger than it should load: the memory it takes.

Run ``python -m benchmarks.compare_memory``. It writes a 2 GiB ``.npy`` of float32 rows
(256 features: a few strong directions plus noise) to a temporary folder, then runs
``compare(np.load(path, mmap_mode="r"), dims=[8], epochs=1)`` on it in fresh
processes, on each backend, each after Keras is imported and a tiny comparison has run
(so that the backend's start-up is not counted):

- uncapped: how far the run raises the process's peak RSS above its RSS just before,
  and the peak of its anonymous memory (its own allocations, sampled every 10 ms),
  beside the file's size. Peak RSS also counts the pages of the file that the
  process has mapped while reading it: the kernel's cache of the file, given back
  whenever memory is short (see ``sk_autoencoder._pages``);
- capped: the same run with the process's memory (its allocations and the file's
  pages it brings into the cache, as Linux's memory cgroup counts them) capped at
  what it holds just before plus 0.5 GiB, the file first dropped from the cache. It
  must complete. Measured where a memory cgroup (v1) can be made, else reported as
  not measured.

A comparison that loaded the rows, or standardized a copy of them in memory, would
take the file's size or more and be killed under the cap.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ._report import machine, write_report
from .scale import process_status

FEATURES = 256
GIB = 2**30
BAR_GIB = 0.5
# --quick's file: a comparison allocates about as much whatever the file's size
# (TensorFlow's runtime, the fits' buffers), so the file must be large enough that a
# copy of its rows would stand clear of that.
QUICK_GIB = 0.5
# The file is written this many rows at a time.
WRITE_ROWS = 65_536
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def write_file(path, n_bytes, seed=0):
    """A ``.npy`` of about ``n_bytes`` of float32 rows, written chunk by chunk."""
    n_rows = n_bytes // (4 * FEATURES)
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(16, FEATURES)).astype(np.float32)
    header = {"descr": "<f4", "fortran_order": False, "shape": (n_rows, FEATURES)}
    with open(path, "wb") as file:
        np.lib.format.write_array_header_2_0(file, header)
        for start in range(0, n_rows, WRITE_ROWS):
            rows = min(WRITE_ROWS, n_rows - start)
            codes = rng.normal(size=(rows, 16)).astype(np.float32)
            noise = rng.normal(size=(rows, FEATURES)).astype(np.float32)
            file.write((codes @ directions + 0.5 * noise).astype("<f4").tobytes())
    return n_rows


class _AnonymousPeak:
    """The peak of this process's anonymous memory (RssAnon), sampled in a thread."""

    def __init__(self):
        self.peak, self._stop = process_status("RssAnon"), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, process_status("RssAnon"))

    def stop(self):
        self._stop.set()
        self._thread.join()
        return max(self.peak, process_status("RssAnon"))


def _drop_from_cache(path):
    with open(path, "rb") as file:
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def measure(path, epochs, cgroup=None):
    """In this process: compare on ``path``, memory-mapped, and what it took."""
    if cgroup is not None:
        (Path(cgroup) / "cgroup.procs").write_text(str(os.getpid()))
    from sk_autoencoder import compare

    compare(np.random.default_rng(0).normal(size=(200, FEATURES)), dims=[8], epochs=1, verbose=0)
    X = np.load(path, mmap_mode="r")
    if cgroup is not None:
        _drop_from_cache(path)
        usage = int((Path(cgroup) / "memory.usage_in_bytes").read_text())
        (Path(cgroup) / "memory.limit_in_bytes").write_text(str(usage + int(BAR_GIB * GIB)))
    before, anonymous = process_status("VmRSS"), _AnonymousPeak()
    anonymous_before = anonymous.peak
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak starts again from the RSS now
    start = time.perf_counter()
    result = compare(X, dims=[8], epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rise": process_status("VmHWM") - before,
        "anonymous_rise": anonymous.stop() - anonymous_before,
        "bytes": X.nbytes,
        "rows": len(X),
        "on_disk": any("on disk" in note for note in result.notes),
        "ratios": dict(zip(result.table["reducer"], result.table["MSE / PCA's"], strict=True)),
    }


def _new_cgroup():
    """A memory cgroup (v1) under this process's own, or ``None`` where none can be made."""
    try:
        line = next(
            line
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.split(":")[1] == "memory"
        )
        folder = CGROUP_ROOT / line.split(":", 2)[2].lstrip("/") / f"compare-memory-{os.getpid()}"
        folder.mkdir()
    except (StopIteration, OSError, IndexError):
        return None
    return folder


def run(path, epochs, backend, *, capped):
    """Measure in a fresh process; ``None`` where a cap was asked for and none can be set."""
    command = [sys.executable, "-m", "benchmarks.compare_memory", "--measure", str(path)]
    command += ["--epochs", str(epochs)]
    cgroup = _new_cgroup() if capped else None
    if capped and cgroup is None:
        return None
    if cgroup is not None:
        command += ["--cgroup", str(cgroup)]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    finally:
        if cgroup is not None:
            cgroup.rmdir()
    if result.returncode != 0:
        if capped:
            return {"completed": False, "returncode": result.returncode}
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"{' '.join(command)} failed: {lines[-1] if lines else ''}")
    return {"completed": True, **json.loads(result.stdout.strip().splitlines()[-1])}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_memory", description=__doc__
    )
    parser.add_argument("--gib", type=float, default=2.0, help="size of the file (GiB)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each autoencoder")
    parser.add_argument("--out", default="benchmarks/results/compare-memory")
    parser.add_argument(
        "--quick", action="store_true", help=f"a {QUICK_GIB} GiB file, for the tests"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--cgroup", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.epochs, args.cgroup)))
        return 0

    gib = QUICK_GIB if args.quick else args.gib
    rows, checks = [], []
    with tempfile.TemporaryDirectory(prefix="compare-memory-") as folder:
        path = Path(folder) / "large.npy"
        print(f"writing {gib:.2f} GiB to {path} ...", flush=True)
        write_file(path, int(gib * GIB))
        for backend, name in (("tensorflow", "TensorFlow"), ("jax", "JAX")):
            print(f"compare: {name} ...", flush=True)
            figures = run(path, args.epochs, backend, capped=False)
            print(f"compare under a memory cap: {name} ...", flush=True)
            capped = run(path, args.epochs, backend, capped=True)
            rise, anonymous = figures["rise"] / GIB, figures["anonymous_rise"] / GIB
            completed = (
                "not measured" if capped is None else "yes" if capped["completed"] else "no"
            )
            rows.append(
                [
                    name,
                    f"{figures['rows']:,}",
                    f"{figures['bytes'] / GIB:.3f}",
                    f"{rise:.3f}",
                    f"{anonymous:.3f}",
                    completed,
                    f"{figures['seconds']:.0f}",
                    "yes" if figures["on_disk"] else "no",
                    ", ".join(f"{ratio:.2f}" for ratio in figures["ratios"].values()),
                ]
            )
            checks.append(
                [
                    f"{name}: peak anonymous memory rise (GiB)",
                    f"{anonymous:.3f}",
                    f"at most {BAR_GIB}",
                    "yes" if anonymous <= BAR_GIB else "no",
                ]
            )
            checks.append(
                [
                    f"{name}: completes with memory capped at its own + {BAR_GIB} GiB",
                    completed,
                    "yes",
                    completed,
                ]
            )
    header = [
        "backend",
        "rows",
        "file (GiB)",
        "peak RSS rise (GiB)",
        "peak anonymous memory rise (GiB)",
        f"completes capped at + {BAR_GIB} GiB",
        "time (s)",
        "prepared on disk",
        "MSE / PCA's: PCA, autoencoder, denoising",
    ]
    text = (
        f"{FEATURES} float32 features; compare(X, dims=[8], epochs={args.epochs}) on "
        "np.load(path, mmap_mode='r'), each run in a fresh process, after Keras is "
        "imported and a tiny comparison has run. Peak RSS rise: the peak during compare "
        "minus the RSS just before, the file's pages mapped while reading it included. "
        "Anonymous memory: the process's own allocations (RssAnon, sampled every 10 ms). "
        "Capped: the same run in a memory cgroup limited to its usage just before plus "
        f"{BAR_GIB} GiB, the file dropped from the cache first."
    )
    sections = [
        ("Memory of compare on a memory-mapped file", text, header, rows, "memory"),
        (
            "Targets",
            "From the table above.",
            ["measure", "figure", "bar", "met"],
            checks,
            "targets",
        ),
    ]
    preamble = (
        "# compare on a memory-mapped file larger than it should load\n\n"
        f"Made by `python -m benchmarks.compare_memory{' --quick' if args.quick else ''}` "
        f"on {machine()}."
    )
    print(write_report(args.out, "compare-memory", preamble, sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
