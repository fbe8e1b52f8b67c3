"""Whether a trained network replaces PCA: which rows judge it, and the evidence they give.

The estimator's guarantee against PCA rests here. The network replaces PCA only when
rows that neither was fitted on say, with a stated confidence, that it reconstructs
better: a one-sided paired t-test on the difference of each row's squared errors,
PCA's minus the network's. Rows that chose among the network's epochs (early
stopping) never judge it, so that picking the luckiest of many epochs cannot pass for
a win.

How rows are held out depends on how many there are (:func:`plan`):

- enough for ``validation_fraction`` of them to hold :data:`MIN_HELD_OUT_ROWS`: those
  judge one network trained on the rest (of which, where early stopping holds rows
  out, ``validation_fraction`` more stop its training);
- fewer: :data:`N_FOLDS`-fold cross-fitting. A network trained on each fold's
  complement, by the same rule as the final one, is judged on the fold; every row is
  judged once. Where the pooled evidence says the rule beats PCA, the final network
  is trained by it on all the rows;
- fewer than :data:`MIN_ROWS`: nothing can be judged, and PCA is kept.

This module knows numpy and scipy, not Keras.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

# The confidence with which the network must be shown to beat PCA.
CONFIDENCE = 0.95
# From this many held-out rows, one held-out part judges; below, folds do.
MIN_HELD_OUT_ROWS = 50
N_FOLDS = 5
# Fewer rows than this are too few to judge a network by.
MIN_ROWS = 2 * N_FOLDS
# Training held-out rows for early stopping by default only where at least this many
# would stop it: fewer judge the epochs by chance more than by the data.
MIN_STOPPING_ROWS = 10


@dataclass(frozen=True)
class Part:
    """One network of a plan: the rows it trains on, those that stop its training
    (or None: it stops on its training loss), and those that judge it (None for the
    final network of the folds, which is not judged itself).

    Its start, and the PCA it is judged against, are PCA of ``train_rows`` and
    ``stopping_rows`` together: of every row but those it is judged on.
    """

    train_rows: np.ndarray
    stopping_rows: np.ndarray | None
    judging_rows: np.ndarray | None

    @property
    def fitted_rows(self):
        """Every row the part's start is fitted on, sorted."""
        if self.stopping_rows is None:
            return self.train_rows
        return np.sort(np.concatenate([self.train_rows, self.stopping_rows]))


@dataclass(frozen=True)
class Plan:
    """The parts to train and judge. ``scheme`` names the way rows are held out:
    "held-out", "5-fold" or "too few rows". ``final`` is the part trained on all the
    rows once the folds say the network wins; None where the judged network is the
    final one (held-out) or none is trained (too few rows)."""

    scheme: str
    parts: tuple
    final: Part | None

    def pca_blocks(self, n_samples):
        """``(blocks, unions)`` for :func:`._start.principal_components_of_unions`: the
        PCA each part starts from, then the PCA of all ``n_samples`` rows."""
        if not self.parts:
            return [np.arange(n_samples)], [[0]]
        if self.final is None:
            (part,) = self.parts
            return [part.fitted_rows, part.judging_rows], [[0], [0, 1]]
        blocks = [part.judging_rows for part in self.parts]
        unions = [[j for j in range(len(blocks)) if j != k] for k in range(len(blocks))]
        return blocks, [*unions, list(range(len(blocks)))]


def plan(n_samples, validation_fraction, n_stopping, rng):
    """The :class:`Plan` for ``n_samples`` rows.

    ``n_stopping(n_rows, folds)`` is how many of a network's ``n_rows`` rows stop its
    training (0: it stops on its training loss), where ``folds`` says whether it is
    one of the folds' networks; ``rng`` draws the rows.
    """
    if n_samples < MIN_ROWS:
        return Plan("too few rows", (), None)
    n_held_out = math.ceil(validation_fraction * n_samples)
    if MIN_HELD_OUT_ROWS <= n_held_out < n_samples:
        order = rng.permutation(n_samples)
        judging_rows, rest = np.sort(order[:n_held_out]), order[n_held_out:]
        part = _trained_on(rest, n_stopping(len(rest), False), rng, judging_rows)
        return Plan("held-out", (part,), None)
    folds = np.array_split(rng.permutation(n_samples), N_FOLDS)
    parts = []
    for k, fold in enumerate(folds):
        rest = np.concatenate([other for j, other in enumerate(folds) if j != k])
        parts.append(_trained_on(rest, n_stopping(len(rest), True), rng, np.sort(fold)))
    final = _trained_on(np.arange(n_samples), n_stopping(n_samples, True), rng, None)
    return Plan(f"{N_FOLDS}-fold", tuple(parts), final)


def _trained_on(rows, n_stopping, rng, judging_rows):
    """A :class:`Part` on ``rows``, ``n_stopping`` of them (one row at least left to
    train on) drawn to stop its training."""
    count = min(n_stopping, len(rows) - 1)
    if count <= 0:
        return Part(np.sort(rows), None, judging_rows)
    shuffled = rng.permutation(rows)
    return Part(np.sort(shuffled[count:]), np.sort(shuffled[:count]), judging_rows)


@dataclass(frozen=True)
class Evidence:
    """What the judged rows say of the network against PCA.

    ``pca_error`` and ``network_error`` are their mean squared reconstruction errors
    over the judged rows; ``lower_bound`` the one-sided lower confidence bound, at
    ``confidence``, on the mean of PCA's error minus the network's. The network wins
    where that bound is above zero.
    """

    rows: int
    pca_error: float
    network_error: float
    lower_bound: float
    confidence: float

    @property
    def network_wins(self):
        return self.lower_bound > 0

    def as_dict(self, scheme):
        return {
            "scheme": scheme,
            "rows": int(self.rows),
            "pca_error": float(self.pca_error),
            "network_error": float(self.network_error),
            "lower_bound": float(self.lower_bound),
            "confidence": float(self.confidence),
            "network_wins": bool(self.network_wins),
        }


def paired_evidence(pca_errors, network_errors, confidence=CONFIDENCE):
    """The :class:`Evidence` of per-row errors of PCA and of the network on the same rows.

    With fewer than two rows, or no spread in the differences, the bound is minus
    infinity: nothing is shown.
    """
    pca_errors = np.asarray(pca_errors, dtype=np.float64)
    network_errors = np.asarray(network_errors, dtype=np.float64)
    n_rows = len(pca_errors)
    lower_bound = -math.inf
    # A network whose error is not finite shows nothing: its bound stays minus infinity.
    with np.errstate(invalid="ignore", over="ignore"):
        differences = pca_errors - network_errors
        spread = float(np.std(differences, ddof=1)) if n_rows >= 2 else math.nan
    if spread > 0 and np.isfinite(spread):
        margin = stats.t.ppf(confidence, n_rows - 1) * spread / math.sqrt(n_rows)
        lower_bound = float(np.mean(differences)) - float(margin)
    return Evidence(
        rows=n_rows,
        pca_error=float(np.mean(pca_errors)) if n_rows else math.nan,
        network_error=float(np.mean(network_errors)) if n_rows else math.nan,
        lower_bound=lower_bound,
        confidence=confidence,
    )
