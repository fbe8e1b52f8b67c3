"""Compiled steps kept for later fits of the same network: reused, never shared wrongly."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._backends import active
from sk_autoencoder._backends.reuse import _POOL, POOL_SIZE, compiled_steps
from sk_autoencoder._network import describe_autoencoder, rebuild_autoencoder


@pytest.fixture
def builds(monkeypatch):
    """A list that receives the network of every set of steps built."""
    backend = active()
    built, build = [], backend.steps

    def counted(network, *args, **kwargs):
        built.append(network)
        return build(network, *args, **kwargs)

    monkeypatch.setattr(backend, "steps", counted)
    return built


def fit(X, cls=AutoencoderTransformer, **params):
    """One network trained on all of ``X`` (none judged against PCA: see test_selection)."""
    defaults = dict(
        hidden_layer_sizes=(8,), epochs=3, batch_size=16, early_stopping=False, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**{**defaults, **params}).fit(X)


def fresh_fit(X, cls=AutoencoderTransformer, **params):
    """The same fit with no steps kept from before."""
    _POOL.clear()
    return fit(X, cls, **params)


def assert_same_fit(estimator, other, X):
    assert estimator.loss_curve_ == other.loss_curve_
    assert_array_equal(estimator.transform(X), other.transform(X))


def test_a_second_fit_of_the_same_network_reuses_the_steps(blobs, builds):
    first = fit(blobs, random_state=1)
    second = fit(blobs, random_state=2)
    assert len(builds) == 1
    # The steps train a twin of their own: never a model handed to a user.
    assert builds[0] is not first.model_ and builds[0] is not second.model_
    assert_same_fit(second, fresh_fit(blobs, random_state=2), blobs)
    assert not np.array_equal(first.transform(blobs), second.transform(blobs))


@pytest.mark.parametrize(
    "change",
    [
        dict(encoding_dim=3),
        dict(hidden_layer_sizes=(8, 4)),
        dict(activation="tanh"),
        dict(output_activation="sigmoid"),
        dict(alpha=0.01),
        dict(optimizer="sgd"),
        dict(loss="mae"),
    ],
)
def test_another_network_gets_steps_of_its_own(blobs, builds, change):
    fit(blobs)
    other = fit(blobs, **change)
    assert len(builds) == 2
    assert_same_fit(other, fresh_fit(blobs, **change), blobs)


def test_steps_serve_other_batch_sizes_where_they_compile_for_any(blobs, builds):
    fit(blobs)
    other = fit(blobs, batch_size=8)
    # JAX compiles for a shape of batch; TensorFlow's loop without XLA takes any.
    assert len(builds) == (2 if keras.backend.backend() == "jax" else 1)
    assert_same_fit(other, fresh_fit(blobs, batch_size=8), blobs)


@pytest.mark.parametrize(
    "noise, levels",
    [("masking", (0.2, 0.3)), ("gaussian", (0.2, 0.3)), ("salt_and_pepper", (0.2,))],
)
def test_corruptions_share_steps_only_when_they_corrupt_alike(blobs, builds, noise, levels):
    fits = [
        fit(blobs, DenoisingAutoencoderTransformer, noise=noise, noise_level=level)
        for level in levels
    ]
    # Each level is a parameter of the layer's computation: its own steps.
    assert len(builds) == len(levels)
    again = fit(blobs, DenoisingAutoencoderTransformer, noise=noise, noise_level=levels[-1])
    assert len(builds) == len(levels)
    assert_same_fit(again, fits[-1], blobs)
    # Another data set gives the gaussian and salt-and-pepper layers other values.
    fit(2 * blobs, DenoisingAutoencoderTransformer, noise=noise, noise_level=levels[-1])
    assert len(builds) == len(levels) + (noise != "masking")


def test_warm_start_trains_the_fitted_network_whatever_the_parameters_say(blobs, builds):
    def warm_then_changed():
        estimator = fit(blobs, warm_start=True)
        fit(blobs, activation="tanh")  # steps for tanh are kept too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.set_params(activation="tanh").fit(blobs)

    reused = warm_then_changed()
    _POOL.clear()
    estimator = fit(blobs, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alone = estimator.set_params(activation="tanh").fit(blobs)
    assert_same_fit(reused, alone, blobs)


def test_partial_fits_reuse_one_set_of_steps(blobs, builds):
    estimator = AutoencoderTransformer(hidden_layer_sizes=(8,), batch_size=16, random_state=0)
    for _ in range(4):
        estimator.partial_fit(blobs)
    assert len(builds) == 1
    assert int(estimator.model_.optimizer.iterations) == 16


def test_concurrent_fits_of_one_network_train_as_alone(blobs, builds):
    seeds = range(6)
    alone = [fresh_fit(blobs, random_state=seed) for seed in seeds]
    _POOL.clear()
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda seed: fit(blobs, random_state=seed), seeds))
    for one, other in zip(alone, together, strict=True):
        assert_same_fit(other, one, blobs)


def test_the_pool_keeps_a_few_networks(blobs):
    for encoding_dim in range(1, POOL_SIZE + 3):
        fit(blobs, encoding_dim=encoding_dim)
    assert len(_POOL) <= POOL_SIZE


def test_a_network_not_built_here_is_trained_as_it_is(blobs, builds):
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, keras.layers.Dense(6)(keras.layers.Dense(2)(inputs)))
    model.compile(optimizer="adam", loss="mse")
    assert describe_autoencoder(model) is None
    with compiled_steps(model, 1, 16):
        pass
    assert builds == [model] and len(_POOL) == 0


@pytest.mark.parametrize("cls", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
def test_a_rebuilt_network_has_the_same_description_and_variables(blobs, cls):
    model = fit(blobs, cls, hidden_layer_sizes=(8, 4), alpha=0.01).model_
    description = describe_autoencoder(model)
    assert description is not None
    classes = {type(layer).__name__: type(layer) for layer in model.layers}
    rebuilt = rebuild_autoencoder(description, classes)
    assert describe_autoencoder(rebuilt) == description
    assert [variable.path for variable in rebuilt.variables] == [
        variable.path for variable in model.variables
    ]
    assert [variable.shape for variable in rebuilt.variables] == [
        variable.shape for variable in model.variables
    ]
