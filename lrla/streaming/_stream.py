"""Turning the inputs a streaming estimator accepts into validated row chunks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from .._validation import check_array

#: Rows per chunk when a large array (or a memory-mapped file) is streamed:
#: bounded so that a memmap is never read into memory at once.
CHUNK_ROWS = 8192


def iter_chunks(rows, dim, name="rows", *, chunk_rows=CHUNK_ROWS):
    """Yield C-contiguous float32/float64 chunks of shape (m, dim) from ``rows``.

    ``rows`` is an array-like (one row of length ``dim`` or a 2-D array,
    including a ``numpy.memmap``, which is read ``chunk_rows`` rows at a time)
    or an iterator/generator of such arrays. Each chunk is validated before it
    is yielded: right width, finite, real. A chunk with a bad value raises
    before any of its rows reach the estimator; chunks yielded earlier by an
    iterator have been consumed already.
    """
    if isinstance(rows, Iterator):
        for i, chunk in enumerate(rows):
            yield from _array_chunks(chunk, dim, f"{name} (chunk {i})", chunk_rows)
        return
    if isinstance(rows, (str, bytes)) or rows is None:
        raise TypeError(f"`{name}` must be an array of rows or an iterator of row chunks; got {type(rows).__name__}.")
    yield from _array_chunks(rows, dim, name, chunk_rows)


def _array_chunks(x, dim, name, chunk_rows):
    if sp.issparse(x):  # np.asarray gives a 0-d object array: "got shape ()" named the wrong problem
        raise TypeError(f"`{name}` must be dense; got a scipy.sparse matrix (stream its rows with .toarray()).")
    arr = x if isinstance(x, np.ndarray) else np.asarray(_as_array(x, name))
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be one row (1-D) or a 2-D array of rows; got shape {arr.shape}.")
    if arr.shape[1] != dim:
        raise ValueError(f"`{name}` rows must have length dim={dim}; got rows of length {arr.shape[1]}.")
    for start in range(0, arr.shape[0], chunk_rows):
        part = arr[start:start + chunk_rows]
        if part.shape[0] == 0:
            continue
        yield np.ascontiguousarray(check_array(part, name, ndim=2, allow_empty=True))


def _as_array(x, name):
    try:
        return np.asarray(x)
    except Exception as exc:  # ragged input
        raise TypeError(f"`{name}` could not be converted to an array: {exc}") from None
