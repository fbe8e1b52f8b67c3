"""Pure functions that build the Keras networks of an autoencoder.

Nothing here knows scikit-learn: the estimator decides the widths, activations and
seeds, and these functions turn them into Keras models.
"""

import copy
import inspect
import math

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


# The filters of the convolutional encoder's stride-2 convolutions, from the input on;
# the decoder mirrors them.
CONV_FILTERS = (32, 64)
# Initializer seeds of the convolutional networks: one per convolution and the code
# layer; the decoder's Dense layer, its convolutions, the last one and the linear map.
CONV_ENCODER_SEEDS = len(CONV_FILTERS) + 1
CONV_DECODER_SEEDS = len(CONV_FILTERS) + 3


def image_shape(input_shape):
    """``input_shape`` as ``(height, width, channels)`` for the convolutional networks;
    ``ValueError`` where they cannot take it."""
    shape = tuple(input_shape) + (1,) * (len(input_shape) == 2)
    if len(shape) != 3 or shape[0] % 4 or shape[1] % 4:
        raise ValueError(
            'network="conv" takes images: input_shape (height, width) or (height, width, '
            f"channels) with height and width multiples of 4, got input_shape={input_shape}."
        )
    return shape


def _conv(filters, activation, *, seed, alpha, name, transpose=False, strides=2):
    layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    return layer(
        filters,
        3,
        strides=strides,
        padding="same",
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        kernel_regularizer=keras.regularizers.L2(alpha) if alpha > 0 else None,
        name=name,
    )


def build_conv_encoder(input_shape, encoding_dim, activation, *, seeds, alpha, skip=False):
    """Build the convolutional encoder: rows -> images -> stride-2 convolutions -> code.

    Each row of ``prod(input_shape)`` values is reshaped to an image of
    :func:`image_shape`, which :data:`CONV_FILTERS` convolutions of 3 x 3 and stride 2
    shrink; a linear ``Dense`` layer maps what they give to the code. With ``skip``,
    the code layer also sees the row itself, as :func:`build_encoder`'s does.
    ``seeds`` holds :data:`CONV_ENCODER_SEEDS` initializer seeds.
    """
    shape = image_shape(input_shape)
    inputs = keras.Input(shape=(math.prod(shape),), name="features")
    hidden = keras.layers.Reshape(shape, name="image")(inputs)
    for depth, (filters, seed) in enumerate(zip(CONV_FILTERS, seeds[:-1], strict=True), 1):
        hidden = _conv(filters, activation, seed=seed, alpha=alpha, name=f"encoder_conv_{depth}")(
            hidden
        )
    hidden = keras.layers.Flatten(name="encoder_flatten")(hidden)
    code = _dense(encoding_dim, None, seed=seeds[-1], alpha=alpha, name="code")(
        _last_inputs(inputs, hidden, skip, ENCODER_SKIP)
    )
    return keras.Model(inputs, code, name=ENCODER_NAME)


def build_conv_decoder(
    input_shape, encoding_dim, activation, output_activation, *, seeds, alpha, skip=False
):
    """Build the convolutional decoder, the mirror of :func:`build_conv_encoder`.

    A ``Dense`` layer maps the code to the smallest feature maps, transposed
    convolutions of stride 2 grow them back to the image's size, and a last linear
    convolution (``"reconstruction_correction"``) gives one map per channel, flattened
    to a row, then ``output_activation``. With ``skip``, a linear ``Dense`` map of the
    code (``"reconstruction"``) is added before the activation: the PCA start sets it
    to PCA's reconstruction and the last convolution to zero. ``seeds`` holds
    :data:`CONV_DECODER_SEEDS` initializer seeds.
    """
    height, width, channels = image_shape(input_shape)
    scale = 2 ** len(CONV_FILTERS)
    smallest = (height // scale, width // scale, CONV_FILTERS[-1])
    codes = keras.Input(shape=(encoding_dim,), name="codes")
    hidden = _dense(
        math.prod(smallest), activation, seed=seeds[0], alpha=alpha, name="decoder_hidden"
    )(codes)
    hidden = keras.layers.Reshape(smallest, name="decoder_maps")(hidden)
    for depth, (filters, seed) in enumerate(
        zip(reversed(CONV_FILTERS), seeds[1:-2], strict=True), 1
    ):
        hidden = _conv(
            filters,
            activation,
            seed=seed,
            alpha=alpha,
            name=f"decoder_conv_{depth}",
            transpose=True,
        )(hidden)
    maps = _conv(
        channels, None, seed=seeds[-2], alpha=alpha, name="reconstruction_correction", strides=1
    )(hidden)
    output = keras.layers.Flatten(name="decoder_flatten")(maps)
    if skip:
        linear = _dense(
            height * width * channels, None, seed=seeds[-1], alpha=alpha, name="reconstruction"
        )(codes)
        output = keras.layers.Add(name=DECODER_SKIP)([linear, output])
    output = keras.layers.Activation(output_activation, name="output")(output)
    return keras.Model(codes, output, name=DECODER_NAME)


_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)


def all_layers(model):
    """Every layer of ``model``, those of the models nested in it too."""
    layers, found = list(model.layers), []
    while layers:
        layer = layers.pop(0)
        found.append(layer)
        layers.extend(getattr(layer, "layers", []))
    return found


def has_convolutions(model):
    """Whether any layer of ``model`` (nested ones too) is one of Keras's convolutions."""
    return any(isinstance(layer, _CONVOLUTIONS) for layer in all_layers(model))


def _takes_seed(builder):
    """Whether ``builder`` accepts a ``seed`` keyword argument."""
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False
    return "seed" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )


def own_network(network, input_shape, encoding_dim, *, role, seed):
    """A new Keras model from a user's ``encoder`` or ``decoder`` parameter.

    ``network`` is a ``keras.Model``, copied (weights included) so that training never
    changes the model passed, or a builder called as ``network(input_shape,
    encoding_dim)``, with ``seed=seed`` too where it takes a ``seed``. ``role`` is
    ``"encoder"`` or ``"decoder"``, for the error messages. Raises ``TypeError`` for
    anything that gives no ``keras.Model``.
    """
    if isinstance(network, keras.Model):
        try:
            return copy.deepcopy(network)
        except Exception as error:  # Keras copies through its serialization
            raise TypeError(
                f"{role}={network.name!r} cannot be copied ({error}): each fit trains its "
                "own copy of a model passed as an instance. Use Keras's own layers and "
                "layers registered with keras.saving.register_keras_serializable, or "
                "pass a function that builds the model."
            ) from error
    kwargs = {"seed": seed} if _takes_seed(network) else {}
    try:
        model = network(tuple(input_shape), encoding_dim, **kwargs)
    except Exception as error:  # whatever the builder or its layers raise
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(
            f"{role}={network!r} could not build a network for input_shape="
            f"{tuple(input_shape)} and encoding_dim={encoding_dim}: {error}"
        ) from error
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{role}={network!r} returned {type(model).__name__}, not a keras.Model. A "
            f"builder is called as {role}(input_shape, encoding_dim) and returns a new "
            "keras.Model."
        )
    return model


def _symbolic_call(model, shape, role):
    """``model`` called on a symbolic batch of ``shape``; ``ValueError`` if it fails
    or gives more than one output."""
    try:
        output = model(keras.KerasTensor((None, *shape)))
    except Exception as error:  # whatever the model's own layers raise
        raise ValueError(
            f"The {role} cannot take inputs of shape {shape} (the batch first): {error}"
        ) from error
    if not isinstance(output, keras.KerasTensor):
        raise ValueError(f"The {role} must give one output, got {type(output).__name__}.")
    return output


def _check_shape(output, expected, role, what):
    if tuple(output.shape[1:]) != tuple(expected):
        raise ValueError(
            f"The {role} gives {what} of shape {tuple(output.shape[1:])} per sample; "
            f"{tuple(expected)} expected."
        )


def wrap_encoder(network, input_shape, encoding_dim):
    """The estimator's encoder around a user's: rows of ``prod(input_shape)`` values,
    reshaped to ``input_shape``, to codes of ``encoding_dim`` values."""
    n_features = math.prod(input_shape)
    features = keras.Input(shape=(n_features,), name="features")
    samples = features
    if tuple(input_shape) != (n_features,):
        samples = keras.layers.Reshape(input_shape, name="samples")(features)
    _check_shape(
        _symbolic_call(network, input_shape, "encoder"), (encoding_dim,), "encoder", "codes"
    )
    return keras.Model(features, network(samples), name=ENCODER_NAME)


def wrap_decoder(network, input_shape, encoding_dim):
    """The estimator's decoder around a user's: codes to samples of ``input_shape``,
    flattened to rows."""
    n_features = math.prod(input_shape)
    _check_shape(
        _symbolic_call(network, (encoding_dim,), "decoder"), input_shape, "decoder", "samples"
    )
    codes = keras.Input(shape=(encoding_dim,), name="codes")
    output = network(codes)
    if tuple(input_shape) != (n_features,):
        output = keras.layers.Reshape((n_features,), name="rows")(output)
    return keras.Model(codes, output, name=DECODER_NAME)


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
