"""Feeding batches and splitting rows for training."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_autoencoder._training import CHUNK_BYTES, Batches, chunk_batches, split_validation


def epoch_rows(batches, epoch):
    """The rows (as the values of a one-column X holding 0..n-1) served in one epoch."""
    chunks = list(batches.chunks(epoch))
    for chunk in chunks:
        assert chunk.ndim == 3 and chunk.shape[0] <= batches.chunk_batches
    return np.concatenate([chunk.reshape(-1) for chunk in chunks]).astype(int)


@pytest.fixture
def X():
    return np.arange(23, dtype=np.float64).reshape(-1, 1)


def test_each_epoch_visits_every_row_once_in_a_fresh_order(X):
    batches = Batches(X, None, 5, chunk_batches=2, dtype="float32", seed=3)
    assert batches.n_batches == 5
    first, second = epoch_rows(batches, 0), epoch_rows(batches, 1)
    assert_array_equal(np.sort(first), np.arange(23))
    assert_array_equal(np.sort(second), np.arange(23))
    assert not np.array_equal(first, second)


def test_full_batches_come_in_chunks_and_a_short_last_batch_alone(X):
    batches = Batches(X, None, 5, chunk_batches=3, dtype="float32")
    shapes = [chunk.shape for chunk in batches.chunks(0)]
    assert shapes == [(3, 5, 1), (1, 5, 1), (1, 3, 1)]


def test_the_order_depends_on_the_seed_and_epoch_alone(X):
    batches = Batches(X, None, 5, chunk_batches=2, dtype="float32", seed=3)
    again = Batches(X, None, 5, chunk_batches=4, dtype="float32", seed=3)
    late = epoch_rows(again, 2)
    assert_array_equal(epoch_rows(batches, 0), epoch_rows(again, 0))
    assert_array_equal(epoch_rows(batches, 2), late)


def test_without_a_seed_rows_come_in_order_and_cast(X):
    batches = Batches(X, np.array([4, 9, 11]), 2, chunk_batches=8, dtype="float32")
    assert batches.n_batches == 2
    assert_array_equal(epoch_rows(batches, 0), [4, 9, 11])
    assert next(batches.chunks(0)).dtype == np.float32


def test_a_subset_is_shuffled_within_itself(X):
    rows = np.arange(0, 23, 2)
    batches = Batches(X, rows, 4, chunk_batches=2, dtype="float32", seed=0)
    assert_array_equal(np.sort(epoch_rows(batches, 0)), rows)


@pytest.mark.parametrize(
    ("batch_size", "n_features", "n_batches", "expected"),
    [(256, 784, 234, 20), (64, 64, 28, 28), (2**20, 64, 3, 1)],
)
def test_a_chunk_holds_what_fits_in_its_bytes(batch_size, n_features, n_batches, expected):
    assert CHUNK_BYTES == 16 * 2**20
    assert chunk_batches(batch_size, n_features, n_batches, "float32") == expected


def test_split_validation_is_disjoint_and_complete():
    rng = np.random.default_rng(0)
    train_rows, validation_rows = split_validation(50, 0.1, rng)
    assert len(validation_rows) == 5
    assert_array_equal(np.sort(np.concatenate([train_rows, validation_rows])), np.arange(50))


def test_split_validation_refuses_to_leave_nothing_to_train_on():
    with pytest.raises(ValueError, match="n_samples=2"):
        split_validation(2, 0.6, np.random.default_rng(0))
