import numpy as np
import pytest
from scipy.linalg import hadamard
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from lrla import HadamardRotation


@pytest.mark.parametrize("dim", [1, 5, 8, 100, 1024])
@pytest.mark.parametrize("n_blocks", [1, 2, 3])
def test_isometry_and_inverse(dim, n_blocks, dtype):
    T = HadamardRotation(dim, n_blocks=n_blocks, random_state=0)
    X = np.random.default_rng(1).standard_normal((7, dim)).astype(dtype)
    Y = T.apply(X)
    assert Y.shape == (7, T.padded_dim) and Y.dtype == X.dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(np.linalg.norm(Y, axis=1), np.linalg.norm(X, axis=1), rtol=tol)
    np.testing.assert_allclose(T.inverse(Y), X, atol=tol * 10 * np.abs(X).max())


def test_matches_dense_construction():
    d = 16
    T = HadamardRotation(d, n_blocks=2, random_state=3)
    H = hadamard(d).astype(float)
    D1, D2 = np.diag(T.signs[0]), np.diag(T.signs[1])
    dense = H @ D2 @ H @ D1 / d
    np.testing.assert_allclose(T @ np.eye(d), dense, atol=1e-14)
    np.testing.assert_allclose(T.T @ np.eye(d), dense.T, atol=1e-14)


def test_padding_is_an_isometry_not_truncation():
    T = HadamardRotation(6, random_state=0)
    M = T @ np.eye(6)
    assert M.shape == (8, 6)
    np.testing.assert_allclose(M.T @ M, np.eye(6), atol=1e-14)


def test_linear_operator_protocol_and_adjoint():
    T = HadamardRotation(12, random_state=0)
    assert isinstance(T, LinearOperator) and T.shape == (16, 12)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(12), rng.standard_normal(16)
    assert np.isclose(np.dot(T.matvec(x), y), np.dot(x, T.rmatvec(y)))
    np.testing.assert_allclose(T.matmat(np.eye(12)[:, :3]), (T @ np.eye(12))[:, :3])
    np.testing.assert_allclose(aslinearoperator(T).H @ y, T.rmatvec(y))
    np.testing.assert_allclose(T.H.matmat(np.eye(16)), (T @ np.eye(12)).T, atol=1e-14)


def test_same_seed_same_rotation_and_fresh_reproducible():
    X = np.random.default_rng(2).standard_normal((5, 32))
    a = HadamardRotation(32, random_state=7)
    b = HadamardRotation(32, random_state=7)
    np.testing.assert_array_equal(a.apply(X), b.apply(X))
    np.testing.assert_array_equal(a.apply(X, fresh=True), b.apply(X, fresh=True))
    assert not np.allclose(a.apply(X), HadamardRotation(32, random_state=8).apply(X))


def test_fresh_rows_get_independent_rotations():
    T = HadamardRotation(64, random_state=0)
    u = np.zeros(64)
    u[0] = 1.0
    Y = T.apply(np.tile(u, (4, 1)), fresh=True)
    assert len({tuple(np.round(r, 12)) for r in Y}) == 4
    shared = T.apply(np.tile(u, (4, 1)))
    np.testing.assert_array_equal(shared, np.tile(shared[0], (4, 1)))
    # each fresh row is still an exact isometry of its input
    np.testing.assert_allclose(np.linalg.norm(Y, axis=1), 1.0, rtol=1e-13)


def test_fresh_sample_mean_of_coordinates_is_uniform_like():
    # E[T(u)_i^2] = 1/d for every i under fresh rotations (all coordinates share the law).
    d, n = 32, 20000
    u = np.zeros(d)
    u[:4] = 0.5
    Y = HadamardRotation(d, random_state=1).apply(np.tile(u, (n, 1)), fresh=True)
    np.testing.assert_allclose((Y**2).mean(axis=0) * d, 1.0, atol=0.06)


def test_inputs_not_modified():
    T = HadamardRotation(10, random_state=0)
    X = np.random.default_rng(0).standard_normal((3, 10))
    X0 = X.copy()
    Y = T.apply(X)
    Y0 = Y.copy()
    T.inverse(Y)
    T.apply(X, fresh=True)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"dim": 0}, ValueError, "dim"),
        ({"dim": 4.5}, TypeError, "dim"),
        ({"dim": 8, "n_blocks": 0}, ValueError, "n_blocks"),
        ({"dim": 8, "random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_construction(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        HadamardRotation(**kwargs)


def test_bad_apply():
    T = HadamardRotation(10, random_state=0)
    with pytest.raises(ValueError, match="10 columns"):
        T.apply(np.ones((2, 9)))
    with pytest.raises(ValueError, match="padded_dim"):
        T.inverse(np.ones(10))
    with pytest.raises(ValueError, match="NaN"):
        T.apply(np.full(10, np.nan))
    with pytest.raises(TypeError, match="complex"):
        T.apply(np.ones(10, dtype=complex))
    with pytest.raises(TypeError, match="fresh"):  # a truthy string would switch per-row rotations on
        T.apply(np.ones(10), fresh="no")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fresh", [False, True])
def test_partial_sum_overflow_with_representable_result(dtype, fresh):
    # Rows with a few entries near the dtype's maximum: every coordinate of T x is at most ||x||_2 (here
    # <= big), but the partial sums of each block reach d times that and came out inf/NaN.
    big = float(np.finfo(dtype).max) / 4
    T = HadamardRotation(1000, random_state=0)
    X = np.random.default_rng(1).standard_normal((3, 1000)).astype(dtype)
    X[1] = 0.0
    X[1, :4] = big
    Y = T.apply(X, fresh=fresh)
    expected = T.apply(X / dtype(2.0**16), fresh=fresh).astype(np.float64) * 2.0**16  # exact scaling
    assert Y.dtype == dtype and np.isfinite(Y).all()
    np.testing.assert_array_equal(Y, expected.astype(dtype))
    np.testing.assert_array_equal(Y[[0, 2]], T.apply(X[[0, 2]], fresh=False) if not fresh else Y[[0, 2]])
    y = np.zeros(T.padded_dim, dtype)
    y[:4] = big
    x = T.inverse(y)
    assert np.isfinite(x).all()
    np.testing.assert_array_equal(x, (T.inverse(y / dtype(2.0**16)).astype(np.float64) * 2.0**16).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_result_that_does_not_fit_raises_naming_the_input(dtype):
    T = HadamardRotation(4, n_blocks=1, random_state=0)
    x = (T.signs[0] * float(np.finfo(dtype).max) / 1.5).astype(dtype)  # (T x)_0 = 4 (max / 1.5) / 2
    with pytest.raises(ValueError, match="`X` is too large"):
        T.apply(x)
    with pytest.raises(ValueError, match="`y` is too large"):
        T.inverse(np.full(4, np.finfo(dtype).max / 1.5, dtype))


def test_inverse_undoes_the_fixed_rotation_only_and_says_so():
    """inverse(apply(X)) == X row by row; rows of apply(X, fresh=True) are not undone, as both docstrings say."""
    T = HadamardRotation(100, random_state=0)
    X = np.random.default_rng(0).standard_normal((4, 100))
    np.testing.assert_allclose(T.inverse(T.apply(X)), X, atol=1e-12)
    assert not np.allclose(T.inverse(T.apply(X, fresh=True)), X)
    assert "undoes only ``fresh=False``" in T.apply.__doc__ and "fresh=True" in T.inverse.__doc__
