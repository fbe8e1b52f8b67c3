"""The PCA start: weights with which an untrained autoencoder computes PCA.

The encoder's code layer and the decoder's output layer see their network's input
beside their last hidden layer (``skip`` in :mod:`._network`). Their kernel rows for
the input are set to PCA's projection and reconstruction, and their rows for the
hidden layer to zero, so that the untrained code is PCA's code and the untrained
reconstruction PCA's reconstruction; training then learns a nonlinear correction. With
no hidden layers the layers are PCA's linear maps themselves.

PCA is fitted here from the covariance matrix, read in chunks of rows, so that no copy
of ``X`` is made; this module knows numpy, not Keras.
"""

import numpy as np
from scipy import linalg

from ._pages import release_pages

# PCA is fitted on at most this many training rows, drawn at random: beyond them the
# covariance's products cost as much as epochs of training (benchmarks.start compares
# the fit with init="pca" and with init="random" side by side).
START_ROWS = 10_000

# Rows of X read at a time, in bytes (half of what a training chunk holds): few, large
# products of a chunk with itself, which BLAS runs at twice the rate of many small ones.
CHUNK_BYTES = 8 * 2**20

# Up to this many features PCA comes from the covariance matrix (32 MiB of float64 at
# most, and a symmetric eigendecomposition of that size); wider data is fitted by
# IncrementalPCA, whose memory grows with the features but not with their square.
COVARIANCE_FEATURES = 2048

# An output activation with an inverse is started around the mean reconstruction: its
# bias is the inverse at the mean and its kernel PCA's divided by the slope there. The
# mean is clipped this far inside the activation's range, where the slope is not flat.
_MARGIN = 0.05

# The layer of the convolutional decoder whose output is added to the reconstruction
# layer's (see _network.build_conv_decoder): it starts at zero.
CORRECTION = "reconstruction_correction"


def sample_rows(rows, n_samples, rng):
    """The rows (sorted) PCA is fitted on: ``rows`` (all of ``n_samples`` when None),
    or :data:`START_ROWS` of them drawn with ``rng``."""
    rows = np.arange(n_samples) if rows is None else np.asarray(rows)
    if len(rows) <= START_ROWS:
        return rows
    return np.sort(rng.choice(rows, size=START_ROWS, replace=False))


def principal_components(X, rows, n_components):
    """PCA of ``X[rows]``: ``(mean, components)``, components of shape
    ``(n_components, n_features)`` with orthonormal rows, largest variance first.

    Signs follow scikit-learn's PCA (each component's largest entry is positive).
    Beyond the data's number of features (or of rows, for wide data), the rows are
    zero. The covariance is accumulated in float64 around the first chunk's mean
    (which keeps the sums accurate for data far from zero), one chunk of rows at a time.
    """
    n_features = X.shape[1]
    if n_features > COVARIANCE_FEATURES:
        return _incremental_components(X, rows, n_components)
    step = max(1, CHUNK_BYTES // (n_features * X.dtype.itemsize))
    shift = None
    sums, products = np.zeros(n_features), np.zeros((n_features, n_features))
    for start in range(0, len(rows), step):
        # In X's own float type: centred float32 data loses nothing that matters to
        # its products, at twice float64's speed. The sums are kept in float64.
        chunk = np.asarray(X[rows[start : start + step]])  # a copy: rows are indices
        release_pages(X)
        if shift is None:
            shift = chunk.mean(axis=0, dtype=np.float64).astype(X.dtype)
        chunk -= shift
        sums += chunk.sum(axis=0, dtype=np.float64)
        # Values this large would overflow the float type in the products (finite data
        # can reach them): those chunks are multiplied in float64.
        peak = max(chunk.max(initial=0), -chunk.min(initial=0))
        if peak > np.sqrt(np.finfo(chunk.dtype).max / len(chunk)):
            chunk = chunk.astype(np.float64)
        products += chunk.T @ chunk
    n_rows = max(1, len(rows))
    centred = sums / n_rows
    covariance = products / n_rows - np.outer(centred, centred)
    kept = min(n_components, n_features)
    # The largest eigenvalues alone, largest first.
    _, vectors = linalg.eigh(
        covariance, subset_by_index=[n_features - kept, n_features - 1], driver="evx"
    )
    components = np.zeros((n_components, n_features))
    components[:kept] = vectors[:, ::-1].T
    largest = np.argmax(np.abs(components[:kept]), axis=1)
    components[:kept] *= np.sign(components[:kept][np.arange(kept), largest])[:, None]
    mean = np.zeros(n_features) if shift is None else shift + centred
    return mean, components


def _incremental_components(X, rows, n_components):
    """:func:`principal_components` by scikit-learn's IncrementalPCA, chunk by chunk."""
    from sklearn.decomposition import IncrementalPCA

    kept = min(n_components, len(rows))
    step = max(kept, CHUNK_BYTES // (X.shape[1] * np.dtype(np.float64).itemsize))
    # A last chunk with fewer rows than components is folded into the one before it.
    bounds = list(range(0, len(rows), step))
    if len(rows) - bounds[-1] < kept and len(bounds) > 1:
        bounds.pop()
    pca = IncrementalPCA(kept)
    for start, stop in zip(bounds, [*bounds[1:], len(rows)], strict=True):
        pca.partial_fit(np.asarray(X[rows[start:stop]], dtype=np.float64))
        release_pages(X)
    components = np.zeros((n_components, X.shape[1]))
    components[:kept] = pca.components_
    return pca.mean_, components


def _inverse_and_slope(output_activation, mean):
    """Where the output layer's activation starts (its input at the mean) and its slope
    there, for activations with an inverse; ``(mean, 1)`` for the others."""
    if output_activation == "sigmoid":
        clipped = np.clip(mean, _MARGIN, 1 - _MARGIN)
        return np.log(clipped / (1 - clipped)), clipped * (1 - clipped)
    if output_activation == "tanh":
        clipped = np.clip(mean, -1 + _MARGIN, 1 - _MARGIN)
        return np.arctanh(clipped), 1 - clipped**2
    return mean, np.ones_like(mean)


def start_at_pca(encoder, decoder, mean, components, output_activation):
    """Set ``encoder``'s code layer and ``decoder``'s output layer to PCA's maps.

    Their kernel rows for the network's input become PCA's projection and
    reconstruction, their rows for the last hidden layer zero. With a linear output
    the untrained autoencoder is PCA exactly; with a sigmoid or tanh output its
    reconstruction is PCA's to first order around the mean. A code unit beyond the
    data's features starts at zero (a zero column of the projection) and keeps its
    random reconstruction row, which lets its gradient reach it. The convolutional
    decoder's last convolution, added to the output layer's map, starts at zero.
    """
    code, reconstruction = encoder.get_layer("code"), decoder.get_layer("reconstruction")
    # The variables' values, not get_weights: on JAX that goes through numpy's
    # deprecated __array__ path and warns.
    kernel = np.asarray(code.kernel.value)
    new = np.zeros_like(kernel)
    new[: components.shape[1]] = components.T
    code.kernel.assign(new)
    code.bias.assign((-mean @ components.T).astype(kernel.dtype))

    bias, slope = _inverse_and_slope(output_activation, mean)
    kernel = np.asarray(reconstruction.kernel.value)
    new = np.zeros_like(kernel)
    n_codes = len(components)
    new[:n_codes] = components / slope
    unused = ~components.any(axis=1)
    new[:n_codes][unused] = kernel[:n_codes][unused]
    reconstruction.kernel.assign(new)
    reconstruction.bias.assign(bias.astype(kernel.dtype))
    # The convolutional decoder adds its last convolution's maps to the linear map.
    names = {layer.name for layer in decoder.layers}
    if CORRECTION in names:
        correction = decoder.get_layer(CORRECTION)
        for variable in (correction.kernel, correction.bias):
            variable.assign(np.zeros(variable.shape, kernel.dtype))
