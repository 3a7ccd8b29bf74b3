"""RLS-Nystroem: a drop-in for scikit-learn's Nystroem with ridge-leverage-score landmarks."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.linalg import LinAlgError
from scipy.linalg.blas import dtrsm
from scipy.linalg.lapack import dpocon, dpotrf, dsyevd, dtrtri
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._rng import check_random_state
from .._validation import check_array, check_int, check_option, check_scalar
from .._warnings import user_stacklevel
from ._kernel import KernelFunction, resolve_kernel
from .ink import InkEstimate
from .leverage import musco_ridge, ridge_leverage_scores

__all__ = ["RLSNystroem"]

SAMPLINGS = ("ink", "rls", "uniform", "recursive")
_DEFAULT_COMPONENTS = 100


def _sample_without_replacement(rng, scores, size):
    """``size`` distinct indices drawn successively with probability proportional to ``scores``.

    Exponential keys ``E_i / p_i`` and the ``size`` smallest (Efraimidis and
    Spirakis, 2006): the same law as drawing one index at a time and
    renormalising, in O(n) with no loop over the draws.
    """
    p = np.maximum(scores, 1e-12 * max(float(scores.sum()), 1e-300))
    keys = rng.standard_exponential(scores.shape[0]) / p
    if size >= scores.shape[0]:
        return np.argsort(keys)
    return np.argpartition(keys, size - 1)[:size]


# A level's kernel block is evaluated in column chunks of about this many bytes instead of whole.
# The whole block (|sample| x n: 1.1 MB for digits at m = 100) was a fresh allocation per level
# that glibc served with mmap, so each fit paid ~670 page faults on first touch, and the block
# left L2 between the gemm, the exponentials and the triangular solve. Chunks keep it in L2 and
# reuse one buffer per level; 512 KiB was the best of 64 KiB ... 2 MB measured on digits and
# clusters+outliers (smaller chunks pay more Python and BLAS call overhead when d is small).
_CHUNK_BYTES = 1 << 19


def _rls_quadratic_forms(kernel, X, rows, Xs, xs_sq, sq_norms, L, out):
    """``out[i] = k_i^T M^{-1} k_i = ||L^{-1} k(Xs, X[rows[i]])||^2`` with ``M = L L^T``, chunk by chunk.

    Each chunk of columns ``k(Xs, X[rows[a:b]])`` is computed into one reused
    buffer, as the C-ordered (|Xs|, b - a) block whose transpose is the
    Fortran-ordered matrix that a right-side ``dtrsm`` overwrites with
    ``K^T L^{-T}`` in place; the squared row norms of that are the forms.
    """
    s = Xs.shape[0]
    width = max(16, _CHUNK_BYTES // (8 * s))
    block = np.empty(s * min(width, rows.shape[0]))
    points = np.empty((min(width, rows.shape[0]), X.shape[1]), dtype=X.dtype)
    for start in range(0, rows.shape[0], width):
        stop = min(start + width, rows.shape[0])
        chunk = rows[start:stop]
        Xc = np.take(X, chunk, axis=0, out=points[: stop - start], mode="clip")  # "raise" would buffer `out`
        xc_sq = sq_norms[chunk] if sq_norms is not None else None
        KT = kernel.block(Xs, Xc, xs_sq, xc_sq, out=block[: s * (stop - start)].reshape(s, stop - start))
        B = dtrsm(1.0, L, KT.T, side=1, lower=1, trans_a=1, overwrite_b=1)
        np.einsum("ij,ij->i", B, B, out=out[start:stop])
    return out


def recursive_rls_indices(kernel, X, n_landmarks, rng, ridge=None):
    """Recursive ridge leverage score sampling of Musco & Musco (2017), ported from their MATLAB.

    The data is halved recursively (uniform nested samples of sizes n, n/2, ...,
    about ``n_landmarks`` at the base). Going up, each level estimates the RLS
    of its points from the weighted sample of the level below,
    ``min(1, oversample (k_ii - k_i^T (SKS + lambda W^{-2})^{-1} k_i) / lambda)``,
    and keeps each point by a Bernoulli draw (weights ``1/sqrt(p)``). The top level
    draws exactly ``n_landmarks`` points without replacement proportionally to
    its estimates. ``lambda`` is the rule of :func:`musco_ridge` at every level,
    unless ``ridge`` is given. Cost: O(n s) kernel evaluations, O(n s^2) time,
    O(s^2 + chunk) memory beyond the data: a level's kernel block is never
    stored whole (:func:`_rls_quadratic_forms`).
    The kernel blocks and the quadratic forms are float64 whatever the dtype of
    ``X`` (the estimates subtract ``k_i^T M^{-1} k_i`` from ``k_ii``).
    """
    n = X.shape[0]
    s = n_landmarks
    if s >= n:
        return rng.permutation(n)[:s]
    oversample = math.log(max(s, 2))
    n_levels = math.ceil(math.log2(n / s))
    perm = rng.permutation(n)
    sizes = [n]
    for _ in range(n_levels):
        sizes.append(math.ceil(sizes[-1] / 2))
    samp = np.arange(sizes[-1])  # positions in the sampling order perm (each level is a prefix of it)
    weights = np.ones(samp.shape[0])
    X = X.astype(np.float64, copy=False) if kernel.is_rbf else X
    sq_norms = np.einsum("ij,ij->i", X, X) if kernel.is_rbf else None
    k_diag = kernel.diag(X).astype(np.float64, copy=False)
    quad = np.empty(n)
    for level in range(n_levels - 1, -1, -1):
        size = sizes[level]
        rows, sample_rows = perm[:size], perm[samp]
        Xs = X[sample_rows]
        xs_sq = sq_norms[sample_rows] if sq_norms is not None else None
        SKS = kernel.block(Xs, Xs, xs_sq, xs_sq)
        lam = ridge if ridge is not None else musco_ridge(SKS, weights, s)
        M = SKS + np.diag(lam / weights**2)
        L, info = dpotrf(M.T, lower=1, clean=0, overwrite_a=1)  # M.T: the same matrix, Fortran-ordered (no copy)
        if info == 0:  # k_i^T M^{-1} k_i = ||L^{-1} k_i||^2 from one Cholesky
            _rls_quadratic_forms(kernel, X, rows, Xs, xs_sq, sq_norms, L, quad[:size])
        else:
            KT = kernel.block(Xs, X[rows], xs_sq, sq_norms[rows] if sq_norms is not None else None)
            B = np.linalg.lstsq(SKS + np.diag(lam / weights**2), KT, rcond=None)[0]
            quad[:size] = np.einsum("ji,ji->i", KT, B)
        raw = np.maximum(0.0, k_diag[rows] - quad[:size]) / lam
        if level > 0:
            levs = np.minimum(1.0, oversample * raw)
            samp = np.flatnonzero(rng.random(size) < levs)
            if samp.size == 0:  # every estimate vanished: fall back to a uniform sample
                samp = rng.choice(size, size=min(s, size), replace=False)
                levs = np.ones(size)
            weights = np.sqrt(1.0 / np.maximum(levs[samp], 1e-300))
        else:
            samp = _sample_without_replacement(rng, np.minimum(1.0, raw), s)
    return perm[samp]


def _stable_inverse_sqrt(K_mm):
    """Symmetric ``K_mm^{-1/2}`` with eigenvalues below ``m * eps * lambda_max`` dropped (set to 0).

    Dropping, rather than clipping at a fixed 1e-12 as scikit-learn does, keeps
    ``Z Z^T = K_nm K_mm^+ K_mn`` below K (positive semi-definite error) when
    landmarks are (near) duplicates.
    """
    lam, V, info = dsyevd(K_mm, compute_v=1, lower=1)
    if info != 0:
        raise LinAlgError(f"dsyevd failed to converge (info={info})")
    cutoff = max(float(lam[-1]), 0.0) * K_mm.shape[0] * np.finfo(np.float64).eps
    keep = lam > cutoff
    Vk = V[:, keep] / np.sqrt(lam[keep])
    return Vk @ V[:, keep].T


def _feature_normalization(K_mm):
    """A matrix ``N`` with ``N^T N = K_mm^+``, so that ``Z = k(X, landmarks) N^T`` has ``Z Z^T = K_nm K_mm^+ K_mn``.

    The inverse of the lower Cholesky factor when ``K_mm`` is numerically
    definite (LAPACK's reciprocal condition estimate above ``m eps``, the
    cut-off of :func:`_stable_inverse_sqrt`); otherwise the symmetric
    pseudo-inverse square root. The factor costs about a tenth of the
    eigendecomposition (``potrf`` + ``trtri`` against ``syevd``: 0.1 vs
    1.0 ms at m = 100), and the approximation it gives was as accurate or
    more (smallest eigenvalue of ``K - Z Z^T`` 10-100 times closer to 0 on
    digits and clusters+outliers, m = 25...400). The feature map differs from
    scikit-learn's symmetric one by an orthogonal rotation of the m features.
    """
    m = K_mm.shape[0]
    L, info = dpotrf(K_mm, lower=1, clean=1)
    if info == 0:
        rcond, info = dpocon(L, float(np.abs(K_mm).sum(axis=0).max()), uplo="L")
        if info == 0 and rcond > m * np.finfo(np.float64).eps:
            L_inv, info = dtrtri(L, lower=1, overwrite_c=1)
            if info == 0:
                return L_inv
    return _stable_inverse_sqrt(K_mm)


class RLSNystroem(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nystroem kernel feature map with ridge-leverage-score landmark selection.

    Same contract as :class:`sklearn.kernel_approximation.Nystroem` (two
    differences: ``X`` must be dense, where scikit-learn also takes
    scipy.sparse, and there is no ``n_jobs``): ``fit``
    picks ``m`` landmarks among the rows of ``X``; ``transform`` maps ``X`` to
    ``Z = k(X, landmarks) N^T`` of shape (n_samples, m) with ``N^T N = K_mm^+``, so that
    ``Z Z^T = K_nm K_mm^+ K_mn`` approximates the kernel matrix. Uniform
    landmarks (scikit-learn's choice) miss small clusters and outliers of
    coherent data; landmarks drawn by ridge leverage scores cover them, giving
    ``||K - Z Z^T||_2 <~ ridge`` with about ``d_eff(ridge) log`` landmarks.

    Parameters
    ----------
    kernel : str or callable, default "rbf"
        As in scikit-learn's ``Nystroem`` (any ``pairwise_kernels`` name except
        "precomputed", or a callable on two rows).
    n_components : int, optional
        Number of landmarks, ``1 <= n_components <= n_samples``. Default:
        ``min(100, n_samples)`` (scikit-learn's 100, truncated silently); for
        ``sampling="ink"`` the default keeps the whole INK dictionary, and an
        explicit value keeps that many of its points, drawn without
        replacement in proportion to their RLS estimates.
    sampling : {"recursive", "rls", "ink", "uniform"}, default "recursive"
        ``"recursive"``: recursive RLS sampling of Musco & Musco (O(n m)
        kernel evaluations); ``"rls"``: exact RLS of the full n x n kernel
        (O(n^3), for small n and for reference); ``"ink"``: the single-pass
        dictionary of :class:`InkEstimate` over the rows in order;
        ``"uniform"``: uniform without replacement (scikit-learn's rule).
        The samplers compute their kernel blocks and scores in float64 whatever
        the dtype of ``X`` (a score subtracts ``k_i^T M^{-1} k_i`` from ``k_ii``);
        the landmarks and the feature map keep the input dtype.
    ridge : float, optional
        Ridge ``> 0`` of the leverage scores. Default: the rule of Musco &
        Musco, ``(tr K - sum of the top k eigenvalues) / k`` with
        ``k = ceil(m / (4 ln m))``, evaluated on the full kernel (``"rls"``),
        at each level (``"recursive"``) or on a uniform sample of m points
        scaled by n/m (``"ink"``). Ignored by ``"uniform"``.
    gamma, coef0, degree : float, optional
        Kernel parameters, as in scikit-learn's ``Nystroem``.
    kernel_params : dict, optional
        Further kernel parameters (or those of a callable kernel).
    landmarks : array_like of shape (m, n_features), optional
        User-supplied landmark points; then ``sampling``, ``ridge`` and
        ``n_components`` are not used.
    random_state : None, int, Generator or RandomState

    Attributes
    ----------
    components_ : ndarray of shape (m, n_features)
        The landmarks.
    component_indices_ : ndarray of shape (m,)
        Their rows in the training data (None for user-supplied landmarks).
    normalization_ : ndarray of shape (m, m)
        ``N`` with ``N^T N = K_mm^+`` and ``Z = k(X, components_) N^T``: the
        inverse lower Cholesky factor of ``K_mm`` when it is numerically
        definite, else the pseudo-inverse square root ``K_mm^{-1/2}``
        (eigenvalues below ``m eps lambda_max`` dropped). Either way
        ``Z Z^T = K_nm K_mm^+ K_mn``; scikit-learn's ``Nystroem`` uses the
        symmetric ``K_mm^{-1/2}``, a rotation of the same features.
    ridge_ : float or None
        The ridge used by the sampler: ``ridge`` when given, else the rule's
        value for ``"rls"`` and ``"ink"``; None for ``"uniform"``, for
        user-supplied ``landmarks``, and for ``"recursive"`` with
        ``ridge=None`` (its rule picks a ridge at each level).
    n_features_in_ : int

    See Also
    --------
    sklearn.kernel_approximation.Nystroem : uniform landmarks.
    InkEstimate : the single-pass dictionary behind ``sampling="ink"``.

    References
    ----------
    .. [1] C. Musco and C. Musco, "Recursive sampling for the Nystrom method",
       NeurIPS 2017 (``sampling="recursive"``; code cnmusco/recursive-nystrom).
    .. [2] D. Calandriello, A. Lazaric and M. Valko, "Analysis of Nystrom method
       with sequential ridge leverage scores", UAI 2016 (``sampling="ink"``);
       its reconstruction bound ``||K - K~||_2 <= ridge / (1 - eps)``, and its
       failure for uniform landmarks on coherent data, is claim
       ``nystrom.reconstruction-every-step``.
    .. [3] A. Alaoui and M. W. Mahoney, "Fast randomized kernel ridge regression
       with statistical guarantees", NeurIPS 2015 (``sampling="rls"``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import RLSNystroem
    >>> X = np.random.default_rng(0).standard_normal((200, 3))
    >>> Z = RLSNystroem(n_components=50, gamma=0.5, random_state=0).fit_transform(X)
    >>> Z.shape
    (200, 50)
    >>> K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
    >>> bool(np.linalg.norm(K - Z @ Z.T, 2) < 0.1 * np.linalg.norm(K, 2))
    True
    """

    def __init__(self, kernel="rbf", *, n_components=None, sampling="recursive", ridge=None, gamma=None,
                 coef0=None, degree=None, kernel_params=None, landmarks=None, random_state=None):
        self.kernel = kernel
        self.n_components = n_components
        self.sampling = sampling
        self.ridge = ridge
        self.gamma = gamma
        self.coef0 = coef0
        self.degree = degree
        self.kernel_params = kernel_params
        self.landmarks = landmarks
        self.random_state = random_state

    def fit(self, X, y=None):
        """Choose the landmarks among the rows of ``X`` and build the feature map."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n = X.shape[0]
        kernel, params = resolve_kernel(self.kernel, gamma=self.gamma, coef0=self.coef0, degree=self.degree,
                                        kernel_params=self.kernel_params)
        self._kernel = KernelFunction(kernel, params, X.shape[1])
        self._kernel.check_input(X)
        check_option(self.sampling, "sampling", SAMPLINGS)
        ridge = None if self.ridge is None else check_scalar(self.ridge, "ridge", low=0.0, low_inclusive=False)
        rng = check_random_state(self.random_state)
        self.ridge_ = ridge
        if self.landmarks is not None:
            L = check_array(self.landmarks, "landmarks", ndim=2, dtype=np.float64)
            if L.shape[1] != X.shape[1]:
                raise ValueError(f"`landmarks` must have {X.shape[1]} columns (n_features); got {L.shape[1]}.")
            self._kernel.check_input(L, "landmarks")
            self.components_ = L.astype(X.dtype)
            self.component_indices_ = None
        else:
            if self.n_components is None:
                m = None if self.sampling == "ink" else min(_DEFAULT_COMPONENTS, n)
            else:
                m = check_int(self.n_components, "n_components", min_value=1)
                if m > n:
                    raise ValueError(f"`n_components` must be <= n_samples = {n}; got {m}.")
            idx = self._select(X, m, ridge, rng)
            self.components_ = X[idx]
            self.component_indices_ = idx
        K_mm = np.asarray(self._kernel(self.components_), dtype=np.float64)
        self.normalization_ = _feature_normalization(K_mm)
        self._n_features_out = self.components_.shape[0]
        return self

    def _select(self, X, m, ridge, rng):
        n = X.shape[0]
        if self.sampling == "uniform":
            return np.sort(rng.permutation(n)[:m])
        if self.sampling == "recursive":
            return np.sort(recursive_rls_indices(self._kernel, X, m, rng, ridge))
        if self.sampling == "rls":
            K = np.asarray(self._kernel(X), dtype=np.float64)
            if ridge is None:
                ridge = musco_ridge(K, np.ones(n), m)
            self.ridge_ = ridge
            tau = ridge_leverage_scores(K, ridge)
            return np.sort(_sample_without_replacement(rng, tau, m))
        # "ink"
        if ridge is None:
            s = min(m or _DEFAULT_COMPONENTS, n)
            probe = rng.choice(n, size=s, replace=False)
            ridge = musco_ridge(np.asarray(self._kernel(X[probe]), dtype=np.float64), np.full(s, math.sqrt(n / s)), s)
        self.ridge_ = ridge
        ink = InkEstimate(self._kernel.kernel, ridge=ridge, kernel_params=self._kernel.params,
                          random_state=rng).fit(X)
        idx, scores = ink.dictionary_.indices, ink.scores_
        if m is not None and m < idx.shape[0]:
            idx = idx[_sample_without_replacement(rng, scores, m)]
        elif m is not None and m > idx.shape[0]:
            warnings.warn(f"the INK dictionary has {idx.shape[0]} points, fewer than n_components={m}; "
                          "using all of them.", UserWarning, stacklevel=user_stacklevel())
        return np.sort(idx)

    def transform(self, X):
        """Feature map ``Z = k(X, components_) @ normalization_.T``; ``Z Z^T`` approximates the kernel."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        K_nm = self._kernel(self._kernel.check_input(X), self.components_)
        return K_nm @ self.normalization_.T.astype(X.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
