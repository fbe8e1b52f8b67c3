"""The PCA start: weights with which an untrained autoencoder computes PCA.

The encoder's code layer and the decoder's output layer see their network's input
beside their last hidden layer (``skip`` in :mod:`._network`). Their kernel rows for
the input are set to PCA's projection and reconstruction, and their rows for the
hidden layer to zero, so that the untrained code is PCA's code and the untrained
reconstruction PCA's reconstruction; training then learns a nonlinear correction. With
no hidden layers the layers are PCA's linear maps themselves.

PCA is fitted here from the covariance matrix, read in chunks of rows, so that no copy
of ``X`` is made. One pass over the rows gives the PCA of any union of blocks of them
(the rows a network trains on, all the rows ``fit`` was given): each block's sums and
products are kept apart and added. This module knows numpy, not Keras.
"""

import numpy as np
from scipy import linalg

from ._backends.base import variable_values
from ._io.pages import read_chunks, release_pages, rows_per_chunk

# A start that is no candidate (no rows judge the network against PCA) is fitted on at
# most this many rows, drawn at random: beyond them the covariance's products cost as
# much as epochs of training (benchmarks.start compares the fit with init="pca" and
# with init="random" side by side). The PCA a network is judged against, and the one
# kept in its place, are fitted on every row.
START_ROWS = 10_000

# Rows of X read at a time, in bytes: few, large products of a chunk with itself,
# which BLAS runs faster than many small ones.
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


def sample_rows(rows, rng):
    """``rows`` (sorted), or :data:`START_ROWS` of them drawn with ``rng``."""
    if len(rows) <= START_ROWS:
        return rows
    return np.sort(rng.choice(rows, size=START_ROWS, replace=False))


class Moments:
    """The count, sums and products of a block of rows, in float64, around a shift.

    Blocks measured around the same shift add up to the moments of their union, from
    which :meth:`principal_components` fits PCA.
    """

    def __init__(self, n_features, shift):
        self.shift = shift
        self.count = 0
        self.sums = np.zeros(n_features)
        self.products = np.zeros((n_features, n_features))

    def add_rows(self, rows):
        """Take in a chunk of rows, already shifted."""
        self.count += len(rows)
        self.sums += rows.sum(axis=0, dtype=np.float64)
        self.products += rows.T @ rows

    def __add__(self, other):
        total = Moments(len(self.sums), self.shift)
        total.count = self.count + other.count
        total.sums = self.sums + other.sums
        total.products = self.products + other.products
        return total

    def principal_components(self, n_components):
        """PCA of the rows: ``(mean, components)`` as :func:`principal_components`."""
        n_features = len(self.sums)
        n_rows = max(1, self.count)
        centred = self.sums / n_rows
        covariance = self.products / n_rows - np.outer(centred, centred)
        kept = min(n_components, n_features)
        # The largest eigenvalues alone, largest first.
        _, vectors = linalg.eigh(
            covariance, subset_by_index=[n_features - kept, n_features - 1], driver="evx"
        )
        components = np.zeros((n_components, n_features))
        components[:kept] = vectors[:, ::-1].T
        largest = np.argmax(np.abs(components[:kept]), axis=1)
        components[:kept] *= np.sign(components[:kept][np.arange(kept), largest])[:, None]
        return self.shift + centred, components


def block_moments(X, blocks):
    """The :class:`Moments` of each block of rows of ``X`` (arrays of row indices), in
    one pass, chunk by chunk, around the first chunk's mean (which keeps the sums
    accurate for data far from zero).

    Each chunk's products are computed in ``X``'s own float type, at twice float64's
    speed for float32 (centred, it loses nothing that matters to them), and summed in
    float64.
    """
    n_features = X.shape[1]
    step = rows_per_chunk(CHUNK_BYTES, n_features * X.dtype.itemsize)
    shift = None
    moments = []
    for number, rows in enumerate(blocks):
        for _, chunk in read_chunks(X, step, rows):  # a copy: rows are indices
            if shift is None:
                shift = chunk.mean(axis=0, dtype=np.float64).astype(X.dtype)
                moments = [Moments(n_features, shift.astype(np.float64)) for _ in blocks]
            chunk -= shift
            # Values this large would overflow the float type in the products (finite
            # data can reach them): those chunks are multiplied in float64.
            peak = max(chunk.max(initial=0), -chunk.min(initial=0))
            if peak > np.sqrt(np.finfo(chunk.dtype).max / len(chunk)):
                chunk = chunk.astype(np.float64)
            moments[number].add_rows(chunk)
    if shift is None:
        return [Moments(n_features, np.zeros(n_features)) for _ in blocks]
    return moments


def principal_components_of_unions(X, blocks, unions, n_components):
    """PCA of each union of blocks of rows of ``X``: a ``(mean, components)`` pair for
    each list of block numbers in ``unions``, from one pass over the rows.

    Wider data than :data:`COVARIANCE_FEATURES` is fitted by IncrementalPCA, a pass
    for each union.
    """
    if X.shape[1] > COVARIANCE_FEATURES:
        return [
            _incremental_components(
                X, np.sort(np.concatenate([blocks[i] for i in union])), n_components
            )
            for union in unions
        ]
    moments = block_moments(X, blocks)
    fitted = []
    for union in unions:
        total = moments[union[0]]
        for i in union[1:]:
            total = total + moments[i]
        fitted.append(total.principal_components(n_components))
    return fitted


def principal_components(X, rows, n_components):
    """PCA of ``X[rows]``: ``(mean, components)``, components of shape
    ``(n_components, n_features)`` with orthonormal rows, largest variance first.

    Signs follow scikit-learn's PCA (each component's largest entry is positive).
    Beyond the data's number of features (or of rows, for wide data), the rows are
    zero.
    """
    return principal_components_of_unions(X, [np.asarray(rows)], [[0]], n_components)[0]


def _incremental_components(X, rows, n_components):
    """:func:`principal_components` by scikit-learn's IncrementalPCA, chunk by chunk."""
    from sklearn.decomposition import IncrementalPCA

    kept = min(n_components, len(rows))
    step = max(kept, rows_per_chunk(CHUNK_BYTES, X.shape[1] * np.dtype(np.float64).itemsize))
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


def pca_reconstruction_errors(start, inputs, targets):
    """Mean squared error, per row, of PCA's reconstruction of ``inputs`` (a chunk of
    rows; ``start`` is ``(mean, components)``) against ``targets``, in ``inputs``' float
    type, summed in float64; in place where it can, so that a chunk costs two copies."""
    mean, components = (np.asarray(part, dtype=inputs.dtype) for part in start)
    codes = (inputs - mean) @ components.T
    residual = codes @ components
    residual += mean
    residual -= targets
    np.square(residual, out=residual)
    return residual.mean(axis=1, dtype=np.float64)


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
    kernel = variable_values(code.kernel)
    new = np.zeros_like(kernel)
    new[: components.shape[1]] = components.T
    code.kernel.assign(new)
    code.bias.assign((-mean @ components.T).astype(kernel.dtype))

    bias, slope = _inverse_and_slope(output_activation, mean)
    kernel = variable_values(reconstruction.kernel)
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
