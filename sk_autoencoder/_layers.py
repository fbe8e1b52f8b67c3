"""Serializable Keras layers that corrupt their input while training, and only then.

Each layer draws from its own ``keras.random.SeedGenerator``, so a seed makes the noise
repeat from run to run without touching any global random state, and every call in
training draws afresh: every batch of every epoch sees new noise.
"""

import keras


def _per_feature(values, dtype):
    return keras.ops.convert_to_tensor(values, dtype=dtype)


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class ScaledGaussianNoise(keras.layers.Layer):
    """Add zero-mean normal noise with a standard deviation of its own for each feature.

    Parameters
    ----------
    stddev : list of float
        Standard deviation of the noise added to each feature.
    seed : int or None
        Seed of the layer's random draws.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = [float(value) for value in stddev]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.normal(
            keras.ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        return inputs + noise * _per_feature(self.stddev, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class MaskingNoise(keras.layers.Layer):
    """Set each entry to zero with probability ``rate``.

    Parameters
    ----------
    rate : float
        Probability, in [0, 1], that an entry is zeroed.
    seed : int or None
        Seed of the layer's random draws.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        draws = keras.random.uniform(
            keras.ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        return keras.ops.where(draws >= self.rate, inputs, keras.ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class SaltAndPepperNoise(keras.layers.Layer):
    """Replace each entry, with probability ``rate``, by its feature's low or high value.

    An entry that is replaced becomes ``low`` or ``high`` with probability one half each.

    Parameters
    ----------
    rate : float
        Probability, in [0, 1], that an entry is replaced.
    low, high : list of float
        Each feature's "pepper" and "salt" values (its minimum and maximum in the
        training data, as the denoising estimator sets them).
    seed : int or None
        Seed of the layer's random draws.
    """

    def __init__(self, rate, low, high, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.low = [float(value) for value in low]
        self.high = [float(value) for value in high]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        draws = keras.random.uniform(
            keras.ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        dtype = inputs.dtype
        # One draw decides both whether an entry is replaced and by which extreme.
        corrupted = keras.ops.where(
            draws < self.rate / 2, _per_feature(self.low, dtype), _per_feature(self.high, dtype)
        )
        return keras.ops.where(draws < self.rate, corrupted, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
            "seed": self.seed,
        }
