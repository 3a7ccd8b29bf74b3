"""Sub-gradient method (SubGM) for robust, over-parameterized low-rank matrix recovery."""

from __future__ import annotations

import contextlib
import functools
import math
import warnings

import numba
import numpy as np
import scipy.linalg
import scipy.stats
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .._rng import check_random_state
from .._validation import check_array, check_bool, check_int, check_option, check_scalar
from .._warnings import user_stacklevel
from ..exceptions import ConvergenceWarning
from .operators import SensingOperator

__all__ = ["SubgradientRecovery", "subgradient_recovery"]

#: initial step for a user-given decay: eta0 * (top growth rate) = this, well inside the stability bound 1
_STABLE_FRACTION = 0.4
#: default eta0 * g_1 (data-driven decay), and the largest one the budget rule may push the step to
_MAX_STABLE_FRACTION = 0.8
#: range of the data-driven decay (the budget rule's rho, clipped). The floor guards components that
#: A*(sign y)/m does not resolve above its noise level (their growth rate, hence the budget they need, is
#: unknown): at 80 % outliers (d = 30, m = 2400) only the top one shows, and rho = 0.97 then fails where
#: 0.98 and 0.99 recover
_MIN_DECAY, _MAX_DECAY = 0.98, 0.999
#: below this many multiply-adds per product, BLAS threads cost more than they save (GEMV is memory-bound)
_SINGLE_THREAD_WORK = 1 << 23
#: below this many (measurement, free entry) pairs a matrix-free pass runs on one Numba thread: under CPU
#: contention (2 shared cores, load 2.6-3.5) a pass with a parallel region cost 32 ms at every size tried
#: (d = 8-30, m = 400-1500) against 0.2-1.2 ms on one thread; unloaded (load 1.7) one thread is 1.5-1.7x slower
#: here (0.13 against 0.09 ms at d = 8, m = 400; 0.30 against 0.18 ms at d = 20, m = 600), a few hundredths of
#: a second per fit. The reductions use fixed chunks, so the numbers are the same
_SERIAL_MATRIX_FREE_WORK = 1 << 18
#: margin c_b of the step-budget rule eta0 / (1 - rho) >= c_b * ln(1/init_scale) / growth_rate
_BUDGET_MARGIN = 1.5
#: relative accuracy the default iteration count aims at, after the escape phase
_TARGET_DECADES = 6.0
#: the adaptive schedule's quantile q of |residual|. Its density at 0 is phi(D)/||D||_F (D = X - X*, Gaussian
#: measurements), so for small q the q-quantile is about q ||D||_F / phi(D); it stays inside the clean
#: residuals while more than a fraction q of the measurements is uncorrupted. 0.05 took more iterations on
#: the outlier settings of validation.recovery.diagnose_adaptive_schedule (prototype, median of 5 seeds:
#: 126 against 97 at the benchmark's) and is noisier (fewer order statistics below it)
_RESIDUAL_QUANTILE = 0.1
#: the adaptive step may grow by at most this factor per iteration. An oscillation that grows the error
#: grows the estimate with it, which would feed the oscillation; with the cap the step falls behind.
#: Prototype (docs/recovery.md, Defaults item 6): 1 failure in 5 became 0 on a d = 8 instance
_ADAPTIVE_STEP_GROWTH = 1.03
#: a negative eigenvalue of A*(sign y)/m this far beyond the noise level marks an indefinite target (symmetric
#: mode fits a PSD one). PSD targets reached at most 1.08 x the level in 360 draws (9 settings, outliers and
#: Gaussian noise); indefinite ones with a negative eigenvalue of half the top one's size reached 1.08-1.46
_INDEFINITE_MARGIN = 1.25
#: a final ||X|| this many times the scale estimate median|y| / 0.6745 (about ||X*||_F) is no recovery
_FAR_ABOVE_SCALE = 1e3
#: random-sign probes of the noise level of A*(sign y)/m. An eigenvalue counts as a signal direction only
#: above the largest probe's top eigenvalue: a noise direction then passes with probability <= 1/20
#: (see SubgradientRecovery's Notes); one probe let it pass about half the time
_N_NOISE_PROBES = 19


@contextlib.contextmanager
def _numba_threads(n):
    """Numba parallel regions started by this thread use ``n`` threads inside the block."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _spectrum(G, symmetric):
    """Growth rates of the small-initialization dynamics for the direction G.

    Symmetric: U <- U + eta (G + G^T) U grows eigen-direction i by 1 + eta * 2 lambda_i(sym G);
    asymmetric: (L, R) grow by 1 + eta * s_i(G).
    """
    if symmetric:
        return np.sort(2.0 * np.linalg.eigvalsh(0.5 * (G + G.T)))[::-1]
    return np.linalg.svd(G, compute_uv=False)


#: largest d for which a batch of full symmetric eigensolves beats one partial (top-only) solve each
_BATCHED_EIG_DIM = 64


def _top_rates(Gs, symmetric):
    """Largest growth rate of each ``Gs[q]`` (the first entry of ``_spectrum(Gs[q], symmetric)``).

    Small matrices go to one batched LAPACK call: 19 separate top-eigenvalue
    solves at d = 20 cost more than the rest of a fit's set-up (measured).
    """
    if not symmetric:
        return np.linalg.norm(Gs, 2, axis=(1, 2))
    S = Gs + Gs.transpose(0, 2, 1)
    d = S.shape[1]
    if d <= _BATCHED_EIG_DIM:
        return np.linalg.eigvalsh(S)[:, -1]
    return np.array([scipy.linalg.eigh(P, eigvals_only=True, subset_by_index=[d - 1, d - 1])[0] for P in S])


def _debias_spikes(observed, edge):
    """Growth rates behind eigenvalues of ``S_0`` that stand out of its noise (symmetric mode).

    ``S_0`` is a low-rank signal plus a Wigner-like noise matrix whose spectrum ends
    at ``edge``; a signal eigenvalue ``theta > edge / 2`` appears at
    ``theta + edge^2 / (4 theta)`` (the BBP transition of a spiked Wigner matrix), so
    the observed eigenvalues overstate the weak growth rates. Inverting that map
    matters for the step-budget rule: at d = 200, m = 6000 (30 % outliers) the
    fifth eigenvalue is 0.53 for a growth rate of 0.32, and a budget computed from
    it leaves that component short of its escape.
    """
    return 0.5 * (observed + np.sqrt(np.maximum(observed**2 - edge**2, 0.0)))


def _budget_ratio(eta0, decay, escape_need):
    """Step budget ``eta0 / (1 - rho)`` over the escape need (inf when there is no escape phase)."""
    return eta0 / (1.0 - decay) / escape_need if escape_need > 0 else math.inf


def _budget_decay(eta0, escape_need):
    """Fastest decay meeting the step-budget rule ``eta0 / (1 - rho) >= margin * escape_need``."""
    if not escape_need > 0:  # started at the scale of X*: no escape phase to budget for
        return _MIN_DECAY
    decay = 1.0 - eta0 / (_BUDGET_MARGIN * escape_need)
    decay = min(max(decay, _MIN_DECAY), _MAX_DECAY)
    # 1 - (1 - x) is not x in floating point: move up until the rule holds exactly
    while decay < _MAX_DECAY and _budget_ratio(eta0, decay, escape_need) < _BUDGET_MARGIN:
        decay = float(np.nextafter(decay, 1.0))
    return decay


def _budget_step(decay, escape_need, g_top):
    """Step for a user's decay: what the budget rule asks, at least 0.4/g_1, at most 0.8/g_1."""
    cap = _MAX_STABLE_FRACTION / g_top
    eta0 = min(max(_STABLE_FRACTION / g_top, _BUDGET_MARGIN * escape_need * (1.0 - decay)), cap)
    # (x (1 - rho)) / (1 - rho) can round below x: move up until the rule holds exactly (or the cap binds)
    while eta0 < cap and _budget_ratio(eta0, decay, escape_need) < _BUDGET_MARGIN:
        eta0 = min(float(np.nextafter(eta0, math.inf)), cap)
    return eta0


@functools.lru_cache(maxsize=64)
def _low_quantile_bound(k1, k2):
    # scipy's Beta quantile costs about 0.5 ms, a third of an adaptive fit's set-up at m = 600 (measured)
    return min(0.25, float(scipy.stats.beta.ppf(1e-4, k1, k2 - k1)))


def _new_history(n_iter, decay, n_iter_given):
    """Per-iteration arrays (loss, step, update, error), allocated for the iteration cap ``n_iter``."""
    try:
        return tuple(np.empty(n_iter) for _ in range(4))
    except MemoryError:
        need = f"the history_ of n_iter={n_iter} iterations needs {4 * 8 * n_iter / 2**30:.3g} GiB"
        if n_iter_given:
            raise MemoryError(f"{need}; lower n_iter (tol stops earlier, but the history is allocated for the "
                              "cap).") from None
        raise MemoryError(f"{need}: the default count grows like 1 / (1 - decay), here decay={decay!r}; lower "
                          "decay or give n_iter.") from None


def _check_low_quantiles(abs_y, q_index):
    """Warn when the smallest values of ``|y|`` cluster near 0 (the adaptive schedule's reference).

    Near 0 the distribution of ``|y|`` has a positive density (phi_0 / ||X*||_F), so its k1-th and
    k2-th smallest values have the ratio of uniform order statistics, Beta(k1, k2 - k1), about 1/2.
    Measurements coded as (near) zero put an atom there: the ratio drops to 0, the reference
    quantile shrinks and every adaptive step is inflated (7 % zeros: error 0.89 against 1e-7 for
    the geometric schedule, d = 8, m = 400). Threshold: the 1e-4 quantile of that Beta law, at most
    0.25 (the curvature of the distribution lowers the ratio a little: median 0.48 at 80 % outliers).
    """
    k2 = q_index + 1
    k1 = max(math.ceil(k2 / 2), 1)
    if k2 <= k1:
        return
    low = np.partition(abs_y, [k1 - 1, k2 - 1])
    ratio = float(low[k1 - 1] / low[k2 - 1])
    bound = _low_quantile_bound(k1, k2)
    if ratio < bound:
        warnings.warn(
            f"schedule='adaptive': the smallest values of |y| cluster near 0 (its {k1}-th smallest is {ratio:.3g} x "
            f"its {k2}-th, below {bound:.3g}): measurements coded as zero? They shrink the reference quantile of |y| "
            "and inflate every step; use schedule='geometric'.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


class SubgradientRecovery(BaseEstimator):
    """Robust low-rank recovery by the sub-gradient method with small initialization.

    Minimises the l1 loss ``f(U) = (1/m) ||y - A(U U^T)||_1`` over a factor
    ``U`` of shape (d, rank) (``symmetric=True``, PSD target) or
    ``f(L, R) = (1/m) ||y - A(L R^T)||_1`` (``symmetric=False``, any
    d1 x d2 target) with the sub-gradient method [1]_ (Algorithm B.3 of the
    digest):

    1. ``U_0 = alpha * G / ||G||_2`` with G Gaussian and
       ``alpha = init_scale * sqrt(scale_)`` (small initialization);
    2. ``U_{t+1} = U_t - eta_t (S_t + S_t^T) U_t`` with
       ``S_t = A*(sign(A(U_t U_t^T) - y)) / m`` and geometrically decaying
       steps ``eta_t = eta_0 rho^t`` (``schedule="geometric"``, the paper's),
       or steps that follow the error (``schedule="adaptive"``, below).

    ``rank`` may over-estimate the true rank (up to ``d``): with a small
    initialization the extra columns stay small, and the method converges to
    the truth even when a large fraction of the measurements carries
    arbitrarily large outliers, provided they are independent of the
    measurement matrices.

    Defaults are computed from the data (nothing to tune by hand):

    * ``scale_ = median|y| / 0.6745``, which is ``||X*||_F`` for Gaussian
      measurements with fewer than half corrupted; it only sets ``alpha``.
    * ``S_0 = A*(sign(y)) / m`` is the descent direction at ``U = 0``; its
      spectrum gives the growth rates ``g_i`` of the escape dynamics
      (``g_i ~ 2 phi_0 sigma_i / ||X*||_F``), and the stability bound
      ``eta_0 g_1 < 1``.
    * Step-budget rule (digest B.3, item 3): the weakest component must grow
      from ``alpha`` to ``sqrt(sigma_r)``, which needs ``eta_0 / (1 - rho) >=
      1.5 ln(1/init_scale) / g_r``, with ``g_r`` the smallest growth rate
      standing out of the noise level of ``S_0`` (estimated with 19 random-sign
      probes, see Notes), counted up to ``rank``.
      After the escape the error falls like ``rho^t`` (claim
      ``recovery.linear-rate``), so the default takes the largest stable step,
      ``eta_0 = 0.8 / g_1``, and the fastest decay the rule allows,
      ``rho = 1 - eta_0 g_r / (1.5 ln(1/init_scale))``, clipped to [0.98, 0.999]
      (the floor covers components too weak to show in ``S_0``).
      With a user-given ``decay`` the step is ``max(0.4 / g_1, the rule's
      minimum)``, capped at ``0.8 / g_1``; with a user-given ``step_size`` the
      decay is the rule's. A ``ConvergenceWarning`` says when the step and
      decay still break the rule (the run would otherwise stall silently at
      relative error ~1): then raise ``decay``.
    * ``n_iter``: the escape time plus ``6 / log10(1/rho)`` iterations (the error
      then falls by six decades, following ``rho^t``).

    ``schedule="adaptive"`` replaces ``rho^t`` by an estimate of the remaining
    relative error: ``eta_t = min(eta_0 min(1, s_t / s_y), 1.03 eta_{t-1})``,
    where ``s_t`` is the 0.1-quantile of the residuals' magnitudes
    ``|A(U_t U_t^T) - y|`` and ``s_y`` that of ``|y|`` (the residuals at
    ``U = 0``). Sign-RIP says that SubGM moves like gradient descent on
    ``||U U^T - X*||_F^2 / 4`` with the effective step
    ``2 eta_t phi(D_t) / ||D_t||_F`` (``D_t = U_t U_t^T - X*``; digest B.3), so
    the step must shrink like ``||D_t||_F / phi(D_t)``. With Gaussian
    measurements the density of the residuals' magnitudes at 0 is
    ``phi(D_t) / ||D_t||_F``, for outliers and Gaussian noise alike, so a low
    quantile ``s_t`` is proportional to that ratio, and the effective step
    stays at its value at ``U = 0``. The step stays near ``eta_0`` while a
    true direction has not escaped (the error still contains it), so no step
    budget is needed and ``decay`` is not used; the 3 % cap on its growth
    damps oscillations. Without ``n_iter`` the run stops once
    ``s_t / s_y < 1e-6``, else after the geometric schedule's default count,
    with a ``ConvergenceWarning`` (a noise floor, the floor of ``rank`` above
    the true rank, or an oscillation).
    Measured (docs/recovery.md, Performance; 70 runs over 7 settings):
    1.3-7x fewer iterations than the geometric schedule on outlier problems
    and 3-550x lower error floors for ``rank`` above the true rank, but one
    run in five oscillates without converging near the sample-size threshold
    (the geometric schedule recovered those), and under dense Gaussian noise
    with ``rank = d`` the final error is 1.2-1.7x larger (the step stops
    shrinking at the noise level). It needs more than 10 % of the
    measurements uncorrupted.

    Parameters
    ----------
    rank : int
        Number of columns r' of the factor (an over-estimate of the rank is fine).
    init_scale : float, default 1e-6
        ``alpha / sqrt(scale_)``; the error floor for ``rank`` above the true
        rank shrinks polynomially in it (claim ``recovery.init-scale-floor``).
    step_size : float, optional
        Initial step ``eta_0``; default from the data (see above).
    decay : float, optional
        Geometric decay ``rho`` in (0, 1); default from the step-budget rule
        (see above; 0.98 on well-conditioned problems at ``init_scale=1e-6``).
        Only for ``schedule="geometric"``.
    n_iter : int, optional
        Number of iterations; default from the step-budget rule (see above).
    tol : float, optional
        Stop once the relative update ``||U_{t+1} - U_t||_F / ||U_t||_F``
        falls below ``tol`` (after the escape phase). None runs all ``n_iter``
        iterations. A ``ConvergenceWarning`` is raised when ``tol`` is given
        and ``n_iter`` is reached first. With ``schedule="adaptive"`` and no
        ``n_iter``, the run also stops at an estimated error of 1e-6.
    schedule : {"geometric", "adaptive"}, default "geometric"
        Step sizes: the paper's ``eta_0 rho^t``, or ``eta_0`` scaled by the
        residuals' estimate of the remaining error (see above).
    symmetric : bool, default True
        PSD target ``U U^T`` (square operator) or general ``L R^T``. A
        UserWarning says when the measurements show a clearly indefinite
        target (a negative eigenvalue of ``A*(sign y)/m`` 1.25 times beyond
        its noise level), which the symmetric mode cannot fit. Symmetric
        measurement matrices determine only the symmetric part of a general
        fit: use ``(X_ + X_.T) / 2`` then (a UserWarning says so).
    random_state : None, int, Generator or RandomState
        Draws the initial factor (and the random signs of the noise-level estimate).
    verbose : bool, default False

    Attributes
    ----------
    U_ : ndarray of shape (d1, rank)
        Left factor (``U`` in symmetric mode).
    V_ : ndarray of shape (d2, rank)
        Right factor (equal to ``U_`` in symmetric mode).
    X_ : ndarray of shape (d1, d2)
        The recovered matrix ``U_ V_^T``.
    history_ : dict of ndarrays
        Per iteration: ``"loss"`` (l1 loss at U_t), ``"step"`` (eta_t),
        ``"update"`` (relative update), and ``"error"`` (``||X_t - X_true||_F /
        ||X_true||_F``) when ``fit`` got ``X_true``.
    n_iter_ : int
        Iterations run.
    step_size_, decay_, alpha_, scale_ : float
        Parameters used (``decay_`` is None for ``schedule="adaptive"``).
    growth_rates_ : ndarray
        Estimated growth rates ``g_i`` of the directions standing out of the
        noise level (symmetric mode: de-biased for the noise's upward push on
        the eigenvalues, see Notes).
    budget_ratio_ : float or None
        ``(eta_0 / (1 - rho)) / (ln(1/init_scale) / g_r)``; the run escapes the
        initialization only if it exceeds 1 (the default aims at >= 1.5).
        None for ``schedule="adaptive"``, which has no step budget.

    Notes
    -----
    Which eigenvalues of ``S_0 = A*(sign y)/m`` are signal: ``S_0`` is a rank-r
    signal plus a noise matrix ``N``, so by Weyl's inequality its (r+1)-th
    eigenvalue is at most ``lambda_1(N)``. For Gaussian measurements ``N`` has
    (outside the direction of X*) the law of a probe ``A*(s)/m`` with random
    signs ``s``, so with 19 independent probes ``P(lambda_{r+1}(S_0) > max_k
    lambda_1(P_k)) <= 1/20`` by exchangeability. Only eigenvalues above that
    maximum count. With a single probe a noise eigenvalue passed about half the
    time; an over-estimated ``rank`` then took it, de-biased to about ``e/2``, as
    ``g_r``, and the rule chose a slower decay than for the exact rank (d = 30,
    m = 2400, 30 % outliers: rho = 0.995 for r' = 6 against 0.984 for r' = 2):
    twice the iterations and a higher error floor (``rank > r`` runs
    accumulate the sign noise over the step budget). The probes and the
    descent direction share one pass over the operator (``_adjoint_many``).

    The eigenvalues that stand out of the noise edge ``e`` (the mean of the
    probes' top eigenvalues) overstate weak growth rates: a spiked Wigner
    matrix shows a rate ``g > e/2`` at ``g + e^2 / (4 g)``. The budget rule uses
    the inverted values ``(lambda + sqrt(lambda^2 - e^2)) / 2`` (the raw top
    eigenvalue still sets the stability bound of the step).

    Computation is in float64 (the sign of small residuals decides the last
    digits); float32 inputs are upcast.

    References
    ----------
    .. [1] J. Ma and S. Fattahi, "Global convergence of sub-gradient method for
       robust matrix recovery: small initialization, noisy measurements, and
       over-parameterization", JMLR 24 (2023), arXiv:2202.08788. Its main
       theorem (linear convergence to the truth, agnostic to the
       over-parameterized rank and to dense outliers) is checked by the claims
       ``recovery.overparam-agnostic``, ``recovery.linear-rate``,
       ``recovery.init-scale-floor``, ``recovery.dense-outliers``,
       ``recovery.sample-size-rank-free`` and ``recovery.gaussian-noise``.

    Examples
    --------
    >>> from lrla.recovery import SubgradientRecovery
    >>> from lrla.datasets import make_sensing_problem
    >>> prob = make_sensing_problem(20, 2, 600, corruption=0.3, random_state=0)
    >>> est = SubgradientRecovery(rank=6, random_state=0).fit(prob.operator, prob.y, X_true=prob.X)
    >>> bool(est.history_["error"][-1] < 2e-2)  # r' = 6 > r = 2 at m = 15 d r: a floor (claims S3, S5)
    True
    >>> exact = SubgradientRecovery(rank=2, random_state=0).fit(prob.operator, prob.y, X_true=prob.X)
    >>> bool(exact.history_["error"][-1] < 1e-5)  # the default n_iter plans six decades
    True
    """

    def __init__(
        self,
        rank,
        *,
        init_scale=1e-6,
        step_size=None,
        decay=None,
        n_iter=None,
        tol=None,
        schedule="geometric",
        symmetric=True,
        random_state=None,
        verbose=False,
    ):
        self.rank = rank
        self.init_scale = init_scale
        self.step_size = step_size
        self.decay = decay
        self.n_iter = n_iter
        self.tol = tol
        self.schedule = schedule
        self.symmetric = symmetric
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _validate(self, operator, y, X_true):
        if not isinstance(operator, SensingOperator):
            raise TypeError(
                "`operator` must be a lrla SensingOperator (GaussianSensing, RankOneSensing or "
                f"SensingOperator(matrices | forward, adjoint)); got {type(operator).__name__}."
            )
        if not hasattr(operator, "_flat"):  # the solvers use the products set up by the lrla constructors
            raise TypeError(
                f"`operator` ({type(operator).__name__}) subclasses SensingOperator without running its constructor; "
                "wrap your products instead: SensingOperator(forward=..., adjoint=..., shape=..., n_measurements=...)."
            )
        check_bool(self.symmetric, "symmetric")
        d1, d2 = operator.shape
        if self.symmetric and d1 != d2:
            raise ValueError(
                f"`symmetric=True` needs a square operator; got matrices of shape {operator.shape} "
                "(use symmetric=False for the L R^T factorization)."
            )
        rank = check_int(self.rank, "rank", min_value=1, max_value=min(d1, d2))
        init_scale = check_scalar(self.init_scale, "init_scale", low=0.0, low_inclusive=False)
        decay = None if self.decay is None else check_scalar(
            self.decay, "decay", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        step = None if self.step_size is None else check_scalar(
            self.step_size, "step_size", low=0.0, low_inclusive=False
        )
        n_iter = None if self.n_iter is None else check_int(self.n_iter, "n_iter", min_value=1)
        tol = None if self.tol is None else check_scalar(self.tol, "tol", low=0.0, low_inclusive=False)
        schedule = check_option(self.schedule, "schedule", ("geometric", "adaptive"))
        if schedule == "adaptive" and decay is not None:
            raise ValueError("`decay` applies to schedule='geometric' only; schedule='adaptive' takes its steps "
                             "from the residuals (leave decay=None).")
        y = check_array(y, "y", ndim=1, dtype=np.float64)
        if y.shape[0] != operator.n_measurements:
            raise ValueError(
                f"`y` must have length n_measurements={operator.n_measurements}; got {y.shape[0]}."
            )
        if X_true is not None:
            X_true = check_array(X_true, "X_true", ndim=2, dtype=np.float64)
            if X_true.shape != operator.shape:
                raise ValueError(f"`X_true` must have shape {operator.shape}; got {X_true.shape}.")
        return rank, init_scale, decay, step, n_iter, tol, schedule, y, X_true

    # ------------------------------------------------------------------ fit
    def fit(self, operator, y, *, X_true=None):
        """Recover the low-rank matrix from ``y = A(X*) + noise``.

        Parameters
        ----------
        operator : SensingOperator
            The measurement operator A (e.g. :class:`GaussianSensing`).
        y : array_like of shape (m,)
            Measurements, possibly corrupted; must be finite.
        X_true : array_like of shape (d1, d2), optional
            Ground truth; only used to record ``history_["error"]``.

        Returns
        -------
        self
        """
        rank, init_scale, decay, step, n_iter, tol, schedule, y, X_true = self._validate(operator, y, X_true)
        adaptive = schedule == "adaptive"
        rng = check_random_state(self.random_state)
        symmetric = bool(self.symmetric)
        d1, d2 = operator.shape
        m = operator.n_measurements

        med = float(np.median(np.abs(y)))
        scale = med / 0.6744897501960817 if med > 0 else float(np.mean(np.abs(y)))
        if not scale > 0:
            raise ValueError("`y` is identically zero: nothing to recover.")
        alpha = init_scale * math.sqrt(scale)
        # SubGM is equivariant under y -> c y, U -> sqrt(c) U. The iteration runs on y / 2^k (k even, 2^k near
        # scale): a power of two scales every product exactly, so the iterates are the same numbers up to
        # that factor, but neither underflow (y ~ 1e-300: subnormal U U^T) nor overflow (y ~ 1e300).
        shift = 2 * round(math.log2(scale) / 2)
        y_unit = np.ldexp(y, -shift)
        X_true_unit = None if X_true is None else np.ldexp(X_true, -shift)
        with np.errstate(over="ignore"):
            bad_truth = X_true is not None and not 0.0 < np.linalg.norm(X_true_unit) < math.inf
        if bad_truth:
            # zero would pass for "no X_true" in the compiled loops (history_["error"] left uninitialised)
            raise ValueError(
                "`X_true` must be nonzero and of a size its relative error can be computed at (history_['error'] "
                "is ||X_t - X_true||_F / ||X_true||_F); got "
                + ("a zero matrix." if not X_true.any() else f"entries up to {np.abs(X_true).max():.3g} for "
                   f"measurements of scale {scale:.3g}.")
            )

        # Descent direction at U = 0 and the noise level of such a direction (random-sign probes, see
        # Notes), drawn before the initial factor so that they do not depend on `rank`.
        probes = np.empty((m, 1 + _N_NOISE_PROBES))
        probes[:, 0] = np.sign(y)
        probes[:, 1:] = rng.integers(0, 2, size=(m, _N_NOISE_PROBES)) * 2.0 - 1.0
        G = rng.standard_normal((d1, rank))
        H = None if symmetric else rng.standard_normal((d2, rank))
        directions = operator._adjoint_many(probes) / m
        signal = _spectrum(directions[0], symmetric)
        noise_tops = _top_rates(directions[1:], symmetric)
        noise_bound, noise_edge = float(noise_tops.max()), float(noise_tops.mean())
        g_top = float(signal[0])
        if not g_top > 0:
            raise ValueError("the measurements carry no positive signal direction (A*(sign y) has no "
                             "positive eigenvalue); check the operator and y.")
        if not symmetric and getattr(operator, "symmetric", False):
            warnings.warn(
                f"{type(operator).__name__}(symmetric=True) has symmetric measurement matrices: they measure only the "
                "symmetric part of X, so with symmetric=False the antisymmetric part of X_ = U_ V_^T is not determined "
                "by the data. Use the symmetric part (X_ + X_.T) / 2 (or symmetric=True for a PSD target).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        if symmetric and -signal[-1] > _INDEFINITE_MARGIN * noise_bound:
            warnings.warn(
                f"A*(sign y)/m has a negative direction ({signal[-1]:.3g}) well beyond its noise level "
                f"(-{noise_bound:.3g}): the target looks indefinite, but symmetric=True fits X = U U^T, which is "
                "positive semidefinite. Use symmetric=False for a general target (of its fit X_, symmetric measurement "
                "matrices determine only the symmetric part).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        growth = signal[signal > noise_bound]
        if growth.size == 0:
            warnings.warn(
                f"no direction of A*(sign y)/m stands out of its noise level ({g_top:.3g} <= "
                f"{noise_bound:.3g}): too few measurements, or too many corrupted; recovery is unlikely.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
            growth = signal[:1]
        elif symmetric:
            growth = _debias_spikes(growth, noise_edge)
        g_small = float(growth[-1]) if growth.size <= rank else float(growth[rank - 1])
        escape_need = max(math.log(1.0 / init_scale), 0.0) / g_small

        if step is not None:
            eta0 = step
        elif decay is None:
            eta0 = _MAX_STABLE_FRACTION / g_top
        else:
            # as large as the budget rule asks, within the stability bound eta0 * g_1 < 1
            eta0 = _budget_step(decay, escape_need, g_top)
        if decay is None:
            decay = _budget_decay(eta0, escape_need)
        if step is not None and step * g_top >= 1.0:
            warnings.warn(
                f"step_size={step:.3g} exceeds the stability bound 1/g_1 = {1.0 / g_top:.3g} estimated "
                "from the data; the iterates may oscillate or diverge.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        budget = eta0 / (1.0 - decay)
        # init_scale >= 1 starts at the scale of X*: there is nothing to escape from
        ratio = _budget_ratio(eta0, decay, escape_need)
        if ratio < _BUDGET_MARGIN and not adaptive:
            warnings.warn(
                f"step budget step_size/(1-decay) = {budget:.3g} is below the escape requirement "
                f"{_BUDGET_MARGIN} * ln(1/init_scale) / g_r = {_BUDGET_MARGIN * escape_need:.3g} "
                f"(budget_ratio_ = {ratio:.4g} < {_BUDGET_MARGIN}): "
                "the iterates may stay near the small initialization (relative error ~1). "
                "Increase step_size or decay.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        if ratio > 1.0:
            # the budget spent by step T is budget (1 - rho^T); the escape needs 1/ratio of it
            t_escape = math.ceil(math.log(1.0 - 1.0 / ratio) / math.log(decay))
        else:
            t_escape = math.ceil(3.0 / (1.0 - decay))
        stop_ratio = 0.0
        if n_iter is None:
            n_iter = t_escape + math.ceil(_TARGET_DECADES * math.log(10.0) / -math.log(decay))
            stop_ratio = 10.0 ** -_TARGET_DECADES if adaptive else 0.0
        q_index = max(math.ceil(_RESIDUAL_QUANTILE * m), 1) - 1
        res_ref = float(np.partition(np.abs(y_unit), q_index)[q_index]) if adaptive else 0.0
        if adaptive and not res_ref > 0:
            raise ValueError(f"schedule='adaptive' steps relative to the {_RESIDUAL_QUANTILE:g}-quantile of |y|, which "
                             "is 0 here (at least that fraction of `y` is exactly zero); use schedule='geometric'.")
        if adaptive:
            _check_low_quantiles(np.abs(y), q_index)
        steps_plan = (eta0, decay, res_ref, q_index, stop_ratio, _ADAPTIVE_STEP_GROWTH)

        alpha_unit = math.ldexp(alpha, -shift // 2)
        L = alpha_unit * G / np.linalg.norm(G, 2)
        R = L if symmetric else alpha_unit * H / np.linalg.norm(H, 2)

        # Small GEMVs are memory-bound: BLAS threads only add synchronisation (20x slower on a loaded
        # 2-core machine, measured), so they run single-threaded. So do the small per-step products
        # (d x d x r') of the matrix-free operator, whose Numba kernel has the cores: idle BLAS threads
        # spin and competed with it (d = 200, m = 6000: 86 s against 64 s per fit, measured).
        small = getattr(operator, "matrix_free", False) or (
            getattr(operator, "_flat", None) is not None and operator._flat.size <= _SINGLE_THREAD_WORK
        )
        history = _new_history(n_iter, decay, self.n_iter is not None)
        fused = operator._fused_symmetric if symmetric else operator._fused_asymmetric
        if fused:  # compiled loop, no BLAS calls
            L, R, n_done, converged, history = self._iterate_fused(
                operator, y_unit, X_true_unit, L, R, steps_plan, n_iter, tol, t_escape, symmetric, history
            )
        else:
            # a divergence overflows numpy's products every iteration: one ConvergenceWarning below reports it,
            # as for the compiled loop
            serial = getattr(operator, "matrix_free", False) and m * operator.n_free < _SERIAL_MATRIX_FREE_WORK
            with threadpool_limits(limits=1, user_api="blas") if small else contextlib.nullcontext(), \
                    _numba_threads(1) if serial else contextlib.nullcontext(), \
                    np.errstate(over="ignore", invalid="ignore"):
                L, R, n_done, converged, history = self._iterate(
                    operator, y_unit, X_true_unit, L, R, steps_plan, n_iter, tol, t_escape, symmetric, history
                )
        losses, steps, updates, errors = history
        if stop_ratio > 0 and tol is None and not converged:
            warnings.warn(
                f"schedule='adaptive' ran its {n_iter} iterations without the residuals' estimate of the relative "
                f"error falling below {stop_ratio:.0e} (the last step is {steps[n_done - 1] / eta0:.2g} x the first): "
                "the residuals stopped shrinking, at a noise floor, an error floor of rank above the true rank, or "
                "an oscillation. Near the sample-size threshold, schedule='geometric' is the safer choice.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        if tol is not None and not converged:
            warnings.warn(
                f"SubgradientRecovery stopped on its iteration cap n_iter={n_iter} before the relative "
                f"update fell below tol={tol:.3g} (last {updates[n_done - 1]:.3g}).",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        with np.errstate(over="ignore", invalid="ignore"):
            X_unit = L @ R.T
            L = np.ldexp(L, shift // 2)
            R = L if symmetric else np.ldexp(R, shift // 2)
            X = np.ldexp(X_unit, shift)
        if not np.isfinite(X).all():
            warnings.warn(
                "the iterates diverged (X_ is not finite): the step is too large for this problem; lower step_size"
                + (" or use schedule='geometric'." if adaptive else "."),
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        else:
            with np.errstate(over="ignore"):
                size = float(np.linalg.norm(X_unit)) / math.ldexp(scale, -shift)
            if size < 1e-3:
                warnings.warn(
                    f"the iterate never left the small initialization (||X|| / scale = {size:.2e}); increase "
                    "step_size, decay or n_iter.",
                    ConvergenceWarning,
                    stacklevel=user_stacklevel(),
                )
            elif size > _FAR_ABOVE_SCALE:
                # steps scaled for the data shrink a large start by a bounded factor (init_scale=1e3 recovers;
                # 1e100 returned ||X_|| ~ 1e200 with no warning but numpy's overflow in this norm)
                warnings.warn(
                    f"the iterate stayed far above the scale of the measurements (||X|| / scale = {size:.2e}): "
                    f"init_scale={init_scale:.3g} is too large; use a small initialization (the default 1e-6).",
                    ConvergenceWarning,
                    stacklevel=user_stacklevel(),
                )

        self.U_, self.V_, self.X_ = L, R, X
        self.history_ = {"loss": np.ldexp(losses[:n_done], shift), "step": steps[:n_done], "update": updates[:n_done]}
        if X_true is not None:
            self.history_["error"] = errors[:n_done]
        self.n_iter_ = n_done
        self.step_size_, self.decay_, self.alpha_, self.scale_ = eta0, None if adaptive else decay, alpha, scale
        self.growth_rates_ = growth
        self.budget_ratio_ = None if adaptive else ratio
        return self

    def _iterate_fused(self, operator, y, X_true, L, R, steps_plan, n_iter, tol, t_escape, symmetric, history):
        """Dense Gaussian operator: all iterations in compiled blocks (no per-step Python)."""
        true_norm = 0.0 if X_true is None else float(np.linalg.norm(X_true))
        y = np.ascontiguousarray(y)
        X_ref = np.zeros((1, 1)) if X_true is None else np.ascontiguousarray(X_true)
        tol = 0.0 if tol is None else float(tol)
        L = np.array(L, dtype=np.float64, order="C")
        R = L if symmetric else np.array(R, dtype=np.float64, order="C")
        block = max(1, n_iter // 10) if self.verbose else n_iter
        t = 0
        while t < n_iter:
            stop = min(n_iter, t + block)
            if symmetric:
                done, stopped = operator._run_symmetric(L, y, steps_plan, t, stop, X_ref, true_norm, tol, t_escape,
                                                        history)
            else:
                done, stopped = operator._run_asymmetric(L, R, y, steps_plan, t, stop, X_ref, true_norm, tol,
                                                         t_escape, history)
            if self.verbose:
                err = f", error {history[3][done - 1]:.3e}" if X_true is not None else ""
                print(f"[SubgradientRecovery] iter {done - 1:5d}: loss {history[0][done - 1]:.4e}, "
                      f"step {history[1][done - 1]:.3e}{err}")
            if stopped:  # the relative update fell below tol, or the estimated error below stop_ratio
                return L, R, done, True, history
            t = stop
        return L, R, n_iter, False, history

    def _iterate(self, operator, y, X_true, L, R, steps_plan, n_iter, tol, t_escape, symmetric, history):
        eta0, decay, res_ref, q_index, stop_ratio, growth = steps_plan
        true_norm = None if X_true is None else float(np.linalg.norm(X_true))
        losses, steps, updates, errors = history
        abs_res = np.empty(operator.n_measurements)
        converged = False
        t = 0
        for t in range(n_iter):
            GR, GtL, loss = operator._sign_step(L, R, y, abs_res)
            # the Python twin of _kernels._step_size
            ratio = float(np.partition(abs_res, q_index)[q_index]) / res_ref if res_ref > 0 else math.inf
            eta = eta0 * min(1.0, ratio) if res_ref > 0 else eta0 * decay**t
            if res_ref > 0 and t > 0:
                eta = min(eta, growth * steps[t - 1])
            if X_true is not None:
                errors[t] = np.linalg.norm(L @ R.T - X_true) / true_norm
            if symmetric:
                D = GR + GtL
                L_new = L - eta * D
                R_new = L_new
                upd = eta * np.linalg.norm(D) / max(np.linalg.norm(L), np.finfo(float).tiny)
            else:
                L_new = L - eta * GR
                R_new = R - eta * GtL
                upd = eta * math.hypot(np.linalg.norm(GR), np.linalg.norm(GtL)) / max(
                    math.hypot(np.linalg.norm(L), np.linalg.norm(R)), np.finfo(float).tiny
                )
            losses[t], steps[t], updates[t] = loss, eta, upd
            L, R = L_new, R_new
            converged = (tol is not None and t >= t_escape and upd < tol) or ratio < stop_ratio
            # the compiled loop's print points: the end of each block of n_iter // 10 iterations, and the stop
            if self.verbose and ((t + 1) % max(1, n_iter // 10) == 0 or t == n_iter - 1 or converged):
                err = f", error {errors[t]:.3e}" if X_true is not None else ""
                print(f"[SubgradientRecovery] iter {t:5d}: loss {loss:.4e}, step {eta:.3e}{err}")
            if converged:
                break
        return L, R, t + 1, converged, (losses, steps, updates, errors)


def subgradient_recovery(operator, y, rank, **kwargs):
    """Functional form of :class:`SubgradientRecovery`; returns the recovered matrix ``X``.

    Parameters
    ----------
    operator : SensingOperator
    y : array_like of shape (m,)
    rank : int
    **kwargs
        Any parameter of :class:`SubgradientRecovery` (``init_scale``,
        ``step_size``, ``decay``, ``n_iter``, ``tol``, ``schedule``,
        ``symmetric``, ``random_state``, ``verbose``).

    Returns
    -------
    X : ndarray of shape (d1, d2)
        Use the estimator for the factors and the history.

    References
    ----------
    .. [1] J. Ma and S. Fattahi (2023), arXiv:2202.08788; see :class:`SubgradientRecovery`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.recovery import GaussianSensing, subgradient_recovery
    >>> rng = np.random.default_rng(0)
    >>> u = rng.standard_normal((15, 1)); X_true = u @ u.T
    >>> op = GaussianSensing(15, 300, random_state=1)
    >>> X = subgradient_recovery(op, op(X_true), rank=3, random_state=0)
    >>> bool(np.linalg.norm(X - X_true) / np.linalg.norm(X_true) < 1e-4)
    True
    """
    return SubgradientRecovery(rank, **kwargs).fit(operator, y).X_
