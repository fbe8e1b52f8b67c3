"""The corruption layers: active only in training, seeded, fresh on every call."""

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_autoencoder._layers import MaskingNoise, SaltAndPepperNoise, ScaledGaussianNoise

N_FEATURES = 4


def make(kind, seed=0):
    if kind == "gaussian":
        return ScaledGaussianNoise([0.5, 1.0, 2.0, 0.0], seed=seed)
    if kind == "masking":
        return MaskingNoise(0.3, seed=seed)
    return SaltAndPepperNoise(0.2, low=[-1, -2, -3, -4], high=[1, 2, 3, 4], seed=seed)


def run(layer, x, training):
    return keras.ops.convert_to_numpy(layer(x, training=training))


@pytest.fixture
def x():
    return np.full((20_000, N_FEATURES), 0.5, dtype=np.float32)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_inactive_outside_training(kind, x):
    assert_array_equal(run(make(kind), x, training=False), x)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_seeded_and_fresh_on_every_call(kind, x):
    layer, twin, other = make(kind), make(kind), make(kind, seed=1)
    first, second = run(layer, x, True), run(layer, x, True)
    assert not np.array_equal(first, second)
    assert_array_equal(run(twin, x, True), first)
    assert not np.array_equal(run(other, x, True), first)


def test_gaussian_noise_has_each_feature_s_standard_deviation(x):
    noise = run(make("gaussian"), x, True) - x
    assert_allclose(noise.std(axis=0), [0.5, 1.0, 2.0, 0.0], atol=0.03)
    assert_allclose(noise.mean(axis=0), 0.0, atol=0.03)


def test_masking_zeroes_entries_at_the_rate(x):
    corrupted = run(make("masking"), x, True)
    assert set(np.unique(corrupted)) == {0.0, 0.5}
    assert np.mean(corrupted == 0) == pytest.approx(0.3, abs=0.01)


def test_salt_and_pepper_uses_each_feature_s_extremes_at_the_rate(x):
    corrupted = run(make("salt_and_pepper"), x, True)
    low, high = np.array([-1, -2, -3, -4]), np.array([1, 2, 3, 4])
    assert np.all((corrupted == 0.5) | (corrupted == low) | (corrupted == high))
    assert np.mean(corrupted == low) == pytest.approx(0.1, abs=0.01)
    assert np.mean(corrupted == high) == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_config_round_trip(kind, x):
    layer = make(kind)
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config
    assert_array_equal(run(rebuilt, x, True), run(make(kind), x, True))


@pytest.mark.parametrize("kind", ["masking", "salt_and_pepper"])
def test_rate_zero_changes_nothing(kind, x):
    layer = MaskingNoise(0.0) if kind == "masking" else SaltAndPepperNoise(0.0, [0] * 4, [1] * 4)
    assert_array_equal(run(layer, x, True), x)
