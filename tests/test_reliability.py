"""Repeated fits in one process, and many threads on one fitted estimator."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer

from .test_base import run_python

# A cross-validation loop: 30 fits of fresh estimators in one process, while one
# estimator fitted before the loop stays alive and in use.
THIRTY_FITS = """
    import json, resource, warnings
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sk_autoencoder import AutoencoderTransformer

    warnings.simplefilter("ignore", ConvergenceWarning)
    X = np.random.default_rng(0).normal(size=(2000, 64)).astype(np.float32)
    make = lambda: AutoencoderTransformer(8, hidden_layer_sizes=(64,), epochs=3, random_state=0)
    kept = make().fit(X)
    codes = kept.transform(X)
    peak_mib = []
    for fit in range(30):
        make().fit(X).score(X)
        peak_mib.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    assert np.array_equal(kept.transform(X), codes), "a later fit changed an earlier one"
    print(json.dumps(peak_mib))
"""


@pytest.mark.each_backend
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_thirty_fits_do_not_grow_memory(backend):
    printed = run_python(THIRTY_FITS, KERAS_BACKEND=backend).stdout
    peak_mib = json.loads(printed.strip().splitlines()[-1])
    growth = peak_mib[29] - peak_mib[4]
    assert growth <= 150, f"peak RSS grew {growth:.0f} MiB from fit 5 to fit 30: {peak_mib}"


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
