"""The numpy forward pass computes what the Keras models compute."""

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose

from sk_autoencoder._inference import (
    ACTIVATIONS,
    DenseForward,
    dense_layers,
    forward,
    reconstruction_errors,
)
from sk_autoencoder._io.pages import row_chunks
from sk_autoencoder._network import build_autoencoder, build_decoder, build_encoder


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_each_activation_matches_keras(activation):
    # Values from -30 to 30 reach the saturated tails of every activation.
    x = np.linspace(-30, 30, 601, dtype=np.float32).reshape(-1, 1)
    inputs = keras.Input((1,))
    outputs = keras.layers.Dense(1, activation=activation, kernel_initializer="ones")(inputs)
    model = keras.Model(inputs, outputs)
    expected = keras.ops.convert_to_numpy(model(x))
    with np.errstate(all="raise"):
        got = forward(DenseForward(model), x)
    assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh", "selu"])
def test_forward_matches_the_keras_networks(activation, skip):
    encoder = build_encoder(7, 3, (16, 8), activation, seeds=[1, 2, 3], alpha=0.0, skip=skip)
    decoder = build_decoder(
        7, 3, (16, 8), activation, "sigmoid", seeds=[4, 5, 6], alpha=0.0, skip=skip
    )
    autoencoder = build_autoencoder(encoder, decoder)
    X = np.random.default_rng(0).normal(size=(50, 7))
    x = X.astype(np.float32)
    codes = forward(DenseForward(encoder), X)
    assert_allclose(codes, keras.ops.convert_to_numpy(encoder(x)), rtol=1e-5, atol=1e-6)
    reconstruction = keras.ops.convert_to_numpy(autoencoder(x))
    assert_allclose(forward(DenseForward(decoder), codes), reconstruction, rtol=1e-5, atol=1e-6)
    assert_allclose(
        reconstruction_errors(DenseForward(encoder), DenseForward(decoder), X),
        np.mean((X - reconstruction) ** 2, axis=1),
        rtol=1e-5,
    )
    # The skip path is not an idle branch: zeroing the input's kernel rows changes codes.
    if skip:
        code = encoder.get_layer("code")
        kernel, bias = code.get_weights()
        kernel[:7] = 0
        code.set_weights([kernel, bias])
        assert not np.allclose(forward(DenseForward(encoder), X), codes, atol=1e-3)


def test_only_networks_built_here_are_run():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3)(keras.layers.Dropout(0.5)(inputs))
    with pytest.raises(ValueError, match="not a Dense layer"):
        dense_layers(keras.Model(inputs, hidden))


def test_weights_are_read_on_every_call():
    encoder = build_encoder(4, 2, (), "linear", seeds=[1], alpha=0.0)
    X = np.ones((3, 4))
    before = forward(DenseForward(encoder), X)
    encoder.get_layer("code").kernel.assign(np.zeros((4, 2)))
    assert before.any() and not forward(DenseForward(encoder), X).any()


def test_chunks_cover_every_row_once_and_bound_their_size(monkeypatch):
    monkeypatch.setattr("sk_autoencoder._inference.CHUNK_VALUES", 100)
    function = DenseForward(build_encoder(10, 2, (25,), "relu", seeds=[1, 2], alpha=0.0))
    slices = row_chunks(103, function.rows_per_chunk)
    rows = np.concatenate([np.arange(103)[piece] for piece in slices])
    np.testing.assert_array_equal(rows, np.arange(103))
    assert all(len(np.arange(103)[piece]) <= 100 // 25 for piece in slices)


def test_output_follows_the_model_float_type():
    encoder = build_encoder(4, 2, (3,), "relu", seeds=[1, 2], alpha=0.0)
    assert forward(DenseForward(encoder), np.ones((2, 4), dtype=np.float64)).dtype == np.float32
