"""The benchmark's figures, saved as PNG.

They are drawn on ``matplotlib.figure.Figure`` objects, not through ``pyplot``: a
figure made that way renders with the Agg backend whatever backend is configured, needs
no screen, and leaves no global figure state behind.
"""

from sk_autoencoder._report import image_grid as grid
from sk_autoencoder._report import plot_against_dimension as against_dimension


def plot_against_dimension(results, column, ylabel, title, path, *, reference=None):
    """One line per reducer: ``column`` of ``results`` (a DataFrame) against encoding_dim,
    saved to ``path``; ``reference`` is an optional ``(label, value)`` dashed line."""
    figure = against_dimension(results, column, ylabel, title, reference=reference)
    figure.savefig(path, dpi=120)


def image_grid(rows, image_shape, title, path):
    """A grid of images in [0, 1], one row per ``(label, images)`` pair, saved to ``path``."""
    grid(rows, image_shape, title).savefig(path, dpi=120)
