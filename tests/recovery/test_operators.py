import numpy as np
import pytest
from scipy import stats

from lrla.recovery import GaussianSensing, RankOneSensing, SensingOperator, _kernels

from .reference import dense_matrices, gaussian_rows


def test_generator_matches_plain_reference():
    # 40 x 50 draws include slow-branch (wedge / tail) cases: about 1.2% of them
    got = _kernels.gaussian_rows(12345, 40, 50)
    np.testing.assert_allclose(got, gaussian_rows(12345, 40, 50), rtol=1e-13, atol=1e-14)


def test_ziggurat_tables():
    x, f = _kernels.ZIG_X, _kernels.ZIG_F
    assert x[1] == _kernels.ZIG_R and x[-1] == 0.0 and np.all(np.diff(x[1:]) < 0)
    # every layer has the same area v, the top one included (consistency of R and v)
    areas = x[1:-1] * (f[2:] - f[1:-1])
    np.testing.assert_allclose(areas, 9.91256303526217e-3, rtol=1e-6)


def test_generator_is_standard_normal():
    z = _kernels.gaussian_rows(7, 400, 1001).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # the tail beyond R = 3.44 (ziggurat's special branch) has the right mass
    tail = np.mean(np.abs(z) > 3.5)
    expected = 2 * stats.norm.sf(3.5)
    assert abs(tail - expected) < 5 * np.sqrt(expected / z.size)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.01


@pytest.mark.parametrize("symmetric", [True, False])
def test_gaussian_dense_equals_matrix_free(symmetric):
    dense = GaussianSensing(6, 40, symmetric=symmetric, random_state=1)
    free = GaussianSensing(6, 40, symmetric=symmetric, matrix_free=True, random_state=1)
    rng = np.random.default_rng(0)
    X, z = rng.standard_normal((6, 6)), rng.standard_normal(40)
    np.testing.assert_allclose(free(X), dense(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(free.adjoint(z), dense.adjoint(z), rtol=1e-12, atol=1e-12)
    L, R, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)), rng.standard_normal(40)
    for a, b in zip(free._sign_step(L, R, y), dense._sign_step(L, R, y)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianSensing(5, 30, random_state=0),
        lambda: GaussianSensing((4, 6), 30, symmetric=False, random_state=0),
        lambda: GaussianSensing(5, 30, matrix_free=True, random_state=0),
        lambda: RankOneSensing((4, 6), 30, random_state=0),
        lambda: RankOneSensing(5, 30, symmetric=True, random_state=0),
        lambda: SensingOperator(np.random.default_rng(0).standard_normal((30, 4, 3))),
    ],
)
def test_adjoint_identity_and_factored_products(make):
    op = make()
    rng = np.random.default_rng(1)
    X, z = rng.standard_normal(op.shape), rng.standard_normal(op.n_measurements)
    assert np.isclose(op(X) @ z, np.sum(X * op.adjoint(z)), rtol=1e-10)
    mats = dense_matrices(op)
    np.testing.assert_allclose(op.adjoint(z), np.einsum("i,ijk->jk", z, mats), rtol=1e-10, atol=1e-10)
    L, R = rng.standard_normal((op.shape[0], 3)), rng.standard_normal((op.shape[1], 3))
    np.testing.assert_allclose(op._forward_factored(L, R), op(L @ R.T), rtol=1e-10, atol=1e-10)
    G = op.adjoint(z)
    for a, b in zip(op._adjoint_products(z, L, R), (G @ R, G.T @ L)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_symmetric_gaussian_law():
    # A_i = (G + G^T)/2: unit-variance diagonal, variance-1/2 off-diagonal
    mats = dense_matrices(GaussianSensing(4, 4000, random_state=0))
    np.testing.assert_array_equal(mats, mats.transpose(0, 2, 1))
    assert abs(mats[:, 0, 0].var() - 1.0) < 0.1
    assert abs(mats[:, 0, 1].var() - 0.5) < 0.05


def test_callable_operator_matches_matrices():
    mats = np.random.default_rng(0).standard_normal((20, 3, 3))
    op = SensingOperator(
        forward=lambda X: np.einsum("ijk,jk->i", mats, X),
        adjoint=lambda z: np.einsum("i,ijk->jk", z, mats),
        shape=(3, 3),
        n_measurements=20,
    )
    X = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(op(X), SensingOperator(mats)(X))


def test_same_seed_same_operator_and_inputs_untouched():
    X = np.random.default_rng(0).standard_normal((5, 5))
    X0 = X.copy()
    a = GaussianSensing(5, 20, random_state=3)(X)
    b = GaussianSensing(5, 20, random_state=3)(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, X0)
    assert not np.array_equal(a, GaussianSensing(5, 20, random_state=4)(X))


def test_bad_operator_input():
    op = GaussianSensing(4, 10, random_state=0)
    with pytest.raises(ValueError, match="X"):
        op(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        op(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="n_measurements"):
        op.adjoint(np.zeros(9))
    with pytest.raises(ValueError, match="dim"):
        GaussianSensing(0, 10)
    with pytest.raises(ValueError, match="square"):
        GaussianSensing((3, 4), 10)
    with pytest.raises(ValueError, match="n_measurements"):
        RankOneSensing(3, 0)
    with pytest.raises(TypeError, match="matrix_free"):
        GaussianSensing(3, 5, matrix_free="yes")
    with pytest.raises(ValueError, match="matrices"):
        SensingOperator(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="callables"):
        SensingOperator(forward=1, adjoint=2, shape=(2, 2), n_measurements=3)
    bad = SensingOperator(forward=lambda X: np.zeros(2), adjoint=lambda z: np.zeros((2, 2)),
                          shape=(2, 2), n_measurements=3)
    with pytest.raises(ValueError, match="forward"):
        bad(np.eye(2))


def test_memory_matrix_free_is_constant():
    assert GaussianSensing(50, 1000, matrix_free=True, random_state=0).memory_bytes == 0
    assert GaussianSensing(10, 100, random_state=0).memory_bytes == 100 * 55 * 8
