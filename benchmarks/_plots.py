"""The benchmark's figures, saved as PNG.

They are drawn on ``matplotlib.figure.Figure`` objects, not through ``pyplot``: a
figure made that way renders with the Agg backend whatever backend is configured, needs
no screen, and leaves no global figure state behind.
"""

import numpy as np
from matplotlib.figure import Figure

from sk_autoencoder._report import plot_against_dimension as against_dimension


def plot_against_dimension(results, column, ylabel, title, path, *, reference=None):
    """One line per reducer: ``column`` of ``results`` (a DataFrame) against encoding_dim,
    saved to ``path``; ``reference`` is an optional ``(label, value)`` dashed line."""
    figure = against_dimension(results, column, ylabel, title, reference=reference)
    figure.savefig(path, dpi=120)


def image_grid(rows, image_shape, title, path):
    """A grid of images: one row per ``(label, images)`` pair, one column per image."""
    n_columns = max(len(images) for _, images in rows)
    figure = Figure(figsize=(0.9 * n_columns + 1.6, 0.9 * len(rows) + 0.4), layout="constrained")
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    for row_axes, (label, images) in zip(axes, rows, strict=True):
        images = np.clip(images, 0.0, 1.0)
        for axis, image in zip(row_axes, images, strict=False):
            axis.imshow(image.reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        for axis in row_axes:
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
        row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=120)
