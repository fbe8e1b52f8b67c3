"""Pure functions that build the Keras networks of an autoencoder.

Nothing here knows scikit-learn: the estimator decides the widths, activations and
seeds, and these functions turn them into Keras models.
"""

import keras

ENCODER_NAME = "encoder"
DECODER_NAME = "decoder"
# The Concatenate layers of the networks whose last layer also sees their input.
ENCODER_SKIP = "encoder_skip"
DECODER_SKIP = "decoder_skip"


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


def _last_inputs(inputs, hidden, skip, name):
    """What the last layer sees: the last hidden layer, and with ``skip`` the network's
    input too (one ``Concatenate``, the input first)."""
    if not skip or hidden is inputs:
        return hidden
    return keras.layers.Concatenate(name=name)([inputs, hidden])


def build_encoder(
    n_features, encoding_dim, hidden_layer_sizes, activation, *, seeds, alpha, skip=False
):
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
    skip : bool, default=False
        Whether the code layer sees the input beside the last hidden layer: the code is
        then a linear map of the input plus a nonlinear correction, the structure that
        a PCA start needs (see :mod:`._start`). No effect without hidden layers.

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
    code = _dense(encoding_dim, None, seed=seeds[-1], alpha=alpha, name="code")(
        _last_inputs(inputs, hidden, skip, ENCODER_SKIP)
    )
    return keras.Model(inputs, code, name=ENCODER_NAME)


def build_decoder(
    n_features,
    encoding_dim,
    hidden_layer_sizes,
    activation,
    output_activation,
    *,
    seeds,
    alpha,
    skip=False,
):
    """Build the decoder, the mirror of the encoder: code -> hidden layers -> ``n_features``.

    ``hidden_layer_sizes`` are given in the encoder's order; the decoder uses them
    reversed. ``seeds`` holds ``len(hidden_layer_sizes) + 1`` initializer seeds. With
    ``skip``, the output layer sees the code beside the last hidden layer.
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
    )(_last_inputs(codes, hidden, skip, DECODER_SKIP))
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


def _dense_values(layer):
    """``[units, activation, alpha]`` of a ``Dense`` layer as :func:`_dense` makes them,
    else None."""
    if not isinstance(layer, keras.layers.Dense) or not layer.use_bias:
        return None
    regularizer, activation = layer.kernel_regularizer, layer.activation.__name__
    if regularizer is not None and type(regularizer) is not keras.regularizers.L2:
        return None
    if keras.activations.get(activation) is not layer.activation:
        return None
    return [layer.units, activation, 0.0 if regularizer is None else float(regularizer.l2)]


def _stack_values(model, names, skip_name):
    """``(values, skip)``: the ``Dense`` values of ``model``'s layers if they are named
    ``names`` (with a ``Concatenate`` named ``skip_name`` before the last, where the
    last layer sees the input), and whether it does; ``(None, False)`` otherwise."""
    layers = model.layers[1:]
    skip = len(layers) > 1 and layers[-2].name == skip_name
    if skip:
        if not isinstance(layers[-2], keras.layers.Concatenate):
            return None, False
        layers = layers[:-2] + layers[-1:]
    if [layer.name for layer in layers] != names:
        return None, False
    values = [_dense_values(layer) for layer in layers]
    return (None, False) if None in values else (values, skip)


def describe_autoencoder(autoencoder):
    """The plain values that :func:`rebuild_autoencoder` rebuilds ``autoencoder``'s
    architecture from (all but its seeds), or None for a model not built here.

    Two autoencoders with the same description compute the same function of the same
    weights, and so train alike from the same state.
    """
    layers = autoencoder.layers
    if [layer.name for layer in layers[-2:]] != [ENCODER_NAME, DECODER_NAME]:
        return None
    encoder, decoder = layers[-2:]
    encoder_skip = any(layer.name == ENCODER_SKIP for layer in encoder.layers)
    depth = len(encoder.layers) - 2 - encoder_skip
    encoder_values, encoder_skip = _stack_values(
        encoder, [f"encoder_hidden_{i}" for i in range(1, depth + 1)] + ["code"], ENCODER_SKIP
    )
    decoder_values, decoder_skip = _stack_values(
        decoder,
        [f"decoder_hidden_{i}" for i in range(1, depth + 1)] + ["reconstruction"],
        DECODER_SKIP,
    )
    corruption = layers[1:-2]
    if encoder_values is None or decoder_values is None or len(corruption) > 1:
        return None
    if encoder_skip != decoder_skip:
        return None
    if corruption and not hasattr(corruption[0], "parameters"):
        return None
    return {
        "n_features": autoencoder.input_shape[-1],
        "encoder": encoder_values,
        "decoder": decoder_values,
        "skip": encoder_skip,
        "corruption": [type(corruption[0]).__name__, corruption[0].parameters()]
        if corruption
        else None,
        "dtype": autoencoder.dtype_policy.name,
    }


def rebuild_autoencoder(description, corruption_classes):
    """A new autoencoder of the architecture :func:`describe_autoencoder` described.

    Its initial weights are of no use (they are seeded with 0): it is built to have
    another's state copied in. ``corruption_classes`` maps the described corruption
    layer's class name to the class.
    """

    def stack(inputs, values, names, skip_name):
        outputs = inputs
        for (width, activation, alpha), name in zip(values[:-1], names[:-1], strict=True):
            outputs = _dense(width, activation, seed=0, alpha=alpha, name=name)(outputs)
        outputs = _last_inputs(inputs, outputs, description["skip"], skip_name)
        width, activation, alpha = values[-1]
        return _dense(width, activation, seed=0, alpha=alpha, name=names[-1])(outputs)

    depth = len(description["encoder"]) - 1
    features = keras.Input(shape=(description["n_features"],), name="features")
    encoder_names = [f"encoder_hidden_{i}" for i in range(1, depth + 1)] + ["code"]
    encoder = keras.Model(
        features,
        stack(features, description["encoder"], encoder_names, ENCODER_SKIP),
        name=ENCODER_NAME,
    )
    codes = keras.Input(shape=(description["encoder"][-1][0],), name="codes")
    decoder_names = [f"decoder_hidden_{i}" for i in range(1, depth + 1)] + ["reconstruction"]
    decoder = keras.Model(
        codes, stack(codes, description["decoder"], decoder_names, DECODER_SKIP), name=DECODER_NAME
    )
    corruption = None
    if description["corruption"] is not None:
        name, parameters = description["corruption"]
        corruption = corruption_classes[name](**parameters, seed=0)
    return build_autoencoder(encoder, decoder, corruption)
