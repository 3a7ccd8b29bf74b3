"""l_p regression ``min_x ||A x - b||_p``, optionally on a row sample."""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.optimize import linprog, minimize

from .._validation import check_array, check_scalar
from ._common import check_sampling_p, check_tall
from .rows import RowSample

__all__ = ["lp_regression"]


def _l1_lp(A, b, w):
    """min sum_i w_i |a_i.x - b_i| as the LP min w.t s.t. -t <= Ax - b <= t (HiGHS)."""
    n, d = A.shape
    c = np.concatenate([np.zeros(d), w])
    I = sp.eye_array(n, format="csr")
    As = sp.csr_array(A)
    A_ub = sp.vstack([sp.hstack([As, -I]), sp.hstack([-As, -I])], format="csr")
    b_ub = np.concatenate([b, -b])
    bounds = [(None, None)] * d + [(0, None)] * n
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the l1 regression LP: {res.message}")
    return res.x[:d]


def _lp_smooth(A, b, w, p, tol):
    """min sum_i w_i |a_i.x - b_i|^p for p > 1 by BFGS on x = R^{-1} y (QR-conditioned), from the l2 fit."""
    sw = np.sqrt(w)
    Q, R = la.qr(A * sw[:, None], mode="economic")
    y0 = Q.T @ (b * sw)
    Qa = A @ la.solve_triangular(R, np.eye(A.shape[1]), lower=False)  # A R^{-1}, orthonormal under weights
    f0 = float(w @ np.abs(Qa @ y0 - b) ** p) or 1.0

    def fun(y):
        r = Qa @ y - b
        a = np.abs(r)
        ap1 = a ** (p - 1.0)
        return float(w @ (a * ap1)) / f0, p * (Qa.T @ (w * np.sign(r) * ap1)) / f0

    res = minimize(fun, y0, jac=True, method="BFGS", options={"gtol": tol, "maxiter": 5000})
    return la.solve_triangular(R, res.x, lower=False)


def lp_regression(A, b, p, *, sample=None, tol=1e-10):
    """Solve ``min_x ||A x - b||_p`` (or its sampled version ``min_x ||S(A x - b)||_p``).

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d, full column rank
    b : array_like of shape (n,)
    p : float >= 1
        p = 1: exact LP (HiGHS); p = 2: least squares; otherwise BFGS on the
        smooth convex objective, started at the least-squares fit and
        conditioned by a QR of A (slower as p approaches 1).
    sample : RowSample, optional
        Rows and l_p weights of a sample of ``[A b]`` (e.g. from
        ``sensitivity_sample(np.column_stack([A, b]), p, m)``); the solve then
        uses only those rows, with their weights.
    tol : float, default 1e-10
        Gradient tolerance of the smooth solver (relative to the start).

    Returns
    -------
    x : ndarray of shape (d,), float64

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023: if S is an eps-embedding of span[A b], the sampled
       solution costs at most (1+eps)/(1-eps) times the optimum; checked by
       claim ``sampling.regression``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import lp_regression
    >>> A = np.column_stack([np.ones(5), np.arange(5.0)])
    >>> b = np.array([0.0, 1.0, 2.0, 30.0, 4.0])   # one outlier
    >>> np.round(lp_regression(A, b, 1), 6)
    array([0., 1.])
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    b = check_array(b, "b", ndim=1, dtype=np.float64)
    if b.shape[0] != A.shape[0]:
        raise ValueError(f"`b` must have one entry per row of A ({A.shape[0]}); got {b.shape[0]}.")
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    A = np.asarray(A, dtype=np.float64)
    if sample is not None:
        if not isinstance(sample, RowSample):
            raise TypeError(f"`sample` must be a RowSample; got {type(sample).__name__}.")
        if sample.p != p:
            raise ValueError(f"`sample` was weighted for p={sample.p}, not p={p}.")
        if sample.indices.size and sample.indices.max() >= A.shape[0]:
            raise ValueError("`sample` indexes rows beyond A; was it drawn from another matrix?")
        if sample.n_source_rows is not None and sample.n_source_rows != A.shape[0]:
            # its weights were computed for that many rows: on a different A they are silently wrong
            raise ValueError(f"`sample` was drawn from a matrix with {sample.n_source_rows} rows; `A` has "
                             f"{A.shape[0]}.")
        A, b, w = A[sample.indices], b[sample.indices], sample.weights
    else:
        w = np.ones(A.shape[0])
    if A.shape[0] < A.shape[1] or np.linalg.matrix_rank(A) < A.shape[1]:
        raise ValueError(
            f"the (sampled) matrix has rank {np.linalg.matrix_rank(A) if A.size else 0} < d = {A.shape[1]}: "
            "the regression is not determined; use more samples or drop dependent columns."
        )
    if p == 1.0:
        return _l1_lp(A, b, w)
    if p == 2.0:
        sw = np.sqrt(w)
        return la.lstsq(A * sw[:, None], b * sw)[0]
    return _lp_smooth(A, b, w, p, tol)
