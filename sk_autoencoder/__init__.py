"""Keras autoencoders as scikit-learn transformers.

:class:`AutoencoderTransformer` learns a nonlinear, low-dimensional code of tabular or
image data and goes wherever :class:`~sklearn.decomposition.PCA` goes: pipelines,
grid searches, ``clone``, pickle.
"""

from ._base import AutoencoderTransformer

__version__ = "0.1.0"

__all__ = ["AutoencoderTransformer", "__version__"]
