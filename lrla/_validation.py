"""Argument validation shared by every public function of lrla.

Every public entry point validates its arguments here, once, and then trusts
them. Each check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, wrong value) with a message that names the parameter and says
what was expected, so that bad input never reaches a Numba kernel (where it
would surface as a ``TypingError``, a crash or a silent wrong answer).
"""

from __future__ import annotations

import numbers
import operator

import numpy as np
import scipy.sparse as sp

__all__ = [
    "check_array",
    "check_matrix",
    "check_int",
    "check_scalar",
    "check_option",
    "check_power_of_two",
    "check_rank",
    "check_p",
    "next_power_of_two",
]

_FLOAT_DTYPES = (np.float32, np.float64)


def _result_dtype(dtype, name):
    """Floating dtype lrla computes in for an input of ``dtype``.

    float32 and float64 are preserved; integers and bools are promoted to
    float64; complex, object, string and other dtypes are rejected.
    """
    dtype = np.dtype(dtype)
    if dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        return dtype
    if dtype.kind in "iub":
        return np.dtype(np.float64)
    if dtype.kind == "f":  # float16, longdouble: compute in float64
        return np.dtype(np.float64)
    if dtype.kind == "c":
        raise TypeError(f"`{name}` must be real; got complex dtype {dtype}.")
    raise TypeError(f"`{name}` must be a real numeric array; got dtype {dtype}.")


def check_array(
    x,
    name,
    *,
    ndim=None,
    min_ndim=None,
    allow_empty=False,
    allow_nan=False,
    allow_inf=False,
    dtype=None,
    copy=False,
    order=None,
):
    """Convert ``x`` to a float32/float64 ndarray and check it.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        Parameter name used in error messages.
    ndim : int or tuple of int, optional
        Required number of dimensions.
    min_ndim : int, optional
        Smallest accepted number of dimensions.
    allow_empty : bool, default False
        Whether arrays with a zero-length axis are accepted.
    allow_nan, allow_inf : bool, default False
        Whether NaN (resp. +-inf) entries are accepted.
    dtype : dtype, optional
        Force this floating dtype instead of preserving float32/float64.
    copy : bool, default False
        Always return a new array (so the caller may modify it).
    order : {"C", "F"}, optional
        Required memory layout.

    Returns
    -------
    ndarray
        float32 or float64 array; integers are promoted to float64.
    """
    if sp.issparse(x):
        raise TypeError(f"`{name}` must be a dense array; got a scipy.sparse matrix.")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"`{name}` could not be converted to an array: {exc}") from None
    # a forced dtype still rejects complex, object and string input: casting would drop the imaginary
    # part silently, or parse strings
    target = _result_dtype(arr.dtype, name)
    if dtype is not None:
        target = np.dtype(dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"`{name}` must be {want}-dimensional; got an array of shape {arr.shape}.")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s); got a {arr.ndim}-d array."
        )
    if not allow_empty and arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}.")
    out = np.array(arr, dtype=target, copy=True, order=order or "K") if copy else np.asarray(
        arr, dtype=target, order=order
    )
    # One reduction instead of a boolean temporary: a finite sum proves every entry finite;
    # only a non-finite sum (NaN, inf, or an overflow) needs the entry-wise look.
    if out.size and not (allow_nan and allow_inf) and not _sum_is_finite(out):
        finite = np.isfinite(out)
        if not finite.all():
            has_nan = bool(np.isnan(out).any())
            if has_nan and not allow_nan:
                raise ValueError(f"`{name}` contains NaN.")
            if not allow_inf and np.isinf(out).any():
                raise ValueError(f"`{name}` contains infinite values.")
    return out


def all_finite(arr):
    """Whether every entry of ``arr`` is finite: one reduction in the common case, entry-wise only if it overflows."""
    return _sum_is_finite(arr) or bool(np.isfinite(arr).all())


def _sum_is_finite(arr):
    """Whether the sum of ``arr`` is finite (it is whenever every entry is, barring overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(arr, axis=None)))


def check_matrix(
    A,
    name="A",
    *,
    accept_sparse=False,
    allow_empty=False,
    allow_nan=False,
    dtype=None,
    copy=False,
    order=None,
):
    """Check a 2-D matrix; ``accept_sparse`` admits ``scipy.sparse`` (returned as CSR)."""
    if sp.issparse(A):
        if not accept_sparse:
            raise TypeError(f"`{name}` must be a dense array; sparse input is not supported here.")
        if A.ndim != 2:
            raise ValueError(f"`{name}` must be 2-dimensional; got shape {A.shape}.")
        if not allow_empty and (A.shape[0] == 0 or A.shape[1] == 0):
            raise ValueError(f"`{name}` must not be empty; got shape {A.shape}.")
        A = sp.csr_array(A, copy=copy)
        target = _result_dtype(A.dtype, name)  # rejects complex/object even when a dtype is forced
        if dtype is not None:
            target = np.dtype(dtype)
        if A.dtype != target:
            A = A.astype(target)
        if not allow_nan and not np.isfinite(A.data).all():
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        return A
    return check_array(
        A, name, ndim=2, allow_empty=allow_empty, allow_nan=allow_nan, dtype=dtype, copy=copy, order=order
    )


def check_bool(value, name):
    """Return ``value`` as a bool; only ``bool`` and ``numpy.bool_`` are accepted.

    A truthy string such as ``"no"`` or a number would otherwise switch an
    option on silently.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {value!r}.")
    return bool(value)


def check_int(value, name, *, min_value=None, max_value=None):
    """Return ``value`` as a Python int, checking type and range (bool is rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        try:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"`{name}` must be an integer; got {value!r} of type {type(value).__name__}.") from None
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"`{name}` must be >= {min_value}; got {value}.")
    if max_value is not None and value > max_value:
        raise ValueError(f"`{name}` must be <= {max_value}; got {value}.")
    return value


def check_scalar(value, name, *, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """Return ``value`` as a finite float inside the given interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite; got {value}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"`{name}` must be {op} {low}; got {value}.")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"`{name}` must be {op} {high}; got {value}.")
    return value


def check_option(value, name, options):
    """Check that ``value`` is one of ``options`` (strings compared exactly)."""
    if value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def next_power_of_two(n):
    """Smallest power of two >= ``n`` (``n`` >= 1)."""
    return 1 << (int(n) - 1).bit_length()


def check_power_of_two(n, name):
    """Check that the integer ``n`` is a power of two, naming the next one if not."""
    n = check_int(n, name, min_value=1)
    if n & (n - 1):
        raise ValueError(
            f"`{name}` must be a power of two; got {n} (the next power of two is "
            f"{next_power_of_two(n)}; zero-pad the input to that length)."
        )
    return n


def check_rank(rank, max_rank, name="rank", *, strict=False):
    """Check a target rank: 1 <= rank <= max_rank (``< max_rank`` if ``strict``)."""
    rank = check_int(rank, name, min_value=1)
    limit = max_rank - 1 if strict else max_rank
    if rank > limit:
        rel = "<" if strict else "<="
        raise ValueError(f"`{name}` must satisfy 1 <= {name} {rel} {max_rank}; got {rank}.")
    return rank


def check_p(p, name="p", *, min_value=1.0):
    """Check an l_p exponent: a finite real ``p >= min_value`` (default 1)."""
    return check_scalar(p, name, low=min_value)
