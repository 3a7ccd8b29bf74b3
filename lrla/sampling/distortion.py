"""Worst-case distortion ``sup_x | ||SAx||_p^p / ||Ax||_p^p - 1 |`` of a row sample."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.optimize import minimize

from .._rng import check_random_state
from .._validation import check_array, check_int, check_matrix, check_option, check_scalar
from .._warnings import user_stacklevel
from ..exceptions import ConvergenceWarning
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
        True when the extremes are exact (p = 2; p = 1 with d <= 3; d = 1).
        When False, ``value`` is attained by a direction found, so it is a
        *lower bound* on the true distortion: it proves a sample is not an
        eps-embedding as soon as ``value > eps``.
    upper : float
        A certified *upper bound* on the true distortion: equal to ``value``
        when ``exact``; within ``tol`` of ``value`` for ``method="certified"``
        (d <= 2, any p); ``inf`` for the search, which cannot certify success.
        A sample is proved to be an eps-embedding when ``upper <= eps``.
    """

    value: float
    ratio_min: float
    ratio_max: float
    exact: bool
    upper: float = math.inf


def _check_row_sample(A, sample, p):
    """A row sample must index rows of ``A`` and carry the weights of this ``p``."""
    if sample.indices.size and sample.indices.max() >= A.shape[0]:
        raise ValueError("`sample` indexes rows beyond A; was it drawn from another matrix?")
    n_source = getattr(sample, "n_source_rows", None)  # None for a block's rows (_BlockRows)
    if n_source is not None and n_source != A.shape[0]:
        # its weights were computed for that many rows: on a different A they are silently wrong
        raise ValueError(f"`sample` was drawn from a matrix with {n_source} rows; `A` has "
                         f"{A.shape[0]}.")
    if sample.p != p:
        raise ValueError(f"`sample` was weighted for p={sample.p}, not p={p}.")


def _sampled_basis(A, sample, p, Q, R, perm):
    """S Q for the orthonormal basis Q of A (A[:, perm] = Q R)."""
    if isinstance(sample, (RowSample, _BlockRows)):
        _check_row_sample(A, sample, p)
        return Q[sample.indices] * (sample.weights ** (1.0 / p))[:, None]
    SA = sample.toarray() if sp.issparse(sample) else sample
    SA = check_array(SA, "sample", ndim=2, allow_empty=True, dtype=np.float64)
    if SA.shape[1] != A.shape[1]:
        raise ValueError(f"`sample` must have d = {A.shape[1]} columns; got {SA.shape[1]}.")
    return la.solve_triangular(R, SA[:, perm].T, trans="T", lower=False).T


@dataclass(frozen=True)
class _BlockRows:
    """The part of a RowSample that falls in one diagonal block (local row indices)."""

    indices: np.ndarray
    weights: np.ndarray
    p: float


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


def _certified(Q, SQ, p, tol, max_evaluations, sample=None):
    """Branch and bound on the half circle (d = 2): rigorous bounds on both extremes of the ratio.

    For a row sample the ratio is ``1 + sum_i (k_i w_i - 1)|q_i.x|^p / ||Qx||_p^p`` (k_i w_i the total
    weight of row i), so rows kept with weight 1 drop out; for a matrix ``S A`` rows of Q and SQ enter
    with coefficients -1 and +1.
    """
    if SQ.shape[0] == 0:
        return 0.0, 0.0, 0.0, 0.0
    if sample is not None:
        M = np.ascontiguousarray(Q)
        coef = np.bincount(sample.indices, weights=sample.weights, minlength=Q.shape[0]) - 1.0
        gamma = np.ones(Q.shape[0])
    else:
        M = np.ascontiguousarray(np.vstack([Q, SQ]))
        coef = np.concatenate([-np.ones(Q.shape[0]), np.ones(SQ.shape[0])])
        gamma = np.concatenate([np.ones(Q.shape[0]), np.zeros(SQ.shape[0])])
    lo, lo_bound, hi, hi_bound, _ = _kernels.certified_ratio_2d(M, coef, gamma, float(p), float(tol), 64,
                                                                int(max_evaluations))
    if max(hi_bound - hi, lo - lo_bound) > tol * (1 + 1e-9):
        warnings.warn(f"lp_distortion: the certified bounds are {max(hi_bound - hi, lo - lo_bound):.3g} apart after "
                      f"{max_evaluations} evaluations (tol={tol:g}); raise max_evaluations.", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    return float(lo), float(lo_bound), float(hi), float(hi_bound)


def _block_layout(A, blocks):
    """Row and column index sets of the diagonal blocks of ``A`` (column block sizes ``blocks``)."""
    d = A.shape[1]
    sizes = [check_int(b, "blocks", min_value=1) for b in np.atleast_1d(np.asarray(blocks, dtype=object))]
    if sum(sizes) != d:
        raise ValueError(f"`blocks` must be column block sizes summing to d = {d}; got {sizes} (sum {sum(sizes)}).")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    row_block = _row_blocks(A, starts, "A")
    layout = []
    for b, (s, w) in enumerate(zip(starts, sizes)):
        rows = np.flatnonzero(row_block == b)
        if rows.size < w:
            raise ValueError(f"`A` has {rows.size} nonzero rows in block {b} (columns {s}..{s + w - 1}); "
                             f"each block needs at least as many rows as columns.")
        layout.append((rows, slice(int(s), int(s + w))))
    return layout, starts


def _row_blocks(M, starts, name):
    """Block of each row (-1 for zero rows); ValueError if a row has nonzeros in two column blocks."""
    nz = np.asarray(M != 0, dtype=np.int64)
    per_block = np.add.reduceat(nz, starts, axis=1) if M.shape[0] else np.zeros((0, starts.size), np.int64)
    count = np.count_nonzero(per_block, axis=1)
    if np.any(count > 1):
        row = int(np.flatnonzero(count > 1)[0])
        raise ValueError(f"`{name}` is not block diagonal with the given `blocks`: row {row} has nonzeros in "
                         f"{int(count[row])} column blocks.")
    return np.where(count == 1, np.argmax(per_block, axis=1), -1)


def _split_sample(A, sample, p, layout, starts):
    """The part of ``sample`` in each block: a _BlockRows with local indices, or the rows of S A."""
    if isinstance(sample, RowSample):
        _check_row_sample(A, sample, p)
        local = np.full(A.shape[0], -1, dtype=np.int64)
        owner = np.full(A.shape[0], -1, dtype=np.int64)
        for b, (rows, _) in enumerate(layout):
            local[rows] = np.arange(rows.size)
            owner[rows] = b
        own = owner[sample.indices]
        return [_BlockRows(local[sample.indices[own == b]], sample.weights[own == b], p) for b in range(len(layout))]
    SA = sample.toarray() if sp.issparse(sample) else sample
    SA = check_array(SA, "sample", ndim=2, allow_empty=True, dtype=np.float64)
    if SA.shape[1] != A.shape[1]:
        raise ValueError(f"`sample` must have d = {A.shape[1]} columns; got {SA.shape[1]}.")
    row_block = _row_blocks(SA, starts, "sample")
    return [SA[row_block == b][:, cols] for b, (_, cols) in enumerate(layout)]


def _check_sample_type(sample):
    if not (isinstance(sample, RowSample) or hasattr(sample, "shape") or isinstance(sample, (list, tuple))):
        raise TypeError(f"`sample` must be a RowSample or an (m, d) array; got {type(sample).__name__}.")


def _single(A, sample, p, method, tol, max_evaluations, n_directions, n_refine, W, rng):
    """Distortion of one (full column rank) matrix: returns (ratio_min, ratio_max, exact, value upper bound)."""
    Q, R, perm = column_basis(A)
    d = A.shape[1]
    if Q.shape[1] < d:
        raise ValueError(
            f"`A` must have full column rank for lp_distortion; its numerical rank is {Q.shape[1]} < d = {d}. "
            "Drop dependent columns first."
        )
    SQ = _sampled_basis(A, sample, p, Q, R, perm)
    exact_ok = p == 2.0 or (p == 1.0 and d <= 3) or d == 1
    if method == "exact" and not exact_ok:
        raise ValueError(f"method='exact' needs p = 2, p = 1 with d <= 3, or d = 1; got p={p}, d={d}. "
                         "method='certified' covers d <= 2 at any p.")
    if method == "certified" and d > 2:
        raise ValueError(f"method='certified' needs d <= 2 (per block with `blocks`); got d={d}.")
    if SQ.shape[0] == 0:
        return 0.0, 0.0, True, 1.0  # no rows: the ratio is 0 in every direction
    if exact_ok and method != "search":
        if d == 1:
            lo = hi = float(np.sum(np.abs(SQ) ** p) / np.sum(np.abs(Q) ** p))
        elif p == 2.0:
            ev = np.linalg.eigvalsh(SQ.T @ SQ)
            lo, hi = float(ev[0]), float(ev[-1])
        else:
            lo, hi = _exact_l1(Q, SQ)
        return lo, hi, True, max(1.0 - lo, hi - 1.0)
    if method in ("auto", "certified") and d == 2:
        rows = sample if isinstance(sample, (RowSample, _BlockRows)) else None
        lo, lo_bound, hi, hi_bound = _certified(Q, SQ, p, tol, max_evaluations, rows)
        return lo, hi, False, max(1.0 - lo_bound, hi_bound - 1.0)
    extra = None if W is None else (R @ W[:, perm].T).T  # A x = Q R x[perm]
    lo, hi = _search(Q, SQ, p, rng, n_directions, n_refine, extra)
    return lo, hi, False, math.inf


def lp_distortion(A, sample, p, *, method="auto", tol=1e-3, blocks=None, max_evaluations=200_000,
                  n_directions=2000, n_refine=10, witnesses=None, random_state=None):
    """Worst distortion ``sup_x | ||SAx||_p^p / ||Ax||_p^p - 1 |`` of a row sample S.

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d, full column rank
    sample : RowSample or array_like of shape (m, d)
        The sample (from :func:`sample_rows` / :func:`sensitivity_sample`
        on ``A``) or the sampled and reweighted matrix ``S A`` itself.
    p : float >= 1
    method : {"auto", "exact", "certified", "search"}, default "auto"
        ``"exact"`` is available for p = 2 (eigenvalues of ``(SQ)^T SQ`` for
        an orthonormal basis Q), for p = 1 with d <= 3 (the maximum of the
        convex ``||SAx||_1`` over the polytope ``{||Ax||_1 <= 1}`` is at a
        vertex, and vertices are cross products of row pairs; Numba kernel,
        ``O(n^2 (n + m))``; the minimum likewise over the vertices of
        ``{||SAx||_1 <= 1}``) and for d = 1.
        ``"certified"`` (d <= 2, any p >= 1): branch and bound on the half
        circle ``x = (cos t, sin t)``. Each term ``|a_i.x|^p`` is monotone
        between its zeros and peaks, so its exact range over an interval
        follows from its endpoint values and two sign tests; the sums bound
        ``||SAx||_p^p`` and ``||Ax||_p^p`` rigorously, and intervals are
        bisected until the certified extremes of the ratio are within ``tol``
        of values attained at evaluated directions. ``value`` is then
        attained and ``upper`` (``<= value + tol``) is certified.
        ``"search"``: random directions, leverage directions, the given
        ``witnesses``, then L-BFGS refinement of the most extreme
        ``n_refine`` (p > 1); its ``value`` is only a **lower bound** on the
        distortion (``upper = inf``). ``"auto"`` picks exact, else certified,
        else search.
    tol : float, default 1e-3
        Absolute gap on the ratio between the attained and the certified
        extremes (``"certified"``); at least 1e-9 (rounding is covered by a
        1e-12 relative slack, not by interval arithmetic).
    blocks : sequence of int, optional
        Column block sizes of a block-diagonal ``A`` (every row has its
        nonzeros in one column block). Rows of a block-diagonal matrix are
        sampled and reweighted within their blocks, and for
        ``x = (x_1, ..., x_B)`` the ratio ``sum_b ||S_b A_b x_b||_p^p /
        sum_b ||A_b x_b||_p^p`` is a mediant of the block ratios, so the
        distortion is exactly the maximum over blocks; each block is measured
        on its own (e.g. certified for blocks of width 2 at any p).
    max_evaluations : int, default 200000
        Cap on the directions the certified method evaluates per block
        (``ConvergenceWarning`` when the gap is still above ``tol``; the
        bounds returned remain valid).
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
        ``value`` (attained), ``ratio_min``, ``ratio_max``, ``exact`` and the
        certified ``upper`` bound on the distortion.

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023 (an eps-subspace embedding is
       ``(1-eps)||Ax||_p^p <= ||SAx||_p^p <= (1+eps)||Ax||_p^p``); the exact
       p = 1 distortion is what claim ``sampling.sample-complexity``
       measures, the certified p > 2 distortion of width-2 blocks what claims
       ``sampling.sample-complexity-p3`` and ``sampling.sample-complexity-p4``
       measure (the p > 2 bound ``O~(eps^-2 S^{2-2/p})``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import lp_distortion, sensitivity_sample
    >>> A = np.random.default_rng(0).standard_normal((300, 3))
    >>> sample = sensitivity_sample(A, 1.0, 150, random_state=0)
    >>> dist = lp_distortion(A, sample, 1.0)
    >>> dist.exact, bool(0 < dist.value < 1)
    (True, True)
    >>> B = np.random.default_rng(1).standard_normal((200, 2))
    >>> cert = lp_distortion(B, sensitivity_sample(B, 3.0, 80, random_state=0), 3.0)
    >>> bool(cert.value <= cert.upper <= cert.value + 1e-3)
    True
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    method = check_option(method, "method", ("auto", "exact", "certified", "search"))
    tol = check_scalar(tol, "tol", low=1e-9)
    max_evaluations = check_int(max_evaluations, "max_evaluations", min_value=65)
    n_directions = check_int(n_directions, "n_directions", min_value=1)
    n_refine = check_int(n_refine, "n_refine", min_value=0)
    _check_sample_type(sample)
    d = A.shape[1]
    W = None
    if witnesses is not None:
        W = check_matrix(witnesses, "witnesses", dtype=np.float64)
        if W.shape[1] != d:
            raise ValueError(f"`witnesses` must have d = {d} columns; got {W.shape[1]}.")
    rng = check_random_state(random_state) if method in ("auto", "search") else None
    if blocks is None:
        parts = [(A, sample, W)]
    else:
        layout, starts = _block_layout(A, blocks)
        samples = _split_sample(A, sample, p, layout, starts)
        parts = [(A[rows][:, cols], s, None if W is None else W[:, cols]) for (rows, cols), s in zip(layout, samples)]
    lo, hi, exact, upper = math.inf, -math.inf, True, 0.0
    for A_b, sample_b, W_b in parts:
        lo_b, hi_b, exact_b, upper_b = _single(A_b, sample_b, p, method, tol, max_evaluations, n_directions,
                                              n_refine, W_b, rng)
        lo, hi, exact, upper = min(lo, lo_b), max(hi, hi_b), exact and exact_b, max(upper, upper_b)
    value = max(1.0 - lo, hi - 1.0)
    return Distortion(value, lo, hi, exact, value if exact else max(upper, value))
