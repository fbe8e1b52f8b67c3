"""Serializable Keras layers that corrupt their input while training, and only then.

Each layer draws from its own ``keras.random.SeedGenerator``, so a seed makes the noise
repeat from run to run without touching any global random state, and every call in
training draws afresh: every batch of every epoch sees new noise.
"""

import keras


def _per_feature(values, dtype):
    return keras.ops.convert_to_tensor(values, dtype=dtype)


class _TrainingCorruption(keras.layers.Layer):
    """Base of the corruption layers: seeded, shape-preserving, active only in training.

    A subclass implements ``corrupt(inputs)`` and ``parameters()``, the values other
    than the seed that its constructor takes (and ``get_config`` adds).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        # Named, so that every layer's variable has the same name: TensorFlow keeps a
        # kernel for each variable name it has seen.
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        return self.corrupt(inputs) if training else inputs

    def corrupt(self, inputs):
        raise NotImplementedError

    def parameters(self):
        raise NotImplementedError

    def uniform_draws(self, inputs):
        """One draw from U[0, 1) per entry of ``inputs``."""
        return keras.random.uniform(
            keras.ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, **self.parameters()}


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class ScaledGaussianNoise(_TrainingCorruption):
    """Add zero-mean normal noise with a standard deviation of its own for each feature.

    Parameters
    ----------
    stddev : list of float
        Standard deviation of the noise added to each feature.
    seed : int or None
        Seed of the layer's random draws.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.stddev = [float(value) for value in stddev]

    def corrupt(self, inputs):
        noise = keras.random.normal(
            keras.ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        return inputs + noise * _per_feature(self.stddev, inputs.dtype)

    def parameters(self):
        return {"stddev": self.stddev}


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class MaskingNoise(_TrainingCorruption):
    """Set each entry to zero with probability ``rate``.

    Parameters
    ----------
    rate : float
        Probability, in [0, 1], that an entry is zeroed.
    seed : int or None
        Seed of the layer's random draws.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = float(rate)

    def corrupt(self, inputs):
        if self.rate == 0:
            return inputs
        keep = self.uniform_draws(inputs) >= self.rate
        return keras.ops.where(keep, inputs, keras.ops.zeros_like(inputs))

    def parameters(self):
        return {"rate": self.rate}


@keras.saving.register_keras_serializable(package="sk_autoencoder")
class SaltAndPepperNoise(_TrainingCorruption):
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
        super().__init__(seed, **kwargs)
        self.rate = float(rate)
        self.low = [float(value) for value in low]
        self.high = [float(value) for value in high]

    def corrupt(self, inputs):
        if self.rate == 0:
            return inputs
        draws = self.uniform_draws(inputs)
        dtype = inputs.dtype
        # One draw decides both whether an entry is replaced and by which extreme.
        extremes = keras.ops.where(
            draws < self.rate / 2, _per_feature(self.low, dtype), _per_feature(self.high, dtype)
        )
        return keras.ops.where(draws < self.rate, extremes, inputs)

    def parameters(self):
        return {"rate": self.rate, "low": self.low, "high": self.high}
