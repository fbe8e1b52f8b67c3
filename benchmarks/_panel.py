"""The panel of real data sets the guarantee against PCA is measured on.

Every set ships offline: scikit-learn embeds its toy data sets and two photographs,
statsmodels embeds its data sets (the ``bench`` extra installs it), and Debian's
``dataset-fashion-mnist`` package holds Fashion-MNIST. Each set is split 70/30
(``random_state=0``) and scaled on its training part: tables and image patches
feature by feature (``StandardScaler``), Fashion-MNIST's pixels by their overall mean
and standard deviation (one for all, as ``compare`` does for images, so that a pixel
that is almost always blank does not blow up).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder._data import FASHION_MNIST_DIR, MissingDataError, fashion_mnist_arrays

# Rows cut from the two photographs, and drawn from Fashion-MNIST's training images.
PATCH_ROWS = 5_000
FASHION_ROWS = 5_000
PATCH_SIZE = (8, 8)


@dataclass(frozen=True)
class PanelSet:
    """One data set of the panel: where it comes from, its kind, its code sizes."""

    name: str
    kind: str
    source: str
    dims: tuple
    load: object


def _statsmodels(name):
    def load():
        import statsmodels.api as sm

        return getattr(sm.datasets, name).load_pandas().data.to_numpy(dtype=np.float64)

    return load


def _sklearn(name):
    def load():
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")()
        if name == "linnerud":
            return np.hstack([bunch.data, bunch.target])
        return bunch.data

    return load


def _patches(colour):
    def load():
        from sklearn.datasets import load_sample_images
        from sklearn.feature_extraction.image import extract_patches_2d

        images = load_sample_images().images
        per_image = PATCH_ROWS // len(images)
        rows = []
        for seed, image in enumerate(images):
            image = np.asarray(image, dtype=np.float64) / 255
            if not colour:
                image = image.mean(axis=2)
            patches = extract_patches_2d(
                image, PATCH_SIZE, max_patches=per_image, random_state=seed
            )
            rows.append(patches.reshape(len(patches), -1))
        return np.vstack(rows)

    return load


def _fashion_mnist(data_dir=FASHION_MNIST_DIR):
    def load():
        images = fashion_mnist_arrays(data_dir)["X_train"]
        rows = np.random.default_rng(0).choice(len(images), FASHION_ROWS, replace=False)
        return images[np.sort(rows)].reshape(FASHION_ROWS, -1).astype(np.float64) / 255

    return load


PANEL = (
    PanelSet("longley", "table, under 20 rows", "statsmodels", (2, 4), _statsmodels("longley")),
    PanelSet("cpunish", "table, under 20 rows", "statsmodels", (2, 4), _statsmodels("cpunish")),
    PanelSet("stackloss", "table, under 20 rows", "statsmodels", (2,), _statsmodels("stackloss")),
    PanelSet("linnerud", "table, under 20 rows", "scikit-learn", (2,), _sklearn("linnerud")),
    PanelSet("scotland", "table, 20 to 100 rows", "statsmodels", (2, 4), _statsmodels("scotland")),
    PanelSet("elnino", "table, 20 to 100 rows", "statsmodels", (2, 4), _statsmodels("elnino")),
    PanelSet("iris", "table, 100 to 2,000 rows", "scikit-learn", (2,), _sklearn("iris")),
    PanelSet("wine", "table, 100 to 2,000 rows", "scikit-learn", (2, 4, 8), _sklearn("wine")),
    PanelSet(
        "diabetes", "table, 100 to 2,000 rows", "scikit-learn", (2, 4, 8), _sklearn("diabetes")
    ),
    PanelSet(
        "macrodata",
        "table, 100 to 2,000 rows",
        "statsmodels",
        (2, 4, 8),
        _statsmodels("macrodata"),
    ),
    PanelSet(
        "breast_cancer",
        "table, 100 to 2,000 rows",
        "scikit-learn",
        (2, 8, 16),
        _sklearn("breast_cancer"),
    ),
    PanelSet("digits", "digits", "scikit-learn", (2, 4, 8, 16, 32), _sklearn("digits")),
    PanelSet("patches", "image patches, grey", "scikit-learn", (4, 8, 16), _patches(False)),
    PanelSet(
        "colour_patches", "image patches, colour", "scikit-learn", (4, 8, 16), _patches(True)
    ),
    PanelSet("fashion_mnist", "Fashion-MNIST sample", "Debian", (8, 32), _fashion_mnist()),
)

BY_NAME = {panel_set.name: panel_set for panel_set in PANEL}


class _PixelScaler:
    """One mean and one standard deviation for all the pixels."""

    def fit(self, X):
        self.mean_, self.scale_ = X.mean(), X.std()
        return self

    def transform(self, X):
        return (X - self.mean_) / self.scale_


def split(name):
    """``(X_train, X_test)`` of the named set, float32, scaled on the training part.

    Raises :class:`MissingDataError` when Fashion-MNIST is not installed.
    """
    panel_set = BY_NAME[name]
    X = panel_set.load()
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = _PixelScaler() if name == "fashion_mnist" else StandardScaler()
    scaler.fit(X_train)
    return tuple(scaler.transform(part).astype(np.float32) for part in (X_train, X_test))


def cases():
    """Every ``(name, encoding_dim)`` of the panel, in order."""
    return [(panel_set.name, dim) for panel_set in PANEL for dim in panel_set.dims]


__all__ = ["BY_NAME", "PANEL", "MissingDataError", "cases", "split"]
