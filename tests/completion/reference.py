"""Plain-numpy references for the completion kernels."""

import numpy as np


def groups(indptr, idx, vals):
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        yield j, idx[sl], vals[sl]


def solve_lstsq(indptr, idx, vals, F):
    """Exact per-group least squares (minimum-norm for under-determined groups)."""
    out = np.zeros((len(indptr) - 1, F.shape[1]))
    for j, rows, b in groups(indptr, idx, vals):
        if rows.size:
            out[j] = np.linalg.lstsq(F[rows], b, rcond=None)[0]
    return out


def cg_fixed_steps(indptr, idx, vals, F, X0, n_steps):
    """Textbook CG on the normal equations, exactly ``n_steps`` steps from X0 (no early stop)."""
    out = np.array(X0, dtype=float, copy=True)
    for j, rows, b in groups(indptr, idx, vals):
        A = F[rows]
        x = out[j]
        r = A.T @ (b - A @ x)
        p = r.copy()
        rr = r @ r
        for _ in range(n_steps):
            if rr == 0.0:
                break
            q = A.T @ (A @ p)
            alpha = rr / (p @ q)
            x = x + alpha * p
            r = r - alpha * q
            rr_new = r @ r
            p = r + (rr_new / rr) * p
            rr = rr_new
        out[j] = x
    return out


def residual_on_omega(indptr, idx, vals, A, B):
    out = np.empty(vals.shape[0])
    for j, cols, b in groups(indptr, idx, vals):
        out[indptr[j]:indptr[j + 1]] = b - B[cols] @ A[j]
    return out


def sparse_times_dense(indptr, idx, vals, X):
    """Row j of the result: sum of vals[l] * X[idx[l]] over group j's entries."""
    out = np.zeros((len(indptr) - 1, X.shape[1]))
    for j, rows, b in groups(indptr, idx, vals):
        out[j] = b @ X[rows]
    return out
