"""Fit and transform speed of sk_autoencoder against every other way to do it on a CPU.

Run ``python -m benchmarks.speed``. The seed workload: X of 60,000 x 784 float32 values
in [0, 1), a 784-32-784 autoencoder (Dense(32, relu) encoder, Dense(784, sigmoid)
decoder), Adam, mean squared error, batch 256, the same epochs for every contender; and
the same on Fashion-MNIST's 60,000 training images when they are installed. Each
contender runs in a subprocess of its own, so that each backend starts clean:

- sk_autoencoder on TensorFlow, JAX and torch;
- raw Keras as in the seed (``Model.fit``, then ``encoder.predict``), on each backend;
- scikeras's documented AutoEncoder pattern (a ``BaseWrapper`` subclass);
- scikit-learn's ``MLPRegressor(hidden_layer_sizes=(32,))`` fitted on ``(X, X)``,
  transforming through its first layer;
- ``PCA(32)``;
- the limit: the epoch's floating-point operations at numpy's float32 GEMM rate,
  measured in the same run.

Seconds per epoch are ``(t_E - t_B) / (E - B)`` for fits of ``E`` (10 by default) and
``B = 3`` epochs, after a warm-up fit of ``B`` epochs: the steady cost of an epoch,
without the one-off costs (tracing, compiling) that the "fit" column (``t_E``)
includes. 3 epochs is the shortest seed fit that sk_autoencoder compiles with XLA on
TensorFlow, so both timed fits take the same path; and a difference of 7 epochs
outweighs the noise of a fit's compile time (0.7 to 1.6 s).
sk_autoencoder's code layer is linear where the seed's is relu (the estimator's code
layer is always linear); the arithmetic is the same. Like every other contender it
starts from random weights and holds no rows out (``init="random"``,
``early_stopping=False``); ``python -m benchmarks.start`` measures what the default
PCA start adds to a fit of the same network.

The contenders run in rounds (``--rounds``, 3 by default): each round runs every
contender once, one after the other, so that a change in the machine's load falls on
all of them alike. The tables show each figure's median over the rounds; a bar's ratio
is taken within each round, between figures measured minutes apart, and the median of
those ratios is what the bar is held to.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._report import machine, median_seconds, write_report

N_ROWS, N_FEATURES, ENCODING_DIM, BATCH_SIZE = 60_000, 784, 32, 256
BASE_EPOCHS = 3  # the shorter timed fit (fewer with --epochs 3 or less)
TRANSFORM_ROWS = (1, 1_000, 60_000)
NOTES = {
    "sk_autoencoder": "linear code layer",
    "mlp": "identity output layer; transform: numpy through coefs_[0]",
    "pca": "fit: one SVD",
}
CONTENDERS = {
    "sk_autoencoder, TensorFlow": ("sk_autoencoder", "tensorflow"),
    "sk_autoencoder, JAX": ("sk_autoencoder", "jax"),
    "sk_autoencoder, torch": ("sk_autoencoder", "torch"),
    "raw Keras, TensorFlow": ("keras", "tensorflow"),
    "raw Keras, JAX": ("keras", "jax"),
    "raw Keras, torch": ("keras", "torch"),
    "scikeras AutoEncoder, TensorFlow": ("scikeras", "tensorflow"),
    "MLPRegressor(32)": ("mlp", "tensorflow"),
    "PCA(32)": ("pca", "tensorflow"),
}
OURS = ("sk_autoencoder, TensorFlow", "sk_autoencoder, JAX", "sk_autoencoder, torch")
PEERS = ("raw Keras, TensorFlow", "raw Keras, JAX", "raw Keras, torch", "MLPRegressor(32)")
# Each backend of sk_autoencoder beside raw Keras on the same backend.
RAW_KERAS = {name: name.replace("sk_autoencoder", "raw Keras") for name in OURS}


def load_data(data, n_rows):
    """The rows a contender fits: random values in [0, 1), or Fashion-MNIST scaled to it."""
    if data == "random":
        return np.random.default_rng(0).random((n_rows, N_FEATURES), dtype=np.float32)
    from ._data import fashion_mnist

    return fashion_mnist().X_train[:n_rows].astype(np.float32)


def epoch_flops(n_rows):
    """Floating-point operations of one epoch: forward, and backward at twice forward."""
    weights = N_FEATURES * ENCODING_DIM + ENCODING_DIM * N_FEATURES
    return 3 * 2 * n_rows * weights


def gemm_rate():
    """numpy's float32 matrix-product rate on 2048 x 2048, in FLOP per second."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    return 2 * 2048**3 / median_seconds(lambda: a @ a, repeats=5)


def keras_autoencoder():
    """The seed's network, as Keras's tutorials write it: (autoencoder, encoder)."""
    import keras

    inputs = keras.Input((N_FEATURES,))
    encoder = keras.Model(inputs, keras.layers.Dense(ENCODING_DIM, activation="relu")(inputs))
    codes = keras.Input((ENCODING_DIM,))
    decoder = keras.Model(codes, keras.layers.Dense(N_FEATURES, activation="sigmoid")(codes))
    model = keras.Model(inputs, decoder(encoder(inputs)))
    model.compile(optimizer="adam", loss="mse")
    return model, encoder


def scikeras_autoencoder(epochs):
    """scikeras's AutoEncoder pattern, as its documentation writes it."""
    import keras
    from scikeras.wrappers import BaseWrapper
    from sklearn.base import TransformerMixin

    class AutoEncoder(BaseWrapper, TransformerMixin):
        def _keras_build_fn(self, encoding_dim, meta):
            n_features = meta["n_features_in_"]
            encoder_input = keras.Input(shape=(n_features,))
            encoded = keras.layers.Dense(encoding_dim, activation="relu")(encoder_input)
            encoder = keras.Model(encoder_input, encoded)
            decoder_input = keras.Input(shape=(encoding_dim,))
            decoded = keras.layers.Dense(n_features, activation="sigmoid")(decoder_input)
            decoder = keras.Model(decoder_input, decoded)
            autoencoder_input = keras.Input(shape=(n_features,))
            autoencoder = keras.Model(autoencoder_input, decoder(encoder(autoencoder_input)))
            self.encoder_model = BaseWrapper(encoder, verbose=self.verbose)
            self.decoder_model = BaseWrapper(decoder, verbose=self.verbose)
            return autoencoder

        def _initialize(self, X, y=None):
            X, _ = super()._initialize(X=X, y=y)
            self.decoder_model.initialize(self.encoder_model.initialize(X).predict(X))
            return X, X

        def initialize(self, X, y=None):
            self._initialize(X=X, y=X)
            return self

        def fit(self, X, *, sample_weight=None):
            super().fit(X=X, y=X, sample_weight=sample_weight)
            return self

        def transform(self, X):
            return self.encoder_model.predict(self.feature_encoder_.transform(X))

    return AutoEncoder(
        loss="mse",
        optimizer="adam",
        encoding_dim=ENCODING_DIM,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        random_state=0,
        verbose=0,
    )


def contender(kind):
    """``(make(epochs), fit(estimator, X), transform(estimator, X))`` for one contender."""
    if kind == "sk_autoencoder":
        from sk_autoencoder import AutoencoderTransformer

        def make(epochs):
            return AutoencoderTransformer(
                ENCODING_DIM,
                # The same work as the other contenders: a random start, every epoch
                # on every row.
                init="random",
                hidden_layer_sizes=(),
                output_activation="sigmoid",
                batch_size=BATCH_SIZE,
                epochs=epochs,
                early_stopping=False,
                n_iter_no_change=epochs,
                random_state=0,
            )

        return make, lambda est, X: est.fit(X), lambda est, X: est.transform(X)
    if kind == "keras":

        def fit(pair, X):
            pair[0].fit(X, X, batch_size=BATCH_SIZE, epochs=pair[2], verbose=0)

        return (
            lambda epochs: (*keras_autoencoder(), epochs),
            fit,
            lambda pair, X: pair[1].predict(X, verbose=0),
        )
    if kind == "scikeras":
        return scikeras_autoencoder, lambda est, X: est.fit(X), lambda est, X: est.transform(X)
    if kind == "mlp":
        from sklearn.neural_network import MLPRegressor

        def make(epochs):
            return MLPRegressor(
                hidden_layer_sizes=(ENCODING_DIM,),
                batch_size=BATCH_SIZE,
                max_iter=epochs,
                tol=0.0,
                n_iter_no_change=epochs + 1,
                random_state=0,
            )

        def first_layer(est, X):
            return np.maximum(X @ est.coefs_[0] + est.intercepts_[0], 0)

        return make, lambda est, X: est.fit(X, X), first_layer
    if kind == "pca":
        from sklearn.decomposition import PCA

        return (
            lambda epochs: PCA(ENCODING_DIM, random_state=0),
            lambda est, X: est.fit(X),
            lambda est, X: est.transform(X),
        )
    raise ValueError(f"unknown contender {kind!r}")


def measure(kind, data, n_rows, epochs, repeats):
    """Time one contender in this process; return its figures as a dict."""
    warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits, on purpose
    X = load_data(data, n_rows)
    make, fit, transform = contender(kind)
    # A fit of the base size first: the process's one-off costs (and any compilation a
    # backend caches across fits) are then paid before either timed fit.
    base = min(BASE_EPOCHS, epochs - 1)
    fit(make(base), X)

    def timed_fit(n_epochs):
        estimator = make(n_epochs)
        start = time.perf_counter()
        fit(estimator, X)
        return time.perf_counter() - start, estimator

    figures = {}
    if kind == "pca":
        figures["fit"], estimator = timed_fit(1)
    else:
        shorter, _ = timed_fit(base)
        figures["fit"], estimator = timed_fit(epochs)
        figures["epoch"] = (figures["fit"] - shorter) / (epochs - base)
    for rows in TRANSFORM_ROWS:
        x = np.resize(X, (min(rows, n_rows), N_FEATURES))
        figures[f"transform {rows:,}"] = median_seconds(
            lambda x=x: transform(estimator, x), repeats=repeats[rows]
        )
    figures["peak RSS"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def run_contender(name, data, n_rows, epochs, quick):
    """Run one contender in a fresh Python; return its figures, or a one-line failure."""
    kind, backend = CONTENDERS[name]
    command = [sys.executable, "-m", "benchmarks.speed", "--measure", kind, "--data", data]
    command += ["--rows", str(n_rows), "--epochs", str(epochs)] + (["--quick"] if quick else [])
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return {"failed": lines[-1] if lines else f"exit status {result.returncode}"}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {**figures, "note": NOTES.get(kind, "")}


COLUMNS = ("epoch", "fit", "transform 1", "transform 1,000", "transform 60,000", "peak RSS")
UNITS = {"epoch": "s", "fit": "s", "peak RSS": "MiB"}


def table(results):
    """The Markdown header and rows: each figure, and its ratio to sk_autoencoder's best."""
    best = {
        column: min(
            (results[name][column] for name in OURS if column in results[name]), default=None
        )
        for column in COLUMNS
    }
    header = ["contender"]
    for column in COLUMNS:
        label = "s per epoch" if column == "epoch" else f"{column} ({UNITS.get(column, 'ms')})"
        header += [label, "ratio"]
    header.append("note")
    rows = []
    for name, figures in results.items():
        row = [name]
        for column in COLUMNS:
            value = figures.get(column)
            if value is None:
                row += ["", ""]
                continue
            shown = value * 1e3 if UNITS.get(column, "ms") == "ms" else value
            ratio = "" if best[column] is None else f"{value / best[column]:.2f}"
            row += [f"{shown:.4g}", ratio]
        row.append(figures.get("failed", figures.get("note", "")))
        rows.append(row)
    return header, rows


LIMIT = "limit: epoch FLOPs / GEMM rate"


def median_figures(runs):
    """One contender's figures over the rounds: each figure's median, or its first failure."""
    failures = [run for run in runs if "failed" in run]
    if failures:
        return failures[0]
    medians = {
        column: statistics.median(run[column] for run in runs)
        for column in COLUMNS
        if column in runs[0]
    }
    return {**medians, "note": runs[0].get("note", "")}


def fastest_of(results):
    """sk_autoencoder's backend with the shortest epoch in ``results``, or None."""
    epochs = {name: results[name]["epoch"] for name in OURS if "epoch" in results[name]}
    return min(epochs, key=epochs.get) if epochs else None


def target_checks(results, fastest):
    """The speed issue's bars on one set of figures: ``(measure, ratio, bar, at_least)``.

    ``fastest`` names the backend the bars hold on; ``bar`` is None for a ratio that is
    reported only.
    """
    ours = {name: results[name] for name in OURS if "epoch" in results[name]}
    checks = []
    peers = {name: results[name]["epoch"] for name in PEERS if "epoch" in results[name]}
    if peers:
        peer = min(peers, key=peers.get)
        ratio = ours[fastest]["epoch"] / peers[peer]
        checks.append((f"{fastest}: s per epoch / fastest peer's", ratio, 0.9, False))
    mlp = results["MLPRegressor(32)"].get("epoch")
    pca = results["PCA(32)"]
    # The fastest backend first; the GEMM share's bar holds on it, the others' are
    # reported; every other bar holds on every backend.
    for name in sorted(ours, key=lambda name: name != fastest):
        raw = results.get(RAW_KERAS[name], {}).get("epoch")
        if raw:
            ratio = ours[name]["epoch"] / raw
            checks.append((f"{name}: s per epoch / raw Keras's", ratio, 0.5, False))
        if mlp:
            ratio = ours[name]["epoch"] / mlp
            checks.append((f"{name}: s per epoch / MLPRegressor's", ratio, 0.9, False))
        share = results[LIMIT]["epoch"] / ours[name]["epoch"]
        bar = 0.4 if name == fastest else None
        checks.append((f"{name}: share of the GEMM rate", share, bar, True))
        for rows, bar in ((60_000, 1.5), (1, 5.0)):
            column = f"transform {rows:,}"
            if column in results[name] and column in pca:
                ratio = results[name][column] / pca[column]
                checks.append((f"{name}: {column} / PCA(32)'s", ratio, bar, False))
    return checks


def targets(rounds, medians):
    """The bars' rows: measure, median of the rounds' ratios, each round's, bar, met.

    Each ratio is taken within a round; a bar is met when the median ratio meets it, and
    the last column counts the rounds that met it on their own.
    """
    fastest = fastest_of(medians)
    if fastest is None:
        return []
    by_round = [
        {measure: ratio for measure, ratio, _, _ in target_checks(results, fastest)}
        for results in rounds
    ]
    rows = []
    for measure, _, bar, at_least in target_checks(medians, fastest):
        ratios = [checks[measure] for checks in by_round]
        ratio = statistics.median(ratios)
        row = [measure, f"{ratio:.2f}", ", ".join(f"{value:.2f}" for value in ratios)]
        if bar is None:
            rows.append([*row, "reported", "", ""])
            continue
        met = [value >= bar if at_least else value <= bar for value in ratios]
        met_by_median = ratio >= bar if at_least else ratio <= bar
        rows.append(
            [
                *row,
                f"{'at least' if at_least else 'at most'} {bar}",
                "yes" if met_by_median else "no",
                f"{sum(met)} of {len(met)}",
            ]
        )
    return rows


def epochs_by_round(rounds, medians):
    """Rows of each contender's seconds per epoch in every round, and their median."""
    return [
        [name, *(f"{results[name]['epoch']:.4g}" for results in rounds), f"{figures['epoch']:.4g}"]
        for name, figures in medians.items()
        if "epoch" in figures
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the timed fit")
    parser.add_argument("--out", default="benchmarks/results/speed", help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    parser.add_argument(
        "--rounds", type=int, help="rounds of every contender (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["random", "fashion-mnist"],
        help="the workloads (default: random, and Fashion-MNIST where it is installed)",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", default="random", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=N_ROWS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: an epoch's time is (t_E - t_B) / (E - B)")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    repeats = {1: 3, 1_000: 3, 60_000: 1} if args.quick else {1: 50, 1_000: 20, 60_000: 5}
    if args.measure:
        figures = measure(args.measure, args.data, args.rows, args.epochs, repeats)
        print(json.dumps(figures))
        return 0

    n_rows, epochs = (2_000, 3) if args.quick else (N_ROWS, args.epochs)
    n_rounds = args.rounds or (1 if args.quick else 3)
    datasets = ["random"]
    from ._data import FASHION_MNIST_DIR, FASHION_MNIST_FILES

    installed = all(
        (Path(FASHION_MNIST_DIR) / name).exists() for name in FASHION_MNIST_FILES.values()
    )
    if installed and not args.quick:
        datasets.append("fashion-mnist")
    if args.datasets:
        datasets = args.datasets
    rates, sections = [], []
    for data in datasets:
        rounds = []
        for number in range(1, n_rounds + 1):
            rates.append(gemm_rate())
            results = {}
            for name in CONTENDERS:
                print(f"{data}, round {number} of {n_rounds}: {name} ...", flush=True)
                results[name] = run_contender(name, data, n_rows, epochs, args.quick)
            results[LIMIT] = {"epoch": epoch_flops(n_rows) / rates[-1]}
            rounds.append(results)
        medians = {
            name: median_figures([results[name] for results in rounds]) for name in rounds[0]
        }
        header, rows = table(medians)
        described = "random values in [0, 1)" if data == "random" else "training images / 255"
        text = (
            f"{n_rows:,} x {N_FEATURES} float32, {described}; {epochs} epochs of batch "
            f"{BATCH_SIZE}; medians of {n_rounds} round{'s' if n_rounds > 1 else ''}."
        )
        sections.append((f"Speed, {data}", text, header, rows, f"speed-{data}"))
        sections.append(
            (
                f"Seconds per epoch by round, {data}",
                "The spread shows the machine's noise; the table above has the medians.",
                ["contender", *(f"round {number}" for number in range(1, n_rounds + 1)), "median"],
                epochs_by_round(rounds, medians),
                f"speed-{data}-rounds",
            )
        )
        if data == "random":
            sections.append(
                (
                    "Targets",
                    "The bars the speed issues set, on the seed workload above, for each "
                    "backend of sk_autoencoder. The fastest backend is the one with the "
                    "shortest median epoch: the bars against the fastest peer and on the "
                    "share of the GEMM rate hold on it, the other backends' shares are "
                    "reported. Each ratio is taken within a round; the bar is held to their "
                    "median.",
                    ["measure", "ratio", "each round", "bar", "met", "rounds met"],
                    targets(rounds, medians),
                    "targets",
                )
            )
    rate = statistics.median(rates)
    options = (
        (["--quick"] if args.quick else [])
        + ([f"--rounds {args.rounds}"] if args.rounds else [])
        + ([f"--datasets {' '.join(args.datasets)}"] if args.datasets else [])
    )
    command = " ".join(["python -m benchmarks.speed", *options])
    preamble = (
        "# Fit and transform speed against the peers\n\n"
        f"Made by `{command}` on "
        f"{machine()}. numpy's float32 GEMM rate in this run: {rate / 1e9:.0f} GFLOP/s "
        f"(median of the rounds); one epoch is {epoch_flops(n_rows) / 1e9:.2f} GFLOP. Ratios "
        "are to sk_autoencoder's best backend for that column (below 1: faster or smaller "
        "than it). Times of transform are medians."
    )
    print(write_report(args.out, "speed", preamble, sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
