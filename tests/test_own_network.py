"""A network of the user's own, and the ready convolutional one, in every role a
scikit-learn estimator plays: fit, transform, partial_fit, pickle, save, clone, search."""

import functools
import pickle

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

import sk_autoencoder
from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

from .networks import (
    conv_decoder,
    conv_encoder,
    dense_decoder,
    dense_encoder,
    unregistered_encoder,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def images():
    """200 digits as rows of 64 pixels in [0, 1] (8 x 8 images)."""
    return (load_digits().data[:200] / 16).astype(np.float32)


NETWORKS = {
    "dense builder": lambda: dict(encoder=dense_encoder, decoder=dense_decoder),
    "conv builder": lambda: dict(
        encoder=conv_encoder, decoder=conv_decoder, input_shape=(8, 8, 1)
    ),
    "ready conv": lambda: dict(network="conv", input_shape=(8, 8), output_activation="sigmoid"),
    "model instances": lambda: dict(
        encoder=dense_encoder((64,), 3, seed=1), decoder=dense_decoder((64,), 3, seed=2)
    ),
}


def estimator(network, **params):
    params = {**dict(epochs=2, batch_size=32, random_state=0), **NETWORKS[network](), **params}
    return AutoencoderTransformer(3, **params)


@pytest.mark.parametrize("network", NETWORKS)
def test_every_role_of_an_estimator(network, images, tmp_path):
    fitted = estimator(network).fit(images)
    codes = fitted.transform(images)
    reconstructions = fitted.inverse_transform(codes)
    assert codes.shape == (200, 3) and reconstructions.shape == (200, 64)
    assert np.isfinite(codes).all() and np.isfinite(reconstructions).all()
    error = np.mean((images - reconstructions) ** 2)
    assert fitted.score(images) == pytest.approx(-error, rel=1e-5)
    assert fitted.get_feature_names_out().shape == (3,)

    # A clone fits the same network from the same start: each fit builds its own.
    refitted = clone(fitted).fit(images)
    assert_allclose(refitted.transform(images), codes, rtol=1e-5, atol=1e-6)

    for restored in (pickle.loads(pickle.dumps(fitted)), save_and_load(fitted, tmp_path)):
        assert_allclose(restored.transform(images), codes, rtol=1e-6, atol=1e-7)
        assert_allclose(restored.inverse_transform(codes), reconstructions, rtol=1e-6, atol=1e-7)
        assert sorted(restored.get_params()) == sorted(fitted.get_params())

    n_iter = fitted.n_iter_
    fitted.partial_fit(images[:64])
    assert fitted.n_iter_ == n_iter + 1
    assert not np.allclose(fitted.transform(images), codes)


def save_and_load(fitted, tmp_path):
    path = tmp_path / "estimator.skae"
    fitted.save(path)
    return sk_autoencoder.load(path)


def test_builders_save_by_their_registered_names(images, tmp_path):
    params = dict(encoder=functools.partial(dense_encoder, width=5), decoder=dense_decoder)
    restored = save_and_load(AutoencoderTransformer(2, **params), tmp_path)
    assert restored.decoder is dense_decoder
    assert restored.encoder.func is dense_encoder and restored.encoder.keywords == {"width": 5}


def test_an_unregistered_builder_is_refused_at_save(tmp_path):
    unsaved = AutoencoderTransformer(encoder=unregistered_encoder, decoder=dense_decoder)
    with pytest.raises(TypeError, match="register_keras_serializable"):
        unsaved.save(tmp_path / "estimator.skae")
    assert not (tmp_path / "estimator.skae").exists()


def test_grid_search_over_the_builders_own_parameters(images):
    search = GridSearchCV(
        estimator("dense builder", epochs=3),
        {"encoder": [functools.partial(dense_encoder, width=width) for width in (2, 16)]},
        cv=2,
    ).fit(images)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.transform(images).shape == (200, 3)
    # Two widths give two networks, not the same one twice.
    first, second = search.cv_results_["mean_test_score"]
    assert first != second


def test_a_model_passed_is_never_trained_in_place(images):
    encoder, decoder = dense_encoder((64,), 3, seed=1), dense_decoder((64,), 3, seed=2)
    variables = encoder.variables + decoder.variables
    before = [keras.ops.convert_to_numpy(variable) for variable in variables]
    fitted = AutoencoderTransformer(3, encoder=encoder, decoder=decoder, epochs=2).fit(images)
    after = [keras.ops.convert_to_numpy(variable) for variable in variables]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    trained = {id(variable) for variable in fitted.model_.variables}
    assert not trained & {id(variable) for variable in encoder.variables}


def test_trains_as_keras_model_fit_does_with_dropout_and_batch_norm(images):
    # Same network, initial weights, dropout seeds, batches and epochs as Model.fit: the
    # same losses, and the same moving statistics of batch normalization afterwards.
    encoder, decoder = dense_encoder((64,), 3, seed=1), dense_decoder((64,), 3, seed=2)
    fitted = AutoencoderTransformer(
        3, encoder=encoder, decoder=decoder, epochs=3, batch_size=16, shuffle=False
    ).fit(images)
    features = keras.Input((64,))
    model = keras.Model(features, decoder(encoder(features)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    history = model.fit(images, images, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert_allclose(fitted.loss_curve_, history.history["loss"], rtol=1e-5)
    codes = keras.ops.convert_to_numpy(encoder(images, training=False))
    assert_allclose(fitted.transform(images), codes, rtol=1e-4, atol=1e-5)


def test_inference_runs_compiled_in_chunks_never_through_predict(images, monkeypatch):
    fitted = estimator("ready conv").fit(images)
    expected = keras.ops.convert_to_numpy(fitted.encoder_(images, training=False))

    def refuse(*args, **kwargs):
        raise AssertionError("keras.Model.predict was called")

    monkeypatch.setattr(keras.Model, "predict", refuse)
    # A few rows a chunk: the last one short, and padded on JAX.
    monkeypatch.setattr("sk_autoencoder._backends.base.CHUNK_VALUES", 37 * 8 * 8 * 32)
    assert_allclose(fitted.transform(images), expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(fitted.score_samples(images)).all()


def test_the_ready_conv_network_starts_as_pca(images):
    # Trained at a learning rate too small to move a weight, on every row: the start.
    untrained = AutoencoderTransformer(
        3,
        network="conv",
        input_shape=(8, 8, 1),
        learning_rate=1e-9,
        epochs=1,
        early_stopping=False,
    ).fit(images)
    pca = PCA(3, svd_solver="full").fit(images)
    assert_allclose(untrained.transform(images), pca.transform(images), rtol=1e-4, atol=1e-4)
    codes = pca.transform(images)
    assert_allclose(
        untrained.inverse_transform(codes), pca.inverse_transform(codes), rtol=1e-4, atol=1e-4
    )


def test_the_denoiser_corrupts_what_reaches_an_encoder_of_ones_own(images):
    denoiser = DenoisingAutoencoderTransformer(
        3,
        noise="masking",
        noise_level=0.3,
        epochs=2,
        random_state=0,
        encoder=dense_encoder,
        decoder=dense_decoder,
    ).fit(images)
    assert denoiser.model_.layers[1].name.startswith("masking")
    assert np.array_equal(denoiser.transform(images), denoiser.transform(images))


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(encoder=dense_encoder), ValueError, "encoder and decoder go together"),
        (dict(network="conv"), ValueError, "needs input_shape"),
        (dict(network="conv", input_shape=(2, 32, 1)), ValueError, "multiples of 4"),
        (dict(input_shape=(8, 9)), ValueError, r"holds 72 values per sample.*64 features"),
        (
            dict(network="conv", input_shape=(8, 8), encoder=conv_encoder, decoder=conv_decoder),
            ValueError,
            "leave network at its default",
        ),
        (
            dict(encoder=lambda shape, dim: "not a model", decoder=dense_decoder),
            TypeError,
            "not a keras.Model",
        ),
        (
            dict(encoder=functools.partial(dense_encoder, encoding_dim=5), decoder=dense_decoder),
            TypeError,
            "encoding_dim",
        ),
        (
            dict(encoder=lambda shape, dim: dense_encoder(shape, dim + 1), decoder=dense_decoder),
            ValueError,
            r"encoder gives codes of shape \(4,\).*\(3,\) expected",
        ),
        (
            dict(encoder=dense_encoder, decoder=lambda shape, dim: dense_decoder((60,), dim)),
            ValueError,
            r"decoder gives samples of shape \(60,\).*\(64,\) expected",
        ),
        (
            dict(encoder=conv_encoder, decoder=conv_decoder),
            ValueError,
            r"could not build a network for input_shape=\(64,\)",
        ),
        (
            dict(encoder=dense_encoder((10,), 3), decoder=dense_decoder((64,), 3)),
            ValueError,
            r"encoder cannot take inputs of shape \(64,\)",
        ),
    ],
)
def test_a_network_that_does_not_fit_gets_a_clear_error(images, params, error, match):
    unfitted = AutoencoderTransformer(3, epochs=1, **params)
    with pytest.raises(error, match=match):
        unfitted.fit(images)
    assert not hasattr(unfitted, "model_")
