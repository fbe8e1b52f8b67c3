"""DenoisingAutoencoderTransformer: an autoencoder trained on corrupted input."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from .._inference import column_std
from .._layers import MaskingNoise, SaltAndPepperNoise, ScaledGaussianNoise
from .base import init_with
from .transformer import AutoencoderTransformer


class DenoisingAutoencoderTransformer(AutoencoderTransformer):
    """Autoencoder trained to reconstruct clean samples from corrupted copies of them.

    During :meth:`fit`, each batch of each epoch is corrupted afresh before it reaches
    the encoder, and the network learns to reconstruct the clean batch. The code then
    keeps the structure of the data and drops the noise: use it when the data is noisy
    or has dropouts, or as a more robust feature extractor than
    :class:`AutoencoderTransformer`. The corruption is a Keras layer inside
    ``model_`` that acts only in training: :meth:`transform`,
    :meth:`inverse_transform` and :meth:`score` see the input as given, and fitting
    copies no data.

    Parameters
    ----------
    encoding_dim : int, default=2
        Number of values in the code, the dimension of the output of :meth:`transform`.

    noise : {"gaussian", "masking", "salt_and_pepper"}, default="gaussian"
        How the training input is corrupted:

        - ``"gaussian"``: add normal noise whose standard deviation is ``noise_level``
          times each feature's standard deviation in the training data, so that a level
          means the same whatever the units;
        - ``"masking"``: set each entry to 0 with probability ``noise_level``
          (dropouts; 0 should mean "missing", as for data scaled to [0, 1]);
        - ``"salt_and_pepper"``: with probability ``noise_level``, replace an entry by
          its feature's training minimum or maximum, each with probability one half.

    noise_level : float, default=0.1
        Strength of the corruption: a multiple of each feature's standard deviation for
        ``"gaussian"``, a probability in [0, 1] otherwise. 0 trains a plain
        autoencoder.

    network, encoder, decoder, input_shape, init, hidden_layer_sizes, activation, \
output_activation, loss, optimizer, learning_rate, alpha, batch_size, epochs, \
early_stopping, validation_fraction, n_iter_no_change, tol, shuffle, random_state, \
verbose, warm_start
        As for :class:`AutoencoderTransformer`. The corruption acts on the rows
        before they reach the encoder, yours too. ``random_state`` also seeds the noise;
        ``noise`` and ``noise_level``, like the network's shape, keep the values of the
        fit that built the network when training continues.
        The network starts at PCA of the clean training rows and is judged against
        PCA as the plain autoencoder's is (see :class:`AutoencoderTransformer`), but on
        what it is trained for: the judged rows are corrupted with its training noise,
        and each one's error is that of its reconstruction against the clean row,
        PCA's from the same corrupted row beside it. Where the network is not shown to
        denoise better than PCA with 95% confidence, the estimator is PCA of the clean
        training rows. So its reconstruction of held-out rows corrupted with its noise
        is never worse than PCA's; of clean rows, nothing is promised: a denoiser can
        reconstruct clean rows worse than PCA where it denoises better (see the
        benchmark in the guide). With ``early_stopping="auto"``, its training stops on
        its training loss, and every held-out row judges it; ``early_stopping=True``
        also holds rows out to stop its training on their clean reconstruction.

    Attributes
    ----------
    model_ : keras.Model
        The autoencoder that was trained: the corruption layer, the encoder, then the
        decoder.

    encoder_ : keras.Model
        Maps samples to codes. Shares its weights with ``model_``.

    decoder_ : keras.Model
        Maps codes to reconstructions. Shares its weights with ``model_``.

    loss_curve_ : list of float
        The training loss (on corrupted input) at the end of each epoch.

    validation_loss_curve_ : list of float or None
        The loss on the clean rows that stop training, at the end of each epoch; None
        when no rows stop it.

    n_iter_ : int
        Number of epochs run.

    best_epoch_ : int
        The epoch whose weights the network holds (see
        :class:`AutoencoderTransformer`).

    pca_kept_ : bool
        True where the network was not shown to denoise better than PCA, and the
        estimator computes PCA of the training rows exactly.

    selection_ : dict or None
        The evidence that chose between the network and PCA, from corrupted held-out
        rows (see :class:`AutoencoderTransformer`).

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    AutoencoderTransformer : The same network trained on clean input.

    References
    ----------
    Vincent, P., Larochelle, H., Bengio, Y., and Manzagol, P.-A. (2008). "Extracting and
    composing robust features with denoising autoencoders". Proceedings of the 25th
    International Conference on Machine Learning, 1096-1103.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import DenoisingAutoencoderTransformer
    >>> X = load_digits().data / 16
    >>> denoiser = DenoisingAutoencoderTransformer(
    ...     16, noise="masking", noise_level=0.3, output_activation="sigmoid", tol=1e-3,
    ...     random_state=0,
    ... ).fit(X)
    >>> denoiser.transform(X[:5]).shape
    (5, 16)
    >>> np.array_equal(denoiser.transform(X[:5]), denoiser.transform(X[:5]))
    True
    """

    # Trained to reconstruct clean rows from corrupted ones, which the clean rows'
    # reconstruction does not measure: training stops on its own loss.
    _stops_on_held_out = False

    # Pickles, skops's trusted types and MLflow's configurations name the class by
    # its public path, which stays when the code moves between private modules.
    __module__ = "sk_autoencoder"

    _parameter_constraints: dict = {
        **AutoencoderTransformer._parameter_constraints,
        "noise": [StrOptions({"gaussian", "masking", "salt_and_pepper"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    __init__ = init_with(AutoencoderTransformer.__init__, noise="gaussian", noise_level=0.1)

    def _corruption_layer(self, X, seed):
        if self.noise != "gaussian" and self.noise_level > 1:
            raise ValueError(
                f"noise_level is the probability that an entry is corrupted when "
                f"noise={self.noise!r}: it must be at most 1, got {self.noise_level}."
            )
        if self.noise_level == 0:
            return None
        if self.noise == "gaussian":
            return ScaledGaussianNoise(self.noise_level * column_std(X), seed=seed)
        if self.noise == "masking":
            return MaskingNoise(self.noise_level, seed=seed)
        return SaltAndPepperNoise(self.noise_level, X.min(axis=0), X.max(axis=0), seed=seed)
