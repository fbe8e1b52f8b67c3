"""The TensorFlow backend: steps as ``tf.function``s that run a chunk of batches in a
``tf.while_loop`` (compiled with XLA where that pays), updating the network's variables
in place."""

import keras
import tensorflow as tf

from .._layers import _TrainingCorruption
from .._network import has_convolutions
from .._quiet import info_lines_held_back
from .base import Backend, Steps, assign_all, model_variables


class TensorFlowBackend(Backend):
    name = "tensorflow"

    def steps(self, network, chunk_batches, batch_size, *, xla=False):
        return TensorFlowSteps(network, chunk_batches, batch_size, xla)

    def compiles_for_chunk_shape(self, xla):
        return xla

    def in_distributed_scope(self):
        return tf.distribute.has_strategy()

    def to_numpy(self, tensor):
        # A variable's value is a tf.Variable, whose __array__ numpy 2 warns about.
        return tensor.numpy()

    def compiled_call(self, reference):
        return tf.function(lambda rows: reference()(rows, training=False), jit_compile=True)


def _replicated(train_step, model, loss_function, optimizer):
    """``train_step`` run on every replica of the ``tf.distribute`` strategy in scope.

    Replica ``i`` of ``n`` takes rows ``i, i + n, ...`` of the batch; its loss is the sum
    of their losses divided by the whole batch's row count (plus ``1 / n`` of the
    penalties), so that the replicas' gradients, which ``optimizer.apply`` sums across
    replicas, add up to the whole batch's.
    With one replica, ``train_step`` itself.
    """
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


class TensorFlowSteps(Steps):
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

    def load(self, model, resident=None):
        if model is not self.network:
            assign_all(model_variables(self.network), model_variables(model))
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
        assign_all(self.network.variables, values)

    def finish(self, model):
        if model is not self.network:
            assign_all(model_variables(model), model_variables(self.network))
        self._resident = None


BACKEND = TensorFlowBackend()
