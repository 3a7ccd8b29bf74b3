"""Ridge leverage scores, effective dimension, and the dictionary-based RLS estimator."""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh, eigvalsh
from scipy.linalg.lapack import dpotrf, dpotri, dsyevr

from .._validation import check_matrix, check_option, check_scalar
from . import _kernels

__all__ = ["ridge_leverage_scores", "effective_dimension"]


def _check_kernel_matrix(K, name="K"):
    K = check_matrix(K, name, dtype=np.float64)
    n, n2 = K.shape
    if n != n2:
        raise ValueError(f"`{name}` must be a square kernel matrix; got shape {K.shape}.")
    scale = max(float(np.abs(K).max()), np.finfo(np.float64).tiny)
    if not np.allclose(K, K.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(f"`{name}` must be symmetric (a kernel matrix); max |K - K.T| = "
                         f"{float(np.abs(K - K.T).max()):.3g}.")
    return K


def _cholesky_shifted(K, ridge, name="K"):
    try:
        return cho_factor(K + ridge * np.eye(K.shape[0]), lower=True, check_finite=False)
    except LinAlgError:
        raise ValueError(f"`{name}` + ridge * I is not positive definite: `{name}` must be positive "
                         f"semi-definite (a kernel matrix).") from None


def ridge_leverage_scores(K, ridge, *, method="cholesky"):
    """Ridge leverage scores ``tau_i = (K (K + ridge I)^{-1})_ii`` of a kernel matrix.

    Both methods avoid the cancelling formula ``1 - ridge [(K + ridge I)^{-1}]_ii``
    (which loses all digits of small scores): ``"cholesky"`` computes
    ``diag((K + ridge I)^{-1} K)`` from one Cholesky factorisation and
    ``"eigh"`` evaluates ``sum_j U_ij^2 lambda_j / (lambda_j + ridge)`` with the
    eigenvalues clipped at 0, a sum of non-negative terms. Scores are clipped
    to [0, 1].

    Parameters
    ----------
    K : array_like of shape (n, n)
        Symmetric positive semi-definite kernel matrix. Computed in float64
        (float32 loses the small scores of numerically singular kernels).
    ridge : float
        Regularisation ``ridge > 0`` (the "gamma" of ridge leverage scores;
        not the RBF bandwidth).
    method : {"cholesky", "eigh"}, default "cholesky"

    Returns
    -------
    scores : ndarray of shape (n,), float64
        Each in [0, 1); they sum to :func:`effective_dimension`.

    References
    ----------
    .. [1] A. Alaoui and M. W. Mahoney, "Fast randomized kernel ridge regression
       with statistical guarantees", NeurIPS 2015 (definition of lambda-RLS).
    .. [2] D. Calandriello, A. Lazaric and M. Valko, "Analysis of Nystrom method
       with sequential ridge leverage scores", UAI 2016. The monotonicity in
       t of these scores, the identities d_eff <= d_onl <= log det(I + K/ridge)
       and the slot law they make exact are claim ``nystrom.sequential-identities``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import ridge_leverage_scores, effective_dimension
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
    >>> tau = ridge_leverage_scores(K, 1.0)
    >>> bool(np.all((tau >= 0) & (tau < 1)))
    True
    >>> bool(np.isclose(tau.sum(), effective_dimension(K, 1.0)))
    True
    """
    K = _check_kernel_matrix(K)
    ridge = check_scalar(ridge, "ridge", low=0.0, low_inclusive=False)
    check_option(method, "method", ("cholesky", "eigh"))
    if method == "eigh":
        lam, U = eigh(K, check_finite=False)
        lam = np.clip(lam, 0.0, None)
        tau = (U * U) @ (lam / (lam + ridge))
    else:
        factor = _cholesky_shifted(K, ridge)
        tau = np.diagonal(cho_solve(factor, K, check_finite=False)).copy()
    return np.clip(tau, 0.0, 1.0)


def effective_dimension(K, ridge):
    """Effective dimension ``d_eff(ridge) = Tr(K (K + ridge I)^{-1}) = sum_j lambda_j / (lambda_j + ridge)``.

    Computed from the eigenvalues of ``K`` (clipped at 0), so that it is exact
    for singular kernels and costs no eigenvectors.

    Parameters
    ----------
    K : array_like of shape (n, n)
        Symmetric positive semi-definite kernel matrix (float64 computation).
    ridge : float
        ``ridge > 0``.

    Returns
    -------
    float

    References
    ----------
    .. [1] D. Calandriello, A. Lazaric and M. Valko, UAI 2016: the dictionary
       size tracks d_eff, not t (claim ``nystrom.space-effective-dimension``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import effective_dimension
    >>> effective_dimension(np.diag([3.0, 1.0, 0.0]), 1.0)
    1.25
    """
    K = _check_kernel_matrix(K)
    ridge = check_scalar(ridge, "ridge", low=0.0, low_inclusive=False)
    lam = np.clip(eigvalsh(K, check_finite=False), 0.0, None)
    return float(np.sum(lam / (lam + ridge)))


def estimate_scores(K_cc, inverse_weights, ridge, scale):
    """RLS estimates of the candidate points from a weighted dictionary (the estimator shared by INK/SQUEAK).

    ``scale * (k_ii - k_i^T (K_CC + ridge W^{-1})^{-1} k_i) / ridge`` for each
    candidate i, evaluated as ``scale * (b_i - b_i^2 [M^{-1}]_ii) / ridge``
    with ``b = ridge / w`` and ``M = K_CC + diag(b)`` (the identity
    ``A - A (A+B)^{-1} A = B - B (A+B)^{-1} B``), which needs one Cholesky
    factorisation and its inverse (LAPACK potrf/potri) and no
    ``k_i``-sized subtraction. Clipped to [0, 1].

    ``inverse_weights`` are ``1 / w_i`` (0 < w). float64 in and out.
    """
    b = ridge * inverse_weights
    M = K_cc + np.diag(b)
    c, info = dpotrf(M, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        # K_CC is numerically singular and b tiny: a relative jitter restores definiteness.
        M = K_cc + np.diag(b) + (1e-12 * max(np.trace(K_cc), 1.0)) * np.eye(K_cc.shape[0])
        c, info = dpotrf(M, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("dictionary kernel matrix is not positive semi-definite")
    inv, info = dpotri(c, lower=1, overwrite_c=1)
    est = (b - b * b * np.diagonal(inv)) * (scale / ridge)
    return np.clip(est, 0.0, 1.0)


def spectral_accuracy(K, indices, weights, ridge):
    """The accuracy epsilon of a weighted dictionary: ``||P - P~||_2``.

    ``P = (K + ridge I)^{-1/2} K (K + ridge I)^{-1/2}`` in feature space and
    ``P~`` the same with the columns in ``indices`` weighted by ``weights``
    (0 elsewhere). With ``K = U diag(l) U^T`` and ``s = sqrt(l / (l + ridge))``
    this is the spectral norm of ``diag(s) U^T (W - I) U diag(s)``.
    """
    lam, U = eigh(np.asarray(K, dtype=np.float64), check_finite=False)
    lam = np.clip(lam, 0.0, None)
    s = np.sqrt(lam / (lam + ridge))
    V = U[np.asarray(indices)] * s
    G = (V.T * np.asarray(weights, dtype=np.float64)) @ V
    G[np.diag_indices_from(G)] -= s * s
    ev = eigvalsh(G, check_finite=False)
    return float(max(abs(ev[0]), abs(ev[-1])))


_LANCZOS_SEED = 0x5EED  # fixed start vectors for the ridge rule's Lanczos: the user's RNG stream is untouched


def musco_ridge(K_ss, weights, n_landmarks):
    """Ridge chosen by the rule of Musco & Musco (2017) from a weighted sample kernel.

    ``lambda = (sum_j w_j^2 K_jj - sum of the top k eigenvalues of W K W) / k``
    with ``k = ceil(s / (4 log s))``: the tail mass of the spectrum spread
    over k directions, so that ``d_eff(lambda) <= 2k``.
    """
    s = max(int(n_landmarks), 2)
    k = max(1, math.ceil(s / (4.0 * math.log(s))))
    m = K_ss.shape[0]
    if k >= m:
        return 1e-5
    Kw = K_ss * weights[:, None]
    Kw *= weights[None, :]
    # MATLAB's eigs in the reference; Lanczos here (0.1-0.2 ms at m ~ 80 where LAPACK's dense
    # tridiagonalisation took ~0.25-0.3 ms per call, five calls per fit of the recursive sampler)
    top_sum, converged = _kernels.lanczos_top_eigenvalue_sum(Kw, k, 1e-12, min(m, 4 * k + 64), _LANCZOS_SEED)
    if not converged:
        # all eigenvalues (no eigenvectors) with LAPACK's dsyevr, on Kw.T: the same symmetric matrix,
        # Fortran-ordered, so that the wrapper does not copy it
        ev, _, _, _, info = dsyevr(Kw.T, compute_v=0, overwrite_a=1)
        if info != 0:
            raise LinAlgError(f"dsyevr failed to converge (info={info})")
        top_sum = float(np.sum(np.abs(ev[m - k:])))
    lam = (float(np.dot(np.diagonal(K_ss), weights * weights)) - top_sum) / k
    return max(lam, 1e-5)
