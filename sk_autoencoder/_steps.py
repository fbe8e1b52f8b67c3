"""Compiled training and evaluation steps: many batches per call, on each backend.

Keras's ``Model.fit`` pays for its data path and per-step dispatch on every batch;
on a CPU that costs more than a small network's arithmetic. Here one compiled call
runs a whole chunk of batches, looping inside the compiled function: ``jax.lax``'s
``fori_loop`` on JAX, ``tf.while_loop`` on TensorFlow. The steps are Keras's own
pieces: the model's forward pass (``stateless_call`` on JAX, a call under a
``GradientTape`` on TensorFlow), the compiled loss's function and the model's
regularization losses, and its optimizer's update.

This is the one module that imports a backend's framework, lazily and only the
active one.
"""

import contextlib
import os
import re
import sys
import tempfile
import threading

import keras
import numpy as np

from ._layers import _TrainingCorruption

BACKENDS = ("tensorflow", "jax")


def compiled_steps(model, chunk_batches, batch_size, resident=None, *, xla=False):
    """Return the compiled steps that train ``model``.

    Parameters
    ----------
    model : keras.Model
        The network, compiled with the optimizer that trains it and the name of a Keras
        loss function. A batch's loss is that function's mean over the batch, plus the
        model's regularization losses, as ``Model.fit`` computes it.
    chunk_batches : int
        The most batches a chunk handed to :meth:`train` or :meth:`evaluate` holds.
    batch_size : int
        Rows of a full batch; an epoch's last batch may hold fewer.
    resident : ndarray of shape (n_samples, n_features) or None
        Data to copy into the backend once, for chunks that name rows of it.
    xla : bool, default=False
        On TensorFlow, whether full chunks (``chunk_batches`` batches of ``batch_size``
        rows) are trained by a function that XLA compiles (``jit_compile``), where the
        network and the distribution strategy allow it: about twice as fast an epoch on
        a CPU, for 1 to 2 s of compiling per fit (see :class:`_TensorFlowSteps`). JAX
        always compiles with XLA.

    Returns
    -------
    steps : object
        With ``train(rows, positions)`` and ``evaluate(rows, positions)``: ``rows`` is
        an array of shape ``(n_rows, n_features)``, or None for ``resident``, and
        ``positions`` an int32 array of shape ``(n_batches, batch_size)`` whose row
        ``i`` picks the rows of batch ``i``. Each returns the sum over the batches of
        loss times rows, a scalar the caller converts with ``float`` when it needs it.
        Also ``trainable_values()`` and ``restore(values)``; and ``finish()``, which
        leaves the trained state in the model's variables.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return _JaxSteps(model, keras.losses.get(model.loss), chunk_batches, batch_size, resident)
    if backend == "tensorflow":
        return _TensorFlowSteps(
            model,
            keras.losses.get(model.loss),
            resident,
            (chunk_batches, batch_size) if xla else None,
        )
    raise ValueError(
        f"sk_autoencoder trains on Keras's {' and '.join(BACKENDS)} backends; the "
        f"active backend is {backend!r}. Set KERAS_BACKEND to one of them."
    )


def _built_optimizer(model):
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


class _JaxSteps:
    """Steps as pure functions of the model's state, compiled with ``jax.jit``.

    The state (weights, non-trainable variables such as a corruption layer's seed,
    the optimizer's variables) lives in JAX arrays between calls and is written back
    to the Keras variables by :meth:`finish`. Chunks are padded to ``chunk_batches``
    batches (the padding is never run) of ``batch_size`` rows, so that one compiled
    function serves every chunk: an epoch's shorter last batch is padded with copies
    of a row that its loss leaves out. (Compiling a second function for that batch
    cost 0.55 s a fit on the seed workload.)
    """

    def __init__(self, model, loss_function, chunk_batches, batch_size, resident):
        import jax

        self._jax = jax
        self._model = model
        self._optimizer = optimizer = _built_optimizer(model)
        self._chunk_batches, self._batch_size = chunk_batches, batch_size
        self._resident = None if resident is None else jax.device_put(resident)
        self._state = (
            [variable.value for variable in model.trainable_variables],
            [variable.value for variable in model.non_trainable_variables],
            [variable.value for variable in optimizer.variables],
        )

        def batch_loss(trainable, non_trainable, x, width, training):
            """The loss of the batch's first ``width`` rows: the rest are padding."""
            y, non_trainable, losses = model.stateless_call(
                trainable, non_trainable, x, training=training, return_losses=True
            )
            kept = jax.numpy.arange(x.shape[0]) < width
            value = jax.numpy.sum(jax.numpy.where(kept, loss_function(x, y), 0)) / width
            for penalty in losses:
                value = value + penalty
            return value, non_trainable

        gradient = jax.value_and_grad(batch_loss, has_aux=True)

        # Under a Keras distribution (DataParallel), each batch is split across the
        # devices along its rows; XLA then runs the step on all of them and sums the
        # gradients, as Keras's own JAX trainer does with its data layout.
        distribution = keras.distribution.distribution()

        def batch(rows, positions, index):
            x = jax.numpy.take(rows, positions[index], axis=0)
            if distribution is not None:
                layout = distribution.get_data_layout(x.shape)
                x = keras.distribution.distribute_tensor(x, layout)
            return x

        def train_chunk(state, rows, positions, n_batches, width):
            def step(index, carry):
                trainable, non_trainable, optimizer_variables, total = carry
                x = batch(rows, positions, index)
                (value, non_trainable), grads = gradient(trainable, non_trainable, x, width, True)
                trainable, optimizer_variables = optimizer.stateless_apply(
                    optimizer_variables, grads, trainable
                )
                return trainable, non_trainable, optimizer_variables, total + value

            *state, total = jax.lax.fori_loop(
                0, n_batches, step, (*state, jax.numpy.zeros((), rows.dtype))
            )
            return tuple(state), total * width

        def evaluate_chunk(state, rows, positions, n_batches, width):
            trainable, non_trainable, _ = state

            def step(index, total):
                x = batch(rows, positions, index)
                return total + batch_loss(trainable, non_trainable, x, width, False)[0]

            total = jax.lax.fori_loop(0, n_batches, step, jax.numpy.zeros((), rows.dtype))
            return total * width

        self._train_chunk = jax.jit(train_chunk, donate_argnums=0)
        self._evaluate_chunk = jax.jit(evaluate_chunk)

    def _arguments(self, rows, positions):
        """``(rows, positions, n_batches, width)``, padded to full chunks of full batches.

        ``width`` is the chunk's batch size. The padding picks row 0, which is data.
        """
        n_batches, width = positions.shape
        padded = positions
        if positions.shape != (self._chunk_batches, self._batch_size):
            padded = np.zeros((self._chunk_batches, self._batch_size), np.int32)
            padded[:n_batches, :width] = positions
        if rows is not None and len(rows) < padded.size:
            rows = np.concatenate(
                [rows, np.zeros((padded.size - len(rows), rows.shape[1]), rows.dtype)]
            )
        return (self._resident if rows is None else rows), padded, n_batches, width

    def train(self, rows, positions):
        self._state, total = self._train_chunk(self._state, *self._arguments(rows, positions))
        return total

    def evaluate(self, rows, positions):
        return self._evaluate_chunk(self._state, *self._arguments(rows, positions))

    def trainable_values(self):
        return [np.array(value) for value in self._state[0]]

    def restore(self, values):
        self._state = ([self._jax.numpy.asarray(value) for value in values], *self._state[1:])

    def finish(self):
        variables = (
            self._model.trainable_variables,
            self._model.non_trainable_variables,
            self._optimizer.variables,
        )
        for group, values in zip(variables, self._state, strict=True):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)


def _replicated(train_step, model, loss_function, optimizer):
    """``train_step`` run on every replica of the ``tf.distribute`` strategy in scope.

    Replica ``i`` of ``n`` takes rows ``i, i + n, ...`` of the batch; its loss is the sum
    of their losses divided by the whole batch's row count (plus ``1 / n`` of the
    penalties), so that the replicas' gradients, which ``optimizer.apply`` sums across
    replicas, add up to the whole batch's.
    With one replica, ``train_step`` itself.
    """
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    n_replicas = strategy.num_replicas_in_sync
    if n_replicas == 1:
        return train_step

    def replica_step(x):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        part = x[replica::n_replicas]
        weights = model.trainable_variables
        with tf.GradientTape() as tape:
            losses = loss_function(part, model(part, training=True))
            value = tf.reduce_sum(losses) / tf.cast(tf.shape(x)[0], losses.dtype)
            for penalty in model.losses:
                value = value + penalty / n_replicas
        optimizer.apply(tape.gradient(value, weights), weights)
        return value

    def step(x):
        values = strategy.run(replica_step, args=(x,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    return step


class _TensorFlowSteps:
    """Steps as ``tf.function``s that update the model's variables in place.

    Inside a ``tf.distribute`` strategy's scope, each batch is split across the
    strategy's replicas (see :func:`_replicated`).

    Given ``xla_shape``, ``(chunk_batches, batch_size)``, chunks of that shape are
    trained by the same loop compiled with XLA (``jit_compile``), which fuses each
    step's elementwise work: on the seed workload 0.17 to 0.33 s an epoch instead of
    0.52 to 0.78, but 0.7 to 1.6 s more per fit, since each fit's new model is
    compiled anew (:data:`._training.XLA_VALUES` decides when that pays). Other
    chunks (an epoch's short last batch) take the loop without XLA, so that only one
    shape is ever compiled. Not under a ``tf.distribute`` strategy, nor for a network
    that corrupts its input.
    """

    def __init__(self, model, loss_function, resident, xla_shape=None):
        import tensorflow as tf

        self._model = model
        optimizer = _built_optimizer(model)
        weights = model.trainable_variables
        self._resident = None if resident is None else tf.convert_to_tensor(resident)
        signature = [
            tf.TensorSpec((None, model.input_shape[-1]), keras.config.floatx()),
            tf.TensorSpec((None, None), tf.int32),
        ]

        def batch_loss(x, training):
            value = keras.ops.mean(loss_function(x, model(x, training=training)))
            for penalty in model.losses:
                value = value + penalty
            return value

        def over_batches(rows, positions, step):
            """Sum ``step(batch)`` over the batches ``positions`` picks, in one while loop."""

            def body(index, total):
                return index + 1, total + step(tf.gather(rows, positions[index]))

            _, total = tf.while_loop(
                lambda index, _: index < tf.shape(positions)[0],
                body,
                (tf.constant(0), tf.zeros((), rows.dtype)),
            )
            return total * tf.cast(tf.shape(positions)[1], rows.dtype)

        def train_step(x):
            with tf.GradientTape() as tape:
                value = batch_loss(x, training=True)
            gradients = tape.gradient(value, weights)
            # In the default strategy's cross-replica context, which merge_call enters,
            # the optimizer applies the gradients as they are. From a replica context it
            # all-reduces them first, through a tf.custom_gradient that TensorFlow
            # registers for good in its global gradient registry: each fit's traced
            # graphs would stay alive with it.
            tf.distribute.get_replica_context().merge_call(
                lambda _: optimizer.apply(gradients, weights)
            )
            return value

        if tf.distribute.has_strategy():
            train_step = _replicated(train_step, model, loss_function, optimizer)
            xla_shape = None
        if any(isinstance(layer, _TrainingCorruption) for layer in model.layers):
            # XLA's random draws on a CPU made a denoising fit 7 to 11 times slower
            # (20,000 x 784, 2 epochs: 16.7 s instead of 2.4 with gaussian noise, 16.0
            # instead of 1.4 with masking).
            xla_shape = None

        def train_chunk(rows, positions):
            return over_batches(rows, positions, train_step)

        self._train = tf.function(train_chunk, input_signature=signature)
        self._xla_shape, self._xla_compiled = xla_shape, False
        if xla_shape is not None:
            self._train_xla = tf.function(train_chunk, input_signature=signature, jit_compile=True)
        self._evaluate = tf.function(
            lambda rows, positions: over_batches(
                rows, positions, lambda x: batch_loss(x, training=False)
            ),
            input_signature=signature,
        )

    def train(self, rows, positions):
        rows = self._resident if rows is None else rows
        if positions.shape != self._xla_shape:
            return self._train(rows, positions)
        if self._xla_compiled:
            return self._train_xla(rows, positions)
        with _info_lines_held_back():  # the first call compiles
            total = self._train_xla(rows, positions)
        self._xla_compiled = True
        return total

    def evaluate(self, rows, positions):
        return self._evaluate(self._resident if rows is None else rows, positions)

    def trainable_values(self):
        return [variable.value.numpy() for variable in self._model.trainable_variables]

    def restore(self, values):
        for variable, value in zip(self._model.trainable_variables, values, strict=True):
            variable.assign(value)

    def finish(self):
        pass


# Serializes the blocks that point file descriptor 2 elsewhere: two at once would
# each restore the other's target.
_STDERR_LOCK = threading.Lock()
# A line of TensorFlow's C++ log at INFO severity: "I1126 09:12:44.1 ..." or "I0000 ...".
_INFO_LINE = re.compile(rb"^I\d{4} ")


@contextlib.contextmanager
def _info_lines_held_back():
    """Leave out the INFO lines that TensorFlow's C++ code writes to stderr in the block.

    A process's first XLA compilation logs lines such as "XLA service ... initialized"
    and "Compiled cluster using XLA!" at INFO severity. ``TF_CPP_MIN_LOG_LEVEL``, which
    would silence them, is read once when TensorFlow starts, and the C++ code writes
    them to file descriptor 2, past ``sys.stderr``. So for the block, descriptor 2
    points at a temporary file; afterwards every line of it that is not an INFO line
    (warnings, errors, anything Python wrote) is written to stderr as it came.
    """
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no stderr to protect
            saved = None
        if saved is None:
            yield
            return
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                kept = [line for line in held if not _INFO_LINE.match(line)]
                if kept:
                    os.write(2, b"".join(kept))
