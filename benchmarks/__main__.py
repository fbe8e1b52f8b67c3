"""Does a nonlinear autoencoder beat PCA on this data, and at what cost?

Run ``python -m benchmarks`` (digits, a few minutes on 2 cores) or
``python -m benchmarks --dataset fashion-mnist``. At each encoding dimension it fits
PCA, AutoencoderTransformer and DenoisingAutoencoderTransformer on the training rows
and reports, on the held-out rows: the mean squared reconstruction error, the accuracy
of a LogisticRegression trained on the codes, the fit time and the transform time. It
then gives each reducer held-out rows with added noise and measures how close they
come back to the clean rows, and runs a GridSearchCV that tunes the autoencoder with
its own score. Tables (Markdown and CSV) and PNG plots go to ``--out``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._cli import new_folder

from ._data import FASHION_MNIST_DIR, MissingDataError, digits, fashion_mnist
from ._plots import image_grid, plot_against_dimension
from ._report import machine, median_seconds, write_report

REDUCERS = ("PCA", "autoencoder", "denoising autoencoder")
# The ready convolutional autoencoder, fitted at the middle encoding dimension alone
# (its epochs cost many times the Dense networks' on a CPU).
CONV = "convolutional autoencoder"
# The denoising autoencoder trains on gaussian noise of this many standard deviations
# of each feature; held-out rows are corrupted at each of NOISE_LEVELS.
TRAINING_NOISE = 0.5
NOISE_LEVELS = (0.25, 0.5, 1.0)
IMAGES_SHOWN = 10
# The encoding dimensions fitted unless --dims names others.
DIMS = [2, 4, 8, 16, 32]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    parser.add_argument(
        "--data-dir",
        default=FASHION_MNIST_DIR,
        help="folder holding Fashion-MNIST's four IDX .gz files (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="results folder (default: a new benchmarks-<dataset> folder here; the "
        "committed results are benchmarks/results/<dataset>)",
    )
    parser.add_argument(
        "--dims",
        type=int,
        nargs="+",
        default=DIMS,
        help="encoding dimensions (those below the feature count are kept; default: %(default)s)",
    )
    parser.add_argument(
        "--n-jobs", type=int, default=2, help="parallel fits in the grid search (default: 2)"
    )
    parser.add_argument(
        "--no-conv",
        action="store_true",
        help="leave out the convolutional autoencoder (JAX's convolutions are slow on a CPU)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the test suite")
    return parser, parser.parse_args(argv)


def shrink(dataset):
    """The quick run's data and settings: a few hundred rows, tiny networks, 3 epochs."""
    dataset.X_train, dataset.y_train = dataset.X_train[:500], dataset.y_train[:500]
    dataset.X_test, dataset.y_test = dataset.X_test[:200], dataset.y_test[:200]
    dataset.autoencoder_params = {
        **dataset.autoencoder_params,
        "hidden_layer_sizes": (16,),
        "epochs": 3,
    }
    dataset.conv_params = {**dataset.conv_params, "epochs": 2}
    dataset.search_grid = {"encoding_dim": [2, 4], "hidden_layer_sizes": [(8,)]}
    dataset.search_rows = None
    return dataset


def make_reducer(name, dim, dataset):
    params = {"random_state": 0, **dataset.autoencoder_params}
    if name == "PCA":
        return PCA(dim, random_state=0)
    if name == "autoencoder":
        return AutoencoderTransformer(dim, **params)
    if name == CONV:
        return AutoencoderTransformer(dim, random_state=0, **dataset.conv_params)
    return DenoisingAutoencoderTransformer(
        dim, noise="gaussian", noise_level=TRAINING_NOISE, **params
    )


def fit_quietly(estimator, *args):
    """Fit; an epoch budget that runs out shows in the tables' epochs, not as a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args)


def _kept(reducer):
    """What an autoencoder ended as: its network, or PCA; empty for PCA itself."""
    if not hasattr(reducer, "pca_kept_"):
        return ""
    return "PCA" if reducer.pca_kept_ else "network"


def reconstruct(reducer, X):
    return reducer.inverse_transform(reducer.transform(X))


def mse(X, reconstruction):
    return float(np.mean((X - reconstruction) ** 2))


def classify(reducer, X_train, y_train):
    """A LogisticRegression on the (standardized) codes of an already fitted reducer."""
    reduce = "passthrough" if reducer is None else FrozenEstimator(reducer)
    pipeline = Pipeline(
        [
            ("reduce", reduce),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    return fit_quietly(pipeline, X_train, y_train)


def compare(dataset, X_train, X_test, dims, repeats, conv_dim):
    """Fit each reducer at each dimension (the convolutional one at ``conv_dim``);
    return the table and the fitted reducers."""
    records, fitted = [], {}
    total = len(dims) * len(REDUCERS) + (conv_dim is not None)
    for dim in dims:
        for name in (*REDUCERS, CONV) if dim == conv_dim else REDUCERS:
            step = len(records) + 1
            print(f"[{step}/{total}] encoding_dim={dim}: fitting {name}", flush=True)
            reducer = make_reducer(name, dim, dataset)
            start = time.perf_counter()
            fit_quietly(reducer, X_train)
            fit_seconds = time.perf_counter() - start
            transform_seconds = median_seconds(
                lambda reducer=reducer: reducer.transform(X_test), repeats=repeats
            )
            record = {
                "encoding_dim": dim,
                "reducer": name,
                "mse": mse(X_test, reconstruct(reducer, X_test)),
                "accuracy": classify(reducer, X_train, dataset.y_train).score(
                    X_test, dataset.y_test
                ),
                "fit_seconds": fit_seconds,
                "transform_ms_per_1000": 1e6 * transform_seconds / len(X_test),
                "epochs": getattr(reducer, "n_iter_", ""),
                "kept_epoch": getattr(reducer, "best_epoch_", ""),
                "kept": {True: "PCA", False: "network"}.get(
                    getattr(reducer, "pca_kept_", None), ""
                ),
            }
            records.append(record)
            fitted[name, dim] = reducer
            print(
                f"    fit {fit_seconds:.1f} s, held-out MSE {record['mse']:.4f}, "
                f"accuracy {record['accuracy']:.3f}",
                flush=True,
            )
    results = pd.DataFrame(records)
    pca_mse = results[results["reducer"] == "PCA"].set_index("encoding_dim")["mse"]
    results["mse_to_pca"] = results["mse"] / results["encoding_dim"].map(pca_mse)
    return results, fitted


def corrupt(X, level, feature_std, seed):
    """``X`` plus gaussian noise of ``level`` standard deviations of each feature."""
    rng = np.random.default_rng(seed)
    return (X + level * feature_std * rng.standard_normal(X.shape)).astype(X.dtype)


def denoising(fitted, X_test, feature_std, dim):
    """MSE against the clean rows when each reducer is given noisy held-out rows."""
    records = []
    for seed, level in enumerate(NOISE_LEVELS):
        noisy = corrupt(X_test, level, feature_std, seed)
        record = {"noise_level": level, "noisy input": mse(X_test, noisy)}
        for name in REDUCERS:
            record[name] = mse(X_test, reconstruct(fitted[name, dim], noisy))
        records.append(record)
    return pd.DataFrame(records)


def grid_search(dataset, n_jobs):
    """Tune the autoencoder with its own score; return the fitted search and its time."""
    X, rows = dataset.X_train, dataset.search_rows
    if rows is not None and rows < len(X):
        X = X[np.random.default_rng(0).choice(len(X), rows, replace=False)]
    scale = "passthrough" if dataset.scaler is None else clone(dataset.scaler)
    autoencoder = AutoencoderTransformer(random_state=0, **dataset.autoencoder_params)
    search = GridSearchCV(
        Pipeline([("scale", scale), ("autoencoder", autoencoder)]),
        {f"autoencoder__{key}": values for key, values in dataset.search_grid.items()},
        cv=3,
        n_jobs=n_jobs,
        verbose=1,
    )
    print(f"Grid search on {len(X):,} training rows, {n_jobs} parallel fits", flush=True)
    start = time.perf_counter()
    fit_quietly(search, X)
    return search, len(X), time.perf_counter() - start


def draw(dataset, results, fitted, scaler, X_test, feature_std, dim, out):
    def as_pixels(X):
        X = X if scaler is None else scaler.inverse_transform(X)
        return X / dataset.pixel_max

    shown = [int(np.flatnonzero(dataset.y_test == label)[0]) for label in range(IMAGES_SHOWN)]
    clean = X_test[shown]
    noisy = corrupt(clean, TRAINING_NOISE, feature_std, seed=len(NOISE_LEVELS))
    rows = [("original", clean)]
    shown_reducers = [name for name in (*REDUCERS[:2], CONV) if (name, dim) in fitted]
    rows += [(name, reconstruct(fitted[name, dim], clean)) for name in shown_reducers]
    rows += [(f"noisy ({TRAINING_NOISE} std)", noisy)]
    rows += [(f"{name},\nnoisy input", reconstruct(fitted[name, dim], noisy)) for name in REDUCERS]
    image_grid(
        [(label, as_pixels(images)) for label, images in rows],
        dataset.image_shape,
        f"{dataset.title}, held-out images, encoding dimension {dim}",
        out / "images.png",
    )
    plot_against_dimension(
        results,
        "mse",
        "held-out reconstruction MSE",
        f"{dataset.title}: reconstruction error",
        out / "mse.png",
    )


def main(argv=None):
    started = time.perf_counter()
    parser, args = parse_args(argv)
    try:
        dataset = digits() if args.dataset == "digits" else fashion_mnist(args.data_dir)
    except MissingDataError as error:
        parser.exit(2, f"python -m benchmarks: {error}\n")
    if args.quick:
        dataset = shrink(dataset)
    out = args.out or new_folder(Path.cwd(), f"benchmarks-{dataset.name}")
    out.mkdir(parents=True, exist_ok=True)
    n_features = dataset.X_train.shape[1]
    dims = [dim for dim in args.dims if 0 < dim < n_features]
    if not dims:
        parser.error(f"no encoding dimension in {args.dims} is below {n_features} features")
    print(f"{dataset.title}: {dataset.description}", flush=True)

    scaler = None if dataset.scaler is None else clone(dataset.scaler).fit(dataset.X_train)
    X_train, X_test = dataset.X_train, dataset.X_test
    if scaler is not None:
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    feature_std = X_train.std(axis=0)
    dim = dims[len(dims) // 2]

    repeats = 1 if args.quick else 5
    conv_dim = None if args.no_conv else dim
    results, fitted = compare(dataset, X_train, X_test, dims, repeats, conv_dim=conv_dim)
    all_features = classify(None, X_train, dataset.y_train).score(X_test, dataset.y_test)
    noise = denoising(fitted, X_test, feature_std, dim)
    n_jobs = 1 if args.quick else args.n_jobs
    search, search_rows, search_seconds = grid_search(dataset, n_jobs)

    draw(dataset, results, fitted, scaler, X_test, feature_std, dim, out)
    plot_against_dimension(
        results,
        "accuracy",
        "held-out accuracy of LogisticRegression on the codes",
        f"{dataset.title}: what the codes keep",
        out / "accuracy.png",
        reference=(f"all {n_features} features", all_features),
    )
    report = write_report(
        out,
        dataset.name,
        preamble(dataset, args, n_features, all_features, time.perf_counter() - started),
        [
            comparison_section(results),
            denoising_section(noise, dim),
            search_section(search, search_rows, search_seconds, n_jobs),
        ],
    )
    print(f"\n{report}\nTables and plots written to {out}/")


def preamble(dataset, args, n_features, all_features, seconds):
    command = "python -m benchmarks"
    if args.dataset != "digits":
        command += f" --dataset {args.dataset}"
    if args.dims != DIMS:
        command += " --dims " + " ".join(map(str, args.dims))
    if args.no_conv:
        command += " --no-conv"
    if args.quick:
        command += " --quick"
    if args.out is not None:
        command += f" --out {args.out}"
    return (
        f"# {dataset.title}: PCA against AutoencoderTransformer and "
        f"DenoisingAutoencoderTransformer\n\n"
        f"Made by `{command}` on {machine()}, in {seconds // 60:.0f} min {seconds % 60:.0f} s "
        "(data, fits, plots; the report's own writing excepted).\n\n"
        f"{dataset.description} The denoising autoencoder trains on gaussian noise of "
        f"{TRAINING_NOISE} standard deviations of each feature. Every reducer has "
        "random_state=0. A LogisticRegression trained on all "
        f"{n_features} features scores {all_features:.3f} held-out accuracy."
    )


def comparison_section(results):
    rows = [
        [
            record.encoding_dim,
            record.reducer,
            f"{record.mse:.4f}",
            f"{record.mse_to_pca:.3f}",
            f"{record.accuracy:.3f}",
            f"{record.fit_seconds:.2f}",
            f"{record.transform_ms_per_1000:.2f}",
            record.epochs,
            record.kept_epoch,
            record.kept,
        ]
        for record in results.itertuples()
    ]
    header = [
        "encoding_dim",
        "reducer",
        "held-out MSE",
        "MSE / PCA's",
        "accuracy",
        "fit (s)",
        "transform (ms per 1,000 rows)",
        "epochs",
        "kept epoch",
        "kept",
    ]
    text = (
        "Held-out mean squared reconstruction error, its ratio to PCA's at the same "
        "dimension, and the held-out accuracy of a LogisticRegression trained on the "
        "standardized codes (reducer, StandardScaler and classifier in one Pipeline, "
        "the reducer frozen). Fit time is the reducer's alone; transform time is the "
        "median of 5 calls on all held-out rows. Epochs: those run, and the one whose "
        "weights the autoencoder kept, chosen on rows held out for it (none for the "
        "denoising one, which stops on its training loss). Kept: the network, where a "
        "tenth of the training rows that neither trained it nor chose its epoch (for the "
        "denoising one, corrupted with its noise) show it beats PCA with 95% "
        "confidence, or else PCA of all the training rows. Plots: mse.png, "
        "accuracy.png; images.png shows held-out images."
    )
    return ("Reconstruction, classification, time", text, header, rows, "comparison")


def denoising_section(noise, dim):
    rows = [
        [
            record["noise_level"],
            f"{record['noisy input']:.4f}",
            *(f"{record[name]:.4f}" for name in REDUCERS),
            f"{record['denoising autoencoder'] / record['PCA']:.2f}",
            f"{record['denoising autoencoder'] / record['autoencoder']:.2f}",
        ]
        for _, record in noise.iterrows()
    ]
    header = [
        "noise_level",
        "noisy input",
        *(f"{name}" for name in REDUCERS),
        "denoising / PCA",
        "denoising / autoencoder",
    ]
    text = (
        f"The reducers of encoding dimension {dim} are given the held-out rows plus "
        "gaussian noise of noise_level standard deviations of each feature; the table "
        "gives the mean squared error of what comes back against the clean rows "
        "(and, for reference, of the noisy rows themselves)."
    )
    return ("Denoising", text, header, rows, "denoising")


def search_section(search, search_rows, search_seconds, n_jobs):
    results = pd.DataFrame(search.cv_results_)
    rows = [
        [
            record["param_autoencoder__encoding_dim"],
            record["param_autoencoder__hidden_layer_sizes"],
            f"{-record['mean_test_score']:.4f}",
            record["rank_test_score"],
            f"{record['mean_fit_time']:.1f}",
        ]
        for _, record in results.iterrows()
    ]
    header = ["encoding_dim", "hidden_layer_sizes", "mean held-out MSE", "rank", "fit (s)"]
    best = search.best_params_
    n_fits = len(results) * search.n_splits_
    text = (
        f"GridSearchCV(Pipeline([scaling, AutoencoderTransformer]), cv={search.n_splits_}) "
        "with no `scoring`: it ranks the candidates by the estimator's own score, the "
        f"negative held-out MSE. {search_rows:,} training rows, {n_fits} fits and a "
        f"refit in {search_seconds:.0f} s with n_jobs={n_jobs}. Chosen: "
        f"encoding_dim={best['autoencoder__encoding_dim']}, "
        f"hidden_layer_sizes={best['autoencoder__hidden_layer_sizes']}. Reconstruction "
        "error always favours the larger code; the search tells by how much."
    )
    return ("Grid search", text, header, rows, "search")


if __name__ == "__main__":
    main()
