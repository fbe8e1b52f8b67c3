"""Compiled steps kept from one fit to the next fit of the same network.

Each fit builds a new Keras model, and compiling its steps costs more than a short fit
itself: TensorFlow traces them (and XLA compiles them for large fits), JAX compiles
them. Worse, TensorFlow never frees what XLA compiles, so that every fit of a new
model would keep its compiled code for the life of the process. So the steps that
trained one model are kept, compiled for a private copy of it (its twin), and train
any later model of the same architecture, whatever its weights: the model's weights
and optimizer state are copied into the twin before training and back after. A
grid search or a cross-validation compiles each network once.
"""

import collections
import contextlib
import inspect
import json
import threading

import keras

from .._layers import _TrainingCorruption
from .._network import describe_autoencoder, rebuild_autoencoder
from . import active
from .base import built_optimizer

# The most sets of idle steps kept, the least recently used dropped first, but for
# pinned ones (see Steps.pinned).
POOL_SIZE = 4

# Steps compiled for more shapes of data than this are not kept, unless pinned: JAX
# keeps what it compiled for each shape while the steps live.
MAX_ROW_SHAPES = 4


class _Pool:
    """Idle steps by the key of their network; a fit takes them out while it trains,
    so that concurrent fits never share steps."""

    def __init__(self, size):
        self._size, self._idle, self._lock = size, collections.OrderedDict(), threading.Lock()

    def take(self, key):
        with self._lock:
            return self._idle.pop(key, None)

    def give(self, key, steps):
        if not steps.pinned and len(steps.row_shapes) > MAX_ROW_SHAPES:
            return
        with self._lock:
            self._idle[key] = steps
            self._idle.move_to_end(key)
            unpinned = [kept for kept, idle in self._idle.items() if not idle.pinned]
            for stale in unpinned[: max(0, len(unpinned) - self._size)]:
                del self._idle[stale]

    def clear(self):
        with self._lock:
            self._idle.clear()

    def __len__(self):
        return len(self._idle)


_POOL = _Pool(POOL_SIZE)


def _optimizer_settings(optimizer):
    """The values ``optimizer`` was made with, but its name and learning rate; None if
    it does not keep them all as attributes of the same names.

    Read from its constructor's signature rather than ``get_config``, which reads the
    learning rate's variable back through numpy.
    """
    names = inspect.signature(type(optimizer).__init__).parameters
    names = [name for name in names if name not in ("self", "learning_rate", "name", "kwargs")]
    if not all(hasattr(optimizer, name) for name in names):
        return None
    return {name: getattr(optimizer, name) for name in names}


def reuse_key(model, backend, chunk_batches, batch_size, xla):
    """What steps compiled for ``model`` depend on, as a string; None when they may
    not serve another model: a network not built by :mod:`._network`, or training
    inside a distribution's scope (whose variables live on several devices).

    Seeds are left out: they set a model's initial state, which is copied in, not
    what the steps compute. Another architecture, activation, penalty, corruption,
    optimizer setting (but the learning rate, a variable that is copied in), loss,
    float type or shape of chunk gives another key.
    """
    description = describe_autoencoder(model)
    if description is None or description["dtype"] != keras.config.floatx():
        return None
    if backend.in_distributed_scope():
        return None
    optimizer = model.optimizer
    settings = _optimizer_settings(optimizer)
    if settings is None:
        return None
    chunk = (chunk_batches, batch_size) if backend.compiles_for_chunk_shape(xla) else None
    described = [
        backend.name,
        description,
        f"{type(optimizer).__module__}.{type(optimizer).__qualname__}",
        settings,
        model.loss,
        chunk,
    ]
    # repr() for anything JSON cannot say: an object's repr names the object, so that
    # such a model only ever meets its own steps.
    return json.dumps(described, sort_keys=True, default=repr)


def _twin(model):
    """A new model of ``model``'s architecture, compiled with a new optimizer like its."""
    corruption_classes = {cls.__name__: cls for cls in _TrainingCorruption.__subclasses__()}
    twin = rebuild_autoencoder(describe_autoencoder(model), corruption_classes)
    optimizer = model.optimizer
    optimizer = type(optimizer)(name=optimizer.name, **_optimizer_settings(optimizer))
    twin.compile(optimizer=optimizer, loss=model.loss)
    return twin


@contextlib.contextmanager
def compiled_steps(model, chunk_batches, batch_size, resident=None, *, xla=False):
    """Steps that train ``model`` within the block: kept ones if any fit its network.

    The arguments are :meth:`.base.Backend.steps`'s, and ``resident`` is the data, or
    None, that chunks with ``rows=None`` name rows of. When the block ends without an
    error, ``model``'s variables and its optimizer's hold the trained state, and the
    steps are kept for a later fit.
    """
    backend = active()
    built_optimizer(model)
    key = reuse_key(model, backend, chunk_batches, batch_size, xla)
    steps = None if key is None else _POOL.take(key)
    if steps is None:
        network = model if key is None else _twin(model)
        steps = backend.steps(network, chunk_batches, batch_size, xla=xla)
    steps.load(model, resident)
    yield steps
    steps.finish(model)
    if key is not None:
        _POOL.give(key, steps)
