"""Subsampled randomized Hadamard transform (SRHT)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.random_projection import johnson_lindenstrauss_min_dim
from sklearn.utils.validation import check_is_fitted, validate_data

from .._rng import check_random_state
from .._validation import check_int, check_matrix, check_option, check_scalar, next_power_of_two
from . import _kernels
from .fwht import _redo_overflowed

__all__ = ["srht", "SRHT"]


def srht(A, sketch_size, *, random_state=None):
    """Row sketch ``S @ A`` with the subsampled randomized Hadamard transform.

    ``S = sqrt(n'/m) * P * (H / sqrt(n')) * D``: the rows of ``A`` (zero-padded
    from n to n' = 2**ceil(log2 n)) get random signs ``D``, are mixed by the
    orthonormal Hadamard transform, and ``m = sketch_size`` of the n' mixed
    rows are kept, uniformly without replacement, then rescaled so that
    ``E[(S A)^T (S A)] = A^T A``. The mixing flattens the row norms of any
    fixed subspace, so uniform subsampling afterwards embeds it: for a
    rank-k subspace, ``m = O(eps**-2 (k + log n) log k)`` rows give a
    (1 +- eps) subspace embedding with high probability.

    Parameters
    ----------
    A : array_like of shape (n, d)
    sketch_size : int
        Number of rows m of the sketch, ``1 <= m <= n'``.
    random_state : None, int, Generator or RandomState

    Returns
    -------
    SA : ndarray of shape (sketch_size, d)
        float32 for float32 input, else float64.

    References
    ----------
    .. [1] J. A. Tropp, "Improved analysis of the subsampled randomized Hadamard
       transform", Adv. Adapt. Data Anal. 3 (2011), main theorem (subspace embedding); its
       ``m^{-1/2}`` distortion rate is checked by claim
       ``hadamard.srht-subspace-embedding``.
    .. [2] N. Ailon and B. Chazelle, "The fast Johnson-Lindenstrauss transform",
       STOC 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import srht
    >>> A = np.random.default_rng(0).standard_normal((1000, 5))
    >>> SA = srht(A, 200, random_state=0)
    >>> SA.shape
    (200, 5)
    >>> s = np.linalg.svd(SA @ np.linalg.pinv(np.linalg.qr(A)[1]), compute_uv=False)
    >>> bool(0.5 < s.min() <= s.max() < 1.5)
    True
    """
    A = check_matrix(A, "A")
    n = A.shape[0]
    n_pad = next_power_of_two(n)
    m = check_int(sketch_size, "sketch_size", min_value=1, max_value=n_pad)
    rng = check_random_state(random_state)
    signs = rng.integers(0, 2, size=n) * 2 - 1
    rows = np.sort(rng.choice(n_pad, size=m, replace=False))
    # Transform along the row axis: work on the (d, n') transpose so each FWHT is contiguous.
    def signed_columns(cols):
        padded = np.zeros((A[:, cols].shape[1], n_pad), dtype=A.dtype)
        padded[:, :n] = (A[:, cols] * signs[:, None].astype(A.dtype)).T
        return padded

    scale = A.dtype.type(math.sqrt(1.0 / m))  # sqrt(n'/m) / sqrt(n')
    work = signed_columns(slice(None))
    if _kernels.fwht_rows(work, scale):
        _redo_overflowed(work, signed_columns, lambda W: _kernels.fwht_rows(W, scale))
    return _finite_sketch(np.ascontiguousarray(work[:, rows].T), "A")


def _finite_sketch(sketch, name):
    """Raise if the sketch of a finite input does not fit its dtype (partial sums that overflowed were redone)."""
    if not np.isfinite(sketch).all():
        raise ValueError(f"`{name}` is too large: its sketch overflows {sketch.dtype} (an entry of the sketch can "
                         f"reach sqrt(padded length / sketch size) times the norm of its column); rescale `{name}`.")
    return sketch


class SRHT(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Fast Johnson-Lindenstrauss embedding of the feature axis by an SRHT.

    Maps ``X`` of shape (n_samples, n_features) to (n_samples, n_components)
    by ``x -> sqrt(d'/m) * P (H/sqrt(d')) D x`` (features zero-padded to
    ``d' = 2**ceil(log2 n_features)``), in ``O(d' log d')`` per sample instead
    of the ``O(d' m)`` of a dense Gaussian projection. Squared norms are
    preserved in expectation; the map is fixed once fitted. An alternative
    to ``sklearn.random_projection.GaussianRandomProjection`` with the same
    ``n_components`` / ``eps`` parameters, and two differences: ``X`` must be
    dense (scipy.sparse is rejected), and there is no ``inverse_transform``.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Target dimension m, ``1 <= m <= d'``. ``"auto"``: the Gaussian
        Johnson-Lindenstrauss dimension of scikit-learn,
        ``johnson_lindenstrauss_min_dim(n_samples, eps=eps)``, from the number
        of samples seen by ``fit`` (a ``ValueError`` if it exceeds ``d'``). That
        rule is proven for Gaussian maps; the SRHT's proven dimension carries
        extra ``log d`` factors [2]_, but at the Gaussian dimension its
        measured worst pairwise distortion was below the Gaussian map's and
        below ``eps`` (docs/hadamard.md).
    eps : float, default=0.1
        Distortion of the ``"auto"`` rule, ``0 < eps < 1``; unused otherwise.
    random_state : None, int, Generator or RandomState

    Attributes
    ----------
    n_components_ : int
        The target dimension m (``n_components``, or the ``"auto"`` rule's).
    n_features_in_ : int
    padded_features_ : int
        d'.
    signs_ : ndarray of shape (padded_features_,)
    components_indices_ : ndarray of shape (n_components,)
        The kept rows of the mixed features.

    References
    ----------
    .. [1] N. Ailon and B. Chazelle, "The fast Johnson-Lindenstrauss transform
       and approximate nearest neighbors", SIAM J. Comput. 39 (2009).
    .. [2] F. Krahmer and R. Ward, "New and improved Johnson-Lindenstrauss
       embeddings via the restricted isometry property", SIAM J. Math. Anal.
       43 (2011).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import SRHT
    >>> X = np.random.default_rng(0).standard_normal((4, 1000))
    >>> Z = SRHT(256, random_state=0).fit_transform(X)
    >>> Z.shape
    (4, 256)
    >>> ratio = np.linalg.norm(Z, axis=1) / np.linalg.norm(X, axis=1)
    >>> bool(np.all(np.abs(ratio - 1) < 0.2))
    True
    """

    def __init__(self, n_components="auto", *, eps=0.1, random_state=None):
        self.n_components = n_components
        self.eps = eps
        self.random_state = random_state

    def fit(self, X, y=None):
        """Draw the random signs and the kept rows for ``X``'s number of features.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Only its shape is used (dense input; scipy.sparse is rejected);
            ``n_components="auto"`` sizes the map for its n_samples.
        y : ignored

        Returns
        -------
        self : SRHT
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        d = X.shape[1]
        d_pad = next_power_of_two(d)
        if isinstance(self.n_components, str):
            check_option(self.n_components, "n_components", ("auto",))
            eps = check_scalar(self.eps, "eps", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
            m = int(johnson_lindenstrauss_min_dim(X.shape[0], eps=eps))
            if m > d_pad:
                raise ValueError(
                    f"n_components='auto' with eps={eps:g} and n_samples={X.shape[0]} gives the target dimension "
                    f"{m}, above n_features={d} padded to {d_pad}: pass a larger `eps` or an integer `n_components`."
                )
        else:
            m = check_int(self.n_components, "n_components", min_value=1)
            if m > d_pad:
                raise ValueError(
                    f"`n_components` must be <= {d_pad} (n_features={d} padded to a power of two); got {m}."
                )
        rng = check_random_state(self.random_state)
        self.padded_features_ = d_pad
        self.signs_ = (rng.integers(0, 2, size=d_pad) * 2 - 1).astype(np.float64)
        self.components_indices_ = np.sort(rng.choice(d_pad, size=m, replace=False))
        self.n_components_ = m
        self._n_features_out = m
        return self

    def transform(self, X):
        """Embed the rows of ``X``: ``sqrt(d'/m) P (H/sqrt(d')) D x`` for every row x.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            In the dtype of ``X`` (float32 is kept; integers become float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        def signed_rows(rows):
            padded = np.zeros((X[rows].shape[0], self.padded_features_), dtype=X.dtype)
            padded[:, : X.shape[1]] = X[rows]
            padded *= self.signs_.astype(X.dtype)
            return padded

        scale = X.dtype.type(math.sqrt(1.0 / self.n_components_))
        work = signed_rows(slice(None))
        if _kernels.fwht_rows(work, scale):
            _redo_overflowed(work, signed_rows, lambda W: _kernels.fwht_rows(W, scale))
        return _finite_sketch(np.ascontiguousarray(work[:, self.components_indices_]), "X")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
