"""AutoencoderTransformer: a Keras autoencoder as a scikit-learn transformer."""

import keras
import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._inference import forward, forward_function
from .base import _INPUT_DTYPES, BaseAutoencoder


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseAutoencoder):
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

    # Pickles, skops's trusted types and MLflow's configurations name the class by
    # its public path, which stays when the code moves between private modules.
    __module__ = "sk_autoencoder"

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

    @property
    def _n_features_out(self):
        """Number of values in a code, used by :meth:`get_feature_names_out`."""
        return self.encoder_.output_shape[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The network computes in Keras's float type: float32 in, float32 out.
        tags.transformer_tags.preserves_dtype = [keras.config.floatx()]
        return tags
