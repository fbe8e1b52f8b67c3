"""What the PCA start costs: fit time with ``init="pca"`` over ``init="random"``.

Run ``python -m benchmarks.start``. On the seed workload of ``benchmarks.speed``
(60,000 x 784 float32 values in [0, 1), a 784-32-784 autoencoder with a sigmoid
output, batch 256, 10 epochs, no held-out rows, every epoch run), each backend in a
process of its own fits the network with each start in turn, round after round, after
one fit of each that compiles the steps both use (the PCA start changes weights, not
the network). A fit with the PCA start also fits PCA (on 10,000 rows) and keeps the
start's weights to fall back on if training diverges. Each round's ratio is taken
between fits run one after the other; the bar is held to the median of the rounds'
ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

from ._report import machine, write_report
from .speed import BATCH_SIZE, ENCODING_DIM, N_FEATURES, N_ROWS, load_data

EPOCHS = 10
BAR = 1.15
BACKENDS = {"TensorFlow": "tensorflow", "JAX": "jax"}


def make(init, epochs):
    from sk_autoencoder import AutoencoderTransformer

    return AutoencoderTransformer(
        ENCODING_DIM,
        init=init,
        hidden_layer_sizes=(),
        output_activation="sigmoid",
        batch_size=BATCH_SIZE,
        epochs=epochs,
        early_stopping=False,
        n_iter_no_change=epochs,  # every epoch runs
        random_state=0,
    )


def measure(n_rows, epochs, rounds):
    """In this process: ``{"random": [s, ...], "pca": [s, ...]}``, a fit time per round."""
    from sklearn.exceptions import ConvergenceWarning

    X = load_data("random", n_rows)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for init in ("random", "pca"):
        make(init, epochs).fit(X)
    seconds = {"random": [], "pca": []}
    for round_ in range(rounds):
        # Alternate which goes first, so that neither always follows the other.
        for init in ("random", "pca") if round_ % 2 == 0 else ("pca", "random"):
            estimator = make(init, epochs)
            start = time.perf_counter()
            estimator.fit(X)
            seconds[init].append(time.perf_counter() - start)
    return seconds


def run_backend(backend, n_rows, epochs, rounds):
    command = [sys.executable, "-m", "benchmarks.start", "--measure"]
    command += ["--rows", str(n_rows), "--epochs", str(epochs), "--rounds", str(rounds)]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def rows_for(name, seconds):
    """The table's row for one backend: medians, the ratio of each round, the bar."""
    ratios = [pca / random for pca, random in zip(seconds["pca"], seconds["random"], strict=True)]
    ratio = statistics.median(ratios)
    return [
        name,
        f"{statistics.median(seconds['random']):.3f}",
        f"{statistics.median(seconds['pca']):.3f}",
        f"{ratio:.3f}",
        " ".join(f"{value:.3f}" for value in ratios),
        f"at most {BAR}",
        "yes" if ratio <= BAR else "no",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.start", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=N_ROWS)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", default="benchmarks/results/start", help="results folder")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.rows, args.epochs = 2, 2_000, 2
    if args.measure:
        print(json.dumps(measure(args.rows, args.epochs, args.rounds)))
        return
    header = [
        "backend",
        "fit, init=random (s)",
        "fit, init=pca (s)",
        "pca / random",
        "each round",
        "bar",
        "met",
    ]
    rows = [
        rows_for(name, run_backend(backend, args.rows, args.epochs, args.rounds))
        for name, backend in BACKENDS.items()
    ]
    preamble = (
        "# The PCA start's cost\n\n"
        f"Made by `python -m benchmarks.start` on {machine()}.\n\n"
        f"{args.rows:,} x {N_FEATURES} float32 values in [0, 1); "
        f"`AutoencoderTransformer({ENCODING_DIM}, hidden_layer_sizes=(), "
        f'output_activation="sigmoid", batch_size={BATCH_SIZE}, epochs={args.epochs}, '
        "early_stopping=False)`, every epoch run; fit times are medians of "
        f"{args.rounds} rounds, after a first fit of each start that compiles the steps."
    )
    text = (
        "Fit time with the PCA start over the fit time with a random start, the same "
        "network, epochs and data, measured one after the other in each round."
    )
    print(
        write_report(
            args.out, "start", preamble, [("Fit time by start", text, header, rows, "start")]
        )
    )


if __name__ == "__main__":
    main()
