"""Behaviour of AutoencoderTransformer beyond scikit-learn's common checks."""

import io
import pickle
import random
import subprocess
import sys
import textwrap
import warnings

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import sk_autoencoder._estimators.base
from sk_autoencoder import AutoencoderTransformer

from . import ENVIRONMENT


def tiny(**params):
    """An estimator small and short enough for a unit test, that trains one network on
    all the rows (no rows held out to judge it against PCA: see test_selection)."""
    defaults = dict(hidden_layer_sizes=(8,), epochs=5, early_stopping=False, random_state=0)
    return AutoencoderTransformer(**{**defaults, **params})


def quietly(estimator, X, y=None):
    """``estimator.fit(X, y)``, whether or not training runs out of epochs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def outputs(estimator, X):
    codes = estimator.transform(X)
    return codes, estimator.inverse_transform(codes), estimator.score_samples(X)


def test_it_learns_digits_better_than_pca(digits_split):
    X_train, X_test = digits_split
    pca = PCA(8).fit(X_train)
    pca_mse = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)

    # Quality, not convergence, is what is tested: a fit may run every epoch.
    autoencoder = quietly(AutoencoderTransformer(encoding_dim=8, random_state=0), X_train)
    reconstruction = autoencoder.inverse_transform(autoencoder.transform(X_test))
    autoencoder_mse = np.mean((X_test - reconstruction) ** 2)

    assert autoencoder_mse <= 0.8 * pca_mse
    assert_allclose(-autoencoder.score(X_test), autoencoder_mse, rtol=1e-5)


def test_linear_autoencoder_without_hidden_layers_matches_pca(digits_split):
    # Baldi and Hornik (1989): a linear autoencoder converges to PCA's subspace.
    X_train, X_test = digits_split
    pca = PCA(4).fit(X_train)
    pca_mse = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    linear = quietly(
        AutoencoderTransformer(
            4, hidden_layer_sizes=(), learning_rate=1e-2, batch_size=128, random_state=0
        ),
        X_train,
    )
    assert_allclose(-linear.score(X_test), pca_mse, rtol=0.05)


def test_shapes_dtypes_and_fitted_attributes(blobs):
    estimator = tiny(encoding_dim=3).fit(blobs)
    codes, reconstruction, scores = outputs(estimator, blobs)
    assert codes.shape == (60, 3) and codes.dtype == np.float32
    assert reconstruction.shape == (60, 6) and reconstruction.dtype == np.float32
    assert scores.shape == (60,)
    assert estimator.n_features_in_ == 6
    assert estimator.n_iter_ == len(estimator.loss_curve_) == 5
    assert estimator.validation_loss_curve_ is None
    assert isinstance(estimator.model_, keras.Model)
    assert estimator.encoder_.output_shape == (None, 3)
    assert estimator.decoder_.output_shape == (None, 6)
    assert_array_equal(
        estimator.get_feature_names_out(),
        ["autoencodertransformer0", "autoencodertransformer1", "autoencodertransformer2"],
    )


def test_outputs_match_the_keras_models(blobs):
    estimator = tiny(encoding_dim=3, activation="tanh").fit(blobs)
    codes, reconstruction, scores = outputs(estimator, blobs)
    x = blobs.astype(np.float32)
    assert_allclose(codes, keras.ops.convert_to_numpy(estimator.encoder_(x)), rtol=1e-5, atol=1e-6)
    keras_reconstruction = keras.ops.convert_to_numpy(estimator.model_(x))
    assert_allclose(reconstruction, keras_reconstruction, rtol=1e-4, atol=1e-6)
    keras_scores = -np.mean((blobs - keras_reconstruction) ** 2, axis=1)
    assert_allclose(scores, keras_scores, rtol=1e-4, atol=1e-7)
    assert estimator.score(blobs) == pytest.approx(np.mean(scores))


def test_score_is_higher_for_data_like_the_training_data(blobs):
    # Noise with each feature's mean and spread, but none of the blobs' structure: only
    # a network that learnt that structure reconstructs the blobs better.
    rng = np.random.default_rng(1)
    noise = blobs.mean(axis=0) + blobs.std(axis=0) * rng.normal(size=blobs.shape)
    trained = quietly(tiny(epochs=200, learning_rate=1e-2, batch_size=8), blobs)
    assert -trained.score(blobs) < 0.2 * -trained.score(noise)
    # The bar is one that a network that learnt nothing does not meet (a random start:
    # the PCA start has learnt the blobs' subspace before training).
    untrained = quietly(tiny(epochs=1, learning_rate=1e-9, init="random"), blobs)
    assert -untrained.score(blobs) > 0.2 * -untrained.score(noise)


def test_inference_never_calls_model_predict(blobs, monkeypatch):
    estimator = tiny().fit(blobs)

    def refuse(*args, **kwargs):
        raise AssertionError("keras.Model.predict was called")

    monkeypatch.setattr(keras.Model, "predict", refuse)
    monkeypatch.setattr(keras.Model, "predict_on_batch", refuse)
    outputs(estimator, blobs)
    estimator.score(blobs)


def test_transform_in_chunks_matches_one_pass(blobs, monkeypatch):
    estimator = tiny().fit(blobs)
    whole = outputs(estimator, blobs)
    # Force chunks of a few rows: the results must not depend on the chunking.
    monkeypatch.setattr("sk_autoencoder._inference.CHUNK_VALUES", 40)
    for chunked, one_pass in zip(outputs(estimator, blobs), whole, strict=True):
        assert_allclose(chunked, one_pass, rtol=1e-6, atol=1e-7)


def test_same_random_state_gives_identical_results(blobs):
    first = tiny(random_state=42).fit(blobs)
    second = tiny(random_state=42).fit(blobs)
    assert_array_equal(first.transform(blobs), second.transform(blobs))
    assert first.loss_curve_ == second.loss_curve_


def test_random_state_none_gives_fresh_randomness(blobs):
    first = tiny(random_state=None).fit(blobs)
    second = tiny(random_state=None).fit(blobs)
    assert not np.array_equal(first.transform(blobs), second.transform(blobs))


def test_random_state_instance_is_used_and_advanced(blobs):
    rng = np.random.RandomState(0)
    state_before = rng.get_state()[1].copy()
    tiny(random_state=rng).fit(blobs)
    assert not np.array_equal(rng.get_state()[1], state_before)


@pytest.mark.parametrize("random_state", [None, 0])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_global_random_state_is_left_alone(blobs, random_state, early_stopping):
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    estimator = tiny(random_state=random_state, early_stopping=early_stopping).fit(blobs)
    outputs(estimator, blobs)
    assert random.getstate() == python_state
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0]
    assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_shuffle_false_visits_rows_in_order_and_still_reproduces(blobs):
    first = tiny(shuffle=False, batch_size=8).fit(blobs)
    second = tiny(shuffle=False, batch_size=8).fit(blobs)
    shuffled = tiny(shuffle=True, batch_size=8).fit(blobs)
    assert_array_equal(first.transform(blobs), second.transform(blobs))
    assert first.loss_curve_ != shuffled.loss_curve_


def test_early_stopping_stops_after_patience_and_keeps_the_best_epoch(blobs, held_out_rows):
    # No epoch improves on the first by tol=1e6: the first is the best, and training
    # stops n_iter_no_change epochs after it. (From a random start: the PCA start would
    # be the best; test_start covers it.)
    estimator = tiny(
        init="random",
        early_stopping=True,
        epochs=50,
        n_iter_no_change=3,
        tol=1e6,
        learning_rate=0.03,
    ).fit(blobs)
    curve = estimator.validation_loss_curve_
    assert estimator.n_iter_ == len(curve) == len(estimator.loss_curve_) == 4
    (validation_rows,) = held_out_rows
    assert len(validation_rows) == 6
    # The weights kept are the first epoch's, not the last's.
    assert abs(curve[-1] - curve[0]) > 1e-3 * curve[0]
    assert_allclose(-estimator.score(blobs[validation_rows]), curve[0], rtol=1e-4)


def test_early_stopping_keeps_the_weights_of_the_lowest_validation_loss(blobs, held_out_rows):
    # Patience longer than the epochs: all 30 run, and the best of them is kept. (From a
    # random start: with the PCA start, the network is judged against PCA, and the
    # start is a candidate too; test_selection and test_training cover both.)
    params = dict(init="random", early_stopping=True, epochs=30, n_iter_no_change=30, tol=0.0)
    estimator = quietly(tiny(**params, learning_rate=0.03, batch_size=8), blobs)
    curve = estimator.validation_loss_curve_
    assert estimator.n_iter_ == len(curve) == 30
    (validation_rows,) = held_out_rows
    held_out_error = -estimator.score(blobs[validation_rows])
    assert curve[estimator.best_epoch_ - 1] == min(curve)
    assert_allclose(held_out_error, min(curve), rtol=1e-4)


def test_training_stops_when_the_loss_stops_improving(blobs):
    estimator = tiny(epochs=500, tol=1e6, n_iter_no_change=2).fit(blobs)
    # No epoch improves on the first by 1e6: training stops after 2 more epochs.
    assert estimator.n_iter_ == 3


def test_running_out_of_epochs_warns(blobs):
    with pytest.warns(ConvergenceWarning, match="epochs=2") as record:
        tiny(epochs=2, tol=0.0).fit(blobs)
    # The warning points at the line that called fit, not into the package.
    assert record[0].filename == __file__


def test_divergence_raises_and_leaves_the_estimator_unfitted(blobs):
    # From a random start there is nothing to fall back on (the PCA start is one: see
    # test_selection).
    estimator = tiny(init="random", learning_rate=1e30, optimizer="sgd", epochs=20)
    with pytest.raises(ValueError, match=r"diverged: the loss became (nan|inf) at epoch [12]\."):
        estimator.fit(blobs * 1e10)
    with pytest.raises(NotFittedError):
        estimator.transform(blobs)
    assert not hasattr(estimator, "n_features_in_")


def test_failed_refit_keeps_the_previous_fit(blobs):
    estimator = tiny(init="random").fit(blobs)
    before = estimator.transform(blobs)
    estimator.set_params(learning_rate=1e30, optimizer="sgd", epochs=20)
    with pytest.raises(ValueError, match="diverged"):
        estimator.fit(np.hstack([blobs, blobs]) * 1e10)
    assert estimator.n_features_in_ == 6
    assert_array_equal(estimator.transform(blobs), before)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(blobs):
    estimator = tiny(encoding_dim=3).fit(blobs)
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params()
    assert not hasattr(copy, "model_")
    assert_array_equal(copy.fit(blobs).transform(blobs), estimator.transform(blobs))


def assert_shares_weights(estimator):
    """The encoder and decoder are views of model_'s variables, not copies."""
    model_variables = {id(variable) for variable in estimator.model_.weights}
    for part in (estimator.encoder_, estimator.decoder_):
        assert {id(variable) for variable in part.weights} <= model_variables
    for variable in estimator.model_.weights:
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    assert not np.any(estimator.transform(np.ones((2, estimator.n_features_in_))))


@pytest.mark.parametrize(
    "round_trip",
    [
        lambda estimator: pickle.loads(pickle.dumps(estimator)),
        lambda estimator: joblib.load(joblib_dump(estimator)),
    ],
    ids=["pickle", "joblib"],
)
def test_pickle_and_joblib_round_trips(blobs, round_trip):
    estimator = tiny(encoding_dim=3).fit(blobs)
    restored = round_trip(estimator)
    for after, before in zip(outputs(restored, blobs), outputs(estimator, blobs), strict=True):
        assert_array_equal(after, before)
    assert restored.loss_curve_ == estimator.loss_curve_
    assert_shares_weights(restored)
    # The original is untouched by the round trip and by changes to the copy.
    assert estimator.transform(blobs).any()


def joblib_dump(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    return buffer


def test_unfitted_estimator_round_trips():
    estimator = tiny(encoding_dim=3)
    restored = pickle.loads(pickle.dumps(estimator))
    assert restored.get_params() == estimator.get_params()
    with pytest.raises(NotFittedError):
        restored.transform(np.zeros((1, 6)))


def test_fitted_estimator_shares_weights(blobs):
    assert_shares_weights(tiny().fit(blobs))


def test_pandas_in_and_out(blobs):
    frame = pd.DataFrame(blobs, columns=[f"x{i}" for i in range(6)])
    estimator = tiny(encoding_dim=3).set_output(transform="pandas").fit(frame)
    assert_array_equal(estimator.feature_names_in_, frame.columns)
    codes = estimator.transform(frame)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert_array_equal(codes.index, frame.index)
    assert estimator.inverse_transform(codes).shape == (60, 6)
    with pytest.warns(UserWarning, match="feature names"):
        estimator.transform(blobs)


def test_pipeline_and_grid_search_with_no_scoring(digits_split):
    X_train, _ = digits_split
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("ae", tiny(hidden_layer_sizes=(16,), epochs=3))]
    )
    grid = [2, 4, 8]
    search = GridSearchCV(pipeline, {"ae__encoding_dim": grid}, cv=3, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train[:300])
        # Each candidate's score is its pipelines' own score on the held-out folds.
        by_hand = [
            cross_val_score(clone(pipeline).set_params(ae__encoding_dim=dim), X_train[:300], cv=3)
            for dim in grid
        ]
    scores = search.cv_results_["mean_test_score"]
    assert_allclose(scores, [np.mean(folds) for folds in by_hand], rtol=1e-5)
    assert search.best_params_["ae__encoding_dim"] == grid[int(np.argmax(scores))]
    assert search.transform(X_train[:5]).shape[1] == search.best_params_["ae__encoding_dim"]


def test_cross_val_score_uses_the_estimator_score(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(tiny(), blobs, cv=3)
        folds = KFold(3).split(blobs)
        by_hand = [tiny().fit(blobs[train]).score(blobs[test]) for train, test in folds]
    assert_allclose(scores, by_hand, rtol=1e-6)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"encoding_dim": 0}, "encoding_dim"),
        ({"encoding_dim": 2.5}, "encoding_dim"),
        ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
        ({"activation": "swish-ish"}, "activation"),
        ({"output_activation": "softmax"}, "output_activation"),
        ({"loss": "kl"}, "loss"),
        ({"optimizer": "adagrad-ish"}, "optimizer"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"alpha": -1.0}, "alpha"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": "big"}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"early_stopping": "yes"}, "early_stopping"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"tol": -1e-3}, "tol"),
        ({"shuffle": "no"}, "shuffle"),
        ({"random_state": "seed"}, "random_state"),
        ({"verbose": "loud"}, "verbose"),
    ],
)
def test_invalid_parameters_are_named(blobs, params, match):
    with pytest.raises(ValueError, match=f"'{match}' parameter"):
        tiny(**params).fit(blobs)


@pytest.mark.parametrize("sizes", [(8, 0), (8, -2), (4.5,), (True,)])
def test_invalid_hidden_layer_sizes(blobs, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold positive integers"):
        tiny(hidden_layer_sizes=sizes).fit(blobs)


def test_hidden_layer_sizes_may_be_an_int_or_empty(blobs):
    def dense_widths(estimator):
        return [
            layer.units
            for layer in estimator.encoder_.layers
            if isinstance(layer, keras.layers.Dense)
        ]

    assert dense_widths(tiny(hidden_layer_sizes=5).fit(blobs)) == [5, 2]
    assert dense_widths(tiny(hidden_layer_sizes=()).fit(blobs)) == [2]


def test_binary_crossentropy_needs_a_sigmoid_output(blobs):
    with pytest.raises(ValueError, match='output_activation="sigmoid"'):
        tiny(loss="binary_crossentropy").fit(blobs)
    unit = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    estimator = tiny(loss="binary_crossentropy", output_activation="sigmoid").fit(unit)
    reconstruction = estimator.inverse_transform(estimator.transform(unit))
    assert np.all((reconstruction > 0) & (reconstruction < 1))


def test_early_stopping_needs_rows_to_train_on():
    with pytest.raises(ValueError, match="leaves no rows to train on"):
        tiny(init="random", early_stopping=True, validation_fraction=0.5).fit(np.ones((1, 3)))


def test_batch_size_larger_than_the_data_is_clipped(blobs, monkeypatch):
    batch_sizes, train = [], sk_autoencoder._estimators.base.train

    def recording_train(model, X, **kwargs):
        batch_sizes.append(kwargs["batch_size"])
        return train(model, X, **kwargs)

    monkeypatch.setattr("sk_autoencoder._estimators.base.train", recording_train)
    clipped = quietly(tiny(batch_size=10_000), blobs)
    whole = quietly(tiny(batch_size=60), blobs)
    assert batch_sizes == [60, 60]
    # One step an epoch, the same as a batch of all 60 rows.
    assert int(clipped.model_.optimizer.iterations) == 5
    assert clipped.loss_curve_ == whole.loss_curve_


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "nadam", "rmsprop", "sgd"])
@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_every_optimizer_and_loss_trains(blobs, optimizer, loss):
    # Plain SGD takes larger steps to move as far in 10 epochs.
    learning_rate = 0.1 if optimizer == "sgd" else 1e-2
    estimator = quietly(
        tiny(
            init="random",
            optimizer=optimizer,
            loss=loss,
            epochs=10,
            batch_size=8,
            learning_rate=learning_rate,
        ),
        blobs,
    )
    # The first epoch's loss is mostly that of the random initial weights: training
    # lowers it.
    assert estimator.loss_curve_[-1] < 0.9 * estimator.loss_curve_[0]
    assert estimator.model_.optimizer.name == optimizer


@pytest.mark.parametrize(
    "method, X, match",
    [
        ("transform", np.ones((2, 4)), "X has 4 features, but AutoencoderTransformer"),
        ("score", np.ones((2, 4)), "X has 4 features"),
        ("inverse_transform", np.ones((2, 5)), r"codes of 2 values \(encoding_dim=2\)"),
        ("transform", np.full((2, 6), np.nan), "Input X contains NaN"),
        ("inverse_transform", np.full((2, 2), np.inf), "Input X contains infinity"),
        ("transform", np.ones(6), "Expected 2D array, got 1D array"),
        ("score_samples", np.ones((0, 6)), "0 sample"),
    ],
)
def test_invalid_input_is_named(blobs, method, X, match):
    estimator = tiny().fit(blobs)
    with pytest.raises(ValueError, match=match):
        getattr(estimator, method)(X)


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "score", "score_samples"])
def test_methods_need_a_fit_first(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(tiny(), method)(np.ones((2, 2)))


def test_fit_rejects_nan_and_strings():
    with pytest.raises(ValueError, match="Input X contains NaN"):
        tiny().fit(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="could not convert string"):
        tiny().fit(np.array([["a", "b"], ["c", "d"]], dtype=object))


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter; return what it printed to stdout."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**ENVIRONMENT, **env},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


QUIET_FIT = """
    import os, sys, warnings
    import numpy as np
    import keras
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)  # ours, not Keras's: tested elsewhere

    keras.ops.convert_to_numpy(keras.ops.ones(1))  # let the backend start up first
    sys.stdout.flush(); sys.stderr.flush()
    from sk_autoencoder import AutoencoderTransformer

    X = np.random.default_rng(0).normal(size=(50, 6))
    # Everything the estimator prints from here on, down to the file descriptors.
    os.dup2(os.open("estimator-output.txt", os.O_WRONLY | os.O_CREAT), 1)
    os.dup2(1, 2)
    estimator = AutoencoderTransformer(hidden_layer_sizes=(4,), epochs=3,
                                       early_stopping=True, verbose={verbose})
    estimator.fit(X)
    estimator.inverse_transform(estimator.transform(X))
    estimator.score(X)
    # Short fits in a row, as in a grid search: each traces a new model's train function.
    for _ in range(6):
        AutoencoderTransformer(hidden_layer_sizes=(4,), epochs=1, verbose={verbose}).fit(X)
"""


def test_verbose_two_prints_one_line_per_epoch(blobs, capsys):
    tiny(epochs=3, batch_size=16, verbose=2).fit(blobs)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6 and all("4/4" in line and "- loss: " in line for line in lines[1::2])


@pytest.mark.each_backend
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_verbose_zero_prints_nothing_and_one_shows_epochs(tmp_path, backend):
    for verbose in (0, 1):
        run_python(
            f"import os; os.chdir({str(tmp_path)!r})\n"
            + textwrap.dedent(QUIET_FIT).format(verbose=verbose),
            KERAS_BACKEND=backend,
        )
        printed = (tmp_path / "estimator-output.txt").read_text()
        if verbose == 0:
            assert printed == ""
        else:
            assert "Epoch 1/3" in printed and "val_loss" in printed
        (tmp_path / "estimator-output.txt").unlink()


@pytest.mark.each_backend
def test_fits_compiled_with_xla_print_nothing(tmp_path):
    # Every fit takes TensorFlow's XLA path here; the first compile in a process logs
    # "XLA service ... initialized" and "Compiled cluster using XLA!" unless held back.
    setup = """
    import sk_autoencoder._backends.tensorflow, sk_autoencoder._training
    sk_autoencoder._training.XLA_VALUES = 0
    held_back, hold_back = [], sk_autoencoder._backends.tensorflow.info_lines_held_back
    def counted():
        held_back.append(1)
        return hold_back()
    sk_autoencoder._backends.tensorflow.info_lines_held_back = counted
    """
    code = (
        textwrap.dedent(QUIET_FIT)
        .format(verbose=0)
        .replace(
            "from sk_autoencoder import AutoencoderTransformer\n",
            "from sk_autoencoder import AutoencoderTransformer\n" + textwrap.dedent(setup),
        )
        .replace("estimator.score(X)\n", "estimator.score(X)\nfirst = len(held_back)\n")
    )
    code += "\nopen('compiles.txt', 'w').write(f'{first} {len(held_back)}')\n"
    run_python(f"import os; os.chdir({str(tmp_path)!r})\n" + code, KERAS_BACKEND="tensorflow")
    assert (tmp_path / "estimator-output.txt").read_text() == ""
    # 50 rows are judged by 5 folds: each fit trains networks on 40 rows, and on all 50
    # where the folds show a win (on this noise, by chance: random_state is None). One
    # compile for each shape; the six short fits share theirs, as a grid search's do.
    first, total = map(int, (tmp_path / "compiles.txt").read_text().split())
    assert 1 <= first <= 2
    assert 1 <= total - first <= 2


@pytest.mark.each_backend
def test_works_under_jax_without_importing_tensorflow(tmp_path):
    result = run_python(
        """
        import pickle, sys
        import numpy as np
        from sk_autoencoder import AutoencoderTransformer

        X = np.random.default_rng(0).normal(size=(40, 5))
        first = AutoencoderTransformer(3, hidden_layer_sizes=(6,), epochs=4, random_state=0)
        second = AutoencoderTransformer(3, hidden_layer_sizes=(6,), epochs=4, random_state=0)
        codes = first.fit(X).transform(X)
        assert np.array_equal(codes, second.fit(X).transform(X))
        first.inverse_transform(codes), first.score(X)
        print(codes.shape, "tensorflow" in sys.modules)
        # Keras's own serialization imports TensorFlow when it can: checked after the above.
        restored = pickle.loads(pickle.dumps(first))
        assert np.array_equal(restored.transform(X), codes)
        """,
        KERAS_BACKEND="jax",
    )
    assert result.stdout.strip() == "(40, 3) False"


@pytest.mark.parametrize("init", ["random", "pca"])
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize(
    "patch",
    [
        ("CHUNK_BYTES", 16 * 6 * 4),  # one batch a chunk (16 rows x 6 float32 features)
        ("RESIDENT_BYTES", 0),  # rows gathered on the host, not in the backend
        ("XLA_VALUES", 0),  # on TensorFlow, full chunks compiled with XLA
    ],
)
def test_every_way_of_feeding_trains_alike(blobs, monkeypatch, early_stopping, patch, init):
    # 60 rows (54 when validating) in batches of 16: the epoch's last batch is short.
    params = dict(init=init, batch_size=16, epochs=4, early_stopping=early_stopping)
    whole_epoch = tiny(**params).fit(blobs)
    monkeypatch.setattr(f"sk_autoencoder._training.{patch[0]}", patch[1])
    other = tiny(**params).fit(blobs)
    if init == "random":
        assert_allclose(whole_epoch.loss_curve_, other.loss_curve_, rtol=1e-6)
        assert_allclose(whole_epoch.transform(blobs), other.transform(blobs), rtol=1e-5, atol=1e-6)
        return
    # At the PCA start the encoder's gradients are all but zero, and Adam divides them by
    # their own size: another path's rounding (XLA fuses the skip path's sums) moves a
    # weight by up to the learning rate a step. The losses still agree to a few ulps.
    assert_allclose(whole_epoch.loss_curve_, other.loss_curve_, rtol=1e-5)
    assert_allclose(whole_epoch.transform(blobs), other.transform(blobs), atol=16 * 1e-3)


@pytest.mark.parametrize("alpha", [0.0, 0.01])
def test_trains_as_keras_model_fit_does(blobs, alpha):
    # Same network, initial weights, optimizer, batches and epochs: the same losses.
    # (From a random start, which clone_model repeats; test_start covers the PCA start.)
    estimator = tiny(init="random", batch_size=16, epochs=4, shuffle=False, alpha=alpha)
    estimator.fit(blobs)
    model = keras.models.clone_model(estimator.model_)  # seeded initializers: same start
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    X = blobs.astype(np.float32)
    history = model.fit(X, X, batch_size=16, epochs=4, shuffle=False, verbose=0)
    assert_allclose(estimator.loss_curve_, history.history["loss"], rtol=1e-5)
    assert_allclose(estimator.model_.predict_on_batch(X), model.predict_on_batch(X), atol=1e-5)
