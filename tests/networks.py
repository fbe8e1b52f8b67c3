"""Networks of a user's own, for the tests: builders importable by name, so that the
estimators that use them pickle, and registered with Keras, so that they save."""

import math

import keras


@keras.saving.register_keras_serializable(package="sk_autoencoder_tests")
class Scale(keras.layers.Layer):
    """Multiplies its input by a constant: a layer of the user's own."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="sk_autoencoder_tests")
def dense_encoder(input_shape, encoding_dim, seed=None, width=8):
    """Dense, batch normalization, dropout, then the code."""
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(width, activation="relu", kernel_initializer=glorot(seed)),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2, seed=seed),
            keras.layers.Dense(encoding_dim, kernel_initializer=glorot(seed)),
        ],
        name="dense_encoder",
    )


@keras.saving.register_keras_serializable(package="sk_autoencoder_tests")
def dense_decoder(input_shape, encoding_dim, seed=None, width=8):
    """The mirror of :func:`dense_encoder`, with a layer of the user's own."""
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input((encoding_dim,)),
            keras.layers.Dense(width, activation="relu", kernel_initializer=glorot(seed)),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(math.prod(input_shape), kernel_initializer=glorot(seed)),
            Scale(1.0),
            keras.layers.Reshape(input_shape),
        ],
        name="dense_decoder",
    )


@keras.saving.register_keras_serializable(package="sk_autoencoder_tests")
def conv_encoder(input_shape, encoding_dim, seed=None, filters=4):
    """One stride-2 convolution of an image, then the code."""
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(
                filters,
                3,
                strides=2,
                padding="same",
                activation="relu",
                kernel_initializer=glorot(seed),
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(encoding_dim, kernel_initializer=glorot(seed)),
        ],
        name="conv_encoder",
    )


@keras.saving.register_keras_serializable(package="sk_autoencoder_tests")
def conv_decoder(input_shape, encoding_dim, seed=None, filters=4):
    """The mirror of :func:`conv_encoder`: a transposed convolution back to the image."""
    height, width, channels = input_shape
    glorot = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input((encoding_dim,)),
            keras.layers.Dense(
                height // 2 * width // 2 * filters,
                activation="relu",
                kernel_initializer=glorot(seed),
            ),
            keras.layers.Reshape((height // 2, width // 2, filters)),
            keras.layers.Conv2DTranspose(
                channels, 3, strides=2, padding="same", kernel_initializer=glorot(seed)
            ),
        ],
        name="conv_decoder",
    )


def unregistered_encoder(input_shape, encoding_dim):
    """A builder Keras does not know by name."""
    return dense_encoder(input_shape, encoding_dim)
