"""BaseAutoencoder: what every estimator of this package shares (a Keras autoencoder,
its parameters, its fit judged against PCA), and :func:`init_with` for their signatures."""

import contextlib
import copyreg
import inspect
import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

import keras
import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backends import to_numpy
from .._inference import (
    ACTIVATIONS,
    forward_function,
    reconstruction_errors,
)
from .._io.pages import memory_mapped, read_chunks, row_chunks, rows_per_chunk
from .._io.persistence import (
    NETWORK_PARAMS,
    attach_model,
    network_from_state,
    network_state,
    save,
)
from .._network import (
    CONV_DECODER_SEEDS,
    CONV_ENCODER_SEEDS,
    build_autoencoder,
    build_conv_decoder,
    build_conv_encoder,
    build_decoder,
    build_encoder,
    describe_autoencoder,
    own_network,
    wrap_decoder,
    wrap_encoder,
)
from .._selection import MIN_STOPPING_ROWS, Part, paired_evidence
from .._selection import plan as selection_plan
from .._start import (
    pca_reconstruction_errors,
    principal_components,
    principal_components_of_unions,
    sample_rows,
    start_at_pca,
)
from .._training import gathered, split_validation, train

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}

_LOSSES = {"mse", "mae", "huber", "binary_crossentropy"}

# Inputs are kept as float32 or float64 (anything else becomes float32); the network
# computes in Keras's float type.
_INPUT_DTYPES = [np.float32, np.float64]
# A memory-mapped X is checked for NaN and infinity this many values at a time.
_FINITE_CHECK_VALUES = 2**22

# Rows per gradient step when batch_size="auto" (clipped to the training rows).
_AUTO_BATCH_SIZE = 64

# The largest seed a Keras initializer or a numpy Generator is given.
_MAX_SEED = 2**31 - 1


class _Seeds(NamedTuple):
    """The seeds of one fit: the encoder's and the decoder's initializers, the
    corruption layer's, the order of the rows, and the corruption of judged rows."""

    encoder: list
    decoder: list
    corruption: int
    shuffle: int
    judging: int


class _NetworkRecipe(NamedTuple):
    """What every new network of one fit is built from."""

    input_shape: tuple
    hidden_layer_sizes: tuple
    seeds: _Seeds


@dataclass(frozen=True)
class _Trained:
    """A network, and the history of its training (None for one never trained)."""

    model: object
    encoder: object
    decoder: object
    history: object


@dataclass(frozen=True)
class _Fitted:
    """What a fit ends with: ``trained``, the network whose training the fitted
    attributes record (None where none was); ``networks``, every network it trained;
    ``pca_network``, the network that computes PCA, where it replaced the trained one;
    ``selection``, the evidence that decided (see ``selection_``);
    ``held_out_errors``, the squared error of each judged row by what was kept, from
    networks that did not train on it, and ``held_out_rows``, those rows (both None
    where no rows were judged)."""

    trained: _Trained | None
    networks: list
    pca_network: _Trained | None = None
    selection: dict | None = None
    held_out_errors: np.ndarray | None = None
    held_out_rows: np.ndarray | None = None


def _local_rng(random_state):
    """A ``numpy.random.Generator`` for ``random_state`` that leaves global state alone.

    ``None`` draws fresh entropy from the OS rather than from the global
    ``numpy.random`` state, which scikit-learn's ``check_random_state`` would advance.
    """
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(_MAX_SEED))
    return np.random.default_rng(random_state)


def _check_in_range(X):
    """Raise ``ValueError`` if ``X`` holds values too large for the network to train on.

    Training squares reconstruction errors in Keras's float type: a row of
    ``n_features`` values as large as ``limit`` can have a squared error near
    ``4 * n_features * limit**2``, which must stay within the float type's range, or the
    loss, the network and PCA's candidate alike overflow. Data that large must be
    scaled, and saying so before training beats a fit that diverges.
    """
    if X.size == 0:
        return
    floatx = np.dtype(keras.config.floatx())
    limit = float(np.sqrt(np.finfo(floatx).max / (4 * X.shape[1])))
    peak = max(float(X.max()), -float(X.min()))
    if peak > limit:
        raise ValueError(
            f"X holds values as large as {peak:.3g} in magnitude, beyond the range the "
            f"network can train on in its float type {floatx} ({limit:.3g} for "
            f"{X.shape[1]} features: the squared errors of larger values overflow). "
            "Scale the data first, for example with StandardScaler."
        )


@contextlib.contextmanager
def _restored_on_error(estimator):
    """Put back the attributes ``estimator`` had if the block raises.

    A fit that fails part way (bad input found late, a diverged loss) leaves the
    estimator as it was: unfitted, or fitted by the last fit that succeeded.
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


@contextlib.contextmanager
def _variables_restored_on_error(model):
    """Put back the values of ``model``'s and its optimizer's variables if the block raises.

    Training that continues a fitted network changes its variables in place; a
    diverged epoch must not leave the network it was given broken.
    """
    variables = [*model.variables, *model.optimizer.variables]
    saved = [keras.ops.copy(variable.value) for variable in variables]
    try:
        yield
    except BaseException:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
        raise


def init_with(base_init, **parameters):
    """An ``__init__`` that takes ``base_init``'s parameters and ``parameters``.

    The new parameters, with their defaults, come keyword-only right after the first
    one; like every ``__init__`` here, it only stores its arguments. scikit-learn
    reads an estimator's parameters from its signature, which this function writes,
    so that a subclass adds parameters without repeating the ones it inherits.
    """
    signature = inspect.signature(base_init)
    this, first, *others = signature.parameters.values()
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in parameters.items()
    ]
    signature = signature.replace(parameters=[this, first, *added, *others])
    names = list(signature.parameters)[1:]

    def __init__(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs)
        arguments.apply_defaults()
        for name in names:
            setattr(self, name, arguments.arguments[name])

    __init__.__signature__ = signature
    return __init__


class BaseAutoencoder(BaseEstimator):
    """The shared base of the estimators: the network's parameters, fitting, scores.

    Everything an autoencoder estimator does whatever it is for: the parameters of
    the network and its training (documented on :class:`AutoencoderTransformer`),
    ``fit`` and ``partial_fit`` with the PCA start and its judgement, per-sample
    reconstruction scores, saving and restoring. An estimator adds its purpose
    (codes, denoising, outlier labels) and, where it takes more parameters, an
    ``__init__`` made by :func:`init_with`, so the signature is written once.
    """

    # Whether early_stopping="auto" stops training on held-out rows: their clean
    # reconstruction is what this estimator is trained for.
    _stops_on_held_out = True

    _parameter_constraints: dict = {
        "encoding_dim": [Interval(Integral, 1, None, closed="left")],
        "network": [StrOptions({"dense", "conv"})],
        "encoder": [None, callable],
        "decoder": [None, callable],
        "input_shape": [None, tuple, list],
        "init": [StrOptions({"pca", "random"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(_LOSSES)],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        encoding_dim=2,
        *,
        network="dense",
        encoder=None,
        decoder=None,
        input_shape=None,
        init="pca",
        hidden_layer_sizes=(256,),
        activation="relu",
        output_activation="linear",
        loss="mse",
        optimizer="adam",
        learning_rate=1e-3,
        alpha=0.0,
        batch_size="auto",
        epochs=200,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.encoding_dim = encoding_dim
        self.network = network
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = input_shape
        self.init = init
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct `X`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with _restored_on_error(self):
            X = self._validated(X, reset=not self._continues(False))
            self._fit(X, partial=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train the autoencoder for one pass over `X`, continuing any earlier training.

        The first call builds the network for `X`'s number of features; each call then
        runs one epoch over `X` (in a fresh order when ``shuffle``), from the weights
        and the optimizer's state the last call left, so that data too large for
        memory, or arriving in parts, can be fed block by block (for example by
        ``dask_ml.wrappers.Incremental``). ``n_iter_`` and ``loss_curve_`` count every
        pass. ``epochs``, ``early_stopping``, ``n_iter_no_change`` and ``tol`` are not
        used: the caller decides when to stop. A :meth:`fit` that follows starts again
        from scratch, unless ``warm_start=True``.

        With ``init="pca"``, the first call starts the network at the PCA of its block
        of rows. There are no held-out rows to judge the passes by, so nothing is
        guaranteed against PCA afterwards: measure :meth:`score_samples` on rows of your
        own.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The estimator, trained one epoch more.
        """
        with _restored_on_error(self):
            X = self._validated(X, reset=not self._continues(True))
            self._fit(X, partial=True)
        return self

    def score_samples(self, X):
        """Return the negative mean squared reconstruction error of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to reconstruct.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean, over features, of the squared difference between each
            sample and its reconstruction: higher is better.
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        encoder, decoder = forward_function(self.encoder_), forward_function(self.decoder_)
        return -reconstruction_errors(encoder, decoder, X)

    def save(self, path):
        """Write the estimator, fitted or not, to one file that loads no code.

        The file holds the parameters and fitted attributes as JSON and the Keras
        model in Keras's ``.keras`` format; :func:`sk_autoencoder.load` reads it back
        with Keras's safe mode, so that nothing in the file runs. Prefer it to pickle
        for a file you did not write yourself, or one kept across versions: loading a
        pickle runs whatever code the file names.

        Parameters
        ----------
        path : str or path-like
            Where to write the file (a zip archive); an existing file is replaced.
        """
        save(self, path)

    def _state(self):
        state = dict(super().__getstate__())
        # Keras pickles each model on its own: kept separately, the encoder and the
        # decoder would come back as copies that no longer share model_'s weights.
        state.pop("encoder_", None)
        state.pop("decoder_", None)
        return state

    def __getstate__(self):
        # The state as serializers that walk it (skops) store it: plain values only,
        # each Keras model as its .keras bytes, which __setstate__ loads in safe mode.
        state = self._state()
        for name in ("model_", *NETWORK_PARAMS):
            if name in state:
                state[name] = network_state(state[name], name)
        return state

    def __reduce_ex__(self, protocol):
        # Pickle and copy keep the models as objects, which Keras pickles itself with
        # any code they carry (a Lambda layer's): loading a pickle runs code anyway.
        return copyreg.__newobj__, (type(self),), self._state()

    def __setstate__(self, state):
        state = dict(state)
        try:
            for name in NETWORK_PARAMS:
                if name in state:
                    state[name] = network_from_state(state[name], name)
            model = state.pop("model_", None)
            super().__setstate__(state)
            if model is not None:
                model = network_from_state(model, "model_")
                if not isinstance(model, keras.Model):
                    raise ValueError(f"model_ is a {type(model).__name__}, not a Keras model")
                attach_model(self, model, {})
        except ValueError as error:
            raise ValueError(f"{type(self).__name__} cannot be restored: {error}") from error

    def _validated(self, X, *, reset):
        """``X`` checked as ``validate_data`` checks it.

        A memory-mapped ``X`` is checked for NaN and infinity chunk by chunk, with the
        same errors, so that the check's pass over the file leaves none of its pages
        in memory (see :mod:`._io.pages`).
        """
        if not memory_mapped(X):
            return validate_data(self, X, reset=reset, dtype=_INPUT_DTYPES)
        X = validate_data(self, X, reset=reset, dtype=_INPUT_DTYPES, ensure_all_finite=False)
        step = rows_per_chunk(_FINITE_CHECK_VALUES, X.shape[1])
        for _, chunk in read_chunks(X, step):
            assert_all_finite(chunk, input_name="X", estimator_name=type(self).__name__)
        return X

    def _corruption_layer(self, X, seed):
        """The layer that corrupts the input during training, or None.

        This is where a denoising variant plugs in: it returns a Keras layer that
        alters its input only when called with ``training=True``, and that layer is
        placed between the input and the encoder of ``model_``. ``X`` is the
        training data (for noise scaled to it) and ``seed`` an int for the layer's
        random draws.
        """
        return None

    def _hidden_layer_sizes(self):
        """``hidden_layer_sizes`` as a tuple of int, checked."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not all(
            isinstance(size, Integral) and not isinstance(size, bool) and size > 0
            for size in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(size) for size in sizes)

    def _continues(self, partial):
        """Whether training goes on from the fitted network rather than a new one."""
        return hasattr(self, "model_") and (partial or self.warm_start)

    def _fit(self, X, *, partial):
        """Train on ``X``: a new network, or the fitted one when training continues.

        ``partial`` runs one epoch with no validation or early stopping, as
        :meth:`partial_fit` does. A new ready network that starts as PCA is judged
        against PCA (see :mod:`._selection`).
        """
        continuing = self._continues(partial)
        fitted = self._fitted(X, partial=partial, continuing=continuing)
        self._warn(fitted, partial)
        self._record(fitted, continuing, partial)

    def _fitted(self, X, *, partial, continuing):
        """The :class:`_Fitted` of training on ``X``, nothing recorded yet: the fitted
        network trained on where ``continuing``, else a new one."""
        hidden_layer_sizes = self._hidden_layer_sizes()
        input_shape = None if continuing else self._checked_network(X.shape[1])
        _check_in_range(X)
        rng = _local_rng(self.random_state)
        seeds = self._drawn_seeds(rng, hidden_layer_sizes)
        if continuing:
            self._check_same_network(hidden_layer_sizes)
            fitted = self._continued(X, partial, seeds, rng)
        else:
            network = _NetworkRecipe(input_shape, hidden_layer_sizes, seeds)
            if self._starts_at_pca() and self.early_stopping and not partial:
                fitted = self._fitted_against_pca(X, network, rng)
            else:
                fitted = self._fitted_new(X, network, partial, rng)
        return fitted

    def _drawn_seeds(self, rng, hidden_layer_sizes):
        """The seeds of one fit, drawn from ``rng`` (see :class:`_Seeds`)."""
        n_encoder, n_decoder = self._n_layer_seeds(hidden_layer_sizes)
        drawn = [int(seed) for seed in rng.integers(_MAX_SEED, size=n_encoder + n_decoder + 3)]
        return _Seeds(
            encoder=drawn[:n_encoder],
            decoder=drawn[n_encoder : n_encoder + n_decoder],
            corruption=drawn[-3],
            shuffle=drawn[-2],
            judging=drawn[-1],
        )

    def _fitted_new(self, X, network, partial, rng):
        """A new network trained on ``X``, with no judgement against PCA: a network of
        one's own, ``init="random"``, ``early_stopping=False`` or :meth:`partial_fit`."""
        stopping_rows = None
        train_rows = np.arange(X.shape[0])
        if not partial and self._n_stopping_rows(X.shape[0]):
            train_rows, stopping_rows = split_validation(X.shape[0], self.validation_fraction, rng)
        part = Part(train_rows, stopping_rows, None)
        start = None
        if self._starts_at_pca():
            rows = sample_rows(part.fitted_rows, rng)
            start = principal_components(X, rows, self.encoding_dim)
        trained = self._trained(
            X,
            network,
            part,
            start,
            epochs=1 if partial else self.epochs,
            fall_back=not partial,
        )
        return _Fitted(trained, [trained])

    def _fitted_against_pca(self, X, network, rng):
        """The network, where held-out rows show it beats PCA, or else PCA of ``X``.

        Each part of the plan (see :mod:`._selection`) trains a network from PCA of its
        rows and is judged against that PCA on rows neither saw; the PCA of all the
        rows, the candidate, comes from the same pass over ``X``.
        """
        plan = selection_plan(X.shape[0], self.validation_fraction, self._n_stopping_rows, rng)
        *starts, candidate = principal_components_of_unions(
            X, *plan.pca_blocks(X.shape[0]), self.encoding_dim
        )
        trained_parts, evidence, judged_errors = self._judged(X, network, plan, starts)
        selection = None if evidence is None else evidence.as_dict(plan.scheme)
        wins = evidence is not None and evidence.network_wins
        trained = trained_parts[-1] if trained_parts else None
        judged_rows = None
        if judged_errors is not None:
            judged_rows = np.concatenate([part.judging_rows for part in plan.parts])
        if wins and plan.final is not None:
            self._say(f"Training the network on all {X.shape[0]} rows")
            trained = self._trained(X, network, plan.final, candidate, epochs=self.epochs)
            trained_parts.append(trained)
        if not wins or self._is_start(trained):
            self._say("PCA is kept: the network was not shown to beat it")
            pca = self._pca_network(X, network, candidate)
            kept = trained if plan.final is None else None
            held_out = None if judged_errors is None else judged_errors[0]
            return _Fitted(kept, trained_parts, pca, selection, held_out, judged_rows)
        return _Fitted(
            trained,
            trained_parts,
            selection=selection,
            held_out_errors=judged_errors[1],
            held_out_rows=judged_rows,
        )

    def _judged(self, X, network, plan, starts):
        """Train and judge each part of ``plan`` from its start; return the networks
        trained, the :class:`._selection.Evidence` of their judged rows and those rows'
        ``(pca_errors, network_errors)`` (both None where the plan has no parts)."""
        corruption = self._corruption_layer(X, network.seeds.judging)
        trained_parts, pca_errors, network_errors = [], [], []
        for number, (part, start) in enumerate(zip(plan.parts, starts, strict=True), 1):
            self._say(
                f"Network {number} of {len(plan.parts)} ({plan.scheme}): trained on "
                f"{len(part.fitted_rows)} rows, judged against PCA on "
                f"{len(part.judging_rows)}"
            )
            trained = self._trained(X, network, part, start, epochs=self.epochs)
            trained_parts.append(trained)
            errors = self._judged_errors(X, part.judging_rows, trained, start, corruption)
            pca_errors.append(errors[0])
            # A network that kept its start is that PCA itself, whatever the rounding.
            network_errors.append(errors[0] if self._is_start(trained) else errors[1])
        if not plan.parts:
            self._say(f"{X.shape[0]} rows are too few to judge a network by")
            return trained_parts, None, None
        judged_errors = np.concatenate(pca_errors), np.concatenate(network_errors)
        evidence = paired_evidence(*judged_errors)
        self._say(
            f"Judged on {evidence.rows} rows: mean squared error {evidence.network_error:.4g} "
            f"against PCA's {evidence.pca_error:.4g}; {evidence.confidence:.0%} lower bound "
            f"on the gain {evidence.lower_bound:.3g}"
        )
        return trained_parts, evidence, judged_errors

    def _say(self, line):
        """Print ``line`` where ``verbose`` asks for training's output."""
        if self.verbose:
            print(line, flush=True)

    def _is_start(self, trained):
        """Whether ``trained`` kept its start, which is PCA itself (a linear output)."""
        return (
            trained is not None
            and trained.history.kept_epoch == 0
            and self.output_activation == "linear"
        )

    def _continued(self, X, partial, seeds, rng):
        """The fitted network trained on: one epoch (``partial``), or up to ``epochs``
        with its present weights a candidate where rows are held out."""
        model, encoder, decoder = self.model_, self.encoder_, self.decoder_
        model.optimizer.learning_rate = self.learning_rate
        train_rows = validation_rows = None
        holding_out = not partial and self._n_stopping_rows(X.shape[0]) > 0
        if holding_out:
            train_rows, validation_rows = split_validation(
                X.shape[0], self.validation_fraction, rng
            )
        # The network training continues from is the candidate its epochs must beat
        # (with the PCA start, where rows are held out), or else what is kept if
        # training diverges; partial_fit keeps nothing, and refuses.
        start = "candidate" if holding_out and self._starts_at_pca() else "fallback"
        with _variables_restored_on_error(model):
            history = self._run_training(
                model,
                X,
                train_rows,
                validation_rows,
                shuffle_seed=seeds.shuffle,
                epochs=1 if partial else self.epochs,
                first_epoch=self.n_iter_,
                start=None if partial else start,
            )
        trained = _Trained(model, encoder, decoder, history)
        return _Fitted(trained, [trained])

    def _trained(self, X, network, part, start, *, epochs, fall_back=True):
        """A new network, started at ``start`` (PCA's ``(mean, components)``, or None),
        trained on ``part``'s rows. With ``fall_back``, the PCA start is kept where
        training diverges; it is never a candidate otherwise: the network it becomes is
        judged against PCA after training (see :meth:`_fitted_against_pca`)."""
        encoder, decoder = self._networks(
            network.input_shape,
            network.hidden_layer_sizes,
            (network.seeds.encoder, network.seeds.decoder),
            start,
        )
        corruption = self._corruption_layer(X, network.seeds.corruption)
        model = self._compiled(build_autoencoder(encoder, decoder, corruption=corruption))
        history = self._run_training(
            model,
            X,
            part.train_rows,
            part.stopping_rows,
            shuffle_seed=network.seeds.shuffle,
            epochs=epochs,
            start="fallback" if fall_back and start is not None else None,
        )
        return _Trained(model, encoder, decoder, history)

    def _run_training(
        self,
        model,
        X,
        train_rows,
        validation_rows,
        *,
        shuffle_seed,
        epochs,
        start,
        first_epoch=0,
    ):
        """:func:`._training.train` with the parameters' settings; raise ``ValueError``
        where training diverged and no candidate from before it was left to keep."""
        n_train = X.shape[0] if train_rows is None else len(train_rows)
        batch_size = min(
            _AUTO_BATCH_SIZE if self.batch_size == "auto" else self.batch_size, n_train
        )
        history = train(
            model,
            X,
            batch_size=batch_size,
            epochs=epochs,
            shuffle_seed=shuffle_seed if self.shuffle else None,
            train_rows=train_rows,
            validation_rows=validation_rows,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=min(int(self.verbose), 2),
            first_epoch=first_epoch,
            start=start,
        )
        if not history.kept_candidate:
            last_loss = history.loss_curve[-1]
            raise ValueError(
                f"Training diverged: the loss became {last_loss:.3g} at epoch "
                f"{first_epoch + history.diverged_epoch}. Scale the data (for example "
                "with StandardScaler) or lower learning_rate "
                f"(now {self.learning_rate})."
            )
        return history

    def _judged_errors(self, X, rows, trained, start, corruption):
        """Per-row squared errors ``(pca_errors, network_errors)`` on ``X[rows]``.

        Both reconstruct the same inputs: the rows, or, with a ``corruption`` layer, the
        rows corrupted as in training; each error is against the clean row. PCA is
        ``start``'s ``(mean, components)``.
        """
        encoder = forward_function(trained.encoder)
        decoder = forward_function(trained.decoder)
        dtype = keras.config.floatx()
        pca_errors, network_errors = np.empty(len(rows)), np.empty(len(rows))
        for chunk in row_chunks(len(rows), min(encoder.rows_per_chunk, decoder.rows_per_chunk)):
            clean = gathered(X, rows[chunk], dtype)
            inputs = clean
            if corruption is not None:
                corrupted = corruption.corrupt(keras.ops.convert_to_tensor(clean))
                inputs = to_numpy(corrupted)
            pca_errors[chunk] = pca_reconstruction_errors(start, inputs, clean)
            # A network whose output overflows loses: its error is not finite.
            with np.errstate(over="ignore", invalid="ignore"):
                residual = decoder(encoder(inputs))
                residual -= clean
                np.square(residual, out=residual)
                network_errors[chunk] = residual.mean(axis=1, dtype=np.float64)
        return pca_errors, network_errors

    def _pca_network(self, X, network, candidate):
        """A ready network that computes PCA's ``candidate`` exactly: its PCA start, with a
        linear output whatever ``output_activation`` says."""
        encoder, decoder = self._networks(
            network.input_shape,
            network.hidden_layer_sizes,
            (network.seeds.encoder, network.seeds.decoder),
            candidate,
            output_activation="linear",
        )
        corruption = self._corruption_layer(X, network.seeds.corruption)
        model = self._compiled(build_autoencoder(encoder, decoder, corruption=corruption))
        # Built, as a trained network's is: saving it and training it on start alike.
        model.optimizer.build(model.trainable_variables)
        return _Trained(model, encoder, decoder, None)

    def _warn(self, fitted, partial):
        """Warn, at the caller's line, of a diverged training or a budget that ran out."""
        # Past _warn, _fit, fit and scikit-learn's _fit_context: the caller's line.
        stacklevel = 5
        diverged = [t.history for t in fitted.networks if t.history.diverged_epoch is not None]
        if diverged:
            if fitted.pca_network is not None:
                kept = "the estimator is PCA of the training rows"
            elif fitted.trained.history.kept_epoch == 0:
                kept = "the network is kept as it started"
            else:
                kept = f"the network of epoch {fitted.trained.history.kept_epoch} is kept"
            warnings.warn(
                f"Training diverged: the loss became {diverged[0].loss_curve[-1]:.3g} at "
                f"epoch {diverged[0].diverged_epoch}, and training stopped there; {kept}. "
                f"Lower learning_rate (now {self.learning_rate}) or scale the data.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
            return
        history = None if fitted.trained is None else fitted.trained.history
        if partial or fitted.pca_network is not None or history is None:
            return
        if not history.stopped_early and len(history.loss_curve) == self.epochs:
            warnings.warn(
                f"{type(self).__name__} ran all epochs={self.epochs} and the loss was "
                f"still improving by more than tol={self.tol}. Raise epochs to train "
                "longer.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )

    def _record(self, fitted, continuing, partial):
        """Set every fitted attribute from ``fitted``, together."""
        kept = fitted.trained if fitted.pca_network is None else fitted.pca_network
        history = None if fitted.trained is None else fitted.trained.history
        loss_curve = [] if history is None else history.loss_curve
        validation_loss_curve = None if history is None else history.validation_loss_curve
        kept_epoch = 0 if fitted.pca_network or history is None else history.kept_epoch
        pca_kept = fitted.pca_network is not None
        if continuing:
            previous = self.validation_loss_curve_
            if partial or validation_loss_curve is None:
                validation_loss_curve = previous
            elif previous is not None:
                validation_loss_curve = previous + validation_loss_curve
            # Training that kept the network it continued from leaves PCA where it was.
            pca_kept = getattr(self, "pca_kept_", False) and kept_epoch == 0
            kept_epoch += self.n_iter_
            loss_curve = self.loss_curve_ + loss_curve
        self.model_, self.encoder_, self.decoder_ = kept.model, kept.encoder, kept.decoder
        self.loss_curve_ = loss_curve
        self.validation_loss_curve_ = validation_loss_curve
        self.best_epoch_ = kept_epoch
        self.n_iter_ = len(loss_curve)
        self.pca_kept_ = pca_kept
        self.selection_ = fitted.selection

    def _n_stopping_rows(self, n_rows, folds=False):
        """How many of a network's ``n_rows`` rows are held out to stop its training (0:
        it stops on its training loss), as ``early_stopping`` says.

        ``"auto"`` holds rows out for the plain autoencoder of a ready network that
        starts as PCA, where at least :data:`._selection.MIN_STOPPING_ROWS` would be,
        but not in the folds of small data (``folds``): a few rows stop training by
        chance more than by the data (on the guarantee's panel, a network stopped on so
        few rows gave up most of its gain), and the folds' judgement is what keeps the
        network from overfitting there.
        """
        if not self.early_stopping:
            return 0
        count = math.ceil(self.validation_fraction * n_rows)
        if self.early_stopping == "auto" and (
            folds
            or not (self._starts_at_pca() and self._stops_on_held_out)
            or count < MIN_STOPPING_ROWS
        ):
            return 0
        return count

    def _starts_at_pca(self):
        """Whether a new network starts as PCA: ``init="pca"`` and a ready network."""
        return self.init == "pca" and self.encoder is None

    def _checked_network(self, n_features):
        """Check the parameters that choose the network; return the input shape."""
        if (self.encoder is None) != (self.decoder is None):
            raise ValueError(
                "encoder and decoder go together: pass both, or neither for the ready "
                f"network; got encoder={self.encoder!r} and decoder={self.decoder!r}."
            )
        if self.encoder is not None and self.network != "dense":
            raise ValueError(
                f"network={self.network!r} chooses a ready network, but encoder and "
                "decoder are given: leave network at its default."
            )
        if self.encoder is None and self.loss == "binary_crossentropy":
            if self.output_activation != "sigmoid":
                raise ValueError(
                    'loss="binary_crossentropy" needs output_activation="sigmoid", got '
                    f"output_activation={self.output_activation!r}."
                )
        if self.input_shape is None:
            if self.network == "conv":
                raise ValueError(
                    'network="conv" needs input_shape, the shape of one image, for '
                    "example input_shape=(28, 28) or (28, 28, 1)."
                )
            return (n_features,)
        shape = tuple(self.input_shape)
        if not shape or not all(
            isinstance(size, Integral) and not isinstance(size, bool) and size > 0
            for size in shape
        ):
            raise ValueError(f"input_shape must hold positive integers, got {self.input_shape!r}.")
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={shape} holds {math.prod(shape)} values per sample, but X "
                f"has {n_features} features."
            )
        return tuple(int(size) for size in shape)

    def _n_layer_seeds(self, hidden_layer_sizes):
        """How many initializer seeds the encoder and the decoder take."""
        if self.encoder is not None:
            return 1, 1
        if self.network == "conv":
            return CONV_ENCODER_SEEDS, CONV_DECODER_SEEDS
        return len(hidden_layer_sizes) + 1, len(hidden_layer_sizes) + 1

    def _networks(self, input_shape, hidden_layer_sizes, seeds, start, output_activation=None):
        """A new ``(encoder, decoder)`` for samples of ``input_shape``.

        ``seeds`` are the encoder's and the decoder's initializer seeds; ``start`` is
        PCA's ``(mean, components)`` to start from, or None (see :mod:`._start`).
        ``output_activation`` stands in for the parameter's where given.
        """
        encoder_seeds, decoder_seeds = seeds
        output_activation = output_activation or self.output_activation
        if self.encoder is not None:
            own = {"input_shape": input_shape, "encoding_dim": self.encoding_dim}
            encoder = own_network(self.encoder, **own, role="encoder", seed=encoder_seeds[0])
            decoder = own_network(self.decoder, **own, role="decoder", seed=decoder_seeds[0])
            return wrap_encoder(encoder, **own), wrap_decoder(decoder, **own)
        ready = {"alpha": self.alpha, "skip": start is not None}
        if self.network == "conv":
            encoder = build_conv_encoder(
                input_shape, self.encoding_dim, self.activation, seeds=encoder_seeds, **ready
            )
            decoder = build_conv_decoder(
                input_shape,
                self.encoding_dim,
                self.activation,
                output_activation,
                seeds=decoder_seeds,
                **ready,
            )
        else:
            n_features = math.prod(input_shape)
            dense = (n_features, self.encoding_dim, hidden_layer_sizes, self.activation)
            encoder = build_encoder(*dense, seeds=encoder_seeds, **ready)
            decoder = build_decoder(*dense, output_activation, seeds=decoder_seeds, **ready)
        if start is not None:
            start_at_pca(encoder, decoder, *start, output_activation)
        return encoder, decoder

    def _compiled(self, model):
        """``model`` compiled with the optimizer and the loss the parameters name."""
        model.compile(
            # Named, so that its variables are too: under Keras's own unique names
            # ("adam_7/..."), TensorFlow keeps a kernel for each new variable name.
            optimizer=_OPTIMIZERS[self.optimizer](
                learning_rate=self.learning_rate, name=self.optimizer
            ),
            loss=self.loss,
        )
        return model

    def _check_same_network(self, hidden_layer_sizes):
        """Raise ``ValueError`` if the parameters now ask for another shape of network.

        The code's size is checked for every network, the hidden layers for the ready
        Dense network alone (with another network, ``hidden_layer_sizes`` is unused).
        """
        n_codes = self.encoder_.output_shape[-1]
        fitted = describe_autoencoder(self.model_)
        hidden = None if fitted is None else tuple(units for units, *_ in fitted["encoder"][:-1])
        same_hidden = hidden is None or self.encoder is not None or self.network != "dense"
        if n_codes != self.encoding_dim or not (same_hidden or hidden == hidden_layer_sizes):
            shape = f"a code of {n_codes} values"
            if hidden is not None:
                shape = f"layers with {hidden} hidden units and {shape}"
            raise ValueError(
                f"warm_start and partial_fit go on training the fitted network, which has "
                f"{shape}; the parameters now ask for hidden_layer_sizes="
                f"{hidden_layer_sizes} and encoding_dim={self.encoding_dim}. Set "
                "warm_start=False, or clone the estimator, to fit a new network."
            )
