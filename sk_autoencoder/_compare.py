"""Does a nonlinear reducer beat PCA on this data, and at what cost? :func:`compare` answers.

It splits the rows, prepares and scales them on the training part, fits PCA,
:class:`AutoencoderTransformer` and :class:`DenoisingAutoencoderTransformer` at each
code size, and measures each on the held-out rows. The answer is a
:class:`~sk_autoencoder._report.Comparison`: a table, a verdict, plots and reports.

A memory-mapped array larger than :data:`IN_MEMORY_BYTES` is never loaded whole: its
rows are scaled chunk by chunk into two temporary files (training and held-out rows),
PCA is scikit-learn's ``IncrementalPCA`` fitted chunk by chunk, and the autoencoders
train on the memory-mapped training rows as ``fit`` always does.
"""

import contextlib
import tempfile
import time
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _data
from ._io.pages import memory_mapped, read_chunks, rows_per_chunk
from ._report import Comparison, machine

REDUCERS = ("PCA", "autoencoder", "denoising autoencoder")
DEFAULT_DIMS = (2, 4, 8, 16, 32)
# The denoising autoencoder trains on gaussian noise of this many standard deviations
# of each (standardized) feature.
TRAINING_NOISE = 0.5
# A memory-mapped array bigger than this (in float32) is prepared on disk, chunk by chunk.
IN_MEMORY_BYTES = 256 * 2**20
# Bytes of rows read, standardized or reconstructed at a time.
CHUNK_BYTES = 32 * 2**20
# The fewest rows each part of the split may have.
MIN_TEST_ROWS = 5
MIN_TRAIN_ROWS = 10
# Held-out rows timed by transform, and rows shown in the plots.
TIMED_ROWS = 10_000
PLOTTED_ROWS = 2_000
IMAGES_SHOWN = 8


def compare(
    X,
    y=None,
    *,
    dims=None,
    test_size=0.3,
    epochs=None,
    max_rows=None,
    image_shape=None,
    random_state=0,
    verbose=1,
):
    """Compare PCA with both autoencoders at several code sizes, on held-out rows.

    The rows are split at random into training and held-out parts. Everything is
    fitted on the training rows alone: the preparation of a table (text columns one-hot
    encoded, constant columns dropped), the standardization of every column, or of all
    pixels together for images (a missing value becomes the training mean), then, at
    each code size, ``PCA``,
    ``AutoencoderTransformer`` and ``DenoisingAutoencoderTransformer`` (gaussian noise
    of 0.5 standard deviations), both with default parameters. Each is measured on the
    held-out rows, as they are and corrupted with the denoiser's training noise (the
    error then against the clean rows); the plain autoencoder is judged by the first,
    the denoising one by the second.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        The data. A DataFrame may hold text and missing values; an array of more than
        two dimensions holds images, one per row (their shape is kept for the plots).
        A ``np.memmap`` is read chunk by chunk, never whole.
    y : array-like of shape (n_samples,), default=None
        Labels or a quantity to predict from the codes: the table then gives the
        held-out accuracy of a ``LogisticRegression`` (class labels: text, or at most
        20 distinct values) or the R^2 of a ``Ridge`` trained on the codes.
    dims : sequence of int, default=None
        The code sizes; each must be below the number of features. ``None``: those of
        2, 4, 8, 16 and 32 that are.
    test_size : float, default=0.3
        The fraction of rows held out.
    epochs : int, default=None
        The autoencoders' epoch budget; ``None`` keeps their default (200, stopping
        earlier when the loss stops falling).
    max_rows : int, default=None
        Compare on a random sample of this many rows (for a quick look at large data).
    image_shape : tuple of int, default=None
        The shape of one image, when the rows are flattened images; taken from ``X``
        when it has more than two dimensions.
    random_state : int, default=0
        Seeds the split, the sample and every reducer.
    verbose : int, default=1
        1 prints a line per fit; 0 prints nothing.

    Returns
    -------
    comparison : Comparison
        ``comparison.table`` (a DataFrame), ``comparison.verdict`` (a few sentences),
        ``plot_*`` methods returning matplotlib figures, ``write_markdown`` and
        ``write_html``. In a notebook it shows itself as the table.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import compare
    >>> X, y = load_digits(return_X_y=True)
    >>> result = compare(X, y, dims=[8], epochs=5, verbose=0)
    >>> list(result.table["reducer"])
    ['PCA', 'autoencoder', 'denoising autoencoder']
    >>> float(result.table.loc[0, "MSE / PCA's"])
    1.0
    """
    if isinstance(X, _data.Data):
        data = X
    else:
        data = _as_data(X, y, image_shape)
    return _Comparer(data, dims, test_size, epochs, max_rows, random_state, verbose).run()


def _as_data(X, y, image_shape):
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        data = _data.Data("data", X)
    else:
        X = np.asanyarray(X)
        if X.ndim < 2 or X.dtype.kind not in "biuf":
            raise ValueError(
                f"X must be numbers, one row per sample (2 dimensions, or more for images); "
                f"got a {X.ndim}-dimensional array of {X.dtype}."
            )
        data = _data.Data("data", X)
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must hold one value per row of X: got shape {y.shape} for {len(X)} rows."
            )
        data.y = y
    if image_shape is not None:
        data.image_shape = tuple(image_shape)
    return data


class _Comparer:
    """One comparison, step by step: check, sample, split, prepare, fit and measure."""

    def __init__(
        self,
        data,
        dims,
        test_size,
        epochs,
        max_rows,
        random_state,
        verbose,
        default_dims=DEFAULT_DIMS,
    ):
        self.data, self.notes = data, list(data.notes)
        self.test_size, self.epochs, self.max_rows = test_size, epochs, max_rows
        self.random_state, self.verbose = random_state, verbose
        self.rng = np.random.default_rng(random_state)
        self.table_preparation, self.scaler, self.on_disk = None, None, False
        X = data.X
        if not hasattr(X, "columns") and X.ndim > 2:
            data.image_shape = data.image_shape or tuple(X.shape[1:])
            data.X = X.reshape(len(X), -1)
        if hasattr(data.X, "columns"):
            self.table_preparation = _data.table_preparation(data.X)
            data.X = self.table_preparation.frame
            self.notes += self.table_preparation.notes
            self.n_features = self.table_preparation.n_features
        else:
            self.n_features = data.X.shape[1]
        if data.image_shape is not None and int(np.prod(data.image_shape)) != self.n_features:
            raise ValueError(
                f"image_shape {data.image_shape} holds {int(np.prod(data.image_shape))} "
                f"values, but the rows have {self.n_features} features."
            )
        self.dims = _checked_dims(dims, self.n_features, default_dims)
        # The rows of the data as given that the comparison still uses.
        self.kept = np.arange(len(data.X))
        self._drop_missing_labels()
        self._sample()
        self.n_test = round(self.test_size * len(self.data.X))
        self._check_rows()

    def run(self):
        """Fit and measure every reducer; return the :class:`Comparison`."""
        if self.epochs is not None:
            self.notes.append(f"The autoencoders' epoch budget is {self.epochs} (default 200).")
        started = time.perf_counter()
        train_rows, test_rows = self._split()
        with contextlib.ExitStack() as stack:
            X_train, X_test = self._prepare(train_rows, test_rows, stack)
            y_train, y_test = self._labels(train_rows, test_rows)
            measures = _Measures(self, X_train, X_test, y_train, y_test)
            records = measures.all()
        return Comparison(
            name=self.data.name,
            records=records,
            notes=self.notes,
            train_rows=self.kept[train_rows],
            test_rows=self.kept[test_rows],
            n_features=self.n_features,
            score_name=measures.score_name,
            baseline_score=measures.baseline_score,
            codes=measures.codes,
            code_labels=measures.code_labels,
            images=measures.images,
            image_shape=self.data.image_shape,
            reducers=measures.reducers,
            machine=machine(),
            seconds=time.perf_counter() - started,
        )

    def _drop_missing_labels(self):
        y = self.data.y
        if y is None:
            return
        missing = _is_missing(y)
        if missing.any():
            keep = np.flatnonzero(~missing)
            self.notes.append(f"Left out {int(missing.sum())} rows with no label.")
            self.data.y = y[keep]
            self.data.X = _rows(self.data.X, keep)
            self.kept = self.kept[keep]

    def _sample(self):
        n_rows = len(self.data.X)
        if self.max_rows is not None and n_rows > self.max_rows:
            keep = np.sort(self.rng.choice(n_rows, self.max_rows, replace=False))
            self.notes.append(
                f"Compared on a random sample of {self.max_rows:,} of {n_rows:,} rows."
            )
            self.data.X = _rows(self.data.X, keep)
            self.kept = self.kept[keep]
            if self.data.y is not None:
                self.data.y = self.data.y[keep]

    def _check_rows(self):
        n_rows, n_test = len(self.data.X), self.n_test
        n_train = n_rows - n_test
        needed = max(MIN_TRAIN_ROWS, max(self.dims) + 1)
        if n_test < MIN_TEST_ROWS or n_train < needed:
            raise ValueError(
                f"too few rows to compare: {n_rows} rows split into {n_train} training and "
                f"{n_test} held-out rows; at least {needed} and {MIN_TEST_ROWS} are needed."
            )

    def _split(self):
        order = self.rng.permutation(len(self.data.X))
        return np.sort(order[self.n_test :]), np.sort(order[: self.n_test])

    def _labels(self, train_rows, test_rows):
        if self.data.y is None:
            return None, None
        return self.data.y[train_rows], self.data.y[test_rows]

    def _new_scaler(self):
        """Images are scaled as a whole, other data column by column."""
        from sklearn.preprocessing import StandardScaler

        if self.data.image_shape is not None:
            self.notes.append(
                "Scaled the pixels by the training pixels' overall mean and standard "
                "deviation (one for all, so that images keep their contrast and a pixel "
                "that is almost always blank does not blow up)."
            )
            return _PixelScaler()
        if self.table_preparation is None:
            self.notes.append(f"Standardized each of the {self.n_features} columns.")
        return StandardScaler()

    def _prepare(self, train_rows, test_rows, stack):
        """Scaled float32 training and held-out rows, in memory or on disk."""
        X = self.data.X
        if self.table_preparation is not None:
            transformer = self.table_preparation.transformer.fit(X.iloc[train_rows])
            parts = [transformer.transform(X.iloc[rows]) for rows in (train_rows, test_rows)]
            parts = [np.asarray(part, dtype=np.float32) for part in parts]
            self.n_features = parts[0].shape[1]
        elif memory_mapped(X) and X.shape[0] * X.shape[1] * 4 > IN_MEMORY_BYTES:
            return self._prepare_on_disk(train_rows, test_rows, stack)
        else:
            parts = [np.asarray(X[rows], dtype=np.float32) for rows in (train_rows, test_rows)]
        for part in parts:
            _check_finite(part)
        self.scaler = self._new_scaler().fit(parts[0])
        return tuple(_standardized(self.scaler, part) for part in parts)

    def _prepare_on_disk(self, train_rows, test_rows, stack):
        X = self.data.X
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sk-autoencoder-")))
        self.scaler = self._new_scaler()
        for chunk in _row_chunks(X, train_rows):
            _check_finite(chunk)
            self.scaler.partial_fit(chunk)
        parts = []
        for name, rows in (("train", train_rows), ("test", test_rows)):
            path = folder / f"{name}.npy"
            chunks = _row_chunks(X, rows)
            standardized = (_standardized(self.scaler, _check_finite(chunk)) for chunk in chunks)
            _write_npy(path, (len(rows), X.shape[1]), standardized)
            parts.append(np.load(path, mmap_mode="r"))
        self.notes.append(
            f"Prepared the {len(X):,} rows chunk by chunk on disk, never loading them whole; "
            "PCA is IncrementalPCA, fitted chunk by chunk."
        )
        self.on_disk = True
        return tuple(parts)


class _Measures:
    """Each reducer at each code size, fitted and measured on the held-out rows."""

    def __init__(self, comparer, X_train, X_test, y_train, y_test):
        self.comparer = comparer
        self.X_train, self.X_test, self.y_train, self.y_test = X_train, X_test, y_train, y_test
        self.on_disk = comparer.on_disk
        self.classes = y_train is not None and _data.is_classification(y_train)
        self.score_name = None if y_train is None else ("accuracy" if self.classes else "R^2")
        self.baseline_score = None
        self.reducers, self.codes, self.images = {}, {}, None
        self.code_labels = None if y_test is None else y_test[:PLOTTED_ROWS]
        self.pca_mse, self.pca_denoising_mse = {}, {}
        # The held-out rows are also given corrupted as the denoiser's training rows are,
        # the same draw for every reducer.
        from ._inference import column_std

        seed = 0 if comparer.random_state is None else comparer.random_state
        self.noise = (TRAINING_NOISE * column_std(X_train), seed)

    def all(self):
        if self.y_train is not None and not self.on_disk:
            self.baseline_score = self._score(self.X_train, self.X_test)
        records, total = [], len(self.comparer.dims) * len(REDUCERS)
        for dim in self.comparer.dims:
            for name in REDUCERS:
                record = self.one(name, dim)
                records.append(record)
                if self.comparer.verbose:
                    print(_progress_line(len(records), total, record), flush=True)
        self._keep_images()
        return records

    def one(self, name, dim):
        reducer = self._reducer(name, dim)
        start = time.perf_counter()
        with warnings.catch_warnings():
            # An epoch budget that runs out shows in the table's epochs column.
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.on_disk and name == "PCA":
                for chunk in _row_chunks(self.X_train):
                    reducer.partial_fit(chunk)
            else:
                reducer.fit(self.X_train)
        fit_seconds = time.perf_counter() - start
        mse, denoising_mse, test_codes = _held_out(reducer, self.X_test, self.noise)
        if name == "PCA":
            self.pca_mse[dim], self.pca_denoising_mse[dim] = mse, denoising_mse
        record = {
            "encoding_dim": dim,
            "reducer": name,
            "mse": mse,
            "mse_to_pca": mse / self.pca_mse[dim],
            "denoising_mse": denoising_mse,
            "denoising_to_pca": denoising_mse / self.pca_denoising_mse[dim],
            "kept": _kept(reducer),
            "score": None,
            "fit_seconds": fit_seconds,
            "transform_ms_per_1000": self._transform_ms(reducer),
            "epochs": getattr(reducer, "n_iter_", None),
        }
        if self.y_train is not None:
            train_codes = _codes(reducer, self.X_train)
            record["score"] = self._score(train_codes, test_codes)
        if dim == self.comparer.dims[0]:
            self.codes[name] = test_codes[:PLOTTED_ROWS]
        self.reducers[name, dim] = reducer
        return record

    def _reducer(self, name, dim):
        from sklearn.decomposition import PCA, IncrementalPCA

        from ._estimators.denoising import DenoisingAutoencoderTransformer
        from ._estimators.transformer import AutoencoderTransformer

        seed = self.comparer.random_state
        if name == "PCA":
            return IncrementalPCA(dim) if self.on_disk else PCA(dim, random_state=seed)
        params = {"random_state": seed}
        if self.comparer.epochs is not None:
            params["epochs"] = self.comparer.epochs
        if name == "autoencoder":
            return AutoencoderTransformer(dim, **params)
        return DenoisingAutoencoderTransformer(
            dim, noise="gaussian", noise_level=TRAINING_NOISE, **params
        )

    def _transform_ms(self, reducer):
        rows = self.X_test[:TIMED_ROWS]
        reducer.transform(rows)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            reducer.transform(rows)
            times.append(time.perf_counter() - start)
        return 1e6 * sorted(times)[1] / len(rows)

    def _score(self, train_features, test_features):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = LogisticRegression(max_iter=1000) if self.classes else Ridge()
        pipeline = make_pipeline(StandardScaler(), model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(train_features, self.y_train)
        return float(pipeline.score(test_features, self.y_test))

    def _keep_images(self):
        """A few held-out images and their reconstructions at the middle code size."""
        shape = self.comparer.data.image_shape
        if shape is None:
            return
        dims = self.comparer.dims
        dim = dims[len(dims) // 2]
        rows = np.asarray(self.X_test[:IMAGES_SHOWN], dtype=np.float32)
        scaler = self.comparer.scaler
        images = {"original": scaler.inverse_transform(rows)}
        for name in REDUCERS:
            reducer = self.reducers[name, dim]
            images[name] = scaler.inverse_transform(
                reducer.inverse_transform(reducer.transform(rows))
            )
        self.images = {"encoding_dim": dim, "rows": images}


class _PixelScaler:
    """``StandardScaler``'s methods with one mean and one spread for all features."""

    def __init__(self):
        self._count, self._sum, self._squares = 0, 0.0, 0.0

    def partial_fit(self, X):
        finite = X[~np.isnan(X)].astype(np.float64)
        self._count += finite.size
        self._sum += float(finite.sum())
        self._squares += float(np.square(finite).sum())
        self.mean_ = self._sum / max(self._count, 1)
        variance = self._squares / max(self._count, 1) - self.mean_**2
        self.scale_ = float(np.sqrt(variance)) if variance > 0 else 1.0
        return self

    def fit(self, X):
        self._count, self._sum, self._squares = 0, 0.0, 0.0
        for _, chunk in read_chunks(X, rows_per_chunk(CHUNK_BYTES, 8 * X.shape[1])):
            self.partial_fit(chunk)
        return self

    def transform(self, X):
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def inverse_transform(self, X):
        return (np.asarray(X, dtype=np.float64) * self.scale_ + self.mean_).astype(np.float32)


def _checked_dims(dims, n_features, default_dims=DEFAULT_DIMS):
    """``dims`` checked against the features; None: those of ``default_dims`` below the
    number of features, or one less than it where none is."""
    if n_features < 2:
        raise ValueError(f"the data has {n_features} feature: there is nothing to reduce.")
    if dims is None:
        dims = [dim for dim in default_dims if dim < n_features] or [n_features - 1]
    dims = [dims] if isinstance(dims, Integral) else list(dims)
    if not dims:
        raise ValueError("dims is empty: give at least one code size.")
    for dim in dims:
        if not isinstance(dim, Integral) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"every code size in dims must be a positive integer; got {dim!r}.")
        if dim >= n_features:
            raise ValueError(
                f"code size {dim} is not below the number of features ({n_features}): "
                "a code that large reconstructs the data exactly, with no reduction to compare."
            )
    return sorted(set(int(dim) for dim in dims))


def _is_missing(y):
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        import pandas as pd

        return np.asarray(pd.isna(y), dtype=bool)
    return np.zeros(len(y), dtype=bool)


def _rows(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _row_chunks(X, rows=None):
    """``X[rows]`` (all rows when ``None``) as float32 chunks of :data:`CHUNK_BYTES`,
    each chunk's pages released from memory once the caller is done with it."""
    step = rows_per_chunk(CHUNK_BYTES, 4 * X.shape[1])
    for _, chunk in read_chunks(X, step, rows):
        yield np.asarray(chunk, dtype=np.float32)


def _write_npy(path, shape, chunks):
    """Write float32 ``chunks`` of rows into a new ``.npy`` file of ``shape``.

    Written through the file, not a writable memory map, whose pages would count in
    this process's memory until the kernel wrote them out.
    """
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False}
    with open(path, "wb") as file:
        np.lib.format.write_array_header_2_0(file, {**header, "shape": shape})
        for chunk in chunks:
            file.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())


def _check_finite(X):
    """``X``, unless it holds an infinite value (NaN stands for a missing one)."""
    if np.isinf(X).any():
        raise ValueError("X holds infinite values; compare can stand in for missing values only.")
    return X


def _standardized(scaler, X):
    """Standardized ``X``, each missing value (NaN) becoming its column's training mean."""
    X = scaler.transform(X).astype(np.float32, copy=False)
    return np.nan_to_num(X, copy=False, nan=0.0)


def _held_out(reducer, X, noise):
    """``(mse, denoising_mse, codes)`` of ``X``, chunk by chunk: the mean squared
    reconstruction error of its rows, of its rows corrupted by ``noise`` (each
    feature's standard deviation of gaussian noise, and a seed) against the clean rows,
    and the rows' codes."""
    scale, seed = noise
    total, denoising_total, codes = 0.0, 0.0, []
    for number, chunk in enumerate(_row_chunks(X)):
        chunk_codes = np.asarray(reducer.transform(chunk), dtype=np.float32)
        reconstruction = reducer.inverse_transform(chunk_codes)
        total += float(np.sum(np.square(chunk - reconstruction, dtype=np.float64)))
        codes.append(chunk_codes)
        # One float32 chunk more, corrupted in place.
        corrupted = np.random.default_rng([seed, number]).standard_normal(
            chunk.shape, dtype=np.float32
        )
        corrupted *= scale
        corrupted += chunk
        reconstruction = reducer.inverse_transform(reducer.transform(corrupted))
        denoising_total += float(np.sum(np.square(chunk - reconstruction, dtype=np.float64)))
    return total / X.size, denoising_total / X.size, np.concatenate(codes)


def _kept(reducer):
    """What an autoencoder ended as: "network", or "PCA" where no network was shown to
    beat PCA; None for PCA itself."""
    if not hasattr(reducer, "pca_kept_"):
        return None
    return "PCA" if reducer.pca_kept_ else "network"


def _codes(reducer, X):
    return np.concatenate([reducer.transform(chunk) for chunk in _row_chunks(X)])


def _progress_line(step, total, record):
    return (
        f"[{step}/{total}] encoding_dim={record['encoding_dim']} {record['reducer']}: "
        f"fit {record['fit_seconds']:.1f} s, held-out MSE {record['mse']:.4f} "
        f"({record['mse_to_pca']:.2f} x PCA's)"
    )
