"""Fast Walsh-Hadamard transform."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_array, check_bool, check_int, check_power_of_two
from . import _kernels

__all__ = ["fwht"]


def fwht(x, axis=-1, *, normalize=True, out=None):
    """Fast Walsh-Hadamard transform along one axis.

    Computes ``H @ x`` along ``axis`` in natural (Sylvester) order, where
    ``H[i, j] = (-1)**popcount(i & j)`` is the matrix of
    ``scipy.linalg.hadamard``, in ``O(d log d)`` additions per vector.

    Parameters
    ----------
    x : array_like
        Real input of any shape; integers are cast to float64, float32 and
        float64 are preserved. The length along ``axis`` must be a power of two.
    axis : int, default -1
        Axis along which to transform.
    normalize : bool, default True
        If True, return the orthonormal transform ``H @ x / sqrt(d)`` (an
        involution: ``fwht(fwht(x)) == x``); if False, the unnormalised
        ``H @ x`` (as ``scipy.linalg.hadamard(d) @ x`` and FFHT).
    out : ndarray, optional
        Array of the result's shape and dtype to write into. It may be ``x``
        itself (an in-place transform); otherwise ``x`` is never modified.

    Returns
    -------
    ndarray
        The transform, float32 for float32 input, else float64.

    Raises
    ------
    ValueError
        If the length along ``axis`` is not a power of two (the message names
        the next power of two to zero-pad to), if ``axis`` is out of range or
        if ``x`` is 0-d or empty.
    TypeError
        If ``x`` is complex or not numeric.

    Notes
    -----
    The kernel (the recursion of FFHT [1]_, done iteratively) transforms each
    256-byte piece in vector registers, then each 16 KiB block through all its
    levels in radix-8 passes, then merges blocks in radix-8 passes as soon as a
    group of 8 is complete, while it is still in cache; a vector of length 2^20
    crosses main memory a handful of times instead of 20. It runs at FFHT's
    speed (``docs/performance.md``). Batches of at least 2^18 elements run in
    parallel over vectors (threads follow ``NUMBA_NUM_THREADS``). Rounding
    error grows like ``log2(d)`` units in the last place, so float32 is
    accurate to about ``log2(d) * 6e-8`` relative.

    References
    ----------
    .. [1] A. Andoni, P. Indyk, T. Laarhoven, I. Razenshteyn, L. Schmidt,
       "Practical and optimal LSH for angular distance", NeurIPS 2015 (FFHT).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.linalg import hadamard
    >>> from lrla import fwht
    >>> x = np.arange(8.0)
    >>> np.allclose(fwht(x, normalize=False), hadamard(8) @ x)
    True
    >>> np.allclose(fwht(fwht(x)), x)
    True
    """
    in_place = out is not None and out is x and isinstance(x, np.ndarray)
    # Out of place, NaN/inf are caught after the transform at no extra pass over memory: row 0 of H is
    # all ones, so the first coefficient of each vector is the sum of its entries, non-finite whenever
    # an entry is; only then is the (unmodified) input inspected entry by entry, see _reject_non_finite.
    arr = check_array(x, "x", min_ndim=1, allow_nan=not in_place, allow_inf=not in_place)
    if in_place and arr is not x:
        raise TypeError("`out` must be a float32 or float64 array when transforming in place.")
    axis = check_int(axis, "axis")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"`axis` {axis} is out of range for an array of dimension {arr.ndim}.")
    axis %= arr.ndim
    n = check_power_of_two(arr.shape[axis], f"x.shape[{axis}] (the length along `axis`)")
    scale = 1.0 / math.sqrt(n) if check_bool(normalize, "normalize") else 1.0

    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"`out` must be a numpy array; got {type(out).__name__}.")
        if not out.flags.writeable:
            raise ValueError("`out` must be writeable; got a read-only array.")
        if out.shape != arr.shape or out.dtype != arr.dtype:
            raise ValueError(
                f"`out` must have shape {arr.shape} and dtype {arr.dtype}; got {out.shape} and {out.dtype}."
            )

    dtype_scale = arr.dtype.type(scale)
    if axis == arr.ndim - 1 and arr.flags.c_contiguous:
        # Rows are already contiguous: transform straight from the input into the result
        # (the first pass reads ``arr``), or in place when ``out`` is the input itself.
        rows = arr.reshape(-1, n)
        if out is arr:
            _kernels.fwht_rows(rows, dtype_scale)
            return out
        result = out if (out is not None and out.flags.c_contiguous) else np.empty_like(arr, order="C")
        if np.shares_memory(result, arr):  # a user ``out`` overlapping the input: go through a copy
            result = np.empty_like(arr, order="C")
        _kernels.fwht_rows_into(rows, result.reshape(-1, n), dtype_scale)
        _reject_non_finite(arr, result.reshape(-1, n)[:, 0])
        if out is not None and result is not out:
            out[...] = result
            return out
        return result
    # Another axis (or a strided input): a C-contiguous (batch, n) copy with the axis last.
    moved = np.moveaxis(arr, axis, -1)
    work = np.ascontiguousarray(moved)
    if np.shares_memory(work, arr):
        work = work.copy()
    _kernels.fwht_rows(work.reshape(-1, n), dtype_scale)
    if not in_place:
        _reject_non_finite(arr, work.reshape(-1, n)[:, 0])
    result = np.moveaxis(work, -1, axis)
    if out is not None:
        out[...] = result
        return out
    return np.ascontiguousarray(result)


def _reject_non_finite(arr, first_coefficients):
    """Raise the usual NaN/inf error if ``arr`` has a non-finite entry.

    ``first_coefficients`` are the transforms' coefficients at frequency 0 (the sums of the vectors),
    finite unless an entry is non-finite or the sum overflowed; the entry-wise check runs only then.
    """
    if not np.isfinite(first_coefficients).all():
        check_array(arr, "x", min_ndim=1)
