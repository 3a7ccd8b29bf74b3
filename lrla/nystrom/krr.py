"""Kernel ridge regression on a Nystroem approximation."""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_scalar
from .transformer import RLSNystroem

__all__ = ["NystroemKRR"]


class NystroemKRR(RegressorMixin, BaseEstimator):
    """Kernel ridge regression with the kernel replaced by its Nystroem approximation.

    Ridge convention (scikit-learn's ``KernelRidge``): on the training points
    the fitted values are ``K~ (K~ + alpha I)^{-1} y`` with
    ``K~ = Z Z^T`` the Nystroem approximation of :class:`RLSNystroem`. They are
    computed in the m-dimensional feature space,
    ``coef = (Z^T Z + alpha I)^{-1} Z^T y`` and ``predict(X) = Z(X) coef``, at
    O(n m^2) cost instead of O(n^3). No intercept (as ``KernelRidge``): centre
    ``y`` first if it has one.

    Parameters
    ----------
    kernel : str or callable, default "rbf"
    alpha : float, default 1.0
        Ridge ``alpha > 0`` of the regression, in the ``K + alpha I`` convention
        (Alaoui & Mahoney's ``n lambda``).
    n_components : int, optional
        Landmarks (see :class:`RLSNystroem`).
    sampling : {"recursive", "rls", "ink", "uniform"}, default "recursive"
    ridge : float, optional
        Ridge of the leverage scores used to pick landmarks. Default:
        ``alpha`` (sampling at the regression's own regularisation, the setting
        of the risk bound below), except for ``"recursive"``, whose default is
        its automatic per-level rule.
    gamma, coef0, degree, kernel_params : optional
        Kernel parameters, as in scikit-learn.
    landmarks : array_like of shape (m, n_features), optional
    random_state : None, int, Generator or RandomState

    Attributes
    ----------
    nystroem_ : RLSNystroem
        The fitted feature map.
    coef_ : ndarray of shape (m,) or (m, n_targets)
    n_features_in_ : int

    References
    ----------
    .. [1] D. Calandriello, A. Lazaric and M. Valko, "Analysis of Nystrom method
       with sequential ridge leverage scores", UAI 2016: with an
       epsilon-accurate dictionary at ridge gamma, the fixed-design risk obeys
       ``R(K~) <= (1 + gamma / (alpha (1 - eps)))^2 R(K)``, claim
       ``nystrom.krr-risk``.
    .. [2] A. Alaoui and M. W. Mahoney, "Fast randomized kernel ridge regression
       with statistical guarantees", NeurIPS 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import NystroemKRR
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, (300, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(300)
    >>> model = NystroemKRR(alpha=0.1, gamma=1.0, n_components=40, random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """

    def __init__(self, kernel="rbf", *, alpha=1.0, n_components=None, sampling="recursive", ridge=None,
                 gamma=None, coef0=None, degree=None, kernel_params=None, landmarks=None, random_state=None):
        self.kernel = kernel
        self.alpha = alpha
        self.n_components = n_components
        self.sampling = sampling
        self.ridge = ridge
        self.gamma = gamma
        self.coef0 = coef0
        self.degree = degree
        self.kernel_params = kernel_params
        self.landmarks = landmarks
        self.random_state = random_state

    def fit(self, X, y):
        """Pick the landmarks on ``X``, map it to Nystroem features ``Z`` and solve the ridge problem.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training points (float32 is kept: ``coef_`` and predictions come
            back in the dtype of ``X``; the solve itself is float64).
        y : array_like of shape (n_samples,) or (n_samples, n_targets)
            Targets (no intercept is fitted: centre ``y`` first if it has one).

        Returns
        -------
        self : NystroemKRR
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True)
        alpha = check_scalar(self.alpha, "alpha", low=0.0, low_inclusive=False)
        ridge = self.ridge
        if ridge is None and self.sampling != "recursive":
            ridge = alpha
        self.nystroem_ = RLSNystroem(
            self.kernel, n_components=self.n_components, sampling=self.sampling, ridge=ridge, gamma=self.gamma,
            coef0=self.coef0, degree=self.degree, kernel_params=self.kernel_params, landmarks=self.landmarks,
            random_state=self.random_state,
        )
        Z = np.asarray(self.nystroem_.fit_transform(X), dtype=np.float64)
        G = Z.T @ Z
        G[np.diag_indices_from(G)] += alpha
        self.coef_ = cho_solve(cho_factor(G, lower=True, check_finite=False), Z.T @ np.asarray(y, np.float64),
                               check_finite=False).astype(X.dtype, copy=False)
        return self

    def predict(self, X):
        """Predictions ``Z(X) @ coef_`` on the Nystroem features of ``X``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            In the dtype of ``X``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.nystroem_.transform(X) @ self.coef_.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
