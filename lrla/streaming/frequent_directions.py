"""Frequent Directions: a deterministic, mergeable covariance sketch (Liberty; Ghashami et al.)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .._validation import check_int
from ._stream import iter_chunks

__all__ = ["FrequentDirections"]


class FrequentDirections(BaseEstimator):
    """Deterministic sketch ``B`` (fewer than ``2 sketch_size`` rows) with ``0 <= A^T A - B^T B <= delta I``.

    Rows are written into a buffer of ``2 * sketch_size`` rows; when it is
    full, its SVD is taken and every squared singular value is reduced by
    ``delta = sigma_l^2`` (``l = sketch_size``), which zeroes at least half
    of the buffer. The reductions add up to the certified error
    ``covariance_error_`` ``>= ||A^T A - B^T B||_2``, and for every ``k < l``,
    ``covariance_error_ <= ||A - A_k||_F^2 / (l - k)``. Works in any order;
    sketches of two streams merge into a sketch of their concatenation with
    the errors added.

    Parameters
    ----------
    dim : int
        Row length d.
    sketch_size : int
        l >= 1. Space: ``2 l d`` floats.

    Attributes
    ----------
    vector_ : ndarray of shape (dim,)
        Top right singular vector of the sketch (``None`` before a non-zero row).
    eigenvalue_ : float
        ``sigma_1(B)^2``, a lower bound on ``lambda_1(A^T A)`` within ``covariance_error_``.
    covariance_error_ : float
        ``delta`` with ``0 <= A^T A - B^T B <= delta I`` (sum of the shrinkages).
    sin_theta_bound_ : float
        A-posteriori bound on ``sin angle(vector_, v1)`` from the sketch alone:
        ``delta / (mu_1 - mu_2 - delta)`` (``mu_i = sigma_i(B)^2``; Davis-Kahan
        with Weyl), ``inf`` when the sketch cannot certify a gap.
    sketch_ : ndarray of shape (n_sketch_rows, dim)
        The sketch ``B``: its non-zero rows, fewer than ``2 * sketch_size``
        (at most ``sketch_size`` right after a shrink; rows added since are
        kept exactly), float64.
    frobenius_sq_ : float
        ``||A||_F^2`` of the rows seen.
    n_seen_ : int
    stored_rows_ : int
        ``2 * sketch_size`` (the buffer).

    Notes
    -----
    Computes in float64. Deterministic; the result does not depend on how
    the stream is chunked.

    References
    ----------
    .. [1] E. Liberty, "Simple and deterministic matrix sketching", KDD 2013.
    .. [2] M. Ghashami, E. Liberty, J. M. Phillips and D. P. Woodruff,
       "Frequent Directions: simple and deterministic matrix sketching",
       SIAM J. Comput. 45 (2016), Theorem 1.1 (the covariance bound), which
       with Davis-Kahan bounds the angle checked by claim ``streaming.fd-bound``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import FrequentDirections
    >>> A = np.random.default_rng(0).standard_normal((500, 20)) * np.linspace(3, 0.1, 20)
    >>> fd = FrequentDirections(20, sketch_size=8).fit(A)
    >>> gap = np.linalg.eigvalsh(A.T @ A - fd.sketch_.T @ fd.sketch_)
    >>> bool(gap.min() > -1e-9 and gap.max() <= fd.covariance_error_ + 1e-9)
    True
    """

    def __init__(self, dim, sketch_size):
        self.dim = dim
        self.sketch_size = sketch_size

    @property
    def sketch_(self):
        """The non-zero rows of the sketch B, shape (< 2 sketch_size, dim)."""
        if not hasattr(self, "_B"):
            raise NotFittedError("This FrequentDirections has seen no rows yet; call `fit` or `partial_fit` first.")
        return self._B[: self._filled].copy()

    def fit(self, rows):
        """Sketch a whole stream (array, memmap or iterator of chunks) from scratch."""
        self._reset()
        self.partial_fit(rows)
        if self.n_seen_ == 0:
            raise ValueError("`rows` is an empty stream.")
        if self.frobenius_sq_ == 0.0:
            raise ValueError("the stream is all zeros (or its entries are so small, below ~1e-154, that their "
                             "squares underflow to 0: rescale it): its top eigenvector is undefined.")
        return self

    def partial_fit(self, rows):
        """Add the next rows (one row, a 2-D chunk, a memmap or an iterator of chunks)."""
        if not hasattr(self, "_B"):
            self._reset()
        for chunk in iter_chunks(rows, self._d, "rows"):
            energy = float(np.einsum("ij,ij->", chunk, chunk, dtype=np.float64))
            if not math.isfinite(self.frobenius_sq_ + energy):  # before the SVD, which would hang on inf
                raise ValueError("`rows` is too large: the sum of squared row norms overflows float64 (entries "
                                 "of about 1e150 or more); rescale the stream.")
            i = 0
            while i < chunk.shape[0]:
                take = min(chunk.shape[0] - i, self._B.shape[0] - self._filled)
                self._B[self._filled:self._filled + take] = chunk[i:i + take]
                self._filled += take
                i += take
                if self._filled == self._B.shape[0]:
                    self._shrink()
            self.frobenius_sq_ += energy
            self.n_seen_ += chunk.shape[0]
        self._summarise()
        return self

    def merge(self, other):
        """Fold the sketch of another stream into this one (in place); returns self.

        Afterwards this sketch covers both streams and ``covariance_error_`` is
        the sum of both errors plus the new shrinkage, so the bound still holds.
        """
        if not isinstance(other, FrequentDirections) or not hasattr(other, "_B"):
            raise TypeError("`other` must be a fitted FrequentDirections.")
        if not hasattr(self, "_B"):
            self._reset()
        if other._d != self._d:
            raise ValueError(f"`other` has dim={other._d}; this sketch has dim={self._d}.")
        extra = other._B[: other._filled]
        self.covariance_error_ += other.covariance_error_
        self.frobenius_sq_ += other.frobenius_sq_
        self.n_seen_ += other.n_seen_
        i = 0
        while i < extra.shape[0]:
            take = min(extra.shape[0] - i, self._B.shape[0] - self._filled)
            self._B[self._filled:self._filled + take] = extra[i:i + take]
            self._filled += take
            i += take
            if self._filled == self._B.shape[0]:
                self._shrink()
        self._summarise()
        return self

    def _reset(self):
        d = check_int(self.dim, "dim", min_value=1)
        ell = check_int(self.sketch_size, "sketch_size", min_value=1)
        self._d, self._ell = d, ell
        self._B = np.zeros((2 * ell, d))
        self._filled = 0
        self.covariance_error_ = 0.0
        self.frobenius_sq_ = 0.0
        self.n_seen_ = 0
        self.stored_rows_ = 2 * ell
        self.vector_ = None
        self.eigenvalue_ = None
        self.sin_theta_bound_ = math.inf

    def _shrink(self):
        _, s, Vt = np.linalg.svd(self._B[: self._filled], full_matrices=False)
        s2 = s * s
        delta = s2[self._ell - 1] if s2.size >= self._ell else 0.0
        keep = s2 > delta
        r = int(keep.sum())
        self._B[:] = 0.0
        self._B[:r] = np.sqrt(s2[:r] - delta)[:, None] * Vt[:r]
        self._filled = r
        self.covariance_error_ += float(delta)

    def _summarise(self):
        if self._filled == 0:
            return
        _, s, Vt = np.linalg.svd(self._B[: self._filled], full_matrices=False)
        if s[0] == 0.0:
            return
        v = Vt[0].copy()
        v *= 1.0 if v[np.argmax(np.abs(v))] >= 0 else -1.0
        self.vector_ = v
        mu1 = float(s[0] ** 2)
        mu2 = float(s[1] ** 2) if s.size > 1 else 0.0
        self.eigenvalue_ = mu1
        denom = mu1 - mu2 - self.covariance_error_
        delta = self.covariance_error_
        self.sin_theta_bound_ = 0.0 if delta == 0.0 else (min(1.0, delta / denom) if denom > 0 else math.inf)
