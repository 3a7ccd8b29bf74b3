"""Numba kernel of the incremental estimator's update (private).

One append is a dozen small LAPACK/BLAS calls on matrices of size about
m x (r + p + d); from Python each costs more in call overhead than in
arithmetic, so the whole step is compiled. The plain-numpy reference is
``lrla.concat.incremental._update_numpy`` (tests compare the two).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EPS = float(np.finfo(np.float64).eps)


@njit(cache=True)
def update_state(Q, lam, A, k_max, tol):
    """Append A (m x d, float64) to the state (Q m x k orthonormal, lam k); keep <= k_max pairs.

    ``tol`` is the absolute threshold under which a residual direction is
    rounding noise. Returns the new (Q, lam).
    """
    k = Q.shape[1]
    Y = Q.T @ A
    R = A - Q @ Y
    Y2 = Q.T @ R  # re-orthogonalisation
    R -= Q @ Y2
    Y += Y2
    V0, B0 = np.linalg.qr(R)
    Ub, s, _ = np.linalg.svd(B0)
    n_new = 0
    for i in range(s.shape[0]):
        if s[i] > tol:
            n_new += 1
    kv = n_new
    if n_new > 0:
        V = np.ascontiguousarray(V0) @ np.ascontiguousarray(Ub[:, :n_new])
        overlap = Q.T @ V
        if np.abs(overlap).max() > 1e-13:
            V -= Q @ overlap
            V = np.ascontiguousarray(np.linalg.qr(V)[0])
        B = V.T @ R
        S = np.empty((k + kv, k + kv))
        S[:k, :k] = Y @ Y.T
        YB = Y @ B.T
        S[:k, k:] = YB
        S[k:, :k] = YB.T
        S[k:, k:] = B @ B.T
        Q_ext = np.empty((Q.shape[0], k + kv))
        Q_ext[:, :k] = Q
        Q_ext[:, k:] = V
    else:
        S = Y @ Y.T
        Q_ext = Q
    for i in range(k):
        S[i, i] += lam[i]
    w, W = np.linalg.eigh(S)
    n = w.shape[0]
    cutoff = w[n - 1] * _EPS * n
    keep = 0
    for i in range(n - 1, -1, -1):
        if w[i] > cutoff and keep < k_max:
            keep += 1
        else:
            break
    top = np.empty((n, keep))
    lam_new = np.empty(keep)
    for j in range(keep):
        top[:, j] = W[:, n - 1 - j]
        lam_new[j] = w[n - 1 - j]
    return Q_ext @ top, lam_new


@njit(cache=True)
def accept_prefix(sq_sorted, start, stop, total, energy, budget):
    """Longest prefix of ``sq_sorted[start:stop]`` that a constant certificate admits (max_norm).

    Candidate k is admitted while ``t - energy <= budget * t`` with ``t`` =
    ``total`` + the running sum of the candidates so far, accumulated left to
    right exactly as ``total + np.cumsum(...)`` does (same operations, same
    order, so the decisions match the general loop bit for bit); the first
    failure stops. Returns (number admitted, ``t`` after the last admitted, or
    ``total`` if none).
    """
    running = 0.0
    last = total
    for k in range(start, stop):
        running += sq_sorted[k]
        t = total + running
        if not (t - energy <= budget * t):
            return k - start, last
        last = t
    return stop - start, last
