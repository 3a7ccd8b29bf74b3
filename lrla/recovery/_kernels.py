"""Numba kernels of the recovery family (private).

Matrix-free Gaussian sensing: the measurement matrix A_i is never stored. Its
free entries (a "packed" vector of length ``n_free``, see
``operators._Packing``) are regenerated from ``(seed, i)`` by a counter-based
generator: the k-th output of a SplitMix64 sequence keyed by hash(seed, i) feeds a
128-layer ziggurat (Marsaglia & Tsang 2000) for the normal ``z[k]``; its rare
slow branch (tail, wedge, redraw) takes more bits by chaining the hash. Entry
values therefore depend on ``(seed, i, k)`` only, never on thread scheduling.
Memory is O(n_free) per chunk of rows. (A Box-Muller version on two hashes
per pair cost about 30 ns of CPU per normal against 8 ns for this one,
measured on the same loaded machine: its log/sqrt/sin/cos dominate.)

Reductions over measurements (adjoint sums) are split into ``n_chunks`` fixed
blocks of rows, each summed into its own buffer, and the buffers are added in
a fixed order, so the result does not depend on the number of threads.

The plain-numpy reference of the generator is ``tests/recovery/reference.py``.

Dense symmetric operator: ``dense_subgm_symmetric`` runs whole SubGM iterations
(one pass over the stored rows each) without returning to Python; its reference
is the digest's NumPy loop ``subgm_numpy`` in the same file.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._rng import splitmix64


def _ziggurat_tables(n_layers=128, r=3.442619855899, v=9.91256303526217e-3):
    """Layer edges X[0..n] and densities F[i] = exp(-X[i]^2/2) of Marsaglia-Tsang's normal ziggurat.

    X[0] = v / f(r) is the width of the base strip's rectangle-equivalent, X[1] = r,
    and each layer has area v: X[i+1] = f^-1(f(X[i]) + v / X[i]); X[n] = 0.
    """
    x = np.empty(n_layers + 1)
    x[0] = v / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(math.exp(-0.5 * x[i] ** 2) + v / x[i]))
    x[n_layers] = 0.0
    return x, np.exp(-0.5 * x * x)


ZIG_X, ZIG_F = _ziggurat_tables()
ZIG_R = 3.442619855899
_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _uniform53(h):
    return np.float64(h >> np.uint64(11)) * _INV_2_53


@njit(cache=True)
def _normal_slow(h, i, x, zx, zf):
    """Rare branch of the ziggurat (about 1.2% of draws): the tail, a wedge test, or a redraw.

    Further random bits come from chaining SplitMix64 on the first hash, so the
    value still depends on (seed, counter) only.
    """
    while True:
        if i == 0:  # tail beyond R (Marsaglia 1964)
            negative = x < 0.0
            while True:
                h = splitmix64(h)
                t = -math.log(1.0 - _uniform53(h)) / ZIG_R
                h = splitmix64(h)
                e = -math.log(1.0 - _uniform53(h))
                if e + e >= t * t:
                    return -(ZIG_R + t) if negative else ZIG_R + t
        h = splitmix64(h)
        if zf[i + 1] + (zf[i] - zf[i + 1]) * _uniform53(h) < math.exp(-0.5 * x * x):
            return x
        h = splitmix64(h)
        i = np.int64(h & np.uint64(127))
        x = (2.0 * _uniform53(h) - 1.0) * zx[i]
        if abs(x) < zx[i + 1]:
            return x


@njit(cache=True, inline="always")
def _fill_normals(seed, row, n_free, buf, zx, zf):
    """Standard normals of measurement ``row`` into ``buf[:n_free]``: one SplitMix64 hash per normal.

    Ziggurat (128 layers): the low 7 bits pick the layer, the top 53 bits give a
    signed uniform (disjoint bits, avoiding the layer/value correlation of the
    original 32-bit version).
    """
    # row key from (seed, row), then the SplitMix64 sequence from that key: one hash per normal
    key = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(row)))
    for k in range(n_free):
        h = splitmix64(key + np.uint64(k) * _GAMMA)
        i = np.int64(h & np.uint64(127))
        x = (2.0 * _uniform53(h) - 1.0) * zx[i]
        if abs(x) < zx[i + 1]:
            buf[k] = x
        else:
            buf[k] = _normal_slow(h, i, x, zx, zf)


@njit(cache=True, parallel=True)
def gaussian_rows(seed, n_rows, n_free):
    """Materialise the packed design: row i holds the free entries of A_i."""
    out = np.empty((n_rows, n_free))
    for i in prange(n_rows):
        _fill_normals(seed, i, n_free, out[i], ZIG_X, ZIG_F)
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
            _fill_normals(seed, i, n_free, buf, ZIG_X, ZIG_F)
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
            _fill_normals(seed, i, n_free, buf, ZIG_X, ZIG_F)
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
            _fill_normals(seed, i, n_free, buf, ZIG_X, ZIG_F)
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


# Reassociation lets LLVM vectorise the row dot products (their order of summation then differs
# from a scalar loop, by rounding only); no 'nnan'/'ninf': inputs are validated finite upstream.
_REASSOC = {"reassoc", "contract"}


@njit(inline="always")
def _sign(v):
    return 1.0 if v > 0.0 else (-1.0 if v < 0.0 else 0.0)


@njit(cache=True, fastmath=_REASSOC)
def _signed_row_pass(Z, y, w, g):
    """``g = Z^T sign(Z w - y)``; returns ``sum |Z w - y|``. One read of ``Z``.

    Rows go four at a time: four independent dot products share each load of
    ``w``, and ``g`` is read and written once per four rows (the store traffic on
    ``g`` dominated a row-at-a-time loop: 1.5-1.8x slower under load, measured).
    """
    m, n_free = Z.shape
    g[:] = 0.0
    loss = 0.0
    i = 0
    while i + 4 <= m:
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        for k in range(n_free):
            wk = w[k]
            a0 += Z[i, k] * wk
            a1 += Z[i + 1, k] * wk
            a2 += Z[i + 2, k] * wk
            a3 += Z[i + 3, k] * wk
        r0, r1, r2, r3 = a0 - y[i], a1 - y[i + 1], a2 - y[i + 2], a3 - y[i + 3]
        loss += (abs(r0) + abs(r1)) + (abs(r2) + abs(r3))
        s0, s1, s2, s3 = _sign(r0), _sign(r1), _sign(r2), _sign(r3)
        for k in range(n_free):
            g[k] += (s0 * Z[i, k] + s1 * Z[i + 1, k]) + (s2 * Z[i + 2, k] + s3 * Z[i + 3, k])
        i += 4
    while i < m:
        acc = 0.0
        for k in range(n_free):
            acc += Z[i, k] * w[k]
        res = acc - y[i]
        loss += abs(res)
        s = _sign(res)
        for k in range(n_free):
            g[k] += s * Z[i, k]
        i += 1
    return loss


@njit(cache=True, fastmath=_REASSOC)
def dense_subgm_symmetric(Z, y, U, eta0, decay, t_start, t_stop, rows, cols, X_true, true_norm, tol,
                          t_check, losses, steps, updates, errors):
    """Iterations ``t_start .. t_stop - 1`` of symmetric SubGM on a dense packed Gaussian operator.

    ``Z`` (m, n_free) holds the packed free entries of the A_i (upper triangle,
    ``rows``/``cols`` its indices): ``<A_i, X> = sum_k Z[i, k] c_k X[rows_k, cols_k]``
    with ``c_k = 1`` on the diagonal and ``sqrt 2`` off it, and ``A*(z)`` has
    entries ``(Z^T z)_k / c_k``. Each iteration makes one pass over the rows of
    ``Z`` (``_signed_row_pass``): the residuals of a block of rows, their signs
    and the accumulation of ``sign * Z[i]`` share the rows while they are in
    cache. Then
    ``U <- U - eta0 decay^t (S + S^T) U`` with ``S = A*(sign(res)) / m``.

    ``U`` is updated in place. Per iteration t the loss ``mean|res|``, the step,
    the relative update and (if ``true_norm > 0``) the relative error of
    ``U_t U_t^T`` go to ``losses[t]`` ... ``errors[t]``. Returns the index after
    the last iteration done: ``t_stop``, or earlier once ``t >= t_check`` and the
    relative update is below ``tol`` (``tol <= 0`` never stops early).

    The numpy reference is ``tests/recovery/reference.py::subgm_numpy``.
    """
    m, n_free = Z.shape
    d, r = U.shape
    sqrt2 = math.sqrt(2.0)
    w = np.empty(n_free)
    g = np.empty(n_free)
    G = np.empty((d, d))
    D = np.empty((d, r))
    X = np.empty((d, d))
    for t in range(t_start, t_stop):
        # X = U U^T and its packed form w
        for j in range(d):
            for k in range(j, d):
                acc = 0.0
                for q in range(r):
                    acc += U[j, q] * U[k, q]
                X[j, k] = acc
                X[k, j] = acc
        for k in range(n_free):
            a, b = rows[k], cols[k]
            w[k] = X[a, b] if a == b else sqrt2 * X[a, b]
        if true_norm > 0.0:
            acc = 0.0
            for j in range(d):
                for k in range(d):
                    e = X[j, k] - X_true[j, k]
                    acc += e * e
            errors[t] = math.sqrt(acc) / true_norm
        # one pass over the measurements: residual, sign, signed accumulation
        loss = _signed_row_pass(Z, y, w, g)
        for k in range(n_free):
            a, b = rows[k], cols[k]
            v = g[k] / m if a == b else g[k] / (sqrt2 * m)
            G[a, b] = v
            G[b, a] = v
        # D = (S + S^T) U = 2 S U
        dnorm = 0.0
        unorm = 0.0
        for j in range(d):
            for q in range(r):
                acc = 0.0
                for k in range(d):
                    acc += G[j, k] * U[k, q]
                D[j, q] = 2.0 * acc
                dnorm += 4.0 * acc * acc
                unorm += U[j, q] * U[j, q]
        eta = eta0 * decay ** t
        for j in range(d):
            for q in range(r):
                U[j, q] -= eta * D[j, q]
        upd = eta * math.sqrt(dnorm) / max(math.sqrt(unorm), 2.2250738585072014e-308)
        losses[t] = loss / m
        steps[t] = eta
        updates[t] = upd
        if tol > 0.0 and t >= t_check and upd < tol:
            return t + 1
    return t_stop
