"""Kernel evaluation shared by the Nystrom family (private).

The kernel is anything :func:`sklearn.metrics.pairwise.pairwise_kernels`
accepts by name, or a callable ``k(x, y) -> float`` on two 1-D rows (as in
scikit-learn). Parameters follow :class:`sklearn.kernel_approximation.Nystroem`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.metrics.pairwise import KERNEL_PARAMS, PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels

from .._validation import all_finite, check_scalar
from . import _kernels

KERNEL_NAMES = tuple(sorted(k for k in PAIRWISE_KERNEL_FUNCTIONS if k != "precomputed"))


def resolve_kernel(kernel, *, gamma=None, coef0=None, degree=None, kernel_params=None):
    """Validate ``kernel`` and merge its parameters the way scikit-learn's Nystroem does."""
    if kernel_params is not None and not isinstance(kernel_params, dict):
        raise TypeError(f"`kernel_params` must be a dict or None; got {type(kernel_params).__name__}.")
    params = dict(kernel_params or {})
    if callable(kernel):
        if gamma is not None or coef0 is not None or degree is not None:
            raise ValueError("`gamma`, `coef0` and `degree` apply to named kernels only; "
                             "pass the parameters of a callable `kernel` in `kernel_params`.")
        return kernel, params
    if not isinstance(kernel, str) or kernel not in KERNEL_NAMES:
        choices = ", ".join(repr(k) for k in KERNEL_NAMES)
        raise ValueError(f"`kernel` must be a callable or one of {choices}; got {kernel!r}.")
    for name, value in (("gamma", gamma), ("coef0", coef0), ("degree", degree)):
        if value is not None and name in KERNEL_PARAMS[kernel]:
            params[name] = value
    unknown = set(params) - set(KERNEL_PARAMS[kernel])
    if unknown:
        raise ValueError(f"`kernel_params` has keys {sorted(unknown)} that kernel {kernel!r} does not take.")
    # scikit-learn's Nystroem constraints; an unchecked NaN or string surfaced as a LAPACK failure, a
    # foreign TypeError or (INK) an empty dictionary
    for name, low in (("gamma", 0.0), ("coef0", None), ("degree", 1.0)):
        if params.get(name) is not None:
            check_scalar(params[name], name, low=low)  # checked, passed on unchanged (an int degree stays int)
    return kernel, params


# kernels computed from inner products or squared distances |x|^2 - 2 x.y + |y|^2
_INNER_PRODUCT_KERNELS = ("rbf", "linear", "poly", "polynomial", "sigmoid", "cosine")


def _is_float64_dense(A):
    return type(A) is np.ndarray and A.dtype == np.float64 and A.ndim == 2


def rbf_float64(X, Y, gamma, x_sq=None, y_sq=None, out=None):
    """scikit-learn's ``rbf_kernel`` on validated float64 arrays, without its per-call validation.

    The operations are those of ``rbf_kernel`` (``-2 X Y^T + |x|^2 + |y|^2``,
    clipped at 0, zero diagonal when ``Y`` is None, times ``-gamma``, exp), in
    the same order, with a vectorised exponential accurate to 1 ulp, so each
    entry is within 1 ulp of scikit-learn's; skipping the input checks (the
    callers hold validated arrays) saves about a millisecond per call, which
    dominated the recursive sampler at small sizes, and the element-wise part
    is numba instead of five numpy passes. Requires ``gamma >= 0``. ``out``
    (C-ordered float64 of the result's shape, ``Y`` given) receives the block
    without a new allocation.
    """
    if Y is X:
        Y, y_sq = None, None
    if x_sq is None:
        x_sq = np.einsum("ij,ij->i", X, X)
    if Y is None:
        return _kernels.rbf_from_gram(X @ X.T, x_sq, x_sq, gamma, True)
    if y_sq is None:
        y_sq = np.einsum("ij,ij->i", Y, Y)
    return _kernels.rbf_from_gram(np.matmul(X, Y.T, out=out), x_sq, y_sq, gamma, False)


class KernelFunction:
    """k(X, Y), diag k(x_i, x_i) and one fused row k(points, x) for a resolved kernel."""

    def __init__(self, kernel, params, n_features):
        self.kernel = kernel
        self.params = dict(params)
        if kernel in ("rbf", "laplacian", "polynomial", "sigmoid") and self.params.get("gamma") is None:
            self.params["gamma"] = 1.0 / n_features  # scikit-learn's default
        # the fast RBF path needs a scalar gamma >= 0 (scikit-learn also accepts an array)
        gamma = self.params.get("gamma")
        self.is_rbf = kernel == "rbf" and isinstance(gamma, numbers.Real) and gamma >= 0

    def check_input(self, X, name="X"):
        """Reject points whose squared norms overflow float64 in an inner-product kernel (a NaN Gram matrix)."""
        if self.kernel in _INNER_PRODUCT_KERNELS and X.size:
            largest = float(np.max(np.einsum("ij,ij->i", X, X, dtype=np.float64)))
            if not largest <= np.finfo(np.float64).max / 4:
                raise ValueError(f"`{name}` is too large for the {self.kernel!r} kernel: its squared row norms "
                                 f"(up to {largest:.3g}) overflow float64; rescale `{name}`.")
        return X

    def __call__(self, X, Y=None):
        if self.is_rbf and _is_float64_dense(X) and (Y is None or _is_float64_dense(Y)):
            return rbf_float64(X, Y, float(self.params["gamma"]))
        return self._finite(pairwise_kernels(X, Y, metric=self.kernel, filter_params=True, **self.params))

    def _finite(self, K):
        if not all_finite(K):
            raise ValueError(f"the kernel {self.kernel!r} returned NaN or infinite values (check `kernel`, "
                             "`kernel_params`, `gamma`, `coef0` and `degree`, or the scale of `X`).")
        return K

    def block(self, X, Y, x_sq, y_sq, out=None):
        """float64 k(X, Y); for RBF, float64 rows whose squared norms ``x_sq``, ``y_sq`` are precomputed.

        ``out``: a C-ordered float64 array of shape (len(X), len(Y)) that receives the block.
        """
        if self.is_rbf and _is_float64_dense(X) and _is_float64_dense(Y):
            return rbf_float64(X, Y, float(self.params["gamma"]), x_sq, y_sq, out)
        K = self(X, Y)
        if out is None:
            return np.ascontiguousarray(K, dtype=np.float64)
        out[...] = K
        return out

    def diag(self, X):
        k = self.kernel
        if k in ("rbf", "laplacian", "cosine", "chi2"):
            return np.ones(X.shape[0], dtype=X.dtype)
        if k == "additive_chi2":
            return np.zeros(X.shape[0], dtype=X.dtype)
        if k == "linear":
            return np.einsum("ij,ij->i", X, X)
        if k in ("polynomial", "poly", "sigmoid"):
            g = self.params.get("gamma") or 1.0 / X.shape[1]
            c0 = self.params.get("coef0", 1.0)
            sq = g * np.einsum("ij,ij->i", X, X) + c0
            with np.errstate(invalid="ignore", over="ignore"):  # a non-integer degree of a negative base
                return self._finite(np.tanh(sq) if k == "sigmoid" else sq ** self.params.get("degree", 3))
        # a callable: scikit-learn also calls it once per pair
        return np.array([self(X[i : i + 1])[0, 0] for i in range(X.shape[0])], dtype=X.dtype)

    def row(self, points, x):
        """k(points[i], x) for each stored point: the new column against the dictionary."""
        if points.shape[0] == 0:
            return np.empty(0, dtype=x.dtype)
        if self.is_rbf:
            return _kernels.rbf_row(points, x, float(self.params["gamma"]), np.empty(points.shape[0], x.dtype))
        return self(points, x[None, :])[:, 0]
