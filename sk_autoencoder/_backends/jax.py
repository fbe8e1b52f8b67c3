"""The JAX backend: steps as pure functions of a model's state, compiled with ``jax.jit``,
each running a chunk of batches in a ``jax.lax.fori_loop``."""

import jax
import keras
import numpy as np

from .._network import describe_autoencoder
from .base import Backend, Steps


class JaxBackend(Backend):
    name = "jax"

    def steps(self, network, chunk_batches, batch_size, *, xla=False):
        return JaxSteps(network, chunk_batches, batch_size, xla)

    def compiles_for_chunk_shape(self, xla):
        return True

    def in_distributed_scope(self):
        return keras.distribution.distribution() is not None

    def compiled_call(self, reference):
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

        return run


class JaxSteps(Steps):
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


BACKEND = JaxBackend()
