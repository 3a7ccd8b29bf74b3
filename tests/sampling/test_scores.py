"""Leverage scores, Lewis weights and l_p sensitivities against dense-algebra and cvxpy references."""


import numpy as np
import pytest
import scipy.sparse as sp

from lrla.exceptions import ConvergenceWarning
from lrla.sampling import leverage_scores, lewis_weights, lp_sensitivities


def _heavy(n=80, d=4, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_t(2, size=(n, d))
    A[:2] *= 20.0
    return A


def _svd_leverage(A):
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > s[0] * max(A.shape) * np.finfo(float).eps))
    return np.sum(U[:, :r] ** 2, axis=1)


# --- leverage scores --------------------------------------------------------------------------

def test_exact_leverage_matches_svd_and_sums_to_d(dtype):
    A = _heavy(200, 6).astype(dtype)
    tau = leverage_scores(A)
    assert tau.dtype == np.dtype(dtype)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(tau, _svd_leverage(A.astype(float)), rtol=rtol, atol=rtol)
    assert tau.sum() == pytest.approx(6, rel=rtol)


def test_rank_deficient_follows_pseudo_inverse_rule():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((100, 3))
    A = np.column_stack([B, B[:, 0] + B[:, 1]])  # rank 3
    tau = leverage_scores(A)
    ref = np.einsum("ij,ji->i", A, np.linalg.pinv(A.T @ A) @ A.T)
    np.testing.assert_allclose(tau, ref, atol=1e-10)
    assert tau.sum() == pytest.approx(3)


def test_ridge_leverage_matches_direct_formula():
    A = _heavy(150, 5)
    lam = 7.5
    ref = np.einsum("ij,ji->i", A, np.linalg.solve(A.T @ A + lam * np.eye(5), A.T))
    np.testing.assert_allclose(leverage_scores(A, ridge=lam), ref, rtol=1e-10)
    # ridge > 0 also accepts n < d
    W = np.random.default_rng(0).standard_normal((3, 8))
    ref = np.einsum("ij,ji->i", W, np.linalg.solve(W.T @ W + np.eye(8), W.T))
    np.testing.assert_allclose(leverage_scores(W, ridge=1.0), ref, rtol=1e-10)


def test_sparse_exact_matches_dense():
    A = sp.random(300, 6, density=0.2, random_state=0, format="csr")
    np.testing.assert_allclose(leverage_scores(A), leverage_scores(A.toarray()), atol=1e-10)
    np.testing.assert_allclose(leverage_scores(A, ridge=0.5), leverage_scores(A.toarray(), ridge=0.5), atol=1e-10)


@pytest.mark.parametrize("epsilon", [0.5, 0.25])
def test_sketched_leverage_within_epsilon_dense(epsilon):
    A = _heavy(3000, 8)
    tau = leverage_scores(A)
    approx = leverage_scores(A, method="sketch", epsilon=epsilon, random_state=3)
    assert np.max(np.abs(approx / tau - 1)) <= epsilon


def test_sketched_leverage_sparse_and_ridge():
    A = sp.random(3000, 8, density=0.1, random_state=1, format="csr")
    tau = leverage_scores(A.toarray())
    live = np.asarray(abs(A).sum(axis=1)).ravel() > 0
    approx = leverage_scores(A, method="sketch", random_state=0)
    assert np.max(np.abs(approx[live] / tau[live] - 1)) <= 0.5
    assert np.all(approx[~live] == 0)
    D = _heavy(2000, 5)
    ex = leverage_scores(D, ridge=2.0)
    sk = leverage_scores(D, ridge=2.0, method="sketch", random_state=0)
    assert np.max(np.abs(sk / ex - 1)) <= 0.5


def test_sketch_with_jl_columns_is_close():
    A = _heavy(2000, 6)
    tau = leverage_scores(A)
    approx = leverage_scores(A, method="sketch", jl_dim=400, epsilon=0.5, random_state=0)
    rel = approx / tau - 1
    assert np.median(np.abs(rel)) < 0.1
    assert np.max(np.abs(rel)) < 0.5


def test_sketch_is_reproducible_and_float32_preserved():
    A = _heavy(1000, 4).astype(np.float32)
    a = leverage_scores(A, method="sketch", random_state=5)
    b = leverage_scores(A, method="sketch", random_state=5)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


# --- Lewis weights ----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1.0, 1.5, 3.0, 4.0, 6.0])
def test_lewis_weights_solve_the_fixed_point(p):
    A = _heavy(120, 4)
    w = lewis_weights(A, p)
    M = A.T @ (A * (w ** (1 - 2 / p))[:, None])
    fixed = np.einsum("ij,ji->i", A, np.linalg.solve(M, A.T)) ** (p / 2)
    np.testing.assert_allclose(w, fixed, rtol=1e-7)
    assert w.sum() == pytest.approx(4, rel=1e-8)


def test_lewis_weights_p2_are_leverage_and_invariant_to_column_transform():
    A = _heavy(100, 3)
    np.testing.assert_allclose(lewis_weights(A, 2), leverage_scores(A), atol=1e-12)
    R = np.random.default_rng(2).standard_normal((3, 3))
    np.testing.assert_allclose(lewis_weights(A @ R, 1.0), lewis_weights(A, 1.0), rtol=1e-7)


def test_lewis_weights_warn_on_iteration_cap():
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        lewis_weights(_heavy(50, 3), 1.0, max_iter=2)


# --- sensitivities ------------------------------------------------------------------------------

def test_p2_sensitivities_are_leverage_scores():
    A = _heavy(60, 3)
    np.testing.assert_allclose(lp_sensitivities(A, 2.0), leverage_scores(A), atol=1e-12)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_witnesses_attain_the_sensitivities(p):
    A = _heavy(40, 3)
    s, X = lp_sensitivities(A, p, return_witnesses=True)
    Ax = A @ X.T  # column i = A x^(i)
    attained = np.abs(np.diag(Ax)) ** p / np.sum(np.abs(Ax) ** p, axis=0)
    np.testing.assert_allclose(attained, s, rtol=1e-6)


def test_return_witnesses_must_be_a_bool():
    with pytest.raises(TypeError, match="return_witnesses"):  # "no" is truthy: a tuple would come back
        lp_sensitivities(_heavy(20, 2), 1.0, return_witnesses="no")


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_exact_sensitivities_match_cvxpy(p):
    cp = pytest.importorskip("cvxpy")
    A = _heavy(30, 3, seed=4)
    s = lp_sensitivities(A, p)
    x = cp.Variable(3)
    a = cp.Parameter(3)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.power(cp.abs(A @ x), p)) if p != 1 else cp.norm1(A @ x)), [a @ x == 1])
    ref = []
    for i in range(A.shape[0]):
        a.value = A[i]
        prob.solve(solver="CLARABEL")
        ref.append(1.0 / prob.value)
    np.testing.assert_allclose(s, ref, rtol=2e-5)


def test_sensitivities_invariant_and_flat_sign_matrix_is_symmetric():
    A = _heavy(40, 3)
    R = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(lp_sensitivities(A @ R, 1.0), lp_sensitivities(A, 1.0), rtol=1e-7)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 4)).reshape(4, -1).T  # all 16 sign vectors
    s = lp_sensitivities(signs, 1.0)
    np.testing.assert_allclose(s, s[0], rtol=1e-7)
    # the symmetric candidate x = 1 gives |1.1| / sum_sigma |sigma.1| = 4 / 24 for the all-ones row
    assert s[0] >= (4 / 24) * (1 - 1e-9)
    assert 2.0 <= s.sum() <= 4.0  # [d^{p/2}, d] at p = 1


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_upper_bounds_dominate_exact(p):
    A = _heavy(50, 3)
    s = lp_sensitivities(A, p)
    assert np.all(lp_sensitivities(A, p, method="lewis") >= s * (1 - 1e-6))
    if p <= 2:
        assert np.all(lp_sensitivities(A, p, method="bound") >= s * (1 - 1e-6))


def test_bound_method_rejects_p_above_two():
    with pytest.raises(ValueError, match="p <= 2"):
        lp_sensitivities(_heavy(20, 2), 3.0, method="bound")


def test_lewis_weights_and_sensitivities_of_rank_deficient_matrix_use_its_column_space():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((60, 3))
    A = np.column_stack([B, B @ np.array([1.0, -1.0, 2.0])])  # rank 3, d = 4
    np.testing.assert_allclose(lewis_weights(A, 1.0), lewis_weights(B, 1.0), rtol=1e-7)
    np.testing.assert_allclose(lp_sensitivities(A, 1.0), lp_sensitivities(B, 1.0), rtol=1e-7)
    assert lewis_weights(A, 3.0).sum() == pytest.approx(3.0)


@pytest.mark.parametrize("p", [1.0, 3.0])
def test_scores_are_equivariant_under_row_permutation(p):
    A = _heavy(40, 3, seed=6)
    perm = np.random.default_rng(0).permutation(40)
    np.testing.assert_allclose(leverage_scores(A[perm]), leverage_scores(A)[perm], atol=1e-12)
    np.testing.assert_allclose(lewis_weights(A[perm], p), lewis_weights(A, p)[perm], rtol=1e-8)
    np.testing.assert_allclose(lp_sensitivities(A[perm], p), lp_sensitivities(A, p)[perm], rtol=1e-6)


def test_sketched_scores_of_a_small_sparse_matrix_are_within_epsilon():
    import scipy.sparse as sp

    worst = 0.0
    for seed in range(5):
        A = sp.random_array((100, 20), density=0.3, random_state=seed, format="csr")
        exact = leverage_scores(A)
        sketched = leverage_scores(A, method="sketch", epsilon=0.5, random_state=seed)
        keep = exact > 0
        worst = max(worst, float(np.max(np.abs(sketched[keep] / exact[keep] - 1))))
    assert worst <= 0.5  # 1.20 when the default sketch of m = n rows was used (an OSNAP, not an isometry)
    # at n large enough for a sketch to save rows, the sparse sketch is used and is within epsilon
    A = sp.random_array((20000, 20), density=0.3, random_state=0, format="csr")
    exact = leverage_scores(A)
    sketched = leverage_scores(A, method="sketch", epsilon=0.5, random_state=0)
    keep = exact > 0
    assert not np.allclose(sketched, exact, rtol=1e-9) and np.max(np.abs(sketched[keep] / exact[keep] - 1)) <= 0.5
