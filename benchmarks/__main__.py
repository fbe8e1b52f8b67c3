"""Does a nonlinear autoencoder beat PCA on digits, and at what cost?

Run ``python -m benchmarks``. On scikit-learn's embedded ``load_digits`` (70/30 split,
``random_state=0``, standardized on the training part), it fits ``PCA`` and
``AutoencoderTransformer`` (default parameters, ``random_state=0``) at each encoding
dimension and reports the held-out mean squared reconstruction error, the ratio of the
autoencoder's to PCA's, and each fit's time. The table is printed and written, with a
CSV, to ``--out``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer

from ._report import machine, write_results


def held_out_mse(reducer, X_test):
    reconstruction = reducer.inverse_transform(reducer.transform(X_test))
    return float(np.mean((X_test - reconstruction) ** 2))


def timed_fit(reducer, X):
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A budget of epochs that runs out is reported in the table, not as a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        reducer.fit(X)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--dims",
        type=int,
        nargs="+",
        default=[2, 4, 8, 16, 32],
        help="encoding dimensions to compare (those below the feature count are kept)",
    )
    parser.add_argument("--out", default="benchmarks/results/digits", help="results folder")
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the tests")
    args = parser.parse_args(argv)

    X_train, X_test = train_test_split(load_digits().data, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    dims = [dim for dim in args.dims if dim < X_train.shape[1]]
    extra = {"epochs": 3, "hidden_layer_sizes": (16,)} if args.quick else {}

    rows = []
    for step, dim in enumerate(dims, start=1):
        print(f"[{step}/{len(dims)}] encoding_dim={dim}: fitting PCA and the autoencoder")
        pca = PCA(dim, random_state=0)
        pca_seconds = timed_fit(pca, X_train)
        autoencoder = AutoencoderTransformer(dim, random_state=0, **extra)
        autoencoder_seconds = timed_fit(autoencoder, X_train)
        pca_mse, autoencoder_mse = held_out_mse(pca, X_test), held_out_mse(autoencoder, X_test)
        rows.append(
            [
                dim,
                f"{pca_mse:.3f}",
                f"{autoencoder_mse:.3f}",
                f"{autoencoder_mse / pca_mse:.2f}",
                f"{pca_seconds:.3f}",
                f"{autoencoder_seconds:.1f}",
                autoencoder.n_iter_,
            ]
        )
        print(f"    held-out MSE: PCA {pca_mse:.3f}, autoencoder {autoencoder_mse:.3f}")

    header = [
        "encoding_dim",
        "PCA MSE",
        "autoencoder MSE",
        "autoencoder / PCA",
        "PCA fit (s)",
        "autoencoder fit (s)",
        "autoencoder epochs",
    ]
    preamble = (
        "# Digits: AutoencoderTransformer against PCA\n\n"
        f"Made by `python -m benchmarks{' --quick' if args.quick else ''}` on {machine()}.\n"
        f"load_digits, 70/30 split (random_state=0), {X_train.shape[0]} training and "
        f"{X_test.shape[0]} held-out rows, standardized on the training part. "
        "AutoencoderTransformer with default parameters and random_state=0. MSE is the "
        "held-out mean squared reconstruction error."
    )
    print(write_results(args.out, "digits", header, rows, preamble))


if __name__ == "__main__":
    main()
