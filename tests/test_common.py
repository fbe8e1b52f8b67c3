"""scikit-learn's own estimator checks, every one of them, none expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer


@parametrize_with_checks(
    [
        AutoencoderTransformer(hidden_layer_sizes=(4,), epochs=3, random_state=0),
        DenoisingAutoencoderTransformer(
            noise="salt_and_pepper",
            noise_level=0.2,
            hidden_layer_sizes=(4,),
            epochs=3,
            random_state=0,
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
