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
    assert "Dropped 1 constant or empty column: constant" in notes
    assert "Left out 1 column of dates" in notes and "id" in notes
    assert "Standardized 2 numeric columns." in notes
    assert "One-hot encoded 1 text column (colour)" in notes
    # Numbers and text apart: 15 numbers become their mean, 8 texts a category.
    assert "Replaced 15 missing numeric values by the column's mean" in notes
    assert "Gave 8 missing text values a category of their own: colour (8)" in notes
    # a, b and three colours plus "(missing)".
    assert result.n_features == 6
    assert np.isfinite(result.table["held-out MSE"]).all()
    assert result.score_name == "accuracy"


def test_every_reducer_is_measured_from_noisy_held_out_rows_too(low_rank):
    X, y = low_rank
    result = compare(X, y, dims=[1, 2], **QUICK)
    table = result.table.set_index(["encoding_dim", "reducer"])
    # The rows lie on a plane: at 2 codes PCA reconstructs clean rows exactly, but not
    # noisy ones.
    assert table.loc[(2, "PCA"), "held-out MSE"] < 1e-6 < table.loc[(2, "PCA"), "denoising MSE"]
    pca = table.xs("PCA", level="reducer")["denoising MSE"]
    ratios = table["denoising MSE"] / pca.reindex(table.index.get_level_values(0)).to_numpy()
    assert_allclose(table["denoising / PCA's"], ratios)
    assert set(table["kept"].dropna()) <= {"PCA", "network"}
    assert table.loc[(1, "PCA"), "kept"] is None or pd.isna(table.loc[(1, "PCA"), "kept"])


def test_class_labels_colour_the_codes_by_class_with_a_legend():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 5))
    y = np.array(["cat", "dog", "eel"])[rng.integers(3, size=90)]
    figure = compare(X, y, dims=[2], **QUICK).plot_codes()
    legend = figure.axes[-1].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["cat", "dog", "eel"]
    # A quantity to predict gets a colour scale instead.
    scale = compare(X, X[:, 0], dims=[2], **QUICK).plot_codes()
    assert scale.axes[-1].get_label() == "<colorbar>"


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


def table_of(ratios, kept="network"):
    """A comparison table at dims 2 and 8: the autoencoder's held-out ratio and the
    denoising autoencoder's ratio from noisy rows, given; the others, 1."""
    records = []
    for dim, (autoencoder, denoising) in zip((2, 8), ratios, strict=True):
        for name, clean, noisy in (
            ("PCA", 1.0, 1.0),
            ("autoencoder", autoencoder, 1.0),
            ("denoising autoencoder", 1.0, denoising),
        ):
            records.append(
                {
                    "encoding_dim": dim,
                    "reducer": name,
                    "MSE / PCA's": clean,
                    "denoising / PCA's": noisy,
                    "kept": None if name == "PCA" else kept,
                    "fit (s)": 1.0,
                }
            )
    return pd.DataFrame(records)


def test_the_verdict_when_a_reducer_wins_everywhere():
    verdict = _verdict(table_of([(0.9, 0.95), (0.5, 0.6)]))
    assert verdict.startswith("A nonlinear reducer beats PCA at every code size:")
    assert "the autoencoder with 8 values, whose held-out error is 0.50 x PCA's" in verdict
    assert "PCA does better" not in verdict


def test_the_verdict_when_a_reducer_wins_somewhere():
    verdict = _verdict(table_of([(1.0, 1.0), (0.7, 0.6)]))
    assert "beats PCA at code size 8 of 2, 8" in verdict
    # The denoiser is judged by its error from noisy rows, where it is 0.60 x PCA's.
    assert "the denoising autoencoder with 8 values, whose error from noisy rows is 0.60" in (
        verdict
    )
    assert "PCA does better" not in verdict


def test_the_verdict_names_every_size_where_a_reducer_loses():
    verdict = _verdict(table_of([(1.27, 0.9), (0.7, 1.1)]))
    assert "beats PCA at every code size" in verdict
    assert verdict.endswith(
        "PCA does better than the autoencoder at code size 2 (held-out error 1.27 x PCA's); "
        "the denoising autoencoder at code size 8 (error from noisy rows 1.10 x PCA's)."
    )
    # Losing everywhere, PCA is never called as good.
    nowhere = _verdict(table_of([(1.1, 1.0), (1.0, 1.3)]))
    assert nowhere.startswith("No autoencoder beats PCA at any code size (2, 8).")
    assert "as good" not in nowhere and "code size 2 (held-out error 1.10" in nowhere


def test_the_verdict_when_pca_is_kept():
    verdict = _verdict(table_of([(1.0, 1.0), (1.0, 1.0)], kept="PCA"))
    assert verdict.startswith(
        "No autoencoder beats PCA at any code size (2, 8): on this data, keep PCA."
    )
    assert "4 of 4 autoencoders are PCA itself" in verdict


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
