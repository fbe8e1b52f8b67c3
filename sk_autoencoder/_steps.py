"""Compiled training and evaluation steps: many batches per call, on each backend.

Keras's ``Model.fit`` pays for its data path and per-step dispatch on every batch;
on a CPU that costs more than a small network's arithmetic. Here one compiled call
runs a whole chunk of batches, looping inside the compiled function: ``jax.lax``'s
``fori_loop`` on JAX, ``tf.while_loop`` on TensorFlow. The steps are Keras's own
pieces: the model's forward pass (``stateless_call`` on JAX, a call under a
``GradientTape`` on TensorFlow), the compiled loss's function and the model's
regularization losses, and its optimizer's update.

Steps are compiled for one network and train any model of the same architecture:
:meth:`Steps.load` takes a model's weights and optimizer state in, :meth:`Steps.finish`
writes the trained state back (see :mod:`._reuse`, which keeps steps for later fits).

This is the one module that imports a backend's framework, lazily and only the
active one.
"""

import keras
import numpy as np

from ._layers import _TrainingCorruption
from ._network import describe_autoencoder, has_convolutions
from ._quiet import info_lines_held_back

BACKENDS = ("tensorflow", "jax")


def check_backend():
    """Return the active Keras backend's name; ``ValueError`` if it trains on neither."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ValueError(
            f"sk_autoencoder trains on Keras's {' and '.join(BACKENDS)} backends; the "
            f"active backend is {backend!r}. Set KERAS_BACKEND to one of them."
        )
    return backend


def in_distributed_scope(backend):
    """Whether training is inside a distribution's scope: a Keras distribution on JAX,
    a ``tf.distribute`` strategy on TensorFlow."""
    if backend == "jax":
        return keras.distribution.distribution() is not None
    import tensorflow as tf

    return tf.distribute.has_strategy()


def build_steps(network, chunk_batches, batch_size, *, xla=False):
    """Compile the :class:`Steps` that train ``network`` on the active backend."""
    if check_backend() == "jax":
        return _JaxSteps(network, chunk_batches, batch_size, xla)
    return _TensorFlowSteps(network, chunk_batches, batch_size, xla)


def model_variables(model):
    """The variables that training changes: the model's, then its optimizer's."""
    return [*model.variables, *model.optimizer.variables]


def built_optimizer(model):
    """``model``'s optimizer, with its variables made for ``model``'s weights."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


class Steps:
    """The compiled steps of one network; a subclass per backend fills them in.

    Between :meth:`load` and :meth:`finish`, the steps train one model: the network
    they were compiled for, or another of the same architecture whose state is copied
    in and out. Chunks of batches are ``(rows, positions)``: ``rows`` an array of shape
    ``(n_rows, n_features)``, or None for the resident data given to :meth:`load`,
    and ``positions`` an int32 array of shape ``(n_batches, batch_size)`` whose row
    ``i`` picks the rows of batch ``i``.

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
        where the network and the distribution strategy allow it (see
        :class:`_TensorFlowSteps`). JAX always compiles with XLA.
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


class _JaxSteps(Steps):
    """Steps as pure functions of the model's state, compiled with ``jax.jit``.

    The state (weights, non-trainable variables such as a corruption layer's seed,
    the optimizer's variables) lives in JAX arrays between :meth:`load` and
    :meth:`finish`; the network is used only for its structure (``stateless_call``,
    ``stateless_apply``). Chunks are padded to ``chunk_batches`` batches (the padding
    is never run) of ``batch_size`` rows, so that one compiled function serves every
    chunk: an epoch's shorter last batch is padded with copies of a row that its loss
    leaves out, rather than compiled for again (but in networks whose rows interact:
    see :meth:`_arguments`).
    """

    def __init__(self, network, chunk_batches, batch_size, xla=False):
        super().__init__(network, chunk_batches, batch_size, xla)
        import jax

        self._jax = jax
        self._state = None
        self._pads_batches = describe_autoencoder(network) is not None
        loss_function = keras.losses.get(network.loss)
        optimizer = network.optimizer

        def batch_loss(trainable, non_trainable, x, width, training):
            """The loss of the batch's first ``width`` rows: the rest are padding."""
            y, non_trainable, losses = network.stateless_call(
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

    @staticmethod
    def _groups(model):
        return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables

    def load(self, model, resident=None):
        # The training function donates the state's buffers: those of a model that
        # is not the network are copied, so that they stay the model's own.
        copy = (lambda value: value) if model is self.network else self._jax.numpy.array
        self._state = tuple(
            [copy(variable.value) for variable in group] for group in self._groups(model)
        )
        self._resident = None if resident is None else self._jax.device_put(resident)

    def _arguments(self, rows, positions):
        """``(rows, positions, n_batches, width)``, padded to full chunks of batches.

        ``width`` is the chunk's batch size. A short batch is padded to a full one
        with row 0, which is data, only where each row's output depends on that row
        alone (the Dense networks :mod:`._network` builds): in any other network
        (batch normalization, say) padding would change the batch's statistics, so
        the short batch runs at its own width, compiled once more.
        """
        n_batches, width = positions.shape
        full = (self.chunk_batches, self.batch_size if self._pads_batches else width)
        padded = positions
        if positions.shape != full:
            padded = np.zeros(full, np.int32)
            padded[:n_batches, :width] = positions
        if rows is not None and len(rows) < padded.size:
            rows = np.concatenate(
                [rows, np.zeros((padded.size - len(rows), rows.shape[1]), rows.dtype)]
            )
        rows = self._resident if rows is None else rows
        self.row_shapes.add(rows.shape)
        return rows, padded, n_batches, width

    def train(self, rows, positions):
        self._state, total = self._train_chunk(self._state, *self._arguments(rows, positions))
        return total

    def evaluate(self, rows, positions):
        return self._evaluate_chunk(self._state, *self._arguments(rows, positions))

    def weight_values(self):
        return [np.array(value) for group in self._state[:2] for value in group]

    def restore(self, values):
        n_trainable = len(self._state[0])
        values = [self._jax.numpy.asarray(value) for value in values]
        self._state = (values[:n_trainable], values[n_trainable:], self._state[2])

    def finish(self, model):
        for group, values in zip(self._groups(model), self._state, strict=True):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)
        self._state = self._resident = None


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


class _TensorFlowSteps(Steps):
    """Steps as ``tf.function``s that update the network's variables in place.

    A model other than the network has its state copied into the network's variables
    by :meth:`load` and back by :meth:`finish`. Inside a ``tf.distribute`` strategy's
    scope, each batch is split across the strategy's replicas (see :func:`_replicated`).

    With ``xla``, full chunks (``chunk_batches`` batches of ``batch_size`` rows) are
    trained by the same loop compiled with XLA (``jit_compile``), which fuses each
    step's elementwise work: faster an epoch on a CPU, for seconds of compiling the
    first time each shape of data is seen (``benchmarks.fits`` measures both;
    :data:`._training.XLA_VALUES` decides when that pays). Other chunks (an epoch's
    short last batch) take the loop without XLA, so that only one shape of chunk is
    compiled. Not under a ``tf.distribute`` strategy, nor for a network that corrupts
    its input: XLA's random draws are slow on a CPU.
    """

    def __init__(self, network, chunk_batches, batch_size, xla=False):
        super().__init__(network, chunk_batches, batch_size, xla)
        import tensorflow as tf

        self._tf = tf
        loss_function = keras.losses.get(network.loss)
        optimizer, weights = network.optimizer, network.trainable_variables
        signature = [
            tf.TensorSpec((None, network.input_shape[-1]), keras.config.floatx()),
            tf.TensorSpec((None, None), tf.int32),
        ]

        def batch_loss(x, training):
            value = keras.ops.mean(loss_function(x, network(x, training=training)))
            for penalty in network.losses:
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
            # registers for good in its global gradient registry: each network's traced
            # graphs would stay alive with it.
            tf.distribute.get_replica_context().merge_call(
                lambda _: optimizer.apply(gradients, weights)
            )
            return value

        if tf.distribute.has_strategy():
            train_step = _replicated(train_step, network, loss_function, optimizer)
            xla = False
        if any(isinstance(layer, _TrainingCorruption) for layer in network.layers):
            xla = False
        if has_convolutions(network):
            xla = False

        def train_chunk(rows, positions):
            return over_batches(rows, positions, train_step)

        self._train = tf.function(train_chunk, input_signature=signature)
        self._xla_shape = (chunk_batches, batch_size) if xla else None
        if xla:
            self._train_xla = tf.function(train_chunk, input_signature=signature, jit_compile=True)
        self._evaluate = tf.function(
            lambda rows, positions: over_batches(
                rows, positions, lambda x: batch_loss(x, training=False)
            ),
            input_signature=signature,
        )

    @property
    def pinned(self):
        return bool(self.row_shapes)

    def _copy(self, sources, targets):
        for target, source in zip(targets, sources, strict=True):
            target.assign(source)

    def load(self, model, resident=None):
        if model is not self.network:
            self._copy(model_variables(model), model_variables(self.network))
        self._resident = None if resident is None else self._tf.convert_to_tensor(resident)

    def train(self, rows, positions):
        rows = self._resident if rows is None else rows
        if positions.shape != self._xla_shape:
            return self._train(rows, positions)
        if tuple(rows.shape) in self.row_shapes:
            return self._train_xla(rows, positions)
        with info_lines_held_back():  # a new shape of data: XLA compiles
            total = self._train_xla(rows, positions)
        self.row_shapes.add(tuple(rows.shape))
        return total

    def evaluate(self, rows, positions):
        return self._evaluate(self._resident if rows is None else rows, positions)

    def weight_values(self):
        return [variable.value.numpy() for variable in self.network.variables]

    def restore(self, values):
        self._copy(values, self.network.variables)

    def finish(self, model):
        if model is not self.network:
            self._copy(model_variables(self.network), model_variables(model))
        self._resident = None
