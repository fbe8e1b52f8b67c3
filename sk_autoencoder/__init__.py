"""Keras autoencoders as scikit-learn transformers.

:class:`AutoencoderTransformer` learns a nonlinear, low-dimensional code of tabular or
image data and goes wherever :class:`~sklearn.decomposition.PCA` goes: pipelines,
grid searches, ``clone``, pickle; ``est.save(path)`` and :func:`load` keep one in a
file that loads no code. :class:`DenoisingAutoencoderTransformer` is trained
to reconstruct clean samples from corrupted copies, for noisy data and more robust codes.
:class:`AutoencoderOutlierDetector` flags the rows an autoencoder reconstructs badly,
with scikit-learn's outlier API. :func:`compare` answers whether either beats PCA on a data
set, and at what cost.

The names load on first use, so that ``import sk_autoencoder`` (and the command line's
help and its answers to bad input) come before Keras and its backend are imported.
"""

import importlib

__version__ = "0.1.0"

# The estimators and the modules that define them: a saved file names its estimator's
# class, which :func:`load` finds here.
_ESTIMATORS = {
    "AutoencoderTransformer": "._estimators.transformer",
    "DenoisingAutoencoderTransformer": "._estimators.denoising",
    "AutoencoderOutlierDetector": "._estimators.outliers",
}

# Each public name and the module that defines it.
_PUBLIC = {
    **_ESTIMATORS,
    "load": "._io.persistence",
    "compare": "._compare",
    "Comparison": "._report",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})
