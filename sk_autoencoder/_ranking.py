"""The rows of a file ranked by how badly an autoencoder reconstructs them: what
``sk-autoencoder outliers`` computes, prints and writes."""

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _data
from ._report import _HTML, _code_spans, _markdown_table, machine

# Without --dim, the code holds this share of the variance, as PCA's components would.
VARIANCE_KEPT = 0.9
# Fewer rows than this are too few to tell what is typical.
MIN_ROWS = 10
# The features named for each of the top rows: those its reconstruction misses most.
FEATURES_SHOWN = 3


@dataclass
class Ranking:
    """Every row's outlier score and label, with what explains the top ones.

    ``scores`` are the detector's ``score_samples`` (lower is more outlying) and
    ``labels`` its ``predict`` (-1 for outliers); ``worst_features`` holds, for each of
    the ``top`` rows (most outlying first), the features with the largest squared
    reconstruction errors. ``against`` holds, where labels were given, each method's
    ROC AUC and average precision.
    """

    name: str
    scores: np.ndarray
    labels: np.ndarray
    offset: float
    top: np.ndarray
    worst_features: list
    notes: list
    against: dict = field(default_factory=dict)
    seconds: float | None = None
    machine: str = ""

    def top_table(self):
        """The top rows as a DataFrame: row, score, label, worst features."""
        import pandas as pd

        return pd.DataFrame(
            {
                "row": [str(row) for row in self.top],
                "score": [f"{self.scores[row]:.4g}" for row in self.top],
                "outlier": ["yes" if self.labels[row] == -1 else "no" for row in self.top],
                "largest errors": [
                    ", ".join(f"{name} ({error:.3g})" for name, error in features)
                    for features in self.worst_features
                ],
            }
        )

    def against_table(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {"method": method, "ROC AUC": f"{auc:.4f}", "average precision": f"{ap:.4f}"}
                for method, (auc, ap) in self.against.items()
            ]
        )

    def summary(self, command=None):
        flagged = int(np.sum(self.labels == -1))
        made = (
            f"Made by `{command}` on {self.machine}, in {self.seconds:.0f} s. " if command else ""
        )
        return (
            f"{made}{len(self.scores):,} rows; {flagged:,} ({flagged / len(self.scores):.1%}) "
            f"flagged as outliers, those whose score is below {self.offset:.4g}. The score is "
            "minus the sum of the row's mean squared reconstruction error (of its scaled "
            "features) and its code's squared Mahalanobis distance from the codes of all the "
            "rows, each in units of its median over the rows. " + " ".join(self.notes)
        )

    def __repr__(self):
        lines = [self.summary(), "", self.top_table().to_string(index=False)]
        if self.against:
            lines += ["", self.against_table().to_string(index=False)]
        return "\n".join(lines)

    def write(self, folder, *, command):
        """Write ``scores.csv``, ``histogram.png``, ``report.md`` and ``report.html``."""
        import pandas as pd

        folder = Path(folder)
        pd.DataFrame(
            {
                "row": np.arange(len(self.scores)),
                "score": self.scores,
                "outlier": self.labels == -1,
            }
        ).to_csv(folder / "scores.csv", index=False)
        png = self._histogram_png()
        (folder / "histogram.png").write_bytes(png)
        title = f"{self.name}: rows ranked by an autoencoder's outlier score"
        parts = [f"# {title}", self.summary(command), "## The most outlying rows"]
        parts += [_markdown_table(self.top_table())]
        if self.against:
            parts += ["## Against the labels", _markdown_table(self.against_table())]
        parts += ["![histogram](histogram.png)"]
        (folder / "report.md").write_text("\n\n".join(parts) + "\n")
        image = base64.b64encode(png).decode("ascii")
        body = [
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{_code_spans(html.escape(self.summary(command)))}</p>",
            "<h2>The most outlying rows</h2>",
            self.top_table().to_html(index=False),
        ]
        if self.against:
            body += ["<h2>Against the labels</h2>", self.against_table().to_html(index=False)]
        body.append(f'<figure><img alt="histogram" src="data:image/png;base64,{image}"></figure>')
        (folder / "report.html").write_text(
            _HTML.format(title=html.escape(title), body="\n".join(body))
        )

    def _histogram_png(self):
        from matplotlib.figure import Figure

        figure = Figure(figsize=(7, 3.5), layout="constrained")
        axes = figure.add_subplot()
        axes.hist(self.scores, bins=min(100, max(10, len(self.scores) // 20)), color="#4477aa")
        axes.axvline(self.offset, color="#cc3311", label="threshold (offset_)")
        axes.set(xlabel="score (higher is more normal)", ylabel="rows", yscale="log")
        axes.legend()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


@dataclass
class Rows:
    """A file's rows ready to rank: scaled float32 numbers ``X``, the names of its
    features, the notes that say how it was prepared, and where labels were given, which
    rows are known outliers."""

    name: str
    X: np.ndarray
    feature_names: list
    notes: list
    is_outlier: np.ndarray | None = None


def prepared(data):
    """The :class:`Rows` of ``data``, prepared as ``compare`` prepares rows but on every
    row (there is no held-out part); raise ``DataError`` where it cannot be used. Loads
    no Keras: the command answers bad data before the backend starts."""
    from sklearn.preprocessing import StandardScaler

    notes = list(data.notes)
    if hasattr(data.X, "columns"):
        preparation = _data.table_preparation(data.X)
        transformer = preparation.transformer.fit(preparation.frame)
        X = np.asarray(transformer.transform(preparation.frame), dtype=np.float32)
        names = [name.split("__", 1)[-1] for name in transformer.get_feature_names_out()]
        notes += preparation.notes
    else:
        X = np.asarray(data.X, dtype=np.float32).reshape(len(data.X), -1)
        names = [f"x{number}" for number in range(X.shape[1])]
    if not np.all(np.isfinite(X) | np.isnan(X)):
        raise _data.DataError("the data holds infinite values; missing ones are fine.")
    if data.image_shape is not None:
        mean, std = np.nanmean(X), np.nanstd(X)
        X = (X - mean) / (std if std > 0 else 1)
        notes.append("Scaled the pixels by their overall mean and standard deviation.")
    else:
        X = StandardScaler().fit_transform(X)
        if not hasattr(data.X, "columns"):
            notes.append(f"Standardized each of the {X.shape[1]} columns.")
    X = np.nan_to_num(X.astype(np.float32), nan=0.0)
    if X.shape[0] < MIN_ROWS:
        raise _data.DataError(f"too few rows to rank: {X.shape[0]} rows (at least {MIN_ROWS}).")
    if X.shape[1] < 2:
        raise _data.DataError("a single feature: there is nothing to reconstruct it from.")
    rows = Rows(data.name, X, names, notes)
    if data.y is not None:
        rows.is_outlier, value = outlier_labels(data.y)
        notes.append(f"The label's rarer value, {value!r}, marks the outliers.")
    return rows


def outlier_labels(y):
    """``(is_outlier, value)``: labels of two values, the rarer one marking outliers."""
    values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    if len(values) != 2:
        raise _data.DataError(
            f"--label needs a column of two values (the rarer marks outliers); it holds "
            f"{len(values)}."
        )
    rarer = str(values[np.argmin(counts)])
    return np.asarray(y).astype(str) == rarer, rarer


def rank(rows, *, encoding_dim, contamination, epochs, random_state, top):
    """The :class:`Ranking` of prepared :class:`Rows`."""
    from ._estimators.outliers import AutoencoderOutlierDetector
    from ._inference import forward, forward_function

    start = time.perf_counter()
    X, names, notes, is_outlier = rows.X, rows.feature_names, list(rows.notes), rows.is_outlier
    encoding_dim = _code_size(X) if encoding_dim is None else encoding_dim
    encoding_dim = min(encoding_dim, max(1, X.shape[1] - 1))
    params = {} if epochs is None else {"epochs": epochs}
    detector = AutoencoderOutlierDetector(
        encoding_dim, contamination=contamination, random_state=random_state, **params
    ).fit(X)
    scores, labels = detector.score_samples(X), detector.predict(X)
    order = np.argsort(scores, kind="stable")[:top]
    reconstructed = forward(
        forward_function(detector.decoder_), forward(forward_function(detector.encoder_), X[order])
    )
    errors = np.square(X[order] - reconstructed)
    worst = [
        [
            (names[column], float(row_errors[column]))
            for column in np.argsort(-row_errors)[:FEATURES_SHOWN]
        ]
        for row_errors in errors
    ]
    kept = (
        "PCA (its network was not shown to reconstruct better)"
        if detector.pca_kept_
        else "its network"
    )
    notes.append(
        f"AutoencoderOutlierDetector({encoding_dim}, contamination={contamination!r}) kept {kept}."
    )
    against = {}
    if is_outlier is not None:
        against = _against(X, is_outlier, scores, encoding_dim, random_state)
    return Ranking(
        name=rows.name,
        scores=scores,
        labels=labels,
        offset=float(detector.offset_),
        top=order,
        worst_features=worst,
        notes=notes,
        against=against,
        seconds=time.perf_counter() - start,
        machine=machine(),
    )


def _code_size(X):
    """The fewest principal components that hold :data:`VARIANCE_KEPT` of ``X``'s variance."""
    from sklearn.decomposition import PCA

    pca = PCA(min(X.shape) - 1 if min(X.shape) > 1 else 1, svd_solver="full").fit(X)
    held = np.cumsum(pca.explained_variance_ratio_)
    return int(np.searchsorted(held, VARIANCE_KEPT) + 1)


def _against(X, is_outlier, scores, encoding_dim, random_state):
    """ROC AUC and average precision of the autoencoder, IsolationForest and PCA's
    reconstruction error, each trained on every row, against the labels."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ._start import pca_reconstruction_errors

    pca = PCA(encoding_dim).fit(X)
    pca_errors = pca_reconstruction_errors((pca.mean_, pca.components_), X, X)
    forest = IsolationForest(random_state=random_state).fit(X)
    outlyingness = {
        "autoencoder": -scores,
        "IsolationForest": -forest.score_samples(X),
        "PCA reconstruction error": pca_errors,
    }
    return {
        method: (roc_auc_score(is_outlier, values), average_precision_score(is_outlier, values))
        for method, values in outlyingness.items()
    }
