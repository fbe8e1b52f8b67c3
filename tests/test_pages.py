"""Memory-mapped data: the pages read from the file do not stay in the process."""

import mmap
import os
import sys

import numpy as np
import pytest

from sk_autoencoder import AutoencoderTransformer, DenoisingAutoencoderTransformer
from sk_autoencoder._io.pages import (
    memory_mapped,
    read_at_random,
    read_chunks,
    release_pages,
    rows_per_chunk,
)

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_DONTNEED"),
        reason="reads the process's file-backed memory from Linux's /proc",
    ),
    # The fits are two epochs long on purpose.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]
MIB = 2**20


def file_backed():
    """This process's resident memory mapped from files (RssFile), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no RssFile")


@pytest.fixture
def mapped(tmp_path):
    """A 32 MiB float32 .npy, memory-mapped read-only."""
    X = np.random.default_rng(0).random((32 * MIB // (4 * 64), 64), dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r")


def test_released_pages_leave_the_process(mapped):
    before = file_backed()
    float(np.sum(mapped))  # reads every page
    assert file_backed() - before > 24 * MIB
    release_pages(np.asarray(mapped)[10:])  # a view finds its file's mapping
    assert file_backed() - before < 4 * MIB
    assert memory_mapped(np.asarray(mapped)[10:]) and not memory_mapped(np.ones(3))


@pytest.mark.parametrize("rows", [None, np.arange(0, 2_000, 7)[::-1]], ids=["all", "some"])
def test_chunks_read_each_row_once_and_release_each_after_use(mapped, rows):
    step = rows_per_chunk(MIB, 64 * 4)
    assert step == 4_096 and rows_per_chunk(10, 64) == 1
    expected = np.asarray(mapped if rows is None else mapped[rows])
    before, read, held = file_backed(), [], []
    for index, chunk in read_chunks(mapped, step, rows):
        float(np.sum(chunk))  # reads its pages
        held.append(file_backed() - before)
        read.append((index, np.array(chunk)))
    after = file_backed() - before
    assert np.array_equal(np.concatenate([chunk for _, chunk in read]), expected)
    assert [len(chunk) for _, chunk in read][:-1] == [step] * (len(read) - 1)
    assert np.array_equal(
        np.concatenate([np.arange(len(expected))[i] for i, _ in read]), np.arange(len(expected))
    )
    # Each chunk's pages (1 MiB, and the kernel's fault-around of up to 2 MiB on each
    # side) leave before the next is read: never the 32 MiB file's.
    assert max(held) <= 5 * MIB and after < 2 * MIB


def test_a_copy_on_write_mapping_keeps_its_changes(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((1000, 8), dtype=np.float32))
    X = np.load(tmp_path / "X.npy", mmap_mode="c")
    X[0, 0] = 5.0
    release_pages(X)
    assert X[0, 0] == 5.0


@pytest.mark.parametrize("make", [AutoencoderTransformer, DenoisingAutoencoderTransformer])
def test_fit_and_transform_leave_no_pages_of_the_file_behind(mapped, make):
    def rises(X):
        """What each step leaves of X's file in this process's memory."""
        estimator = make(2, hidden_layer_sizes=(8,), epochs=2, random_state=0)
        steps = {
            "fit": lambda: estimator.fit(X),
            "transform": lambda: estimator.transform(X),
            "score_samples": lambda: estimator.score_samples(X),
        }
        left = {}
        for name, step in steps.items():
            before = file_backed()
            step()
            left[name] = file_backed() - before
        return left

    rises(np.array(mapped[:2000]))  # the backend's first calls map code of its own
    assert all(rise < 8 * MIB for rise in rises(mapped).values())


def test_a_memory_mapped_x_gets_the_same_errors(tmp_path):
    for bad, message in ((np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")):
        X = np.ones((300, 4), dtype=np.float32)
        X[250, 1] = bad
        np.save(tmp_path / "bad.npy", X)
        mapped = np.load(tmp_path / "bad.npy", mmap_mode="r")
        for data in (X, mapped):
            with pytest.raises(ValueError, match=message):
                AutoencoderTransformer(2, epochs=1).fit(data)


def disk_reads():
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no read_bytes")


@pytest.mark.skipif(not os.access("/proc/self/io", os.R_OK), reason="reads /proc/self/io")
def test_shuffled_rows_of_a_file_are_read_without_their_neighbours(tmp_path):
    X = np.random.default_rng(0).random((200_000, 64), dtype=np.float32)  # 49 MiB
    np.save(tmp_path / "X.npy", X)
    rows = np.random.default_rng(1).permutation(len(X))[:500]
    with open(tmp_path / "X.npy", "rb") as file:
        os.fsync(file.fileno())
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    before = disk_reads()
    with read_at_random(mapped):
        np.testing.assert_array_equal(mapped[rows], X[rows])
    # A 256-byte row is read as a page or two of 4 KiB, not with its read-ahead.
    assert disk_reads() - before < 500 * 16 * 2**10
