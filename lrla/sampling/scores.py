"""Importance scores for row sampling: leverage scores, l_p Lewis weights, l_p sensitivities."""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.optimize import linprog, minimize

from .._rng import check_random_state
from .._validation import check_bool, check_int, check_matrix, check_option, check_scalar, next_power_of_two
from .._warnings import user_stacklevel
from ..exceptions import ConvergenceWarning
from ..hadamard import srht
from . import _kernels
from ._common import check_sampling_p, check_tall, column_basis

__all__ = ["leverage_scores", "lewis_weights", "lp_sensitivities", "default_sketch_size"]


def default_sketch_size(d, epsilon, n=None):
    """Rows of the row sketch used by ``leverage_scores(method="sketch")``.

    The sketched scores are ``tau_i * ||V_i^T Sigma^{-1}||^2``-type rescalings of
    the exact ones, with relative error at most ``sigma_min(SQ)**-2 - 1``
    (and ``1 - sigma_max(SQ)**-2``), where SQ is the sketch of an orthonormal
    basis. For a Gaussian-like sketch ``sigma_min >= 1 - (sqrt(d) + t)/sqrt(m)``
    with probability ``1 - exp(-t**2/2)``; asking ``sigma_min**-2 <= 1 + epsilon``
    with ``t = 2.5`` gives ``m = ((sqrt(d) + 2.5) / (1 - (1 + epsilon)**-0.5))**2``.
    """
    gap = 1.0 - (1.0 + epsilon) ** -0.5
    m = math.ceil(((math.sqrt(d) + 2.5) / gap) ** 2)
    if n is not None:
        m = min(m, next_power_of_two(n))
    return max(m, d)


def _ridge_basis_scores(A64, ridge):
    """tau_i(ridge) = a_i^T (A^T A + ridge I)^{-1} a_i from a QR of [A; sqrt(ridge) I] (no normal equations)."""
    n, d = A64.shape
    stacked = np.vstack([A64, math.sqrt(ridge) * np.eye(d)])
    Q = la.qr(stacked, mode="economic")[0]
    return np.einsum("ij,ij->i", Q[:n], Q[:n])


def _sparse_exact_scores(A, ridge):
    """Exact scores of a sparse matrix from its d x d Gram matrix (squares the condition number)."""
    d = A.shape[1]
    G = A.T @ A
    G = (G.toarray() if sp.issparse(G) else np.asarray(G)).astype(np.float64) + ridge * np.eye(d)
    evals, V = la.eigh(G)
    top = evals.max()
    if top <= 0.0:
        raise ValueError("`A` is the zero matrix; its scores are undefined.")
    keep = evals > d * np.finfo(np.float64).eps * top * 10 if ridge == 0 else evals > 0
    M = V[:, keep] / np.sqrt(evals[keep])
    Z = np.asarray(A @ M)
    return np.einsum("ij,ij->i", Z, Z)


def _sparse_embedding(A, m, rng, per_column=8):
    """S @ A for an OSNAP sparse embedding S (m x n): each column has ``per_column`` entries +-1/sqrt(s).

    ``per_column = 1`` is CountSketch. Costs O(nnz(A) * s). With s = 1, the
    validation claim ``sampling.sketched-leverage`` found max relative errors
    up to 1.33 epsilon on a coherent sparse matrix; s = 8 (Nelson-Nguyen's
    OSNAP, Cohen 2016: s = O(log d / eps) gives m = O(d log d / eps^2))
    removes those collisions of heavy rows.
    """
    n = A.shape[0]
    s = min(per_column, m)
    rows = rng.integers(0, m, size=(n, s))
    signs = (rng.integers(0, 2, size=(n, s)).astype(np.float64) * 2.0 - 1.0) / np.sqrt(s)
    cols = np.repeat(np.arange(n), s)
    S = sp.csr_array((signs.ravel(), (rows.ravel(), cols)), shape=(m, n))  # duplicates are summed
    SA = S @ A
    return SA.toarray() if sp.issparse(SA) else np.asarray(SA)


def leverage_scores(A, *, ridge=0.0, method="exact", epsilon=0.5, sketch_size=None, jl_dim=None,
                    random_state=None):
    """Statistical leverage scores of the rows of ``A`` (optionally ridge leverage scores).

    ``tau_i = a_i^T (A^T A)^+ a_i``: the squared row norms of any orthonormal
    basis of the column space, so ``0 <= tau_i <= 1`` and ``sum(tau) = rank(A)``.
    With ``ridge = lam > 0``: ``tau_i(lam) = a_i^T (A^T A + lam I)^{-1} a_i``.

    Parameters
    ----------
    A : array_like or scipy.sparse matrix of shape (n, d)
        ``n >= d`` unless ``ridge > 0``. A rank-deficient ``A`` follows the
        pseudo-inverse rule (scores of its column space, summing to its rank).
    ridge : float, default 0.0
        Non-negative ridge ``lam``.
    method : {"exact", "sketch"}, default "exact"
        ``"exact"``: column-pivoted thin QR for dense ``A`` (a QR of
        ``[A; sqrt(lam) I]`` if ``ridge > 0``: never the normal equations);
        the d x d Gram matrix for sparse ``A``. ``"sketch"``: the
        Drineas-Magdon-Ismail-Mahoney-Woodruff scheme: R from a QR of a row
        sketch ``S A`` (SRHT for dense input, an OSNAP sparse embedding with 8
        nonzeros per column for sparse input),
        then squared row norms of ``A R^{-1}`` (times a k-column Gaussian JL
        matrix when ``jl_dim=k`` is used). Costs ``O(nd log n + m d^2 + nd min(d, k))``.
    epsilon : float in (0, 1], default 0.5
        Target relative accuracy of ``method="sketch"``: ``|tau~_i/tau_i - 1| <= epsilon``
        for all rows with high probability; sets the default ``sketch_size``
        (see :func:`default_sketch_size`) and the default ``jl_dim``. For
        sparse ``A`` whose default sketch (twice that size) would have at
        least n rows, a sketch saves nothing and the exact scores are
        returned.
    sketch_size : int, optional
        Rows of the sketch (overrides the default from ``epsilon``).
    jl_dim : int, optional
        Columns k of the JL matrix; 0 disables it. Default: ``ceil(8 log(n) / e**2)``
        with ``e = sqrt(1 + epsilon) - 1`` when that is below ``d / 2``,
        else 0 (then row norms of ``A R^{-1}`` are computed exactly, which is
        cheaper than the JL product).
    random_state : None, int, Generator or RandomState
        Used by ``method="sketch"``.

    Returns
    -------
    tau : ndarray of shape (n,)
        float32 for float32 dense input, else float64.

    References
    ----------
    .. [1] P. Drineas, M. Magdon-Ismail, M. W. Mahoney and D. P. Woodruff,
       "Fast approximation of matrix coherence and statistical leverage",
       JMLR 13 (2012), the main relative-error approximation result: the relative accuracy of the
       sketched scores is checked by claim ``sampling.sketched-leverage``.
    .. [2] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023 (``sum(tau) = d`` and ``s = tau`` at p = 2 are
       checked by claim ``sampling.sandwich``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import leverage_scores
    >>> A = np.random.default_rng(0).standard_normal((2000, 8))
    >>> tau = leverage_scores(A)
    >>> round(float(tau.sum()), 6)
    8.0
    >>> approx = leverage_scores(A, method="sketch", epsilon=0.5, random_state=0)
    >>> bool(np.max(np.abs(approx / tau - 1)) <= 0.5)
    True
    """
    sparse = sp.issparse(A)
    A = check_matrix(A, "A", accept_sparse=True)
    ridge = check_scalar(ridge, "ridge", low=0.0)
    method = check_option(method, "method", ("exact", "sketch"))
    epsilon = check_scalar(epsilon, "epsilon", low=0.0, high=1.0, low_inclusive=False)
    n, d = A.shape
    if ridge == 0.0 and n < d:
        raise ValueError(
            f"`A` must have at least as many rows as columns (n >= d) when ridge == 0; got shape {A.shape}."
        )
    out_dtype = np.float64 if sparse else A.dtype

    if method == "exact":
        if sparse:
            tau = _sparse_exact_scores(A, ridge)
        elif ridge > 0:
            tau = _ridge_basis_scores(np.asarray(A, dtype=np.float64), ridge)
        else:
            Q = column_basis(A)[0]
            tau = np.einsum("ij,ij->i", Q, Q)
        return np.minimum(tau, 1.0).astype(out_dtype, copy=False)

    rng = check_random_state(random_state)
    if jl_dim is None:
        e_half = math.sqrt(1.0 + epsilon) - 1.0
        k_auto = math.ceil(8.0 * math.log(max(n, 2)) / e_half**2)
        jl_dim = k_auto if 2 * k_auto < d else 0
        eps_embed = e_half if jl_dim else epsilon
    else:
        jl_dim = check_int(jl_dim, "jl_dim", min_value=0)
        eps_embed = math.sqrt(1.0 + epsilon) - 1.0 if jl_dim else epsilon
    if sketch_size is None:
        m = default_sketch_size(d, eps_embed, n)
        if sparse:
            m = 2 * m  # sparse embeddings need more rows than SRHT at equal distortion
            if m >= n:
                # A sketch as tall as A saves nothing, and a sparse embedding of n rows into n is no
                # isometry (unlike the dense path's SRHT of n' >= n rows, a rotation): at n = 100, d = 20
                # the scores missed epsilon = 0.5 by up to 1.2. The exact scores cost about as much.
                return np.minimum(_sparse_exact_scores(A, ridge), 1.0)
    else:
        m = check_int(sketch_size, "sketch_size", min_value=1)
    if m < d and ridge == 0:
        raise ValueError(f"`sketch_size` must be >= d = {d} to embed the column space; got {m}.")

    if sparse:
        SA = _sparse_embedding(A.astype(np.float64), m, rng)
    else:
        if m > next_power_of_two(n):
            raise ValueError(f"`sketch_size` must be <= {next_power_of_two(n)} for n = {n}; got {m}.")
        SA = np.asarray(srht(A, m, random_state=rng), dtype=np.float64)
    if ridge > 0:
        SA = np.vstack([SA, math.sqrt(ridge) * np.eye(d)])
    Rfull, perm = la.qr(SA, mode="r", pivoting=True)
    Rfull = Rfull[:d]
    diag = np.abs(np.diag(Rfull))
    if diag[0] == 0.0:
        raise ValueError("`A` is the zero matrix; its scores are undefined.")
    r = int(np.count_nonzero(diag > max(SA.shape) * np.finfo(np.float64).eps * diag[0]))
    if r == d:
        Rinv = la.solve_triangular(Rfull, np.eye(d), lower=False)
    else:  # rank-deficient: pseudo-inverse of the rank-r trapezoid
        Rinv = la.pinv(Rfull[:r])
    # Undo the column pivoting: A @ P = A[:, perm], so a_i[perm] @ Rinv.
    M = np.zeros((d, Rinv.shape[1]))
    M[perm] = Rinv
    if jl_dim:
        M = M @ (rng.standard_normal((M.shape[1], jl_dim)) / math.sqrt(jl_dim))
    if sparse:
        Z = np.asarray(A @ M)
    else:
        Z = np.asarray(A, dtype=np.float64) @ M if A.dtype != np.float64 else A @ M
    tau = np.einsum("ij,ij->i", Z, Z)
    return tau.astype(out_dtype, copy=False)


def _lewis_iterate(Q, p, tol, max_iter):
    """Lewis weights of the orthonormal basis Q (float64); returns (w, n_iter, converged)."""
    n, r = Q.shape
    norms = np.einsum("ij,ij->i", Q, Q)
    live = norms > 0.0
    Ql = Q[live]
    w = np.ones(Ql.shape[0])
    # Cohen-Peng's map w -> tau(W^{1/2-1/p} A)^{p/2} contracts in log coordinates with
    # factor |p/2 - 1| (< 1 for p < 4). For p >= 4 damp it: w -> w^{1-a} T(w)^a with a = 2/p
    # puts the linearisation's spectrum in [0, 1 - 2/p].
    damp = 1.0 if p < 4 else 2.0 / p
    expo = 1.0 - 2.0 / p
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        v = w**expo
        G = Ql.T @ (Ql * v[:, None])
        try:
            L = la.cholesky(G, lower=True)
            Z = la.solve_triangular(L, Ql.T, lower=True)
            t = np.einsum("ij,ij->j", Z, Z)
        except la.LinAlgError:
            t = np.einsum("ij,ji->i", Ql, la.pinvh(G) @ Ql.T)
        new = np.maximum(t, np.finfo(np.float64).tiny) ** (p / 2.0)
        if damp != 1.0:
            new = w ** (1.0 - damp) * new**damp
        delta = float(np.max(np.abs(np.log(new) - np.log(w))))
        w = new
        if delta <= tol:
            converged = True
            break
    out = np.zeros(n)
    out[live] = w
    return out, it, converged


def lewis_weights(A, p, *, tol=1e-10, max_iter=200):
    """l_p Lewis weights of the rows of ``A``.

    The unique ``w > 0`` with ``w_i = (a_i^T (A^T W^{1-2/p} A)^{-1} a_i)^{p/2}``;
    ``sum(w) = rank(A)``; at p = 2 they are the leverage scores. They bound
    the l_p sensitivities (``d^{p/2-1} w <= s <= w`` for p <= 2,
    ``w <= s <= d^{p/2-1} w`` for p >= 2).

    Computed on an orthonormal basis of the column space (the weights depend
    on ``A`` only through it) by Cohen and Peng's fixed-point iteration
    ``w <- tau(W^{1/2-1/p} A)^{p/2}`` from ``w = 1``, a contraction in log
    coordinates with factor ``|p/2 - 1|`` for p < 4. For p >= 4, where the
    plain map need not converge, the damped map ``w <- w^{1-2/p} T(w)^{2/p}``
    is used (its linearisation has spectrum in ``[0, 1 - 2/p]``); the tests
    check the fixed-point residual, not just the step size.

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d
        Dense; float64 is used internally.
    p : float >= 1
    tol : float, default 1e-10
        Stop when ``max_i |log w_i^new - log w_i| <= tol``.
    max_iter : int, default 200
        Iteration cap; a ``ConvergenceWarning`` is emitted when it is hit.

    Returns
    -------
    w : ndarray of shape (n,), float64
        Zero rows get weight 0.

    References
    ----------
    .. [1] M. B. Cohen and R. Peng, "l_p row sampling by Lewis weights",
       STOC 2015 (the fixed-point iteration for p < 4).
    .. [2] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023; the sandwich with the sensitivities is checked by
       claim ``sampling.sandwich``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import lewis_weights, leverage_scores
    >>> A = np.random.default_rng(0).standard_normal((500, 4))
    >>> w = lewis_weights(A, 1.0)
    >>> round(float(w.sum()), 8)
    4.0
    >>> bool(np.allclose(lewis_weights(A, 2.0), leverage_scores(A)))
    True
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min_value=1)
    Q = column_basis(A)[0]
    if p == 2.0:
        return np.einsum("ij,ij->i", Q, Q)
    w, n_iter, converged = _lewis_iterate(Q, p, tol, max_iter)
    if not converged:
        warnings.warn(
            f"lewis_weights stopped at max_iter={max_iter} before reaching tol={tol:g}; "
            "increase max_iter.", ConvergenceWarning, stacklevel=user_stacklevel(),
        )
    return w


def _l1_sensitivity_fast(Q, i):
    """s_i at p = 1 by certified vertex descent (Numba); falls back to the HiGHS dual LP if not certified."""
    n, r = Q.shape
    qi = Q[i]
    x0 = qi / (qi @ qi)
    if r == 1:
        return 1.0 / float(np.abs(Q @ x0).sum()), x0
    N = la.null_space(qi[None, :])
    base = Q @ x0
    M = np.ascontiguousarray(Q @ N)
    M[i] = 0.0  # q_i.N = 0 exactly; rounding would otherwise let row i look like a usable vertex row
    z, status, _ = _kernels.l1_vertex_descent(M, base, 50 + 5 * n, 4)
    if status == 0:
        x = x0 + N @ z
        res = np.abs(Q @ x)
        # A certified vertex has at least r - 1 residuals at zero; anything else means trouble: use the LP.
        if np.sort(res)[r - 2] <= 1e-9 * res.max():
            return 1.0 / float(res.sum()), x
    return _l1_sensitivity(Q, i)


def _l1_sensitivity(Q, i):
    """s_i at p = 1 from the dual LP max{lam : Q^T u = lam q_i, |u| <= 1}; returns (s_i, x_i in Q coords)."""
    n, r = Q.shape
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_eq = np.hstack([Q.T, -Q[i][:, None]])
    bounds = np.empty((n + 1, 2))
    bounds[:n] = (-1.0, 1.0)
    bounds[n] = (0.0, np.inf)
    res = linprog(c, A_eq=A_eq, b_eq=np.zeros(r), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on row {i}: {res.message}")
    lam = -res.fun
    # The equality multipliers are the primal minimiser of ||Qx||_1 s.t. q_i.x = 1 (up to sign).
    x = np.asarray(res.eqlin.marginals, dtype=np.float64)
    qx = Q[i] @ x
    x = x / qx if qx != 0 else x
    return 1.0 / lam, x


def _lp_sensitivity(Q, i, p):
    """s_i for p > 1: minimise ||Q(x0 + N z)||_p^p over the affine set q_i.x = 1 (BFGS)."""
    n, r = Q.shape
    qi = Q[i]
    x0 = qi / (qi @ qi)
    if r == 1:
        return 1.0 / float(np.sum(np.abs(Q @ x0) ** p)), x0
    N = la.null_space(qi[None, :])
    base = Q @ x0
    QN = Q @ N
    f0 = float(np.sum(np.abs(base) ** p))

    def fun(z):
        res = base + QN @ z
        a = np.abs(res)
        ap1 = a ** (p - 1.0)
        f = float(a @ ap1)
        g = p * (QN.T @ (np.sign(res) * ap1))
        return f / f0, g / f0

    out = minimize(fun, np.zeros(r - 1), jac=True, method="BFGS", options={"gtol": 1e-11, "maxiter": 2000})
    x = x0 + N @ out.x
    return 1.0 / float(np.sum(np.abs(Q @ x) ** p)), x


def lp_sensitivities(A, p, *, method="exact", return_witnesses=False, tol=1e-10, max_iter=200):
    """l_p sensitivities ``s_i = sup_x |a_i.x|^p / ||Ax||_p^p`` of the rows of ``A`` (or upper bounds).

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d
        Dense; computations are in float64 on an orthonormal basis of the
        column space (sensitivities are invariant under ``A -> A R``), so a
        rank-deficient ``A`` is handled with d = rank(A).
    p : float >= 1
    method : {"exact", "lewis", "bound"}, default "exact"
        ``"exact"``: one convex program per row, ``s_i = 1 / min{||Ax||_p^p : a_i.x = 1}``;
        p = 1: an exact vertex-descent (simplex) method for the l_1 problem in
        Numba that stops with an optimality certificate, falling back to the
        dual LP ``max{lam : A^T u = lam a_i, ||u||_inf <= 1}`` with HiGHS on
        degenerate rows; p > 1: BFGS on the null-space parametrisation
        ``x = a_i/||a_i||^2 + N z`` (smooth and convex; slower near p = 1).
        ``"lewis"``: the upper bounds ``w_i`` (p <= 2) or ``d^{p/2-1} w_i`` (p > 2)
        from the Lewis weights (total ``d`` resp. ``d^{p/2}``).
        ``"bound"``: the root leverage scores ``tau_i^{p/2}`` (p <= 2 only), upper bounds
        on both ``s_i`` and ``w_i``.
    return_witnesses : bool, default False
        With ``method="exact"``, also return the maximisers ``x^(i)`` (rows of
        an (n, d) array, normalised so ``a_i.x^(i) = 1``): the most adversarial
        directions for a sample that drops row i (used by :func:`lp_distortion`).
    tol, max_iter
        Passed to :func:`lewis_weights` for ``method="lewis"``.

    Returns
    -------
    s : ndarray of shape (n,), float64
    witnesses : ndarray of shape (n, d), only if ``return_witnesses``

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023, Section 4 (properties of l_p sensitivities). The
       sandwich ``d^{p/2-1} w <= s <= w <= tau^{p/2}`` (p <= 2),
       ``w <= s <= d^{p/2-1} w`` (p >= 2) and the range of the total
       sensitivity are checked by claim ``sampling.sandwich``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import lp_sensitivities, leverage_scores
    >>> A = np.random.default_rng(0).standard_normal((60, 3))
    >>> s = lp_sensitivities(A, 1.0)
    >>> bool(3**0.5 <= s.sum() <= 3)
    True
    >>> bool(np.allclose(lp_sensitivities(A, 2.0), leverage_scores(A), atol=1e-8))
    True
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    method = check_option(method, "method", ("exact", "lewis", "bound"))
    if check_bool(return_witnesses, "return_witnesses") and method != "exact":
        raise ValueError("`return_witnesses=True` needs method='exact'.")
    Q, R, perm = column_basis(A)
    n, r = Q.shape
    if method == "bound":
        if p > 2:
            raise ValueError(
                f"method='bound' (root leverage tau^(p/2)) bounds the sensitivities only for p <= 2; got p={p}. "
                "Use method='lewis'."
            )
        tau = np.einsum("ij,ij->i", Q, Q)
        return tau ** (p / 2.0)
    if method == "lewis":
        if p == 2.0:
            return np.einsum("ij,ij->i", Q, Q)
        w, _, converged = _lewis_iterate(Q, p, tol, max_iter)
        if not converged:
            warnings.warn(f"lewis_weights stopped at max_iter={max_iter}.", ConvergenceWarning,
                          stacklevel=user_stacklevel())
        return w * (r ** (p / 2.0 - 1.0) if p > 2 else 1.0)

    s = np.zeros(n)
    X = np.zeros((n, r))
    nonzero = np.einsum("ij,ij->i", Q, Q) > 0.0
    for i in np.flatnonzero(nonzero):
        if p == 1.0:
            s[i], X[i] = _l1_sensitivity_fast(Q, i)
        elif p == 2.0:
            s[i] = Q[i] @ Q[i]
            X[i] = Q[i] / s[i]
        else:
            s[i], X[i] = _lp_sensitivity(Q, i, p)
    s = np.minimum(s, 1.0)
    if not return_witnesses:
        return s
    # Map witnesses from basis coordinates (Qx) back to A's coordinates: A[:, perm] = Q R.
    W = np.zeros((n, A.shape[1]))
    W[:, perm] = (la.pinv(R) @ X.T).T
    return s, W
