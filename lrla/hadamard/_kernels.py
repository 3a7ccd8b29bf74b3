"""Numba kernels of the Hadamard family (private).

All transforms are in natural (Sylvester) order, unnormalised unless a
``scale`` is passed, and work in place on C-contiguous float32/float64 rows.
The plain-numpy references live in ``tests/hadamard/reference.py``.

Layout of :func:`fwht_inplace` (a 1-D vector of length n = 2^L):

1. cache blocks of ``_BLOCK`` elements: inside each block, an unrolled
   8-point transform (levels 0-2) followed by radix-2 levels up to the block
   size, so every level after the first pass hits L1/L2;
2. the outer levels (h >= block) in radix-4 passes (two levels per sweep over
   memory), with one radix-2 pass if their number is odd. The scale is fused
   into the last pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._rng import counter_sign

# 2^11 doubles = 16 KiB: one block plus its butterflies stay in a 32 KiB L1.
_BLOCK = 2048


@njit(cache=True, inline="always")
def _wht8(x, i):
    a0 = x[i] + x[i + 1]
    a1 = x[i] - x[i + 1]
    a2 = x[i + 2] + x[i + 3]
    a3 = x[i + 2] - x[i + 3]
    a4 = x[i + 4] + x[i + 5]
    a5 = x[i + 4] - x[i + 5]
    a6 = x[i + 6] + x[i + 7]
    a7 = x[i + 6] - x[i + 7]
    b0 = a0 + a2
    b1 = a1 + a3
    b2 = a0 - a2
    b3 = a1 - a3
    b4 = a4 + a6
    b5 = a5 + a7
    b6 = a4 - a6
    b7 = a5 - a7
    x[i] = b0 + b4
    x[i + 1] = b1 + b5
    x[i + 2] = b2 + b6
    x[i + 3] = b3 + b7
    x[i + 4] = b0 - b4
    x[i + 5] = b1 - b5
    x[i + 6] = b2 - b6
    x[i + 7] = b3 - b7


@njit(cache=True, boundscheck=False, fastmath=False)
def _levels_radix2(x, start, stop, h_first, h_last):
    """Radix-2 levels h = h_first, 2 h_first, ..., h_last on x[start:stop]."""
    h = h_first
    while h <= h_last:
        for i in range(start, stop, 2 * h):
            for j in range(i, i + h):
                a = x[j]
                b = x[j + h]
                x[j] = a + b
                x[j + h] = a - b
        h *= 2


@njit(cache=True, boundscheck=False)
def fwht_inplace(x, scale):
    """Unnormalised FWHT of the contiguous 1-D array ``x`` (length 2^L), times ``scale``."""
    n = x.shape[0]
    if n == 1:
        x[0] *= scale
        return
    if n < 8:
        _levels_radix2(x, 0, n, 1, n // 2)
        if scale != 1.0:
            for j in range(n):
                x[j] *= scale
        return
    block = min(n, _BLOCK)
    for start in range(0, n, block):
        for i in range(start, start + block, 8):
            _wht8(x, i)
        if block > 8:
            _levels_radix2(x, start, start + block, 8, block // 2)
    # Outer levels: radix-4 sweeps (two levels per pass over memory).
    h = block
    apply_scale = scale != 1.0
    while h < n:
        if 4 * h <= n:
            last = 4 * h == n
            for i in range(0, n, 4 * h):
                for j in range(i, i + h):
                    a = x[j]
                    b = x[j + h]
                    c = x[j + 2 * h]
                    d = x[j + 3 * h]
                    s0 = a + b
                    s1 = a - b
                    s2 = c + d
                    s3 = c - d
                    if last and apply_scale:
                        x[j] = (s0 + s2) * scale
                        x[j + h] = (s1 + s3) * scale
                        x[j + 2 * h] = (s0 - s2) * scale
                        x[j + 3 * h] = (s1 - s3) * scale
                    else:
                        x[j] = s0 + s2
                        x[j + h] = s1 + s3
                        x[j + 2 * h] = s0 - s2
                        x[j + 3 * h] = s1 - s3
            if last:
                return
            h *= 4
        else:  # one level left
            for j in range(0, h):
                a = x[j]
                b = x[j + h]
                if apply_scale:
                    x[j] = (a + b) * scale
                    x[j + h] = (a - b) * scale
                else:
                    x[j] = a + b
                    x[j + h] = a - b
            return
    # n <= block: all levels were done inside the single block
    if apply_scale:
        for j in range(n):
            x[j] *= scale


@njit(cache=True, parallel=True, boundscheck=False)
def fwht_rows(X, scale):
    """In-place FWHT of every row of the C-contiguous 2-D array ``X``."""
    for r in prange(X.shape[0]):
        fwht_inplace(X[r], scale)


@njit(cache=True, parallel=True, boundscheck=False)
def rotate_rows_shared(X, signs, scale):
    """Rows of X <- (scale H D_k) ... (scale H D_1) row, with the same sign rows ``signs`` (k, n) for every row."""
    k = signs.shape[0]
    for r in prange(X.shape[0]):
        row = X[r]
        for b in range(k):
            s = signs[b]
            for j in range(row.shape[0]):
                row[j] *= s[j]
            fwht_inplace(row, scale)


@njit(cache=True, parallel=True, boundscheck=False)
def rotate_rows_fresh(X, n_blocks, seed, row_offset, scale):
    """Like :func:`rotate_rows_shared`, with independent signs for each row.

    The sign of block b, coordinate j for global row r is a pure function of
    (seed, r, b, j), so the result does not depend on threads or chunking.
    """
    n = X.shape[1]
    for r in prange(X.shape[0]):
        row = X[r]
        base = (row_offset + r) * n_blocks
        for b in range(n_blocks):
            counter0 = (base + b) * n
            for j in range(n):
                row[j] *= counter_sign(seed, counter0 + j)
            fwht_inplace(row, scale)


@njit(cache=True, parallel=True, boundscheck=False)
def unrotate_rows_shared(X, signs, scale):
    """Transpose of :func:`rotate_rows_shared`: rows <- (scale D_1 H) ... (scale D_k H) row."""
    k = signs.shape[0]
    for r in prange(X.shape[0]):
        row = X[r]
        for b in range(k - 1, -1, -1):
            fwht_inplace(row, scale)
            s = signs[b]
            for j in range(row.shape[0]):
                row[j] *= s[j]


def fwht_rows_numpy(X):
    """Plain-numpy FWHT of every row (unnormalised): the reshape butterfly, one level at a time."""
    X = np.array(X, copy=True)
    n_rows, n = X.shape
    h = 1
    while h < n:
        Y = X.reshape(n_rows, n // (2 * h), 2, h)
        a = Y[:, :, 0, :].copy()
        b = Y[:, :, 1, :]
        Y[:, :, 0, :] = a + b
        Y[:, :, 1, :] = a - b
        h *= 2
    return X
