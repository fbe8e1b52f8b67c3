"""Feeding batches and splitting rows for training."""

import os
import tracemalloc
import warnings

import keras
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._backends.base import variable_values as values_of
from sk_autoencoder._backends.reuse import compiled_steps
from sk_autoencoder._io.pages import memory_mapped
from sk_autoencoder._quiet import info_lines_held_back
from sk_autoencoder._start import principal_components
from sk_autoencoder._training import (
    CHUNK_BYTES,
    EXPLOSION,
    GATHER_BYTES,
    Batches,
    chunk_batches,
    split_validation,
    train,
)


def epoch_rows(batches, epoch):
    """The rows (as the values of a one-column X holding 0..n-1) served in one epoch."""
    served = []
    for rows, positions in batches.chunks(epoch):
        assert positions.dtype == np.int32 and positions.shape[0] <= batches.chunk_batches
        rows = batches.X if rows is None else rows
        served.append(rows[positions].reshape(-1))
    return np.concatenate(served).astype(int)


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


@pytest.mark.parametrize("resident", [False, True])
def test_full_batches_come_in_chunks_and_a_short_last_batch_alone(X, resident):
    batches = Batches(X, None, 5, chunk_batches=3, dtype="float32", resident=resident)
    chunks = list(batches.chunks(0))
    assert [positions.shape for _, positions in chunks] == [(3, 5), (1, 5), (1, 3)]
    if resident:
        assert all(rows is None for rows, _ in chunks)
    else:
        assert [rows.shape for rows, _ in chunks] == [(15, 1), (5, 1), (3, 1)]


def test_resident_chunks_name_the_rows_others_carry(X):
    rows = np.arange(1, 23, 2)
    carried = Batches(X, rows, 4, chunk_batches=2, dtype="float32", seed=5)
    named = Batches(X, rows, 4, chunk_batches=2, dtype="float32", seed=5, resident=True)
    assert_array_equal(epoch_rows(carried, 3), epoch_rows(named, 3))


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
    assert next(batches.chunks(0))[0].dtype == np.float32


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


def test_memory_mapped_data_is_never_resident(tmp_path):
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(4, 2))
    assert memory_mapped(X) and memory_mapped(np.asarray(X)[1:])
    assert not memory_mapped(np.ones((4, 2)))


def test_other_backends_are_refused_by_name(monkeypatch):
    monkeypatch.setattr("keras.backend.backend", lambda: "openvino")
    with pytest.raises(
        ValueError, match="jax and torch backends; the active backend is 'openvino'"
    ):
        with compiled_steps(None, 1, 1):
            pass


def traced_peak_of_fit(path, dtype):
    """The peak of numpy's traced allocations while fitting a memory-mapped X of 179
    MiB (float32) or 359 MiB (float64) for one epoch."""
    X = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(60_000, 784))
    X[:] = np.random.default_rng(0).random(X.shape, dtype=np.float32)
    X.flush()
    estimator = AutoencoderTransformer(
        4, hidden_layer_sizes=(), batch_size=256, epochs=1, shuffle=True, random_state=0
    )
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(np.load(path, mmap_mode="r"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert estimator.n_iter_ == 1
    assert 4 * CHUNK_BYTES < X.nbytes / 2
    return peak


def test_memory_mapped_data_is_never_copied_whole(tmp_path):
    # numpy's allocations are traced: a copy of X, whole or cast, would show in the peak.
    peaks = {
        dtype: traced_peak_of_fit(tmp_path / f"{dtype}.npy", dtype)
        for dtype in ("float32", "float64")
    }
    # At most three chunks of CHUNK_BYTES at once (one computing, the next gathered,
    # JAX's padded copy of an epoch's last), whatever the size of X: one chunk spare.
    assert max(peaks.values()) < 4 * CHUNK_BYTES, peaks
    # Rows of float64 are cast a few at a time, never a whole chunk of them at once:
    # fitting them takes no more than float32 rows (a float64 chunk is 2 MiB a batch).
    assert peaks["float64"] < peaks["float32"] + 2 * GATHER_BYTES, peaks


def test_held_back_stderr_keeps_all_but_tensorflow_info_lines(capfd):
    os.write(2, b"before\n")
    with info_lines_held_back():
        os.write(2, b"I0000 00:00:17.1  1 service.cc:153] XLA service initialized\n")
        os.write(2, b"W1126 09:12:44.1  1 x.cc:2] a warning\n")
        os.write(2, b"Traceback: any other line\n")
        os.write(2, b"I1126 09:12:44.2  1 device_compiler.h:208] Compiled cluster\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == (
        "before\nW1126 09:12:44.1  1 x.cc:2] a warning\nTraceback: any other line\nafter\n"
    )


@pytest.mark.parametrize("noise", [None, "gaussian", "masking", "salt_and_pepper"])
def test_only_networks_without_random_draws_are_compiled_with_xla(monkeypatch, noise):
    # XLA's random draws on a CPU made denoising fits 7 to 11 times slower.
    held_back = []
    if keras.backend.backend() == "tensorflow":  # XLA is TensorFlow's choice to make
        import sk_autoencoder._backends.tensorflow

        hold_back = sk_autoencoder._backends.tensorflow.info_lines_held_back

        def counted():
            held_back.append(1)
            return hold_back()

        monkeypatch.setattr(sk_autoencoder._backends.tensorflow, "info_lines_held_back", counted)
    monkeypatch.setattr("sk_autoencoder._training.XLA_VALUES", 0)
    X = np.random.default_rng(0).random((64, 6))
    params = dict(hidden_layer_sizes=(4,), epochs=2, batch_size=16, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if noise is None:
            AutoencoderTransformer(2, **params).fit(X)
        else:
            DenoisingAutoencoderTransformer(2, noise=noise, **params).fit(X)
    on_tensorflow = keras.backend.backend() == "tensorflow"
    assert len(held_back) == (1 if noise is None and on_tensorflow else 0)


def small_model(learning_rate, start=None):
    """A compiled 6-4-2-4-6 autoencoder, seeded; started as PCA's ``(mean, components)``
    where ``start`` is given."""
    from sk_autoencoder._network import build_autoencoder, build_decoder, build_encoder
    from sk_autoencoder._start import start_at_pca

    shape = dict(n_features=6, encoding_dim=2, hidden_layer_sizes=(4,), activation="relu")
    skip = start is not None
    encoder = build_encoder(**shape, seeds=[1, 2], alpha=0.0, skip=skip)
    decoder = build_decoder(
        **shape, output_activation="linear", seeds=[3, 4], alpha=0.0, skip=skip
    )
    if skip:
        start_at_pca(encoder, decoder, *start, "linear")
    model = build_autoencoder(encoder, decoder)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


def run_training(model, X, **kwargs):
    settings = dict(
        batch_size=16,
        epochs=5,
        shuffle_seed=0,
        train_rows=None,
        validation_rows=None,
        n_iter_no_change=10,
        tol=0.0,
        verbose=0,
    )
    return train(model, X, **{**settings, **kwargs})


def variable_values(model):
    return [values_of(variable) for variable in model.variables]


@pytest.fixture
def normal_rows():
    return np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32)


def test_a_loss_that_explodes_is_divergence_and_the_start_is_kept(normal_rows):
    model = small_model(learning_rate=1e9)
    start = variable_values(model)
    history = run_training(model, normal_rows, start="fallback")
    # Stopped at the epoch whose loss jumped, finite or not.
    assert history.diverged_epoch == len(history.loss_curve) < 5
    last, lowest = history.loss_curve[-1], min(history.loss_curve[:-1], default=np.inf)
    assert not np.isfinite(last) or last > EXPLOSION * lowest
    assert history.kept_epoch == 0 and history.kept_candidate
    for value, before in zip(variable_values(model), start, strict=True):
        assert_array_equal(value, before)


def test_divergence_with_nothing_to_keep_is_left_for_the_caller(normal_rows):
    history = run_training(small_model(learning_rate=1e9), normal_rows, start=None)
    assert history.diverged_epoch is not None and not history.kept_candidate


def test_the_start_as_a_candidate_is_kept_where_no_epoch_beats_it():
    # Rows on a plane, which the start (their PCA) reconstructs exactly, and a
    # learning rate that only spoils it: no epoch does better on the held-out rows.
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(60, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)
    model = small_model(learning_rate=0.5, start=principal_components(X, np.arange(60), 2))
    start = variable_values(model)
    held_out = dict(train_rows=np.arange(48), validation_rows=np.arange(48, 60))
    history = run_training(model, X, start="candidate", **held_out)
    assert history.kept_epoch == 0 and history.diverged_epoch is None
    assert len(history.validation_loss_curve) == 5
    for value, before in zip(variable_values(model), start, strict=True):
        assert_array_equal(value, before)
    # As a fallback only, the start gives way to the best epoch.
    fallback = small_model(learning_rate=0.5, start=principal_components(X, np.arange(60), 2))
    assert run_training(fallback, X, start="fallback", **held_out).kept_epoch > 0
