"""Outlier detection on labelled tasks: the autoencoder against the usual detectors.

Run ``python -m benchmarks.anomaly`` (``--tasks`` picks some: ``digits``,
``breast-cancer``, ``fashion-mnist``). Every task is offline:

- **digits, one class**: each digit in turn is the normal class; the detectors train on
  half of its images and score the other half of all digits (the other digits are the
  outliers). Again with 5% and 10% of the training rows drawn from the other digits.
- **breast cancer**: benign tumours are normal; malignant ones, subsampled to 5% of the
  rows, are the outliers. The detectors train on half of the benign rows and score the
  rest; again with 5% and 10% of the training rows malignant. Each of 10 random
  splits of the rows is a case.
- **Fashion-MNIST, one class**, the protocol of the deep anomaly-detection literature
  (Golan and El-Yaniv 2018, and those they compare with): each class in turn is normal,
  the detectors train on its 6,000 training images and score all 10,000 test images.

Contenders: ``AutoencoderOutlierDetector`` (dense, with its defaults, ``robust``
on, and with ``robust`` off; on images also convolutional, ``robust`` off),
``IsolationForest``, ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM``, PCA's
reconstruction error at the same code size, and pyod's ``AutoEncoder`` (PyTorch)
where pyod and torch are installed, each with its defaults; on Fashion-MNIST, the
convolutional network trains at most 20 epochs (see ``contenders``).
Measures, with the outliers as the positive class: ROC AUC, average precision, F1 where
the share of the test rows that are outliers is called outliers, fit and scoring
seconds. Tables go to ``--out`` (Markdown and CSV).
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from sk_autoencoder import AutoencoderOutlierDetector

from ._data import FASHION_MNIST_DIR, fashion_mnist_arrays
from ._report import machine, write_report

# Golan and El-Yaniv (2018), "Deep Anomaly Detection Using Geometric Transformations",
# NeurIPS, Table 1: mean AUROC (%) over Fashion-MNIST's ten one-class tasks.
PUBLISHED_FASHION_MNIST = {
    "CAE-OC-SVM (convolutional autoencoder, Table 1)": 91.7,
    "RAW-OC-SVM (hyperparameters chosen on the test set, Table 1)": 92.8,
    "GEOM, their method (Table 1)": 93.5,
}


# Random splits of breast cancer's rows, each a case: a split's test rows hold 9
# malignant ones, too few for one split's ROC AUC to tell detectors apart.
BREAST_CANCER_SPLITS = 10

# The convolutional network's epoch budget on Fashion-MNIST (see contenders()).
LARGE_CONV_EPOCHS = 20


class PCAReconstruction:
    """PCA's squared reconstruction error as an outlier score (higher is more normal)."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X):
        self.pca_ = PCA(self.n_components).fit(X)
        return self

    def score_samples(self, X):
        reconstructed = self.pca_.inverse_transform(self.pca_.transform(X))
        return -np.mean(np.square(X - reconstructed), axis=1)


class PyodAutoEncoder:
    """pyod's ``AutoEncoder`` with its defaults, scored as the others are (higher is
    more normal)."""

    def __init__(self, random_state):
        self.random_state = random_state

    def fit(self, X):
        from pyod.models.auto_encoder import AutoEncoder

        self.detector_ = AutoEncoder(random_state=self.random_state, verbose=0).fit(X)
        return self

    def score_samples(self, X):
        return -self.detector_.decision_function(X)


def pyod_autoencoder():
    """Whether pyod's ``AutoEncoder`` can run here, and what the report says of it."""
    try:
        import pyod
        import torch
        from pyod.models.auto_encoder import AutoEncoder  # noqa: F401
    except ImportError as error:
        return False, f"not run ({error})"
    return True, f"pyod {pyod.__version__} on torch {torch.__version__}, with its defaults"


def contenders(encoding_dim, image_shape=None, *, large=False, epochs=None, seed=0, pyod=False):
    """Each contender's name and a function that makes it: this package's detector
    with its defaults (``robust=True``), with ``robust=False``, and on images
    convolutional with ``robust=False``; on ``large`` tasks the convolutional network
    trains at most :data:`LARGE_CONV_EPOCHS` epochs, so that the benchmark fits in an
    hour on 2 cores. pyod's ``AutoEncoder`` joins them where ``pyod`` is true."""
    ours = {"random_state": seed} if epochs is None else {"random_state": seed, "epochs": epochs}
    made = {
        "autoencoder": lambda: AutoencoderOutlierDetector(encoding_dim, **ours),
        "autoencoder, robust=False": lambda: AutoencoderOutlierDetector(
            encoding_dim, robust=False, **ours
        ),
    }
    if image_shape is not None:
        conv = {"network": "conv", "input_shape": image_shape, "robust": False, **ours}
        if large:
            conv["epochs"] = LARGE_CONV_EPOCHS
        made["autoencoder, conv, robust=False"] = lambda: AutoencoderOutlierDetector(
            encoding_dim, **conv
        )
    made.update(
        {
            "IsolationForest": lambda: IsolationForest(random_state=seed),
            "LocalOutlierFactor": lambda: LocalOutlierFactor(novelty=True),
            "OneClassSVM": lambda: OneClassSVM(),
            "PCA reconstruction": lambda: PCAReconstruction(encoding_dim),
        }
    )
    if pyod:
        made["pyod AutoEncoder"] = lambda: PyodAutoEncoder(seed)
    return made


def measured(make, X_train, X_test, is_outlier):
    """``(roc_auc, average_precision, f1, fit_seconds, score_seconds)`` of one contender."""
    start = time.perf_counter()
    detector = make().fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    outlyingness = -detector.score_samples(X_test)
    score_seconds = time.perf_counter() - start
    n_outliers = int(is_outlier.sum())
    called = np.zeros(len(is_outlier), bool)
    called[np.argsort(-outlyingness, kind="stable")[:n_outliers]] = True
    return (
        roc_auc_score(is_outlier, outlyingness),
        average_precision_score(is_outlier, outlyingness),
        f1_score(is_outlier, called),
        fit_seconds,
        score_seconds,
    )


def mixed_in(normal_train, outlier_pool, share, rng):
    """``normal_train`` with rows of ``outlier_pool`` making ``share`` of the result."""
    if share == 0:
        return normal_train
    n_outliers = round(share * len(normal_train) / (1 - share))
    picked = rng.choice(len(outlier_pool), n_outliers, replace=False)
    return np.vstack([normal_train, outlier_pool[picked]])


def digits_tasks(shares):
    """The one-class digits tasks: ``(task, case, X_train, X_test, is_outlier, dim, shape)``."""
    bunch = load_digits()
    X, y = bunch.data / 16, bunch.target
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), bool)
    test[rng.permutation(len(y))[: len(y) // 2]] = True
    for share in shares:
        for digit in range(10):
            normal = X[~test & (y == digit)]
            pool = X[~test & (y != digit)]
            X_train = mixed_in(normal, pool, share, np.random.default_rng(digit))
            yield (
                f"digits, one class, {share:.0%} outliers in training",
                str(digit),
                X_train,
                X[test],
                y[test] != digit,
                8,
                (8, 8),
            )


def breast_cancer_tasks(shares, splits=BREAST_CANCER_SPLITS):
    """The breast-cancer tasks: benign normal, malignant subsampled to 5% outliers; a
    case for each of ``splits`` random splits of the rows."""
    bunch = load_breast_cancer()
    X, malignant = bunch.data, bunch.target == 0
    for split in range(splits):
        rng = np.random.default_rng(split)
        benign_rows = rng.permutation(np.flatnonzero(~malignant))
        malignant_rows = rng.permutation(np.flatnonzero(malignant))
        train_benign, test_benign = np.array_split(benign_rows, 2)
        n_test_malignant = round(0.05 * len(test_benign) / 0.95)
        test_rows = np.r_[test_benign, malignant_rows[:n_test_malignant]]
        pool = X[malignant_rows[n_test_malignant:]]
        for share in shares:
            X_train = mixed_in(X[train_benign], pool, share, np.random.default_rng(split + 1))
            scaler = StandardScaler().fit(X_train)
            yield (
                f"breast cancer, {share:.0%} outliers in training",
                f"split {split}",
                scaler.transform(X_train),
                scaler.transform(X[test_rows]),
                malignant[test_rows],
                4,
                None,
            )


def fashion_mnist_tasks(data_dir):
    """Fashion-MNIST's one-class tasks, by the literature's protocol."""
    arrays = fashion_mnist_arrays(data_dir)
    X_train = arrays["X_train"].reshape(-1, 784).astype(np.float32) / 255
    X_test = arrays["X_test"].reshape(-1, 784).astype(np.float32) / 255
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    for label in range(10):
        yield (
            "Fashion-MNIST, one class",
            str(label),
            X_train[y_train == label],
            X_test,
            y_test != label,
            32,
            (28, 28),
        )


def run(tasks, say, epochs=None, pyod=False):
    """Every contender on every task: rows of the per-case table."""
    rows = []
    for task, case, X_train, X_test, is_outlier, dim, shape in tasks:
        large = task.startswith("Fashion-MNIST")
        made = contenders(dim, shape, large=large, epochs=epochs, pyod=pyod)
        for name, make in made.items():
            scores = measured(make, X_train, X_test, is_outlier)
            rows.append([task, case, name, *scores])
            say(f"{task} | {case} | {name}: ROC AUC {scores[0]:.4f}, fit {scores[3]:.1f} s")
    return rows


def summary(rows):
    """Each task's mean of each measure, per contender."""
    table = {}
    for task, _case, name, *scores in rows:
        table.setdefault((task, name), []).append(scores)
    return [
        [
            task,
            name,
            *(f"{value:.4f}" for value in np.mean(scores, axis=0)[:3]),
            *(f"{value:.2f}" for value in np.mean(scores, axis=0)[3:]),
        ]
        for (task, name), scores in table.items()
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.anomaly", description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/anomaly", help="folder for results")
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["digits", "breast-cancer", "fashion-mnist"],
        choices=["digits", "breast-cancer", "fashion-mnist"],
    )
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="Fashion-MNIST's folder")
    parser.add_argument("--name", default="anomaly", help="name of the results files")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="breast cancer alone, one split, 5 epochs: for the tests",
    )
    args = parser.parse_args(argv)
    shares = (0.0, 0.05, 0.10)
    epochs, splits = None, BREAST_CANCER_SPLITS
    if args.quick:
        args.tasks, shares, epochs, splits = ["breast-cancer"], (0.0, 0.05), 5, 1
    makers = {
        "digits": lambda: digits_tasks(shares),
        "breast-cancer": lambda: breast_cancer_tasks(shares, splits),
        "fashion-mnist": lambda: fashion_mnist_tasks(args.data_dir),
    }
    pyod, pyod_run = pyod_autoencoder()

    def say(line):
        print(line, flush=True)

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for task in args.tasks:
            rows += run(makers[task](), say, epochs, pyod=pyod)
    header = ["task", "contender", "ROC AUC", "average precision", "F1", "fit s", "score s"]
    per_case = [
        [
            task,
            case,
            name,
            *(f"{value:.4f}" for value in scores[:3]),
            *(f"{value:.2f}" for value in scores[3:]),
        ]
        for task, case, name, *scores in rows
    ]
    published = "\n".join(f"- {name}: {value}" for name, value in PUBLISHED_FASHION_MNIST.items())
    preamble = (
        f"# Outlier detection on labelled tasks\n\nMade by `python -m benchmarks.anomaly "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}` on {machine()}. Each "
        "measure is the mean over the task's cases (a normal class each for one-class "
        f"tasks). pyod's AutoEncoder: {pyod_run}. Published mean AUROC on one-class "
        f"Fashion-MNIST, same protocol:\n\n{published}"
    )
    markdown = write_report(
        args.out,
        args.name,
        preamble,
        [
            ("Means per task", "", header, summary(rows), f"{args.name}-summary"),
            ("Each case", "", ["task", "case", *header[1:]], per_case, f"{args.name}-cases"),
        ],
    )
    print(markdown)


if __name__ == "__main__":
    main()
