"""scikit-learn's own estimator checks, every one of them, none expected to fail."""

import functools

import pytest
from sklearn.utils.estimator_checks import (
    check_estimators_partial_fit_n_features,
    parametrize_with_checks,
)

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    DenoisingAutoencoderTransformer,
)

from .networks import dense_decoder, dense_encoder


class narrow(functools.partial):
    """A builder at width 4, whose repr names no memory address: the checks' ids, which
    repeat the estimator's repr, are then the same in every worker process."""

    def __new__(cls, builder):
        return super().__new__(cls, builder, width=4)

    def __repr__(self):
        return f"{self.func.__name__}(width=4)"


ESTIMATORS = [
    AutoencoderTransformer(hidden_layer_sizes=(4,), epochs=3, random_state=0),
    DenoisingAutoencoderTransformer(
        noise="salt_and_pepper",
        noise_level=0.2,
        hidden_layer_sizes=(4,),
        epochs=3,
        random_state=0,
    ),
    # The checks ask predict to find outliers among make_blobs's rows, which are all
    # inside the training rows' spread: contamination="auto" rightly flags none of them.
    AutoencoderOutlierDetector(
        hidden_layer_sizes=(4,), epochs=3, contamination=0.1, random_state=0
    ),
    # A network of one's own, with batch normalization and dropout: compiled inference.
    AutoencoderTransformer(
        encoder=narrow(dense_encoder),
        decoder=narrow(dense_decoder),
        epochs=3,
        random_state=0,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    # The partial_fit checks among them: check_n_features_in_after_fitting,
    # check_dataframe_column_names_consistency, check_fit_score_takes_y,
    # check_fit_check_is_fitted, check_param_validation.
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda estimator: type(estimator).__name__)
def test_partial_fit_refuses_other_features(estimator):
    # scikit-learn runs this check for classifiers, regressors and clusterers only.
    check_estimators_partial_fit_n_features(type(estimator).__name__, estimator)
