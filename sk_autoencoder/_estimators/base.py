"""AutoencoderTransformer: a Keras autoencoder as a scikit-learn transformer."""

import contextlib
import copyreg
import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

import keras
import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._inference import (
    ACTIVATIONS,
    forward,
    forward_function,
    reconstruction_errors,
    row_chunks,
)
from .._io.pages import memory_mapped, release_pages
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
    ``selection``, the evidence that decided (see ``selection_``)."""

    trained: _Trained | None
    networks: list
    pca_network: _Trained | None = None
    selection: dict | None = None


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


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nonlinear dimensionality reduction with a Keras autoencoder.

    An encoder network maps each sample to a code of ``encoding_dim`` values and a
    decoder network maps the code back to the input space; both are trained together
    to reconstruct the training data. :meth:`transform` returns the codes and
    :meth:`inverse_transform` the reconstructions, as with
    :class:`~sklearn.decomposition.PCA`, of which an autoencoder with no hidden layer
    and linear activations learns the subspace. Hidden layers let the code follow
    curved structure that no linear projection can.

    The encoder is ``n_features -> hidden_layer_sizes -> encoding_dim`` (a linear code
    layer) and the decoder mirrors it back to ``n_features``. ``network="conv"`` builds
    a convolutional network for images instead, and ``encoder`` and ``decoder`` take
    networks of your own. The networks are Keras 3 models, available after fitting as
    ``encoder_``, ``decoder_`` and ``model_``, and train on whichever
    backend Keras is set to use.

    **Never worse than PCA.** By default (``init="pca"``) a ready network starts as PCA:
    the code layer and the output layer also see their network's input, through
    kernels set to PCA's projection and reconstruction, and their kernels for the last
    hidden layer start at zero, so that the untrained network computes PCA's codes and
    reconstructions exactly. Training learns a nonlinear correction. The network then
    replaces PCA only where rows that neither was fitted on show it reconstructs
    better, with 95% confidence: a one-sided paired t-test on each row's squared error,
    PCA's minus the network's, must reject "the network is no better". Otherwise the
    fitted estimator is PCA of every row ``fit`` was given, exactly (``pca_kept_``): a
    network that computes PCA's codes and reconstructions, with a linear output. How
    rows are held out depends on their number:

    - where ``validation_fraction`` of the rows is at least 50 rows (500 rows at the
      default): those rows judge one network trained on the rest, of which
      ``validation_fraction`` more stop its training and choose its epoch. The rows
      that choose the epoch never judge it, so that picking the luckiest of many
      epochs cannot pass for a win;
    - fewer rows: 5-fold cross-fitting. A network trained on four fifths of the rows
      (stopping on its training loss) is judged on the fifth it never saw, each fifth
      in turn, every row judged once; where the pooled evidence says such networks beat
      PCA, the final network is trained the same way on all the rows;
    - fewer than 10 rows: nothing can be judged, and the estimator is PCA.

    ``selection_`` holds the evidence. Training that diverges, at any epoch (a loss
    that is not finite or that jumps ten-thousand-fold, or weights that are not
    finite), keeps the best finite candidate, PCA at worst, and says so in a
    ``ConvergenceWarning``. PCA is fitted from the covariance matrix of all the rows,
    read a chunk at a time, and above 2,048 features by
    :class:`~sklearn.decomposition.IncrementalPCA`, which approximates it in memory
    that does not grow with the square of the features. ``early_stopping=False``,
    ``init="random"``, a network of your own, :meth:`partial_fit` and ``warm_start``
    train one network with no such judgement.

    The defaults suit standardized data (for example after
    :class:`~sklearn.preprocessing.StandardScaler`). For data scaled to [0, 1], such as
    images, ``output_activation="sigmoid"`` keeps reconstructions in range.

    Parameters
    ----------
    encoding_dim : int, default=2
        Number of values in the code, the dimension of the output of :meth:`transform`.

    network : {"dense", "conv"}, default="dense"
        The ready network built when ``encoder`` and ``decoder`` are None.
        ``"dense"``: ``Dense`` layers of ``hidden_layer_sizes``. ``"conv"``: for
        images, given as flattened rows, with ``input_shape`` the shape of one image
        (height and width multiples of 4): two convolutions of 3 x 3 and stride 2 (32
        and 64 filters) and a linear code layer, mirrored by a ``Dense`` layer and two
        transposed convolutions back. On a CPU, train convolutional networks on
        TensorFlow: JAX's convolutions are many times slower there.

    encoder : keras.Model, callable or None, default=None
        Your own encoder, from samples of ``input_shape`` to codes of
        ``encoding_dim`` values; ``decoder`` must be given with it. A ``keras.Model``
        is copied, weights included, at each fit, and the copy is trained: the model
        passed never changes. A callable is a builder, called at each fit as
        ``encoder(input_shape, encoding_dim)`` (with ``seed=`` an int drawn from
        ``random_state`` too, if it takes a ``seed``) and returning a new
        ``keras.Model``; parameters of your own go in with
        :func:`functools.partial`, which :class:`~sklearn.model_selection.GridSearchCV`
        can then search over. Any Keras layers train as in ``Model.fit``: dropout and
        batch normalization are active in training only. ``init``,
        ``hidden_layer_sizes``, ``activation``, ``output_activation`` and ``alpha``
        shape the ready networks alone, and your network starts from its own weights.

    decoder : keras.Model, callable or None, default=None
        Your own decoder, from codes of ``encoding_dim`` values to samples of
        ``input_shape``, given as ``encoder`` is.

    input_shape : tuple of int or None, default=None
        The shape of one sample as the network takes it, for example ``(28, 28, 1)``:
        each row of ``X`` is reshaped to it (in C order), and its values must number
        ``n_features``. None: rows as they are, ``(n_features,)``.

    init : {"pca", "random"}, default="pca"
        How a ready network starts. ``"pca"``: as PCA, with the structure described
        above, and judged against PCA after training. ``"random"``: the classic
        autoencoder, a chain of layers with Glorot-uniform weights, whose training loss
        alone decides when to stop (unless ``early_stopping=True``).

    hidden_layer_sizes : array-like of int or int, default=(256,)
        Widths of the encoder's hidden layers, from the input towards the code. The
        decoder uses them in reverse order. ``()`` gives a single linear layer each way.
        Only used by ``network="dense"``.

    activation : {"relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", \
            "softplus", "linear"}, default="relu"
        Activation of the hidden layers (or convolutions), named as in Keras.

    output_activation : {"linear", "sigmoid", "tanh", "relu", "elu", "selu", \
            "gelu", "silu", "softplus"}, default="linear"
        Activation of the decoder's output layer. ``"linear"`` reconstructs any real
        values; ``"sigmoid"`` keeps reconstructions in (0, 1).

    loss : {"mse", "mae", "huber", "binary_crossentropy"}, default="mse"
        Reconstruction loss minimized during training. ``"binary_crossentropy"``
        needs ``output_activation="sigmoid"`` and data in [0, 1]. :meth:`score`
        reports the mean squared error whatever the loss.

    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"}, default="adam"
        Keras optimizer used for training.

    learning_rate : float, default=1e-3
        Learning rate of the optimizer.

    alpha : float, default=0.0
        Strength of the L2 penalty on the kernels of every layer: ``alpha`` times the
        sum of their squared weights is added to the loss.

    batch_size : int or "auto", default="auto"
        Rows per gradient step. ``"auto"`` uses ``min(64, n_samples)``: a small data
        set needs the many steps per epoch that small batches give. A size larger than
        the training set is clipped to it.

    epochs : int, default=200
        The most passes over the training data. Training stops earlier when the
        monitored loss stops improving (see ``tol`` and ``n_iter_no_change``).

    early_stopping : "auto" or bool, default="auto"
        Whether rows are held out to stop training when their reconstruction loss
        stops improving, the weights of the epoch where it was lowest being kept.
        ``"auto"``: with ``init="pca"``, rows are held out to judge the network against
        PCA (see above), and where 50 or more judge it, ``validation_fraction`` of the
        rest stop its training; with ``init="random"``, none. ``True``:
        ``validation_fraction`` of a network's rows stop its training, however few
        (with ``init="pca"``, besides those that judge it). ``False``: no rows are
        held out, training stops when the training loss stops improving, and the last
        epoch's network is returned, with no judgement against PCA.

    validation_fraction : float, default=0.1
        Fraction of the training rows held out, to judge the network against PCA and,
        where early stopping holds rows out, to stop its training.

    n_iter_no_change : int, default=10
        Number of epochs with no improvement of at least ``tol`` after which training
        stops.

    tol : float, default=1e-4
        Least decrease of the monitored loss that counts as an improvement.

    shuffle : bool, default=True
        Whether to visit the training rows in a new random order every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the order of the rows.
        Pass an int for results that repeat exactly from run to run (at a fixed
        number of threads). Global random state (``random``, ``numpy.random``, Keras's
        and the backends') is neither used nor changed.
        See scikit-learn's glossary, under ``random_state``.

    verbose : int or bool, default=0
        Keras's training output: 0 prints nothing, 1 a progress bar per epoch, 2 one
        line per epoch.

    warm_start : bool, default=False
        When True and the estimator is fitted, :meth:`fit` goes on training the fitted
        network, from its weights and its optimizer's state, for up to ``epochs`` more
        epochs, rather than building a new one. ``loss_curve_`` and ``n_iter_`` go on
        counting. The network stays as it was built: ``encoding_dim``,
        ``hidden_layer_sizes`` and the number of features must not change (a
        ``ValueError`` says so), and ``init``, ``activation``, ``output_activation``,
        ``loss``, ``optimizer`` and ``alpha`` take effect at the next fit from scratch;
        a new ``learning_rate`` applies at once. With ``init="pca"``, the network the
        fit continues from is the candidate its epochs must beat. :meth:`partial_fit`
        always continues this way. See scikit-learn's glossary, under ``warm_start``.

    Attributes
    ----------
    model_ : keras.Model
        The autoencoder that was trained: the encoder followed by the decoder.

    encoder_ : keras.Model
        Maps rows to codes (reshaped to ``input_shape`` first, for a network that takes
        another shape). Shares its weights with ``model_``; your own encoder, where
        you gave one, is the copy that was trained, inside it.

    decoder_ : keras.Model
        Maps codes to reconstructions, as rows. Shares its weights with ``model_``.

    loss_curve_ : list of float
        The training loss at the end of each epoch (including the L2 penalty), of the
        network trained on the most rows: with 5-fold judging, the final network's,
        and empty where the folds kept PCA and no final network was trained.

    validation_loss_curve_ : list of float or None
        The loss on the rows that stop training, at the end of each epoch; None when
        no rows stop it.

    n_iter_ : int
        Number of epochs in ``loss_curve_``.

    best_epoch_ : int
        The epoch whose weights the network holds, counted as ``n_iter_`` is: the best
        on the held-out rows, or the last; 0 where PCA, or the start, was kept.

    pca_kept_ : bool
        True where the trained network was not shown to beat PCA, and the estimator
        computes PCA of the training rows exactly.

    selection_ : dict or None
        The evidence that chose between the network and PCA: ``"scheme"``
        (``"held-out"`` or ``"5-fold"``), ``"rows"`` judged, their mean squared errors
        ``"pca_error"`` and ``"network_error"`` (from corrupted rows, for the denoising
        estimator), the one-sided ``"lower_bound"`` on the gain at ``"confidence"``,
        and ``"network_wins"``. None where no judgement was made.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.neural_network.MLPRegressor : A multi-layer perceptron in numpy.

    References
    ----------
    Hinton, G. E., and Salakhutdinov, R. R. (2006). "Reducing the dimensionality of
    data with neural networks". Science, 313(5786), 504-507.

    Baldi, P., and Hornik, K. (1989). "Neural networks and principal component
    analysis: learning from examples without local minima". Neural Networks, 2(1),
    53-58.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_autoencoder import AutoencoderTransformer
    >>> X = StandardScaler().fit_transform(load_digits().data)

    A ``tol`` of about a hundredth of the loss stops training once an epoch gains
    little, well before ``epochs`` runs out:

    >>> autoencoder = AutoencoderTransformer(encoding_dim=8, tol=1e-2, random_state=0)
    >>> autoencoder.fit(X).transform(X[:5]).shape
    (5, 8)
    >>> autoencoder.inverse_transform(autoencoder.transform(X[:5])).shape
    (5, 64)

    Its mean squared reconstruction error (``-score``) against PCA's at the same size:

    >>> pca = PCA(8).fit(X)
    >>> pca_error = ((X - pca.inverse_transform(pca.transform(X))) ** 2).mean()
    >>> bool(-autoencoder.score(X) < 0.6 * pca_error)
    True
    """

    # Whether early_stopping="auto" stops training on held-out rows: their clean
    # reconstruction is what this estimator is trained for.
    _stops_on_held_out = True

    # Pickles, skops's trusted types and MLflow's configurations name the class by
    # its public path, which stays when the code moves between private modules.
    __module__ = "sk_autoencoder"

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
        guaranteed against PCA afterwards: measure :meth:`score` on rows of your own.

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

    def transform(self, X):
        """Encode `X`: return the code of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, encoding_dim)
            The codes, in Keras's float type (float32 by default).
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        return forward(forward_function(self.encoder_), X)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, encoding_dim)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            The reconstructions, in Keras's float type (float32 by default).
        """
        check_is_fitted(self)
        X = check_array(X, dtype=_INPUT_DTYPES, input_name="X")
        if X.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {X.shape[1]} features, but inverse_transform expects codes of "
                f"{self._n_features_out} values (encoding_dim={self._n_features_out})."
            )
        return forward(forward_function(self.decoder_), X)

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

    def score(self, X, y=None):
        """Return the negative mean squared reconstruction error of `X`.

        The mean runs over all entries of `X`, so that higher is better and
        :class:`~sklearn.model_selection.GridSearchCV` or
        :func:`~sklearn.model_selection.cross_val_score` need no ``scoring``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to reconstruct.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the mean squared reconstruction error.
        """
        return float(np.mean(self.score_samples(X)))

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

    @property
    def _n_features_out(self):
        """Number of values in a code, used by :meth:`get_feature_names_out`."""
        return self.encoder_.output_shape[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The network computes in Keras's float type: float32 in, float32 out.
        tags.transformer_tags.preserves_dtype = [keras.config.floatx()]
        return tags

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
        step = max(1, _FINITE_CHECK_VALUES // max(1, X.shape[1]))
        for start in range(0, X.shape[0], step):
            assert_all_finite(
                X[start : start + step], input_name="X", estimator_name=type(self).__name__
            )
            release_pages(X)
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
        hidden_layer_sizes = self._hidden_layer_sizes()
        continuing = self._continues(partial)
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
        self._warn(fitted, partial)
        self._record(fitted, continuing, partial)

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
        trained_parts, evidence = self._judged(X, network, plan, starts)
        selection = None if evidence is None else evidence.as_dict(plan.scheme)
        wins = evidence is not None and evidence.network_wins
        trained = trained_parts[-1] if trained_parts else None
        if wins and plan.final is not None:
            self._say(f"Training the network on all {X.shape[0]} rows")
            trained = self._trained(X, network, plan.final, candidate, epochs=self.epochs)
            trained_parts.append(trained)
        if not wins or self._is_start(trained):
            self._say("PCA is kept: the network was not shown to beat it")
            pca = self._pca_network(X, network, candidate)
            kept = trained if plan.final is None else None
            return _Fitted(kept, trained_parts, pca_network=pca, selection=selection)
        return _Fitted(trained, trained_parts, selection=selection)

    def _judged(self, X, network, plan, starts):
        """Train and judge each part of ``plan`` from its start; return the networks
        trained and the :class:`._selection.Evidence` of their judged rows (None where
        the plan has no parts)."""
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
            return trained_parts, None
        evidence = paired_evidence(np.concatenate(pca_errors), np.concatenate(network_errors))
        self._say(
            f"Judged on {evidence.rows} rows: mean squared error {evidence.network_error:.4g} "
            f"against PCA's {evidence.pca_error:.4g}; {evidence.confidence:.0%} lower bound "
            f"on the gain {evidence.lower_bound:.3g}"
        )
        return trained_parts, evidence

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
                inputs = keras.ops.convert_to_numpy(corrupted)
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
