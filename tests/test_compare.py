"""compare: the split, the preparation, the measures, the verdict and the reports."""

import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import Comparison, compare
from sk_autoencoder import _compare as compare_module
from sk_autoencoder._data import DataError
from sk_autoencoder._report import _verdict

# Tiny fits: the tests check what compare measures, not how well the networks train.
QUICK = {"epochs": 2, "verbose": 0}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def low_rank():
    """120 rows of 8 features that lie exactly on a plane, and labels from the plane."""
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(120, 2))
    return codes @ rng.normal(size=(2, 8)), (codes[:, 0] > 0).astype(int)


def mse_by_hand(X, result, dim):
    """PCA's held-out MSE at ``dim``, on the split compare reports, computed here."""
    scaler = StandardScaler().fit(X[result.train_rows])
    train, test = scaler.transform(X[result.train_rows]), scaler.transform(X[result.test_rows])
    pca = PCA(dim).fit(train)
    return float(np.mean((test - pca.inverse_transform(pca.transform(test))) ** 2))


def test_the_table_holds_every_reducer_at_every_code_size(low_rank):
    X, y = low_rank
    result = compare(X, y, dims=[1, 2], **QUICK)
    assert isinstance(result, Comparison)
    table = result.table
    assert list(table["reducer"]) == ["PCA", "autoencoder", "denoising autoencoder"] * 2
    assert list(table["encoding_dim"]) == [1, 1, 1, 2, 2, 2]
    pca = table[table["reducer"] == "PCA"].set_index("encoding_dim")["held-out MSE"]
    assert_allclose(table["MSE / PCA's"], table["held-out MSE"] / table["encoding_dim"].map(pca))
    assert table["accuracy"].between(0, 1).all()
    assert (table["fit (s)"] > 0).all() and (table["transform (ms per 1,000 rows)"] > 0).all()
    assert table.loc[table["reducer"] != "PCA", "epochs"].le(2).all()
    assert result.n_train + result.n_test == len(X) and result.n_test == 36


def test_held_out_error_is_pca_s_on_the_split_it_reports(low_rank):
    X, _ = low_rank
    result = compare(X, dims=[1, 2], **QUICK)
    assert not set(result.train_rows) & set(result.test_rows)
    pca = result.table[result.table["reducer"] == "PCA"].set_index("encoding_dim")
    for dim in (1, 2):
        assert pca.loc[dim, "held-out MSE"] == pytest.approx(mse_by_hand(X, result, dim), rel=1e-4)
    # The rows lie on a plane: two components reconstruct them, one does not.
    assert pca.loc[2, "held-out MSE"] < 1e-6 < pca.loc[1, "held-out MSE"]


def test_the_split_follows_random_state(low_rank):
    X, _ = low_rank
    first, again = (compare(X, dims=[2], random_state=1, **QUICK) for _ in range(2))
    other = compare(X, dims=[2], random_state=2, **QUICK)
    assert_allclose(first.test_rows, again.test_rows)
    assert set(first.test_rows) != set(other.test_rows)


def test_a_table_with_text_and_missing_values_is_prepared_on_its_training_rows():
    rng = np.random.default_rng(0)
    n = 150
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
            "constant": np.ones(n),
            "id": [f"row{i}" for i in range(n)],
            "label": rng.choice(["yes", "no"], size=n),
        }
    )
    frame.loc[::10, "a"] = np.nan
    frame.loc[5::20, "colour"] = None
    X, y = frame.drop(columns="label"), frame["label"]
    result = compare(X, y, dims=[2], **QUICK)
    notes = " ".join(result.notes)
    assert "Dropped 1 constant or empty columns: constant" in notes
    assert "Left out 1 columns" in notes and "id" in notes
    assert "One-hot encoded 1 text columns (colour)" in notes
    assert "Replaced 23 missing values" in notes
    # a, b and three colours plus "(missing)".
    assert result.n_features == 6
    assert np.isfinite(result.table["held-out MSE"]).all()
    assert result.score_name == "accuracy"


def test_a_quantity_to_predict_is_judged_by_r2(low_rank):
    X, _ = low_rank
    y = X[:, 0] * 3 + 1
    result = compare(X, y, dims=[2], **QUICK)
    assert result.score_name == "R^2" and "R^2" in result.table
    # The codes at dim 2 hold the whole plane, so a linear model predicts y from them.
    assert result.table.loc[0, "R^2"] > 0.99


def test_images_keep_their_shape_for_the_plots():
    rng = np.random.default_rng(0)
    images = rng.random((80, 4, 5)).astype(np.float32)
    result = compare(images, dims=[2, 3], **QUICK)
    assert result.n_features == 20
    figure = result.plot_reconstructions()
    assert figure is not None and len(figure.axes) == 4 * 8  # original and 3 reducers


def test_images_are_scaled_as_a_whole():
    rng = np.random.default_rng(0)
    images = rng.random((200, 6, 6)).astype(np.float32)
    images[:, 0, 0] = 0
    images[::50, 0, 0] = 1  # a pixel almost always blank
    result = compare(images, dims=[2], **QUICK)
    assert "Scaled the pixels by the training pixels' overall mean" in " ".join(result.notes)
    X = images.reshape(200, -1)
    train, test = X[result.train_rows], X[result.test_rows]
    mean, std = train.astype(np.float64).mean(), train.astype(np.float64).std()
    train, test = (train - mean) / std, (test - mean) / std
    pca = PCA(2).fit(train)
    by_hand = float(np.mean((test - pca.inverse_transform(pca.transform(test))) ** 2))
    assert result.table.loc[0, "held-out MSE"] == pytest.approx(by_hand, rel=1e-4)


def test_rows_without_a_label_are_left_out(low_rank):
    X, y = low_rank
    y = y.astype(float)
    y[:10] = np.nan
    result = compare(X, y, dims=[2], **QUICK)
    assert result.n_train + result.n_test == len(X) - 10
    assert min(result.train_rows.min(), result.test_rows.min()) >= 10
    assert "Left out 10 rows with no label." in result.notes


def test_max_rows_compares_on_a_sample(low_rank):
    X, _ = low_rank
    result = compare(X, dims=[2], max_rows=50, **QUICK)
    assert result.n_train + result.n_test == 50
    rows = np.concatenate([result.train_rows, result.test_rows])
    assert len(np.unique(rows)) == 50 and rows.max() < len(X)


def test_a_memory_mapped_array_is_prepared_on_disk_like_in_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    # Three strong directions for PCA to find, whatever the scaling.
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 12)) + 0.3 * rng.normal(size=(400, 12))
    X = X.astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    in_memory = compare(X, dims=[3], **QUICK)
    monkeypatch.setattr(compare_module, "IN_MEMORY_BYTES", 0)
    # Chunks of 64 rows: several for each part of the split, and a short last one.
    monkeypatch.setattr(compare_module, "CHUNK_BYTES", 12 * 4 * 64)
    on_disk = compare(np.load(tmp_path / "X.npy", mmap_mode="r"), dims=[3], **QUICK)
    assert "chunk by chunk on disk" in " ".join(on_disk.notes)
    assert type(on_disk.reducers["PCA", 3]).__name__ == "IncrementalPCA"
    assert_allclose(on_disk.test_rows, in_memory.test_rows)
    assert_allclose(
        on_disk.table["held-out MSE"][0], in_memory.table["held-out MSE"][0], rtol=0.02
    )
    assert np.isfinite(on_disk.table["held-out MSE"]).all()


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.ones((50, 4)), {"dims": [4]}, "code size 4 is not below the number of features"),
        (np.ones((50, 4)), {"dims": [0]}, "positive integer"),
        (np.ones((50, 4)), {"dims": []}, "dims is empty"),
        (np.ones((12, 4)), {"dims": [2]}, "too few rows to compare: 12 rows"),
        (np.ones((50, 1)), {}, "nothing to reduce"),
        (np.ones((50, 4)), {"y": np.ones(3)}, "one value per row"),
        (np.array(["a", "b"]), {}, "must be numbers"),
        (np.full((50, 4), np.inf), {"dims": [2]}, "infinite"),
        (np.ones((50, 4)), {"image_shape": (3, 3)}, "image_shape"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        compare(X, **{**QUICK, **kwargs})


def test_a_table_with_nothing_usable_is_a_data_error():
    frame = pd.DataFrame({"constant": [1.0] * 30, "id": [f"r{i}" for i in range(30)]})
    with pytest.raises(DataError, match="no usable column"):
        compare(frame, **QUICK)


def table_of(ratios):
    """A comparison table with the given autoencoder ratios at dims 2 and 8."""
    records = []
    for dim, (autoencoder, denoising) in zip((2, 8), ratios, strict=True):
        for name, ratio in (("PCA", 1.0), ("autoencoder", autoencoder), ("denoising", denoising)):
            records.append(
                {"encoding_dim": dim, "reducer": name, "MSE / PCA's": ratio, "fit (s)": 1.0}
            )
    return pd.DataFrame(records)


def test_the_verdict_names_where_an_autoencoder_wins():
    everywhere = _verdict(table_of([(0.9, 0.95), (0.5, 0.6)]))
    assert "beats PCA at every code size" in everywhere
    assert "autoencoder with 8 values" in everywhere and "0.50 x PCA's" in everywhere
    somewhere = _verdict(table_of([(1.1, 1.0), (0.7, 0.6)]))
    assert "at code sizes 8 of 2, 8" in somewhere and "denoising with 8" in somewhere
    nowhere = _verdict(table_of([(1.1, 1.0), (0.99, 1.2)]))
    assert nowhere.startswith("PCA is as good as the autoencoders at every code size")


def test_the_reports_hold_the_table_the_verdict_and_the_plots(low_rank, tmp_path):
    X, y = low_rank
    result = compare(X, y, dims=[2, 3], **QUICK)
    report = result.write_markdown(tmp_path / "report", command="compare X").read_text()
    assert result.verdict in report and "Made by `compare X`" in report
    for row in result.table.itertuples():
        assert f"| {row.encoding_dim} | {row.reducer} | {row[3]:.4f} | {row[4]:.2f} |" in report
    for name in ("mse.png", "scores.png", "codes.png"):
        assert (tmp_path / "report" / name).read_bytes().startswith(PNG_SIGNATURE)
        assert f"({name})" in report
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    assert_allclose(csv["held-out MSE"], result.table["held-out MSE"])
    page = result.write_html(tmp_path / "report.html").read_text()
    assert result.verdict.replace("'", "&#x27;") in page
    # Self-contained: every image is embedded, nothing is fetched.
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 3 and all(src.startswith("data:image/png;base64,") for src in sources)
    assert "href=" not in page


def test_it_shows_itself_as_a_table(low_rank):
    X, _ = low_rank
    result = compare(X, dims=[2], **QUICK)
    assert "<table" in result._repr_html_() and result.verdict in repr(result)
    assert "denoising autoencoder" in repr(result)
