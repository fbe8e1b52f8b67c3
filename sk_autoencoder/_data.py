"""The data that :func:`~sk_autoencoder.compare` reads: files, built-in data sets, tables.

Nothing here imports Keras or TensorFlow, so that the command line can read and check
a file, and answer bad input, in a fraction of a second. A table (CSV, TSV, Parquet or
a DataFrame) becomes numbers through :func:`table_preparation`, fitted on the training
rows only; an array (``.npy``, read memory-mapped) is used as it is.
"""

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# The element types an IDX header may name (the third byte of its magic number).
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".tab": "TSV",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    ".npy": "npy",
}
BUILT_IN = ("digits", "fashion-mnist")
# A target with at most this many distinct values, or of text, is a class label;
# otherwise the codes are judged by regression.
MAX_CLASSES = 20
# A text column with more distinct values keeps the most frequent ones, the rest
# becoming one "infrequent" column.
MAX_CATEGORIES = 20


class DataError(ValueError):
    """Data that compare cannot use; the message names the problem in one line."""


@dataclass
class Data:
    """What compare works on, and what was done to get it.

    ``X`` is a DataFrame (a table, prepared later on the training rows) or an array of
    two or more dimensions (rows first; images keep their shape in ``image_shape``).
    """

    name: str
    X: object
    y: np.ndarray | None = None
    image_shape: tuple | None = None
    notes: list = field(default_factory=list)


class MissingDataError(DataError):
    """A built-in data set's files are not installed; the message says how to get them."""


def read_idx(path):
    """Read one IDX file (optionally gzipped) into an array of the shape its header gives."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            data = file.read()
    except Exception as error:  # a damaged gzip stream raises several kinds
        raise DataError(f"{path} cannot be read ({_first_line(error)}).") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: its magic number is {data[:4].hex()}.")
    dtype, n_dims = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=n_dims, offset=4))
    offset = 4 + 4 * n_dims
    expected = offset + dtype.itemsize * int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(
            f"{path} holds {len(data)} bytes; its header, shape {shape}, promises {expected}."
        )
    return np.frombuffer(data, dtype, offset=offset).reshape(shape)


def fashion_mnist_arrays(data_dir=FASHION_MNIST_DIR):
    """Fashion-MNIST's four arrays, by the keys of :data:`FASHION_MNIST_FILES`."""
    data_dir = Path(data_dir)
    missing = [name for name in FASHION_MNIST_FILES.values() if not (data_dir / name).is_file()]
    if missing:
        raise MissingDataError(
            f"Fashion-MNIST is not in {data_dir} (missing {', '.join(missing)}): install it "
            f"with `apt-get install dataset-fashion-mnist`, which puts it in "
            f"{FASHION_MNIST_DIR}, or pass the folder of its four IDX .gz files as --data-dir."
        )
    return {key: read_idx(data_dir / name) for key, name in FASHION_MNIST_FILES.items()}


def built_in(name, data_dir=FASHION_MNIST_DIR):
    """A built-in data set, whole (compare makes its own split)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        note = "scikit-learn's load_digits: 1,797 images of 8 x 8 pixels, labelled 0 to 9."
        return Data("digits", bunch.data, bunch.target, image_shape=(8, 8), notes=[note])
    arrays = fashion_mnist_arrays(data_dir)
    X = np.concatenate([arrays["X_train"], arrays["X_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    note = (
        f"Fashion-MNIST from {data_dir}: its {len(X):,} training and test images of 28 x 28 "
        "pixels together, labelled 0 to 9."
    )
    return Data("fashion-mnist", X, y, image_shape=X.shape[1:], notes=[note])


def read(source, *, target=None, data_dir=FASHION_MNIST_DIR):
    """Read ``source``, a file or a built-in data set's name, into :class:`Data`.

    Raises :class:`DataError` naming the problem: a missing or unreadable file, an
    unknown format, a target that is no column.
    """
    if str(source) in BUILT_IN and not Path(source).exists():
        if target is not None:
            raise DataError(f"--target is for tables; {source} comes with its own labels.")
        return built_in(str(source), data_dir)
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file (nor a built-in data set: {', '.join(BUILT_IN)}).")
    if not path.is_file():
        raise DataError(f"{path} is not a file.")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{path}: unknown format {path.suffix or '(no extension)'!r}; "
            f"compare reads {', '.join(sorted(FORMATS))}."
        )
    if kind == "npy":
        if target is not None:
            raise DataError(f"{path}: --target names a column, and an .npy array has none.")
        return Data(path.stem, _read_npy(path))
    frame = _read_table(path, kind)
    y = None
    if target is not None:
        frame, y = split_target(frame, target)
    return Data(path.stem, frame, y)


def _read_npy(path):
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:  # a damaged header raises SyntaxError, TokenError, ...
        raise DataError(f"{path} is not a readable .npy array ({_first_line(error)}).") from None
    if X.ndim < 2 or X.dtype.kind not in "biuf":
        raise DataError(
            f"{path} holds a {X.ndim}-dimensional {X.dtype} array; compare needs numbers "
            "with one row per sample: 2 dimensions, or more for images."
        )
    return X


def _read_table(path, kind):
    import pandas as pd

    try:
        if kind == "Parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "TSV" else ",")
    except ImportError as error:
        raise DataError(
            f"{path}: reading {kind} needs {error.name} (pip install pyarrow)."
        ) from None
    except Exception as error:  # pandas and pyarrow raise many kinds
        raise DataError(f"{path} is not a readable {kind} file ({_first_line(error)}).") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataError(f"{path} holds no data ({frame.shape[0]} rows, {frame.shape[1]} columns).")
    return frame


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def split_target(frame, target):
    """``frame`` without the column ``target``, and that column as labels."""
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:10]))
        more = ", ..." if frame.shape[1] > 10 else ""
        raise DataError(f"no column named {target!r}; the columns are {columns}{more}.")
    return frame.drop(columns=[target]), frame[target].to_numpy()


def is_classification(y):
    """Whether labels ``y`` name classes (text, or few distinct values) or are a quantity."""
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        return True
    return len(np.unique(y)) <= MAX_CLASSES


@dataclass
class TablePreparation:
    """How a table becomes numbers, decided from the whole table, fitted on training rows.

    ``transformer`` is an unfitted scikit-learn ``ColumnTransformer``: numeric columns
    pass through (their missing values stay missing until scaling replaces them with
    the training mean), text columns are one-hot encoded, a missing text value being a
    category of its own. ``frame`` is the table as the transformer reads it (see
    :func:`as_table_input`). ``notes`` say what was done, in sentences.
    """

    transformer: object
    frame: object
    n_features: int
    notes: list


def table_preparation(frame):
    """Decide how ``frame`` becomes numbers; raise :class:`DataError` if nothing is usable."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    notes, numeric, text, dropped, identifiers = [], [], [], [], []
    for name in frame.columns:
        column = frame[name]
        distinct = column.nunique(dropna=True)
        if distinct <= 1:
            dropped.append(name)
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(column):
            identifiers.append(name)
        elif distinct == column.notna().sum() and distinct > MAX_CATEGORIES:
            identifiers.append(name)  # a different value in every row: a name, an id
        else:
            text.append(name)
    if not numeric and not text:
        raise DataError(
            f"no usable column: of {frame.shape[1]}, {len(dropped)} are constant or empty "
            f"and {len(identifiers)} are identifiers or dates."
        )
    if dropped:
        notes.append(
            f"Dropped {_counted(len(dropped), 'constant or empty column')}: {_names(dropped)}."
        )
    if identifiers:
        notes.append(
            f"Left out {_counted(len(identifiers), 'column')} of dates or of a different "
            f"text in every row: {_names(identifiers)}."
        )
    if numeric:
        notes.append(f"Standardized {_counted(len(numeric), 'numeric column')}.")
    if text:
        notes.append(
            f"One-hot encoded {_counted(len(text), 'text column')} ({_names(text)}), keeping "
            f"each one's {MAX_CATEGORIES} most frequent values at most, then standardized "
            "the indicators."
        )
    notes += _missing_notes(frame, numeric, text)
    encode = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MAX_CATEGORIES,
            sparse_output=False,
            dtype=np.float32,
        ),
    )
    transformer = ColumnTransformer(
        [("numeric", "passthrough", numeric), ("text", encode, text)],
        sparse_threshold=0,
    )
    frame = as_table_input(frame)
    n_features = len(numeric)
    if text:
        n_features += encode.fit(frame[text]).transform(frame[text].iloc[:1]).shape[1]
    return TablePreparation(transformer, frame, n_features, notes)


def as_table_input(frame):
    """``frame`` as the preparation reads it: numbers as float64 (missing ones NaN), text as
    Python objects (missing ones ``None``)."""
    import pandas as pd

    columns = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns[name] = column.astype("float64")
        else:
            columns[name] = column.astype(object).where(column.notna(), None)
    return pd.DataFrame(columns, index=frame.index)


def _missing_notes(frame, numeric, text):
    """What becomes of missing values: a sentence for numeric and one for text columns."""

    def missing(columns):
        counts = {name: int(frame[name].isna().sum()) for name in columns}
        counts = {name: count for name, count in counts.items() if count}
        described = ", ".join(f"{name} ({count})" for name, count in counts.items())
        return sum(counts.values()), described

    notes = []
    count, described = missing(numeric)
    if count:
        notes.append(
            f"Replaced {_counted(count, 'missing numeric value')} by the column's mean on "
            f"the training rows: {described}."
        )
    count, described = missing(text)
    if count:
        notes.append(
            f"Gave {_counted(count, 'missing text value')} a category of their own: {described}."
        )
    return notes


def _counted(count, noun):
    """``count`` and ``noun``, plural but for one: "1 column", "3 columns"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _names(names, shown=5):
    names = [str(name) for name in names]
    return ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
