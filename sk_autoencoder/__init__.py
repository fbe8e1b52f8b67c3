"""Keras autoencoders as scikit-learn transformers.

:class:`AutoencoderTransformer` learns a nonlinear, low-dimensional code of tabular or
image data and goes wherever :class:`~sklearn.decomposition.PCA` goes: pipelines,
grid searches, ``clone``, pickle; ``est.save(path)`` and :func:`load` keep one in a
file that loads no code. :class:`DenoisingAutoencoderTransformer` is trained
to reconstruct clean samples from corrupted copies, for noisy data and more robust codes.
"""

from ._base import AutoencoderTransformer
from ._denoising import DenoisingAutoencoderTransformer
from ._persistence import load

__version__ = "0.1.0"

__all__ = ["AutoencoderTransformer", "DenoisingAutoencoderTransformer", "__version__", "load"]
