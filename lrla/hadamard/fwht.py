"""Fast Walsh-Hadamard transform."""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    all_finite,
    check_array,
    check_bool,
    check_int,
    check_power_of_two,
)
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
        The transform, float32 for float32 input, else float64. A coefficient
        whose exact value exceeds the dtype's range is +-inf (as IEEE rounding
        gives); every other one is finite and accurate, even when partial
        sums of the transform overflow.

    Raises
    ------
    ValueError
        If the length along ``axis`` is not a power of two (the message names
        the next power of two to zero-pad to), if ``axis`` is out of range, if
        ``x`` is 0-d or empty, or if it contains NaN or inf (in place, before
        ``x`` is touched).
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

    Partial sums grow to ``d * max|x|``, so for entries above ``max / d`` they
    can overflow although the normalised result fits. The kernel reports it
    (a check fused into its last pass) and only those vectors are redone on
    the input scaled by a power of two, which is exact, and the scale undone.

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
    # NaN/inf are caught after the transform at no extra pass over memory: the kernel flags a non-finite
    # result (see _kernels), and only then is the (unmodified) input inspected, see _repair.
    arr = check_array(x, "x", min_ndim=1, allow_nan=True, allow_inf=True)
    if in_place and arr is not x:
        raise TypeError("`out` must be a float32 or float64 array when transforming in place.")
    axis = check_int(axis, "axis")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"`axis` {axis} is out of range for an array of dimension {arr.ndim}.")
    axis %= arr.ndim
    n = check_power_of_two(arr.shape[axis], f"x.shape[{axis}]")  # the length along `axis`
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
            # In place the input is gone once the kernel has run, so it is checked first (one
            # reduction, as a finiteness check would be): NaN/inf raise, and entries large enough
            # for partial sums to overflow go through a copy.
            peak = _kernels.max_magnitude(rows)
            if not math.isfinite(peak):
                check_array(arr, "x", min_ndim=1)  # raises, naming NaN or inf
            if peak * n * _SUM_MARGIN < float(np.finfo(arr.dtype).max):
                _kernels.fwht_rows(rows, dtype_scale)  # cannot overflow: no flag to resolve
            else:
                result = np.empty_like(rows)
                _repair(rows, result, _kernels.fwht_rows_into(rows, result, dtype_scale), dtype_scale, arr)
                rows[...] = result
            return out
        result = out if (out is not None and out.flags.c_contiguous) else np.empty_like(arr, order="C")
        if np.shares_memory(result, arr):  # a user ``out`` overlapping the input: go through a copy
            result = np.empty_like(arr, order="C")
        flag = _kernels.fwht_rows_into(rows, result.reshape(-1, n), dtype_scale)
        _repair(rows, result.reshape(-1, n), flag, dtype_scale, arr)
        if out is not None and result is not out:
            out[...] = result
            return out
        return result
    # Another axis (or a strided input): a C-contiguous (batch, n) copy with the axis last. The input
    # is intact until the result is written, even in place.
    moved = np.moveaxis(arr, axis, -1)
    work = np.ascontiguousarray(moved)
    if np.shares_memory(work, arr):
        work = work.copy()
    flag = _kernels.fwht_rows(work.reshape(-1, n), dtype_scale)
    if flag:
        _repair(np.ascontiguousarray(moved).reshape(-1, n), work.reshape(-1, n), flag, dtype_scale, arr)
    result = np.moveaxis(work, -1, axis)
    if out is not None:
        out[...] = result
        return out
    return np.ascontiguousarray(result)


# Safety factor on ``d * max|x|`` (the largest partial sum): the kernel's fused check sums up to 8
# results, so a margin of 16 keeps it from raising a false alarm where overflow is impossible.
_SUM_MARGIN = 16


def _repair(rows, result, flag, scale, arr):
    """Resolve a kernel's non-finite flag for ``result = scale * rows H`` (``rows`` intact).

    NaN/inf in the input raise the usual error (naming ``x``); otherwise the rows of ``result`` that are
    not finite had a partial sum overflow and are recomputed exactly from ``rows`` scaled by a power of two.
    """
    if not flag:
        return
    if not all_finite(rows):
        check_array(arr, "x", min_ndim=1)  # raises, naming NaN or inf
    # no non-finite row means a false alarm: a sum of finite results overflowed in the check
    _redo_overflowed(result, lambda bad: rows[bad], lambda work: _kernels.fwht_rows(work, scale))


def _redo_overflowed(work, inputs, transform):
    """Redo the rows of ``work`` (transformed, flagged by the kernel) that are not finite.

    The input is finite (checked), so a partial sum overflowed: those rows are recomputed from
    ``inputs(bad_rows)`` scaled by a power of two (exact). Results that overflow for real stay inf.
    """
    bad = np.flatnonzero(~np.isfinite(work).all(axis=1))
    if bad.size:
        work[bad] = _rescaled_rows(inputs(bad), transform, work.shape[1])


def _rescaled_rows(rows, transform, growth):
    """``transform`` (in place, linear, made of additions and scalings) of ``rows`` without overflow.

    Each row whose partial sums could exceed the dtype's range, ``growth * max|row|`` up to
    ``_SUM_MARGIN``, is scaled by a power of two ``2**-k`` first and the result by ``2**k``: exact for
    every entry above the dtype's smallest normal number times ``2**k`` (the others, far below the row's
    largest entries, lose bits). A result that overflows for real becomes +-inf.
    """
    work = np.array(rows, dtype=rows.dtype, order="C", copy=True)
    info = np.finfo(work.dtype)
    exponent = np.frexp(np.abs(work).max(axis=1))[1]  # max|row| < 2**exponent
    shift = np.maximum(exponent + math.ceil(math.log2(growth * _SUM_MARGIN)) - info.maxexp + 1, 0)
    work *= np.exp2(-shift).astype(work.dtype)[:, None]
    transform(work)
    with np.errstate(over="ignore"):
        work *= np.exp2(shift).astype(work.dtype)[:, None]
    return work
