"""AutoencoderOutlierDetector: reconstruction error as an outlier score, with
scikit-learn's outlier API."""

from numbers import Real

import numpy as np
from scipy import linalg
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._inference import errors_and_codes, forward_function
from .base import BaseAutoencoder, init_with

# With contamination="auto", a row is an outlier where minus its score is more than this
# many interquartile ranges above the third quartile: Tukey's "far out" fence.
AUTO_FENCE_IQRS = 3.0

# How many times code_spread trims the codes at most: it stops sooner where the codes
# it keeps no longer change, as they do after a few trimmings.
MAX_TRIMMINGS = 10


def auto_fence(errors):
    """The error above which ``contamination="auto"`` calls a row an outlier: the third
    quartile of ``errors`` plus :data:`AUTO_FENCE_IQRS` interquartile ranges.

    Quartiles are robust: outliers among ``errors``, up to a quarter of them, move the
    fence little, so it needs no guess of their share.
    """
    first, third = np.percentile(errors, [25, 75])
    return float(third + AUTO_FENCE_IQRS * (third - first))


def share_offset(scores, share, unseen=None):
    """The offset that flags ``share`` of the training rows' ``scores``, as scikit-learn's
    detectors set it; of all such offsets, the nearest to the ``share`` quantile of the
    scores of rows the network did not train on, ``unseen`` (``(errors, weights)``).

    A network reconstructs its training rows better than new ones: where that leaves a
    gap between the last flagged training row and the next, the unseen rows place the
    offset in it, so that new rows are flagged at the same rate.
    """
    ordered = np.sort(scores)
    flagged = min(max(round(share * len(ordered)), 0), len(ordered))
    low = ordered[flagged - 1] if flagged > 0 else -np.inf
    high = ordered[flagged] if flagged < len(ordered) else np.inf
    if unseen is None:
        target = (low + high) / 2 if np.isfinite(low) and np.isfinite(high) else low
    else:
        errors, weights = unseen
        order = np.argsort(-errors, kind="stable")
        cumulative = np.cumsum(weights[order]) / np.sum(weights)
        target = -errors[order][min(np.searchsorted(cumulative, share), len(order) - 1)]
    # Flagged rows are those strictly below the offset.
    return float(np.clip(target, np.nextafter(low, np.inf), high))


def code_spread(codes):
    """``(location, precision)`` of the training rows' ``codes``: the mean and the
    inverse covariance of the codes that are not themselves outliers by their distance
    (beyond :func:`auto_fence` of all the codes' distances), found by starting from
    all the codes and trimming until the codes kept no longer change.

    Outliers among the training rows would widen an untrimmed spread, and with it
    hide the codes far from the rest; the fence leaves the normal rows' tails in.
    """
    kept = np.ones(len(codes), bool)
    for _ in range(MAX_TRIMMINGS + 1):
        location = codes[kept].mean(axis=0)
        centred = codes[kept] - location
        precision = linalg.pinvh(centred.T @ centred / len(centred))
        distances = code_distances(codes, location, precision)
        inside = distances <= auto_fence(distances)
        if np.array_equal(inside, kept) or np.count_nonzero(inside) <= codes.shape[1]:
            break
        kept = inside
    return location, precision


def code_distances(codes, location, precision):
    """Each code's squared Mahalanobis distance from ``location``."""
    centred = codes - location
    return np.einsum("ij,jk,ik->i", centred, precision, centred)


def typical(values):
    """The median of ``values``, or their mean where over half are 0, or 1 where all
    are: a positive unit to measure them in."""
    for unit in (np.median(values), np.mean(values)):
        if unit > 0 and np.isfinite(unit):
            return float(unit)
    return 1.0


def _scoring_functions(encoder, decoder):
    """The forward passes a row's score comes from, in float64 where numpy runs them.

    The score divides errors and distances by the training rows' typical ones, which
    magnifies the last bit of float32 products; and BLAS rounds a lone row's product
    otherwise than the same row's among others. In float32, a row's score would depend
    on the rows scored with it.
    """
    return forward_function(encoder, np.float64), forward_function(decoder, np.float64)


def _unseen_errors(held_out, trimmed, n_rows):
    """``(errors, weights)`` of the rows the kept network did not train on, weighted to
    stand for all ``n_rows`` training rows: the judged rows for those it trained on, the
    trimmed ones for themselves. None where no rows were judged."""
    if held_out is None or len(held_out) == 0:
        return None
    n_kept = n_rows - len(trimmed)
    weights = np.r_[np.full(len(held_out), n_kept / len(held_out)), np.ones(len(trimmed))]
    return np.r_[held_out, trimmed], weights


class AutoencoderOutlierDetector(OutlierMixin, BaseAutoencoder):
    """Outlier detection by an autoencoder's reconstruction error and code.

    An autoencoder (the network of :class:`AutoencoderTransformer`, judged against
    PCA in the same way) learns to reconstruct the training rows; a row it
    reconstructs badly is unlike them, and so is a row whose code lies far from the
    training rows' codes. :meth:`score_samples` is minus the sum of the two, each in
    units of its median on the training rows (higher is more normal),
    :meth:`decision_function` shifts it by ``offset_`` so that outliers are negative,
    and :meth:`predict` returns -1 for outliers and 1 for inliers, as
    :class:`~sklearn.ensemble.IsolationForest` does. Use it for novelty detection
    (train on normal rows, score new ones) or on training data that holds some
    outliers, which ``robust`` keeps from shaping the network.

    Parameters
    ----------
    encoding_dim : int, default=2
        Number of values in the code. Rows off the code's subspace, or curved surface,
        reconstruct badly: a smaller code flags more, a larger one only the rows far
        from everything seen in training.

    contamination : "auto" or float, default="auto"
        The share of outliers in the training data, which sets ``offset_``:

        - a float in (0, 0.5]: ``offset_`` flags that share of the training rows, as
          scikit-learn's outlier detectors do (``fit_predict`` flags it). The
          network reconstructs its training rows better than new ones, so among the
          offsets that do, ``offset_`` is the one nearest to that quantile of the scores
          of rows held out of training (and of the rows ``robust`` left out): new rows
          like the training rows are flagged at about the same share;
        - ``"auto"``: no share is assumed. A row is an outlier where minus its score
          is far above the typical one: above the third quartile plus 3
          interquartile ranges (Tukey's "far out" fence), which outliers, up to a
          quarter of the rows, move little. The scores that set it are those of rows
          held out of training, which new rows resemble more than the training rows;
          where no rows are held out, the training rows'. On rows with no outliers
          it flags about 1% (see the guide).

    robust : bool, default=True
        Train twice: once on all the rows, then anew without the rows the first
        network finds most outlying (the share ``contamination``, or with ``"auto"``
        the rows beyond its threshold), so that outliers in the training data do not
        teach the network to reconstruct them. It costs a second fit; on the
        benchmark's tasks with outliers among the training rows its ROC AUC was at
        least the single training's on every task, and on rows with none it gave up
        at most 0.006 (see the guide). :meth:`partial_fit` never trims.

    code_distance : bool, default=True
        Add to each row's reconstruction error the squared Mahalanobis distance of its
        code from the training rows' codes, each in units of its median on the
        training rows. The error finds rows off the surface the training rows lie
        on; the distance finds rows on it but far along it, beyond the training rows'
        spread (the largest tumours of a table of tumours, say), which a reconstruction
        misses. The spread is that of the codes inside Tukey's fence of their own
        distances, so that outlying training rows do not widen it. Off, the score is
        the error alone. On the benchmark's tasks it lifted the mean ROC AUC most where
        outliers differ in degree rather than kind (see the guide).

    network, encoder, decoder, input_shape, init, hidden_layer_sizes, activation, \
output_activation, loss, optimizer, learning_rate, alpha, batch_size, epochs, \
early_stopping, validation_fraction, n_iter_no_change, tol, shuffle, random_state, \
verbose, warm_start
        As for :class:`AutoencoderTransformer`: ``network="conv"`` for images, networks
        of one's own, and the PCA start, whose network is kept only where held-out
        rows show that it reconstructs them better than PCA. The same
        ``random_state`` gives the same scores, bit for bit: nothing is drawn when
        scoring.

    Attributes
    ----------
    offset_ : float
        :meth:`decision_function` is ``score_samples(X) - offset_``: the score
        below which a row is an outlier.

    error_scale_, distance_scale_ : float
        The medians, over the training rows, of the reconstruction errors and of
        the codes' squared distances: the units :meth:`score_samples` measures them
        in.

    code_location_ : ndarray of shape (encoding_dim,)
        The mean of the training rows' codes inside the fence of their distances.

    code_precision_ : ndarray of shape (encoding_dim, encoding_dim)
        The (pseudo-)inverse of those codes' covariance, which the Mahalanobis
        distance of a code from ``code_location_`` is measured with.

    model_ : keras.Model
        The autoencoder that was trained (after ``robust``'s second training, where
        it ran).

    encoder_ : keras.Model
        Maps samples to codes. Shares its weights with ``model_``.

    decoder_ : keras.Model
        Maps codes to reconstructions. Shares its weights with ``model_``.

    n_trimmed_ : int
        Number of training rows that ``robust`` left out of the second training (0
        where it did not run).

    loss_curve_, validation_loss_curve_, n_iter_, best_epoch_, pca_kept_, selection_
        As for :class:`AutoencoderTransformer`, of the network that was kept.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    AutoencoderTransformer : The same network, for codes.
    sklearn.ensemble.IsolationForest : Outliers by random partitions.
    sklearn.neighbors.LocalOutlierFactor : Outliers by local density.

    References
    ----------
    Sakurada, M. and Yairi, T. (2014). "Anomaly detection using autoencoders with
    nonlinear dimensionality reduction". Proceedings of the MLSDA 2014 Workshop, 4-11.

    Denouden, T., Salay, R., Czarnecki, K., Abdelzad, V., Phan, B. and Vernekar, S.
    (2018). "Improving reconstruction autoencoder out-of-distribution detection with
    Mahalanobis distance". arXiv:1812.02765.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import AutoencoderOutlierDetector
    >>> digits = load_digits()
    >>> X = digits.data / 16
    >>> detector = AutoencoderOutlierDetector(
    ...     8, contamination=0.05, tol=1e-3, random_state=0
    ... ).fit(X[digits.target == 0])
    >>> zeros, ones = X[digits.target == 0], X[digits.target == 1]
    >>> bool(detector.score_samples(ones).mean() < detector.score_samples(zeros).mean())
    True
    >>> # contamination=0.05 flags that share of the training rows, and most ones.
    >>> float(np.mean(detector.predict(zeros) == -1).round(2))
    0.05
    >>> bool(np.mean(detector.predict(ones) == -1) > 0.9)
    True
    """

    # Pickles, skops's trusted types and MLflow's configurations name the class by
    # its public path, which stays when the code moves between private modules.
    __module__ = "sk_autoencoder"

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "robust": ["boolean"],
        "code_distance": ["boolean"],
    }

    __init__ = init_with(
        BaseAutoencoder.__init__, contamination="auto", robust=True, code_distance=True
    )

    # Saved with the estimator's file, beside the attributes every estimator has.
    _own_fitted_attributes = {
        "offset_": "finite",
        "n_trimmed_": "count",
        "error_scale_": "positive",
        "distance_scale_": "positive",
        "code_location_": "vector",
        "code_precision_": "square",
    }

    def decision_function(self, X):
        """Return each sample's score shifted by ``offset_``: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Return -1 for outliers and 1 for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 where :meth:`decision_function` is negative, 1 elsewhere.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def score_samples(self, X):
        """Return minus each sample's outlyingness: higher is more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the sum of the sample's mean squared reconstruction error, in units
            of the training rows' median one, and, with ``code_distance``, its code's
            squared Mahalanobis distance from the training rows' codes, in units of
            their median one.
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        encoder, decoder = _scoring_functions(self.encoder_, self.decoder_)
        return -self._outlyingness(*errors_and_codes(encoder, decoder, X, self._distances))

    def _distances(self, codes):
        """Each code's squared Mahalanobis distance from the training rows' codes."""
        return code_distances(codes, self.code_location_, self.code_precision_)

    def _outlyingness(self, errors, distances):
        """What :meth:`score_samples` is minus, from each row's error and its code's
        distance."""
        outlyingness = errors / self.error_scale_
        if self.code_distance:
            outlyingness += distances / self.distance_scale_
        return outlyingness

    def _fit(self, X, *, partial):
        """Train as every estimator here does; with ``robust``, once more without the
        rows that look most outlying; then set ``offset_`` (see ``contamination``)."""
        continuing = self._continues(partial)
        fitted = self._fitted(X, partial=partial, continuing=continuing)
        outlyingness, unseen = self._measured(fitted, X)
        n_trimmed = 0
        if self.robust and not partial:
            n_trimmed = self._n_to_trim(outlyingness, unseen)
        trimmed_rows = np.argsort(outlyingness, kind="stable")[X.shape[0] - n_trimmed :]
        if n_trimmed:
            kept_rows = np.setdiff1d(np.arange(X.shape[0]), trimmed_rows)
            fitted = self._fitted(X[kept_rows], partial=False, continuing=continuing)
            outlyingness, unseen = self._measured(fitted, X, kept_rows)
        self._warn(fitted, partial)
        if self.contamination == "auto":
            offset = -auto_fence(outlyingness if unseen is None else unseen)
        else:
            unseen = _unseen_errors(unseen, outlyingness[trimmed_rows], len(outlyingness))
            offset = share_offset(-outlyingness, self.contamination, unseen)
        self._record(fitted, continuing, partial)
        self.offset_ = offset
        self.n_trimmed_ = n_trimmed

    def _measured(self, fitted, X, trained_rows=None):
        """Learn how outlying a row is from the rows of ``X`` the network ``fitted`` kept
        trained on (``trained_rows``, or all): their codes' spread, and the units of
        errors and distances. Return the outlyingness of every row of ``X``, and that
        of the rows held out of training by networks that did not train on them (None
        where none were)."""
        kept = fitted.trained if fitted.pca_network is None else fitted.pca_network
        encoder, decoder = _scoring_functions(kept.encoder, kept.decoder)
        errors, codes = errors_and_codes(encoder, decoder, X)
        trained = slice(None) if trained_rows is None else trained_rows
        self.code_location_, self.code_precision_ = code_spread(codes[trained])
        distances = self._distances(codes)
        self.error_scale_ = typical(errors[trained])
        self.distance_scale_ = typical(distances[trained])
        outlyingness = self._outlyingness(errors, distances)
        if fitted.held_out_errors is None:
            return outlyingness, None
        rows = fitted.held_out_rows
        if trained_rows is not None:
            rows = trained_rows[rows]
        return outlyingness, self._outlyingness(fitted.held_out_errors, distances[rows])

    def _n_to_trim(self, outlyingness, unseen):
        """How many of the training rows, of ``outlyingness``, ``robust`` leaves out."""
        if self.contamination == "auto":
            fence = auto_fence(outlyingness if unseen is None else unseen)
            return int(np.count_nonzero(outlyingness > fence))
        return round(self.contamination * len(outlyingness))
