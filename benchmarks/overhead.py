"""What the estimator costs over the same Keras model trained and run by hand.

Run ``python -m benchmarks.overhead``. In one process, on scaled digits, it fits
``AutoencoderTransformer`` and a hand-built Keras model of the same architecture for the
same epochs and batch size (the usual workflow: ``Model.fit``, then
``encoder.predict``), and times ``transform`` against ``encoder.predict`` (and
the estimator's own ``encoder_.predict``, and ``predict_on_batch``) at 1, 100 and
10,000 rows. It prints ratios, which hold on a
noisy machine where absolute times drift, and writes them to ``--out``.
"""

import argparse
import warnings

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

from ._report import machine, median_seconds, write_results

ENCODING_DIM = 8
HIDDEN = 128
BATCH_SIZE = 64


def keras_by_hand(n_features):
    """The same autoencoder written directly in Keras, as its tutorials do."""
    inputs = keras.Input((n_features,))
    hidden = keras.layers.Dense(HIDDEN, activation="relu")(inputs)
    encoder = keras.Model(inputs, keras.layers.Dense(ENCODING_DIM)(hidden))
    codes = keras.Input((ENCODING_DIM,))
    hidden = keras.layers.Dense(HIDDEN, activation="relu")(codes)
    decoder = keras.Model(codes, keras.layers.Dense(n_features)(hidden))
    model = keras.Model(inputs, decoder(encoder(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model, encoder


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    parser.add_argument("--epochs", type=int, default=30, help="epochs each fit runs")
    parser.add_argument(
        "--out", default="benchmarks/results/overhead", help="folder for the results"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    repeats = {1: 3, 100: 3, 10_000: 2} if args.quick else {1: 50, 100: 50, 10_000: 10}

    X = StandardScaler().fit_transform(load_digits().data).astype(np.float32)
    rows_for = {n: np.resize(X, (n, X.shape[1])) for n in repeats}

    # The network that keras_by_hand writes: a chain of layers from a random start.
    estimator = AutoencoderTransformer(
        ENCODING_DIM,
        init="random",
        hidden_layer_sizes=(HIDDEN,),
        batch_size=BATCH_SIZE,
        epochs=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        random_state=0,
    )
    model, encoder = keras_by_hand(X.shape[1])
    print(f"fitting both for {epochs} epochs of batch {BATCH_SIZE} on {X.shape} ...", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_ours = median_seconds(lambda: estimator.fit(X), repeats=1, warmup=0)
    fit_keras = median_seconds(
        lambda: model.fit(X, X, epochs=epochs, batch_size=BATCH_SIZE, verbose=0),
        repeats=1,
        warmup=0,
    )
    results = [("fit", fit_ours, fit_keras, None, None)]
    for n_rows, times in repeats.items():
        x = rows_for[n_rows]
        print(f"transforming {n_rows} rows ...", flush=True)
        ours = median_seconds(lambda x=x: estimator.transform(x), repeats=times)
        predict = median_seconds(lambda x=x: encoder.predict(x, verbose=0), repeats=times)
        own_predict = median_seconds(
            lambda x=x: estimator.encoder_.predict(x, verbose=0), repeats=times
        )
        on_batch = median_seconds(lambda x=x: encoder.predict_on_batch(x), repeats=times)
        results.append((f"transform, {n_rows:,} rows", ours, predict, own_predict, on_batch))

    header = [
        "measure",
        "sk_autoencoder (ms)",
        "Keras by hand (ms)",
        "ratio",
        "estimator's encoder_.predict (ms)",
        "Keras predict_on_batch (ms)",
    ]
    rows = [
        [
            name,
            f"{ours * 1e3:.3f}",
            f"{keras_time * 1e3:.3f}",
            f"{ours / keras_time:.4f}",
            *["" if extra is None else f"{extra * 1e3:.3f}" for extra in extras],
        ]
        for name, ours, keras_time, *extras in results
    ]
    preamble = (
        "# sk_autoencoder against the same Keras model by hand\n\n"
        f"Made by `python -m benchmarks.overhead` on {machine()}.\n"
        f"Digits ({X.shape[0]} x {X.shape[1]}, standardized), encoder {X.shape[1]}-{HIDDEN}-"
        f"{ENCODING_DIM}, {epochs} epochs of batch {BATCH_SIZE} each. Keras by hand is "
        "`Model.fit` for fit and `encoder.predict` for transform; ratio is sk_autoencoder's "
        "time over it (below 1: sk_autoencoder is faster). Times are medians."
    )
    backend = keras.backend.backend()
    table = write_results(args.out, f"overhead-{backend}", header, rows, preamble)
    print(table)


if __name__ == "__main__":
    main()
