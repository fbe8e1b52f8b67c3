"""Keras autoencoders as scikit-learn transformers.

:class:`AutoencoderTransformer` learns a nonlinear, low-dimensional code of tabular or
image data and goes wherever :class:`~sklearn.decomposition.PCA` goes: pipelines,
grid searches, ``clone``, pickle. :class:`DenoisingAutoencoderTransformer` is trained
to reconstruct clean samples from corrupted copies, for noisy data and more robust codes.
"""

from ._base import AutoencoderTransformer
from ._denoising import DenoisingAutoencoderTransformer

__version__ = "0.1.0"

__all__ = ["AutoencoderTransformer", "DenoisingAutoencoderTransformer", "__version__"]
