"""Training an autoencoder with Keras: batches, chunks, early stopping, divergence.

The estimator decides every value; this module knows Keras, not scikit-learn. The
compiled steps that run the batches are in :mod:`._backends`.
"""

import contextlib
import itertools
import math
from dataclasses import dataclass

import keras
import numpy as np

from ._backends.reuse import compiled_steps
from ._io.pages import memory_mapped, read_at_random, release_pages, row_chunks, rows_per_chunk
from ._quiet import without_retracing_warnings

# The most bytes of batches carried from the host to one compiled call. Chunks of a
# few MiB stay in the CPU's caches and keep memory bounded whatever the size of X; per
# call, the compiled loop's fixed cost is then spread over many batches (seed workload,
# JAX: 0.23 s an epoch in chunks of 16 batches, 0.42 s in one chunk of 234).
CHUNK_BYTES = 16 * 2**20

# Rows of another dtype than the network's are gathered this many bytes at a time.
GATHER_BYTES = 2**20

# Training data up to this size (in the network's float type) is copied into the
# backend once, and each batch is gathered there: 0.24 s an epoch instead of 0.32 on
# the seed workload (JAX), where gathering shuffled rows on the host costs 0.05 s.
# Larger data, and memory-mapped data of any size, is gathered chunk by chunk.
RESIDENT_BYTES = 256 * 2**20

# On TensorFlow, resident training whose epochs hold at least this many values in all
# (epochs x rows x features; 3 epochs of benchmarks.speed's seed workload) is compiled
# with XLA: a faster epoch for a compile that a shorter fit would not win back
# (python -m benchmarks.fits measures both). Chunked data and partial_fit (one epoch of
# at most RESIDENT_BYTES) keep the loop without XLA; so do the networks that the steps
# leave out (see _backends.tensorflow.TensorFlowSteps).
XLA_VALUES = 2**27

# An epoch's training loss this many times the lowest before it means training diverged,
# as a loss that is not finite does: no optimizer recovers from such a jump.
EXPLOSION = 1e4


class Batches:
    """The batches of rows of ``X`` that each epoch visits, grouped into chunks.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data; read, never modified.
    rows : ndarray of int or None
        The rows of ``X`` to serve; ``None`` serves all of them.
    batch_size : int
        Rows per batch; an epoch's last batch may be smaller.
    chunk_batches : int
        The most batches in one chunk.
    dtype : str
        The dtype the chunks are cast to (the model's float type).
    seed : int or None
        With a seed, epoch ``e`` visits the rows in an order drawn from ``(seed, e)``
        alone; without one, every epoch visits them in order.
    resident : bool, default=False
        Whether the steps hold ``X`` already: chunks then name rows of ``X`` rather
        than carry them.
    """

    def __init__(self, X, rows, batch_size, *, chunk_batches, dtype, seed=None, resident=False):
        self.X = X
        self.rows = rows
        self.batch_size = batch_size
        self.chunk_batches = chunk_batches
        self.dtype = dtype
        self.seed = seed
        self.resident = resident
        self.n_rows = X.shape[0] if rows is None else len(rows)
        self.n_batches = math.ceil(self.n_rows / batch_size)

    def rows_of_epoch(self, epoch):
        """The rows of ``X`` that epoch ``epoch`` visits, in order."""
        rows = np.arange(self.n_rows) if self.rows is None else self.rows
        if self.seed is None:
            return rows
        return rows[np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)]

    def chunks(self, epoch):
        """Yield epoch ``epoch``'s batches as ``(rows, positions)`` pairs.

        ``positions``, of shape ``(n, batch_size)``, holds each batch's rows as indices
        into ``rows``: the rows gathered from ``X`` (in ``dtype``), or ``None`` for
        ``X`` itself when it is resident. Full batches come ``chunk_batches`` at a
        time; a shorter last batch comes alone.
        """
        order = self.rows_of_epoch(epoch)
        full_rows = self.n_rows - self.n_rows % self.batch_size
        chunk_rows = self.chunk_batches * self.batch_size
        bounds = [*range(0, full_rows, chunk_rows), full_rows]
        if full_rows < self.n_rows:
            bounds.append(self.n_rows)
        for start, stop in itertools.pairwise(bounds):
            shape = (-1, min(self.batch_size, stop - start))
            if self.resident:
                yield None, order[start:stop].astype(np.int32).reshape(shape)
            else:
                rows = gathered(self.X, order[start:stop], self.dtype)
                yield rows, np.arange(stop - start, dtype=np.int32).reshape(shape)


def gathered(X, rows, dtype):
    """``X[rows]`` in ``dtype``; from another dtype, gathered a few rows at a time, so
    that no copy of more than :data:`GATHER_BYTES` is made in ``X``'s own dtype. From a
    memory-mapped ``X``, the pages read are released afterwards."""
    if X.dtype == dtype:
        gathered = X[rows]
    else:
        gathered = np.empty((len(rows), X.shape[1]), dtype)
        step = rows_per_chunk(GATHER_BYTES, X.shape[1] * X.dtype.itemsize)
        for index in row_chunks(len(rows), step):
            gathered[index] = X[rows[index]]
    release_pages(X)
    return gathered


def chunk_batches(batch_size, n_features, n_batches, dtype):
    """Batches per chunk: as many as fit in :data:`CHUNK_BYTES`, at most ``n_batches``."""
    batch_bytes = batch_size * n_features * np.dtype(dtype).itemsize
    return max(1, min(n_batches, rows_per_chunk(CHUNK_BYTES, batch_bytes)))


class _Patience:
    """Keras's ``EarlyStopping`` rule: stop after ``patience`` epochs without improvement.

    An epoch improves when its loss is below the best so far by more than ``tol``; the
    first epoch always does. Stopping waits for the second epoch at least.
    """

    def __init__(self, tol, patience):
        self.tol, self.patience = tol, patience
        self.best, self.wait = math.inf, 0

    def update(self, loss):
        """Record an epoch's loss; return ``(improved, stop)``."""
        self.wait += 1
        if loss + self.tol < self.best:
            self.best, self.wait = loss, 0
            return True, False
        return False, self.wait >= self.patience


@dataclass(frozen=True)
class TrainingHistory:
    """What one call of :func:`train` learned about its run.

    ``kept_epoch`` is the epoch (counted from 1 in this call) whose weights the model
    holds at the end: the last, the best validation epoch, or 0 where the weights
    training started from were kept. ``diverged_epoch`` is the epoch at which training
    diverged (see :func:`train`), or None.
    """

    loss_curve: list
    validation_loss_curve: list | None
    stopped_early: bool
    kept_epoch: int
    diverged_epoch: int | None = None

    @property
    def kept_candidate(self):
        """Whether the model ends with finite weights chosen among its candidates: it
        did not diverge, or a candidate from before was restored when it did."""
        return self.diverged_epoch is None or self.kept_epoch < self.diverged_epoch


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


def _mean_loss(steps_function, batches, epoch, progress=None):
    """Run ``steps_function`` on every chunk of an epoch; return the mean loss per row.

    Where the backend runs asynchronously (JAX), the next chunk is gathered while the
    last one computes, and handed over once it is done: one chunk computes while one
    is gathered, and memory stays bounded however fast the host gathers.
    """
    total, done, pending = 0.0, 0, None
    for rows, positions in batches.chunks(epoch):
        if pending is not None:
            total += float(pending)  # waits for the chunk before
        pending = steps_function(rows, positions)
        done += positions.shape[0]
        # The epoch's last update, with its losses, is the caller's: it ends the bar.
        if progress is not None and done < batches.n_batches:
            progress.update(done)
    return (total + float(pending)) / batches.n_rows


def _all_finite(values):
    return all(np.isfinite(value).all() for value in values)


def _diverged(loss, lowest):
    """Whether an epoch's training ``loss`` says training diverged (``lowest``: the
    lowest epoch loss before it)."""
    return not np.isfinite(loss) or loss > EXPLOSION * lowest


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
    first_epoch=0,
    start=None,
):
    """Fit ``model`` (compiled) to reconstruct ``X``; return a :class:`TrainingHistory`.

    Each epoch's loss is the mean, over its batches weighted by their rows, of the
    batch's loss (the one ``model`` is compiled with) plus the model's regularization
    losses, as ``Model.fit`` reports it. Training stops when the monitored loss (the
    validation loss when ``validation_rows`` is given, else the training loss) has not
    improved by more than ``tol`` for ``n_iter_no_change`` epochs. When validating, the
    weights of the best validation epoch are restored. ``shuffle_seed`` is ``None`` to
    visit the rows in order every epoch. ``verbose`` 1 shows a progress bar per epoch,
    2 one line per epoch. The epochs are numbered from ``first_epoch`` (which draws
    their orders) when training continues.

    ``start`` says what the weights training starts from are: ``"candidate"``, one of
    the weights to keep (with validation rows, their loss there is the one to beat, and
    the model ends with them unless an epoch beat it; training that diverges ends with
    them where no epoch was kept before); ``"fallback"``, kept only where training
    diverges; None, neither.

    Training diverges when an epoch's loss is not finite or jumps past
    :data:`EXPLOSION` times the lowest before it, or when the weights to keep are not
    finite. It then stops, and the model ends with the best candidate from before (the
    best validation epoch, or the start where ``start`` says so); with none, the weights
    are left as they are, for the caller to refuse (``history.kept_candidate`` is
    False).
    """
    dtype = keras.config.floatx()
    n_train = X.shape[0] if train_rows is None else len(train_rows)
    resident = X.size * np.dtype(dtype).itemsize <= RESIDENT_BYTES and not memory_mapped(X)
    # A resident chunk carries row numbers only: a whole epoch's fit in one call.
    per_chunk = max(1, n_train // batch_size)
    if not resident:
        per_chunk = chunk_batches(batch_size, X.shape[1], per_chunk, dtype)
    common = dict(chunk_batches=per_chunk, dtype=dtype, resident=resident)
    batches = Batches(X, train_rows, batch_size, seed=shuffle_seed, **common)
    validating = validation_rows is not None
    validation = Batches(X, validation_rows, batch_size, **common) if validating else None
    xla = resident and epochs * n_train * X.shape[1] >= XLA_VALUES
    patience = _Patience(tol, n_iter_no_change)
    loss_curve, validation_loss_curve = [], [] if validating else None
    best_weights, stopped_early, kept_epoch, diverged_epoch = None, False, epochs, None
    training = compiled_steps(
        model,
        per_chunk,
        batch_size,
        resident=np.asarray(X, dtype=dtype) if resident else None,
        xla=xla,
    )
    # Shuffled batches read a memory-mapped X in no order (see _io.pages.read_at_random).
    reading = contextlib.nullcontext() if shuffle_seed is None else read_at_random(X)
    with training as steps, without_retracing_warnings(), reading:
        start_weights = None if start is None else steps.weight_values()
        if start == "candidate" and validating:
            patience.best = _mean_loss(steps.evaluate, validation, 0)
            best_weights, kept_epoch = start_weights, 0
        for epoch in range(first_epoch, first_epoch + epochs):
            progress = None
            if verbose:
                print(f"Epoch {epoch + 1}/{first_epoch + epochs}", flush=True)
                progress = keras.utils.Progbar(
                    batches.n_batches, verbose=verbose, stateful_metrics=["loss", "val_loss"]
                )
            loss = _mean_loss(steps.train, batches, epoch, progress)
            lowest = min(loss_curve, default=math.inf)
            loss_curve.append(loss)
            if _diverged(loss, lowest):
                diverged_epoch = len(loss_curve)
                break
            logs = [("loss", loss)]
            if validating:
                validation_loss_curve.append(_mean_loss(steps.evaluate, validation, 0))
                logs.append(("val_loss", validation_loss_curve[-1]))
            if progress is not None:
                progress.update(batches.n_batches, values=logs, finalize=True)
            improved, stop = patience.update(logs[-1][1])
            if validating and improved:
                weights = steps.weight_values()
                if not _all_finite(weights):
                    diverged_epoch = len(loss_curve)
                    break
                best_weights, kept_epoch = weights, epoch - first_epoch + 1
            if stop and epoch > first_epoch:
                stopped_early = True
                break
        if not validating and diverged_epoch is None:
            kept_epoch = len(loss_curve)
            if not _all_finite(steps.weight_values()):
                diverged_epoch = kept_epoch
        elif best_weights is None and diverged_epoch is None:
            # No epoch's validation loss was finite: the network fails on those rows.
            diverged_epoch = len(loss_curve)
        if diverged_epoch is not None:
            if best_weights is None and start_weights is not None:
                best_weights, kept_epoch = start_weights, 0
            elif best_weights is None:
                kept_epoch = len(loss_curve)
        if best_weights is not None:
            steps.restore(best_weights)
    return TrainingHistory(
        loss_curve=loss_curve,
        validation_loss_curve=validation_loss_curve,
        stopped_early=stopped_early,
        kept_epoch=kept_epoch,
        diverged_epoch=diverged_epoch,
    )
