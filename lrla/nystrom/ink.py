"""INK-ESTIMATE: single-pass kernel dictionary by sequential ridge leverage score sampling."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .._rng import check_random_state, kernel_seed
from .._validation import check_int, check_matrix, check_option, check_scalar
from .._warnings import user_stacklevel
from . import _kernels
from ._kernel import KernelFunction, resolve_kernel
from .leverage import effective_dimension, estimate_scores

__all__ = ["InkEstimate"]

#: Points of the stream the default slot budget is sized from (buffered until they have all arrived).
_BUDGET_PROBE = 1000


class Dictionary(NamedTuple):
    """The points an :class:`InkEstimate` keeps: their stream ``indices`` and the ``points`` themselves."""

    indices: np.ndarray
    points: np.ndarray


class InkEstimate(BaseEstimator):
    """Sequential ridge-leverage-score sampling of a kernel dictionary (INK-ESTIMATE).

    Points arrive in batches through :meth:`partial_fit`; each point is seen
    once. At step t the estimator evaluates the kernel of the new point
    against the current dictionary only (never against a point that has left
    it), estimates the ridge leverage scores of the dictionary points and of
    the new point from the weighted dictionary,

    ``tau~_i = (1 - epsilon) (k_ii - k_i^T (K_CC + ridge W^{-1})^{-1} k_i) / ridge``,

    makes them non-increasing in t (``tau_i <- min(tau~_i, tau_i)``) and
    resamples:

    * ``variant="slots"`` (INK-ESTIMATE): ``budget`` slots, each an exact draw
      from ``p_{t,i} = tau_i / D_t`` (or empty), with ``D_t = sum_s tau_{s,s}``
      the running normaliser. A slot takes the new point with probability
      ``tau_t / D_t`` and otherwise keeps its point i with probability
      ``tau_i(new) / tau_i(old)``. Weights ``w_i = c_i D_t / (budget tau_i)``
      with ``c_i`` the number of slots holding i. At most ``budget`` distinct
      points are kept.
    * ``variant="binomial"`` (SQUEAK-style): the new point enters with
      ``budget`` copies and probability 1; each point keeps each of its
      ``c_i`` copies with probability ``tau_i(new) / tau_i(old)``. Weights
      ``w_i = c_i / (budget p_i)``; the dictionary size adapts to about
      ``budget * d_eff``.

    At every step the weighted dictionary is (w.h.p.) epsilon-accurate:
    ``(1-eps) Phi Phi^T - eps ridge I <= Phi W Phi^T <= (1+eps) Phi Phi^T + eps ridge I``,
    so the Nystrom approximation built on it satisfies
    ``||K_t - K~_t||_2 <= ridge / (1 - eps)``.

    Parameters
    ----------
    kernel : str or callable, default "rbf"
        Any kernel name of :func:`sklearn.metrics.pairwise.pairwise_kernels`
        (except "precomputed"), or a callable on two rows. The RBF row against
        the dictionary is a fused Numba loop.
    ridge : float
        Ridge ``> 0`` of the leverage scores (the target accuracy of the kernel
        approximation in spectral norm).
    epsilon : float, default 0.5
        Accuracy in (0, 1); estimates are scaled by ``1 - epsilon``.
    budget : int, optional
        Number of slots (``"slots"``) or copies per point (``"binomial"``).
        Default ``"binomial"``: ``ceil(8 / epsilon^2)`` copies. Default
        ``"slots"``: ``ceil(8 d0 / epsilon^2)`` with ``d0`` the exact effective
        dimension of the first ``min(1000, n_seen_)`` points of the stream
        (``32 d0`` at ``epsilon = 1/2``, the size that kept epsilon-accuracy in
        the paper digest's pilots), whatever the batch sizes: the first 1000
        points are buffered, and once they have all arrived the budget is
        sized from them and the algorithm is run over the buffer in stream
        order, so the state does not depend on how the stream was cut into
        batches. Before that the state is tentative (see Notes). If the
        stream's effective dimension grows far beyond that of its first 1000
        points, pass ``budget`` explicitly: the slot guarantee needs
        ``budget >~ D_t log(n / delta) / epsilon^2``.
    variant : {"slots", "binomial"}, default "slots"
    kernel_params : dict, optional
        Parameters of the kernel (``gamma`` of the RBF, default ``1 / n_features``).
    random_state : None, int, Generator or RandomState

    Attributes
    ----------
    dictionary_ : Dictionary
        ``(indices, points)``: stream positions (0-based over all batches) and
        rows of the kept points (``points`` is float64 whatever the input
        dtype: every score is computed in float64).
    weights_ : ndarray of shape (n_dictionary,)
        ``w_i = S_ii^2`` of the kept points.
    scores_ : ndarray of shape (n_dictionary,)
        Their current (non-increasing) RLS estimates.
    counts_ : ndarray of shape (n_dictionary,)
        Slots (or copies) holding each kept point.
    normalizer_ : float
        ``D_t = sum_s tau_{s,s}`` (an over-estimate of d_eff; ``"slots"`` only,
        reported for both).
    budget_ : int
        The budget in use. With ``budget=None`` and ``variant="slots"`` it is
        tentative (it may still grow) until 1000 points have been seen, and
        fixed from then on.
    n_budget_points_ : int or None
        Points of the stream ``budget_`` was sized from, ``min(1000, n_seen_)``;
        None when ``budget`` was given or ``variant="binomial"``.
    n_seen_ : int
        Points processed so far.
    n_kernel_evaluations_ : int
        ``sum_t (|D_{t-1}| + 1)``: kernel entries the sequential algorithm
        evaluated to reach the current state (not counted: the default budget
        rule's kernel of up to 1000 buffered points, and the tentative runs
        over the buffer that a re-sized budget replaced).
    dictionary_sizes_ : ndarray of shape (n_seen_,)
        ``|D_t|`` after each step.

    Warns
    -----
    UserWarning
        When a ``fit`` or ``partial_fit`` (for a tentative state: the first
        read of its attributes) ends with an empty dictionary: the budget was
        far too small and the estimates collapsed (an explicit ``budget``
        far below ``8 d_eff / epsilon^2``, or a stream whose effective
        dimension grows far beyond that of its first 1000 points).

    Notes
    -----
    Space: the dictionary (at most ``budget_`` points for ``"slots"``) with
    its kernel matrix, ``O(budget_ (n_features + budget_))``; with
    ``budget=None`` and ``"slots"`` also a buffer of the first
    ``min(1000, n)`` points (``1000 n_features`` floats at most), released
    once 1000 points have been seen.

    Tentative state (``budget=None``, ``"slots"``, fewer than 1000 points
    seen): ``partial_fit`` only buffers the points, and the fitted attributes
    (properties) are computed when first read: ``budget_`` sized by the rule
    from all ``n_seen_`` buffered points, then the algorithm run over them in
    stream order (continued if a previous read used the same budget, else
    re-run from the start with the same random numbers). That state is the
    one a single ``fit`` on those points gives, so it does not depend on the
    batch sizes either; reading it costs up to one run over the buffer, so a
    stream that reads the attributes after every row pays ``O(n_seen_)``
    steps per read until 1000 points have arrived. At 1000 points the budget
    is fixed, the buffer released and every later point is processed as it
    arrives (``budget_`` can then no longer change). Each point still enters
    once from the stream, but the first 1000 are kept and revisited; with an
    explicit ``budget`` nothing is buffered.

    References
    ----------
    .. [1] D. Calandriello, A. Lazaric and M. Valko, "Analysis of Nystrom method
       with sequential ridge leverage scores", UAI 2016 (INK-ESTIMATE). The
       estimator bound ``tau (1-eps)/(1+eps) <= tau~ <= tau`` is claim
       ``nystrom.rls-estimator-accuracy``; the reconstruction bound at every
       step ``nystrom.reconstruction-every-step``; space
       ``nystrom.space-effective-dimension``; the epsilon rate in the budget
       ``nystrom.epsilon-budget-rate``; single pass and kernel evaluations
       ``nystrom.single-pass-cost``.
    .. [2] D. Calandriello, A. Lazaric and M. Valko, "Distributed adaptive
       sampling for kernel matrix approximation", AISTATS 2017 (SQUEAK, the
       binomial variant).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import InkEstimate
    >>> X = np.random.default_rng(0).standard_normal((300, 2))
    >>> ink = InkEstimate(ridge=1.0, budget=200, random_state=0)
    >>> for batch in np.array_split(X, 3):
    ...     ink = ink.partial_fit(batch)
    >>> ink.n_seen_
    300
    >>> bool(len(ink.dictionary_.indices) < 100)
    True
    >>> bool(ink.n_kernel_evaluations_ < 300 * 299 // 2)
    True

    With the default budget, the result does not depend on the batch sizes:

    >>> rows = InkEstimate(ridge=1.0, random_state=0)
    >>> for x in X:
    ...     rows = rows.partial_fit(x[None, :])
    >>> whole = InkEstimate(ridge=1.0, random_state=0).fit(X)
    >>> rows.budget_ == whole.budget_, np.array_equal(rows.weights_, whole.weights_)
    (True, True)
    """

    def __init__(self, kernel="rbf", *, ridge, epsilon=0.5, budget=None, variant="slots",
                 kernel_params=None, random_state=None):
        self.kernel = kernel
        self.ridge = ridge
        self.epsilon = epsilon
        self.budget = budget
        self.variant = variant
        self.kernel_params = kernel_params
        self.random_state = random_state

    def fit(self, X, y=None):
        """Reset and run one pass over the rows of ``X`` in order (the whole stream)."""
        for attr in list(vars(self)):
            if attr.endswith("_") and not attr.startswith("__"):
                delattr(self, attr)
        self.partial_fit(X)
        self._catch_up()  # the whole stream is here: no tentative state left to defer
        return self

    def partial_fit(self, X, y=None):
        """Process the rows of ``X`` as the next points of the stream."""
        first = not hasattr(self, "n_seen_")
        X = check_matrix(X, "X", dtype=np.float64)
        if first:
            self._initialise(X)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"`X` has {X.shape[1]} features, but this InkEstimate was fitted with "
                             f"{self.n_features_in_}.")
        else:
            self._kernel.check_input(X)
        self.n_seen_ += X.shape[0]
        if self._buffer is not None:
            X = self._feed_buffer(X)
            if self._buffer is not None:
                return self  # still sizing the budget: the tentative state is computed when it is read
        self._run(X)
        self._warn_if_collapsed()
        return self

    # -- the fitted state ------------------------------------------------------------------
    # Properties, because with budget=None (slots) the state after fewer than 1000 points is
    # recomputed from the buffer when it is read, not after every partial_fit (a stream fed one
    # row at a time would otherwise pay a run over the buffer per row).

    def _state(self):
        if "n_seen_" not in vars(self):
            raise AttributeError("This InkEstimate is not fitted yet; call `fit` or `partial_fit` first.")
        self._catch_up()
        return self

    @property
    def dictionary_(self):
        s = self._state()
        return Dictionary(s._idx.copy(), s._pts.copy())

    @property
    def weights_(self):
        s = self._state()
        if self.variant == "slots":
            return s._counts * s._normalizer / (s._budget * s._tau)
        return s._counts / (s._budget * s._tau)

    @property
    def scores_(self):
        return self._state()._tau.copy()

    @property
    def counts_(self):
        return self._state()._counts.copy()

    @property
    def normalizer_(self):
        return self._state()._normalizer

    @property
    def budget_(self):
        return self._state()._budget

    @property
    def n_budget_points_(self):
        return self._state()._n_budget_points

    @property
    def n_kernel_evaluations_(self):
        return self._state()._n_kernel_evaluations

    @property
    def dictionary_sizes_(self):
        return np.asarray(self._state()._sizes, dtype=np.int64)

    # -- internals -------------------------------------------------------------------------

    def _initialise(self, X):
        ridge = check_scalar(self.ridge, "ridge", low=0.0, low_inclusive=False)
        eps = check_scalar(self.epsilon, "epsilon", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        check_option(self.variant, "variant", ("slots", "binomial"))
        kernel, params = resolve_kernel(self.kernel, kernel_params=self.kernel_params)
        self.n_features_in_ = X.shape[1]
        self._kernel = KernelFunction(kernel, params, X.shape[1])
        self._kernel.check_input(X)
        self._ridge, self._eps, self._scale = ridge, eps, 1.0 - eps
        self._buffer = None
        self._n_budget_points = None
        if self.budget is None:
            if self.variant == "slots":
                budget = None  # sized from the buffer (_feed_buffer, _catch_up)
                self._buffer = np.empty((0, X.shape[1]))
            else:
                budget = math.ceil(8.0 / eps**2)
        else:
            budget = check_int(self.budget, "budget", min_value=1)
        rng = check_random_state(self.random_state)
        self._seed = kernel_seed(rng)
        self._rng = rng
        self.n_seen_ = 0
        self._restart(budget)

    def _restart(self, budget):
        """Empty the dictionary and start the stream over with ``budget``."""
        self._budget = budget
        d = self.n_features_in_
        self._t = 0  # points the sequential algorithm has processed
        self._idx = np.empty(0, dtype=np.int64)
        self._pts = np.empty((0, d))
        self._tau = np.empty(0)
        self._K = np.empty((0, 0))
        self._counts = np.empty(0, dtype=np.int64)
        self._slots = np.full(budget or 0, -1, dtype=np.int64)  # positions into the dictionary
        self._normalizer = 0.0
        self._n_kernel_evaluations = 0
        self._sizes = []

    def _feed_buffer(self, X):
        """Buffer the stream's first ``_BUDGET_PROBE`` points (``budget=None``, slots).

        When the buffer fills up, fix the budget from it and run the algorithm over it;
        return the rows of ``X`` beyond the buffer.
        """
        take = min(_BUDGET_PROBE - self._buffer.shape[0], X.shape[0])
        self._buffer = np.concatenate([self._buffer, X[:take]])
        if self._buffer.shape[0] == _BUDGET_PROBE:
            self._catch_up(warn=False)  # partial_fit warns once it has also run the rest of X
            self._buffer = None  # the budget is fixed for good
        return X[take:]

    def _catch_up(self, warn=True):
        """Bring a tentative state up to date: budget from the whole buffer, algorithm over it."""
        if self._buffer is None or self._t == self._buffer.shape[0]:
            return
        d0 = effective_dimension(self._kernel(self._buffer), self._ridge)
        budget = math.ceil(8.0 * max(d0, 1.0) / self._eps**2)
        self._n_budget_points = self._buffer.shape[0]
        if budget != self._budget:
            self._restart(budget)
        # The state after t steps depends only on the budget, the seed and the first t points
        # (counter-based draws): continuing a run with the same budget equals re-running it.
        self._run(self._buffer[self._t:])
        if warn:
            self._warn_if_collapsed()

    def _run(self, X):
        if X.shape[0] == 0:
            return
        step = self._step_slots if self.variant == "slots" else self._step_binomial
        diag = self._kernel.diag(X)
        # Each step factorises a small (|D|+1)-square matrix: BLAS threads only add
        # synchronisation cost there (tens of times slower on a loaded machine).
        with threadpool_limits(limits=1, user_api="blas"):
            for row in range(X.shape[0]):
                step(X[row], float(diag[row]))

    def _warn_if_collapsed(self):
        if self._idx.shape[0] == 0 and self._normalizer > 0.0:
            # Every point was evicted: the estimates collapsed (an under-sized budget locks in too-small
            # scores, docs/nystrom.md). The message is constant so that a row-by-row stream warns once.
            why = (" (budget=None sized it from the stream's first min(1000, n_seen_) points)"
                   if self._n_budget_points is not None else "")
            warnings.warn(
                f"InkEstimate's dictionary is empty (every point was evicted: the estimates collapsed); "
                f"budget_={self._budget} is likely far too small for this stream{why}. Pass a larger `budget`, "
                "sized for the whole stream (slots: about 8 d_eff / epsilon**2).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )

    def _candidates(self, x, k_tt):
        m = self._idx.shape[0]
        k_row = self._kernel.row(self._pts, x)
        self._n_kernel_evaluations += m + 1
        K_cc = np.empty((m + 1, m + 1))
        K_cc[:m, :m] = self._K
        K_cc[:m, m] = k_row
        K_cc[m, :m] = k_row
        K_cc[m, m] = k_tt
        return K_cc

    def _step_slots(self, x, k_tt):
        m = self._idx.shape[0]
        K_cc = self._candidates(x, k_tt)
        inv_w = np.empty(m + 1)
        # w_i = c_i D / (budget tau_i): the dictionary's weights before this step; w_t = 1.
        inv_w[:m] = self._budget * self._tau / (self._counts * self._normalizer) if m else 0.0
        inv_w[m] = 1.0
        est = estimate_scores(K_cc, inv_w, self._ridge, self._scale)
        tau_old = np.append(self._tau, np.inf)
        tau_new = np.minimum(est, tau_old)
        self._normalizer += tau_new[m]
        keep_prob = np.ones(m + 1)
        if m:
            keep_prob[:m] = np.where(self._tau > 0, tau_new[:m] / np.where(self._tau > 0, self._tau, 1.0), 0.0)
        p_new = tau_new[m] / self._normalizer if self._normalizer > 0 else 0.0
        counter = np.uint64(self._t) * np.uint64(2 * self._budget)
        _kernels.update_slots(self._slots, keep_prob, p_new, m, self._seed, counter)
        counts = np.bincount(self._slots[self._slots >= 0], minlength=m + 1)
        self._commit(x, K_cc, tau_new, counts)
        # re-index the slots onto the kept positions
        remap = np.cumsum(counts > 0) - 1
        held = self._slots >= 0
        self._slots[held] = remap[self._slots[held]]

    def _step_binomial(self, x, k_tt):
        m = self._idx.shape[0]
        K_cc = self._candidates(x, k_tt)
        counts_old = np.append(self._counts, self._budget)
        tau_old = np.append(self._tau, 1.0)
        inv_w = self._budget * tau_old / counts_old  # w_i = c_i / (budget p_i)
        est = estimate_scores(K_cc, inv_w, self._ridge, self._scale)
        tau_new = np.minimum(est, tau_old)
        self._normalizer += tau_new[m]
        ratio = np.where(tau_old > 0, tau_new / tau_old, 0.0)
        counts = self._rng.binomial(counts_old, ratio)
        self._commit(x, K_cc, tau_new, counts)

    def _commit(self, x, K_cc, tau_new, counts):
        keep = counts > 0
        self._idx = np.append(self._idx, self._t)[keep]
        self._pts = np.vstack([self._pts, x[None, :]])[keep]
        self._tau = tau_new[keep]
        self._counts = counts[keep].astype(np.int64)
        self._K = K_cc[np.ix_(keep, keep)]
        self._t += 1
        self._sizes.append(int(keep.sum()))
