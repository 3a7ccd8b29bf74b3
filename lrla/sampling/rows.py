"""Row sampling and l_p reweighting: ``sample_rows``, ``sensitivity_sample`` and ``RowSample``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._rng import check_random_state
from .._validation import check_array, check_bool, check_int, check_matrix, check_option, check_scalar
from ._common import check_sampling_p, check_tall, column_basis
from .scores import lewis_weights, lp_sensitivities

__all__ = ["RowSample", "sample_rows", "sensitivity_sample", "SCHEMES", "scheme_scores"]

SCHEMES = ("sensitivity", "root_leverage", "leverage", "lewis", "mixed", "l2_augmented", "uniform")


@dataclass(frozen=True)
class RowSample:
    """A sampled and reweighted subset of rows: the l_p sampling matrix S in compact form.

    Attributes
    ----------
    indices : ndarray of int64, shape (m,)
        Sampled row indices (sorted; repeated for i.i.d. draws that hit a row twice).
    weights : ndarray of float64, shape (m,)
        l_p weights ``1/q_i`` (Bernoulli) or ``1/(m pi_i)`` (i.i.d.), so that
        ``sum_j weights_j |a_{indices_j}.x|^p`` is unbiased for ``||Ax||_p^p``.
    matrix : ndarray or scipy.sparse CSR array, shape (m, d)
        ``S A``: the sampled rows scaled by ``weights**(1/p)``.
    p : float
        The exponent the weights were made for.
    n_source_rows : int or None
        Number of rows n of the sampled matrix ``A`` (None if unknown), so that
        :meth:`apply` can reject a ``B`` with a different number of rows.
    """

    indices: np.ndarray
    weights: np.ndarray
    matrix: object
    p: float = 2.0
    n_source_rows: int | None = None

    @property
    def n_rows(self):
        """Number of sampled rows m."""
        return int(self.indices.size)

    def apply(self, B):
        """``S B`` for another matrix or vector ``B`` with the same rows as ``A`` (e.g. a target ``b``)."""
        B = check_array(B, "B", ndim=(1, 2))
        n = B.shape[0]
        if (self.n_source_rows is not None and n != self.n_source_rows) or (
            self.indices.size and n <= self.indices.max()
        ):
            want = self.n_source_rows if self.n_source_rows is not None else f"> {self.indices.max()}"
            raise ValueError(f"`B` must have one row per row of the sampled matrix ({want}); got {n}.")
        scale = self.weights ** (1.0 / self.p)
        return B[self.indices] * (scale if B.ndim == 1 else scale[:, None])


def _check_scores(scores, n):
    scores = check_array(scores, "scores", ndim=1, dtype=np.float64)
    if scores.shape[0] != n:
        raise ValueError(f"`scores` must have one entry per row of A ({n}); got {scores.shape[0]}.")
    if np.any(scores < 0):
        raise ValueError("`scores` must be non-negative.")
    total = float(scores.sum())
    if np.isinf(total):  # the sum of finite scores overflowed: only their ratios matter
        scores = scores / scores.max()
        total = float(scores.sum())
    if total <= 0.0:
        raise ValueError("`scores` must have a positive sum.")
    return scores, total


def sample_rows(A, scores, n_samples, *, p=2, replace=True, random_state=None):
    """Sample rows of ``A`` with probabilities proportional to ``scores`` and reweight them for l_p.

    Two conventions, both with ``E ||S A x||_p^p = ||A x||_p^p`` for every x:

    * ``replace=True``: ``m = n_samples`` i.i.d. draws from ``pi_i = s_i / S``
      (``S = sum(scores)``), each drawn row scaled by ``(m pi_i)^{-1/p}``;
      exactly m rows.
    * ``replace=False``: independent Bernoulli: row i is kept with probability
      ``q_i = min(1, m s_i / S)`` and scaled by ``q_i^{-1/p}`` (the canonical
      l_p sampling matrix); ``sum(q) <= m`` rows in expectation.

    Parameters
    ----------
    A : array_like or scipy.sparse matrix of shape (n, d)
    scores : array_like of shape (n,)
        Non-negative importance scores (need not be normalised).
    n_samples : int (``replace=True``) or float (``replace=False``) > 0
        Number of draws m, resp. the oversampling m in ``q_i = min(1, m s_i/S)``.
    p : float >= 1, default 2
    replace : bool, default True
    random_state : None, int, Generator or RandomState

    Returns
    -------
    RowSample

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023 (the l_p sampling matrix: keep row i with probability
       q_i, scale by q_i^{-1/p}). Unbiasedness
       is checked by claim ``sampling.unbiased``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import sample_rows
    >>> A = np.arange(12.0).reshape(6, 2)
    >>> s = sample_rows(A, np.ones(6), 3, p=1, random_state=0)
    >>> s.matrix.shape, s.weights.tolist()
    ((3, 2), [2.0, 2.0, 2.0])
    """
    A = check_matrix(A, "A", accept_sparse=True)
    n = A.shape[0]
    scores, total = _check_scores(scores, n)
    p = check_sampling_p(p)
    check_bool(replace, "replace")
    rng = check_random_state(random_state)
    if replace:
        m = check_int(n_samples, "n_samples", min_value=1)
        pi = scores / total
        idx = np.sort(rng.choice(n, size=m, replace=True, p=pi))
        weights = 1.0 / (m * pi[idx])
    else:
        m = check_scalar(n_samples, "n_samples", low=0.0, low_inclusive=False)
        q = np.minimum(1.0, m * scores / total)
        idx = np.flatnonzero(rng.random(n) < q)
        weights = 1.0 / q[idx]
    return _make_sample(A, idx.astype(np.int64), weights, p)


def _make_sample(A, idx, weights, p):
    scale = weights ** (1.0 / p)
    if sp.issparse(A):
        matrix = sp.csr_array(sp.diags_array(scale.astype(A.dtype)) @ A[idx])
    else:
        matrix = A[idx] * scale.astype(A.dtype)[:, None]
    return RowSample(indices=idx, weights=weights, matrix=matrix, p=p, n_source_rows=A.shape[0])


def scheme_scores(A, p, scheme, *, sensitivity_method="exact"):
    """The importance scores one sampling scheme uses (see :func:`sensitivity_sample`)."""
    check_option(scheme, "scheme", SCHEMES)
    A = check_tall(A)
    n = A.shape[0]
    if scheme == "uniform":
        return np.ones(n)
    Q = column_basis(A)[0]
    tau = np.einsum("ij,ij->i", Q, Q)
    d = Q.shape[1]
    if scheme == "leverage":
        return tau
    if scheme == "root_leverage":
        return tau ** (p / 2.0)
    if scheme == "lewis":
        return lewis_weights(A, p)
    s = lp_sensitivities(A, p, method=sensitivity_method)
    if scheme == "sensitivity":
        return s
    return s / s.sum() + tau / d  # mixed / l2_augmented: half the budget on each


def sensitivity_sample(A, p, n_samples, *, scheme="sensitivity", replace=False, sensitivity_method="exact",
                       random_state=None):
    """l_p sensitivity sampling (Woodruff-Yasuda) and the related schemes.

    Parameters
    ----------
    A : array_like of shape (n, d), n >= d
    p : float >= 1
    n_samples : float or int
        Oversampling m (``replace=False``: ``q_i = min(1, m s_i/S)``) or the
        number of i.i.d. draws (``replace=True``); see :func:`sample_rows`.
    scheme : str, default "sensitivity"
        ``"sensitivity"``: the l_p sensitivities (``sensitivity_method`` picks
        exact values or the Lewis upper bounds); ``"root_leverage"``:
        ``tau^{p/2}``; ``"leverage"``: ``tau``; ``"lewis"``: the l_p Lewis
        weights; ``"mixed"`` (WY's leverage + sensitivity mixture for p > 2)
        and ``"l2_augmented"`` (Munteanu-Omlor, p <= 2) both use
        ``s_i/S + tau_i/d``, i.e. half of the budget on each part;
        ``"uniform"``.
    replace : bool, default False
        Independent Bernoulli sampling (the canonical l_p sampling matrix) by
        default; ``True`` for i.i.d. draws.
    sensitivity_method : {"exact", "lewis", "bound"}, default "exact"
        How :func:`lp_sensitivities` computes ``s`` for the schemes that use it.
        ``"exact"`` solves one convex program per row of ``A``, which can cost
        more than the problem the sample is meant to shrink: drawing an l_1
        sample of a 5000 x 11 ``[A b]`` took 73 s, against 2.5 s for the l_1
        regression on all rows and 0.3 s with ``"lewis"`` (upper bounds, valid
        for sampling at a larger ``n_samples``). Use ``"lewis"`` beyond a few
        hundred rows.
    random_state : None, int, Generator or RandomState

    Returns
    -------
    RowSample

    References
    ----------
    .. [1] D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity
       sampling", ICML 2023: ``O~(eps^-2 S^{2/p})`` rows for p < 2 and
       ``O~(eps^-2 S^{2-2/p})`` for p > 2 (S the total sensitivity); the
       log-log slope of the measured sample complexity in S is checked by
       claim ``sampling.sample-complexity``.
    .. [2] A. Munteanu and S. Omlor, "Optimal bounds for l_p sensitivity
       sampling via l_2 augmentation", ICML 2024 (``"l2_augmented"``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.sampling import sensitivity_sample
    >>> A = np.random.default_rng(0).standard_normal((200, 3))
    >>> sample = sensitivity_sample(A, 1.0, 60, random_state=0)
    >>> sample.matrix.shape[1], 30 < sample.n_rows < 90
    (3, True)
    """
    A = check_tall(A)
    p = check_sampling_p(p)
    check_option(scheme, "scheme", SCHEMES)
    check_option(sensitivity_method, "sensitivity_method", ("exact", "lewis", "bound"))
    scores = scheme_scores(A, p, scheme, sensitivity_method=sensitivity_method)
    return sample_rows(A, scores, n_samples, p=p, replace=replace, random_state=random_state)
