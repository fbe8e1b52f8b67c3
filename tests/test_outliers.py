"""AutoencoderOutlierDetector: thresholds, the robust training, repeatable scores, saving."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score

from sk_autoencoder import AutoencoderOutlierDetector, load
from sk_autoencoder._estimators.outliers import auto_fence, code_spread, share_offset

from .test_base import quietly
from .test_persistence import edited, rewrite

# The surface's directions, the same for every draw of rows.
SURFACE = np.random.default_rng(42).normal(size=(3, 20))


def curved_rows(n, rng):
    """Rows near a curved 3-dimensional surface in 20 dimensions."""
    codes = rng.normal(size=(n, 3))
    return np.tanh(codes @ SURFACE) + 0.05 * rng.normal(size=(n, 20))


def stray_rows(n, rng):
    """Rows scattered through the whole cube, off the surface."""
    return rng.uniform(-1.5, 1.5, size=(n, 20))


@pytest.fixture(scope="module")
def task():
    """Training rows holding 5% outliers, and held-out rows holding 5% of the same kind."""
    rng = np.random.default_rng(0)
    train = np.vstack([curved_rows(950, rng), stray_rows(50, rng)])
    held_out = np.vstack([curved_rows(950, rng), stray_rows(50, rng)])
    is_outlier = np.r_[np.zeros(950, bool), np.ones(50, bool)]
    return train, held_out, is_outlier


def detector(**params):
    return AutoencoderOutlierDetector(
        3, **{"hidden_layer_sizes": (32,), "epochs": 40, "random_state": 0, **params}
    )


def test_a_contamination_flags_its_share_of_held_out_rows(task):
    train, held_out, is_outlier = task
    fitted = quietly(detector(contamination=0.05), train)
    labels = fitted.predict(held_out)
    assert 0.04 <= np.mean(labels == -1) <= 0.06
    # On the training rows, the share is exact, as scikit-learn's detectors make it.
    assert np.mean(fitted.predict(train) == -1) == pytest.approx(0.05, abs=1 / len(train))
    assert np.mean(labels[is_outlier] == -1) >= 0.9


def test_auto_flags_outliers_and_few_normal_rows(task):
    train, held_out, is_outlier = task
    fitted = quietly(detector(), train)
    labels = fitted.predict(held_out)
    assert np.mean(labels[is_outlier] == -1) >= 0.9
    assert np.mean(labels[~is_outlier] == -1) <= 0.03
    clean = quietly(detector(), train[:950])
    rng = np.random.default_rng(1)
    assert np.mean(clean.predict(curved_rows(1000, rng)) == -1) <= 0.03


def test_auto_fence_is_tukeys_far_out_fence():
    errors = np.arange(1.0, 101.0)
    first, third = np.percentile(errors, [25, 75])
    assert auto_fence(errors) == pytest.approx(third + 3 * (third - first))
    # Outliers, a few of them however large, barely move it.
    assert auto_fence(np.r_[errors[:-5], [1e9] * 5]) == pytest.approx(auto_fence(errors), rel=0.05)


def test_share_offset_flags_the_share_and_follows_unseen_rows_within_the_gap():
    # Training scores with a gap after the 10 lowest: overfitted rows score near 0.
    scores = np.r_[np.linspace(-10, -5, 10), np.linspace(-0.1, 0, 90)]
    unseen_errors = np.r_[np.linspace(5, 10, 10), np.linspace(0.5, 1.5, 90)]
    weights = np.ones(100)
    for unseen in (None, (unseen_errors, weights)):
        offset = share_offset(scores, 0.1, unseen)
        assert np.sum(scores < offset) == 10
    # Inside the gap, the offset is the unseen rows' 10% quantile, not the training's.
    assert share_offset(scores, 0.1, (unseen_errors, weights)) == pytest.approx(-5, abs=0.01)
    # Without a gap, the share of training rows wins over the unseen rows.
    tight = np.linspace(-1, 0, 100)
    offset = share_offset(tight, 0.1, (unseen_errors, weights))
    assert np.sum(tight < offset) == 10


def test_the_robust_training_leaves_out_the_worst_rows(task):
    train, held_out, is_outlier = task
    robust = quietly(detector(contamination=0.05, robust=True), train)
    plain = quietly(detector(contamination=0.05, robust=False), train)
    assert robust.n_trimmed_ == 50 and plain.n_trimmed_ == 0
    robust_auc = roc_auc_score(is_outlier, -robust.score_samples(held_out))
    plain_auc = roc_auc_score(is_outlier, -plain.score_samples(held_out))
    assert robust_auc >= plain_auc - 0.005


def test_decision_function_and_predict_agree_with_the_offset(task):
    train, held_out, _ = task
    fitted = quietly(detector(contamination=0.1, robust=False), train)
    scores = fitted.score_samples(held_out)
    assert scores.dtype == np.float64
    assert_allclose(fitted.decision_function(held_out), scores - fitted.offset_)
    assert_array_equal(fitted.predict(held_out), np.where(scores < fitted.offset_, -1, 1))
    refitted = detector(contamination=0.1, robust=False)
    assert_array_equal(refitted.fit_predict(train), fitted.predict(train))


def test_the_same_random_state_gives_the_same_scores_bit_for_bit(task):
    train, held_out, _ = task
    first = quietly(detector(), train).score_samples(held_out)
    second = quietly(detector(), train).score_samples(held_out)
    assert_array_equal(first, second)


def test_partial_fit_sets_an_offset_from_its_block(task):
    train, _, _ = task
    fitted = detector(contamination=0.05)
    fitted.partial_fit(train)
    assert fitted.n_trimmed_ == 0
    assert np.mean(fitted.predict(train) == -1) == pytest.approx(0.05, abs=1 / len(train))


@pytest.mark.parametrize("how", ["save", "pickle"])
def test_a_saved_detector_scores_and_labels_as_before(task, tmp_path, how):
    train, held_out, _ = task
    fitted = quietly(detector(contamination=0.05, epochs=5), train)
    if how == "save":
        fitted.save(tmp_path / "detector.skae")
        restored = load(tmp_path / "detector.skae")
    else:
        restored = pickle.loads(pickle.dumps(fitted))
    assert type(restored) is AutoencoderOutlierDetector
    assert restored.offset_ == fitted.offset_ and restored.n_trimmed_ == fitted.n_trimmed_
    assert_array_equal(restored.code_precision_, fitted.code_precision_)
    assert_array_equal(restored.decision_function(held_out), fitted.decision_function(held_out))
    assert_array_equal(restored.predict(held_out), fitted.predict(held_out))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda fitted: fitted.update(code_location_=[1.0, 2.0]),
            "code_location_=.* is not valid",
        ),
        (
            lambda fitted: fitted.update(
                code_location_={"array": [0.0, 0.0], "dtype": "<f8"},
                code_precision_={"array": [[1.0, 0.0], [0.0, 1.0]], "dtype": "<f8"},
            ),
            "code_location_ holds 2 values, but it records encoding_dim=3",
        ),
        (
            lambda fitted: fitted.update(
                code_precision_={"array": [[1.0, 0.0], [0.0, 1.0]], "dtype": "<f8"}
            ),
            "(?s)code_precision_=.* is not valid",
        ),
        (
            lambda fitted: fitted.update(
                code_precision_={"array": [[float("nan")] * 3] * 3, "dtype": "<f8"}
            ),
            "(?s)code_precision_=.* is not valid",
        ),
        (lambda fitted: fitted.update(error_scale_=0.0), "error_scale_=0.0 is not valid"),
        (lambda fitted: fitted.update(distance_scale_=-1.0), "distance_scale_=-1.0 is not valid"),
    ],
)
def test_a_file_whose_code_spread_does_not_fit_the_network_is_refused(task, tmp_path, edit, match):
    train, _, _ = task
    path = tmp_path / "detector.skae"
    quietly(detector(epochs=2), train).save(path)
    rewrite(path, edited(path, lambda document: edit(document["fitted"])))
    with pytest.raises(ValueError, match=match):
        load(path)


def test_the_code_distance_finds_rows_far_along_the_surface():
    """Rows on the training rows' plane but far out along it reconstruct as well as the
    training rows: only their codes' distance tells them apart."""
    rng = np.random.default_rng(3)
    plane = np.linalg.qr(rng.normal(size=(12, 2)))[0].T

    def rows(codes):
        return codes @ plane + 0.01 * rng.normal(size=(len(codes), 12))

    train = rows(rng.normal(size=(600, 2)))
    directions = rng.normal(size=(20, 2))
    far = 8 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    held_out = np.vstack([rows(rng.normal(size=(300, 2))), rows(far)])
    is_outlier = np.r_[np.zeros(300, bool), np.ones(20, bool)]
    params = {"hidden_layer_sizes": (16,), "epochs": 30, "random_state": 0}
    with_distance = quietly(AutoencoderOutlierDetector(2, **params), train)
    without = quietly(AutoencoderOutlierDetector(2, code_distance=False, **params), train)
    assert roc_auc_score(is_outlier, -with_distance.score_samples(held_out)) >= 0.99
    assert roc_auc_score(is_outlier, -without.score_samples(held_out)) < 0.9
    # Without it, the score is the error alone, in units of the training rows' median.
    errors = -without.score_samples(held_out) * without.error_scale_
    codes = without.encoder_.predict(held_out, verbose=0)
    reconstructed = without.decoder_.predict(codes, verbose=0)
    assert_allclose(errors, np.mean((held_out - reconstructed) ** 2, axis=1), rtol=1e-4)


def test_the_code_spread_is_not_widened_by_outlying_codes():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(1000, 3))
    codes[:50] = 20 + rng.normal(size=(50, 3))
    location, precision = code_spread(codes)
    assert_allclose(location, 0, atol=0.15)
    assert_allclose(np.linalg.inv(precision), np.eye(3), atol=0.2)
    # Untrimmed, the outlying tenth would have moved the mean by 1 in each direction.
    assert np.all(codes.mean(axis=0) > 0.9)


def test_contamination_out_of_range_is_refused(task):
    train, _, _ = task
    with pytest.raises(ValueError, match="contamination"):
        detector(contamination=0.6).fit(train)
