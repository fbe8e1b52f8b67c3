"""ONNX export through skl2onnx (the ``onnx`` extra).

Importing this module registers the estimators' converter with skl2onnx, after which
``skl2onnx.to_onnx`` converts a fitted estimator, or a pipeline holding one, as it
converts scikit-learn's own::

    import skl2onnx
    import sk_autoencoder.onnx  # noqa: F401

    onx = skl2onnx.to_onnx(pipeline, X[:1].astype("float32"))

The estimator's step is its encoder, exported by Keras (tf2onnx on TensorFlow, jax2onnx
on JAX): its output is :meth:`~sk_autoencoder.AutoencoderTransformer.transform`'s code,
in float32.
"""

try:
    import skl2onnx  # noqa: F401
except ImportError as error:
    raise ImportError(
        'sk_autoencoder.onnx needs skl2onnx: pip install "sk_autoencoder[onnx]"'
    ) from error

from ._io.onnx import register_converters

register_converters()

__all__ = ["register_converters"]
