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
            tau = 0.5 * (horizon / n_light) * f_light * inv_dl
            is_heavy = nrm >= tau
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
def oja_pass(X, t_start, rates, decay_offset, Z, log_growth, energy):
    """Oja's update ``z <- z + eta_t (a^T z) a``, renormalised every row, for several rates at once.

    ``Z`` is (d, r): one unit column per learning rate ``rates[j]``. With
    ``decay_offset > 0`` the rate of row ``t`` (1-based) is
    ``rates[j] * decay_offset / (decay_offset + t)``; with 0 it is constant.
    ``log_growth[j]`` accumulates ``log ||z + eta (a^T z) a||`` (the growth a
    multi-rate run selects on) and ``energy[j]`` accumulates ``(a^T z)^2``.
    """
    m, d = X.shape
    r = Z.shape[1]
    for i in range(m):
        t = t_start + i + 1
        decay = 1.0
        if decay_offset > 0.0:
            decay = decay_offset / (decay_offset + t)
        for j in range(r):
            s = 0.0
            for c in range(d):
                s += np.float64(X[i, c]) * Z[c, j]
            if s == 0.0:
                continue
            step = rates[j] * decay * s
            nrm = 0.0
            for c in range(d):
                v = Z[c, j] + step * np.float64(X[i, c])
                Z[c, j] = v
                nrm += v * v
            nrm = math.sqrt(nrm)
            inv = 1.0 / nrm
            for c in range(d):
                Z[c, j] *= inv
            log_growth[j] += math.log(nrm)
            energy[j] += s * s
