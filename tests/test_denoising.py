"""Behaviour of DenoisingAutoencoderTransformer."""

import pickle
import warnings

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._layers import MaskingNoise

from .test_base import run_python


def tiny(**params):
    defaults = dict(hidden_layer_sizes=(8,), epochs=5, random_state=0)
    return DenoisingAutoencoderTransformer(**{**defaults, **params})


def test_is_an_autoencoder_transformer_with_two_more_parameters():
    params = DenoisingAutoencoderTransformer().get_params()
    assert set(params) == set(AutoencoderTransformer().get_params()) | {"noise", "noise_level"}
    assert isinstance(DenoisingAutoencoderTransformer(), AutoencoderTransformer)


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_level_zero_is_the_plain_autoencoder(blobs, noise):
    denoising = tiny(noise=noise, noise_level=0.0).fit(blobs)
    plain = AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=5, random_state=0).fit(blobs)
    assert_array_equal(denoising.transform(blobs), plain.transform(blobs))


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_changes_training_but_not_inference(blobs, noise):
    # Not judged against PCA, which may keep PCA in both and train no final network.
    denoising = tiny(noise=noise, noise_level=0.3, early_stopping=False).fit(blobs)
    plain = AutoencoderTransformer(
        hidden_layer_sizes=(8,), epochs=5, early_stopping=False, random_state=0
    ).fit(blobs)
    assert len(denoising.loss_curve_) == len(plain.loss_curve_) == 5
    assert denoising.loss_curve_ != plain.loss_curve_
    codes = denoising.transform(blobs)
    assert_array_equal(denoising.transform(blobs), codes)
    x = blobs.astype(np.float32)
    assert_allclose(codes, keras.ops.convert_to_numpy(denoising.encoder_(x)), rtol=1e-5, atol=1e-6)
    # model_ holds the corruption, which is off outside training.
    clean = keras.ops.convert_to_numpy(denoising.decoder_(denoising.encoder_(x)))
    assert_allclose(keras.ops.convert_to_numpy(denoising.model_(x)), clean, rtol=1e-5, atol=1e-6)


def test_same_random_state_gives_the_same_noise(blobs):
    first = tiny(noise="salt_and_pepper", noise_level=0.3, batch_size=8).fit(blobs)
    second = tiny(noise="salt_and_pepper", noise_level=0.3, batch_size=8).fit(blobs)
    assert first.loss_curve_ == second.loss_curve_
    assert_array_equal(first.transform(blobs), second.transform(blobs))


def test_gaussian_noise_is_scaled_to_each_feature(blobs):
    X = blobs * np.array([1, 10, 100, 1, 1, 1])
    estimator = tiny(noise="gaussian", noise_level=0.5).fit(X)
    (layer,) = [lay for lay in estimator.model_.layers if "noise" in type(lay).__name__.lower()]
    assert_allclose(layer.stddev, 0.5 * X.std(axis=0), rtol=1e-6)


def test_validation_loss_measures_clean_reconstruction(blobs, held_out_rows):
    estimator = tiny(
        init="random",  # every candidate an epoch, of the curve
        noise="masking",
        noise_level=0.5,
        early_stopping=True,
        epochs=30,
        n_iter_no_change=30,  # every epoch runs; the best of them is kept
        tol=0.0,
        learning_rate=0.03,
        batch_size=8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(blobs)
    assert estimator.n_iter_ == 30
    (validation_rows,) = held_out_rows
    assert_allclose(
        -estimator.score(blobs[validation_rows]), min(estimator.validation_loss_curve_), rtol=1e-4
    )


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_pickle_round_trip(blobs, noise):
    estimator = tiny(noise=noise, noise_level=0.2).fit(blobs)
    restored = pickle.loads(pickle.dumps(estimator))
    assert_array_equal(restored.transform(blobs), estimator.transform(blobs))
    assert_array_equal(restored.score_samples(blobs), estimator.score_samples(blobs))
    assert type(restored.model_.layers[1]) is type(estimator.model_.layers[1])
    assert restored.model_.layers[1].get_config() == estimator.model_.layers[1].get_config()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise": "poisson"}, "'noise' parameter"),
        ({"noise_level": -0.1}, "'noise_level' parameter"),
        ({"noise_level": "high"}, "'noise_level' parameter"),
        ({"noise": "masking", "noise_level": 1.5}, "must be at most 1, got 1.5"),
        ({"noise": "salt_and_pepper", "noise_level": 2}, "must be at most 1, got 2"),
    ],
)
def test_invalid_noise_parameters_are_named(blobs, params, match):
    estimator = tiny(**params)
    with pytest.raises(ValueError, match=match):
        estimator.fit(blobs)
    assert not hasattr(estimator, "n_features_in_")


def test_gaussian_noise_level_may_exceed_one(blobs):
    assert np.all(np.isfinite(tiny(noise="gaussian", noise_level=2.0).fit(blobs).transform(blobs)))


def corrupt(X, noise, level, reference, rng):
    """Corrupt ``X`` the way the estimator corrupts its training batches."""
    if noise == "gaussian":
        return X + rng.normal(size=X.shape) * level * reference.std(axis=0)
    if noise == "masking":
        return np.where(rng.random(X.shape) < level, 0.0, X)
    draws = rng.random(X.shape)
    low, high = reference.min(axis=0), reference.max(axis=0)
    return np.where(draws < level / 2, low, np.where(draws < level, high, X))


def test_denoising_beats_the_plain_autoencoder_on_corrupted_digits():
    X_train, X_test = train_test_split(load_digits().data / 16, test_size=0.3, random_state=0)
    params = dict(output_activation="sigmoid", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = AutoencoderTransformer(16, **params).fit(X_train)
        for noise, level in [("gaussian", 0.5), ("masking", 0.3), ("salt_and_pepper", 0.2)]:
            denoising = DenoisingAutoencoderTransformer(
                16, noise=noise, noise_level=level, **params
            ).fit(X_train)
            corrupted = corrupt(X_test, noise, level, X_train, np.random.default_rng(1))
            errors = [
                np.mean((X_test - model.inverse_transform(model.transform(corrupted))) ** 2)
                for model in (denoising, plain)
            ]
            assert errors[0] <= 0.9 * errors[1], (noise, errors)


@pytest.mark.each_backend
def test_trains_under_jax():
    result = run_python(
        """
        import numpy as np
        from sk_autoencoder import DenoisingAutoencoderTransformer

        X = np.random.default_rng(0).normal(size=(40, 5))
        fits = [
            DenoisingAutoencoderTransformer(
                3, noise=noise, noise_level=0.3, hidden_layer_sizes=(6,), epochs=4,
                batch_size=8, early_stopping=False, random_state=0,
            ).fit(X)
            for noise in ("gaussian", "gaussian", "masking", "salt_and_pepper")
        ]
        assert fits[0].loss_curve_ == fits[1].loss_curve_
        assert all(np.isfinite(fit.loss_curve_).all() for fit in fits)
        print(len({tuple(fit.loss_curve_) for fit in fits}))
        """,
        KERAS_BACKEND="jax",
    )
    assert result.stdout.strip() == "3"


def test_layer_is_exported_for_keras_loading():
    assert keras.saving.get_registered_object("sk_autoencoder>MaskingNoise") is MaskingNoise
