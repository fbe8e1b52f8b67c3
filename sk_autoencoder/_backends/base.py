"""The hooks each backend fills in, named once: :class:`Backend`, the compiled training
:class:`Steps` and the compiled inference :class:`CompiledForward`.

Keras's ``Model.fit`` pays for its data path and per-step dispatch on every batch; on
a CPU that costs more than a small network's arithmetic. A backend's steps run a whole
chunk of batches per call, from Keras's own pieces: the model's forward pass, the
compiled loss's function and the model's regularization losses, and its optimizer's
update. ``Model.predict`` pays for its data pipeline on every call (tens of
milliseconds, however few the rows): a backend's compiled call runs the model in
inference mode on chunks of rows directly.
"""

import math
import weakref

import keras
import numpy as np

from .._io.pages import CHUNK_VALUES, rows_per_chunk
from .._network import all_layers
from .._quiet import info_lines_held_back, without_retracing_warnings


class Backend:
    """What one Keras backend does its own way; a module of this package per backend
    makes the one instance of its subclass, ``BACKEND``."""

    #: Keras's name of the backend.
    name = None

    def steps(self, network, chunk_batches, batch_size, *, xla=False):
        """The :class:`Steps` that train ``network`` (see there for the arguments)."""
        raise NotImplementedError

    def compiles_for_chunk_shape(self, xla):
        """Whether steps made with ``xla`` are compiled for one shape of chunk, so
        that steps for another ``(chunk_batches, batch_size)`` differ."""
        raise NotImplementedError

    def in_distributed_scope(self):
        """Whether training is inside the scope of a distribution over devices."""
        return False

    def to_numpy(self, tensor):
        """``tensor``, a tensor of the backend, as a numpy array (which may share its
        memory)."""
        return np.asarray(keras.ops.convert_to_numpy(tensor))

    def compiled_call(self, reference):
        """A function of a numpy array of rows that returns ``model(rows,
        training=False)`` (a tensor of the backend, or an array), compiled where the
        backend compiles; ``reference`` is a weak reference to the model, which the
        function must not keep alive."""
        raise NotImplementedError


def variable_values(variable):
    """A numpy copy of a Keras variable's value, which later training leaves alone.

    Through the backend rather than numpy's ``__array__``, which warns on JAX and
    refuses a torch tensor that takes part in training.
    """
    from . import to_numpy

    return np.array(to_numpy(variable.value))


def model_variables(model):
    """The variables that training changes: the model's, then its optimizer's."""
    return [*model.variables, *model.optimizer.variables]


def assign_all(targets, sources):
    """Set each Keras variable of ``targets`` to the value of its ``sources`` peer (a
    variable or an array)."""
    for target, source in zip(targets, sources, strict=True):
        target.assign(source)


def built_optimizer(model):
    """``model``'s optimizer, with its variables made for ``model``'s weights."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


class Steps:
    """The compiled steps of one network; a subclass per backend fills them in.

    Steps are compiled for one network and train any model of the same architecture:
    between :meth:`load` and :meth:`finish`, they train one model, the network they
    were compiled for, or another of the same architecture whose state is copied in
    and out (see :mod:`.reuse`, which keeps steps for later fits). Chunks of batches
    are ``(rows, positions)``: ``rows`` an array of shape ``(n_rows, n_features)``, or
    None for the resident data given to :meth:`load`, and ``positions`` an int32 array
    of shape ``(n_batches, batch_size)`` whose row ``i`` picks the rows of batch ``i``.

    Parameters
    ----------
    network : keras.Model
        Compiled with the optimizer that trains it and the name of a Keras loss
        function. A batch's loss is that function's mean over the batch, plus the
        model's regularization losses, as ``Model.fit`` computes it.
    chunk_batches : int
        The most batches in a chunk.
    batch_size : int
        Rows of a full batch; an epoch's last batch may hold fewer.
    xla : bool, default=False
        On TensorFlow, whether full chunks are trained by a function that XLA compiles,
        where the network and the distribution strategy allow it. JAX always compiles
        with XLA; torch runs its steps eagerly.
    """

    def __init__(self, network, chunk_batches, batch_size, xla=False):
        self.network = network
        self.chunk_batches, self.batch_size = chunk_batches, batch_size
        # The shapes of data that a function was compiled for (XLA compiles each anew).
        self.row_shapes = set()
        self._resident = None
        built_optimizer(network)

    @property
    def pinned(self):
        """Whether the backend keeps what it compiled for these steps even once they
        are gone (TensorFlow keeps what XLA compiled): dropping them saves nothing."""
        return False

    def load(self, model, resident=None):
        """Take the state of ``model`` (its optimizer built) in, and ``resident``: the
        data, or None, that chunks with ``rows=None`` name rows of."""
        raise NotImplementedError

    def train(self, rows, positions):
        """Train on a chunk; return the sum over its batches of loss times rows (a
        scalar the caller converts with ``float`` when it needs it)."""
        raise NotImplementedError

    def evaluate(self, rows, positions):
        """Return the same sum as :meth:`train` for a chunk, without training."""
        raise NotImplementedError

    def weight_values(self):
        """The model's current variables (trainable weights, then the others, such as
        batch normalization's moving statistics), as numpy arrays."""
        raise NotImplementedError

    def restore(self, values):
        """Set the model's variables to ``values`` (from :meth:`weight_values`)."""
        raise NotImplementedError

    def finish(self, model):
        """Write the trained state into ``model``'s variables and let the data go."""
        raise NotImplementedError


class Forward:
    """A network's forward pass, run on chunks of rows held in numpy arrays.

    Two implementations: :class:`.._inference.DenseForward`, numpy's products over the
    ``Dense`` layers of the networks that :mod:`.._network` builds from
    ``hidden_layer_sizes``, and :class:`CompiledForward`, a function compiled by the
    backend for any other network. :func:`.._inference.forward_function` picks one;
    the estimator never knows which.

    Attributes
    ----------
    rows_per_chunk : int
        The most rows :meth:`__call__` is given at once: as many as keep the widest
        layer's activations near :data:`.._io.pages.CHUNK_VALUES` values.
    """

    rows_per_chunk = 1

    def __call__(self, rows):
        """The network's output for ``rows`` (at most :attr:`rows_per_chunk` of them),
        as a new array in the network's float type."""
        raise NotImplementedError


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
    """``model(rows, training=False)``, compiled by the backend, on numpy chunks.

    On TensorFlow and JAX the call is compiled with XLA, on TensorFlow too for two
    reasons: its products give each row the same result wherever the row sits in a
    chunk (TensorFlow's own kernels round rows differently by position, so that
    reordering the rows would change the output), and it fuses the layers' elementwise
    work. XLA compiles for each shape of chunk, so chunks are padded to a power of two
    rows (or to :attr:`rows_per_chunk`): a few shapes per model, and on every backend
    a row's chunk has one shape whatever the rows beside it. The function holds the
    model weakly, so that it never keeps a model alive.
    """

    def __init__(self, model):
        from . import active

        self.rows_per_chunk = rows_per_chunk(CHUNK_VALUES, _widest_activation(model))
        self._dtype = np.dtype(keras.config.floatx())
        self._shapes = set()
        backend = active()
        self._run, self._to_numpy = backend.compiled_call(weakref.ref(model)), backend.to_numpy

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
        return self._to_numpy(output)[:n_rows]

    def _padded_rows(self, n_rows):
        return min(self.rows_per_chunk, 1 << max(0, n_rows - 1).bit_length())
