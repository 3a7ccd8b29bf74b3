"""Randomized k-block Hadamard rotation."""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .._rng import check_random_state, kernel_seed
from .._validation import check_array, check_bool, check_int, next_power_of_two
from . import _kernels
from .fwht import _rescaled_rows

__all__ = ["HadamardRotation"]


class HadamardRotation(LinearOperator):
    """Randomized structured rotation ``T = H D_k ... H D_1 / d**(k/2)``.

    ``H`` is the d x d Sylvester-Hadamard matrix and ``D_1, ..., D_k`` are
    independent uniformly random sign diagonals, drawn once from
    ``random_state``. With ``k = 2`` every coordinate of ``T u`` has, for every
    unit input ``u``, nearly the law of a coordinate of a uniformly random
    rotation ``Q u`` (Kolmogorov distance ``O(d**-1/2)``), while the law of the
    whole vector stays far from it. One block (``k = 1``) is not enough: for
    ``u = e_1`` every coordinate is ``+-1/sqrt(d)``.

    Parameters
    ----------
    dim : int
        Input dimension. If it is not a power of two, inputs are zero-padded
        to ``d = 2**ceil(log2(dim))`` and the operator is an isometry from
        R^dim into R^d (its output is never truncated, which would break the
        isometry).
    n_blocks : int, default 2
        Number k of H D factors.
    random_state : None, int, Generator or RandomState
        Seed of the sign diagonals (and of the per-row signs of ``fresh`` batches).

    Attributes
    ----------
    padded_dim : int
        d, the output dimension.
    signs : ndarray of shape (n_blocks, padded_dim)
        The diagonals, ``signs[0]`` applied first.

    Notes
    -----
    The operator is a ``scipy.sparse.linalg.LinearOperator`` of shape
    ``(padded_dim, dim)`` (``matvec``, ``matmat``, ``rmatvec``, ``@``), so it
    works with ``svds``, ``lsqr`` and PyLops. It computes in float64 unless
    ``apply`` gets float32 rows.

    References
    ----------
    .. [1] T. Zilca and G. Mendelson, "Approximating uniform random rotations by
       two-block structured Hadamard rotations in high dimensions",
       arXiv:2604.23418 (2026): the positive theorem of Section 4 (coordinate marginals, rate checked
       by claim ``hadamard.coordinate-kolmogorov-rate``) and the negative theorem of Section 5
       (full-vector discrepancy, claim ``hadamard.full-vector-discrepancy``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla import HadamardRotation
    >>> T = HadamardRotation(5, random_state=0)
    >>> T.shape
    (8, 5)
    >>> x = np.arange(5.0)
    >>> y = T @ x
    >>> bool(np.isclose(np.linalg.norm(y), np.linalg.norm(x))), bool(np.allclose(T.inverse(y), x))
    (True, True)
    """

    def __init__(self, dim, *, n_blocks=2, random_state=None):
        self.dim = check_int(dim, "dim", min_value=1)
        self.n_blocks = check_int(n_blocks, "n_blocks", min_value=1)
        self.padded_dim = next_power_of_two(self.dim)
        rng = check_random_state(random_state)
        self.signs = (rng.integers(0, 2, size=(self.n_blocks, self.padded_dim)) * 2 - 1).astype(np.float64)
        self._fresh_seed = kernel_seed(rng)
        self._scale = self.padded_dim ** (-self.n_blocks / 2.0)
        super().__init__(dtype=np.float64, shape=(self.padded_dim, self.dim))

    # -- batched core -------------------------------------------------------
    def _pad(self, X):
        work = np.zeros((X.shape[0], self.padded_dim), dtype=X.dtype)
        work[:, : self.dim] = X
        return work

    def apply(self, X, *, fresh=False):
        """Rotate every row of ``X`` (shape ``(n, dim)``) -> shape ``(n, padded_dim)``.

        Parameters
        ----------
        X : array_like of shape (n, dim) or (dim,)
        fresh : bool, default False
            False: the one fixed rotation of this operator for every row.
            True: an independent rotation for each row (the setting of the
            theorems), reproducible: row ``r`` always gets the same signs for a
            given ``random_state``. :meth:`inverse` undoes only ``fresh=False``.
        """
        X = check_array(X, "X", ndim=(1, 2))
        fresh = check_bool(fresh, "fresh")
        one = X.ndim == 1
        X2 = X[None, :] if one else X
        if X2.shape[1] != self.dim:
            raise ValueError(f"`X` must have {self.dim} columns (dim); got {X2.shape[1]}.")
        work = self._pad(X2)
        scale = work.dtype.type(self.padded_dim**-0.5)
        if fresh:
            def rotate(W, first_row=0):
                return _kernels.rotate_rows_fresh(W, self.n_blocks, self._fresh_seed, first_row, scale)
        else:
            signs = self.signs.astype(work.dtype)

            def rotate(W, first_row=0):
                return _kernels.rotate_rows_shared(W, signs, scale)
        if rotate(work):
            self._redo_overflowed(work, lambda rows: self._pad(X2[rows]), rotate, "X", "rotation")
        return work[0] if one else work

    def inverse(self, y):
        """Left inverse ``T.T @ y`` (exact on the range of T): shape ``(..., padded_dim) -> (..., dim)``.

        Inverts the one fixed rotation (``apply(X)``, ``T @ x``); rows rotated
        by ``apply(X, fresh=True)`` each had their own signs, which this does
        not undo.
        """
        Y = check_array(y, "y", ndim=(1, 2))
        one = Y.ndim == 1
        Y2 = np.array(Y[None, :] if one else Y, copy=True, order="C")
        if Y2.shape[1] != self.padded_dim:
            raise ValueError(f"`y` must have length {self.padded_dim} (padded_dim); got {Y2.shape[1]}.")
        signs, scale = self.signs.astype(Y2.dtype), Y2.dtype.type(self.padded_dim**-0.5)

        def unrotate(W, first_row=0):
            return _kernels.unrotate_rows_shared(W, signs, scale)
        if unrotate(Y2):
            source = Y[None, :] if one else Y
            self._redo_overflowed(Y2, lambda rows: np.array(source[rows], order="C"), unrotate, "y", "inverse rotation")
        out = Y2[:, : self.dim]
        return out[0].copy() if one else np.ascontiguousarray(out)

    def _redo_overflowed(self, work, inputs, rotate, name, what):
        """Redo the rows of ``work`` that are not finite after a (flagged) rotation, or raise if they don't fit.

        The input is finite (checked), so a non-finite row had a partial sum overflow: within each block
        partial sums reach ``d * max|block input|`` and a block's input is at most ``||x||_2 <=
        sqrt(d) max|x|``. Each such row is redone on its input scaled by a power of two (exact); if the
        result still overflows, its norm ``||x||_2`` does not fit the dtype.
        """
        bad = np.flatnonzero(~np.isfinite(work).all(axis=1))
        d = self.padded_dim
        growth = d * math.isqrt(d - 1) + d  # d * ceil(sqrt(d)) >= d * sqrt(d)
        for r in bad:  # rare; one row at a time keeps the per-row signs of ``fresh``
            work[r] = _rescaled_rows(inputs([r]), lambda W, r=r: rotate(W, r), growth)[0]
        if bad.size and not np.isfinite(work[bad]).all():
            raise ValueError(f"`{name}` is too large: its {what} overflows {work.dtype} (a coordinate of the result "
                             f"can reach the row's Euclidean norm); rescale `{name}`.")

    # -- LinearOperator protocol (columns are vectors) ----------------------
    def _matvec(self, x):
        return self.apply(np.ravel(x))

    def _matmat(self, X):
        return self.apply(np.asarray(X).T).T

    def _rmatvec(self, y):
        return self.inverse(np.ravel(y))

    def _rmatmat(self, Y):
        return self.inverse(np.asarray(Y).T).T

    def _adjoint(self):
        return _TransposedRotation(self)

    def __repr__(self):
        return f"HadamardRotation(dim={self.dim}, n_blocks={self.n_blocks}, padded_dim={self.padded_dim})"


class _TransposedRotation(LinearOperator):
    def __init__(self, rotation):
        self._rotation = rotation
        super().__init__(dtype=np.float64, shape=(rotation.dim, rotation.padded_dim))

    def _matvec(self, y):
        return self._rotation._rmatvec(y)

    def _matmat(self, Y):
        return self._rotation._rmatmat(Y)

    def _rmatvec(self, x):
        return self._rotation._matvec(x)

    def _rmatmat(self, X):
        return self._rotation._matmat(X)
