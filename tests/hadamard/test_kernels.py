"""The Hadamard numba kernels against the plain-numpy reference and scipy.linalg.hadamard.

Sizes cover every code path of :func:`fwht_inplace`: below one register block
(d < 32/64), inside one L1 block, and 1, 2, 3 or more tiers of outer merges
with a radix-2, -4 or -8 lowest tier (the L1 block is 2^11 float64 / 2^12
float32 elements).
"""

import numpy as np
import pytest
from scipy.linalg import hadamard

from lrla._rng import counter_sign
from lrla.hadamard import _kernels

SMALL_LOG_D = range(0, 15)  # 1 .. 2^14
LARGE_LOG_D = [15, 16, 17, 18, 20]


def float32_bound(d):
    """Relative error allowed for float32: 4 log2(d) units of 2^-24 (at least one level)."""
    return 4 * max(np.log2(d), 1) * 2.0**-24


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def row_rel_err(A, B):
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    return np.linalg.norm(A - B, axis=1) / np.linalg.norm(B, axis=1)


def integer_vector(d, seed):
    """Small integers: every partial sum is an integer below 2^24, so both dtypes are exact."""
    return np.random.default_rng(seed).integers(-8, 9, size=d).astype(np.float64)


@pytest.mark.parametrize("log_d", SMALL_LOG_D)
def test_fwht_inplace_exact_on_integers(log_d, dtype):
    d = 2**log_d
    x = integer_vector(d, log_d)
    y = x.astype(dtype)
    assert _kernels.fwht_inplace(y, 1.0) == 0  # in place; returns 0: no non-finite result
    assert y.dtype == dtype
    expected = _kernels.fwht_rows_numpy(x[None, :])[0]
    np.testing.assert_array_equal(y, expected)
    if log_d <= 11:  # the dense int64 matrix is 32 MiB at 2^11
        np.testing.assert_array_equal(y, hadamard(d) @ x.astype(np.int64))


@pytest.mark.parametrize("log_d", list(SMALL_LOG_D) + LARGE_LOG_D)
def test_fwht_inplace_matches_reference_on_gaussian(log_d, dtype):
    d = 2**log_d
    x = np.random.default_rng(100 + log_d).standard_normal(d)
    expected = _kernels.fwht_rows_numpy(x[None, :])[0]
    scale = 1.0 / np.sqrt(d)
    y = x.astype(dtype)
    _kernels.fwht_inplace(y, scale)
    bound = float32_bound(d) if dtype == "float32" else 4 * max(log_d, 1) * 2.0**-53
    assert rel_err(y, scale * expected) <= bound


@pytest.mark.parametrize("log_d", [3, 7, 11])
def test_numpy_reference_matches_scipy(log_d):
    d = 2**log_d
    X = np.random.default_rng(log_d).standard_normal((3, d))
    np.testing.assert_allclose(_kernels.fwht_rows_numpy(X), X @ hadamard(d).T, rtol=0, atol=1e-9 * np.sqrt(d))


@pytest.mark.parametrize("log_d", [0, 5, 12, 14])
def test_scale_is_fused_exactly_for_powers_of_two(log_d, dtype):
    x = np.random.default_rng(7).standard_normal(2**log_d).astype(dtype)
    unscaled, halved = x.copy(), x.copy()
    _kernels.fwht_inplace(unscaled, 1.0)
    _kernels.fwht_inplace(halved, np.float32(0.5) if dtype == "float32" else 0.5)
    np.testing.assert_array_equal(halved, 0.5 * unscaled)


def test_fwht_inplace_touches_only_its_view(dtype):
    X = integer_vector(4 * 256, 1).reshape(4, 256).astype(dtype)
    X0 = X.copy()
    _kernels.fwht_inplace(X[2], 1.0)
    np.testing.assert_array_equal(X[[0, 1, 3]], X0[[0, 1, 3]])
    np.testing.assert_array_equal(X[2], hadamard(256) @ X0[2].astype(np.float64))


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (9, 1), (1000, 2), (333, 4), (5, 8), (77, 16), (21, 32), (2**14, 16), (7, 64), (3, 1024), (2, 2**13),
     (64, 2**10)],
)
def test_fwht_rows(shape, dtype):
    X = np.random.default_rng(shape[1]).standard_normal(shape)
    expected = _kernels.fwht_rows_numpy(X) / np.sqrt(shape[1])
    Y = X.astype(dtype)
    assert _kernels.fwht_rows(Y, 1.0 / np.sqrt(shape[1])) == 0  # no non-finite result
    bound = float32_bound(shape[1]) if dtype == "float32" else 1e-14 * max(np.log2(shape[1]), 1)
    assert np.all(row_rel_err(Y, expected) <= bound)
    if shape[1] <= 2**10:
        dense = X @ hadamard(shape[1]) / np.sqrt(shape[1])
        assert np.all(row_rel_err(Y, dense) <= bound + 1e-14 * shape[1])


def signs_matrix(k, d, seed):
    return np.where(np.random.default_rng(seed).random((k, d)) < 0.5, -1.0, 1.0)


def rotate_reference(X, signs, scale):
    Y = np.array(X, dtype=np.float64)
    for s in signs:
        Y = scale * _kernels.fwht_rows_numpy(Y * s)
    return Y


def tolerance(dtype, d, n_blocks):
    return n_blocks * (float32_bound(d) if dtype == "float32" else 1e-14 * max(np.log2(d), 1))


@pytest.mark.parametrize("n_rows, d, k", [(3, 1, 1), (4, 16, 2), (5, 512, 3), (2, 2**14, 2), (16, 2**12, 2)])
def test_rotate_and_unrotate_rows_shared(n_rows, d, k, dtype):
    X = np.random.default_rng(d).standard_normal((n_rows, d))
    signs = signs_matrix(k, d, d + 1)
    scale = d**-0.5
    Y = X.astype(dtype)
    _kernels.rotate_rows_shared(Y, signs.astype(dtype), scale)
    expected = rotate_reference(X, signs, scale)
    for row, ref in zip(Y, expected):
        assert rel_err(row, ref) <= tolerance(dtype, d, k)
    # the transpose undoes the orthonormal rotation
    _kernels.unrotate_rows_shared(Y, signs.astype(dtype), scale)
    for row, ref in zip(Y, X):
        assert rel_err(row, ref) <= 2 * tolerance(dtype, d, k)


@pytest.mark.parametrize("n_rows, d, k", [(3, 8, 1), (4, 256, 2), (2, 2**13, 3), (32, 2**11, 1)])
def test_rotate_rows_fresh_matches_counter_signs(n_rows, d, k, dtype):
    seed, row_offset = 12345, 7
    X = np.random.default_rng(d).standard_normal((n_rows, d))
    Y = X.astype(dtype)
    _kernels.rotate_rows_fresh(Y, k, seed, row_offset, d**-0.5)
    for r in range(n_rows):
        base = (row_offset + r) * k
        signs = np.array([[counter_sign(seed, (base + b) * d + j) for j in range(d)] for b in range(k)])
        assert rel_err(Y[r], rotate_reference(X[r:r + 1], signs, d**-0.5)[0]) <= tolerance(dtype, d, k)


def test_rotate_rows_fresh_is_chunking_invariant():
    X = np.random.default_rng(0).standard_normal((10, 128))
    whole = X.copy()
    _kernels.rotate_rows_fresh(whole, 2, 99, 0, 128**-0.5)
    tail = X[4:].copy()
    _kernels.rotate_rows_fresh(tail, 2, 99, 4, 128**-0.5)
    np.testing.assert_array_equal(tail, whole[4:])
    # different rows get different signs: rows 0 and 1 of equal input differ
    same = np.tile(X[:1], (2, 1))
    _kernels.rotate_rows_fresh(same, 2, 99, 0, 128**-0.5)
    assert not np.allclose(same[0], same[1])


def test_float32_kernel_keeps_float32_arithmetic():
    """A float64 scale must not promote the float32 transform (the result equals the float32-scale one)."""
    x = np.random.default_rng(3).standard_normal(2**12).astype(np.float32)
    a, b = x.copy(), x.copy()
    _kernels.fwht_inplace(a, 2**-6)
    _kernels.fwht_inplace(b, np.float32(2**-6))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kernel, shape",
    [("fwht_rows", (64, 2**12)), ("fwht_rows", (2**15, 8)), ("fwht_rows", (2**14 + 3, 16)),
     ("rotate_rows_shared", (64, 2**12)), ("rotate_rows_fresh", (64, 2**12)), ("unrotate_rows_shared", (64, 2**12))],
)
def test_threaded_batches_equal_row_by_row(kernel, shape):
    """Large batches run on threads (prange), small ones serially: the results must be identical."""
    X = np.random.default_rng(5).standard_normal(shape)
    signs = signs_matrix(2, shape[1], 6)
    scale = 2.0**-6

    def run(A, offset):
        if kernel == "fwht_rows":
            _kernels.fwht_rows(A, scale)
        elif kernel == "rotate_rows_fresh":
            _kernels.rotate_rows_fresh(A, 2, 42, offset, scale)
        else:
            getattr(_kernels, kernel)(A, signs, scale)

    batch = X.copy()
    run(batch, 0)  # >= 2^18 elements: threaded
    n_rows = X.shape[0]
    rows = sorted(set(range(0, n_rows, max(1, n_rows // 256))) | {n_rows - 3, n_rows - 2, n_rows - 1})
    for r in rows:
        row = X[r:r + 1].copy()
        run(row, r)  # one row: serial
        np.testing.assert_array_equal(row[0], batch[r])


@pytest.mark.parametrize("log_d", [0, 3, 5, 6, 11, 12, 13, 17])
def test_fwht_into_matches_inplace_and_keeps_input(log_d, dtype):
    x = np.random.default_rng(log_d).standard_normal(2**log_d).astype(dtype)
    x0 = x.copy()
    out = np.full_like(x, np.nan)
    _kernels.fwht_into(x, out, 0.25)
    np.testing.assert_array_equal(x, x0)
    inplace = x.copy()
    _kernels.fwht_inplace(inplace, 0.25)
    np.testing.assert_array_equal(out, inplace)
    same = x.copy()
    _kernels.fwht_into(same, same, 0.25)  # out may be the input itself
    np.testing.assert_array_equal(same, inplace)


@pytest.mark.parametrize("shape", [(3, 1), (100, 4), (7, 32), (5, 2**12), (256, 2**10), (2**15, 8)])
def test_fwht_rows_into_matches_fwht_rows_and_keeps_input(shape, dtype):
    X = np.random.default_rng(shape[1]).standard_normal(shape).astype(dtype)
    X0 = X.copy()
    out = np.full_like(X, np.nan)
    _kernels.fwht_rows_into(X, out, 0.5)
    np.testing.assert_array_equal(X, X0)
    inplace = X.copy()
    _kernels.fwht_rows(inplace, 0.5)
    np.testing.assert_array_equal(out, inplace)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 2), (1, 16), (1, 32), (1, 64), (1, 2**11), (1, 2**13), (1, 2**16),
                                   (300, 16), (2**15, 16), (300, 1024)])
def test_non_finite_flag_on_every_path(shape, dtype):
    # The check fused into the last pass must see every output: a single overflowing pair (its sum
    # 2 max is inf, its difference 0), a NaN and an inf, in the last row, in the first and last
    # positions, reach a nonzero flag through the serial, threaded and short-row paths; finite results
    # never raise it.
    big = np.finfo(dtype).max
    X = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert _kernels.fwht_rows(X.copy(), dtype(1.0)) == 0
    assert _kernels.fwht_rows_into(X, np.empty_like(X), dtype(1.0)) == 0
    for position in (0, shape[1] - 2):
        for bad in ([big, big], [np.nan, 0.0], [0.0, -np.inf]):
            Y = X.copy()
            Y[-1, position:position + 2] = bad
            assert _kernels.fwht_rows_into(Y, np.empty_like(Y), dtype(1.0)) != 0
            assert _kernels.fwht_rows(Y, dtype(1.0)) != 0
    signs = np.ones((2, shape[1]), dtype)
    Z = X.copy()
    Z[-1, :2] = big
    assert _kernels.rotate_rows_shared(X.copy(), signs, dtype(1.0)) == 0
    assert _kernels.rotate_rows_shared(Z.copy(), signs, dtype(1.0)) != 0
    assert _kernels.rotate_rows_fresh(Z.copy(), 2, 7, 0, dtype(1.0)) != 0
    assert _kernels.unrotate_rows_shared(Z.copy(), signs, dtype(1.0)) != 0
