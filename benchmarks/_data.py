"""The data sets the benchmarks compare on, each with the settings that suit it.

Both ship offline: scikit-learn embeds ``load_digits``, and Debian's
``dataset-fashion-mnist`` package puts Fashion-MNIST's four IDX files in
``/usr/share/datasets/fashion-mnist``.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder._data import (
    FASHION_MNIST_DIR,
    FASHION_MNIST_FILES,
    MissingDataError,
    fashion_mnist_arrays,
    read_idx,
)

__all__ = [
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_FILES",
    "Dataset",
    "MissingDataError",
    "digits",
    "fashion_mnist",
    "read_idx",
]


@dataclass
class Dataset:
    """A train/test split and how the benchmark treats it.

    ``scaler`` is fitted on ``X_train`` by the benchmark, and every reducer sees (and
    every MSE is measured in) its output; ``None`` means the data is used as it is.
    ``pixel_max`` maps the unscaled data to [0, 1] for display. ``autoencoder_params``
    are the parameters both autoencoders get, beyond ``encoding_dim``; ``search_grid``
    is what the grid search tunes, on ``search_rows`` training rows (all when ``None``).
    """

    name: str
    title: str
    description: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    pixel_max: float
    scaler: object | None
    search_grid: dict
    autoencoder_params: dict = field(default_factory=dict)
    conv_params: dict = field(default_factory=dict)
    search_rows: int | None = None


def digits():
    """scikit-learn's 8 x 8 digits: 70/30 split (random_state=0), standardized."""
    bunch = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.3, random_state=0
    )
    return Dataset(
        name="digits",
        title="Digits",
        description=(
            f"scikit-learn's load_digits (8 x 8 images), 70/30 split (random_state=0): "
            f"{len(X_train)} training and {len(X_test)} held-out rows, standardized on the "
            "training part. Both Dense autoencoders have default parameters; the "
            "convolutional one (at the middle encoding dimension) takes each row as an "
            '8 x 8 image, network="conv", input_shape=(8, 8, 1), its other '
            "parameters their defaults."
        ),
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        image_shape=(8, 8),
        pixel_max=16.0,
        scaler=StandardScaler(),
        search_grid={"encoding_dim": [8, 16], "hidden_layer_sizes": [(64,), (128,)]},
        conv_params=dict(network="conv", input_shape=(8, 8, 1)),
    )


def fashion_mnist(data_dir=FASHION_MNIST_DIR):
    """Fashion-MNIST's 60,000 training and 10,000 test images, pixels scaled to [0, 1]."""
    arrays = fashion_mnist_arrays(data_dir)
    X_train, X_test = (arrays[key].reshape(len(arrays[key]), -1) for key in ("X_train", "X_test"))
    return Dataset(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description=(
            f"Fashion-MNIST (28 x 28 images) from {data_dir}: fitted on the {len(X_train):,} "
            f"training images, evaluated on the {len(X_test):,} test images; pixels scaled "
            "to [0, 1]. Both autoencoders: hidden_layer_sizes=(512, 128), sigmoid output, "
            "batch_size=256, epochs=20, the other parameters their defaults. The "
            "convolutional autoencoder (at the middle encoding dimension): "
            'network="conv", input_shape=(28, 28, 1), sigmoid output, epochs=10, the '
            "other parameters their defaults. The grid search uses 10,000 training "
            "images."
        ),
        X_train=(X_train / np.float32(255)).astype(np.float32),
        y_train=arrays["y_train"],
        X_test=(X_test / np.float32(255)).astype(np.float32),
        y_test=arrays["y_test"],
        image_shape=(28, 28),
        pixel_max=1.0,
        scaler=None,
        search_grid={"encoding_dim": [16, 32], "hidden_layer_sizes": [(128,), (256,)]},
        autoencoder_params=dict(
            hidden_layer_sizes=(512, 128),
            output_activation="sigmoid",
            batch_size=256,
            epochs=20,
        ),
        search_rows=10_000,
        conv_params=dict(
            network="conv", input_shape=(28, 28, 1), output_activation="sigmoid", epochs=10
        ),
    )
