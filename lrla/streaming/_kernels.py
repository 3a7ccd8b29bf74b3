"""Numba kernels of the streaming family (private).

Every kernel walks the rows of a chunk in stream order and keeps its state
(running sums, the current vector) in arrays owned by the caller, so that
processing a stream in one call or in any number of chunks performs the same
floating-point operations in the same order: the results are bitwise equal.
Plain-numpy references of each kernel live in ``tests/streaming/reference.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def heavy_threshold(horizon, n_light, f_light, inv_dl):
    """Squared norm from which a row is heavy: half the light mass extrapolated to ``horizon``, over ``d L``."""
    return 0.5 * (horizon / n_light) * f_light * inv_dl


@njit(cache=True, boundscheck=False)
def random_order_pass(X, t_start, horizon, inv_dl, state, Z, Y, heavy, accumulate):
    """One pass of the random-order power method over the rows of ``X``.

    Parameters
    ----------
    X : (m, d) float32/float64, C-contiguous
        Rows ``t_start + 1 .. t_start + m`` of the stream.
    t_start : int
        Rows seen before ``X`` (unused by the test itself, kept for symmetry).
    horizon : float
        The stream length the Frobenius estimate is scaled to (n, or the end
        of the current geometric segment).
    inv_dl : float
        ``1 / (d * L)``: the heavy threshold is ``||A_light||_F^2 / (d L)``.
    state : (3,) float64
        ``[sum of squared norms of the rows classified light, their count,
        sum of squared norms of all rows]``, updated in place.
    Z : (d, k) float64
        Current iterate (fixed during a segment).
    Y : (d, k) float64
        Accumulator of ``sum_light a (a^T Z)``, updated in place when
        ``accumulate``.
    heavy : (m,) bool
        Output: which rows are heavy (the caller stores them).
    accumulate : bool
        False in the warm-up segment (only the threshold is estimated).
    """
    m, d = X.shape
    k = Z.shape[1]
    s = np.empty(k)
    for i in range(m):
        nrm = 0.0
        for c in range(d):
            v = np.float64(X[i, c])
            nrm += v * v
        state[2] += nrm
        f_light = state[0]
        n_light = state[1]
        # Threshold from the rows seen *before* this one, with the light rows only, so
        # a heavy row cannot raise its own bar and earlier heavy rows cannot hide later ones.
        is_heavy = False
        if f_light > 0.0 and nrm > 0.0:
            is_heavy = nrm >= heavy_threshold(horizon, n_light, f_light, inv_dl)
        heavy[i] = is_heavy
        if is_heavy:
            continue
        state[0] = f_light + nrm
        state[1] = n_light + 1.0
        if accumulate and nrm > 0.0:
            for j in range(k):
                acc = 0.0
                for c in range(d):
                    acc += np.float64(X[i, c]) * Z[c, j]
                s[j] = acc
            for c in range(d):
                v = np.float64(X[i, c])
                for j in range(k):
                    Y[c, j] += v * s[j]


@njit(cache=True, boundscheck=False)
def oja_pass(X, t_start, rates, decay_offset, W, scale, log_growth, energy, nonzero):
    """Oja's update ``z <- (z + eta_t (a^T z) a) / ||.||`` for several rates at once.

    The iterate of rate ``j`` is kept unnormalised, ``z_j = scale[j] * W[j]``
    with ``||z_j|| = 1``: the update of the direction, ``W[j] += eta_t
    (a^T W[j]) a``, is linear, and the norm of the normalised step follows
    from ``s = a^T z_j`` alone, ``||z + eta s a||^2 = 1 + eta s^2 (2 + eta
    ||a||^2)``. So a row costs ``O(nnz(a))`` per rate instead of three dense
    passes, and zero entries are skipped (``nonzero`` is an int64 work buffer
    of length ``d``). When ``scale[j]`` falls below 1e-100, ``W[j]`` is
    renormalised exactly (at rows fixed by the stream, so chunking does not
    matter) and ``scale[j]`` reset to 1: this keeps ``W`` finite at any rate.

    ``W`` is (r, d): one row per learning rate ``rates[j]``. With
    ``decay_offset > 0`` the rate of row ``t`` (1-based) is
    ``rates[j] * decay_offset / (decay_offset + t)``; with 0 it is constant.
    ``log_growth[j]`` accumulates ``log ||z + eta (a^T z) a||`` (the growth a
    multi-rate run selects on) and ``energy[j]`` accumulates ``(a^T z)^2``.
    """
    m, d = X.shape
    r = W.shape[0]
    for i in range(m):
        t = t_start + i + 1
        decay = 1.0
        if decay_offset > 0.0:
            decay = decay_offset / (decay_offset + t)
        k = 0
        sq = 0.0
        for c in range(d):
            v = np.float64(X[i, c])
            if v != 0.0:
                nonzero[k] = c
                k += 1
                sq += v * v
        if k == 0:
            continue
        dense = 2 * k > d  # contiguous loops (zeros add nothing) vs gathered non-zeros
        for j in range(r):
            p = 0.0
            if dense:
                for c in range(d):
                    p += np.float64(X[i, c]) * W[j, c]
            else:
                for q in range(k):
                    c = nonzero[q]
                    p += np.float64(X[i, c]) * W[j, c]
            if p == 0.0:
                continue
            eta = rates[j] * decay
            step = eta * p
            if dense:
                for c in range(d):
                    W[j, c] += step * np.float64(X[i, c])
            else:
                for q in range(k):
                    c = nonzero[q]
                    W[j, c] += step * np.float64(X[i, c])
            s = scale[j] * p
            log_norm = 0.5 * math.log1p(eta * s * s * (2.0 + eta * sq))
            log_growth[j] += log_norm
            energy[j] += s * s
            scale[j] *= math.exp(-log_norm)
            if scale[j] < 1e-100:
                nrm = 0.0
                for c in range(d):
                    nrm += W[j, c] * W[j, c]
                inv = 1.0 / math.sqrt(nrm)
                for c in range(d):
                    W[j, c] *= inv
                scale[j] = 1.0
