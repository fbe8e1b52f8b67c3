"""
Denoising images
================

:class:`~sk_autoencoder.DenoisingAutoencoderTransformer` trains the network to
reconstruct clean digits from corrupted copies, corrupted afresh at every batch. Here
the corruption is ``noise="masking"``: pixels that drop out to 0, as in a scan with
dead pixels. Both networks are given held-out digits with 30% of their pixels dropped,
and we compare what each gives back with the clean digits.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

# These fits stop at a fixed, small number of epochs, while the loss is still falling:
# that is the point of a quick example, so the warning that says so is not shown.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X = load_digits().data / 16  # pixels in [0, 1]
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)

params = dict(encoding_dim=16, output_activation="sigmoid", epochs=60, random_state=0)
plain = AutoencoderTransformer(**params).fit(X_train)
denoiser = DenoisingAutoencoderTransformer(noise="masking", noise_level=0.3, **params)
denoiser.fit(X_train)

dropped = np.random.default_rng(0).random(X_test.shape) < 0.3
X_corrupted = np.where(dropped, 0.0, X_test)
cleaned = {
    name: reducer.inverse_transform(reducer.transform(X_corrupted))
    for name, reducer in [("plain autoencoder", plain), ("denoising autoencoder", denoiser)]
}
print(f"corrupted input: {np.mean((X_corrupted - X_test) ** 2):.4f} MSE against the clean digits")
for name, images in cleaned.items():
    print(f"{name}: {np.mean((images - X_test) ** 2):.4f}")

# %%
# Clean, corrupted, and what each network gives back.

rows = [("clean", X_test), ("30% dropped", X_corrupted), *cleaned.items()]
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 4.6))
for (title, images), row in zip(rows, axes, strict=True):
    for image, ax in zip(images[:8], row, strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(title, rotation=0, ha="right", va="center")
fig.tight_layout()
