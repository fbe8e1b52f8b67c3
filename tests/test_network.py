"""The pure builders of the Keras networks."""

import keras
import numpy as np
from numpy.testing import assert_array_equal

from sk_autoencoder._network import (
    build_autoencoder,
    build_decoder,
    build_encoder,
    split_autoencoder,
)


def networks(seeds=(1, 2, 3, 4, 5, 6), corruption=None, alpha=0.0):
    encoder = build_encoder(10, 3, (8, 5), "relu", seeds=seeds[:3], alpha=alpha)
    decoder = build_decoder(10, 3, (8, 5), "relu", "sigmoid", seeds=seeds[3:], alpha=alpha)
    return encoder, decoder, build_autoencoder(encoder, decoder, corruption)


def test_shapes_and_mirrored_widths():
    encoder, decoder, autoencoder = networks()
    assert [layer.units for layer in encoder.layers[1:]] == [8, 5, 3]
    assert [layer.units for layer in decoder.layers[1:]] == [5, 8, 10]
    assert encoder.layers[-1].activation is keras.activations.linear
    assert decoder.layers[-1].activation is keras.activations.sigmoid
    assert autoencoder.output_shape == (None, 10)


def test_seeds_fix_the_initial_weights():
    first, second, other = networks()[2], networks()[2], networks(seeds=(7, 2, 3, 4, 5, 6))[2]
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_autoencoder_shares_the_weights_of_its_parts():
    encoder, decoder, autoencoder = networks()
    assert split_autoencoder(autoencoder) == (encoder, decoder)
    encoder.get_layer("code").kernel.assign(np.zeros((5, 3)))
    assert not np.any(autoencoder.get_layer("encoder").get_layer("code").kernel.numpy())


def test_alpha_adds_one_l2_penalty_per_layer():
    assert len(networks(alpha=0.1)[2].losses) == 6
    assert networks(alpha=0.0)[2].losses == []


class AddOneWhileTraining(keras.layers.Layer):
    def call(self, inputs, training=False):
        return inputs + 1.0 if training else inputs


def test_corruption_sits_before_the_encoder_and_acts_only_in_training():
    encoder, decoder, autoencoder = networks(corruption=AddOneWhileTraining())
    x = np.random.default_rng(0).normal(size=(4, 10)).astype(np.float32)
    clean = keras.ops.convert_to_numpy(decoder(encoder(x)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(autoencoder(x)), clean, rtol=1e-6, atol=1e-7
    )
    shifted = keras.ops.convert_to_numpy(decoder(encoder(x + 1.0)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(autoencoder(x, training=True)), shifted, rtol=1e-6, atol=1e-7
    )
