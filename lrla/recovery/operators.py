"""Linear measurement operators A: R^{d1 x d2} -> R^m, A(X)_i = <A_i, X>."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._rng import check_random_state, kernel_seed
from .._validation import all_finite, check_array, check_bool, check_int
from . import _kernels

__all__ = ["GaussianSensing", "RankOneSensing", "SensingOperator"]

# Fixed number of row blocks of the matrix-free reductions (not the thread
# count), so that sums are added in the same order on every machine.
_N_CHUNKS = 16
_N_PROBE_CHUNKS = 4
#: float32 entries converted to float64 per BLAS product in ``_dense_adjoint_many`` (8 MB of scratch)
_CONVERT_ENTRIES = 1 << 20


def _dense_adjoint_many(Z, C):
    """``C^T Z`` (float64) for float32 rows ``Z``: blocks of rows converted to float64, one GEMM each.

    A handful of columns (the noise probes of a fit's set-up) is a matrix
    product that BLAS runs near peak; a compiled loop over the columns ran
    5-6x slower (measured at d = 20 and d = 120), and converting all of ``Z`` would double its memory.
    """
    m, n_free = Z.shape
    rows = max(1, _CONVERT_ENTRIES // n_free)
    out = np.zeros((C.shape[1], n_free))
    for start in range(0, m, rows):
        out += C[start:start + rows].T @ Z[start:start + rows].astype(np.float64)
    return out


def _check_dim(dim, symmetric):
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
        d = check_int(dim, "dim", min_value=1)
        return (d, d)
    try:
        d1, d2 = dim
    except (TypeError, ValueError):
        raise TypeError(f"`dim` must be an int or a pair (d1, d2) of ints; got {dim!r}.") from None
    shape = (check_int(d1, "dim[0]", min_value=1), check_int(d2, "dim[1]", min_value=1))
    if symmetric and shape[0] != shape[1]:
        raise ValueError(f"`symmetric=True` needs a square `dim`; got {shape}.")
    return shape


class SensingOperator:
    """Linear measurement operator ``A(X) = [<A_1, X>, ..., <A_m, X>]``.

    The generic operator: built from an explicit stack of measurement matrices,
    or from two callables (forward and adjoint). :class:`GaussianSensing` and
    :class:`RankOneSensing` are the structured subclasses.

    Parameters
    ----------
    matrices : array_like of shape (m, d1, d2), optional
        The measurement matrices A_i (stored flattened, float64).
    forward, adjoint : callable, optional
        ``forward(X) -> (m,)`` and ``adjoint(z) -> (d1, d2)`` (``sum_i z_i A_i``),
        used instead of ``matrices``; then ``shape`` and ``n_measurements`` are required.
    shape : tuple (d1, d2), optional
    n_measurements : int, optional
        Required with the callables; with ``matrices`` they are read off the stack
        (a value given anyway must agree with it).

    Attributes
    ----------
    shape : tuple (d1, d2)
        Shape of the matrices the operator measures.
    n_measurements : int
        Number m of measurements.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.recovery import SensingOperator
    >>> A = np.random.default_rng(0).standard_normal((50, 3, 3))
    >>> op = SensingOperator(A)
    >>> X = np.eye(3)
    >>> bool(np.allclose(op(X), np.trace(A, axis1=1, axis2=2)))
    True
    >>> op.adjoint(np.ones(50)).shape
    (3, 3)
    """

    def __init__(self, matrices=None, *, forward=None, adjoint=None, shape=None, n_measurements=None):
        if matrices is not None:
            if forward is not None or adjoint is not None:
                raise ValueError("give either `matrices` or the callables `forward`/`adjoint`, not both.")
            mats = check_array(matrices, "matrices", ndim=3, dtype=np.float64)
            self.shape = (mats.shape[1], mats.shape[2])
            self.n_measurements = mats.shape[0]
            # both are read off the stack; a value that contradicts it is a mistake, not an override
            if shape is not None and _check_dim(shape, symmetric=False) != self.shape:
                raise ValueError(f"`shape` {shape!r} contradicts `matrices` of shape {mats.shape} (each A_i is "
                                 f"{self.shape}); leave it out with `matrices`.")
            if n_measurements is not None and n_measurements != self.n_measurements:
                raise ValueError(f"`n_measurements`={n_measurements!r} contradicts the {self.n_measurements} "
                                 "`matrices`; leave it out with `matrices`.")
            self._flat = np.ascontiguousarray(mats.reshape(mats.shape[0], -1))
            self._fwd = self._adj = None
        else:
            if not (callable(forward) and callable(adjoint)):
                raise TypeError("`forward` and `adjoint` must both be callables when `matrices` is not given.")
            if shape is None or n_measurements is None:
                raise ValueError("`shape` and `n_measurements` are required with callables.")
            self.shape = _check_dim(shape, symmetric=False)
            self.n_measurements = check_int(n_measurements, "n_measurements", min_value=1)
            self._flat = None
            self._fwd, self._adj = forward, adjoint

    # ---- public products (validated) -------------------------------------------------------
    @property
    def is_square(self):
        return self.shape[0] == self.shape[1]

    def __call__(self, X):
        """Measurements ``A(X)`` of a (d1, d2) matrix, shape (m,), float64."""
        X = check_array(X, "X", ndim=2, dtype=np.float64)
        if X.shape != self.shape:
            raise ValueError(f"`X` must have shape {self.shape}; got {X.shape}.")
        return self._forward(X)

    def adjoint(self, y):
        """Adjoint ``A*(y) = sum_i y_i A_i``, shape (d1, d2), float64."""
        y = check_array(y, "y", ndim=1, dtype=np.float64)
        if y.shape[0] != self.n_measurements:
            raise ValueError(f"`y` must have length n_measurements={self.n_measurements}; got {y.shape[0]}.")
        return self._adjoint(y)

    @property
    def memory_bytes(self):
        """Bytes held by the operator's stored data."""
        return 0 if self._flat is None else self._flat.nbytes

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, n_measurements={self.n_measurements})"

    # ---- unchecked internals used by the solvers (float64, trusted shapes) -----------------
    def _forward(self, X):
        if self._flat is not None:
            return self._flat @ X.ravel()
        # a user callable: complex, NaN or inf output would otherwise be truncated or surface as a
        # misleading "no signal" error in the estimator. A non-finite X (diverged iterates) may give one:
        # the estimator reports the divergence, the callable is not at fault
        finite = all_finite(X)
        out = check_array(self._fwd(X), "forward(X)", dtype=np.float64, allow_nan=not finite, allow_inf=not finite)
        if out.shape != (self.n_measurements,):
            raise ValueError(f"`forward` must return shape ({self.n_measurements},); got {out.shape}.")
        return out

    def _adjoint(self, z):
        if self._flat is not None:
            return (self._flat.T @ z).reshape(self.shape)
        finite = all_finite(z)
        out = check_array(self._adj(z), "adjoint(z)", dtype=np.float64, allow_nan=not finite, allow_inf=not finite)
        if out.shape != self.shape:
            raise ValueError(f"`adjoint` must return shape {self.shape}; got {out.shape}.")
        return out

    def _adjoint_many(self, C):
        """Adjoints of the columns of ``C`` (m, k): shape (k, d1, d2)."""
        if self._flat is not None:
            return np.ascontiguousarray((self._flat.T @ C).T).reshape((C.shape[1],) + self.shape)
        return np.stack([self._adjoint(np.ascontiguousarray(C[:, q])) for q in range(C.shape[1])])

    def _forward_factored(self, L, R):
        """``A(L R^T)``."""
        return self._forward(L @ R.T)

    def _adjoint_products(self, coef, L, R):
        """``(A*(coef) R, A*(coef)^T L)``: the factor gradients of <coef, A(L R^T)>."""
        G = self._adjoint(coef)
        return G @ R, G.T @ L

    #: True when ``_run_symmetric`` / ``_run_asymmetric`` run whole SubGM iterations in one compiled loop
    _fused_symmetric = False
    _fused_asymmetric = False

    def _sign_step(self, L, R, y, abs_res=None):
        """l1 sub-gradient pieces at ``L R^T``: ``(S R, S^T L, mean|res|)`` with ``S = A*(sign(res))/m``.

        ``abs_res``, if given, receives ``|res|``.
        """
        res = self._forward_factored(L, R) - y
        if abs_res is not None:
            np.abs(res, out=abs_res)
        m = self.n_measurements
        GR, GtL = self._adjoint_products(np.sign(res), L, R)
        return GR / m, GtL / m, float(np.abs(res).mean())


class _Packing:
    """Free entries of a measurement matrix.

    Symmetric: the upper triangle (row-major, diagonal included); the matrix is
    ``A_jj = z_jj``, ``A_jk = A_kj = z_jk / sqrt 2``, i.e. the symmetric part
    (G + G^T)/2 of an i.i.d. N(0, 1) matrix G. Then ``<A, X> = <z, pack(X)>``
    with ``pack(X)_jk = (X_jk + X_kj) / sqrt 2`` off the diagonal. General:
    ``z = vec(A)`` and ``pack = ravel``.
    """

    def __init__(self, shape, symmetric):
        self.shape = shape
        self.symmetric = symmetric
        if symmetric:
            d = shape[0]
            rows, cols = np.triu_indices(d)
            self.rows, self.cols = rows, cols
            # flat positions of X_jk and X_kj (equal on the diagonal) and the weights that make
            # pack(X) = w * (X_jk + X_kj): 1/2 on the diagonal, 1/sqrt 2 off it
            self.upper = rows * d + cols
            self.lower = cols * d + rows
            off = rows != cols
            self.pack_weight = np.where(off, 1.0 / math.sqrt(2.0), 0.5)
            self.unpack_weight = np.where(off, 1.0 / math.sqrt(2.0), 1.0)
            position = np.empty((d, d), dtype=np.intp)
            position[rows, cols] = np.arange(rows.size)
            position[cols, rows] = np.arange(rows.size)
            self.position = position
            self.n_free = d * (d + 1) // 2
        else:
            self.n_free = shape[0] * shape[1]

    def pack(self, X):
        if not self.symmetric:
            return np.ascontiguousarray(X).ravel()
        flat = np.ascontiguousarray(X).ravel()
        return (flat[self.upper] + flat[self.lower]) * self.pack_weight

    def unpack(self, g):
        if not self.symmetric:
            return g.reshape(self.shape)
        return (g * self.unpack_weight)[self.position]


class GaussianSensing(SensingOperator):
    """Gaussian measurement operator, dense or matrix-free.

    ``symmetric=True`` (square d x d): A_i = (G_i + G_i^T)/2 with G_i i.i.d.
    N(0, 1), so that <A_i, X> = <G_i, X> for symmetric X (the Gaussian
    ensemble of the Sign-RIP analysis; only the symmetric part of G_i matters
    for PSD targets) at half the cost. ``symmetric=False``: A_i i.i.d. N(0, 1)
    of shape (d1, d2).

    Dense mode stores the m x n_free free entries (n_free = d(d+1)/2 or
    d1 d2) as float32 and multiplies in compiled float64 loops.
    ``matrix_free=True`` stores nothing: each
    A_i is regenerated from a seeded generator (16 keyed xoshiro256++ lanes per
    measurement, two normals per 64-bit output through a 1024-layer ziggurat;
    entry values depend on (seed, i, k) only) inside a Numba kernel, so memory
    is O(d^2) and d in the hundreds fits; one fused pass per sub-gradient step
    computes both A(X) and A*(sign(res)). Both modes draw the same A_i for the
    same ``random_state``. The free entries are float32 numbers (the
    generator's output), so float32 storage is exact; every product is
    computed in float64.

    Parameters
    ----------
    dim : int or tuple (d1, d2)
        Matrix size (a pair only with ``symmetric=False``).
    n_measurements : int
        Number m of measurements.
    symmetric : bool, default True
    matrix_free : bool, default False
    random_state : None, int, Generator or RandomState

    References
    ----------
    .. [1] J. Ma and S. Fattahi, "Global convergence of sub-gradient method for
       robust matrix recovery: small initialization, noisy measurements, and
       over-parameterization", JMLR 24 (2023), arXiv:2202.08788; Gaussian
       measurements satisfy Sign-RIP with the scaling function checked by
       claim ``recovery.sign-rip``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.recovery import GaussianSensing
    >>> dense = GaussianSensing(4, 100, random_state=0)
    >>> free = GaussianSensing(4, 100, matrix_free=True, random_state=0)
    >>> X = np.diag([1.0, 2.0, 0.0, 0.0])
    >>> bool(np.allclose(dense(X), free(X)))
    True
    >>> free.memory_bytes
    0
    """

    def __init__(self, dim, n_measurements, *, symmetric=True, matrix_free=False, random_state=None):
        check_bool(symmetric, "symmetric")
        check_bool(matrix_free, "matrix_free")
        self.shape = _check_dim(dim, symmetric)
        self.n_measurements = check_int(n_measurements, "n_measurements", min_value=1)
        self.symmetric = bool(symmetric)
        self.matrix_free = bool(matrix_free)
        self.seed = kernel_seed(check_random_state(random_state))
        self._packing = _Packing(self.shape, self.symmetric)
        self._fwd = self._adj = None
        self._flat = None
        if not self.matrix_free:
            try:
                self._flat = _kernels.gaussian_rows(self.seed, self.n_measurements, self._packing.n_free)
            except MemoryError:
                size = self.n_measurements * self._packing.n_free * 4 / 2**30
                raise MemoryError(
                    f"dense GaussianSensing needs {size:.3g} GiB for its {self.n_measurements} x "
                    f"{self._packing.n_free} float32 entries; use matrix_free=True (O(d^2) memory)."
                ) from None

    @property
    def n_free(self):
        """Free entries per measurement matrix: d(d+1)/2 (symmetric) or d1 d2."""
        return self._packing.n_free

    def _forward(self, X):
        w = self._packing.pack(X)
        if self._flat is not None:
            return _kernels.dense_forward(self._flat, w)
        return _kernels.matrix_free_forward(self.seed, self.n_measurements, w, _N_CHUNKS)

    def _adjoint(self, z):
        z = np.ascontiguousarray(z, dtype=np.float64)
        if self._flat is not None:
            g = _kernels.dense_adjoint(self._flat, z)
        else:
            g = _kernels.matrix_free_adjoint(self.seed, self.n_measurements, z, self.n_free, _N_CHUNKS)
        return self._packing.unpack(g)

    def _adjoint_many(self, C):
        C = np.ascontiguousarray(C, dtype=np.float64)
        if self._flat is not None:
            G = _dense_adjoint_many(self._flat, C)
        else:
            # a handful of columns: few chunks keep the per-chunk partial sums small
            G = _kernels.matrix_free_adjoint_many(self.seed, self.n_measurements, C, self.n_free, _N_PROBE_CHUNKS)
        return np.stack([self._packing.unpack(G[q]) for q in range(C.shape[1])])

    @property
    def _fused_symmetric(self):
        return self._flat is not None and self.symmetric

    @property
    def _fused_asymmetric(self):
        return self._flat is not None and not self.symmetric

    def _run_symmetric(self, U, y, schedule, t_start, t_stop, X_true, true_norm, tol, t_check, history):
        """SubGM iterations ``t_start .. t_stop - 1`` on ``U`` in place (dense symmetric mode only).

        One compiled loop (``_kernels.dense_subgm_symmetric``): no Python work per
        iteration. ``schedule = (eta0, decay, res_ref, q_index, stop_ratio, growth)`` (see
        ``_kernels._step_size``). ``X_true`` is used when ``true_norm > 0``; ``tol <= 0``
        never stops early. ``history`` = (losses, steps, updates, errors) arrays filled at
        index t. Returns ``(n_done, stopped)``: the index after the last iteration done and
        whether it stopped early (on ``tol`` or ``stop_ratio``).
        """
        return _kernels.dense_subgm_symmetric(
            self._flat, y, U, *schedule, t_start, t_stop, self._packing.rows, self._packing.cols,
            X_true, true_norm, tol, t_check, *history,
        )

    def _run_asymmetric(self, L, R, y, schedule, t_start, t_stop, X_true, true_norm, tol, t_check, history):
        """As ``_run_symmetric`` for ``X = L R^T`` (dense general mode only): ``L``, ``R`` updated in place."""
        return _kernels.dense_subgm_asymmetric(
            self._flat, y, L, R, *schedule, t_start, t_stop, X_true, true_norm, tol, t_check, *history,
        )

    def _sign_step(self, L, R, y, abs_res=None):
        m = self.n_measurements
        w = self._packing.pack(L @ R.T)
        if abs_res is None:
            abs_res = np.empty(m)
        if self._flat is not None:
            g = np.empty(self.n_free)
            loss = _kernels._signed_row_pass(self._flat, np.ascontiguousarray(y, dtype=np.float64), w, g, abs_res)
        else:
            g, loss = _kernels.matrix_free_sign_adjoint(self.seed, m, w, y, _N_CHUNKS, abs_res)
        G = self._packing.unpack(g) / m
        if self.symmetric and L is R:  # G is symmetric: one product serves both factors
            GU = G @ L
            return GU, GU, loss / m
        return G @ R, G.T @ L, loss / m


class RankOneSensing(SensingOperator):
    """Rank-one measurements ``A_i = a_i b_i^T`` with Gaussian a_i, b_i.

    ``<A_i, X> = a_i^T X b_i``; for a factored matrix X = L R^T this is
    ``(a_i^T L)(b_i^T R)^T``, so every product of the sub-gradient method
    costs O(m d r') with BLAS and storage is O(m (d1 + d2)). With
    ``symmetric=True``, ``b_i = a_i`` (quadratic sensing ``a_i^T X a_i``);
    its measurements are not centred (mean tr X), which the Gaussian Sign-RIP
    theory does not cover.

    Parameters
    ----------
    dim : int or tuple (d1, d2)
    n_measurements : int
    symmetric : bool, default False
    random_state : None, int, Generator or RandomState

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.recovery import RankOneSensing
    >>> op = RankOneSensing(5, 40, random_state=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 5))
    >>> bool(np.allclose(op(X), np.einsum("ij,jk,ik->i", op.a, X, op.b)))
    True
    """

    def __init__(self, dim, n_measurements, *, symmetric=False, random_state=None):
        check_bool(symmetric, "symmetric")
        self.shape = _check_dim(dim, symmetric)
        self.n_measurements = check_int(n_measurements, "n_measurements", min_value=1)
        self.symmetric = bool(symmetric)
        rng = check_random_state(random_state)
        self.a = rng.standard_normal((self.n_measurements, self.shape[0]))
        self.b = self.a if self.symmetric else rng.standard_normal((self.n_measurements, self.shape[1]))
        self._flat = None
        self._fwd = self._adj = None

    @property
    def memory_bytes(self):
        return self.a.nbytes + (0 if self.symmetric else self.b.nbytes)

    def _forward(self, X):
        return np.einsum("ij,ij->i", self.a @ X, self.b)

    def _adjoint(self, z):
        return self.a.T @ (z[:, None] * self.b)

    def _forward_factored(self, L, R):
        return np.einsum("ij,ij->i", self.a @ L, self.b @ R)

    def _adjoint_products(self, coef, L, R):
        return self.a.T @ (coef[:, None] * (self.b @ R)), self.b.T @ (coef[:, None] * (self.a @ L))
