"""Observed entries of a partially known matrix: validation and index structures (private)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import check_array, check_int

__all__ = ["ObservedEntries", "entries_from_matrix", "entries_from_arrays"]


@dataclass
class ObservedEntries:
    """The set Omega with its values, stored both row-wise (CSR) and column-wise (CSC).

    ``row_*`` arrays group the entries by row (used to update U, one
    least-squares problem per row), ``col_*`` arrays by column (to update V).
    Values are float64 whatever the input dtype.
    """

    shape: tuple
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    row_indptr: np.ndarray
    row_idx: np.ndarray
    row_vals: np.ndarray
    col_indptr: np.ndarray
    col_idx: np.ndarray
    col_vals: np.ndarray

    @property
    def n_observed(self):
        return self.values.shape[0]

    @property
    def row_counts(self):
        return np.diff(self.row_indptr)

    @property
    def col_counts(self):
        return np.diff(self.col_indptr)

    @classmethod
    def build(cls, rows, cols, values, shape):
        m, n = shape
        order_r = np.lexsort((cols, rows))
        order_c = np.lexsort((rows, cols))
        row_indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m), out=row_indptr[1:])
        col_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n), out=col_indptr[1:])
        return cls(
            shape=(m, n),
            rows=rows,
            cols=cols,
            values=values,
            row_indptr=row_indptr,
            row_idx=np.ascontiguousarray(cols[order_r]),
            row_vals=np.ascontiguousarray(values[order_r]),
            col_indptr=col_indptr,
            col_idx=np.ascontiguousarray(rows[order_c]),
            col_vals=np.ascontiguousarray(values[order_c]),
        )

    def subset(self, mask):
        """The entries selected by the boolean ``mask`` (over the original entry order)."""
        return ObservedEntries.build(self.rows[mask], self.cols[mask], self.values[mask], self.shape)


def _check_shape(shape):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"`shape` must be a pair (n_rows, n_cols); got {shape!r}.")
    m = check_int(shape[0], "shape[0]", min_value=1)
    n = check_int(shape[1], "shape[1]", min_value=1)
    return m, n


def _check_indices(idx, name, size):
    arr = np.asarray(idx)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-dimensional; got shape {arr.shape}.")
    integral = np.issubdtype(arr.dtype, np.integer) or (
        arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
    if arr.size and not integral:
        raise TypeError(f"`{name}` must hold integer indices; got dtype {arr.dtype}.")
    # The range is checked in the input's own dtype, before the cast to int64, which would wrap uint64
    # values >= 2**63 (and turn floats beyond int64) into negative numbers and misreport them.
    if arr.size:
        low, high = arr.min(), arr.max()
        if low < 0 or high >= size:
            if arr.dtype.kind == "f":  # integral floats (checked above): print them as the integers they are
                low, high = int(low), int(high)
            raise ValueError(f"`{name}` must hold indices in [0, {size}); got values in [{low}, {high}].")
    return arr.astype(np.int64, copy=False)


def entries_from_arrays(rows, cols, values, shape):
    """Validate (rows, cols, values, shape) and return :class:`ObservedEntries`.

    Rejects: mismatched lengths, out-of-range or non-integer indices, NaN/inf
    values, duplicate (row, col) pairs and an empty set of observations.
    """
    m, n = _check_shape(shape)
    rows = _check_indices(rows, "rows", m)
    cols = _check_indices(cols, "cols", n)
    values = check_array(values, "values", ndim=1, allow_empty=True)
    if not (rows.shape[0] == cols.shape[0] == values.shape[0]):
        raise ValueError(
            f"`rows`, `cols` and `values` must have the same length; got {rows.shape[0]}, "
            f"{cols.shape[0]} and {values.shape[0]}."
        )
    if values.shape[0] == 0:
        raise ValueError("no observed entries: `values` is empty.")
    linear = rows * n + cols
    if np.unique(linear).shape[0] != linear.shape[0]:
        raise ValueError("the observed entries contain duplicate (row, col) pairs.")
    return ObservedEntries.build(rows, cols, values.astype(np.float64, copy=False), (m, n)), values.dtype


def entries_from_matrix(X):
    """Observed entries of a dense array with NaN for missing entries, or of a scipy.sparse matrix.

    Dense: every non-NaN entry is observed; +-inf is rejected. Sparse: every
    *stored* entry is observed (explicit zeros included); duplicates are rejected.
    """
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"`X` must be 2-dimensional; got shape {X.shape}.")
        if X.dtype.kind not in "fiub":
            raise TypeError(f"`X` must be a real numeric matrix; got dtype {X.dtype}.")
        coo = sp.coo_array(X)
        if coo.nnz and not np.isfinite(coo.data).all():
            raise ValueError("`X` contains NaN or infinite stored values; store only observed entries.")
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        entries, _ = entries_from_arrays(coo.row, coo.col, coo.data.astype(dtype), coo.shape)
        return entries, dtype
    if isinstance(X, numbers.Number):
        raise ValueError("`X` must be 2-dimensional; got a scalar.")
    try:
        X = np.asarray(X)
    except Exception:  # ragged lists and the like: check_array reports them
        pass
    if isinstance(X, np.ndarray) and X.dtype == object:
        raise TypeError(
            "`X` must be a real numeric array with NaN for missing entries; got dtype object (None or "
            "pandas.NA entries?). Mark missing entries with np.nan, e.g. "
            "df.to_numpy(dtype=float, na_value=np.nan) for a pandas DataFrame."
        )
    X = check_array(X, "X", ndim=2, allow_nan=True)
    observed = ~np.isnan(X)
    rows, cols = np.nonzero(observed)
    if rows.size == 0:
        raise ValueError("no observed entries: `X` is all NaN.")
    return entries_from_arrays(rows, cols, X[rows, cols], X.shape)
