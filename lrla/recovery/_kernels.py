"""Numba kernels of the recovery family (private).

Matrix-free Gaussian sensing: the measurement matrix A_i is never stored. Its
free entries (a "packed" vector of length ``n_free``, see
``operators._Packing``) are regenerated from ``(seed, i)`` by a counter-based
generator: one SplitMix64 hash of the counter ``i * n_pairs + k`` gives two
32-bit uniforms, and the Box-Muller transform turns them into the normals
``z[2k]`` and ``z[2k + 1]``. Entry values therefore depend on ``(seed, i, k)``
only, never on thread scheduling. Memory is O(n_free) per chunk of rows.

Reductions over measurements (adjoint sums) are split into ``n_chunks`` fixed
blocks of rows, each summed into its own buffer, and the buffers are added in
a fixed order, so the result does not depend on the number of threads.

The plain-numpy reference of the generator is ``tests/recovery/reference.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._rng import splitmix64

_TWO_PI = 2.0 * math.pi
_INV_2_32 = 1.0 / 4294967296.0


@njit(cache=True, inline="always")
def _fill_normals(seed, row, n_free, buf):
    """Standard normals of measurement ``row`` into ``buf[:n_free]`` (Box-Muller on one hash per pair)."""
    n_pairs = (n_free + 1) // 2
    base = np.uint64(row) * np.uint64(n_pairs)
    useed = np.uint64(seed)
    for k in range(n_pairs):
        h = splitmix64(useed ^ splitmix64(base + np.uint64(k)))
        # upper 32 bits -> (0, 1] (log-safe), lower 32 bits -> [0, 1)
        u1 = (np.float64(h >> np.uint64(32)) + 1.0) * _INV_2_32
        u2 = np.float64(h & np.uint64(0xFFFFFFFF)) * _INV_2_32
        radius = math.sqrt(-2.0 * math.log(u1))
        angle = _TWO_PI * u2
        buf[2 * k] = radius * math.cos(angle)
        if 2 * k + 1 < n_free:
            buf[2 * k + 1] = radius * math.sin(angle)


@njit(cache=True, parallel=True)
def gaussian_rows(seed, n_rows, n_free):
    """Materialise the packed design: row i holds the free entries of A_i."""
    out = np.empty((n_rows, n_free))
    for i in prange(n_rows):
        _fill_normals(seed, i, n_free, out[i])
    return out


@njit(cache=True, inline="always")
def _chunk_bounds(n_rows, n_chunks, c):
    size = (n_rows + n_chunks - 1) // n_chunks
    start = c * size
    stop = min(n_rows, start + size)
    return start, stop


@njit(cache=True, parallel=True)
def matrix_free_forward(seed, n_rows, w, n_chunks):
    """``out[i] = <z_i, w>`` for the regenerated packed rows z_i."""
    n_free = w.shape[0]
    out = np.empty(n_rows)
    for c in prange(n_chunks):
        buf = np.empty(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            _fill_normals(seed, i, n_free, buf)
            acc = 0.0
            for k in range(n_free):
                acc += buf[k] * w[k]
            out[i] = acc
    return out


@njit(cache=True, parallel=True)
def matrix_free_adjoint(seed, n_rows, coef, n_free, n_chunks):
    """``sum_i coef[i] * z_i`` (packed), summed chunk by chunk in a fixed order."""
    partial = np.zeros((n_chunks, n_free))
    for c in prange(n_chunks):
        buf = np.empty(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            ci = coef[i]
            if ci == 0.0:
                continue
            _fill_normals(seed, i, n_free, buf)
            for k in range(n_free):
                partial[c, k] += ci * buf[k]
    out = np.zeros(n_free)
    for c in range(n_chunks):
        for k in range(n_free):
            out[k] += partial[c, k]
    return out


@njit(cache=True, parallel=True)
def matrix_free_sign_adjoint(seed, n_rows, w, y, n_chunks):
    """Fused l1 sub-gradient pass: one regeneration of each z_i serves both products.

    Returns ``(g, loss_sum)`` with ``g = sum_i sign(<z_i, w> - y_i) z_i`` (packed)
    and ``loss_sum = sum_i |<z_i, w> - y_i|``.
    """
    n_free = w.shape[0]
    partial = np.zeros((n_chunks, n_free))
    losses = np.zeros(n_chunks)
    for c in prange(n_chunks):
        buf = np.empty(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            _fill_normals(seed, i, n_free, buf)
            acc = 0.0
            for k in range(n_free):
                acc += buf[k] * w[k]
            res = acc - y[i]
            losses[c] += abs(res)
            if res > 0.0:
                for k in range(n_free):
                    partial[c, k] += buf[k]
            elif res < 0.0:
                for k in range(n_free):
                    partial[c, k] -= buf[k]
    out = np.zeros(n_free)
    loss = 0.0
    for c in range(n_chunks):
        loss += losses[c]
        for k in range(n_free):
            out[k] += partial[c, k]
    return out, loss
