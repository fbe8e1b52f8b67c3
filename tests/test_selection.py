"""The guarantee against PCA: the network replaces PCA only on held-out evidence."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer, load
from sk_autoencoder._backends.base import variable_values
from sk_autoencoder._selection import MIN_ROWS, paired_evidence, plan


def quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def error(reducer, inputs, targets=None):
    targets = inputs if targets is None else targets
    return float(np.mean((targets - reducer.inverse_transform(reducer.transform(inputs))) ** 2))


def assert_is_pca_of(estimator, X, n_components):
    """``estimator`` codes and reconstructs as scikit-learn's PCA of ``X`` does."""
    pca = PCA(n_components, svd_solver="full").fit(X)
    codes = estimator.transform(X)
    assert_allclose(np.abs(codes), np.abs(pca.transform(X)), rtol=1e-4, atol=1e-4)
    assert_allclose(
        estimator.inverse_transform(codes), pca.inverse_transform(pca.transform(X)), atol=1e-4
    )


def test_a_clear_gain_is_evidence_and_noise_is_not():
    rng = np.random.default_rng(0)
    pca_errors = rng.gamma(2.0, size=200)
    evidence = paired_evidence(pca_errors, 0.5 * pca_errors)
    assert evidence.network_wins and 0 < evidence.lower_bound < evidence.pca_error / 2
    # The same errors, each shuffled to another row: on average no better.
    noise = paired_evidence(pca_errors, rng.permutation(pca_errors))
    assert not noise.network_wins


def test_the_bound_is_a_one_sided_t_bound_at_95_percent():
    differences = np.array([0.3, -0.1, 0.5, 0.2, 0.4, 0.1])
    evidence = paired_evidence(1 + differences, np.ones(6))
    expected = differences.mean() - 2.015048 * differences.std(ddof=1) / math.sqrt(6)
    assert evidence.lower_bound == pytest.approx(expected, rel=1e-5)
    assert evidence.confidence == 0.95


def test_too_few_rows_or_a_network_that_overflows_show_nothing():
    assert paired_evidence([1.0], [0.0]).lower_bound == -math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evidence = paired_evidence([1.0, 2.0, 3.0], [0.0, np.inf, np.nan])
    assert not evidence.network_wins


def test_held_out_plan_judges_on_rows_that_neither_trained_nor_stopped_the_network():
    (part,) = plan(1000, 0.1, lambda n_rows, folds: n_rows // 10, np.random.default_rng(0)).parts
    sizes = len(part.train_rows), len(part.stopping_rows), len(part.judging_rows)
    assert sizes == (810, 90, 100)
    everything = np.concatenate([part.train_rows, part.stopping_rows, part.judging_rows])
    assert_array_equal(np.sort(everything), np.arange(1000))
    # Where training stops on its own loss, nothing more is held out.
    (part,) = plan(1000, 0.1, lambda n_rows, folds: 0, np.random.default_rng(0)).parts
    assert part.stopping_rows is None and len(part.judging_rows) == 100


def test_folds_judge_every_row_once_on_networks_that_never_saw_it():
    folds = plan(37, 0.1, lambda n, folds: 5, np.random.default_rng(0))
    assert folds.scheme == "5-fold" and len(folds.parts) == 5
    judged = np.concatenate([part.judging_rows for part in folds.parts])
    assert_array_equal(np.sort(judged), np.arange(37))
    for part in folds.parts:
        assert not set(part.fitted_rows) & set(part.judging_rows)
        assert len(part.fitted_rows) + len(part.judging_rows) == 37
        assert len(part.stopping_rows) == 5
    assert_array_equal(folds.final.fitted_rows, np.arange(37))
    assert plan(MIN_ROWS - 1, 0.1, lambda n, folds: 0, np.random.default_rng(0)).parts == ()


@pytest.mark.parametrize("n_rows", [60, 800])
def test_pca_kept_is_pca_of_every_row_fit_was_given(n_rows):
    # Noise around a plane: nothing for a network to find beyond PCA's, and a learning
    # rate that spoils every epoch.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 2)) @ rng.normal(size=(2, 7)) + rng.normal(size=(n_rows, 7))
    estimator = quietly(AutoencoderTransformer(2, learning_rate=3.0, random_state=0), X)
    assert estimator.pca_kept_ and estimator.best_epoch_ == 0
    assert not estimator.selection_["network_wins"]
    assert estimator.selection_["scheme"] == ("5-fold" if n_rows < 500 else "held-out")
    assert_is_pca_of(estimator, X, 2)


def test_pca_is_kept_exactly_with_a_sigmoid_output_too():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 6))
    estimator = quietly(
        AutoencoderTransformer(2, output_activation="sigmoid", learning_rate=3.0), X
    )
    assert estimator.pca_kept_
    assert_is_pca_of(estimator, X, 2)


def test_a_network_that_only_beats_pca_on_its_training_rows_gives_way_to_pca():
    # 16 rows of pure noise: a network fits them far better than PCA does, and is worse
    # than PCA on any other rows from the same distribution.
    rng = np.random.default_rng(0)
    X, X_new = rng.normal(size=(16, 6)), rng.normal(size=(2000, 6))
    pca = PCA(2).fit(X)
    overfitted = quietly(
        AutoencoderTransformer(2, init="random", early_stopping=False, random_state=0), X
    )
    assert error(overfitted, X) < 0.7 * error(pca, X)
    assert error(overfitted, X_new) > 1.03 * error(pca, X_new)
    default = quietly(AutoencoderTransformer(2, random_state=0), X)
    assert default.pca_kept_ and default.selection_["rows"] == 16
    assert error(default, X_new) <= error(pca, X_new) * (1 + 1e-5)
    assert_is_pca_of(default, X, 2)


def test_a_network_shown_to_win_is_kept(digits_split):
    X_train, X_test = digits_split
    estimator = quietly(AutoencoderTransformer(8, random_state=0), X_train)
    assert not estimator.pca_kept_ and estimator.best_epoch_ > 0
    assert estimator.selection_["network_wins"] and estimator.selection_["lower_bound"] > 0
    pca = PCA(8).fit(X_train)
    assert error(estimator, X_test) < 0.8 * error(pca, X_test)


def test_folds_that_show_a_win_train_the_final_network_on_every_row(digits_split):
    X_train, X_test = digits_split
    X = X_train[:300]
    estimator = quietly(AutoencoderTransformer(8, hidden_layer_sizes=(64,), random_state=0), X)
    assert estimator.selection_["scheme"] == "5-fold" and estimator.selection_["rows"] == 300
    assert not estimator.pca_kept_ and estimator.n_iter_ > 0
    pca = PCA(8).fit(X)
    assert error(estimator, X_test) < error(pca, X_test)


def test_judged_fits_repeat_exactly_and_survive_a_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)) @ rng.normal(size=(3, 8)) + 0.3 * rng.normal(size=(120, 8))
    X = np.tanh(X)
    first, second = (
        quietly(AutoencoderTransformer(2, hidden_layer_sizes=(16,), random_state=3), X)
        for _ in range(2)
    )
    assert first.selection_ == second.selection_
    assert_array_equal(first.transform(X), second.transform(X))
    first.save(tmp_path / "judged.zip")
    loaded = load(tmp_path / "judged.zip")
    assert loaded.selection_ == first.selection_ and loaded.pca_kept_ == first.pca_kept_
    assert_array_equal(loaded.transform(X), first.transform(X))


def test_a_diverged_fit_keeps_pca_with_finite_weights_and_says_so():
    # A fit that once returned a loss of 2.9e32 and weights not all finite.
    rng = np.random.default_rng(0)
    X, X_new = rng.normal(size=(60, 6)), rng.normal(size=(2000, 6))
    estimator = AutoencoderTransformer(
        2, hidden_layer_sizes=(4,), epochs=3, learning_rate=1e9, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="Training diverged.*PCA") as record:
        estimator.fit(X)
    diverged = [warning for warning in record if warning.category is ConvergenceWarning]
    assert diverged[0].filename == __file__
    variables = estimator.model_.variables
    assert all(np.isfinite(variable_values(variable)).all() for variable in variables)
    assert estimator.pca_kept_
    pca = PCA(2).fit(X)
    assert error(estimator, X_new) <= error(pca, X_new) * (1 + 1e-5)


def test_divergence_without_held_out_rows_falls_back_on_the_start():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    estimator = AutoencoderTransformer(
        2, hidden_layer_sizes=(4,), epochs=3, learning_rate=1e9, early_stopping=False
    )
    with pytest.warns(ConvergenceWarning, match="diverged.*kept as it started"):
        estimator.fit(X)
    assert estimator.best_epoch_ == 0 and len(estimator.loss_curve_) < 3
    assert_is_pca_of(estimator, X, 2)


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_the_denoiser_never_denoises_worse_than_pca_where_it_would_otherwise(noise):
    # 40 rows of noise: trained on them, the denoiser reconstructs other corrupted rows
    # worse than PCA does.
    rng = np.random.default_rng(0)
    X, X_new = rng.normal(size=(40, 10)), rng.normal(size=(2000, 10))
    if noise == "gaussian":
        corrupted = X_new + 0.1 * X.std(axis=0) * rng.normal(size=X_new.shape)
    else:
        corrupted = np.where(rng.uniform(size=X_new.shape) < 0.1, 0, X_new)
    pca = PCA(4).fit(X)
    params = dict(noise=noise, random_state=0)
    unjudged = quietly(DenoisingAutoencoderTransformer(4, early_stopping=False, **params), X)
    assert error(unjudged, corrupted, X_new) > 1.05 * error(pca, corrupted, X_new)
    judged = quietly(DenoisingAutoencoderTransformer(4, **params), X)
    assert judged.pca_kept_
    assert error(judged, corrupted, X_new) <= error(pca, corrupted, X_new) * (1 + 1e-5)


def test_the_denoiser_is_judged_on_corrupted_rows(digits_split):
    X_train, _ = digits_split
    denoiser = quietly(
        DenoisingAutoencoderTransformer(8, noise_level=0.5, random_state=0), X_train
    )
    assert denoiser.selection_["scheme"] == "held-out"
    # All the held-out tenth judges (training stops on its own loss) ...
    assert denoiser.selection_["rows"] == math.ceil(0.1 * len(X_train))
    assert denoiser.validation_loss_curve_ is None
    # ... from corrupted rows: PCA's error there is above its clean error.
    pca = PCA(8).fit(X_train)
    assert denoiser.selection_["pca_error"] > 1.1 * error(pca, X_train)


def test_verbose_says_how_the_network_was_judged(capsys):
    X = np.random.default_rng(0).normal(size=(30, 5))
    quietly(AutoencoderTransformer(2, hidden_layer_sizes=(4,), epochs=2, verbose=2), X)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Network 1 of 5 (5-fold): trained on 24 rows, judged against PCA on 6"
    assert any(line.startswith("Judged on 30 rows:") for line in lines)
