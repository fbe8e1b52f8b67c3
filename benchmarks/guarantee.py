"""The guarantee against PCA, on a panel of real data sets, beside the previous release.

Run ``python -m benchmarks.guarantee``. On every case of the panel (a data set of
:mod:`benchmarks._panel` and a code size), each backend in processes of its own fits
``PCA(d)``, ``AutoencoderTransformer(d, random_state=0)`` and
``DenoisingAutoencoderTransformer(d, random_state=0)`` on the training rows and
measures them on the held-out rows:

- the autoencoder's held-out MSE over PCA's;
- the denoiser's, from held-out rows corrupted with its own training noise (gaussian,
  0.1 standard deviations of each training feature, one draw), against the clean
  rows, over PCA's from the same corrupted rows; and its clean held-out MSE over PCA's.

The previous release (``--previous``, a git revision) runs in a process of its own beside
each backend's, case by case in turn, so that fit times are compared side by side.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from ._report import machine, write_report

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {"TensorFlow": "tensorflow", "JAX": "jax"}
# The release before the guarantee was made sound.
PREVIOUS = "cc02693"
# The denoiser's default training noise, which its held-out rows are corrupted with.
NOISE_LEVEL = 0.1

# The guarantee's bars, held on every case of each backend.
MAX_RATIO = 1.02
# Above this, a ratio counts as a loss to PCA: the PCA candidate's own reconstruction
# differs from scikit-learn's by float32 rounding.
LOSS_RATIO = 1.0 + 1e-4
MAX_LOSS_SHARE = 0.1
DIGITS_BAR = 0.45
WIN_BEFORE = 0.9
WIN_RISE = 0.05
LARGE_ROWS = 1_000
COST_BAR = 1.5
# Small cases of scikit-learn's own data, for the tests.
QUICK_CASES = [("linnerud", 2), ("iris", 2), ("wine", 4)]


def measure(name, dim):
    """Fit the three reducers on one case in this process; return its figures."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning

    from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

    from ._panel import split

    X_train, X_test = split(name)
    noise = np.random.default_rng(0).standard_normal(X_test.shape)
    X_noisy = (X_test + NOISE_LEVEL * X_train.std(axis=0) * noise).astype(np.float32)

    def mse(reducer, X):
        reconstruction = reducer.inverse_transform(reducer.transform(X))
        return float(np.mean(np.square(X_test - reconstruction, dtype=np.float64)))

    pca = PCA(dim).fit(X_train)
    figures = {"rows": len(X_train), "features": X_train.shape[1]}
    figures["pca_mse"], figures["pca_noisy_mse"] = mse(pca, X_test), mse(pca, X_noisy)
    reducers = {
        "ae": AutoencoderTransformer(dim, random_state=0),
        "denoiser": DenoisingAutoencoderTransformer(dim, random_state=0),
    }
    for key, reducer in reducers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            reducer.fit(X_train)
            figures[f"{key}_fit_s"] = time.perf_counter() - start
        figures[f"{key}_ratio"] = mse(reducer, X_test) / figures["pca_mse"]
        figures[f"{key}_noisy_ratio"] = mse(reducer, X_noisy) / figures["pca_noisy_mse"]
        figures[f"{key}_epochs"] = reducer.n_iter_
        figures[f"{key}_pca_kept"] = getattr(reducer, "pca_kept_", None)
    return figures


def work():
    """A worker: one ``name dim`` case a line on stdin, one JSON line on stdout."""
    import sk_autoencoder

    print(json.dumps({"package": sk_autoencoder.__file__}), flush=True)
    for line in sys.stdin:
        name, dim = line.split()
        try:
            figures = measure(name, int(dim))
        except Exception as error:  # reported in the table, not a crash of the driver
            figures = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(figures), flush=True)


class Worker:
    """A worker process on one backend, with the package found first in ``tree``."""

    def __init__(self, backend, tree):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.guarantee", "--worker"],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.package = json.loads(self.process.stdout.readline())["package"]

    def run(self, name, dim):
        self.process.stdin.write(f"{name} {dim}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


@contextlib.contextmanager
def previous_tree(revision):
    """A folder holding the package at ``revision`` beside these benchmarks."""
    with tempfile.TemporaryDirectory(prefix="sk-autoencoder-previous-") as folder:
        archive = subprocess.run(
            ["git", "archive", revision, "sk_autoencoder"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        shutil.copytree(ROOT / "benchmarks", Path(folder) / "benchmarks")
        yield folder


def run_backend(backend, cases, previous):
    """``(new, previous)`` figures of each case on one backend; previous may be None."""
    from ._panel import MissingDataError  # noqa: F401  (the worker reports it)

    new_worker = Worker(backend, ROOT)
    old_worker = None if previous is None else Worker(backend, previous)
    new, old = [], []
    try:
        for index, (name, dim) in enumerate(cases):
            # Alternate which goes first, so that neither always follows the other.
            if old_worker is not None and index % 2:
                old.append(old_worker.run(name, dim))
            new.append(new_worker.run(name, dim))
            if old_worker is not None and not index % 2:
                old.append(old_worker.run(name, dim))
            print(f"{backend} {name} d={dim}: {_line(new[-1], old[-1] if old else None)}")
    finally:
        new_worker.close()
        if old_worker is not None:
            old_worker.close()
    return new, old or [None] * len(new)


def _line(new, old):
    if "error" in new:
        return new["error"]
    text = f"autoencoder {new['ae_ratio']:.3f}, denoiser {new['denoiser_noisy_ratio']:.3f}"
    if old and "error" not in old:
        text += f" (previously {old['ae_ratio']:.3f}, {old['denoiser_noisy_ratio']:.3f})"
    return text


def _cell(figures, key, form="{:.3f}"):
    if figures is None or "error" in figures or figures.get(key) is None:
        return ""
    return form.format(figures[key])


def case_rows(cases, new, old):
    from ._panel import BY_NAME

    rows = []
    for (name, dim), now, before in zip(cases, new, old, strict=True):
        if "error" in now:
            rows.append([name, BY_NAME[name].kind, "", "", dim, now["error"], *[""] * 10])
            continue
        cost = ""
        if before is not None and "error" not in before:
            cost = f"{now['ae_fit_s'] / before['ae_fit_s']:.2f}"
        rows.append(
            [
                name,
                BY_NAME[name].kind,
                now["rows"],
                now["features"],
                dim,
                f"{now['pca_mse']:.4g}",
                _cell(before, "ae_ratio"),
                _cell(now, "ae_ratio"),
                "yes" if now["ae_pca_kept"] else "no",
                _cell(before, "denoiser_noisy_ratio"),
                _cell(now, "denoiser_noisy_ratio"),
                _cell(before, "denoiser_ratio"),
                _cell(now, "denoiser_ratio"),
                _cell(before, "ae_fit_s", "{:.2f}"),
                _cell(now, "ae_fit_s", "{:.2f}"),
                cost,
            ]
        )
    return rows


BARS_TEXT = (
    "Every case of the panel, against the guarantee's bars: the autoencoder's held-out MSE "
    f"over PCA's at most {MAX_RATIO} and above 1.00 (by more than float32 rounding) in "
    f"at most {MAX_LOSS_SHARE:.0%} of the cases; the denoiser's MSE from corrupted "
    f"held-out rows over PCA's from the same rows at most {MAX_RATIO}; the wins kept; "
    "the autoencoder's fit time over the previous release's, the cases of each size "
    "together."
)
CASES_TEXT = (
    "Held-out ratios to PCA, previous release and now. 'PCA kept': the autoencoder was "
    "not shown to beat PCA on rows held out from its training, and is PCA of its "
    "training rows. Fit times are the autoencoder's, one fit each, the two releases run "
    "one after the other."
)

CASE_HEADER = [
    "data set",
    "kind",
    "training rows",
    "features",
    "d",
    "PCA's held-out MSE",
    "autoencoder / PCA, previous",
    "autoencoder / PCA",
    "PCA kept",
    "denoiser / PCA from noisy rows, previous",
    "denoiser / PCA from noisy rows",
    "denoiser / PCA, clean rows, previous",
    "denoiser / PCA, clean rows",
    "autoencoder fit (s), previous",
    "autoencoder fit (s)",
    "fit time / previous",
]


def bars(cases, new, old):
    """The guarantee's bars on one backend: ``[(what, figure, bar, met)]``."""
    done = [(case, now, before) for case, now, before in zip(cases, new, old, strict=True)]
    done = [(case, now, before) for case, now, before in done if "error" not in now]
    ratios = [now["ae_ratio"] for _, now, _ in done]
    noisy = [now["denoiser_noisy_ratio"] for _, now, _ in done]
    losses = sum(ratio > LOSS_RATIO for ratio in ratios)
    result = [
        ("cases measured", f"{len(done)} of {len(cases)}", "every case", len(done) == len(cases)),
        (
            "largest autoencoder / PCA",
            f"{max(ratios):.3f}",
            f"at most {MAX_RATIO}",
            max(ratios) <= MAX_RATIO,
        ),
        (
            "cases with autoencoder / PCA above 1.00",
            f"{losses} of {len(ratios)}",
            f"at most {MAX_LOSS_SHARE:.0%}",
            losses <= MAX_LOSS_SHARE * len(ratios),
        ),
        (
            "largest denoiser / PCA from noisy rows",
            f"{max(noisy):.3f}",
            f"at most {MAX_RATIO}",
            max(noisy) <= MAX_RATIO,
        ),
    ]
    digits = [now["ae_ratio"] for (name, dim), now, _ in done if (name, dim) == ("digits", 8)]
    if digits:
        result.append(
            ("digits, d=8", f"{digits[0]:.3f}", f"at most {DIGITS_BAR}", digits[0] <= DIGITS_BAR)
        )
    compared = [(now, before) for _, now, before in done if before and "error" not in before]
    wins = [(now, before) for now, before in compared if before["ae_ratio"] < WIN_BEFORE]
    if wins:
        rise = statistics.mean(now["ae_ratio"] - before["ae_ratio"] for now, before in wins)
        result.append(
            (
                f"mean rise of the {len(wins)} cases previously below {WIN_BEFORE}",
                f"{rise:+.3f}",
                f"at most {WIN_RISE}",
                rise <= WIN_RISE,
            )
        )
    sizes = (
        (f"over {LARGE_ROWS:,} rows", lambda rows: rows > LARGE_ROWS, COST_BAR),
        (f"of at most {LARGE_ROWS:,} rows", lambda rows: rows <= LARGE_ROWS, None),
    )
    for words, of_size, bar in sizes:
        pairs = [(now, before) for now, before in compared if of_size(now["rows"])]
        if not pairs:
            continue
        cost = sum(now["ae_fit_s"] for now, _ in pairs) / sum(
            before["ae_fit_s"] for _, before in pairs
        )
        result.append(
            (
                f"autoencoder fit time / previous, the {len(pairs)} cases {words} together",
                f"{cost:.2f}",
                "stated" if bar is None else f"at most {bar}",
                bar is None or cost <= bar,
            )
        )
    return [(what, figure, bar, "yes" if met else "no") for what, figure, bar, met in result]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.guarantee", description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/guarantee", help="results folder")
    parser.add_argument(
        "--previous",
        default=PREVIOUS,
        help="git revision of the previous release, or 'none' (default: %(default)s)",
    )
    parser.add_argument("--backends", nargs="+", choices=list(BACKENDS.values()))
    parser.add_argument("--sets", nargs="+", metavar="NAME", help="only these data sets")
    parser.add_argument("--quick", action="store_true", help="three small cases, for the tests")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        warnings.simplefilter("ignore")
        work()
        return
    from ._panel import PANEL, cases

    panel_cases = QUICK_CASES if args.quick else cases()
    if args.sets:
        panel_cases = [(name, dim) for name, dim in panel_cases if name in args.sets]
    backends = {
        name: backend
        for name, backend in BACKENDS.items()
        if args.backends is None or backend in args.backends
    }
    started = time.perf_counter()
    sections = []
    with contextlib.ExitStack() as stack:
        previous = None
        if args.previous != "none":
            previous = stack.enter_context(previous_tree(args.previous))
        for title, backend in backends.items():
            new, old = run_backend(backend, panel_cases, previous)
            sections.append(
                (
                    f"{title}: the bars",
                    BARS_TEXT,
                    ["measure", "figure", "bar", "met"],
                    bars(panel_cases, new, old),
                    f"bars-{backend}",
                )
            )
            sections.append(
                (
                    f"{title}: every case",
                    CASES_TEXT,
                    CASE_HEADER,
                    case_rows(panel_cases, new, old),
                    f"cases-{backend}",
                )
            )
    command = "python -m benchmarks.guarantee" + (" --quick" if args.quick else "")
    if args.previous != PREVIOUS:
        command += f" --previous {args.previous}"
    for option in ("backends", "sets"):
        if getattr(args, option):
            command += f" --{option} {' '.join(getattr(args, option))}"
    sets = ", ".join(f"{s.name} ({s.kind}, {s.source})" for s in PANEL)
    seconds = time.perf_counter() - started
    preamble = (
        "# The guarantee against PCA on real data\n\n"
        f"Made by `{command}` on {machine(list(backends.values()))}, in {seconds:.0f} s.\n\n"
        f"{len(panel_cases)} cases (a data set and a code size d) from: {sets}. Each set is "
        "split 70/30 (random_state=0) and scaled on its training rows (tables and patches "
        "by StandardScaler, Fashion-MNIST by its pixels' overall mean and spread). "
        "`AutoencoderTransformer(d, random_state=0)` and "
        "`DenoisingAutoencoderTransformer(d, random_state=0)` with their defaults against "
        "`PCA(d)`, measured on the held-out rows: MSE over PCA's; for the denoiser also "
        f"from held-out rows corrupted with its training noise (gaussian, {NOISE_LEVEL} "
        "standard deviations of each training feature, one draw), against the clean rows, "
        "over PCA's from the same corrupted rows. 'previous': the package at "
        f"{args.previous}, run case by case beside the new one on the same backend."
    )
    print(write_report(args.out, "guarantee", preamble, sections))


if __name__ == "__main__":
    main()
