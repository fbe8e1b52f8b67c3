"""Training an autoencoder with Keras: feeding batches, early stopping, divergence.

The estimator decides every value; this module knows Keras, not scikit-learn.
"""

import contextlib
import logging
import math
from dataclasses import dataclass

import keras
import numpy as np


class ReconstructionBatches(keras.utils.PyDataset):
    """Batches ``(x, x)`` of rows of ``X``: an autoencoder's inputs are its targets.

    Each batch is gathered from ``X`` when Keras asks for it, so that a large array
    (or a ``numpy.memmap``) is never copied whole into the backend's tensors.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data; read, never modified.
    rows : ndarray of int or None
        The rows of ``X`` to serve; ``None`` serves all of them.
    batch_size : int
        Rows per batch; an epoch's last batch may be smaller.
    dtype : str
        The dtype the batches are cast to (the model's float type).
    seed : int or None
        With a seed, epoch ``e`` visits the rows in an order drawn from ``(seed, e)``
        alone; without one, every epoch visits them in order.
    endless : bool, default=False
        Serve epoch after epoch (Keras is then told ``steps_per_epoch``) rather than
        one epoch. Keras builds the next epoch's iterator, and TensorFlow starts
        prefetching from it, before it tells the dataset that an epoch has ended: an
        order kept as state and redrawn at the epoch's end would race with that
        prefetch, while an order that is a pure function of the batch index cannot.
    """

    def __init__(self, X, rows, batch_size, *, dtype, seed=None, endless=False):
        super().__init__()
        self.X = X
        self.rows = rows
        self.batch_size = batch_size
        self.dtype = dtype
        self.seed = seed
        self.endless = endless
        self.n_rows = X.shape[0] if rows is None else len(rows)
        self.batches_per_epoch = math.ceil(self.n_rows / batch_size)
        self._epoch = None
        self._epoch_rows = rows

    @property
    def num_batches(self):
        return None if self.endless else self.batches_per_epoch

    def _rows_of_epoch(self, epoch):
        if self.seed is not None and epoch != self._epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)
            self._epoch_rows = order if self.rows is None else self.rows[order]
            self._epoch = epoch
        return self._epoch_rows

    def __getitem__(self, index):
        epoch, position = divmod(index, self.batches_per_epoch)
        in_batch = slice(position * self.batch_size, (position + 1) * self.batch_size)
        rows = self._rows_of_epoch(epoch)
        batch = self.X[in_batch] if rows is None else self.X[rows[in_batch]]
        batch = np.asarray(batch, dtype=self.dtype)
        return batch, batch


def _as_tf_dataset(batches, n_batches):
    """The first ``n_batches`` of ``batches`` as a ``tf.data.Dataset``, for TensorFlow.

    Keras hands a ``PyDataset`` to TensorFlow through ``tf.data.Dataset.from_generator``,
    whose first use in a process logs a line from TensorFlow's C++ core ("Memory patch
    applied"). A dataset of batch indices mapped through ``tf.numpy_function`` serves
    the same batches in the same order, one at a time from the array, and logs nothing.
    """
    import tensorflow as tf

    n_features = batches.X.shape[1]

    def gather(index):
        return batches[int(index)][0]

    def pair(index):
        x = tf.numpy_function(gather, [index], Tout=tf.as_dtype(batches.dtype))
        x = tf.ensure_shape(x, [None, n_features])
        return x, x

    return tf.data.Dataset.range(n_batches).map(pair).prefetch(1)


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training at the end of the first epoch whose loss is not finite."""

    def on_epoch_end(self, epoch, logs=None):
        if not np.isfinite((logs or {}).get("loss", 0.0)):
            self.model.stop_training = True


class _NoRetracingWarning(logging.Filter):
    """Drop TensorFlow's warning that recent calls of a ``tf.function`` retraced it.

    Every fit builds a new model, whose train function TensorFlow traces once. It
    counts traces by the function's code, which all models share, so a run of short
    fits (a grid search, a whole epoch per call) sets the warning off although nothing
    is traced twice.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _without_retracing_warnings():
    """Filter the retracing warning out of TensorFlow's logger for the block, and only it."""
    logger, no_retracing_warning = logging.getLogger("tensorflow"), _NoRetracingWarning()
    logger.addFilter(no_retracing_warning)
    try:
        yield
    finally:
        logger.removeFilter(no_retracing_warning)


@dataclass(frozen=True)
class TrainingHistory:
    """What one call of :func:`train` learned about its run."""

    loss_curve: list
    validation_loss_curve: list | None
    stopped_early: bool


def split_validation(n_samples, validation_fraction, rng):
    """Draw the rows held out for early stopping; return ``(train_rows, validation_rows)``.

    Raises ``ValueError`` when either part would be empty.
    """
    n_validation = math.ceil(validation_fraction * n_samples)
    if n_validation >= n_samples:
        raise ValueError(
            f"early_stopping holds out validation_fraction={validation_fraction} of the "
            f"rows for validation, which leaves no rows to train on with "
            f"n_samples={n_samples}. Pass more rows or set early_stopping=False."
        )
    order = rng.permutation(n_samples)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def steps_per_execution(batches_per_epoch):
    """Training steps per call of Keras's compiled train function: a whole epoch on TensorFlow.

    Entering TensorFlow's compiled function costs about 2 ms per call, as much as a
    small model's arithmetic on a batch; running the epoch in one call pays it once
    (digits, default network: 67 ms an epoch instead of 128). The count must be the
    epoch's exact number of batches: Keras draws whole executions from the endless
    batch stream, so any other count would shift every later epoch's batches. On JAX
    the multi-step path measured no faster, so it runs one step per call.
    """
    return batches_per_epoch if keras.backend.backend() == "tensorflow" else 1


def train(
    model,
    X,
    *,
    batch_size,
    epochs,
    shuffle_seed,
    validation_rows,
    train_rows,
    n_iter_no_change,
    tol,
    verbose,
):
    """Fit ``model`` (compiled) to reconstruct ``X``; return a :class:`TrainingHistory`.

    Training stops when the monitored loss (the validation loss when
    ``validation_rows`` is given, else the training loss) has not improved by at
    least ``tol`` for ``n_iter_no_change`` epochs, or when the loss stops being
    finite. When validating, the weights of the best validation epoch are restored.
    ``shuffle_seed`` is ``None`` to visit the rows in order every epoch.
    """
    dtype = keras.config.floatx()
    batches = ReconstructionBatches(
        X, train_rows, batch_size, dtype=dtype, seed=shuffle_seed, endless=True
    )
    steps_per_epoch = batches.batches_per_epoch
    validating = validation_rows is not None
    validation = (
        ReconstructionBatches(X, validation_rows, batch_size, dtype=dtype) if validating else None
    )
    if keras.backend.backend() == "tensorflow":
        batches = _as_tf_dataset(batches, epochs * batches.batches_per_epoch)
        if validating:
            validation = _as_tf_dataset(validation, validation.batches_per_epoch)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss" if validating else "loss",
        min_delta=tol,
        patience=n_iter_no_change,
        restore_best_weights=validating,
    )
    with _without_retracing_warnings():
        history = model.fit(
            batches,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation,
            callbacks=[_StopOnNonFiniteLoss(), early_stopping],
            shuffle=False,
            verbose=verbose,
        )
    return TrainingHistory(
        loss_curve=[float(v) for v in history.history["loss"]],
        validation_loss_curve=(
            [float(v) for v in history.history["val_loss"]] if validating else None
        ),
        stopped_early=early_stopping.stopped_epoch > 0,
    )
