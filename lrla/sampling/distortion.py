"""Worst-case distortion ``sup_x | ||SAx||_p^p / ||Ax||_p^p - 1 |`` of a row sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.optimize import minimize

from .._rng import check_random_state
from .._validation import check_array, check_int, check_matrix, check_option
from . import _kernels
from ._common import check_sampling_p, check_tall, column_basis
from .rows import RowSample

__all__ = ["Distortion", "lp_distortion"]


@dataclass(frozen=True)
class Distortion:
    """Result of :func:`lp_distortion`.

    Attributes
    ----------
    value : float
        ``max(1 - ratio_min, ratio_max - 1)``: the sample is an ``value``-embedding.
    ratio_min, ratio_max : float
        Extremes of ``||SAx||_p^p / ||Ax||_p^p`` found.
    exact : bool
        True when the extremes are exact (p = 2; p = 1 with d <= 3). When
        False, ``value`` is a certified *lower bound* on the true distortion:
        it can prove a sample is not an eps-embedding, never that it is one.
    """

    value: float
    ratio_min: float
    ratio_max: float
    exact: bool


def _sampled_basis(A, sample, p, Q, R, perm):
    """S Q for the orthonormal basis Q of A (A[:, perm] = Q R)."""
    if isinstance(sample, RowSample):
        if sample.indices.size and sample.indices.max() >= A.shape[0]:
            raise ValueError("`sample` indexes rows beyond A; was it drawn from another matrix?")
        if sample.p != p:
            raise ValueError(f"`sample` was weighted for p={sample.p}, not p={p}.")
        return Q[sample.indices] * (sample.weights ** (1.0 / p))[:, None]
    SA = sample.toarray() if sp.issparse(sample) else sample
    SA = check_array(SA, "sample", ndim=2, allow_empty=True, dtype=np.float64)
    if SA.shape[1] != A.shape[1]:
        raise ValueError(f"`sample` must have d = {A.shape[1]} columns; got {SA.shape[1]}.")
    return la.solve_triangular(R, SA[:, perm].T, trans="T", lower=False).T


def _ratio(SQ, Q, Y, p):
    return np.sum(np.abs(SQ @ Y) ** p, axis=0) / np.sum(np.abs(Q @ Y) ** p, axis=0)


def _exact_l1(Q, SQ):
    d = Q.shape[1]
    if d == 1:
        r = float(np.abs(SQ).sum() / np.abs(Q).sum())
        return r, r
    kernel = _kernels.max_ratio_vertices_2d if d == 2 else _kernels.max_ratio_vertices_3d
    Qc = np.ascontiguousarray(Q)
    SQc = np.ascontiguousarray(SQ)
    ratio_max = float(kernel(Qc, SQc, Qc)[0])
    if SQ.shape[0] < d or np.linalg.matrix_rank(SQ) < d:
        return 0.0, ratio_max
    inv_min = float(kernel(SQc, Qc, SQc)[0])
    return 1.0 / inv_min, ratio_max


def _search(Q, SQ, p, rng, n_directions, n_refine, extra):
    d = Q.shape[1]
    cands = [rng.standard_normal((d, n_directions)), Q.T]  # random and leverage directions
    if extra is not None:
        cands.append(extra.T)
    Y = np.hstack(cands)
    Y = Y[:, np.linalg.norm(Y, axis=0) > 0]
    ratios = np.concatenate([_ratio(SQ, Q, Y[:, i:i + 2048], p) for i in range(0, Y.shape[1], 2048)])
    lo, hi = float(ratios.min()), float(ratios.max())
    if SQ.shape[0] < d:
        lo = 0.0
    if p == 1.0 or n_refine == 0:
        return lo, hi

    def neg_log(y, sign):
        a, b = SQ @ y, Q @ y
        fa, fb = np.sum(np.abs(a) ** p), np.sum(np.abs(b) ** p)
        if fa <= 0 or fb <= 0:
            return 0.0, np.zeros_like(y)
        ga = p * SQ.T @ (np.sign(a) * np.abs(a) ** (p - 1)) / fa
        gb = p * Q.T @ (np.sign(b) * np.abs(b) ** (p - 1)) / fb
        return -sign * (np.log(fa) - np.log(fb)), -sign * (ga - gb)

    order = np.argsort(ratios)
    for sign, starts in ((1.0, order[::-1][:n_refine]), (-1.0, order[:n_refine])):
        for j in starts:
            res = minimize(neg_log, Y[:, j], args=(sign,), jac=True, method="L-BFGS-B",
                           options={"maxiter": 200})
            r = float(_ratio(SQ, Q, res.x[:, None], p)[0])
            if np.isfinite(r):
                lo, hi = min(lo, r), max(hi, r)
    return lo, hi


def lp_distortion(A, sample, p, *, method="auto", n_directions=2000, n_refine=10, witnesses=None,
                  random_state=None):
    """Worst distortion ``sup_x | ||SAx||_p^p / ||Ax||_p^p - 1 |`` of a row sample S.

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d, full column rank
    sample : RowSample or array_like of shape (m, d)
        The sample (from :func:`sample_rows` / :func:`sensitivity_sample`
        on ``A``) or the sampled and reweighted matrix ``S A`` itself.
    p : float >= 1
    method : {"auto", "exact", "search"}, default "auto"
        ``"exact"`` is available for p = 2 (eigenvalues of ``(SQ)^T SQ`` for
        an orthonormal basis Q) and for p = 1 with d <= 3 (the maximum of the
        convex ``||SAx||_1`` over the polytope ``{||Ax||_1 <= 1}`` is at a
        vertex, and vertices are cross products of row pairs; Numba kernel,
        ``O(n^2 (n + m))``; the minimum likewise over the vertices of
        ``{||SAx||_1 <= 1}``). ``"search"``: random directions, leverage
        directions, the given ``witnesses``, then L-BFGS refinement of the
        most extreme ``n_refine`` (p > 1). Its ``value`` is a **lower bound**
        on the distortion. ``"auto"`` picks exact when available.
    n_directions, n_refine : int
        Size of the search.
    witnesses : array_like of shape (k, d), optional
        Extra candidate directions x, e.g. the sensitivity witnesses from
        ``lp_sensitivities(A, p, return_witnesses=True)``.
    random_state : None, int, Generator or RandomState
        Used by the search.

    Returns
    -------
    Distortion

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023 (an eps-subspace embedding is
       ``(1-eps)||Ax||_p^p <= ||SAx||_p^p <= (1+eps)||Ax||_p^p``); the exact
       p = 1 distortion is what claim ``sampling.sample-complexity`` measures.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import lp_distortion, sensitivity_sample
    >>> A = np.random.default_rng(0).standard_normal((300, 3))
    >>> sample = sensitivity_sample(A, 1.0, 150, random_state=0)
    >>> dist = lp_distortion(A, sample, 1.0)
    >>> dist.exact, bool(0 < dist.value < 1)
    (True, True)
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    method = check_option(method, "method", ("auto", "exact", "search"))
    n_directions = check_int(n_directions, "n_directions", min_value=1)
    n_refine = check_int(n_refine, "n_refine", min_value=0)
    Q, R, perm = column_basis(A)
    d = A.shape[1]
    if Q.shape[1] < d:
        raise ValueError(
            f"`A` must have full column rank for lp_distortion; its numerical rank is {Q.shape[1]} < d = {d}. "
            "Drop dependent columns first."
        )
    if not (isinstance(sample, RowSample) or hasattr(sample, "shape") or isinstance(sample, (list, tuple))):
        raise TypeError(f"`sample` must be a RowSample or an (m, d) array; got {type(sample).__name__}.")
    SQ = _sampled_basis(A, sample, p, Q, R, perm)
    exact_ok = p == 2.0 or (p == 1.0 and d <= 3)
    if method == "exact" and not exact_ok:
        raise ValueError(f"method='exact' needs p = 2, or p = 1 with d <= 3; got p={p}, d={d}.")
    if method != "search" and exact_ok:
        if SQ.shape[0] == 0:
            lo, hi = 0.0, 0.0
        elif p == 2.0:
            ev = np.linalg.eigvalsh(SQ.T @ SQ)
            lo, hi = float(ev[0]), float(ev[-1])
        else:
            lo, hi = _exact_l1(Q, SQ)
        return Distortion(max(1.0 - lo, hi - 1.0), lo, hi, True)
    if SQ.shape[0] == 0:
        return Distortion(1.0, 0.0, 0.0, False)
    rng = check_random_state(random_state)
    extra = None
    if witnesses is not None:
        W = check_matrix(witnesses, "witnesses", dtype=np.float64)
        if W.shape[1] != d:
            raise ValueError(f"`witnesses` must have d = {d} columns; got {W.shape[1]}.")
        extra = (R @ W[:, perm].T).T  # A x = Q R x[perm]
    lo, hi = _search(Q, SQ, p, rng, n_directions, n_refine, extra)
    return Distortion(max(1.0 - lo, hi - 1.0), lo, hi, False)
