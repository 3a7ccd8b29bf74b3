"""Numba kernels of the completion family (private).

Every kernel works on one side of the observation pattern stored as
compressed index arrays: ``indptr`` (length n_groups + 1), ``idx`` (the index
of the *other* factor's row for each observed entry) and ``vals`` (the
observed values), i.e. CSR arrays for a U half-step (groups = rows of M) and
CSC arrays for a V half-step (groups = columns of M). For group ``j`` the
least-squares problem is

    min_x || F[idx[a:b]] @ x - vals[a:b] ||_2,   a, b = indptr[j], indptr[j + 1],

with ``F`` the fixed factor (n_other x k). Groups are split into contiguous
chunks (``n_chunks``, a few per thread, chosen by the caller) handled by
``prange``; each chunk allocates its k-sized work vectors
once, so nothing is allocated inside the per-entry loops.

* :func:`solve_exact`   Gram matrix + Cholesky per group, O(N_j k^2 + k^3).
* :func:`solve_cg`      warm-started matrix-free CG on the normal equations,
  O(N_j k) per step; stops on a relative normal-residual tolerance or a step cap.
* :func:`solve_sketch`  CountSketch-preconditioned CG (the paper's
  sketch-to-precondition solver), O(N_j k + s k^2 + k^3) set-up.
* :func:`residual_on_omega`  r_l = vals_l - <U_i, V_j> (the verification kernel).
* :func:`predict_entries`    <U_i, V_j> for arbitrary index pairs.

Plain-numpy references live in ``tests/completion/reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._rng import counter_sign, counter_uniform

# Reassociation lets LLVM vectorise the length-k dot products and updates; no
# 'nnan'/'ninf' flags, since inputs are validated finite but NaN must still propagate.
_FASTMATH = {"reassoc", "contract"}


@njit(cache=True, parallel=True, boundscheck=False)  # fastmath measured no faster for the Gram loop
def solve_exact(indptr, idx, vals, F, out, n_chunks):
    """Exact per-group least squares via the k x k Gram matrix (the O(|Omega| k^2) baseline)."""
    n_groups = indptr.shape[0] - 1
    k = F.shape[1]
    for c in prange(n_chunks):
        start = c * n_groups // n_chunks
        stop = (c + 1) * n_groups // n_chunks
        G = np.empty((k, k))
        rhs = np.empty(k)
        x = np.empty(k)
        for j in range(start, stop):
            G[:, :] = 0.0
            rhs[:] = 0.0
            for l in range(indptr[j], indptr[j + 1]):
                i = idx[l]
                b = vals[l]
                for s in range(k):
                    f = F[i, s]
                    rhs[s] += f * b
                    for t in range(s + 1):
                        G[s, t] += f * F[i, t]
            _cholesky_factor(G, k)
            _cholesky_apply(G, rhs, x, k)
            for s in range(k):
                out[j, s] = x[s]


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _normal_residual(idx, vals, F, X, j, a, b_end, r, atb, k):
    """r <- F_S^T (b - F_S x_j) and atb <- F_S^T b over the entries a:b_end; returns (||r||^2, ||atb||^2)."""
    r[:] = 0.0
    atb[:] = 0.0
    for l in range(a, b_end):
        i = idx[l]
        pred = 0.0
        for t in range(k):
            pred += F[i, t] * X[j, t]
        res = vals[l] - pred
        bv = vals[l]
        for t in range(k):
            r[t] += F[i, t] * res
            atb[t] += F[i, t] * bv
    rr = 0.0
    bb = 0.0
    for t in range(k):
        rr += r[t] * r[t]
        bb += atb[t] * atb[t]
    return rr, bb


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _gram_apply(idx, F, a, b_end, p, q, k):
    """q <- F_S^T F_S p over the entries a:b_end (matrix-free, O(|S| k)); returns p^T F_S^T F_S p."""
    q[:] = 0.0
    pq = 0.0
    for l in range(a, b_end):
        i = idx[l]
        s = 0.0
        for t in range(k):
            s += F[i, t] * p[t]
        pq += s * s
        for t in range(k):
            q[t] += F[i, t] * s
    return pq


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def solve_cg(indptr, idx, vals, F, X, max_steps, rtol, steps, n_chunks):
    """Warm-started CG on F_J^T F_J x = F_J^T b for every group, matrix-free.

    ``X`` holds the warm starts and is overwritten with the solutions. A
    group stops when ||F_J^T (b - F_J x)|| <= rtol ||F_J^T b|| or after
    ``max_steps`` steps; ``steps[j]`` receives the number of steps taken.
    Each step costs one fused pass over the group's entries (4 N_j k flops):
    q = F_J^T (F_J p) is accumulated entry by entry, never forming F_J^T F_J.
    """
    n_groups = indptr.shape[0] - 1
    k = F.shape[1]
    for c in prange(n_chunks):
        start = c * n_groups // n_chunks
        stop = (c + 1) * n_groups // n_chunks
        r = np.empty(k)
        p = np.empty(k)
        q = np.empty(k)
        atb = np.empty(k)
        for j in range(start, stop):
            a = indptr[j]
            b_end = indptr[j + 1]
            rr, bb = _normal_residual(idx, vals, F, X, j, a, b_end, r, atb, k)
            stop_sq = rtol * rtol * bb
            n_steps = 0
            if rr > stop_sq:
                for t in range(k):
                    p[t] = r[t]
                while n_steps < max_steps:
                    pq = _gram_apply(idx, F, a, b_end, p, q, k)
                    n_steps += 1
                    if pq <= 0.0:  # p in the null space: the group is under-determined
                        break
                    alpha = rr / pq
                    rr_new = 0.0
                    for t in range(k):
                        X[j, t] += alpha * p[t]
                        r[t] -= alpha * q[t]
                        rr_new += r[t] * r[t]
                    if rr_new <= stop_sq:
                        break
                    beta = rr_new / rr
                    rr = rr_new
                    for t in range(k):
                        p[t] = r[t] + beta * p[t]
            steps[j] = n_steps


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def solve_sketch(indptr, idx, vals, F, X, sketch_rows, max_steps, rtol, seed, steps, n_chunks):
    """CountSketch-preconditioned CG (sketch-to-precondition, Gu et al. Alg. A.4).

    Per group: hash its N_j rows of F into ``sketch_rows`` buckets with random
    signs (O(N_j k)), factor the sketched Gram (S F_J)^T (S F_J) = R^T R
    (O(s k^2 + k^3)), then run preconditioned CG on the normal equations with
    preconditioner (R^T R)^{-1}, warm-started at ``X[j]``. Groups with at most
    ``sketch_rows`` entries use their exact Gram (the preconditioner is then
    exact and CG converges in one step). Hashes come from the counter-based
    generator keyed by ``seed`` and the entry's position, so the result does
    not depend on thread scheduling.
    """
    n_groups = indptr.shape[0] - 1
    k = F.shape[1]
    seed_sign = seed ^ 0x5DEECE66D
    for c in prange(n_chunks):
        start = c * n_groups // n_chunks
        stop = (c + 1) * n_groups // n_chunks
        SA = np.empty((sketch_rows, k))
        L = np.empty((k, k))
        r = np.empty(k)
        z = np.empty(k)
        p = np.empty(k)
        q = np.empty(k)
        atb = np.empty(k)
        for j in range(start, stop):
            a = indptr[j]
            b_end = indptr[j + 1]
            n_j = b_end - a
            L[:, :] = 0.0
            if n_j <= sketch_rows:
                for l in range(a, b_end):
                    i = idx[l]
                    for s in range(k):
                        f = F[i, s]
                        for t in range(s + 1):
                            L[s, t] += f * F[i, t]
            else:
                SA[:, :] = 0.0
                for l in range(a, b_end):
                    i = idx[l]
                    h = int(counter_uniform(seed, l) * sketch_rows)
                    sg = counter_sign(seed_sign, l)
                    for t in range(k):
                        SA[h, t] += sg * F[i, t]
                for h in range(sketch_rows):
                    for s in range(k):
                        f = SA[h, s]
                        for t in range(s + 1):
                            L[s, t] += f * SA[h, t]
            _cholesky_factor(L, k)
            rr, bb = _normal_residual(idx, vals, F, X, j, a, b_end, r, atb, k)
            stop_sq = rtol * rtol * bb
            n_steps = 0
            if rr > stop_sq:
                _cholesky_apply(L, r, z, k)
                rz = 0.0
                for t in range(k):
                    p[t] = z[t]
                    rz += r[t] * z[t]
                while n_steps < max_steps:
                    pq = _gram_apply(idx, F, a, b_end, p, q, k)
                    n_steps += 1
                    if pq <= 0.0:
                        break
                    alpha = rz / pq
                    rr = 0.0
                    for t in range(k):
                        X[j, t] += alpha * p[t]
                        r[t] -= alpha * q[t]
                        rr += r[t] * r[t]
                    if rr <= stop_sq:
                        break
                    _cholesky_apply(L, r, z, k)
                    rz_new = 0.0
                    for t in range(k):
                        rz_new += r[t] * z[t]
                    beta = rz_new / rz
                    rz = rz_new
                    for t in range(k):
                        p[t] = z[t] + beta * p[t]
            steps[j] = n_steps


@njit(cache=True, inline="always")
def _cholesky_factor(G, k):
    """In-place lower Cholesky factor of G (lower triangle used).

    A pivot below 1e-12 times the largest diagonal entry (a group with fewer
    than k observations, or none) is replaced by that diagonal scale: a ridge
    on the dependent direction only, so such a group gets a bounded solution
    (zero for an empty group) instead of a huge or NaN one.
    """
    scale = 0.0
    for s in range(k):
        scale = max(scale, G[s, s])
    floor = 1e-12 * scale
    for s in range(k):
        d = G[s, s]
        for t in range(s):
            d -= G[s, t] * G[s, t]
        if d <= floor:
            # A (numerically) dependent direction: damp it with a ridge of the Gram's scale,
            # so an under-determined group gets a bounded solution instead of a huge one.
            d = scale if scale > 0.0 else 1.0
        d = np.sqrt(d)
        G[s, s] = d
        for r in range(s + 1, k):
            v = G[r, s]
            for t in range(s):
                v -= G[r, t] * G[s, t]
            G[r, s] = v / d


@njit(cache=True, inline="always")
def _cholesky_apply(L, rhs, x, k):
    """x = (L L^T)^{-1} rhs with the lower factor L."""
    for s in range(k):
        v = rhs[s]
        for t in range(s):
            v -= L[s, t] * x[t]
        x[s] = v / L[s, s]
    for s in range(k - 1, -1, -1):
        v = x[s]
        for t in range(s + 1, k):
            v -= L[t, s] * x[t]
        x[s] = v / L[s, s]


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def residual_on_omega(indptr, idx, vals, A, B, out):
    """out[l] = vals[l] - <A[j], B[idx[l]]> for every entry l of group j (O(|Omega| k))."""
    n_groups = indptr.shape[0] - 1
    k = A.shape[1]
    for j in prange(n_groups):
        for l in range(indptr[j], indptr[j + 1]):
            i = idx[l]
            s = 0.0
            for t in range(k):
                s += A[j, t] * B[i, t]
            out[l] = vals[l] - s


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def predict_entries(rows, cols, U, V, out):
    """out[l] = <U[rows[l]], V[cols[l]]>."""
    k = U.shape[1]
    for l in prange(rows.shape[0]):
        i = rows[l]
        j = cols[l]
        s = 0.0
        for t in range(k):
            s += U[i, t] * V[j, t]
        out[l] = s
