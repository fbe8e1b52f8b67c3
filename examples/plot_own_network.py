"""
A convolutional network of your own
===================================

``encoder`` and ``decoder`` take your own Keras networks, or functions that build
them from the shape of a sample and ``encoding_dim``; ``input_shape`` reshapes the
flat rows that scikit-learn passes into images for the network. Here a small
convolutional encoder and decoder are fitted to 8 x 8 digits.

On a CPU, train convolutional networks on TensorFlow (the default backend): JAX's
convolutions are many times slower there.
"""

import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer

# These fits stop at a fixed, small number of epochs, while the loss is still falling:
# that is the point of a quick example, so the warning that says so is not shown.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def encoder(input_shape, encoding_dim, seed=None):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(encoding_dim),
        ]
    )


def decoder(input_shape, encoding_dim, seed=None):
    height, width, channels = input_shape
    return keras.Sequential(
        [
            keras.Input((encoding_dim,)),
            keras.layers.Dense(height // 4 * width // 4 * 32, activation="relu"),
            keras.layers.Reshape((height // 4, width // 4, 32)),
            keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(channels, 3, strides=2, padding="same"),
            keras.layers.Activation("sigmoid"),
        ]
    )


X = load_digits().data / 16  # rows of 64 pixels in [0, 1]
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)

autoencoder = AutoencoderTransformer(
    8, encoder=encoder, decoder=decoder, input_shape=(8, 8, 1), epochs=150, random_state=0
).fit(X_train)
pca = PCA(8).fit(X_train)

reconstructions = {
    "PCA": pca.inverse_transform(pca.transform(X_test)),
    "convolutional": autoencoder.inverse_transform(autoencoder.transform(X_test)),
}
for name, images in reconstructions.items():
    print(f"{name}: held-out MSE {np.mean((images - X_test) ** 2):.4f}")

# %%
# Held-out digits and their reconstructions from 8 values each.

rows = [("held out", X_test), *reconstructions.items()]
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 3.6))
for (title, images), row in zip(rows, axes, strict=True):
    for image, ax in zip(images[:8], row, strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(title, rotation=0, ha="right", va="center")
fig.tight_layout()
