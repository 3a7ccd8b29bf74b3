"""Oja's algorithm (normalised at every row), one or several learning rates at once."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._rng import check_random_state
from .._validation import check_array, check_int, check_option, check_scalar
from . import _kernels
from ._stream import iter_chunks

__all__ = ["OjaTopEigenvector"]


class OjaTopEigenvector(BaseEstimator):
    """Top eigenvector of ``A^T A`` by Oja's rule ``z <- (z + eta_t (a^T z) a) / ||.||``, one pass.

    With a *fixed* rate this is the algorithm analysed by Price & Xun (2024)
    and re-analysed by Kacham & Woodruff (2024): in random order it succeeds
    once ``R = lambda_1/lambda_2 >~ log d`` for a well-chosen rate, and there
    is an instance with ``R ~ log d / log log d`` on which *every* fixed rate
    fails (``lrla.datasets.make_oja_hard_instance``). The right rate scales
    like ``log(d) / lambda_1``, unknown in a stream; passing an array of rates
    runs all of them at once (one numba pass) and reports the one with the
    largest growth per unit rate, ``log_growth_ / rate`` (the growth of
    ``log ||z||`` before renormalisation, about ``rate * sum (a^T z)^2`` for a
    healthy run, flattened by ``log`` when the rate is too large): the
    practical multi-rate variant of Price & Xun, reconstructed.

    Parameters
    ----------
    dim : int
        Row length d.
    learning_rate : float or array_like of float
        ``eta > 0``, or several rates (multi-rate mode).
    schedule : {"constant", "decaying"}, default "constant"
        ``"decaying"`` uses ``eta_t = eta * t0 / (t0 + t)`` (the classical
        Oja schedule, guarantees for i.i.d. rows only).
    decay_offset : float, optional
        ``t0`` of the decaying schedule (default ``10 * dim``).
    init : array_like of shape (dim,), optional
        Start vector (default: a Gaussian vector from ``random_state``).
    random_state : None, int, Generator or RandomState

    Attributes
    ----------
    vector_ : ndarray of shape (dim,)
        Unit estimate (the selected rate's in multi-rate mode); ``None``
        until a non-zero row has been seen.
    vectors_ : ndarray of shape (dim, n_rates)
        One unit vector per rate (NaN for a rate whose iterate overflowed).
    learning_rates_ : ndarray of shape (n_rates,)
    selected_rate_ : float
    log_growth_ : ndarray of shape (n_rates,)
        ``sum_t log ||z_{t-1} + eta_t (a_t^T z_{t-1}) a_t||``.
    energy_ : ndarray of shape (n_rates,)
        ``sum_t (a_t^T z_{t-1})^2``.
    n_seen_ : int
    stored_rows_ : int
        Always 0: Oja stores no rows.

    Notes
    -----
    The iterate is kept in float64 (rows may be float32). It is normalised at
    every row in effect, but not in storage: the direction is updated
    unnormalised (the update is linear) next to an exact scale factor, and
    renormalised when that factor falls below 1e-100, so large rates do not
    overflow unless ``eta * ||a||^2`` is astronomically large (beyond roughly 1e50); a
    rate whose iterate does overflow is never selected (its column of
    ``vectors_`` is NaN), and if every rate does, ``partial_fit`` raises
    ``ValueError``. A row then costs one dot product and one update over its
    non-zero entries per rate (sparse rows, such as those of
    ``lrla.datasets.make_oja_hard_instance``, are cheap). The result does not
    depend on how the stream is chunked.

    References
    ----------
    .. [1] E. Price and Z. Xun, "Spectral guarantees for adversarial streaming
       PCA", FOCS 2024 (arXiv:2408.10332).
    .. [2] P. Kacham and D. P. Woodruff, "Approximating the top eigenvector in
       random order streams", NeurIPS 2024 (arXiv:2412.11963): fixed-rate Oja
       succeeds in random order for ``R = Omega(log d)`` (claim
       ``streaming.px-random-order``) and fails for every fixed rate on a
       simple instance (claim ``streaming.px-hard-instance``).
    .. [3] E. Oja, "Simplified neuron model as a principal component analyzer",
       J. Math. Biol. 15 (1982).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import OjaTopEigenvector
    >>> from lrla.datasets import make_spiked_stream
    >>> A, v1, R = make_spiked_stream(20000, 64, gap=20.0, n_heavy=0, random_state=0)
    >>> oja = OjaTopEigenvector(64, learning_rate=[1.0, 4.0, 16.0, 64.0], random_state=0).fit(A)
    >>> bool(abs(oja.vector_ @ v1) > 0.9)
    True
    """

    def __init__(self, dim, *, learning_rate, schedule="constant", decay_offset=None, init=None,
                 random_state=None):
        self.dim = dim
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.decay_offset = decay_offset
        self.init = init
        self.random_state = random_state

    def fit(self, rows):
        """Consume a whole stream (array, memmap or iterator of chunks) from scratch."""
        self._reset()
        self.partial_fit(rows)
        if self.n_seen_ == 0:
            raise ValueError("`rows` is an empty stream.")
        if self.vector_ is None:
            raise ValueError("the stream is all zeros (or orthogonal to the start vector, or its entries are so "
                             "small, below ~1e-154, that their squares underflow to 0: rescale it): "
                             "its top eigenvector is undefined.")
        return self

    def partial_fit(self, rows):
        """Consume the next rows of the stream (one row, a 2-D chunk, a memmap or an iterator of chunks)."""
        if not hasattr(self, "_W"):
            self._reset()
        for chunk in iter_chunks(rows, self._d, "rows"):
            _kernels.oja_pass(chunk, self.n_seen_, self.learning_rates_, self._t0, self._W, self._scale,
                              self.log_growth_, self.energy_, self._nonzero)
            self.n_seen_ += chunk.shape[0]
        self._select()
        return self

    def _reset(self):
        d = check_int(self.dim, "dim", min_value=1)
        rates = check_array(self.learning_rate, "learning_rate", ndim=(0, 1), dtype=np.float64).ravel()
        if np.any(rates <= 0):
            raise ValueError(f"`learning_rate` must be > 0; got {self.learning_rate!r}.")
        check_option(self.schedule, "schedule", ("constant", "decaying"))
        t0 = 0.0
        if self.schedule == "decaying":
            t0 = 10.0 * d if self.decay_offset is None else check_scalar(
                self.decay_offset, "decay_offset", low=0.0, low_inclusive=False)
        if self.init is None:
            z = check_random_state(self.random_state).standard_normal(d)
        else:
            z = check_array(self.init, "init", ndim=1, dtype=np.float64)
            if z.size != d:
                raise ValueError(f"`init` must have length dim={d}; got {z.size}.")
        nz = np.linalg.norm(z)
        if nz == 0:
            raise ValueError("`init` must be non-zero.")
        self._d, self._t0 = d, t0
        self.learning_rates_ = rates
        # Iterates unnormalised, one row per rate (z_j = _scale[j] * _W[j], see _kernels.oja_pass).
        self._W = np.ascontiguousarray(np.repeat((z / nz)[None, :], rates.size, axis=0))
        self._scale = np.ones(rates.size)
        self._nonzero = np.empty(d, dtype=np.int64)
        self.log_growth_ = np.zeros(rates.size)
        self.energy_ = np.zeros(rates.size)
        self.n_seen_ = 0
        self.stored_rows_ = 0
        self.vector_ = None
        self.vectors_ = self._W.T.copy()
        self.selected_rate_ = None

    def _select(self):
        W = self._W
        norms = np.linalg.norm(W, axis=1, keepdims=True)
        if not np.isfinite(norms).all():  # a large but finite iterate: scale it before taking the norm
            with np.errstate(invalid="ignore", over="ignore"):
                W = W / np.abs(W).max(axis=1, keepdims=True)
                norms = np.linalg.norm(W, axis=1, keepdims=True)
        # A rate far too large for the scale of the rows (eta ||a||^2 beyond roughly 1e50) overflows
        # the iterate: its growth or energy is inf or NaN, which argmax would select.
        # (a renormalisation whose squared norm overflowed leaves a zero iterate)
        stable = (np.isfinite(self.log_growth_) & np.isfinite(self.energy_) & np.isfinite(W).all(axis=1)
                  & (norms[:, 0] > 0))
        if not stable.any():
            raise ValueError(
                f"the iterate overflowed for every `learning_rate` (largest {float(self.learning_rates_.max()):.3g}):"
                " the rate is far too large for the scale of the rows; use a smaller rate or rescale the rows.")
        if not np.any(self.energy_[stable] > 0):
            return
        score = np.where(stable, self.log_growth_ / self.learning_rates_, -np.inf)
        j = int(np.argmax(score))
        self.selected_rate_ = float(self.learning_rates_[j])
        with np.errstate(invalid="ignore"):
            self.vectors_ = (W / norms).T.copy()
        v = self.vectors_[:, j].copy()
        v *= 1.0 if v[np.argmax(np.abs(v))] >= 0 else -1.0
        self.vector_ = v
