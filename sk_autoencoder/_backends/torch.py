"""The torch backend: steps that run a chunk of batches in one Python loop of eager
torch operations, updating the network's variables in place.

Torch compiles nothing here (``torch.compile`` needs a C++ compiler at run time), so a
step costs its Python dispatch: the loop keeps to what a step needs, the forward pass,
``torch.autograd.grad`` and the optimizer's update, without ``Model.fit``'s data path
and callbacks. Calling a Keras model on torch costs more than its arithmetic does on a
small network, so the ``Dense`` networks that :mod:`.._network` builds (a denoiser's
too) run as torch's own products of their layers' variables (see :func:`_dense_pass`);
any other network is called through Keras. Likewise Keras's ``optimizer.apply`` costs
more than a small network's update: a plain Adam updates the variables through torch's
fused Adam (see :func:`_fused_adam`). Keras distributes training over devices on
JAX and TensorFlow only.
"""

import keras
import numpy as np
import torch
from torch.optim.adam import adam as torch_adam

from .._network import DECODER_NAME, ENCODER_NAME, describe_autoencoder
from .base import Backend, Steps, assign_all, model_variables, variable_values


class TorchBackend(Backend):
    name = "torch"

    def steps(self, network, chunk_batches, batch_size, *, xla=False):
        self.in_distributed_scope()
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

    def to_numpy(self, tensor):
        # keras.ops.convert_to_numpy goes through numpy's __array__, which torch's
        # tensors implement without the copy argument that numpy 2 passes: it warns.
        return tensor.detach().cpu().numpy()

    def compiled_call(self, reference):
        def run(rows):
            model = reference()
            with torch.no_grad():
                return model(_tensor(rows, _device(model)), training=False)

        return run


def _device(model):
    """The device that holds ``model``'s variables."""
    return model.variables[0].value.device


# Torch's own functions for the activations Keras computes the same way: calling
# Keras's goes through its conversions on every call.
_TORCH_ACTIVATIONS = {
    keras.activations.linear: lambda h: h,
    keras.activations.relu: torch.relu,
    keras.activations.sigmoid: torch.sigmoid,
    keras.activations.tanh: torch.tanh,
}


def _dense_pass(network):
    """For an autoencoder of ``Dense`` layers that :mod:`.._network` builds, a function
    that returns ``(forward, penalty)``: the network's call, ``forward(x, training)``,
    and the sum of its penalties, as torch's operations on the tensors its variables
    hold when the function is called (training updates them in place). A corruption
    layer before the encoder corrupts the batch in training, through its own
    ``corrupt``. None for any other network."""
    if describe_autoencoder(network) is None:
        return None
    # The input, the corruption layer if any (describe_autoencoder allows one), the
    # encoder and the decoder.
    corrupt = network.layers[1].corrupt if len(network.layers) == 4 else None
    stages = []
    for name in (ENCODER_NAME, DECODER_NAME):
        model = network.get_layer(name)
        # The last layer of a stage may see the stage's input too, first (_network).
        sees_input = isinstance(model.layers[-2], keras.layers.Concatenate)
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        stages.append([(layer, sees_input and layer is dense[-1]) for layer in dense])
    penalized = [layer for stage in stages for layer, _ in stage if layer.kernel_regularizer]

    def bound():
        plan = [
            [
                (
                    layer.kernel.value,
                    layer.bias.value,
                    _TORCH_ACTIVATIONS.get(layer.activation, layer.activation),
                    sees_input,
                )
                for layer, sees_input in stage
            ]
            for stage in stages
        ]
        kernels = [(layer.kernel_regularizer, layer.kernel.value) for layer in penalized]

        def forward(x, training):
            if training and corrupt is not None:
                x = corrupt(x)
            for stage in plan:
                inputs = h = x
                for kernel, bias, activation, sees_input in stage:
                    if sees_input:
                        h = torch.cat([inputs, h], dim=-1)
                    h = activation(torch.addmm(bias, h, kernel))
                x = h
            return x

        def penalty():
            return sum(regularizer(kernel) for regularizer, kernel in kernels)

        return forward, penalty

    return bound


def _fused_adam(optimizer, weights):
    """For Keras's Adam as the estimators make it (no AMSGrad, weight decay, clipping,
    moving average, loss scaling or gradient accumulation; a constant learning rate;
    no constraint on a variable), a function ``update(gradients)`` that applies one
    step of it to ``weights`` and the optimizer's moments in place, as one call of
    torch's fused Adam. None for any other optimizer, which ``optimizer.apply``
    updates.

    Keras adds epsilon to the square root of the second moment before its bias
    correction, torch after it: scaling epsilon by the correction's square root each
    step makes the two the same update. ``update`` returns the number of steps taken
    in all, which the caller writes to ``optimizer.iterations`` (once a chunk, as
    :meth:`TorchSteps.train` does).
    """
    # Keras's Adam keeps its moments, and a learning rate that may be a schedule, in
    # attributes of its own: another Keras that keeps them otherwise updates by apply.
    schedule = getattr(optimizer, "_learning_rate", None)
    plain = (
        isinstance(optimizer, keras.optimizers.Adam)
        and all(
            hasattr(optimizer, name)
            for name in ("_get_variable_index", "_momentums", "_velocities")
        )
        and not isinstance(optimizer, keras.optimizers.AdamW)
        and not optimizer.amsgrad
        and not optimizer.weight_decay
        and optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
        and not optimizer.use_ema
        and optimizer.loss_scale_factor is None
        and not optimizer.gradient_accumulation_steps
        and isinstance(schedule, keras.Variable)
        and all(
            weight.constraint is None and not weight.overwrite_with_gradient for weight in weights
        )
    )
    if not plain:
        return None
    index = optimizer._get_variable_index
    moments = [optimizer._momentums[index(weight)].value for weight in weights]
    velocities = [optimizer._velocities[index(weight)].value for weight in weights]
    tensors = [weight.value for weight in weights]
    done = int(optimizer.iterations)
    # One count per variable, beside it: torch's Adam adds one to each every step.
    counts = [
        torch.tensor(float(done), dtype=torch.float32, device=tensor.device) for tensor in tensors
    ]
    learning_rate = float(optimizer.learning_rate)
    beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)

    def update(gradients):
        nonlocal done
        done += 1
        torch_adam(
            tensors,
            # Laid out as the variables are (a convolution's kernel's gradient comes
            # back transposed): the fused kernel walks them element by element.
            [gradient.contiguous() for gradient in gradients],
            moments,
            velocities,
            [],
            counts,
            fused=True,
            amsgrad=False,
            beta1=beta_1,
            beta2=beta_2,
            lr=learning_rate,
            weight_decay=0.0,
            eps=optimizer.epsilon / (1 - beta_2**done) ** 0.5,
            maximize=False,
        )
        return done

    return update


def _row_mean_loss(name):
    """The mean over a batch of Keras's loss ``name``, as a function of ``(x, y)``."""
    if name in ("mse", "mean_squared_error"):
        # One kernel forward and one backward, where the mean of the squared
        # difference takes several on the batch's every value.
        return lambda x, y: torch.nn.functional.mse_loss(y, x)
    function = keras.losses.get(name)
    return lambda x, y: torch.mean(function(x, y))


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
        self._loss = _row_mean_loss(network.loss)
        self._dense = _dense_pass(network)

    def _batch_loss(self):
        """A function of a batch and ``training`` that returns the batch's loss."""
        if self._dense is not None:
            forward, penalty = self._dense()
            return lambda x, training: self._loss(x, forward(x, training)) + penalty()
        network = self.network

        def batch_loss(x, training):
            value = self._loss(x, network(x, training=training))
            for penalty in network.losses:
                value = value + penalty
            return value

        return batch_loss

    def _chunk(self, rows, positions):
        rows = self._resident if rows is None else _tensor(rows, self._device)
        return rows, torch.from_numpy(positions.astype(np.int64)).to(self._device)

    def load(self, model, resident=None):
        if model is not self.network:
            assign_all(model_variables(self.network), model_variables(model))
        self._resident = None if resident is None else _tensor(resident, self._device)

    def train(self, rows, positions):
        rows, positions = self._chunk(rows, positions)
        weights = self.network.trainable_variables
        tensors = [variable.value for variable in weights]
        optimizer, batch_loss = self.network.optimizer, self._batch_loss()
        update = _fused_adam(optimizer, weights)
        total = torch.zeros((), dtype=rows.dtype, device=self._device)
        steps = None
        try:
            for batch in positions:
                # index_select copies whole rows; rows[batch] walks the elements.
                value = batch_loss(torch.index_select(rows, 0, batch), True)
                gradients = torch.autograd.grad(value, tensors)
                with torch.no_grad():
                    if update is None:
                        optimizer.apply(list(gradients), weights)
                    else:
                        steps = update(gradients)
                total += value.detach()
        finally:
            if steps is not None:
                optimizer.iterations.assign(steps)
        return total * positions.shape[1]

    def evaluate(self, rows, positions):
        rows, positions = self._chunk(rows, positions)
        batch_loss = self._batch_loss()
        total = torch.zeros((), dtype=rows.dtype, device=self._device)
        with torch.no_grad():
            for batch in positions:
                total += batch_loss(torch.index_select(rows, 0, batch), False)
        return total * positions.shape[1]

    def weight_values(self):
        return [variable_values(variable) for variable in self.network.variables]

    def restore(self, values):
        assign_all(self.network.variables, values)

    def finish(self, model):
        if model is not self.network:
            assign_all(model_variables(model), model_variables(self.network))
        self._resident = None


BACKEND = TorchBackend()
