"""What :func:`~sk_autoencoder.compare` returns: a table, a verdict, plots and reports.

The figures are drawn on ``matplotlib.figure.Figure`` objects, not through ``pyplot``:
they render with the Agg backend whatever backend is configured, need no screen, and
leave no global figure state behind.
"""

import base64
import contextlib
import html
import io
import os
import platform
import re
from pathlib import Path

import numpy as np

# Below this ratio to PCA's held-out error, a reducer beats PCA; above LOSES, it loses
# to PCA (a PCA kept by an autoencoder differs from scikit-learn's by rounding alone).
BEATS = 0.98
LOSES = 1.005
# The measure each reducer is judged by: what it is trained for.
JUDGED_BY = {"autoencoder": "MSE / PCA's", "denoising autoencoder": "denoising / PCA's"}
FIGURES = {
    "errors": "mse.png",
    "scores": "scores.png",
    "codes": "codes.png",
    "reconstructions": "reconstructions.png",
}


class Comparison:
    """The outcome of :func:`~sk_autoencoder.compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per reducer and code size: held-out MSE and its ratio to PCA's; the
        MSE from held-out rows corrupted with the denoiser's training noise, against
        the clean rows, and its ratio to PCA's; whether each autoencoder kept its
        network or PCA; the accuracy or R^2 of a simple model trained on the codes
        (when labels were given), fit time, transform time and the epochs trained.
    verdict : str
        The answer in a few sentences: where a reducer beats PCA (each judged by what
        it is trained for), every code size where one does worse, and how many are
        PCA itself.
    notes : list of str
        What was done to the data before the fits.
    train_rows, test_rows : ndarray of int
        The rows of the data as given that were fitted on and held out.
    n_train, n_test, n_features : int
        How many rows of each part, and the features after preparation.
    reducers : dict
        The fitted reducers, by ``(name, encoding_dim)``; they take the scaled rows.
    machine : str
        The CPU and the library versions the comparison ran with.
    seconds : float
        How long the comparison took: preparing the data, every fit and measure.
    """

    def __init__(
        self,
        *,
        name,
        records,
        notes,
        train_rows,
        test_rows,
        n_features,
        score_name,
        baseline_score,
        codes,
        code_labels,
        images,
        image_shape,
        reducers,
        machine="",
        seconds=None,
    ):
        import pandas as pd

        self.name, self.notes = name, notes
        self.train_rows, self.test_rows, self.n_features = train_rows, test_rows, n_features
        self.n_train, self.n_test = len(train_rows), len(test_rows)
        self.score_name, self.baseline_score = score_name, baseline_score
        self.reducers, self.machine, self.seconds = reducers, machine, seconds
        self._codes, self._code_labels = codes, code_labels
        self._images, self._image_shape = images, image_shape
        self._pngs = None
        columns = {
            "encoding_dim": "encoding_dim",
            "reducer": "reducer",
            "mse": "held-out MSE",
            "mse_to_pca": "MSE / PCA's",
            "denoising_mse": "denoising MSE",
            "denoising_to_pca": "denoising / PCA's",
            "kept": "kept",
            "score": score_name,
            "fit_seconds": "fit (s)",
            "transform_ms_per_1000": "transform (ms per 1,000 rows)",
            "epochs": "epochs",
        }
        table = pd.DataFrame(records)
        if score_name is None:
            table = table.drop(columns="score")
            del columns["score"]
        self.table = table.rename(columns=columns)[list(columns.values())]
        self.table["epochs"] = self.table["epochs"].astype("Int64")
        self.verdict = _verdict(self.table)

    def __repr__(self):
        return f"{_formatted(self.table).to_string(index=False)}\n\n{self.verdict}"

    def _repr_html_(self):
        return f"{self._table_html()}<p>{html.escape(self.verdict)}</p>"

    def plot_errors(self):
        """Held-out reconstruction error against the code size, one line per reducer."""
        return plot_against_dimension(
            self.table, "held-out MSE", "held-out reconstruction MSE", "Reconstruction error"
        )

    def plot_scores(self):
        """The codes' accuracy or R^2 against the code size; ``None`` without labels."""
        if self.score_name is None:
            return None
        reference = None
        if self.baseline_score is not None:
            reference = (f"all {self.n_features} features", self.baseline_score)
        return plot_against_dimension(
            self.table,
            self.score_name,
            f"held-out {self.score_name} of a model on the codes",
            "What the codes keep",
            reference=reference,
        )

    def plot_codes(self):
        """The held-out rows' first two code values at the smallest code size, by reducer."""
        from matplotlib.figure import Figure

        dim = int(self.table["encoding_dim"].min())
        if dim < 2:
            return None
        figure = Figure(figsize=(4 * len(self._codes), 3.8), layout="constrained")
        axes = figure.subplots(1, len(self._codes), squeeze=False)[0]
        labels = self._code_labels
        # Class labels get a colour each and a legend; a quantity, a colour scale.
        classes = labels is not None and self.score_name == "accuracy"
        for axis, (name, codes) in zip(axes, self._codes.items(), strict=True):
            if classes:
                names, which = np.unique(labels.astype(str), return_inverse=True)
                colours = _class_colours(len(names))
                for number, label in enumerate(names):
                    mine = codes[which == number]
                    axis.scatter(
                        mine[:, 0], mine[:, 1], s=6, alpha=0.8, color=colours[number], label=label
                    )
            else:
                colours = {} if labels is None else {"c": labels, "cmap": "viridis"}
                points = axis.scatter(codes[:, 0], codes[:, 1], s=6, alpha=0.8, **colours)
            # A few far-out codes would squash the rest into a corner.
            low, high = np.percentile(codes[:, :2], [1, 99], axis=0)
            margin = 0.1 * (high - low) + 1e-9
            axis.set_xlim(low[0] - margin[0], high[0] + margin[0])
            axis.set_ylim(low[1] - margin[1], high[1] + margin[1])
            axis.set_title(name, fontsize=10)
            axis.set_xlabel("code 1")
            axis.set_ylabel("code 2")
        if classes:
            axes[-1].legend(
                title="class", loc="center left", bbox_to_anchor=(1.02, 0.5), markerscale=2
            )
        elif labels is not None:
            figure.colorbar(points, ax=axes[-1], label="target")
        figure.suptitle(f"Held-out rows' codes, encoding dimension {dim}", fontsize=11)
        return figure

    def plot_reconstructions(self):
        """Held-out images and each reducer's reconstructions; ``None`` unless images."""
        if self._images is None:
            return None
        rows = self._images["rows"]
        low, high = np.min(rows["original"]), np.max(rows["original"])
        scale = high - low if high > low else 1.0
        return image_grid(
            [(label, (images - low) / scale) for label, images in rows.items()],
            self._image_shape,
            f"Held-out images, encoding dimension {self._images['encoding_dim']}",
        )

    def figures(self):
        """The figures that apply, by name: errors, scores, codes, reconstructions."""
        drawn = {
            "errors": self.plot_errors(),
            "scores": self.plot_scores(),
            "codes": self.plot_codes(),
            "reconstructions": self.plot_reconstructions(),
        }
        return {name: figure for name, figure in drawn.items() if figure is not None}

    def write_markdown(self, folder, *, command=None):
        """Write ``report.md``, its PNG plots and ``results.csv`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(folder / "results.csv", index=False)
        images = self._png_images()
        for name, png in images.items():
            (folder / FIGURES[name]).write_bytes(png)
        parts = [f"# {self._title()}", self._summary(command), f"**{self.verdict}**"]
        parts.append(_markdown_table(_formatted(self.table)))
        parts.append(self._explanation())
        parts += [f"![{name}]({FIGURES[name]})" for name in images]
        path = folder / "report.md"
        path.write_text("\n\n".join(parts) + "\n")
        return path

    def write_html(self, path, *, command=None):
        """Write a self-contained HTML report (plots embedded) to ``path``."""
        images = []
        for name, png in self._png_images().items():
            data = base64.b64encode(png).decode("ascii")
            images.append(
                f'<figure><img alt="{name}" src="data:image/png;base64,{data}"></figure>'
            )
        body = "\n".join(
            [
                f"<h1>{html.escape(self._title())}</h1>",
                f"<p>{_code_spans(html.escape(self._summary(command)))}</p>",
                f'<p class="verdict">{html.escape(self.verdict)}</p>',
                self._table_html(),
                f"<p>{html.escape(self._explanation())}</p>",
                *images,
            ]
        )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_HTML.format(title=html.escape(self._title()), body=body))
        return path

    def _png_images(self):
        """The figures as PNG bytes, by name, drawn once for both reports."""
        if self._pngs is None:
            self._pngs = {}
            for name, figure in self.figures().items():
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=110)
                self._pngs[name] = buffer.getvalue()
        return self._pngs

    def _title(self):
        return f"{self.name}: PCA against the autoencoders"

    def _summary(self, command):
        made = f"Made by `{command}`" if command else ""
        if self.machine:
            made += f" on {self.machine}" if made else f"Made on {self.machine}"
        if self.seconds is not None:
            made += f", in {self.seconds:.0f} s" if made else f"It took {self.seconds:.0f} s"
        made += ". " if made else ""
        notes = " ".join(self.notes)
        return (
            f"{made}{self.n_train:,} training and {self.n_test:,} held-out rows of "
            f"{self.n_features} features. {notes}".strip()
        )

    def _explanation(self):
        text = (
            "Held-out mean squared reconstruction error of the scaled rows, and its "
            "ratio to PCA's at the same code size (below 1: better than PCA). Denoising: "
            "the same error when the held-out rows are given with gaussian noise of 0.5 "
            "standard deviations of each feature (the denoising autoencoder's training "
            "noise), against the clean rows. The autoencoder is judged by the first, the "
            "denoising autoencoder by the second. Both have default parameters; 'kept' "
            "says whether each ended as its network or as PCA, which it keeps where its "
            "network is not shown to beat PCA on rows held out from its training. Fit "
            "time is the reducer's alone; transform time is per 1,000 held-out rows."
        )
        if self.score_name == "accuracy":
            text += " Accuracy: a LogisticRegression trained on the standardized codes."
        elif self.score_name is not None:
            text += " R^2: a Ridge regression trained on the standardized codes."
        if self.baseline_score is not None:
            text += f" On all {self.n_features} features it scores {self.baseline_score:.3f}."
        return text

    def _table_html(self):
        return _formatted(self.table).to_html(index=False)


def machine(backends=None):
    """The CPU, its cores available, and the versions that decide the figures; the
    Keras backend this process runs, or the ``backends`` named (for a run whose
    workers run others)."""
    import keras
    import sklearn

    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    backends = backends or [keras.backend.backend()]
    return (
        f"{model}, {cores} cores; Python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, keras {keras.__version__} "
        f"({', '.join(backends)} backend{'s' if len(backends) > 1 else ''})"
    )


def _code_spans(text):
    """Markdown's `code` as HTML's <code>code</code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _verdict(table):
    """What the table says, in a few sentences: where a reducer beats PCA, by how much and
    at what cost, and every code size where one loses to it.

    Each autoencoder is judged by what it is trained for (see :data:`JUDGED_BY`): the
    plain one by its held-out error, the denoising one by its error from corrupted
    held-out rows, each against PCA's from the same rows.
    """
    judged = table[table["reducer"].isin(list(JUDGED_BY))].copy()
    judged["ratio"] = [row[JUDGED_BY[row["reducer"]]] for _, row in judged.iterrows()]
    dims = [int(dim) for dim in sorted(table["encoding_dim"].unique())]
    wins, losses = judged[judged["ratio"] < BEATS], judged[judged["ratio"] > LOSES]
    sentences = []
    if wins.empty:
        sentences.append(
            f"No autoencoder beats PCA at any code size ({_listed(dims)})"
            + (": on this data, keep PCA." if losses.empty else ".")
        )
    else:
        won = sorted(int(dim) for dim in wins["encoding_dim"].unique())
        where = (
            "at every code size"
            if len(won) == len(dims)
            else f"at code size{'s' if len(won) > 1 else ''} {_listed(won)} of {_listed(dims)}"
        )
        top = wins.loc[wins["ratio"].idxmin()]
        dim = int(top["encoding_dim"])
        pca_fit = table[(table["reducer"] == "PCA") & (table["encoding_dim"] == dim)]["fit (s)"]
        sentences.append(
            f"A nonlinear reducer beats PCA {where}: at best the {top['reducer']} with "
            f"{dim} values, whose {_measure(top['reducer'])} is {top['ratio']:.2f} x "
            f"PCA's, for a fit of {top['fit (s)']:.2g} s against PCA's "
            f"{float(pca_fit.iloc[0]):.2g} s."
        )
    if not losses.empty:
        named = [
            f"the {row['reducer']} at code size {int(row['encoding_dim'])} "
            f"({_measure(row['reducer'])} {row['ratio']:.2f} x PCA's)"
            for _, row in losses.iterrows()
        ]
        sentences.append(f"PCA does better than {'; '.join(named)}.")
    if "kept" in judged and (judged["kept"] == "PCA").any():
        sentences.append(
            f"{int((judged['kept'] == 'PCA').sum())} of {len(judged)} autoencoders are PCA "
            "itself: their networks were not shown to beat it on rows held out from training."
        )
    return " ".join(sentences)


def _measure(reducer):
    """What a reducer is judged by, in words."""
    if reducer == "denoising autoencoder":
        return "error from noisy rows"
    return "held-out error"


def _listed(numbers):
    return ", ".join(str(number) for number in numbers)


def _class_colours(n_classes):
    """Distinct colours for ``n_classes`` classes, from matplotlib's qualitative maps."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return [palette(number % palette.N) for number in range(n_classes)]


def image_grid(rows, image_shape, title):
    """A Figure of images in [0, 1]: a row per ``(label, images)`` pair, a column per image."""
    from matplotlib.figure import Figure

    n_columns = max(len(images) for _, images in rows)
    figure = Figure(figsize=(0.9 * n_columns + 1.8, 0.9 * len(rows) + 0.5), layout="constrained")
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    for row_axes, (label, images) in zip(axes, rows, strict=True):
        for axis, image in zip(row_axes, np.clip(images, 0, 1), strict=False):
            axis.imshow(image.reshape(image_shape).squeeze(), cmap="gray_r", vmin=0, vmax=1)
        for axis in row_axes:
            axis.set_xticks([])
            axis.set_yticks([])
        row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    figure.suptitle(title, fontsize=10)
    return figure


def plot_against_dimension(table, column, ylabel, title, *, reference=None):
    """One line per reducer: ``column`` of ``table`` against ``encoding_dim``, a Figure.

    ``reference`` is an optional ``(label, value)`` drawn as a dashed horizontal line.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for reducer, rows in table.groupby("reducer", sort=False):
        axes.plot(rows["encoding_dim"], rows[column], marker="o", label=reducer)
    if reference is not None:
        label, value = reference
        axes.axhline(value, color="grey", linestyle="--", linewidth=1, label=label)
    dims = sorted(table["encoding_dim"].unique())
    if len(dims) > 1:
        axes.set_xscale("log", base=2)
    axes.set_xticks(dims, [str(dim) for dim in dims])
    axes.set_xlabel("encoding dimension")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


# How each column of the table is shown.
_FORMATS = {
    "held-out MSE": "{:.4f}",
    "MSE / PCA's": "{:.2f}",
    "denoising MSE": "{:.4f}",
    "denoising / PCA's": "{:.2f}",
    "accuracy": "{:.3f}",
    "R^2": "{:.3f}",
    "fit (s)": "{:.2f}",
    "transform (ms per 1,000 rows)": "{:.3g}",
}


def _formatted(table):
    """``table`` as text, each column in its own format, missing cells empty."""
    import pandas as pd

    shown = table.astype(object).where(table.notna(), "")
    for column, form in _FORMATS.items():
        if column in shown:
            shown[column] = [form.format(value) if value != "" else "" for value in shown[column]]
    return pd.DataFrame({column: shown[column].map(str) for column in shown})


def _markdown_table(table):
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }}
td {{ white-space: nowrap; }}
th {{ background: #f3f3f3; }}
.verdict {{ font-weight: bold; font-size: 1.1rem; }}
figure {{ margin: 1.5rem 0; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
