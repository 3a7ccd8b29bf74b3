"""Argument checks and the column-space basis shared by the sampling family."""

from __future__ import annotations

import numpy as np
import scipy.linalg as la

from .._validation import check_matrix, check_p

__all__ = ["check_tall", "column_basis", "check_sampling_p"]


def check_tall(A, name="A", *, accept_sparse=False):
    """Check a finite 2-D matrix with at least as many rows as columns (n >= d)."""
    A = check_matrix(A, name, accept_sparse=accept_sparse)
    n, d = A.shape
    if n < d:
        raise ValueError(
            f"`{name}` must have at least as many rows as columns (n >= d) for row sampling; "
            f"got shape {A.shape}."
        )
    return A


def check_sampling_p(p):
    """An l_p exponent p >= 1 (finite)."""
    return check_p(p, "p", min_value=1.0)


def column_basis(A, *, name="A"):
    """Orthonormal basis (float64) of the column space of a dense, finite ``A`` (checked by the caller).

    Uses a column-pivoted QR; the numerical rank is the number of diagonal
    entries of R with ``|R_kk| > max(n, d) * eps * |R_00|`` (the rule of
    ``numpy.linalg.matrix_rank``). Every score of this family (leverage,
    Lewis weights, l_p sensitivities) depends on ``A`` only through its
    column space, so a rank-deficient ``A`` is handled by working on this
    basis: that is the pseudo-inverse rule ``tau_i = a_i^T (A^T A)^+ a_i``.

    Returns
    -------
    Q : ndarray of shape (n, r)
    R : ndarray of shape (r, d)
        ``A[:, perm] = Q @ R`` restricted to the rank.
    perm : ndarray of shape (d,)
    """
    A64 = np.asarray(A, dtype=np.float64)
    n, d = A64.shape
    Q, R, perm = la.qr(A64, mode="economic", pivoting=True, check_finite=False)  # callers validated A
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag[0] == 0.0:
        raise ValueError(f"`{name}` is the zero matrix; its scores are undefined.")
    tol = max(n, d) * np.finfo(np.float64).eps * diag[0]
    r = int(np.count_nonzero(diag > tol))
    Q = Q[:, :r]
    # Householder QR leaves O(eps) in the rows of Q that belong to zero rows of A; make them exact.
    Q[~np.any(A64 != 0.0, axis=1)] = 0.0
    return Q, R[:r], perm

