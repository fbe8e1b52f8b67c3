"""Inference as a numpy forward pass over the Dense layers of a Keras model.

On CPU, numpy's BLAS runs the skinny products of an encoder several times faster than
the backends' own kernels, and with no fixed cost per call: one row takes microseconds
where ``keras.Model.predict`` takes tens of milliseconds. The weights are read from
the Keras layers on every call, so the Keras model stays the only state.
"""

import keras
import numpy as np
from scipy import special

from ._backends.base import Forward, compiled_forward, variable_values
from ._io.pages import CHUNK_VALUES, read_chunks, rows_per_chunk

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu(h, alpha=1.0):
    return np.where(h > 0, h, alpha * np.expm1(np.minimum(h, 0)))


def _sigmoid(h):
    """``1 / (1 + exp(-h))`` in place: twice as fast as scipy's ``expit`` on float32.

    ``exp`` overflows to inf where ``h`` is very negative, which gives the right 0; the
    callers ignore numpy's overflow warning.
    """
    np.negative(h, out=h)
    np.exp(h, out=h)
    h += 1
    return np.reciprocal(h, out=h)


def _gelu(h):
    return 0.5 * h * (1 + special.erf(h / np.sqrt(h.dtype.type(2))))


# Each function computes Keras's activation of the same name, in place where it can.
ACTIVATIONS = {
    "linear": lambda h: h,
    "relu": lambda h: np.maximum(h, 0, out=h),
    "tanh": lambda h: np.tanh(h, out=h),
    "sigmoid": _sigmoid,
    "softplus": lambda h: np.logaddexp(0, h, out=h),
    "silu": lambda h: np.multiply(h, _sigmoid(h.copy()), out=h),
    "elu": _elu,
    "selu": lambda h: _SELU_SCALE * _elu(h, _SELU_ALPHA),
    "gelu": _gelu,
}

# Keyed by Keras's own activation functions, which is what a Dense layer holds: reading
# a layer's name for it through get_config would go through Keras's serialization, which
# is slow and imports TensorFlow when it is installed, whatever the backend.
_BY_KERAS_FUNCTION = {
    keras.activations.get(name): function for name, function in ACTIVATIONS.items()
}


def dense_layers(model):
    """Return ``(kernel, bias, activation, skip)`` for each ``Dense`` layer of ``model``.

    ``model`` is one of the encoders or decoders that ``_network`` builds: an input
    followed by ``Dense`` layers whose activations are all in :data:`ACTIVATIONS`, the
    last of which may also see the model's input through a ``Concatenate``. ``skip``
    is the number of the kernel's first rows that multiply the model's input (0 for a
    layer that sees the layer before it alone). Raises ``ValueError`` for any other
    model.
    """
    layers, previous = [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Concatenate):
            previous = layer
            continue
        if not isinstance(layer, keras.layers.Dense) or layer.activation not in _BY_KERAS_FUNCTION:
            raise ValueError(f"layer {layer.name!r} is not a Dense layer this package can run")
        kernel, bias = (variable_values(variable) for variable in (layer.kernel, layer.bias))
        skip = model.input_shape[-1] if previous is not None else 0
        layers.append((kernel, bias, _BY_KERAS_FUNCTION[layer.activation], skip))
        previous = None
    if previous is not None or any(skip for *_, skip in layers[:-1]):
        raise ValueError("only a model's last Dense layer may see its input")
    return layers


def apply_dense_layers(layers, X):
    """Run ``X`` (a chunk of rows) through ``layers``; return the output as a new array."""
    # Overflow shows as inf or NaN in the output, which the callers turn into a
    # ValueError: numpy's warnings about it would only come first.
    with np.errstate(over="ignore", invalid="ignore"):
        h = inputs = np.asarray(X, dtype=layers[0][0].dtype)
        for kernel, bias, activation, skip in layers:
            if skip:
                h = h @ kernel[skip:]
                h += inputs @ kernel[:skip]
            else:
                h = h @ kernel
            h += bias
            h = activation(h)
    return h


class DenseForward(Forward):
    """The numpy forward pass over ``model``'s layers (see :func:`dense_layers`), with
    the weights they hold when it is made, in their own float type or in ``dtype``."""

    def __init__(self, model, dtype=None):
        self.layers = dense_layers(model)
        if dtype is not None:
            self.layers = [
                (kernel.astype(dtype), bias.astype(dtype), activation, skip)
                for kernel, bias, activation, skip in self.layers
            ]
        widest = max(max(kernel.shape) for kernel, *_ in self.layers)
        self.rows_per_chunk = rows_per_chunk(CHUNK_VALUES, widest)

    def __call__(self, rows):
        return apply_dense_layers(self.layers, rows)


def forward_function(model, dtype=None):
    """The fastest :class:`Forward` that runs ``model``: numpy's for a stack of
    ``Dense`` layers this module can run (in ``dtype``, where given), else a compiled
    one."""
    try:
        return DenseForward(model, dtype)
    except ValueError:  # not a stack of Dense layers dense_layers can run
        return compiled_forward(model)


def check_finite(output, X):
    """Raise ``ValueError`` if any row of ``output``, computed from ``X``, is not finite.

    Finite input can still overflow: values beyond the float type's range, or large
    enough for the network's arithmetic to overflow. Never hand back such output.
    """
    finite = np.isfinite(output)
    if finite.ndim > 1:
        finite = finite.all(axis=1)
    if not finite.all():
        peak = max(float(np.max(X)), -float(np.min(X)))
        raise ValueError(
            f"The network's output is not finite for {np.count_nonzero(~finite)} of "
            f"{len(finite)} rows of X, whose values reach {peak:.3g} in magnitude: too "
            "large for the network's arithmetic. Pass data scaled as the training data was."
        )
    return output


def forward(function, X):
    """Run all rows of ``X`` through ``function`` (a :class:`Forward`), chunk by chunk."""
    output = None  # made once the first chunk gives the output's width and float type
    for rows, chunk in read_chunks(X, function.rows_per_chunk):
        chunk = function(chunk)
        if output is None:
            output = np.empty((X.shape[0], *chunk.shape[1:]), dtype=chunk.dtype)
        output[rows] = chunk
    return check_finite(output, X)


def reconstruction_errors(encoder, decoder, X):
    """Mean squared reconstruction error of each row of ``X`` through ``encoder`` then
    ``decoder`` (each a :class:`Forward`), as float64."""
    errors = np.empty(X.shape[0], dtype=np.float64)
    step = min(encoder.rows_per_chunk, decoder.rows_per_chunk)
    for rows, chunk in read_chunks(X, step):
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            residual = chunk - decoder(encoder(chunk))
            errors[rows] = np.mean(np.square(residual), axis=1, dtype=np.float64)
    return check_finite(errors, X)


def errors_and_codes(encoder, decoder, X, of_codes=None):
    """:func:`reconstruction_errors` of ``X``'s rows, and their codes (as float64, a
    row each) from the same pass; or, where ``of_codes`` is given, its value of each
    chunk's codes (one a row), so that the codes need not all be held at once."""
    errors = np.empty(X.shape[0], dtype=np.float64)
    codes = None
    step = min(encoder.rows_per_chunk, decoder.rows_per_chunk)
    for rows, chunk in read_chunks(X, step):
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            code = encoder(chunk)
            residual = chunk - decoder(code)
            errors[rows] = np.mean(np.square(residual), axis=1, dtype=np.float64)
        code = code.reshape(len(code), -1).astype(np.float64)
        if of_codes is not None:
            code = of_codes(check_finite(code, chunk))
        if codes is None:
            codes = np.empty((X.shape[0], *code.shape[1:]), dtype=np.float64)
        codes[rows] = code
    return check_finite(errors, X), check_finite(codes, X)


def column_std(X):
    """Each column's standard deviation, as ``X.std(axis=0)``, in memory bounded by a chunk."""
    step = rows_per_chunk(CHUNK_VALUES, X.shape[1])
    mean = np.zeros(X.shape[1])
    for _, chunk in read_chunks(X, step):
        mean += np.sum(chunk, axis=0, dtype=np.float64)
    mean /= X.shape[0]
    squares = np.zeros(X.shape[1])
    for _, chunk in read_chunks(X, step):
        squares += np.sum(np.square(chunk - mean), axis=0)
    return np.sqrt(squares / X.shape[0]).astype(X.dtype)
