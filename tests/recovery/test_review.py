"""Defects found by reviewing the operators, the geometric schedule and make_sensing_problem.

Each test failed before its fix.
"""

import warnings

import numpy as np
import pytest

from lrla.datasets import make_sensing_problem
from lrla.exceptions import ConvergenceWarning
from lrla.recovery import (
    GaussianSensing,
    RankOneSensing,
    SensingOperator,
    SubgradientRecovery,
)


@pytest.fixture(scope="module")
def small():
    return make_sensing_problem(8, 2, 400, random_state=0)


@pytest.mark.parametrize("matrix_free", [False, True])
@pytest.mark.parametrize("X_true", [np.zeros((8, 8)), np.full((8, 8), 1e-320), np.full((8, 8), 1e300)],
                         ids=["zero", "underflows", "overflows"])
def test_x_true_without_a_relative_error_is_rejected(small, matrix_free, X_true):
    # the compiled loop took a zero norm for "no X_true" and returned uninitialised memory as history_["error"];
    # the Python loop divided by zero (inf and RuntimeWarnings); a norm that overflows gave NaN
    op = GaussianSensing(8, 400, matrix_free=matrix_free, random_state=0)
    with pytest.raises(ValueError, match="X_true"):
        SubgradientRecovery(2, n_iter=5, random_state=0).fit(op, small.y, X_true=X_true)


def test_sensing_problem_rejects_options_it_would_ignore():
    with pytest.raises(ValueError, match="corruption"):
        make_sensing_problem(6, 1, 50, noise="gaussian", corruption=0.3)
    with pytest.raises(ValueError, match="noise_level"):
        make_sensing_problem(6, 1, 50, noise_level=0.5)
    with pytest.raises(ValueError, match="matrix_free"):
        make_sensing_problem(6, 1, 50, operator="rank-one", matrix_free=True)
    with pytest.raises(TypeError, match="matrix_free"):
        make_sensing_problem(6, 1, 50, operator="rank-one", matrix_free="no")
    # the options that apply still work, and the zero values of the others are accepted
    p = make_sensing_problem(6, 1, 50, noise="gaussian", noise_level=0.5, corruption=0.0, random_state=0)
    assert np.abs(p.y - p.operator(p.X)).max() > 0
    make_sensing_problem(6, 1, 50, operator="rank-one", matrix_free=False, noise_level=0.0, random_state=0)


def test_matrices_with_contradicting_shape_or_count_are_rejected():
    A = np.random.default_rng(0).standard_normal((4, 3, 3))
    with pytest.raises(ValueError, match="n_measurements"):
        SensingOperator(A, n_measurements=7)
    with pytest.raises(ValueError, match="shape"):
        SensingOperator(A, shape=(2, 2))
    op = SensingOperator(A, shape=(3, 3), n_measurements=4)  # consistent: fine
    assert op.shape == (3, 3) and op.n_measurements == 4


@pytest.mark.parametrize("make", [
    lambda: GaussianSensing(10, 800, random_state=0),
    lambda: GaussianSensing(10, 800, matrix_free=True, random_state=0),
    lambda: RankOneSensing(10, 800, symmetric=True, random_state=0),
], ids=["gaussian", "matrix-free", "rank-one"])
def test_general_factorization_on_symmetric_measurements_warns(make):
    # symmetric A_i measure only the symmetric part of L R^T: X_ = L R^T kept an unidentified antisymmetric part
    # (indefinite target: relative error 0.54, its symmetric part 8e-7), silently
    op = make()
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 2)))
    X = Q @ np.diag([1.0, -0.7]) @ Q.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # n_iter=3: still near the initialization
        with pytest.warns(UserWarning, match="symmetric part"):
            est = SubgradientRecovery(2, symmetric=False, n_iter=3, random_state=0).fit(op, op(X))
    assert est.X_.shape == (10, 10)


def test_general_measurements_do_not_warn_symmetric_part():
    op = GaussianSensing(6, 200, symmetric=False, random_state=0)
    X = np.outer(np.arange(1.0, 7.0), np.ones(6))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*symmetric part.*")
        SubgradientRecovery(1, symmetric=False, random_state=0).fit(op, op(X))


@pytest.mark.parametrize("params, name", [({"n_iter": 10**13}, "n_iter"), ({"decay": 1 - 1e-12, "tol": 1e-3}, "decay")])
def test_iteration_count_too_large_for_its_history_says_so(small, params, name):
    # numpy's "Unable to allocate 101. TiB" named neither n_iter nor the decay that set its default
    with pytest.raises(MemoryError, match=name):
        SubgradientRecovery(2, random_state=0, **params).fit(small.operator, small.y)


def test_subclass_without_the_constructor_is_named():
    # was AttributeError: 'MyOp' object has no attribute '_flat'
    A = np.random.default_rng(0).standard_normal((60, 3, 3))

    class MyOp(SensingOperator):
        def __init__(self):
            self.shape, self.n_measurements = (3, 3), 60

        def __call__(self, X):
            return np.einsum("ijk,jk->i", A, X)

        def adjoint(self, y):
            return np.einsum("ijk,i->jk", A, y)

    op = MyOp()
    with pytest.raises(TypeError, match="operator.*forward=.*adjoint="):
        SubgradientRecovery(1, random_state=0).fit(op, op(np.eye(3)))


@pytest.mark.parametrize("kw", [{"matrix_free": True}, {"operator": "rank-one"}], ids=["matrix-free", "rank-one"])
def test_python_loop_divergence_warns_once_not_with_numpy_floods(kw):
    # the compiled loop diverged silently up to its ConvergenceWarning; the Python loop added hundreds of numpy
    # overflow / invalid RuntimeWarnings (errors under the repository's pytest settings)
    p = make_sensing_problem(8, 2, 400, corruption=0.1, random_state=0, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SubgradientRecovery(2, step_size=1e10, n_iter=80, random_state=0).fit(p.operator, p.y, X_true=p.X)
    kinds = [(w.category, str(w.message)) for w in caught]
    assert not [k for k in kinds if k[0] is RuntimeWarning], kinds[:3]
    assert any("diverged" in message for _, message in kinds)


@pytest.mark.parametrize("matrix_free", [False, True])
def test_huge_initialization_that_never_comes_down_warns(matrix_free):
    # init_scale=1e100 returned ||X_|| ~ 1e200 (history error inf) with only numpy's overflow RuntimeWarning
    p = make_sensing_problem(8, 2, 400, corruption=0.1, matrix_free=matrix_free, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SubgradientRecovery(2, init_scale=1e100, random_state=0).fit(p.operator, p.y)
    assert [str(w.message) for w in caught if w.category is ConvergenceWarning and "far above" in str(w.message)]
    assert not [w for w in caught if w.category is RuntimeWarning]
    # a large start the steps can bring down recovers without the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = SubgradientRecovery(2, init_scale=1e3, random_state=0).fit(p.operator, p.y, X_true=p.X)
    assert est.history_["error"][-1] < 1e-5


def test_callable_operator_divergence_is_reported_as_divergence():
    # diverged iterates (inf) made a correct callable return NaN, and fit raised "`forward(X)` contains NaN"
    F = np.random.default_rng(0).standard_normal((300, 36))
    op = SensingOperator(forward=lambda X: F @ X.ravel(), adjoint=lambda z: (F.T @ z).reshape(6, 6),
                         shape=(6, 6), n_measurements=300)
    X = np.outer(np.arange(6.0), np.arange(6.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the step-size warning
        with pytest.warns(ConvergenceWarning, match="diverged"):
            SubgradientRecovery(1, step_size=1e10, n_iter=80, random_state=0).fit(op, op(X))
    bad = SensingOperator(forward=lambda X: np.full(300, np.nan), adjoint=lambda z: np.zeros((6, 6)),
                          shape=(6, 6), n_measurements=300)
    with pytest.raises(ValueError, match="forward"):  # a callable at fault on finite input is still named
        bad(X)


@pytest.mark.parametrize("dim, expected", [(8, 1), (80, None)])
def test_small_matrix_free_passes_run_on_one_numba_thread(dim, expected, monkeypatch):
    # a parallel region per pass cost 32 ms on a loaded 2-core machine against 0.2 ms on one thread (d = 8, m = 400);
    # large passes keep the caller's thread count, and the count is restored after the fit
    import numba

    op = GaussianSensing(dim, 400, matrix_free=True, random_state=0)
    seen = []
    original = type(op)._sign_step

    def spy(self, *args, **kwargs):
        seen.append(numba.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(op), "_sign_step", spy)
    before = numba.get_num_threads()
    U = np.random.default_rng(0).standard_normal((dim, 1))
    SubgradientRecovery(1, n_iter=3, init_scale=1.0, random_state=0).fit(op, op(U @ U.T))
    assert set(seen) == {expected or before}
    assert numba.get_num_threads() == before
