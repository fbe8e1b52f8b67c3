"""Deploying: skops's files, MLflow's default format, and ONNX through skl2onnx."""

import keras
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    DenoisingAutoencoderTransformer,
)

from .networks import conv_decoder, conv_encoder, dense_decoder, dense_encoder
from .test_base import outputs, quietly

sio = pytest.importorskip("skops.io")

TRUSTED = [
    "sk_autoencoder.AutoencoderOutlierDetector",
    "sk_autoencoder.AutoencoderTransformer",
    "sk_autoencoder.DenoisingAutoencoderTransformer",
]

# Each kind of network a user fits: the ready dense and convolutional ones, builders of
# one's own, and the denoiser. The images are digits' 8 x 8 pixels.
NETWORKS = {
    "dense": lambda: AutoencoderTransformer(3, hidden_layer_sizes=(8,), epochs=2),
    "conv": lambda: AutoencoderTransformer(3, network="conv", input_shape=(8, 8), epochs=2),
    "builders": lambda: AutoencoderTransformer(
        3, encoder=dense_encoder, decoder=dense_decoder, epochs=2
    ),
    "conv builders": lambda: AutoencoderTransformer(
        3, input_shape=(8, 8, 1), encoder=conv_encoder, decoder=conv_decoder, epochs=2
    ),
    "denoising": lambda: DenoisingAutoencoderTransformer(
        3, hidden_layer_sizes=(8,), noise="masking", epochs=2
    ),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X[:300]), y[:300]


def classifier(name):
    """The pipeline users deploy: scaling, the estimator, a classifier of its codes."""
    return make_pipeline(
        StandardScaler(), NETWORKS[name]().set_params(random_state=0), LogisticRegression()
    )


# skops: a file of plain values, loaded without running code from it.


@pytest.mark.parametrize("name", NETWORKS)
def test_skops_round_trips_each_network(digits, name):
    X, _ = digits
    estimator = quietly(NETWORKS[name]().set_params(random_state=0), X)
    data = sio.dumps(estimator)

    assert sorted(sio.get_untrusted_types(data=data)) == [
        f"sk_autoencoder.{type(estimator).__name__}"
    ]
    restored = sio.loads(data, trusted=TRUSTED)

    assert type(restored) is type(estimator)
    assert restored.get_params().keys() == estimator.get_params().keys()
    for after, before in zip(outputs(restored, X), outputs(estimator, X), strict=True):
        assert_array_equal(after, before)
    # The restored parts share the restored model's weights, as a fitted estimator's do.
    assert restored.encoder_ is restored.model_.get_layer(estimator.encoder_.name)


@pytest.mark.parametrize("name", ["dense", "conv builders", "denoising"])
def test_skops_round_trips_a_pipeline(digits, name):
    X, y = digits
    pipeline = quietly(classifier(name), X, y)
    data = sio.dumps(pipeline)

    # Only the package's own types need trusting: scikit-learn's are trusted already.
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted and all(entry in TRUSTED for entry in untrusted)
    restored = sio.loads(data, trusted=untrusted)

    assert_array_equal(restored[:-1].transform(X), pipeline[:-1].transform(X))
    assert_array_equal(restored.predict_proba(X), pipeline.predict_proba(X))


def test_skops_round_trips_the_outlier_detector(digits):
    X, _ = digits
    detector = AutoencoderOutlierDetector(3, hidden_layer_sizes=(8,), epochs=2, random_state=0)
    detector = quietly(detector.set_params(contamination=0.1), X)
    data = sio.dumps(detector)
    assert sio.get_untrusted_types(data=data) == ["sk_autoencoder.AutoencoderOutlierDetector"]
    restored = sio.loads(data, trusted=TRUSTED)
    assert restored.offset_ == detector.offset_
    assert_array_equal(restored.decision_function(X), detector.decision_function(X))
    assert_array_equal(restored.predict(X), detector.predict(X))


def test_skops_refuses_a_state_whose_model_is_no_model(digits):
    X, _ = digits
    estimator = quietly(NETWORKS["dense"]().set_params(random_state=0), X)
    state = estimator.__getstate__()
    for model in [{"registered": "sk_autoencoder_tests>dense_encoder"}, b"not a zip", 3]:
        with pytest.raises(ValueError, match="AutoencoderTransformer cannot be restored"):
            AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(
                {**state, "model_": model}
            )


def test_skops_round_trips_an_unfitted_estimator():
    estimator = AutoencoderTransformer(2, encoder=dense_encoder, decoder=dense_decoder)
    restored = sio.loads(sio.dumps(estimator), trusted=TRUSTED)
    assert restored.get_params() == estimator.get_params()


def test_skops_loads_networks_in_safe_mode(digits, tmp_path):
    # A crafted file: the estimator's model holds a Lambda layer whose code writes a
    # file. Trusting the estimator's type must not trust the code its networks carry.
    X, _ = digits
    estimator = quietly(NETWORKS["dense"]().set_params(random_state=0), X)
    marker = tmp_path / "ran"
    touch = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]"
    estimator.model_ = keras.Sequential(
        [keras.Input((X.shape[1],)), keras.layers.Lambda(eval(touch))]
    )
    data = sio.dumps(estimator)
    marker.unlink(missing_ok=True)  # building the model above ran the code here

    with pytest.raises(ValueError, match=r"its model_ cannot be loaded .*Lambda"):
        sio.loads(data, trusted=TRUSTED)
    assert not marker.exists()


# MLflow: its default format for scikit-learn models is skops.


def test_mlflow_default_format_round_trips_a_classifier_pipeline(digits, tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
    X, y = digits
    pipeline = quietly(classifier("dense"), X, y)

    path = str(tmp_path / "model")
    mlflow_sklearn.save_model(pipeline, path, skops_trusted_types=TRUSTED)

    assert_array_equal(mlflow_sklearn.load_model(path).predict_proba(X), pipeline.predict_proba(X))
    assert_array_equal(mlflow_pyfunc.load_model(path).predict(X), pipeline.predict(X))


# ONNX: the estimator's encoder, exported by Keras, as a step of skl2onnx's graph. CI
# runs these on JAX too (jax2onnx exports there).


def onnx_outputs(estimator, X):
    """What onnxruntime computes for ``estimator`` converted by skl2onnx."""
    onnxruntime = pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    import sk_autoencoder.onnx  # noqa: F401  (registers the converter)

    options = {LogisticRegression: {"zipmap": False}}
    onx = skl2onnx.to_onnx(estimator, X[:1], options=options)
    session = onnxruntime.InferenceSession(onx.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize("name", ["dense", "conv", "denoising"])
def test_onnx_matches_the_estimator_and_the_pipeline(digits, name):
    X, y = digits
    X = X.astype(np.float32)
    pipeline = quietly(classifier(name), X, y)
    scaled, estimator = pipeline[0].transform(X), pipeline[1]

    # The estimator alone, on float and double input: float codes, as transform's.
    for inputs in (scaled.astype(np.float32), scaled.astype(np.float64)):
        (codes,) = onnx_outputs(estimator, inputs)
        assert codes.dtype == np.float32
        assert_allclose(codes, estimator.transform(inputs), rtol=0, atol=1e-5)

    # The pipeline around it: scaling, the codes, the classifier.
    labels, probabilities = onnx_outputs(pipeline, X)
    assert_array_equal(labels, pipeline.predict(X))
    assert_allclose(probabilities, pipeline.predict_proba(X), atol=1e-5)


def test_onnx_refuses_an_unfitted_estimator(digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        onnx_outputs(AutoencoderTransformer(2), digits[0].astype(np.float32))
