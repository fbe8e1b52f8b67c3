"""Many threads on one fitted estimator. (Memory over repeated fits: test_benchmarks.)"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer


@pytest.mark.parametrize("cls", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
def test_eight_threads_transform_as_one(cls, blobs):
    estimator = cls(3, hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(blobs)
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(int(rng.integers(1, 300)), blobs.shape[1])) for _ in range(64)]
    methods = ("transform", "score_samples", "inverse_transform")

    def run(index):
        method = methods[index % len(methods)]
        X = batches[index]
        X = X[:, :3] if method == "inverse_transform" else X
        return getattr(estimator, method)(X)

    sequential = [run(index) for index in range(len(batches))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(run, range(len(batches))))
    for alone, together in zip(sequential, concurrent, strict=True):
        assert_array_equal(together, alone)
