"""Feeding batches and splitting rows for training."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_autoencoder._training import ReconstructionBatches, split_validation


def epoch_rows(batches, epoch):
    """The rows (as the values of a one-column X holding 0..n-1) served in one epoch."""
    start = epoch * batches.batches_per_epoch
    served = [batches[index] for index in range(start, start + batches.batches_per_epoch)]
    for inputs, targets in served:
        assert inputs is targets
    return np.concatenate([inputs[:, 0] for inputs, _ in served]).astype(int)


@pytest.fixture
def X():
    return np.arange(23, dtype=np.float64).reshape(-1, 1)


def test_each_epoch_visits_every_row_once_in_a_fresh_order(X):
    batches = ReconstructionBatches(X, None, 5, dtype="float32", seed=3, endless=True)
    assert batches.num_batches is None and batches.batches_per_epoch == 5
    first, second = epoch_rows(batches, 0), epoch_rows(batches, 1)
    assert_array_equal(np.sort(first), np.arange(23))
    assert_array_equal(np.sort(second), np.arange(23))
    assert not np.array_equal(first, second)


def test_the_order_depends_on_the_seed_and_epoch_alone(X):
    batches = ReconstructionBatches(X, None, 5, dtype="float32", seed=3, endless=True)
    again = ReconstructionBatches(X, None, 5, dtype="float32", seed=3, endless=True)
    # Asked out of order, as a prefetching reader might, the batches are the same.
    late = epoch_rows(again, 2)
    assert_array_equal(epoch_rows(batches, 0), epoch_rows(again, 0))
    assert_array_equal(epoch_rows(batches, 2), late)


def test_without_a_seed_rows_come_in_order_and_cast(X):
    batches = ReconstructionBatches(X, np.array([4, 9, 11]), 2, dtype="float32")
    assert batches.num_batches == 2
    assert_array_equal(epoch_rows(batches, 0), [4, 9, 11])
    assert batches[0][0].dtype == np.float32


def test_a_subset_is_shuffled_within_itself(X):
    rows = np.arange(0, 23, 2)
    batches = ReconstructionBatches(X, rows, 4, dtype="float32", seed=0, endless=True)
    assert_array_equal(np.sort(epoch_rows(batches, 0)), rows)


def test_split_validation_is_disjoint_and_complete():
    rng = np.random.default_rng(0)
    train_rows, validation_rows = split_validation(50, 0.1, rng)
    assert len(validation_rows) == 5
    assert_array_equal(np.sort(np.concatenate([train_rows, validation_rows])), np.arange(50))


def test_split_validation_refuses_to_leave_nothing_to_train_on():
    with pytest.raises(ValueError, match="n_samples=2"):
        split_validation(2, 0.6, np.random.default_rng(0))
