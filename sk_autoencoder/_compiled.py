"""The forward pass of any Keras network, compiled by the active backend.

For a network that is not a stack of ``Dense`` layers (convolutions, normalization,
a user's own layers), :mod:`._inference`'s numpy pass does not apply. ``Model.predict``
would, but it pays for its data pipeline on every call (tens of milliseconds, however
few the rows). Here the model's call in inference mode is compiled once per model and
shape of chunk, ``jax.jit`` of its ``stateless_call`` on JAX and a ``tf.function``
compiled with XLA on TensorFlow, and called on chunks of rows directly: the weights
are read at every call, so the Keras model stays the only state.
"""

import math
import weakref

import keras
import numpy as np

from ._inference import CHUNK_VALUES, Forward
from ._network import all_layers
from ._quiet import info_lines_held_back, without_retracing_warnings
from ._steps import check_backend

# The compiled pass of each live model; an entry goes with its model.
_COMPILED = weakref.WeakKeyDictionary()


def compiled_forward(model):
    """The :class:`CompiledForward` of ``model``, compiled at its first use."""
    function = _COMPILED.get(model)
    if function is None:
        function = _COMPILED[model] = CompiledForward(model)
    return function


def _widest_activation(model):
    """The most values one row makes at any layer of ``model`` (nested models too)."""
    widest = math.prod(model.input_shape[1:])
    for layer in all_layers(model):
        try:
            shape = layer.output.shape[1:]
        except (AttributeError, ValueError):  # a layer of a subclassed model: no graph
            continue
        if all(isinstance(size, int) for size in shape):
            widest = max(widest, math.prod(shape))
    return widest


class CompiledForward(Forward):
    """``model(rows, training=False)``, compiled with XLA by the backend, on numpy chunks.

    XLA on TensorFlow too, for two reasons: its products give each row the same
    result wherever the row sits in a chunk (TensorFlow's own kernels round rows
    differently by position, so that reordering the rows would change the output),
    and it fuses the layers' elementwise work. XLA compiles for each shape of chunk,
    so chunks are padded to a power of two rows (or to :attr:`rows_per_chunk`): a few
    shapes per model. The function holds the model weakly, so that it never keeps a
    model alive.
    """

    def __init__(self, model):
        self.rows_per_chunk = max(1, CHUNK_VALUES // _widest_activation(model))
        self._dtype = np.dtype(keras.config.floatx())
        self._shapes = set()
        reference = weakref.ref(model)
        if check_backend() == "jax":
            import jax

            def call(trainable, non_trainable, rows):
                return reference().stateless_call(trainable, non_trainable, rows)[0]

            compiled = jax.jit(call)

            def run(rows):
                network = reference()
                return compiled(
                    [variable.value for variable in network.trainable_variables],
                    [variable.value for variable in network.non_trainable_variables],
                    rows,
                )

            self._run = run
        else:
            import tensorflow as tf

            self._run = tf.function(
                lambda rows: reference()(rows, training=False), jit_compile=True
            )

    def __call__(self, rows):
        n_rows = len(rows)
        padded = np.zeros((self._padded_rows(n_rows), *rows.shape[1:]), self._dtype)
        padded[:n_rows] = rows
        if padded.shape in self._shapes:
            output = self._run(padded)
        else:
            # A new shape: XLA compiles, and TensorFlow traces, which past a few
            # shapes sets off its retracing warning although each shape is traced once.
            with info_lines_held_back(), without_retracing_warnings():
                output = self._run(padded)
            self._shapes.add(padded.shape)
        return np.asarray(keras.ops.convert_to_numpy(output))[:n_rows]

    def _padded_rows(self, n_rows):
        return min(self.rows_per_chunk, 1 << max(0, n_rows - 1).bit_length())
