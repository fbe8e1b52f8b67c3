"""On a Dask cluster: Incremental, ParallelPostFit, and a grid search through joblib."""

import dask.array as da
import joblib
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream
from dask_ml.wrappers import Incremental, ParallelPostFit
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV

from sk_autoencoder import AutoencoderTransformer

# Blocks of 40 rows of the 6-feature data: Incremental feeds them to partial_fit one by one.
BLOCK_ROWS = 40


def tiny(**params):
    defaults = dict(hidden_layer_sizes=(8,), batch_size=16, epochs=3, random_state=0)
    return AutoencoderTransformer(**{**defaults, **params})


@pytest.fixture(scope="module")
def client():
    """A cluster of two worker processes on this machine, shut down after the module."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(160, 2))
    return (codes @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(160, 6))).astype(np.float32)


@pytest.mark.slow
def test_incremental_feeds_each_block_to_partial_fit_on_the_cluster(client, X):
    blocks = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    with get_task_stream(client) as tasks:
        incremental = Incremental(tiny(), shuffle_blocks=False).fit(blocks)
    assert any(task["key"][0].startswith("fit-") for task in tasks.data)
    fitted = incremental.estimator_
    assert fitted.n_iter_ == blocks.numblocks[0] == 4
    # The same passes run here, block after block, train the same network.
    local = tiny()
    for start in range(0, len(X), BLOCK_ROWS):
        local.partial_fit(X[start : start + BLOCK_ROWS])
    assert_allclose(fitted.loss_curve_, local.loss_curve_, rtol=1e-4)
    assert_allclose(fitted.transform(X), local.transform(X), rtol=1e-3, atol=1e-5)


def test_parallel_post_fit_transforms_blocks_on_the_cluster(client, X):
    estimator = tiny().fit(X)
    blocks = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    wrapper = ParallelPostFit(estimator, transform_meta=np.empty((0, 2), np.float32))
    codes = wrapper.transform(blocks)
    assert isinstance(codes, da.Array)
    assert codes.dtype == np.float32 and codes.numblocks[0] == 4
    with get_task_stream(client) as tasks:
        computed = codes.compute()
    assert len(tasks.data) >= 4
    assert computed.shape == (len(X), 2)
    assert_allclose(computed, estimator.transform(X), rtol=1e-6, atol=1e-7)


def test_map_blocks_gives_the_codes_their_shape(client, X):
    # dask_ml's ParallelPostFit keeps the input's column count in the lazy array's
    # metadata; map_blocks with the codes' chunks states it.
    estimator = tiny().fit(X)
    blocks = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    codes = blocks.map_blocks(
        estimator.transform,
        chunks=(blocks.chunks[0], (estimator.encoding_dim,)),
        dtype=np.float32,
    )
    assert codes.shape == (len(X), 2)
    assert_allclose(codes.compute(), estimator.transform(X), rtol=1e-6, atol=1e-7)


def test_grid_search_runs_its_fits_on_the_cluster(client, X):
    grid = {"encoding_dim": [1, 2]}
    local = GridSearchCV(tiny(), grid, cv=2).fit(X)
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = GridSearchCV(tiny(), grid, cv=2).fit(X)
    assert len(tasks.data) >= 4  # two candidates times two folds, at least
    assert remote.best_params_ == local.best_params_
    assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-4
    )
