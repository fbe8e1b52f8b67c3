"""Bad input: every method names the problem, and never hands back non-finite output."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

N_FEATURES, ENCODING_DIM = 4, 2
ALLOWED = (ValueError, TypeError, NotFittedError)
METHODS = ["fit", "transform", "inverse_transform", "score", "score_samples"]
EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def make(cls=AutoencoderTransformer):
    return cls(ENCODING_DIM, hidden_layer_sizes=(3,), epochs=1, random_state=0)


@pytest.fixture(scope="module", params=[AutoencoderTransformer, DenoisingAutoencoderTransformer])
def fitted(request):
    X = np.random.default_rng(0).normal(size=(30, N_FEATURES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make(request.param).fit(X)


# Widths near the ones each method expects, so that many draws pass the shape checks
# and reach the values and dtypes.
sides = st.sampled_from([0, 1, ENCODING_DIM, N_FEATURES, 5])
shapes = st.one_of(
    array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=6).map(
        lambda shape: (shape[0], shape[1])
    ),
    st.tuples(st.integers(0, 6), sides),
    array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
numeric_dtypes = st.sampled_from(
    ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "complex128"]
)


@st.composite
def inputs(draw):
    """Arrays, nested lists, DataFrames and sparse matrices of any dtype and value."""
    shape = draw(shapes)
    kind = draw(st.sampled_from(["numeric", "numeric", "numeric", "object", "text", "time"]))
    if kind == "numeric":
        X = draw(arrays(draw(numeric_dtypes), shape))
    elif kind == "object":
        elements = st.one_of(st.floats(), st.integers(-5, 5), st.text(max_size=2), st.none())
        X = draw(arrays(object, shape, elements=elements))
    elif kind == "text":
        X = draw(arrays("U2", shape))
    else:
        X = draw(arrays("datetime64[s]", shape))
    container = draw(st.sampled_from(["array", "list", "frame", "sparse"]))
    if container == "list":
        return X.tolist()
    if container == "frame" and X.ndim == 2:
        return pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    if container == "sparse" and X.ndim == 2 and X.dtype.kind in "iub":
        return scipy.sparse.csr_matrix(X)
    return X


# The widths each method accepts; None for any.
WIDTHS = {"fit": None, "inverse_transform": ENCODING_DIM}
# Inputs of magnitude up to this must be accepted, and give finite output.
VALID_MAGNITUDE = 1e6


def valid(method, X):
    """Whether ``method`` must accept ``X``: a 2-D array, nested list or DataFrame of
    real numbers (floats, integers or booleans), finite and at most VALID_MAGNITUDE in
    magnitude, with at least one row and the number of columns ``method`` expects."""
    if scipy.sparse.issparse(X):
        return False
    array = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    if array.dtype.kind not in "fiub" or array.ndim != 2 or 0 in array.shape:
        return False
    width = WIDTHS.get(method, N_FEATURES)
    if width is not None and array.shape[1] != width:
        return False
    values = array.astype(np.float64)
    return bool(np.isfinite(values).all() and np.abs(values).max() <= VALID_MAGNITUDE)


def call(estimator, method, X):
    """Call ``method`` on ``X``; check that it either raises an allowed, explained error
    or returns finite output, and that it accepts every valid input."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = getattr(estimator, method)(X)
    except ALLOWED as error:
        assert not valid(method, X), f"{method} refused a valid input: {error}"
        assert str(error).strip(), f"{type(error).__name__} with no message"
        return
    if method == "fit":
        assert np.isfinite(result.loss_curve_).all()
        result = result.transform(X)
    assert np.isfinite(np.asarray(result, dtype=np.float64)).all(), (method, X, result)


@pytest.mark.parametrize("method", METHODS[1:])
@EXAMPLES
@given(X=inputs())
def test_fitted_methods_raise_clear_errors_or_return_finite_output(fitted, method, X):
    call(fitted, method, X)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
@EXAMPLES
@given(X=inputs())
def test_fit_raises_clear_errors_or_learns_something_finite(cls, X):
    call(make(cls), "fit", X)


@st.composite
def valid_inputs(draw, width):
    """Inputs that ``valid`` accepts: real numbers of every dtype, in every container."""
    shape = (draw(st.integers(1, 6)), width if width is not None else draw(st.integers(1, 6)))
    dtype = draw(st.sampled_from(["float64", "float32", "float16", "int64", "int8", "bool"]))
    elements = None
    if np.dtype(dtype).kind == "f":
        bound = min(VALID_MAGNITUDE, float(np.finfo(dtype).max))
        elements = st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8)
    elif dtype == "int64":
        elements = st.integers(-int(VALID_MAGNITUDE), int(VALID_MAGNITUDE))
    X = draw(arrays(dtype, shape, elements=elements))
    container = draw(st.sampled_from(["array", "list", "frame"]))
    if container == "list":
        return X.tolist()
    if container == "frame":
        return pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    return X


@pytest.mark.parametrize("method", METHODS)
@settings(EXAMPLES, max_examples=50)
@given(data=st.data())
def test_every_valid_input_is_accepted(fitted, method, data):
    X = data.draw(valid_inputs(WIDTHS.get(method, N_FEATURES)))
    assert valid(method, X)
    estimator = make(type(fitted)) if method == "fit" else fitted
    call(estimator, method, X)


@pytest.mark.parametrize("method", METHODS[1:])
def test_methods_need_fit_first(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(make(), method)(np.zeros((2, N_FEATURES)))


@pytest.mark.parametrize(
    ("method", "X", "error", "match"),
    [
        ("fit", [[1.0, np.inf], [0.0, 1.0]], ValueError, "infinity"),
        ("fit", [[1.0, np.nan], [0.0, 1.0]], ValueError, "NaN"),
        ("fit", np.array([[1 + 2j, 0], [0, 1]]), ValueError, "Complex data not supported"),
        ("fit", np.empty((0, 3)), ValueError, "0 sample"),
        ("fit", np.empty((3, 0)), ValueError, "0 feature"),
        ("fit", np.ones(3), ValueError, "Expected 2D array, got 1D"),
        ("fit", np.ones((2, 2, 2)), ValueError, "dim 3"),
        ("fit", np.array([[1e300, 0.0], [0.0, 1.0]]), ValueError, "beyond the range the network"),
        # Within float32's range, but the squares of such errors are not.
        ("fit", np.array([[1e30, 0.0], [0.0, 1.0]], np.float32), ValueError, "squared errors"),
        ("transform", np.ones((2, 5)), ValueError, "5 features.*expecting 4"),
        ("transform", np.full((2, 4), 1e300), ValueError, "not finite for 2 of 2 rows"),
        ("inverse_transform", np.ones((2, 4)), ValueError, "codes of 2 values"),
        ("inverse_transform", np.full((2, 2), -1e300), ValueError, "not finite"),
        ("score", np.full((2, 4), np.nan), ValueError, "NaN"),
        ("score_samples", [["a", "b", "c", "d"]], ValueError, "could not convert"),
    ],
)
def test_bad_input_is_named(fitted, method, X, error, match):
    estimator = make() if method == "fit" else fitted
    with pytest.raises(error, match=match):
        getattr(estimator, method)(X)


def test_a_dataframe_with_a_text_column_is_named(fitted):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": 0.0, "d": 1.0})
    for method in ("fit", "transform", "score"):
        with pytest.raises(ValueError, match="could not convert string to float: 'x'"):
            getattr(make() if method == "fit" else fitted, method)(frame)


def test_sparse_input_is_refused_with_a_hint_to_densify(fitted):
    X = scipy.sparse.random(5, N_FEATURES, density=0.5, format="csr", random_state=0)
    for method in ("fit", "transform", "score_samples"):
        with pytest.raises(TypeError, match=r"dense data is required. Use '\.toarray\(\)'"):
            getattr(make() if method == "fit" else fitted, method)(X)


def test_a_failed_fit_leaves_a_fitted_estimator_as_it_was(fitted):
    before = fitted.transform(np.ones((1, N_FEATURES)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.fit(np.full((5, N_FEATURES), np.nan))
    np.testing.assert_array_equal(fitted.transform(np.ones((1, N_FEATURES))), before)
