"""The torch backend: steps that run a chunk of batches in one Python loop of eager
torch operations, updating the network's variables in place.

Torch compiles nothing here (``torch.compile`` needs a C++ compiler at run time), so a
step costs its Python dispatch: the loop keeps to what a step needs, the model's call,
``torch.autograd.grad`` and the optimizer's update, without ``Model.fit``'s data path
and callbacks. Keras distributes training over devices on JAX and TensorFlow only.
"""

import keras
import numpy as np
import torch

from .base import Backend, Steps, model_variables


class TorchBackend(Backend):
    name = "torch"

    def steps(self, network, chunk_batches, batch_size, *, xla=False):
        return TorchSteps(network, chunk_batches, batch_size, xla)

    def compiles_for_chunk_shape(self, xla):
        return False

    def in_distributed_scope(self):
        if keras.distribution.distribution() is not None:
            raise ValueError(
                "Keras distributes training over several devices on its JAX and "
                "TensorFlow backends, not on torch: train on one device, or set "
                "KERAS_BACKEND to jax or tensorflow."
            )
        return False

    def compiled_call(self, reference):
        def run(rows):
            model = reference()
            with torch.no_grad():
                return model(_tensor(rows, _device(model)), training=False)

        return run


def _device(model):
    """The device that holds ``model``'s variables."""
    return model.variables[0].value.device


def _tensor(array, device):
    """A torch tensor of ``array`` on ``device``, sharing its memory where it can."""
    if not array.flags.writeable:  # torch does not view read-only memory
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


class TorchSteps(Steps):
    """Steps that train the network's variables in place, a batch at a time.

    A model other than the network has its state copied into the network's variables
    by :meth:`load` and back by :meth:`finish`.
    """

    def __init__(self, network, chunk_batches, batch_size, xla=False):
        super().__init__(network, chunk_batches, batch_size, xla)
        self._device = _device(network)
        self._loss_function = keras.losses.get(network.loss)

    def _batch_loss(self, x, training):
        network = self.network
        value = torch.mean(self._loss_function(x, network(x, training=training)))
        for penalty in network.losses:
            value = value + penalty
        return value

    def _chunk(self, rows, positions):
        rows = self._resident if rows is None else _tensor(rows, self._device)
        return rows, torch.from_numpy(positions.astype(np.int64)).to(self._device)

    def load(self, model, resident=None):
        if model is not self.network:
            _copy(model_variables(model), model_variables(self.network))
        self._resident = None if resident is None else _tensor(resident, self._device)

    def train(self, rows, positions):
        rows, positions = self._chunk(rows, positions)
        weights = self.network.trainable_variables
        tensors = [variable.value for variable in weights]
        optimizer = self.network.optimizer
        total = torch.zeros((), dtype=rows.dtype, device=self._device)
        for batch in positions:
            value = self._batch_loss(rows[batch], training=True)
            gradients = torch.autograd.grad(value, tensors)
            with torch.no_grad():
                optimizer.apply(list(gradients), weights)
            total += value.detach()
        return total * positions.shape[1]

    def evaluate(self, rows, positions):
        rows, positions = self._chunk(rows, positions)
        total = torch.zeros((), dtype=rows.dtype, device=self._device)
        with torch.no_grad():
            for batch in positions:
                total += self._batch_loss(rows[batch], training=False)
        return total * positions.shape[1]

    def weight_values(self):
        # Copies: the arrays numpy makes of a tensor share its memory, which training
        # goes on changing.
        return [
            variable.value.detach().cpu().numpy().copy() for variable in self.network.variables
        ]

    def restore(self, values):
        for variable, value in zip(self.network.variables, values, strict=True):
            variable.assign(value)

    def finish(self, model):
        if model is not self.network:
            _copy(model_variables(self.network), model_variables(model))
        self._resident = None


def _copy(sources, targets):
    for target, source in zip(targets, sources, strict=True):
        target.assign(source.value)


BACKEND = TorchBackend()
