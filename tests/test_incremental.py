"""partial_fit and warm_start: training that goes on from where it stopped."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer


def tiny(cls=AutoencoderTransformer, **params):
    defaults = dict(
        hidden_layer_sizes=(8,),
        batch_size=16,
        early_stopping=False,
        random_state=0,
        n_iter_no_change=100,
    )
    return cls(**{**defaults, **params})


def quietly_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
@pytest.mark.parametrize("shuffle", [False, True])
def test_partial_fit_epochs_are_fit_epochs(blobs, cls, shuffle):
    # Each call is one more epoch of the same run: same orders, same optimizer state.
    whole = quietly_fit(tiny(cls, epochs=4, shuffle=shuffle), blobs)
    step = tiny(cls, epochs=4, shuffle=shuffle)
    for n_iter in range(1, 5):
        assert step.partial_fit(blobs) is step
        assert step.n_iter_ == n_iter == len(step.loss_curve_)
    assert_allclose(step.loss_curve_, whole.loss_curve_, rtol=1e-6)
    assert_allclose(step.transform(blobs), whole.transform(blobs), rtol=1e-5, atol=1e-6)
    # 60 rows in batches of 16: 4 steps an epoch, all counted by the optimizer.
    assert int(step.model_.optimizer.iterations) == 16


def test_partial_fit_keeps_training_after_pickle(blobs):
    # What dask_ml's Incremental does between blocks.
    going_on = tiny().partial_fit(blobs)
    moved = pickle.loads(pickle.dumps(going_on))
    going_on.partial_fit(blobs), moved.partial_fit(blobs)
    assert_allclose(moved.loss_curve_, going_on.loss_curve_, rtol=1e-6)
    assert_allclose(moved.transform(blobs), going_on.transform(blobs), rtol=1e-5, atol=1e-6)


def test_partial_fit_ignores_the_stopping_rules(blobs):
    estimator = tiny(early_stopping=True, epochs=1, n_iter_no_change=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # none at one epoch a call
        for _ in range(3):
            estimator.partial_fit(blobs)
    assert estimator.n_iter_ == 3
    assert estimator.validation_loss_curve_ is None


def test_fit_after_partial_fit_starts_again(blobs):
    estimator = tiny(epochs=2).partial_fit(blobs).partial_fit(blobs)
    quietly_fit(estimator, blobs)
    fresh = quietly_fit(tiny(epochs=2), blobs)
    assert estimator.n_iter_ == 2
    assert_allclose(estimator.loss_curve_, fresh.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_goes_on_from_the_fitted_network(blobs, early_stopping):
    # From a random start, so that each call's best weights are an epoch's: with the PCA
    # start, a call whose epochs lose to the network it started from keeps that one.
    params = dict(init="random", early_stopping=early_stopping)
    whole = quietly_fit(tiny(epochs=5, **params), blobs)
    warm = quietly_fit(tiny(epochs=2, warm_start=True, **params), blobs)
    model = warm.model_
    quietly_fit(warm.set_params(epochs=3), blobs)
    assert warm.model_ is model
    assert warm.n_iter_ == 5
    assert_allclose(warm.loss_curve_, whole.loss_curve_, rtol=1e-6)
    if early_stopping:
        assert len(warm.validation_loss_curve_) == 5
        # The best epoch's weights are kept within each call; the curves still agree.
        assert_allclose(warm.validation_loss_curve_, whole.validation_loss_curve_, rtol=1e-6)
    else:
        assert_allclose(warm.transform(blobs), whole.transform(blobs), rtol=1e-5, atol=1e-6)


def test_warm_start_takes_a_new_learning_rate(blobs):
    warm = quietly_fit(tiny(epochs=1, warm_start=True), blobs)
    quietly_fit(warm.set_params(learning_rate=0.05), blobs)
    assert float(warm.model_.optimizer.learning_rate) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "change",
    [dict(encoding_dim=3), dict(hidden_layer_sizes=(4,)), dict(hidden_layer_sizes=(8, 4))],
)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_another_network_shape_is_refused_and_nothing_changes(blobs, change, how):
    estimator = tiny(epochs=2, warm_start=True).partial_fit(blobs)
    codes, curve = estimator.transform(blobs), list(estimator.loss_curve_)
    estimator.set_params(**change)
    with pytest.raises(ValueError, match="fitted network"):
        if how == "partial_fit":
            estimator.partial_fit(blobs)
        else:
            estimator.fit(blobs)
    assert estimator.loss_curve_ == curve
    assert_array_equal(estimator.transform(blobs), codes)


def test_other_features_are_refused(blobs):
    estimator = tiny().partial_fit(blobs)
    with pytest.raises(ValueError, match="features"):
        estimator.partial_fit(blobs[:, :-1])
    with pytest.raises(ValueError, match="features"):
        estimator.set_params(warm_start=True).fit(blobs[:, :-1])


def test_a_diverged_pass_leaves_the_network_as_it_was(blobs):
    estimator = tiny().partial_fit(blobs)
    codes, iterations = estimator.transform(blobs), int(estimator.model_.optimizer.iterations)
    # A new learning rate applies at once: this one overflows the weights.
    estimator.set_params(learning_rate=1e30)
    with pytest.raises(ValueError, match="diverged"):
        estimator.partial_fit(blobs * 1e10)
    assert estimator.n_iter_ == 1
    assert int(estimator.model_.optimizer.iterations) == iterations
    assert_array_equal(estimator.transform(blobs), codes)


def test_a_first_partial_fit_that_fails_leaves_it_unfitted(blobs):
    estimator = tiny(learning_rate=1e30)
    with pytest.raises(ValueError, match="diverged"):
        estimator.partial_fit(blobs * 1e10)
    with pytest.raises(NotFittedError):
        estimator.transform(blobs)
    estimator.set_params(learning_rate=1e-3)
    assert np.isfinite(estimator.partial_fit(blobs).loss_curve_).all()
