"""Alternating minimization for low-rank matrix completion, exact and robust (inexact) half-steps."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import warnings

import numba
import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._rng import check_random_state, kernel_seed
from .._validation import check_array, check_bool, check_int, check_option, check_rank, check_scalar
from .._warnings import user_stacklevel
from ..exceptions import ConvergenceWarning
from . import _kernels
from ._observed import _check_indices, entries_from_arrays, entries_from_matrix

__all__ = ["AltMinCompletion", "complete_matrix"]

#: Adaptive inner accuracy: each regression is solved to a relative normal-equation
#: residual of min(ADAPTIVE_FACTOR, CONTRACTION_FACTOR * rho) times the current relative
#: residual on Omega r_t, rho = r_t / r_{t-1} being the last observed contraction per
#: iteration. The inexact-AltMin argument (Gu et al.; forward-error lemma) bounds the next
#: distance by rho * dist_t + C * eps_t for an inner error eps_t, so eps_t must stay small
#: against the *next* exact error rho * dist_t, not only against dist_t: a fixed fraction
#: 0.05 of r_t lets the inner error dominate when the outer iteration contracts by more
#: than ~10x per iteration (well-sampled instances), and leaves the rule unchanged when it
#: contracts more slowly. Checked by claim completion.inexact-robustness; the trade-off is
#: measured in docs/completion.md.
ADAPTIVE_FACTOR = 0.05
CONTRACTION_FACTOR = 0.5
#: Floor of the adaptive inner tolerance (a few ulps of float64).
_RTOL_FLOOR = 1e-15
#: Below this many entry-flops (|Omega| k) per half-step a parallel region costs more than it saves
#: (thread wake-up), so the kernels run on one thread. Measured on an idle 2-core machine (load 0.3-0.5),
#: whole fits to 1e-7 with 2 threads vs 1: 1.15x faster at |Omega| k = 6e4, 1.37x at 1.8e5-3.2e5, 1.28x at
#: 1e6. On an oversubscribed machine (load ~5) the 2-thread fit was slower, as any parallel code is there;
#: the default is set for an idle machine (it was 2e6, chosen under load).
PARALLEL_MIN_WORK = 50_000


@contextlib.contextmanager
def _kernel_threads(work):
    """Run the Numba kernels on one thread when a half-step is too small to pay for a parallel region."""
    before = numba.get_num_threads()
    if work < PARALLEL_MIN_WORK and before > 1:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _thin_qr(F):
    """Thin QR of a tall m x k block: scipy's economic mode, several times faster than np.linalg.qr here.

    LAPACK returns Q in Fortran order; the kernels read Q row by row (one
    observed entry's factor row), so Q is returned C-contiguous: a copy of
    m k doubles, against row reads that would otherwise touch k cache lines each.
    """
    Q, R = scipy.linalg.qr(F, mode="economic", check_finite=False)
    return np.ascontiguousarray(Q), R


def incoherence(F, *, orthonormal=False):
    """Empirical incoherence mu(F) = sqrt(m / k) * max_i ||row_i(Q)|| of the column span of ``F`` (m x k).

    Lies in [1, sqrt(m / k)]; 1 means perfectly spread rows, sqrt(m / k) a
    coordinate vector in the span. ``orthonormal=True`` skips the QR when
    ``F`` already has orthonormal columns.
    """
    Q = F if orthonormal else np.linalg.qr(F)[0]
    m, k = Q.shape
    return float(math.sqrt(m / k) * np.sqrt(np.max(np.einsum("ij,ij->i", Q, Q))))


def relative_error(U, V, true_matrix):
    """||U V^T - M||_F / ||M||_F without forming U V^T when ``M`` is given by factors.

    ``true_matrix`` is a dense array or a tuple ``(U_star, s, V_star)`` with
    M = U_star diag(s) V_star^T. Both matrices are projected on the joint
    column and row spans (m x 2k and n x 2k orthonormal bases), which gives
    the Frobenius norm of the difference exactly and to full relative
    accuracy (a trace expansion would lose all digits below ~1e-8).
    """
    if isinstance(true_matrix, tuple):
        Us, s, Vs = true_matrix
        Qu, _ = np.linalg.qr(np.hstack([U, Us]))
        Qv, _ = np.linalg.qr(np.hstack([V, Vs]))
        diff = (Qu.T @ U) @ (Qv.T @ V).T - ((Qu.T @ Us) * s) @ (Qv.T @ Vs).T
        return float(np.linalg.norm(diff) / np.linalg.norm(s))
    return float(np.linalg.norm(U @ V.T - true_matrix) / np.linalg.norm(true_matrix))


def _check_true_matrix(true_matrix, shape):
    if true_matrix is None:
        return None
    if isinstance(true_matrix, tuple):
        if len(true_matrix) != 3:
            raise ValueError("`true_matrix` as a tuple must be (U, s, V) with M = U diag(s) V^T.")
        Us, s, Vs = (check_array(a, f"true_matrix[{i}]", dtype=np.float64) for i, a in enumerate(true_matrix))
        if Us.ndim != 2 or Vs.ndim != 2 or s.ndim != 1 or Us.shape[0] != shape[0] or Vs.shape[0] != shape[1] \
                or not (Us.shape[1] == Vs.shape[1] == s.shape[0]):
            raise ValueError(f"`true_matrix` factors do not match the shape {shape}.")
        return Us, s, Vs
    M = check_array(true_matrix, "true_matrix", dtype=np.float64)
    if M.shape != tuple(shape):
        raise ValueError(f"`true_matrix` must have shape {shape}; got {M.shape}.")
    return M


# Observed values whose largest magnitude lies outside [2^-200, 2^200] are scaled towards 1 first.
_SAFE_EXPONENT = 200


def _balancing_exponent(values):
    """``h`` such that ``values * 4**-h`` has its largest magnitude near 1, or 0 if it is in the safe range.

    The iteration is scale-equivariant, but its squared quantities are not in
    float64: observed values of about 1e120 made the robust solver's SVD fail,
    and values of about 1e+-200 gave a wrong completion without an error. A
    power of 4 scales the values exactly and the factors back by ``2**h``.
    """
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if peak == 0.0:
        return 0
    exponent = math.frexp(peak)[1]
    if -_SAFE_EXPONENT <= exponent <= _SAFE_EXPONENT:
        return 0
    return exponent // 2


def _scaled_entries(entries, exponent):
    """``entries`` with every value times ``2**exponent`` (exact)."""
    return dataclasses.replace(
        entries,
        values=np.ldexp(entries.values, exponent),
        row_vals=np.ldexp(entries.row_vals, exponent),
        col_vals=np.ldexp(entries.col_vals, exponent),
    )


def _randomized_svd_observed(entries, rank, rng, *, n_oversamples, n_power_iter):
    """Rank-``rank`` randomized SVD (Halko, Martinsson, Tropp 2011) of P_Omega(M), matrix-free.

    Range finder with ``rank + n_oversamples`` Gaussian columns and
    ``n_power_iter`` QR-normalised power iterations; every product with
    P_Omega(M) or its transpose is one parallel pass over the row-wise or
    column-wise index arrays (:func:`_kernels.sparse_times_dense`).
    """
    m, n = entries.shape
    width = min(rank + n_oversamples, m, n)
    by_rows = (entries.row_indptr, entries.row_idx, entries.row_vals)
    by_cols = (entries.col_indptr, entries.col_idx, entries.col_vals)
    Y = np.empty((m, width))
    Z = np.empty((n, width))
    _kernels.sparse_times_dense(*by_rows, rng.standard_normal((n, width)), Y)
    for _ in range(n_power_iter):
        _kernels.sparse_times_dense(*by_cols, _thin_qr(Y)[0], Z)
        _kernels.sparse_times_dense(*by_rows, _thin_qr(Z)[0], Y)
    Q = _thin_qr(Y)[0]
    _kernels.sparse_times_dense(*by_cols, Q, Z)  # Z = P_Omega(M)^T Q = B^T
    W, sigma, Ct = np.linalg.svd(Z, full_matrices=False)  # B = Q^T P_Omega(M) = C sigma W^T
    return (Q @ Ct.T)[:, :rank], sigma[:rank], W[:, :rank]


#: Power iterations of the spectral initialisation's randomized SVD. The range finder's extra subspace error
#: decays like (sigma_{k+1} / sigma_k)^(2q+1) (Halko et al. 2011, Cor. 10.10); with sigma_{k+1} <= ||E||,
#: E = P_Omega(M) / p - M, two iterations make it O((||E|| / sigma_k)^5), far below the distance ||E|| / sigma_k
#: that the initialisation has anyway (scikit-learn's default of 7 targets slowly decaying spectra).
SPECTRAL_POWER_ITER = 2


def spectral_init(entries, rank, rng, *, clip_incoherence=None):
    """Top-``rank`` left singular subspace of P_Omega(M) / p_hat (randomized SVD), optionally clipped.

    Returns ``(U0, V_warm)``: U0 orthonormal (m x k), V_warm = V0 S0 the
    matching right factor, used as the warm start of the first V half-step.
    Clipping (JNS13): entries of the singular vectors larger than
    2 mu sqrt(k / m) in magnitude are zeroed before re-orthonormalising.
    """
    m, n = entries.shape
    p_hat = entries.n_observed / (m * n)
    U0, s0, V0 = _randomized_svd_observed(entries, rank, rng, n_oversamples=max(10, rank),
                                          n_power_iter=SPECTRAL_POWER_ITER)
    s0 = s0 / p_hat
    if clip_incoherence is not None:
        clipped = np.where(np.abs(U0) > 2.0 * clip_incoherence * math.sqrt(rank / m), 0.0, U0)
        Q = _thin_qr(clipped)[0]
        # The same estimate U0 S0 V0^T expressed in the clipped basis: V_warm = V0 S0 (Q^T U0)^T.
        V_warm = (V0 * s0) @ (Q.T @ U0).T
        U0 = Q
    else:
        V_warm = V0 * s0
    return np.ascontiguousarray(U0), np.ascontiguousarray(V_warm)


def adaptive_inner_tol(residual, contraction):
    """Relative inner tolerance of the adaptive rule at relative residual ``residual`` on Omega.

    ``contraction`` is the last observed ratio of successive residuals (1 when
    unknown, i.e. in the first iteration).
    """
    return max(min(ADAPTIVE_FACTOR, CONTRACTION_FACTOR * contraction) * residual, _RTOL_FLOOR)


def _observed_residual_norm(entries, U, V):
    """||P_Omega(M - U V^T)||_F, one O(|Omega| k) pass over the column-wise arrays (nothing stored per entry)."""
    by_col = np.empty(entries.shape[1])
    _kernels.residual_sq_by_group(entries.col_indptr, entries.col_idx, entries.col_vals, V, U, by_col)
    return math.sqrt(float(by_col.sum()))


def half_step(indptr, idx, vals, F, warm, *, solver, inner, max_steps, rtol, rng, res_sq=None):
    """Solve every group's least squares min ||F[idx_J] x - vals_J|| (one AltMin half-step).

    Returns ``(X, steps)``: the new factor (one row per group) and the inner
    steps per group (``None`` for the exact solver). ``res_sq``, an array
    with one slot per group, receives each group's squared residual at the
    new factor (fused into the exact and CG kernels; not supported with
    ``inner="sketch"``).
    """
    n_groups = indptr.shape[0] - 1
    # A few chunks per thread balance groups of uneven size at no per-group scheduling cost.
    n_chunks = max(1, min(n_groups, 8 * numba.get_num_threads()))
    no_residual = np.empty(0)
    if solver == "exact":
        X = np.empty((n_groups, F.shape[1]))
        _kernels.solve_exact(indptr, idx, vals, F, X, no_residual if res_sq is None else res_sq, n_chunks)
        return X, None
    X = np.array(warm, dtype=np.float64, order="C", copy=True)
    steps = np.zeros(n_groups, dtype=np.int64)
    if inner == "cg":
        _kernels.solve_cg(indptr, idx, vals, F, X, max_steps, rtol, steps, no_residual if res_sq is None else res_sq,
                          n_chunks)
    else:
        if res_sq is not None:
            raise ValueError("the sketch-preconditioned solver does not compute residuals.")
        _kernels.solve_sketch(indptr, idx, vals, F, X, sketch_rows(F.shape[1]), max_steps, rtol,
                              kernel_seed(rng), steps, n_chunks)
    return X, steps


def sketch_rows(rank):
    """CountSketch size s = O(k log k) of the sketch-preconditioned inner solver."""
    return int(math.ceil(2 * rank * math.log2(rank + 1))) + 4


class AltMinCompletion(BaseEstimator):
    """Low-rank matrix completion by alternating minimization with robust (inexact) updates.

    Finds U (m x k), V (n x k) minimising ||P_Omega(U V^T - M)||_F over the
    observed entries Omega. Spectral initialisation (randomized SVD of the
    rescaled observations), then alternating half-steps: for fixed U, each
    column's k-variable least-squares problem is solved (and vice versa), and
    the new factor is re-orthonormalised by QR, the triangular factor being
    carried into the other side. ``solver="exact"`` forms each k x k Gram
    matrix (cost O(|Omega| k^2) per half-step); ``solver="robust"`` solves each
    regression approximately, matrix-free, in O(|Omega| k) per inner step, to
    an accuracy that tracks the current residual -- the robust alternating
    minimization of Gu, Song, Yin and Zhang, which keeps the geometric rate
    and the sample complexity of exact AltMin.

    Computations run in float64; ``U_`` and ``V_`` are returned in the input
    dtype (float32 input gives float32 factors).

    Parameters
    ----------
    rank : int
        Target rank k, ``1 <= k < min(m, n)``.
    solver : {"robust", "exact"}, default "robust"
    n_iter : int, default 100
        Maximum number of outer iterations (one V and one U half-step each).
    tol : float, default 1e-10
        Stop when the relative residual on Omega,
        ||P_Omega(M - U V^T)|| / ||P_Omega(M)||, falls below ``tol`` or
        decreases by less than ``tol`` times its value in one iteration.
    inner : {"cg", "sketch"}, default "cg"
        Robust solver only: warm-started matrix-free conjugate gradients on the
        normal equations, or CG preconditioned by a CountSketch of each
        regression (the paper's sketch-to-precondition solver).
    inner_steps : int, optional
        Cap on inner steps per regression; default ``k + 5``. With
        ``inner_tol=0`` every regression takes exactly this many steps.
    inner_tol : float, optional
        Fixed relative tolerance ||F^T(b - F x)|| <= inner_tol ||F^T b|| of
        each regression. Default (None): adaptive, ``min(0.05, 0.5 rho)``
        times the current relative residual on Omega, rho being the last
        observed contraction of that residual per iteration (the residual of
        the spectral initialisation and rho = 1 in the first iteration), so
        the inner error stays small against the next outer error. A fixed
        tolerance makes the error stall at a level proportional to it (claim
        ``completion.inexact-robustness``).
    clip_incoherence : float, optional
        Theory-faithful option: the incoherence mu of the target; entries of the
        initial singular vectors above 2 mu sqrt(k/m) are zeroed (JNS13 clipping).
    sample_split : bool, default False
        Theory-faithful option: split Omega at random into 2 n_iter + 1 parts and
        use a fresh part for the initialisation and for every half-step, as the
        proof requires. Needs far more samples than the default (full reuse); a
        UserWarning says when a part leaves a row or column with fewer than
        ``rank`` entries (e.g. the default n_iter = 100 makes 201 parts).
    random_state : None, int, Generator or RandomState
        Seeds the randomized SVD, the sample split and the sketches.
    verbose : bool, default False
        Print one line per iteration.

    Attributes
    ----------
    U_ : ndarray of shape (m, k)
    V_ : ndarray of shape (n, k)
        Balanced factors: ``U_ @ V_.T`` is the completed matrix and both carry
        the square roots of the singular values.
    singular_values_ : ndarray of shape (k,)
    n_iter_ : int
        Outer iterations run.
    history_ : dict of lists
        Per iteration: ``"residual"`` (relative residual on Omega),
        ``"inner_steps"`` (mean inner steps per regression of the two
        half-steps; 0 for the exact solver), ``"incoherence"`` (max of mu(U_t)
        and mu(V_t)), and ``"error"`` (relative Frobenius error) when
        ``fit`` is given ``true_matrix``.
    row_counts_, col_counts_ : ndarray of int
        Observed entries per row and per column.
    incoherence_ : float
        mu of the final factors' column spans (max over both sides).

    Warns
    -----
    UserWarning
        When some row or column has fewer than ``rank`` observations (its
        regression is under-determined; its factor row gets the
        minimum-effect solution).
    ConvergenceWarning
        When ``n_iter`` iterations end without meeting ``tol``.

    References
    ----------
    .. [1] Y. Gu, Z. Song, J. Yin and L. Zhang, "Low rank matrix completion via
       robust alternating minimization in nearly linear time", ICLR 2024
       (arXiv:2302.11068), Theorem 4.2: approximate half-steps costing
       O~(|Omega| k) keep the geometric convergence of exact AltMin. Checked
       by claims ``completion.geometric-convergence``,
       ``completion.inexact-robustness``, ``completion.incoherence-preserved``,
       ``completion.linear-cost-in-rank``, ``completion.sample-complexity``
       and ``completion.spectral-init``.
    .. [2] P. Jain, P. Netrapalli and S. Sanghavi, "Low-rank matrix completion
       using alternating minimization", STOC 2013 (exact AltMin, clipping,
       sample splitting).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import AltMinCompletion
    >>> from lrla.datasets import make_low_rank
    >>> U, s, V = make_low_rank(200, 150, 3, random_state=0)
    >>> M = (U * s) @ V.T
    >>> X = np.where(np.random.default_rng(1).random(M.shape) < 0.3, M, np.nan)
    >>> model = AltMinCompletion(3, random_state=0).fit(X)
    >>> err = np.linalg.norm(model.reconstruct() - M) / np.linalg.norm(M)
    >>> bool(err < 1e-8)
    True
    """

    def __init__(self, rank, *, solver="robust", n_iter=100, tol=1e-10, inner="cg", inner_steps=None,
                 inner_tol=None, clip_incoherence=None, sample_split=False, random_state=None, verbose=False):
        self.rank = rank
        self.solver = solver
        self.n_iter = n_iter
        self.tol = tol
        self.inner = inner
        self.inner_steps = inner_steps
        self.inner_tol = inner_tol
        self.clip_incoherence = clip_incoherence
        self.sample_split = sample_split
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None, *, true_matrix=None):
        """Complete ``X``.

        Parameters
        ----------
        X : array_like of shape (m, n) with NaN for missing entries, or scipy.sparse
            For sparse input every stored entry (explicit zeros included) is observed.
        y : ignored
        true_matrix : array_like or tuple (U, s, V), optional
            The ground truth, to record ``history_["error"]`` (validation use).

        Returns
        -------
        self : AltMinCompletion
        """
        entries, dtype = entries_from_matrix(X)
        return self._fit_entries(entries, dtype, true_matrix)

    def _fit_entries(self, entries, dtype, true_matrix=None):
        # The dense work is QR and products of thin m x k, n x k blocks (and of the k + p sketch of the
        # spectral init): one BLAS thread is fastest for such shapes, and avoids oversubscribing the
        # cores the Numba kernels run on.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(entries, dtype, true_matrix)

    def _fit(self, entries, dtype, true_matrix):
        m, n = entries.shape
        k = check_rank(self.rank, min(m, n), "rank", strict=True)
        check_option(self.solver, "solver", ("robust", "exact"))
        check_option(self.inner, "inner", ("cg", "sketch"))
        n_iter = check_int(self.n_iter, "n_iter", min_value=1)
        tol = check_scalar(self.tol, "tol", low=0.0)
        max_steps = k + 5 if self.inner_steps is None else check_int(self.inner_steps, "inner_steps", min_value=1)
        inner_tol = None if self.inner_tol is None else check_scalar(self.inner_tol, "inner_tol", low=0.0)
        clip = None if self.clip_incoherence is None else check_scalar(
            self.clip_incoherence, "clip_incoherence", low=1.0)
        check_bool(self.sample_split, "sample_split")
        truth = _check_true_matrix(true_matrix, (m, n))
        rng = check_random_state(self.random_state)
        half_exponent = _balancing_exponent(entries.values)
        if half_exponent:
            entries = _scaled_entries(entries, -2 * half_exponent)
            if isinstance(truth, tuple):
                truth = (truth[0], np.ldexp(truth[1], -2 * half_exponent), truth[2])
            elif truth is not None:
                truth = np.ldexp(truth, -2 * half_exponent)

        self.row_counts_ = entries.row_counts
        self.col_counts_ = entries.col_counts
        n_short_rows = int(np.sum(self.row_counts_ < k))
        n_short_cols = int(np.sum(self.col_counts_ < k))
        if n_short_rows or n_short_cols:
            warnings.warn(
                f"{n_short_rows} row(s) and {n_short_cols} column(s) have fewer than rank={k} observed "
                f"entries (minimum {self.row_counts_.min()} per row, {self.col_counts_.min()} per column); "
                "their values cannot be determined by the observations.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )

        if self.sample_split:
            part = rng.integers(0, 2 * n_iter + 1, size=entries.n_observed)
            parts = [entries.subset(part == t) for t in range(2 * n_iter + 1)]
            # a row (column) with fewer than k entries in its part has an undetermined least-squares half-step
            n_short = sum(bool((p.row_counts < k).any() or (p.col_counts < k).any()) for p in parts)
            if n_short:
                per_part = entries.n_observed / len(parts)
                warnings.warn(
                    f"sample_split=True: {n_short} of the 2 n_iter + 1 = {len(parts)} parts leave a row or column "
                    f"with fewer than rank={k} observed entries (on average {per_part / m:.3g} per row and "
                    f"{per_part / n:.3g} per column in a part), so their half-steps are undetermined and the "
                    "completion can be far off; use a smaller n_iter or sample_split=False (full reuse).",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
        else:
            parts = None

        with _kernel_threads(entries.n_observed * k):
            U, V_warm = spectral_init(parts[0] if parts else entries, k, rng, clip_incoherence=clip)
        # Residuals are relative to ||P_Omega(M)||; if every observed value is 0 (the zero matrix fits them
        # exactly) they are absolute instead of a division by zero.
        norm_obs = float(np.linalg.norm(entries.values)) or 1.0
        # The residual on Omega comes out of the U half-step's kernel when that half-step sees all of Omega.
        fused_residual = parts is None and (self.solver == "exact" or self.inner == "cg")
        residual = np.empty(m if fused_residual else entries.n_observed)
        history = {"residual": [], "inner_steps": [], "incoherence": []}
        if truth is not None:
            history["error"] = []
        solve = functools.partial(half_step, solver=self.solver, inner=self.inner, max_steps=max_steps, rng=rng)
        with _kernel_threads(entries.n_observed * k):
            adaptive = self.solver == "robust" and inner_tol is None
            # The adaptive rule needs the current residual from the first half-step on: that of the initial
            # estimate U V_warm^T (one verification pass) rather than a placeholder 1.
            rel_res = _observed_residual_norm(entries, U, V_warm) / norm_obs if adaptive else 1.0
            contraction = 1.0  # not observed before the first iteration
            converged = False
            for t in range(n_iter):
                rtol = adaptive_inner_tol(rel_res, contraction) if adaptive else inner_tol
                cols_side = parts[2 * t + 1] if parts else entries
                rows_side = parts[2 * t + 2] if parts else entries
                V_tilde, steps_v = solve(cols_side.col_indptr, cols_side.col_idx, cols_side.col_vals, U, V_warm,
                                         rtol=rtol)
                V, R = _thin_qr(V_tilde)
                U_warm = U @ R.T
                U_tilde, steps_u = solve(rows_side.row_indptr, rows_side.row_idx, rows_side.row_vals, V, U_warm,
                                         rtol=rtol, res_sq=residual if fused_residual else None)
                if fused_residual:
                    residual_norm = math.sqrt(float(residual.sum()))
                else:
                    _kernels.residual_on_omega(entries.row_indptr, entries.row_idx, entries.row_vals, U_tilde, V,
                                               residual)
                    residual_norm = float(np.linalg.norm(residual))
                prev = rel_res
                rel_res = residual_norm / norm_obs
                contraction = rel_res / prev if prev > 0.0 else 0.0
                U, R = _thin_qr(U_tilde)
                V_warm = V @ R.T
                history["residual"].append(rel_res)
                history["inner_steps"].append(
                    0.0 if steps_v is None else 0.5 * (float(steps_v.mean()) + float(steps_u.mean())))
                history["incoherence"].append(max(incoherence(U, orthonormal=True),
                                                  incoherence(V, orthonormal=True)))
                if truth is not None:
                    history["error"].append(relative_error(U_tilde, V, truth))
                if self.verbose:
                    print(f"AltMin iteration {t + 1}: residual on Omega {rel_res:.3e}, "
                          f"inner steps {history['inner_steps'][-1]:.2f}")
                if rel_res <= tol or abs(prev - rel_res) <= tol * prev:
                    converged = True
                    break
        if not converged:
            warnings.warn(
                f"AltMinCompletion stopped after n_iter={n_iter} iterations with relative residual "
                f"{rel_res:.3e} > tol={tol:g}; increase n_iter.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        # Balanced factors: U_tilde V^T = (Q W sqrt(S)) (V Z sqrt(S))^T with R = W S Z^T.
        W, S, Zt = np.linalg.svd(R)
        root = np.ldexp(np.sqrt(S), half_exponent)  # undo the balancing scale (exact), if any
        self.U_ = np.ascontiguousarray((U @ W) * root, dtype=dtype)
        self.V_ = np.ascontiguousarray((V @ Zt.T) * root, dtype=dtype)
        self.singular_values_ = np.ldexp(S, 2 * half_exponent).astype(dtype)
        self.n_iter_ = t + 1
        self.history_ = history
        self.incoherence_ = max(incoherence(U, orthonormal=True), incoherence(V, orthonormal=True))
        self.shape_ = (m, n)
        return self

    def predict(self, rows, cols):
        """Completed values at the index pairs (rows[l], cols[l])."""
        check_is_fitted(self)
        m, n = self.shape_
        rows = _check_indices(rows, "rows", m)
        cols = _check_indices(cols, "cols", n)
        if rows.shape != cols.shape:
            raise ValueError(f"`rows` and `cols` must have the same length; got {rows.shape[0]} and {cols.shape[0]}.")
        out = np.empty(rows.shape[0], dtype=self.U_.dtype)
        _kernels.predict_entries(rows, cols, self.U_, self.V_, out)
        return out

    def reconstruct(self):
        """The completed matrix ``U_ @ V_.T`` (dense, m x n)."""
        check_is_fitted(self)
        return self.U_ @ self.V_.T


def complete_matrix(rows, cols, values, shape, rank, **kwargs):
    """Complete a rank-``rank`` matrix from its entries ``M[rows[l], cols[l]] = values[l]``.

    Functional form of :class:`AltMinCompletion`.

    Parameters
    ----------
    rows, cols : array_like of int, shape (n_observed,)
    values : array_like of float, shape (n_observed,)
    shape : tuple (m, n)
    rank : int
    **kwargs
        Any parameter of :class:`AltMinCompletion` (``solver``, ``n_iter``, ``tol``, ...).

    Returns
    -------
    U : ndarray of shape (m, rank)
    V : ndarray of shape (n, rank)
        ``U @ V.T`` is the completed matrix.

    References
    ----------
    .. [1] Y. Gu, Z. Song, J. Yin and L. Zhang, ICLR 2024 (arXiv:2302.11068),
       Theorem 4.2; claims ``completion.*`` (see :class:`AltMinCompletion`).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import complete_matrix
    >>> from lrla.datasets import make_low_rank, sample_entries
    >>> U, s, V = make_low_rank(300, 200, 4, random_state=0)
    >>> rows, cols, vals = sample_entries(U, s, V, p=0.25, random_state=1)
    >>> A, B = complete_matrix(rows, cols, vals, (300, 200), 4, random_state=0)
    >>> M = (U * s) @ V.T
    >>> bool(np.linalg.norm(A @ B.T - M) / np.linalg.norm(M) < 1e-8)
    True
    """
    entries, dtype = entries_from_arrays(rows, cols, values, shape)
    model = AltMinCompletion(rank, **kwargs)._fit_entries(entries, dtype)
    return model.U_, model.V_
