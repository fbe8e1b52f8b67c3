"""Memory-mapped data: telling it apart, and keeping the pages read from it out of memory.

A pass over a memory-mapped file maps every page it reads into the process, and those
pages count in its resident memory until the kernel needs them back: to the process's
peak RSS, a pass over a file looks like loading it. The passes over a memory-mapped
``X`` (validation, training, inference) release the pages they read after each chunk.

A chunk of shuffled rows still maps the pages around each row it reads (the kernel's
fault-around and the page cache's large folios map up to 2 MiB per row on Linux 6), so
during a training epoch the file's pages in memory are bounded by the file and by the
chunk, not by the chunk alone. Releasing them every few rows would bound them by much
less, but each row read would then map its pages again, which makes a fit markedly
slower. Those pages are the kernel's cache of the file, never written, and given back
whenever memory is short (``python -m benchmarks.compare_memory`` runs a comparison on
a file under a memory cap).
"""

import contextlib
import mmap

import numpy as np

# Rows per chunk are chosen so that one layer's activations hold about this many values
# (8 MiB of float32: 2,675 rows of 784; measured a little faster than twice as many).
CHUNK_VALUES = 2**21


def rows_per_chunk(budget, row_size):
    """How many rows of ``row_size`` fit in ``budget`` (both in bytes, or both in
    values): at least one."""
    return max(1, budget // max(1, row_size))


def row_chunks(n_rows, rows_per_chunk):
    """Slices of ``range(n_rows)`` of at most ``rows_per_chunk`` rows each."""
    return [slice(start, start + rows_per_chunk) for start in range(0, n_rows, rows_per_chunk)]


def read_chunks(X, rows_per_chunk, rows=None):
    """``X``'s rows, or ``X[rows]`` for an array of row indices ``rows``, a chunk at a
    time: yields ``(index, chunk)``, ``index`` the slice of those rows that ``chunk``
    holds. Once the caller is done with a chunk, the pages that reading it mapped from
    a memory-mapped ``X`` are released."""
    n_rows = X.shape[0] if rows is None else len(rows)
    for index in row_chunks(n_rows, rows_per_chunk):
        yield index, (X[index] if rows is None else X[rows[index]])
        release_pages(X)


def memory_mapped(X):
    """Whether ``X`` is, or is a view of, a memory-mapped file."""
    while X is not None:
        if isinstance(X, np.memmap | mmap.mmap):
            return True
        X = getattr(X, "base", None)
    return False


def _shared_mapping(X):
    """The shared ``mmap`` that ``X`` is, or is a view of, a part of; ``None`` if none."""
    while X is not None:
        if isinstance(X, np.memmap):
            mapping = getattr(X, "_mmap", None)
            return mapping if X.mode in ("r", "r+", "w+") else None
        X = getattr(X, "base", None)
    return None


@contextlib.contextmanager
def read_at_random(X):
    """Tell the kernel that the block reads a memory-mapped ``X`` in no order.

    By default, a page read from a mapped file brings its neighbours in from disk too
    (read-ahead, up to a large folio of 2 MiB on Linux 6): shuffled batches would read
    megabytes from disk for each row of a file that the cache cannot hold.
    """
    mapping = _shared_mapping(X)
    if mapping is None or not hasattr(mmap, "MADV_RANDOM"):
        yield
        return
    mapping.madvise(mmap.MADV_RANDOM)
    try:
        yield
    finally:
        mapping.madvise(mmap.MADV_NORMAL)


def release_pages(X):
    """Drop the pages of a memory-mapped ``X`` that reading it mapped into this process.

    Pages read from a mapped file count in the process's resident memory until the
    kernel needs them back, so a pass over a file larger than memory would look like
    one that loaded it. Telling the kernel that they are not needed drops them from
    the process, not from the file cache: reading them again costs no disk access.
    Only shared mappings (numpy's modes ``"r"``, ``"r+"`` and ``"w+"``) are released;
    a copy-on-write mapping (``"c"``) would lose the changes made to it.
    Anything else (an array in memory) is left as it is, at the cost of walking its
    ``base`` references.
    """
    mapping = _shared_mapping(X)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)
