"""How sk_autoencoder scales: fit time and memory against rows, and transform throughput.

Run ``python -m benchmarks.scale``. The seed network (784-32-784, Adam, mean squared
error, batch 256, from a random start as ``benchmarks.speed`` fits it) fits X of
10,000 to 514,000 rows x 784 float32 values in [0, 1) (the largest is 1.50 GiB), for
the same epochs, as sk_autoencoder and as raw Keras
(``Model.fit(X, X)``), each on TensorFlow and on JAX, each fit in a fresh process. For
each it reports the fit's wall time (a fresh process's whole fit: tracing and compiling
included) and how far the fit raised the process's peak RSS above its RSS just before
``fit``, with X in memory and Keras imported.

Then, on each backend, ``transform``, ``inverse_transform`` and ``score_samples`` of
100,000 rows against one raw ``predict_on_batch`` of the same network over the whole
array (the encoder's, the decoder's, and the autoencoder's followed by numpy's squared
error), with the peak RSS each raises.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from ._report import machine, median_seconds, write_report
from .speed import BATCH_SIZE, N_FEATURES, contender, keras_autoencoder

ROWS = (10_000, 60_000, 200_000, 514_000)
SEED_ROWS = 60_000
TRANSFORM_ROWS = 100_000
FIT_CONTENDERS = {
    "sk_autoencoder, TensorFlow": ("sk_autoencoder", "tensorflow"),
    "raw Keras, TensorFlow": ("keras", "tensorflow"),
    "sk_autoencoder, JAX": ("sk_autoencoder", "jax"),
    "raw Keras, JAX": ("keras", "jax"),
}
BACKENDS = {"tensorflow": "TensorFlow", "jax": "JAX"}
GIB = 2**30


def process_status(field):
    """A field of /proc/self/status (VmRSS, VmHWM), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak():
    """Make the peak RSS (VmHWM) start again from the RSS now (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_rise(function):
    """``(seconds, bytes)``: ``function()``'s wall time, and how far it raised peak RSS."""
    before = process_status("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start, process_status("VmHWM") - before


def random_rows(n_rows):
    """Random float32 rows in [0, 1), made without a float64 copy."""
    return np.random.default_rng(0).random((n_rows, N_FEATURES), dtype=np.float32)


def estimator(epochs):
    """sk_autoencoder's seed network, as benchmarks.speed fits it."""
    return contender("sk_autoencoder")[0](epochs)


def keras_model():
    """The seed's network as Keras's tutorials write it, compiled."""
    return keras_autoencoder()[0]


def measure_fit(kind, n_rows, epochs):
    """Fit one contender in this process; return its time and peak RSS rise."""
    warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits, on purpose
    X = random_rows(n_rows)
    if kind == "sk_autoencoder":
        model = estimator(epochs)

        def fit():
            model.fit(X)
    else:
        model = keras_model()

        def fit():
            model.fit(X, X, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)

    seconds, rise = peak_rise(fit)
    return {"fit": seconds, "rise": rise, "X": X.nbytes}


def measure_transform(n_rows, repeats):
    """Time transform, inverse_transform and score_samples against predict_on_batch."""
    warnings.simplefilter("ignore")
    fitted = estimator(1).fit(random_rows(2_000))
    X = random_rows(n_rows)
    codes = fitted.transform(X)

    def keras_scores():
        reconstructions = fitted.model_.predict_on_batch(X)
        return -np.mean(np.square(X - reconstructions), axis=1)

    pairs = {
        "transform": (lambda: fitted.transform(X), lambda: fitted.encoder_.predict_on_batch(X)),
        "inverse_transform": (
            lambda: fitted.inverse_transform(codes),
            lambda: fitted.decoder_.predict_on_batch(codes),
        ),
        "score_samples": (lambda: fitted.score_samples(X), keras_scores),
    }
    figures = {}
    for method, (ours, raw) in pairs.items():
        for name, function in (("ours", ours), ("raw", raw)):
            function()  # the first call of predict_on_batch traces or compiles
            _, rise = peak_rise(function)
            figures[method, name] = {
                "seconds": median_seconds(function, repeats=repeats, warmup=0),
                "rise": rise,
            }
    return {f"{method}|{name}": value for (method, name), value in figures.items()}


def run(arguments, backend):
    """Run ``python -m benchmarks.scale arguments`` on ``backend``; return its JSON line."""
    command = [sys.executable, "-m", "benchmarks.scale", *arguments]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"{' '.join(command)} failed: {lines[-1] if lines else ''}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fit_section(fits, rows, epochs):
    header = [
        "rows",
        "X (MiB)",
        "contender",
        "fit (s)",
        "ratio to raw Keras, same backend",
        "peak RSS rise (GiB)",
        "rise / X",
    ]
    table = []
    for n_rows in rows:
        for name in FIT_CONTENDERS:
            figures = fits[n_rows, name]
            raw = fits[n_rows, "raw Keras, " + name.split(", ")[1]]
            table.append(
                [
                    f"{n_rows:,}",
                    f"{figures['X'] / 2**20:.1f}",
                    name,
                    f"{figures['fit']:.2f}",
                    f"{figures['fit'] / raw['fit']:.2f}",
                    f"{figures['rise'] / GIB:.3f}",
                    f"{figures['rise'] / figures['X']:.2f}",
                ]
            )
    text = (
        f"{epochs} epochs of batch {BATCH_SIZE}, each fit in a fresh process; fit time is "
        "the whole call, one-off costs included. Peak RSS rise: the process's peak RSS "
        "during fit minus its RSS just before, X loaded and Keras imported."
    )
    return ("Fit, by rows", text, header, table, "scale-fit")


def transform_section(transforms, n_rows):
    header = [
        "backend",
        "method",
        "sk_autoencoder (ms)",
        "predict_on_batch (ms)",
        "ratio",
        "peak RSS rise, ours (MiB)",
        "peak RSS rise, predict_on_batch (MiB)",
    ]
    table = []
    for backend, figures in transforms.items():
        for method in ("transform", "inverse_transform", "score_samples"):
            ours, raw = figures[f"{method}|ours"], figures[f"{method}|raw"]
            table.append(
                [
                    BACKENDS[backend],
                    method,
                    f"{ours['seconds'] * 1e3:.1f}",
                    f"{raw['seconds'] * 1e3:.1f}",
                    f"{ours['seconds'] / raw['seconds']:.2f}",
                    f"{ours['rise'] / 2**20:.0f}",
                    f"{raw['rise'] / 2**20:.0f}",
                ]
            )
    text = (
        f"{n_rows:,} rows x {N_FEATURES}; times are medians. predict_on_batch is the "
        "encoder's for transform, the decoder's for inverse_transform, and the "
        "autoencoder's followed by numpy's squared error for score_samples. The rises "
        "include the output array."
    )
    return (f"Transform of {n_rows:,} rows", text, header, table, "scale-transform")


def targets_section(fits, transforms, rows):
    """The scale issue's bars: rows of (measure, figure, bar, met)."""
    checks = []  # (measure, figure, bar)
    largest = max(rows)
    for name in FIT_CONTENDERS:
        if name.startswith("sk_autoencoder"):
            figures = fits[largest, name]
            checks.append(
                (
                    f"{name}: peak RSS rise fitting {figures['X'] / GIB:.2f} GiB (GiB)",
                    figures["rise"] / GIB,
                    0.5,
                )
            )
    if SEED_ROWS in rows:
        for name in FIT_CONTENDERS:
            if name.startswith("sk_autoencoder"):
                raw = fits[SEED_ROWS, "raw Keras, " + name.split(", ")[1]]
                checks.append(
                    (
                        f"{name}: fit time at {SEED_ROWS:,} rows / raw Keras's",
                        fits[SEED_ROWS, name]["fit"] / raw["fit"],
                        1.1,
                    )
                )
    for backend, figures in transforms.items():
        for method in ("transform", "inverse_transform", "score_samples"):
            ours, raw = figures[f"{method}|ours"], figures[f"{method}|raw"]
            checks.append(
                (
                    f"{BACKENDS[backend]}: {method} / predict_on_batch",
                    ours["seconds"] / raw["seconds"],
                    1.0,
                )
            )
    table = [
        [measure, f"{figure:.3f}", f"at most {bar}", "yes" if figure <= bar else "no"]
        for measure, figure, bar in checks
    ]
    text = "The bars the scale issue sets, from the tables above."
    return ("Targets", text, ["measure", "figure", "bar", "met"], table, "scale-targets")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each fit")
    parser.add_argument("--out", default="benchmarks/results/scale", help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    parser.add_argument(
        "--measure", choices=["sk_autoencoder", "keras", "transform"], help=argparse.SUPPRESS
    )
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure == "transform":
        print(json.dumps(measure_transform(args.rows, repeats=3 if args.quick else 5)))
        return 0
    if args.measure:
        print(json.dumps(measure_fit(args.measure, args.rows, args.epochs)))
        return 0

    rows = (2_000,) if args.quick else ROWS
    transform_rows = 5_000 if args.quick else TRANSFORM_ROWS
    epochs = 1 if args.quick else args.epochs
    fits = {}
    for n_rows in rows:
        for name, (kind, backend) in FIT_CONTENDERS.items():
            print(f"fit {n_rows:,} rows: {name} ...", flush=True)
            arguments = ["--measure", kind, "--rows", str(n_rows), "--epochs", str(epochs)]
            fits[n_rows, name] = run(arguments, backend)
    transforms = {}
    for backend in BACKENDS:
        print(f"transform {transform_rows:,} rows: {BACKENDS[backend]} ...", flush=True)
        arguments = ["--measure", "transform", "--rows", str(transform_rows)]
        transforms[backend] = run(arguments + (["--quick"] if args.quick else []), backend)
    sections = [
        fit_section(fits, rows, epochs),
        transform_section(transforms, transform_rows),
        targets_section(fits, transforms, rows),
    ]
    preamble = (
        "# Scaling: fit time and memory against rows, transform throughput\n\n"
        f"Made by `python -m benchmarks.scale{' --quick' if args.quick else ''}` on "
        f"{machine()}. Times are wall times on a shared machine: compare the ratios, "
        "measured side by side in this run."
    )
    print(write_report(args.out, "scale", preamble, sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
