"""The PCA start: an untrained network is PCA, and the defaults never lose to PCA."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._start import (
    principal_components,
    principal_components_of_unions,
    sample_rows,
)


def quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def correlated(n_rows, n_features, seed=0, offset=0.0):
    """Rows with a few strong directions and weak noise in the others."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_features, n_features)) * np.geomspace(3, 0.1, n_features)
    return offset + rng.normal(size=(n_rows, n_features)) @ mixing.T


def pca_error(pca, X):
    return float(np.mean((X - pca.inverse_transform(pca.transform(X))) ** 2))


def test_principal_components_match_scikit_learn_chunk_by_chunk(monkeypatch):
    # Far from zero, as raw pixel values are: sums around zero would lose the digits.
    X = correlated(500, 12, offset=1e3)
    rows = np.arange(3, 480)
    monkeypatch.setattr("sk_autoencoder._start.CHUNK_BYTES", 12 * 7 * 8)  # 69 chunks
    mean, components = principal_components(X, rows, 4)
    pca = PCA(4, svd_solver="full").fit(X[rows])
    assert_allclose(mean, pca.mean_, rtol=1e-12)
    assert_allclose(components, pca.components_, atol=1e-8)


def test_components_beyond_the_features_are_zero():
    X = correlated(50, 3)
    _, components = principal_components(X, np.arange(50), 5)
    assert components.shape == (5, 3)
    assert_allclose(components[:3] @ components[:3].T, np.eye(3), atol=1e-12)
    assert not components[3:].any()


def test_sample_rows_draws_distinct_rows_of_those_given(monkeypatch):
    monkeypatch.setattr("sk_autoencoder._start.START_ROWS", 50)
    rows = np.arange(0, 400, 2)
    sample = sample_rows(rows, np.random.default_rng(0))
    assert len(sample) == 50 and len(set(sample)) == 50
    assert set(sample) <= set(rows) and np.all(np.diff(sample) > 0)
    np.testing.assert_array_equal(
        sample_rows(np.arange(30), np.random.default_rng(0)), np.arange(30)
    )


def test_one_pass_gives_the_pca_of_each_union_of_blocks(monkeypatch):
    X = correlated(200, 9, offset=50.0).astype(np.float32)
    monkeypatch.setattr("sk_autoencoder._start.CHUNK_BYTES", 9 * 8 * 8)  # 8 rows a chunk
    blocks = np.array_split(np.random.default_rng(0).permutation(200), 4)
    unions = [[0, 1], [2], [0, 1, 2, 3]]
    fitted = principal_components_of_unions(X, blocks, unions, 3)
    for union, (mean, components) in zip(unions, fitted, strict=True):
        rows = np.sort(np.concatenate([blocks[i] for i in union]))
        pca = PCA(3, svd_solver="full").fit(X[rows])
        # scikit-learn's own reconstruction, to the precision of the data's float32.
        codes = (X - mean) @ components.T
        assert_allclose(
            codes @ components + mean,
            pca.inverse_transform(pca.transform(X)),
            rtol=1e-5,
            atol=1e-4,
        )
        assert_allclose(np.abs(components @ pca.components_.T), np.eye(3), atol=1e-5)


def assert_reproduces_pca(estimator, X, pca):
    codes = estimator.transform(X)
    assert_allclose(codes, pca.transform(X), rtol=1e-4, atol=1e-5)
    assert_allclose(
        estimator.inverse_transform(codes), pca.inverse_transform(pca.transform(X)), atol=1e-5
    )


@pytest.mark.parametrize("cls", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
def test_the_untrained_network_is_pca(cls):
    X = StandardScaler().fit_transform(correlated(60, 8))
    # Adam moves no weight by more than the learning rate a step.
    estimator = quietly(cls(3, hidden_layer_sizes=(16,), learning_rate=1e-9, epochs=1), X)
    assert_reproduces_pca(estimator, X, PCA(3, svd_solver="full").fit(X))


def test_a_rejected_first_epoch_leaves_pca_itself():
    X = StandardScaler().fit_transform(correlated(60, 8))
    # An absurd learning rate makes every network worse than PCA on the rows held out
    # from it (60 rows: five folds): the estimator is PCA of all the rows.
    estimator = AutoencoderTransformer(
        3, hidden_layer_sizes=(16,), learning_rate=3.0, epochs=2, random_state=0
    )
    estimator = quietly(estimator, X)
    assert estimator.pca_kept_ and estimator.best_epoch_ == 0
    assert estimator.selection_["scheme"] == "5-fold" and estimator.selection_["rows"] == 60
    pca = PCA(3, svd_solver="full").fit(X)
    assert_reproduces_pca(estimator, X, pca)
    assert -estimator.score(X) <= pca_error(pca, X) * (1 + 1e-5)


def test_a_rejected_run_with_held_out_rows_keeps_pca_of_all_rows():
    # 600 rows: a tenth held out judges the network, a tenth of the rest is its
    # validation rows. Whether and when those stop it depends on rounding: the loss
    # that an absurd learning rate blows up comes down again, more slowly or less.
    X = StandardScaler().fit_transform(correlated(600, 8))
    estimator = quietly(
        AutoencoderTransformer(
            3, hidden_layer_sizes=(16,), learning_rate=3.0, epochs=5, random_state=0
        ),
        X,
    )
    assert 1 <= len(estimator.validation_loss_curve_) == estimator.n_iter_ <= 5
    assert estimator.best_epoch_ == 0 and estimator.pca_kept_
    assert estimator.selection_["scheme"] == "held-out" and estimator.selection_["rows"] == 60
    # Not the start (PCA of the rows the network saw) but PCA of all the rows.
    assert_reproduces_pca(estimator, X, PCA(3, svd_solver="full").fit(X))


def test_partial_fit_starts_at_the_pca_of_its_first_block():
    X = StandardScaler().fit_transform(correlated(80, 6))
    estimator = AutoencoderTransformer(2, hidden_layer_sizes=(8,), learning_rate=1e-9)
    estimator.partial_fit(X[:40])
    pca = PCA(2, svd_solver="full").fit(X[:40])
    assert_allclose(estimator.transform(X), pca.transform(X), rtol=1e-4, atol=1e-4)
    # With init="random" the first block does not decide the start.
    random_start = AutoencoderTransformer(
        2, init="random", hidden_layer_sizes=(8,), learning_rate=1e-9
    ).partial_fit(X[:40])
    assert not np.allclose(random_start.transform(X), pca.transform(X), atol=0.1)


def test_default_autoencoder_never_loses_to_pca_where_the_random_start_does():
    # A few latent directions, linear, plus noise, and few rows: PCA is close to the best
    # a reducer can do, and a network that starts from random weights overfits the noise.
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(400, 4))
    X = latent @ rng.normal(size=(4, 40)) + 0.5 * rng.normal(size=(400, 40))
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    pca = PCA(4).fit(X_train)
    ratios = {}
    for init in ("random", "pca"):
        estimator = quietly(AutoencoderTransformer(4, init=init, random_state=0), X_train)
        ratios[init] = -estimator.score(X_test) / pca_error(pca, X_test)
    assert ratios["random"] > 1.05, ratios
    assert ratios["pca"] <= 1.02, ratios


def test_more_codes_than_features_start_as_pca():
    X = StandardScaler().fit_transform(correlated(40, 3))
    estimator = quietly(
        AutoencoderTransformer(5, hidden_layer_sizes=(8,), learning_rate=3.0, epochs=2), X
    )
    assert estimator.best_epoch_ == 0
    # Three components keep everything: PCA reconstructs the rows; two codes are zero.
    codes = estimator.transform(X)
    assert_allclose(codes[:, 3:], 0, atol=1e-6)
    assert_allclose(estimator.inverse_transform(codes), X, atol=1e-4)


def test_the_pca_start_trains_as_keras_model_fit_does(blobs, monkeypatch):
    # The same start, optimizer, batches and epochs as Model.fit: the same losses.
    import keras

    import sk_autoencoder._estimators.base

    starts = []
    train = sk_autoencoder._estimators.base.train

    def recording(model, X, **kwargs):
        starts.append(model.get_weights())
        return train(model, X, **kwargs)

    monkeypatch.setattr(sk_autoencoder._estimators.base, "train", recording)
    estimator = AutoencoderTransformer(
        2,
        hidden_layer_sizes=(8,),
        batch_size=16,
        epochs=4,
        shuffle=False,
        early_stopping=False,
        random_state=0,
    )
    estimator = quietly(estimator, blobs)
    assert estimator.validation_loss_curve_ is None
    model = keras.models.clone_model(estimator.model_)
    model.set_weights(starts[0])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    X = blobs.astype(np.float32)
    history = model.fit(X, X, batch_size=16, epochs=4, shuffle=False, verbose=0)
    assert_allclose(estimator.loss_curve_, history.history["loss"], rtol=1e-5)
    if estimator.best_epoch_ == 4:
        assert_allclose(estimator.model_.predict_on_batch(X), model.predict_on_batch(X), atol=1e-4)


def test_wide_data_is_fitted_incrementally_with_the_same_subspace(monkeypatch):
    monkeypatch.setattr("sk_autoencoder._start.COVARIANCE_FEATURES", 10)
    monkeypatch.setattr("sk_autoencoder._start.CHUNK_BYTES", 12 * 40 * 8)  # 40 rows a chunk
    X = correlated(301, 12, offset=5.0)
    rows = np.arange(301)
    mean, components = principal_components(X, rows, 3)
    pca = PCA(3, svd_solver="full").fit(X)
    assert_allclose(mean, pca.mean_, rtol=1e-10)
    # IncrementalPCA approximates PCA: each exact component lies within a hair of the
    # incremental one's span, and its reconstruction error is PCA's to 1%.
    assert_allclose(np.linalg.norm(components @ pca.components_.T, axis=0), 1, atol=1e-2)
    centred = X - mean
    error = np.mean((centred - centred @ components.T @ components) ** 2)
    assert pca_error(pca, X) <= error <= 1.01 * pca_error(pca, X)


def test_an_estimator_on_wide_data_starts_near_pca(monkeypatch):
    monkeypatch.setattr("sk_autoencoder._start.COVARIANCE_FEATURES", 4)
    X = StandardScaler().fit_transform(correlated(60, 8))
    estimator = quietly(AutoencoderTransformer(2, hidden_layer_sizes=(8,), learning_rate=1e-9), X)
    pca = PCA(2, svd_solver="full").fit(X)
    assert -estimator.score(X) <= 1.01 * pca_error(pca, X)


def test_without_early_stopping_the_last_epoch_is_kept():
    X = StandardScaler().fit_transform(correlated(60, 8))
    params = dict(hidden_layer_sizes=(16,), learning_rate=3.0, epochs=2, random_state=0)
    estimator = quietly(AutoencoderTransformer(3, early_stopping=False, **params), X)
    assert estimator.best_epoch_ == estimator.n_iter_ == 2
    # The same fit with early_stopping="auto" keeps the start, which is better.
    kept = quietly(AutoencoderTransformer(3, **params), X)
    assert kept.best_epoch_ == 0 and -kept.score(X) < -estimator.score(X)
