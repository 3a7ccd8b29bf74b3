"""Numba kernels of the Nystrom family (private).

Each kernel has a plain-numpy reference (``*_reference``) used by the tests.
Randomness comes from the counter-based generator of :mod:`lrla._rng`, so a
kernel's output depends only on its explicit ``seed`` and ``counter``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._rng import counter_uniform


@njit(cache=True, boundscheck=False)
def rbf_row(points, x, gamma, out):
    """``out[i] = exp(-gamma * ||points[i] - x||^2)``, fused (no temporaries)."""
    m, d = points.shape
    for i in range(m):
        acc = 0.0
        for j in range(d):
            diff = points[i, j] - x[j]
            acc += diff * diff
        out[i] = np.exp(-gamma * acc)
    return out


def rbf_row_reference(points, x, gamma):
    return np.exp(-gamma * ((points - x) ** 2).sum(axis=1))


_MAGIC = 6755399441055744.0  # 1.5 * 2**52: x + _MAGIC rounds x to an integer held in the low mantissa bits
_MAGIC_BITS = 0x4338000000000000  # the int64 bits of _MAGIC
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (Cody-Waite): n * _LN2_HI is exact for |n| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_EXP_CHUNK = 256


@njit(cache=True, boundscheck=False, fastmath={"contract"})
def _exp_chunk(src, dst, length, t, t_bits, scale_bits, scale):
    """``dst[:length] = exp(src[:length])`` for ``src <= 0`` (``src`` and ``dst`` may be the same array)."""
    for j in range(length):
        x = src[j]
        x = x if x > -708.0 else -708.0
        t[j] = x * _LOG2E + _MAGIC
    for j in range(length):
        scale_bits[j] = (t_bits[j] - _MAGIC_BITS + 1023) << 52  # the bits of 2.0**n
    for j in range(length):
        x = src[j]
        xc = x if x > -708.0 else -708.0
        n = t[j] - _MAGIC
        r = (xc - n * _LN2_HI) - n * _LN2_LO
        p = 1.6059043836821613e-10  # 1/13!, ..., 1/2!, 1, 1 (Horner)
        p = p * r + 2.08767569878681e-09
        p = p * r + 2.505210838544172e-08
        p = p * r + 2.755731922398589e-07
        p = p * r + 2.7557319223985893e-06
        p = p * r + 2.48015873015873e-05
        p = p * r + 0.0001984126984126984
        p = p * r + 0.001388888888888889
        p = p * r + 0.008333333333333333
        p = p * r + 0.041666666666666664
        p = p * r + 0.16666666666666666
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        dst[j] = p * scale[j] if x > -708.0 else (0.0 if x <= -708.0 else x)  # NaN stays NaN


@njit(cache=True, boundscheck=False, fastmath={"contract"})
def exp_nonpositive(v):
    """In place ``v <- exp(v)`` for a flat float64 array with ``v <= 0``; max error 1 ulp; ``v <= -708`` gives 0.

    numba calls libm's scalar ``exp`` element by element (about 10 ns each on
    a CPU without SVML); this is the textbook vectorisable form instead:
    ``x = n ln 2 + r`` with ``n`` rounded by the magic-number trick and ``|r| <=
    ln(2)/2``, ``exp(r)`` by its degree-13 Taylor polynomial (truncation
    < 1e-17 relative), and ``2^n`` assembled from the exponent bits -- integer
    adds and shifts that AVX2 has -- so that LLVM vectorises all of it. Only
    FMA contraction is allowed (no reassociation, which would undo the
    rounding trick). Values ``<= -708`` (``exp < 3.4e-308``) flush to 0, the
    subnormal range that ``2^n`` cannot hold; NaN stays NaN.
    """
    t = np.empty(_EXP_CHUNK)
    scale_bits = np.empty(_EXP_CHUNK, dtype=np.int64)
    t_bits, scale = t.view(np.int64), scale_bits.view(np.float64)
    for start in range(0, v.shape[0], _EXP_CHUNK):
        seg = v[start:min(start + _EXP_CHUNK, v.shape[0])]
        _exp_chunk(seg, seg, seg.shape[0], t, t_bits, scale_bits, scale)
    return v


def exp_nonpositive_reference(v):
    with np.errstate(invalid="ignore"):
        return np.where(v <= -708.0, 0.0, np.exp(v))


@njit(cache=True, boundscheck=False)  # no contraction here: the distances round as scikit-learn's do
def rbf_from_gram(G, x_sq, y_sq, gamma, zero_diagonal):
    """In place ``G[i, j] <- exp(-gamma * max(0, -2 G[i, j] + x_sq[i] + y_sq[j]))`` for a Gram block ``G = X Y^T``.

    The squared distances follow scikit-learn's ``rbf_kernel`` (same operations,
    same order); the exponential is that of :func:`exp_nonpositive` (within
    1 ulp of libm's, so entries agree with scikit-learn's to 1 ulp; ``gamma >=
    0``), fused with the distances chunk by chunk: one pass over ``G``.
    ``zero_diagonal`` sets the squared distances of the diagonal to 0, as
    scikit-learn does for ``k(X, X)``.
    """
    n, m = G.shape
    arg = np.empty(_EXP_CHUNK)
    t = np.empty(_EXP_CHUNK)
    scale_bits = np.empty(_EXP_CHUNK, dtype=np.int64)
    t_bits, scale = t.view(np.int64), scale_bits.view(np.float64)
    for i in range(n):
        a = x_sq[i]
        row = G[i]
        for start in range(0, m, _EXP_CHUNK):
            length = min(_EXP_CHUNK, m - start)
            for j in range(length):
                d = -2.0 * row[start + j] + a
                d += y_sq[start + j]
                d = 0.0 if d < 0.0 else d  # NaN stays NaN
                arg[j] = d * -gamma
            if zero_diagonal and start <= i < start + length:
                arg[i - start] = -0.0
            _exp_chunk(arg, row[start:start + length], length, t, t_bits, scale_bits, scale)
    return G


def rbf_from_gram_reference(G, x_sq, y_sq, gamma, zero_diagonal):
    D = np.maximum(-2.0 * G + x_sq[:, None] + y_sq[None, :], 0.0)
    if zero_diagonal:
        np.fill_diagonal(D, 0.0)
    return np.exp(-gamma * D)


@njit(cache=True, boundscheck=False)
def update_slots(slots, keep_prob, p_new, new_position, seed, counter):
    """One step of the INK slot update, in place.

    ``slots[s]`` holds a position into the candidate set (or -1 = empty).
    Each slot independently takes the new point (position ``new_position``)
    with probability ``p_new``; otherwise a slot holding position ``j`` keeps
    it with probability ``keep_prob[j]`` and is emptied otherwise. Slot ``s``
    uses the uniforms number ``counter + 2 s`` and ``counter + 2 s + 1``.
    """
    for s in range(slots.shape[0]):
        u = counter_uniform(seed, counter + np.uint64(2 * s))
        if u < p_new:
            slots[s] = new_position
        elif slots[s] >= 0:
            v = counter_uniform(seed, counter + np.uint64(2 * s + 1))
            if v >= keep_prob[slots[s]]:
                slots[s] = -1
    return slots


def update_slots_reference(slots, keep_prob, p_new, new_position, uniforms):
    """Same update with pre-drawn ``uniforms`` of shape (n_slots, 2)."""
    slots = slots.copy()
    take = uniforms[:, 0] < p_new
    held = (~take) & (slots >= 0)
    drop = held & (uniforms[:, 1] >= keep_prob[np.where(slots >= 0, slots, 0)])
    slots[take] = new_position
    slots[drop] = -1
    return slots


@njit(cache=True)
def counter_uniforms(seed, counter, n_slots):
    """The uniforms :func:`update_slots` draws, as an (n_slots, 2) array (for the reference)."""
    out = np.empty((n_slots, 2))
    for s in range(n_slots):
        out[s, 0] = counter_uniform(seed, counter + np.uint64(2 * s))
        out[s, 1] = counter_uniform(seed, counter + np.uint64(2 * s + 1))
    return out


@njit(cache=True, boundscheck=False)
def tridiagonal_eigenvalues(diagonal, off_diagonal):
    """Eigenvalues (unsorted) of the symmetric tridiagonal matrix with ``diagonal`` (n) and ``off_diagonal`` (n - 1).

    Implicit QL with Wilkinson shifts (EISPACK ``tql1``; Numerical Recipes'
    ``tqli`` without eigenvectors): O(n^2) work. NaN in a result when an
    eigenvalue needs more than 60 sweeps (LAPACK's ``dsterf`` allows 30 per
    eigenvalue), so the caller can fall back.
    """
    n = diagonal.shape[0]
    d = diagonal.copy()
    e = np.zeros(n)
    e[: n - 1] = off_diagonal[: n - 1]
    eps = np.finfo(np.float64).eps
    for l in range(n):
        sweeps = 0
        while True:
            m = l
            while m < n - 1:
                if abs(e[m]) <= eps * (abs(d[m]) + abs(d[m + 1])):
                    break
                m += 1
            if m == l:
                break
            sweeps += 1
            if sweeps > 60:
                d[l] = np.nan
                break
            g = (d[l + 1] - d[l]) / (2.0 * e[l])
            r = math.sqrt(g * g + 1.0)  # libm's hypot costs ~20 ns a call; no overflow at these scales
            g = d[m] - d[l] + e[l] / (g + (r if g >= 0.0 else -r))
            s, c, p = 1.0, 1.0, 0.0
            deflated = False
            for i in range(m - 1, l - 1, -1):
                f = s * e[i]
                b = c * e[i]
                r = math.sqrt(f * f + g * g)
                e[i + 1] = r
                if r == 0.0:  # underflow: the matrix split at i + 1
                    d[i + 1] -= p
                    e[m] = 0.0
                    deflated = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
            if deflated:
                continue
            d[l] -= p
            e[l] = g
            e[m] = 0.0
    return d


@njit(cache=True, boundscheck=False)
def _tridiagonal_top_sum(alpha, beta, j, k):
    """``sum |theta|`` over the ``k`` largest eigenvalues theta of the Lanczos matrix ``T_j`` (NaN if QL failed)."""
    ev = np.sort(tridiagonal_eigenvalues(alpha[:j], beta[: max(j - 1, 0)]))
    return np.abs(ev[j - min(k, j):]).sum()


@njit(cache=True, boundscheck=False, inline="always", fastmath={"reassoc", "contract"})
def _dot(x, y):
    # numba's np.dot on short vectors is a BLAS call whose overhead dominated here; a plain loop
    # is a serial chain of adds unless reassociation lets LLVM split it over vector lanes
    acc = 0.0
    for l in range(x.shape[0]):
        acc += x[l] * y[l]
    return acc


@njit(cache=True, boundscheck=False)
def _orthogonalise(w, Q, j):
    """``w <- w - Q[:j]^T Q[:j] w`` by classical Gram-Schmidt, twice ("twice is enough")."""
    n = w.shape[0]
    for _ in range(2):
        for i in range(j):
            c = _dot(w, Q[i])
            for l in range(n):
                w[l] -= c * Q[i, l]


_MAX_STARTS = 8


@njit(cache=True, boundscheck=False)
def _start_vector(out, seed, index):
    n = out.shape[0]
    for i in range(n):
        out[i] = counter_uniform(seed, np.uint64(index * n + i)) - 0.5


@njit(cache=True, boundscheck=False)
def lanczos_top_eigenvalue_sum(A, k, tol, max_steps, seed):
    """``sum |lambda|`` over the ``k`` largest eigenvalues of the symmetric ``A``: Lanczos, full reorthogonalisation.

    (The absolute values follow the ridge rule's reference, ``sum(abs(eigs(...)))``;
    they matter only for an indefinite ``A``.)

    The Ritz values of nested Krylov spaces increase towards the eigenvalues
    (Cauchy interlacing), so the top-``k`` Ritz sum is a lower bound that rises
    monotonically to the answer; the iteration stops when it moves by at most
    ``tol * sum_i |A_ii|`` between two checks (every third step from step
    2k + 6 on), or
    when the Krylov space is exhausted -- then it goes on from the next start
    vector made orthogonal to the basis (``T`` splits into blocks), so an
    eigenvalue that the first vector missed is still found. Eigenvalues of the
    tridiagonal ``T`` by implicit QL. Start vectors: uniform entries from the
    counter-based generator keyed by ``seed`` (deterministic; no global RNG).
    Returns ``(sum, converged)``; ``converged`` is False when ``max_steps``
    ran out first (or QL failed), and the caller then uses a dense solver.

    Like any Krylov method it can count an exactly repeated eigenvalue once
    (the start vector sees one direction of its eigenspace); Musco & Musco's
    reference code computes the same sum with MATLAB's ``eigs``, which shares
    that limit.
    """
    n = A.shape[0]
    steps = min(max_steps, n)
    Q = np.empty((steps + 1, n))
    alpha = np.empty(steps)
    beta = np.zeros(steps)
    w = np.empty(n)
    radius = 0.0  # Gershgorin bound on |eigenvalues| (the scale of an exhausted residual)
    trace_abs = 0.0
    for i in range(n):
        row = 0.0
        for l in range(n):
            row += abs(A[i, l])
        radius = max(radius, row)
        trace_abs += abs(A[i, i])
    if radius == 0.0:
        return 0.0, True
    threshold = tol * trace_abs
    _start_vector(Q[0], seed, 0)
    Q[0] /= np.sqrt(_dot(Q[0], Q[0]))
    next_start = 1
    previous, have_previous, total = 0.0, False, 0.0
    for j in range(steps):
        qj = Q[j]
        w[:] = 0.0
        for l in range(n):  # w = A q_j as a sum of rows (A is symmetric): vector adds, no serial chain
            c = qj[l]
            for i in range(n):
                w[i] += c * A[l, i]
        alpha[j] = _dot(w, qj)
        _orthogonalise(w, Q, j + 1)
        b = np.sqrt(_dot(w, w))
        if j + 1 == n:  # the basis spans R^n: T_n has the eigenvalues of A
            return _tridiagonal_top_sum(alpha, beta, n, k), True
        if b <= 1e-12 * radius:  # invariant subspace: restart from a fresh direction, beta_j = 0
            b = 0.0
            found = False
            while next_start < _MAX_STARTS and not found:
                _start_vector(w, seed, next_start)
                next_start += 1
                _orthogonalise(w, Q, j + 1)
                nw = np.sqrt(_dot(w, w))
                if nw > 1e-8:
                    w /= nw
                    found = True
            if not found:
                return _tridiagonal_top_sum(alpha, beta, j + 1, k), False
            Q[j + 1] = w
        else:
            for l in range(n):
                Q[j + 1, l] = w[l] / b
        beta[j] = b
        # checks from 2k + 6 steps on, every third (each is an O(j^2) QL): the top k rarely settle sooner
        if j + 1 >= 2 * k + 6 and ((j + 1 - 2 * k) % 3 == 0 or j + 1 == steps):
            total = _tridiagonal_top_sum(alpha, beta, j + 1, k)
            if total != total:  # QL did not converge
                return total, False
            if have_previous and abs(total - previous) <= threshold:
                return total, True
            previous, have_previous = total, True
    return total, False


def tridiagonal_eigenvalues_reference(diagonal, off_diagonal):
    from scipy.linalg import eigvalsh_tridiagonal

    return eigvalsh_tridiagonal(diagonal, off_diagonal)


def lanczos_top_eigenvalue_sum_reference(A, k):
    return float(np.abs(np.linalg.eigvalsh(A)[A.shape[0] - k:]).sum())
