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
``prange``; each chunk allocates its work buffers once (sized by its largest
group), so nothing is allocated inside the per-group loops. The exact and CG
solvers first gather the group's rows of F and its values into a contiguous
(k + 1) x N_j buffer, so that every later pass is a unit-stride, vectorised
loop instead of a gather of F's rows.

* :func:`solve_exact`   Gram matrix + Cholesky per group, O(N_j k^2 + k^3);
  optionally the group's squared residual (fused residual on Omega).
* :func:`solve_cg`      warm-started matrix-free CG on the normal equations,
  O(N_j k) per step; stops on a relative normal-residual tolerance or a step
  cap; optionally the group's squared residual at no extra pass.
* :func:`solve_sketch`  CountSketch-preconditioned CG (the paper's
  sketch-to-precondition solver), O(N_j k + s k^2 + k^3) set-up.
* :func:`residual_on_omega`  r_l = vals_l - <U_i, V_j> (the verification kernel).
* :func:`residual_sq_by_group` per-group sums of r_l^2 (the residual norm, nothing stored per entry).
* :func:`predict_entries`    <U_i, V_j> for arbitrary index pairs.
* :func:`sparse_times_dense` P_Omega(M) @ X or P_Omega(M)^T @ X (spectral initialisation).

Plain-numpy references live in ``tests/completion/reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._rng import counter_sign, counter_uniform

# Reassociation lets LLVM vectorise the length-k dot products and updates; no
# 'nnan'/'ninf' flags, since inputs are validated finite but NaN must still propagate.
_FASTMATH = {"reassoc", "contract"}


@njit(cache=True, inline="always")
def _chunk_max_group(indptr, start, stop):
    """Largest group size among groups start:stop (sizes the chunk's gather buffer)."""
    size = 0
    for j in range(start, stop):
        size = max(size, indptr[j + 1] - indptr[j])
    return size


@njit(cache=True, inline="always")
def _gather_group(idx, vals, F, a, n_j, A, k):
    """A[:k, l] = F[idx[a + l]] and A[k, l] = vals[a + l] for l < n_j.

    The group's regression, transposed into a contiguous k+1 row buffer, so
    that the products below run over unit-stride rows (vectorised) instead of
    re-gathering F's rows at each pass.
    """
    # For k >= 32, four entries at a time (each row of A gets four consecutive values per store):
    # measured faster there, slower for small k.
    n4 = n_j - n_j % 4 if k >= 32 else 0
    for l in range(0, n4, 4):
        i0 = idx[a + l]
        i1 = idx[a + l + 1]
        i2 = idx[a + l + 2]
        i3 = idx[a + l + 3]
        for t in range(k):
            A[t, l] = F[i0, t]
            A[t, l + 1] = F[i1, t]
            A[t, l + 2] = F[i2, t]
            A[t, l + 3] = F[i3, t]
    for l in range(n4, n_j):
        i = idx[a + l]
        for t in range(k):
            A[t, l] = F[i, t]
    for l in range(n_j):
        A[k, l] = vals[a + l]


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _augmented_gram(A, n_j, k_even, G):
    """Lower triangle of A[:k_even, :n_j] A[:k_even, :n_j]^T in 2 x 2 blocks (k_even even).

    With A from :func:`_gather_group`, G[:k, :k] is the Gram F_J^T F_J and
    G[k, :k] the right-hand side F_J^T b. Each block keeps four running sums,
    so every loaded element feeds two multiply-adds.
    """
    for s in range(0, k_even, 2):
        for t in range(0, s + 1, 2):
            a00 = 0.0
            a01 = 0.0
            a10 = 0.0
            a11 = 0.0
            for l in range(n_j):
                x0 = A[s, l]
                x1 = A[s + 1, l]
                y0 = A[t, l]
                y1 = A[t + 1, l]
                a00 += x0 * y0
                a01 += x0 * y1
                a10 += x1 * y0
                a11 += x1 * y1
            G[s, t] = a00
            G[s + 1, t] = a10
            G[s + 1, t + 1] = a11
            if t < s:
                G[s, t + 1] = a01


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _add_combination(A, n_j, k, coef, scale, out):
    """out[:n_j] += scale * sum_t coef[t] A[t, :n_j], four rows per pass (one load/store of out per 4 FMAs)."""
    t = 0
    while t + 4 <= k:
        c0 = scale * coef[t]
        c1 = scale * coef[t + 1]
        c2 = scale * coef[t + 2]
        c3 = scale * coef[t + 3]
        for l in range(n_j):
            out[l] += c0 * A[t, l] + c1 * A[t + 1, l] + c2 * A[t + 2, l] + c3 * A[t + 3, l]
        t += 4
    while t < k:
        c0 = scale * coef[t]
        for l in range(n_j):
            out[l] += c0 * A[t, l]
        t += 1


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _row_dots(A, n_j, k, v, out):
    """out[t] = <A[t, :n_j], v[:n_j]> for t < k, four rows per pass (one load of v per 4 FMAs)."""
    t = 0
    while t + 4 <= k:
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for l in range(n_j):
            v_l = v[l]
            s0 += A[t, l] * v_l
            s1 += A[t + 1, l] * v_l
            s2 += A[t + 2, l] * v_l
            s3 += A[t + 3, l] * v_l
        out[t] = s0
        out[t + 1] = s1
        out[t + 2] = s2
        out[t + 3] = s3
        t += 4
    while t < k:
        s0 = 0.0
        for l in range(n_j):
            s0 += A[t, l] * v[l]
        out[t] = s0
        t += 1


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _gather_residual(idx, vals, F, a, n_j, A, k, x, e, atb):
    """Gather as :func:`_gather_group` and, in the same pass, e = b - F_J x and atb = F_J^T b.

    Four entries at a time: each loaded element of F feeds the buffer, the
    prediction F_J x and F_J^T b while it is in a register (the separate
    residual and right-hand-side passes over the buffer cost more). Returns
    ||e||^2.
    """
    for t in range(k):
        atb[t] = 0.0
    n4 = n_j - n_j % 4
    ee = 0.0
    for l in range(0, n4, 4):
        i0 = idx[a + l]
        i1 = idx[a + l + 1]
        i2 = idx[a + l + 2]
        i3 = idx[a + l + 3]
        b0 = vals[a + l]
        b1 = vals[a + l + 1]
        b2 = vals[a + l + 2]
        b3 = vals[a + l + 3]
        p0 = 0.0
        p1 = 0.0
        p2 = 0.0
        p3 = 0.0
        for t in range(k):
            f0 = F[i0, t]
            f1 = F[i1, t]
            f2 = F[i2, t]
            f3 = F[i3, t]
            A[t, l] = f0
            A[t, l + 1] = f1
            A[t, l + 2] = f2
            A[t, l + 3] = f3
            x_t = x[t]
            p0 += f0 * x_t
            p1 += f1 * x_t
            p2 += f2 * x_t
            p3 += f3 * x_t
            atb[t] += f0 * b0 + f1 * b1 + f2 * b2 + f3 * b3
        A[k, l] = b0
        A[k, l + 1] = b1
        A[k, l + 2] = b2
        A[k, l + 3] = b3
        e0 = b0 - p0
        e1 = b1 - p1
        e2 = b2 - p2
        e3 = b3 - p3
        e[l] = e0
        e[l + 1] = e1
        e[l + 2] = e2
        e[l + 3] = e3
        ee += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3
    for l in range(n4, n_j):
        i = idx[a + l]
        b = vals[a + l]
        pred = 0.0
        for t in range(k):
            f = F[i, t]
            A[t, l] = f
            pred += f * x[t]
            atb[t] += f * b
        A[k, l] = b
        e_l = b - pred
        e[l] = e_l
        ee += e_l * e_l
    return ee


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _group_residual(A, n_j, k, x, w):
    """w[:n_j] = b - F_J x (b = A[k]); returns ||w||^2."""
    for l in range(n_j):
        w[l] = A[k, l]
    _add_combination(A, n_j, k, x, -1.0, w)
    ss = 0.0
    for l in range(n_j):
        ss += w[l] * w[l]
    return ss


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def solve_exact(indptr, idx, vals, F, out, res_sq, n_chunks):
    """Exact per-group least squares via the k x k Gram matrix (the O(|Omega| k^2) baseline).

    Per group: gather the rows F[idx_J] and values b_J into a contiguous
    buffer, form [F_J b_J]^T [F_J b_J] (Gram and right-hand side in one
    blocked pass), solve by an in-place Cholesky factorisation. If
    ``res_sq`` has one slot per group, it receives ||b_J - F_J x_J||^2 at the
    solution (the residual on Omega, fused into the half-step); pass an empty
    array to skip it.
    """
    n_groups = indptr.shape[0] - 1
    k = F.shape[1]
    k_even = k + 1 + (k + 1) % 2
    with_residual = res_sq.shape[0] == n_groups
    for c in prange(n_chunks):
        start = c * n_groups // n_chunks
        stop = (c + 1) * n_groups // n_chunks
        size = _chunk_max_group(indptr, start, stop)
        A = np.zeros((k_even, size))  # the padding row stays zero
        w = np.empty(size)
        G = np.empty((k_even, k_even))
        rhs = np.empty(k)
        x = np.empty(k)
        for j in range(start, stop):
            a = indptr[j]
            n_j = indptr[j + 1] - a
            _gather_group(idx, vals, F, a, n_j, A, k)
            _augmented_gram(A, n_j, k_even, G)
            for s in range(k):
                rhs[s] = G[k, s]
            _cholesky_factor(G, k)
            _cholesky_apply(G, rhs, x, k)
            for s in range(k):
                out[j, s] = x[s]
            if with_residual:
                res_sq[j] = _group_residual(A, n_j, k, x, w)


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
def solve_cg(indptr, idx, vals, F, X, max_steps, rtol, steps, res_sq, n_chunks):
    """Warm-started CG on F_J^T F_J x = F_J^T b for every group, matrix-free.

    ``X`` holds the warm starts and is overwritten with the solutions. A
    group stops when ||F_J^T (b - F_J x)|| <= rtol ||F_J^T b|| or after
    ``max_steps`` steps; ``steps[j]`` receives the number of steps taken.
    The group's rows of F are gathered once into a contiguous buffer; each
    step then costs two unit-stride passes over it (u = F_J p, q = F_J^T u,
    4 N_j k flops), never forming F_J^T F_J. The residual e = b - F_J x is
    carried along (e -= alpha u), so ``res_sq`` (as in :func:`solve_exact`)
    costs no extra pass. The gather computes the warm start's residual and
    F_J^T b in the same pass (:func:`_gather_residual`).
    """
    n_groups = indptr.shape[0] - 1
    k = F.shape[1]
    with_residual = res_sq.shape[0] == n_groups
    for c in prange(n_chunks):
        start = c * n_groups // n_chunks
        stop = (c + 1) * n_groups // n_chunks
        size = _chunk_max_group(indptr, start, stop)
        A = np.empty((k + 1, size))
        e = np.empty(size)
        u = np.empty(size)
        x = np.empty(k)
        r = np.empty(k)
        p = np.empty(k)
        q = np.empty(k)
        for j in range(start, stop):
            a = indptr[j]
            n_j = indptr[j + 1] - a
            for t in range(k):
                x[t] = X[j, t]
            ee = _gather_residual(idx, vals, F, a, n_j, A, k, x, e, q)  # q = F_J^T b (relative stopping rule)
            _row_dots(A, n_j, k, e, r)  # r = F_J^T e
            rr = 0.0
            bb = 0.0
            for t in range(k):
                rr += r[t] * r[t]
                bb += q[t] * q[t]
            stop_sq = rtol * rtol * bb
            n_steps = 0
            if rr > stop_sq:
                for t in range(k):
                    p[t] = r[t]
                while n_steps < max_steps:
                    u[:n_j] = 0.0
                    _add_combination(A, n_j, k, p, 1.0, u)
                    pq = 0.0
                    for l in range(n_j):
                        pq += u[l] * u[l]
                    _row_dots(A, n_j, k, u, q)
                    n_steps += 1
                    if pq <= 0.0:  # p in the null space: the group is under-determined
                        break
                    alpha = rr / pq
                    rr_new = 0.0
                    for t in range(k):
                        X[j, t] += alpha * p[t]
                        r[t] -= alpha * q[t]
                        rr_new += r[t] * r[t]
                    if with_residual:  # e is only needed for the residual
                        for l in range(n_j):
                            e[l] -= alpha * u[l]
                    if rr_new <= stop_sq:
                        break
                    beta = rr_new / rr
                    rr = rr_new
                    for t in range(k):
                        p[t] = r[t] + beta * p[t]
            steps[j] = n_steps
            if with_residual:
                if n_steps > 0:
                    ee = 0.0
                    for l in range(n_j):
                        ee += e[l] * e[l]
                res_sq[j] = ee


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


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def sparse_times_dense(indptr, idx, vals, X, out):
    """out[j] = sum over the group's entries of vals[l] * X[idx[l]] (a CSR or CSC matrix times X).

    With the row-wise arrays this is P_Omega(M) @ X, with the column-wise
    arrays P_Omega(M)^T @ X: the products of the spectral initialisation's
    randomized range finder, parallel over output rows.
    """
    n_groups = indptr.shape[0] - 1
    width = X.shape[1]
    for j in prange(n_groups):
        for c in range(width):
            out[j, c] = 0.0
        # Four entries per pass: one load and store of out[j] per four multiply-adds.
        a = indptr[j]
        b_end = indptr[j + 1]
        l = a
        while l + 4 <= b_end:
            v0 = vals[l]
            v1 = vals[l + 1]
            v2 = vals[l + 2]
            v3 = vals[l + 3]
            i0 = idx[l]
            i1 = idx[l + 1]
            i2 = idx[l + 2]
            i3 = idx[l + 3]
            for c in range(width):
                out[j, c] += v0 * X[i0, c] + v1 * X[i1, c] + v2 * X[i2, c] + v3 * X[i3, c]
            l += 4
        while l < b_end:
            v = vals[l]
            i = idx[l]
            for c in range(width):
                out[j, c] += v * X[i, c]
            l += 1


@njit(cache=True, parallel=True, boundscheck=False, fastmath=_FASTMATH)
def residual_sq_by_group(indptr, idx, vals, A, B, out):
    """out[j] = sum over group j's entries of (vals[l] - <A[j], B[idx[l]]>)^2 (nothing stored per entry)."""
    n_groups = indptr.shape[0] - 1
    k = A.shape[1]
    for j in prange(n_groups):
        ss = 0.0
        for l in range(indptr[j], indptr[j + 1]):
            i = idx[l]
            s = 0.0
            for t in range(k):
                s += A[j, t] * B[i, t]
            r = vals[l] - s
            ss += r * r
        out[j] = ss
