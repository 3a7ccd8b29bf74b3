import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import hadamard

from lrla import fwht


def rel_err(a, b):
    return np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)) / np.linalg.norm(np.asarray(b, float))


@pytest.mark.parametrize("log_d", range(0, 13))
def test_matches_scipy_hadamard_1d(log_d):
    d = 2**log_d
    x = np.random.default_rng(log_d).standard_normal(d)
    H = hadamard(d).astype(float)
    assert rel_err(fwht(x, normalize=False), H @ x) <= 1e-12
    assert rel_err(fwht(x), H @ x / np.sqrt(d)) <= 1e-12


@pytest.mark.parametrize("shape", [(8, 3, 5), (3, 16, 2), (2, 4, 64), (5, 1024)])
def test_matches_scipy_along_every_axis(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    for axis in range(x.ndim):
        d = x.shape[axis]
        if d & (d - 1):
            with pytest.raises(ValueError, match="power of two"):
                fwht(x, axis=axis)
            continue
        expected = np.moveaxis(np.tensordot(hadamard(d).astype(float), np.moveaxis(x, axis, 0), axes=1), 0, axis)
        got = fwht(x, axis=axis, normalize=False)
        assert got.shape == x.shape
        assert rel_err(got, expected) <= 1e-12
        assert rel_err(fwht(x, axis=axis - x.ndim, normalize=False), expected) <= 1e-12


@pytest.mark.parametrize("log_d", [4, 10, 14, 18])
def test_float32_error_bound(log_d):
    d = 2**log_d
    x64 = np.random.default_rng(2).standard_normal((3, d))
    y32 = fwht(x64.astype(np.float32))
    assert y32.dtype == np.float32
    y64 = fwht(x64.astype(np.float32).astype(np.float64))
    assert rel_err(y32, y64) <= 4 * log_d * 2.0**-24


def test_involution_and_parseval(dtype):
    x = np.random.default_rng(3).standard_normal((4, 256)).astype(dtype)
    y = fwht(x)
    tol = 1e-5 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(fwht(y), x, rtol=0, atol=tol * 10)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=tol)


@settings(max_examples=25, deadline=None)
@given(log_d=st.integers(0, 11), batch=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_orthogonal_property(log_d, batch, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, batch, 2**log_d))
    np.testing.assert_allclose(np.sum(fwht(x) * fwht(y), axis=1), np.sum(x * y, axis=1), atol=1e-10)


def test_integer_input_is_cast_and_not_modified():
    x = np.arange(16)
    x0 = x.copy()
    y = fwht(x, normalize=False)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(y, hadamard(16) @ x0)


def test_input_never_modified(dtype):
    x = np.random.default_rng(4).standard_normal((3, 64)).astype(dtype)
    x0 = x.copy()
    fwht(x)
    fwht(x.T, axis=0)
    np.testing.assert_array_equal(x, x0)


def test_out_argument_in_place_and_separate():
    x = np.random.default_rng(5).standard_normal((3, 32))
    expected = fwht(x)
    out = np.empty_like(x)
    assert fwht(x, out=out) is out
    np.testing.assert_allclose(out, expected)
    y = x.copy()
    assert fwht(y, out=y) is y
    np.testing.assert_allclose(y, expected)
    with pytest.raises(ValueError, match="out"):
        fwht(x, out=np.empty((3, 16)))
    with pytest.raises(ValueError, match="out"):
        fwht(x, out=np.empty((3, 32), dtype=np.float32))


def test_non_contiguous_input():
    x = np.random.default_rng(6).standard_normal((64, 8))[:, ::2]
    np.testing.assert_allclose(fwht(x, axis=0, normalize=False), hadamard(64) @ x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "bad, kwargs, exc, match",
    [
        (np.ones(12), {}, ValueError, r"power of two.*16"),
        (np.float64(1.0), {}, ValueError, "at least 1 dimension"),
        (np.ones(8, dtype=complex), {}, TypeError, "complex"),
        (np.array(["a"] * 8), {}, TypeError, "numeric"),
        (np.array([object()] * 8), {}, TypeError, "numeric"),
        (np.ones((4, 8)), {"axis": 2}, ValueError, "axis"),
        (np.ones((4, 8)), {"axis": -3}, ValueError, "axis"),
        (np.ones((4, 8)), {"axis": 1.0}, TypeError, "axis"),
        (np.ones(0), {}, ValueError, "empty"),
        (np.array([1.0, np.nan]), {}, ValueError, "NaN"),
        (np.array([1.0, np.inf]), {}, ValueError, "infinite"),
        (np.ones(8), {"normalize": "no"}, TypeError, "normalize"),  # truthy: would normalise silently
    ],
)
def test_bad_input(bad, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fwht(bad, **kwargs)


def test_out_non_contiguous_or_overlapping_input():
    x = np.random.default_rng(7).standard_normal((4, 16))
    expected = fwht(x)
    strided = np.empty((4, 32))[:, ::2]
    np.testing.assert_allclose(fwht(x, out=strided), expected)
    y = x.copy()
    flipped = y[::-1]  # a view of y: out overlaps the input without being it
    np.testing.assert_allclose(fwht(y, out=flipped), expected)
    z = x.copy()
    np.testing.assert_allclose(fwht(z.T, axis=0, out=z.T), expected.T)  # in place along a strided axis
    np.testing.assert_allclose(z, expected)


@pytest.mark.parametrize("axis", [0, 1])
def test_read_only_out_rejected_naming_out(axis):
    x = np.random.default_rng(9).standard_normal((4, 8))
    frozen = x.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="`out` must be writeable"):
        fwht(frozen, axis=axis, out=frozen)  # in place on a read-only array (was a numba TypingError)
    with pytest.raises(ValueError, match="`out` must be writeable"):
        fwht(x, axis=axis, out=frozen)
    np.testing.assert_array_equal(frozen, x)
    np.testing.assert_allclose(fwht(frozen, axis=axis), fwht(x, axis=axis))  # read-only input is fine


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [0, 1])
def test_non_finite_rejected_on_every_path(bad, axis):
    x = np.random.default_rng(8).standard_normal((4, 8))
    x[2, 3] = bad
    x0 = x.copy()
    match = "NaN" if np.isnan(bad) else "infinite"
    with pytest.raises(ValueError, match=match):
        fwht(x, axis=axis)
    with pytest.raises(ValueError, match=match):
        fwht(x, axis=axis, out=np.empty_like(x))
    with pytest.raises(ValueError, match=match):
        fwht(x, axis=axis, out=x)
    np.testing.assert_array_equal(x, x0)  # the in-place call checks before touching x


def test_overflowing_sum_of_finite_input_is_not_an_error():
    big = np.finfo(np.float64).max
    y = fwht(np.array([big, big, 0.0, 0.0]), normalize=False)  # y[0] = y[2] = 2 big overflows
    np.testing.assert_array_equal(y, [np.inf, 0.0, np.inf, 0.0])
    assert np.isinf(fwht(np.full((2, 4), big), axis=0, normalize=False)[0]).all()


def _scaled_reference(x, axis=-1, normalize=True):
    """``hadamard(d) @ x / sqrt(d)`` in float64 on ``x`` scaled by 2^-16 (exact), the scale undone after."""
    moved = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    d = moved.shape[-1]
    with np.errstate(over="ignore"):
        y = (moved * 2.0**-16) @ hadamard(d).T / (np.sqrt(d) if normalize else 1.0) * 2.0**16
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e308), (np.float32, 3e38)])
@pytest.mark.parametrize("path", ["new", "out", "in place", "axis 0", "axis 0 in place", "batch"])
def test_partial_sums_overflowing_a_representable_result(dtype, big, path):
    # Four entries of 1e308 in a length-1024 vector: the normalised transform is at most 4e308/32 = 1.25e307,
    # but the partial sums reach 4e308 and the result was inf/NaN (found by the audit).
    x = np.zeros(1024, dtype)
    x[:4] = big
    X = np.stack([x, np.arange(1024, dtype=dtype), -x[::-1]])  # the middle row does not overflow
    expected = _scaled_reference(X)
    if path == "new":
        y = fwht(X)
    elif path == "out":
        y = fwht(X, out=np.empty_like(X))
    elif path == "in place":
        y = X.copy()
        fwht(y, out=y)
    elif path == "axis 0":
        y = fwht(X.T, axis=0).T
    elif path == "axis 0 in place":
        z = X.T.copy()
        fwht(z, axis=0, out=z)
        y = z.T
    else:
        y = fwht(np.repeat(X, 200, axis=0))[::200]  # a batch large enough for the threaded kernel
    assert y.dtype == dtype and np.isfinite(y).all()
    tol = 20 * np.finfo(dtype).eps
    assert np.abs(y - expected).max() <= tol * np.abs(expected).max()
    # The row without overflow is bit-identical to its transform alone.
    np.testing.assert_array_equal(y[1], fwht(X[1]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflow_only_where_the_exact_result_does(dtype):
    big = np.finfo(dtype).max
    x = np.full(4, 0.75 * big, dtype)  # H x / 2 = [1.5 big, 0, 0, 0]: only the first coefficient overflows
    np.testing.assert_array_equal(fwht(x), np.array([np.inf, 0, 0, 0], dtype))  # was [inf, 0, nan, 0]
    short_rows = np.tile(np.array([0.6, 0.6, 0.3, -0.3], dtype) * big, (64, 1))  # H x = [1.2, 0.6, 1.2, -0.6] big
    y = fwht(short_rows, normalize=False)
    with np.errstate(over="ignore"):
        expected = _scaled_reference(short_rows, normalize=False).astype(dtype)
    assert np.isinf(expected).any() and np.isfinite(expected).any()
    np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(y[finite], expected[finite], rtol=10 * np.finfo(dtype).eps)


def test_power_of_two_message_names_the_axis_length_cleanly():
    """The message quotes ``x.shape[axis]`` once, without nested backticks."""
    with pytest.raises(ValueError, match=r"^`x\.shape\[0\]` must be a power of two; got 6 \(the next power of two is 8"):
        fwht(np.ones((6, 4)), axis=0)
    with pytest.raises(ValueError, match=r"^`x\.shape\[0\]` must be a power of two; got 12"):
        fwht(np.ones(12))
