"""Pure functions that build the Keras networks of an autoencoder.

Nothing here knows scikit-learn: the estimator decides the widths, activations and
seeds, and these functions turn them into Keras models.
"""

import keras

ENCODER_NAME = "encoder"
DECODER_NAME = "decoder"


def _dense(width, activation, *, seed, alpha, name):
    """One ``Dense`` layer with a seeded Glorot-uniform kernel and an optional L2 penalty."""
    return keras.layers.Dense(
        width,
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        kernel_regularizer=keras.regularizers.L2(alpha) if alpha > 0 else None,
        name=name,
    )


def _dense_stack(inputs, widths, activation, *, prefix, seeds, alpha):
    """Apply one ``Dense`` layer per width to ``inputs``, each with its own seed."""
    outputs = inputs
    for depth, (width, seed) in enumerate(zip(widths, seeds, strict=True), start=1):
        outputs = _dense(width, activation, seed=seed, alpha=alpha, name=f"{prefix}_{depth}")(
            outputs
        )
    return outputs


def build_encoder(n_features, encoding_dim, hidden_layer_sizes, activation, *, seeds, alpha):
    """Build the encoder: ``n_features`` -> hidden layers -> a linear code layer.

    Parameters
    ----------
    n_features : int
        Width of the input.
    encoding_dim : int
        Width of the code.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers, from the input towards the code.
    activation : str
        Keras activation of the hidden layers.
    seeds : sequence of int
        One initializer seed per layer: ``len(hidden_layer_sizes) + 1`` of them.
    alpha : float
        L2 penalty on the kernels; 0 adds none.

    Returns
    -------
    encoder : keras.Model
    """
    inputs = keras.Input(shape=(n_features,), name="features")
    hidden = _dense_stack(
        inputs,
        hidden_layer_sizes,
        activation,
        prefix="encoder_hidden",
        seeds=seeds[:-1],
        alpha=alpha,
    )
    code = _dense(encoding_dim, None, seed=seeds[-1], alpha=alpha, name="code")(hidden)
    return keras.Model(inputs, code, name=ENCODER_NAME)


def build_decoder(
    n_features, encoding_dim, hidden_layer_sizes, activation, output_activation, *, seeds, alpha
):
    """Build the decoder, the mirror of the encoder: code -> hidden layers -> ``n_features``.

    ``hidden_layer_sizes`` are given in the encoder's order; the decoder uses them
    reversed. ``seeds`` holds ``len(hidden_layer_sizes) + 1`` initializer seeds.
    """
    codes = keras.Input(shape=(encoding_dim,), name="codes")
    hidden = _dense_stack(
        codes,
        tuple(reversed(hidden_layer_sizes)),
        activation,
        prefix="decoder_hidden",
        seeds=seeds[:-1],
        alpha=alpha,
    )
    reconstruction = _dense(
        n_features, output_activation, seed=seeds[-1], alpha=alpha, name="reconstruction"
    )(hidden)
    return keras.Model(codes, reconstruction, name=DECODER_NAME)


def build_autoencoder(encoder, decoder, corruption=None):
    """Chain ``encoder`` and ``decoder`` into the model that is trained.

    The autoencoder shares its layers, and so its weights, with ``encoder`` and
    ``decoder``. ``corruption``, a layer that alters its input only when called with
    ``training=True``, is applied to the input before the encoder: it is how a
    denoising variant plugs in.
    """
    inputs = keras.Input(shape=encoder.input_shape[1:], name="features")
    encoder_inputs = inputs if corruption is None else corruption(inputs)
    return keras.Model(inputs, decoder(encoder(encoder_inputs)), name="autoencoder")


def split_autoencoder(autoencoder):
    """Return the ``(encoder, decoder)`` that ``autoencoder`` was built from.

    They are the autoencoder's own sub-models, so they share its weights; this is how
    a loaded or unpickled autoencoder gets its parts back.
    """
    return autoencoder.get_layer(ENCODER_NAME), autoencoder.get_layer(DECODER_NAME)
