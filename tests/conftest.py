import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_autoencoder._backends.reuse import _POOL
from sk_autoencoder._training import split_validation


def pytest_addoption(parser):
    parser.addoption(
        "--benchmarks",
        action="store_true",
        help="also run the tests marked benchmark or slow (the longer benchmark scripts, "
        "quick, and the tests that start many processes)",
    )


def pytest_collection_modifyitems(config, items):
    """Leave out the tests marked ``benchmark`` or ``slow`` unless ``--benchmarks`` is
    given."""
    if config.getoption("--benchmarks"):
        return

    def long(item):
        return item.get_closest_marker("benchmark") or item.get_closest_marker("slow")

    left_out = [item for item in items if long(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not long(item)]


@pytest.fixture(autouse=True)
def no_steps_kept_from_other_tests():
    """Each test compiles its own steps: what one test compiled never serves another."""
    _POOL.clear()


@pytest.fixture(scope="session")
def digits_split():
    """``load_digits``, 70/30 split (``random_state=0``), scaled on the training part."""
    X_train, X_test = train_test_split(load_digits().data, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


@pytest.fixture
def blobs():
    """A small float64 data set, 60 x 6, with some structure to learn."""
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(60, 2))
    return codes @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(60, 6))


@pytest.fixture
def held_out_rows(monkeypatch):
    """A list that receives the validation rows of each fit with early stopping."""
    recorded = []

    def recording_split(*args):
        train_rows, validation_rows = split_validation(*args)
        recorded.append(validation_rows)
        return train_rows, validation_rows

    monkeypatch.setattr("sk_autoencoder._estimators.base.split_validation", recording_split)
    return recorded
