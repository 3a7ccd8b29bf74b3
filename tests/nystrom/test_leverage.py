import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrla.nystrom import effective_dimension, ridge_leverage_scores
from lrla.nystrom.leverage import estimate_scores, spectral_accuracy


def _features(n=40, d=5, seed=0):
    return np.random.default_rng(seed).standard_normal((d, n))


def _exact_rls(Phi, ridge):
    """tau_i = phi_i^T (Phi Phi^T + ridge I)^{-1} phi_i in the d-dimensional feature space."""
    G = Phi @ Phi.T + ridge * np.eye(Phi.shape[0])
    return np.einsum("ij,ij->j", Phi, np.linalg.solve(G, Phi))


@pytest.mark.parametrize("method", ["cholesky", "eigh"])
@pytest.mark.parametrize("ridge", [1e-6, 1e-2, 1.0, 100.0])
def test_matches_feature_space_formula(method, ridge):
    Phi = _features()
    K = Phi.T @ Phi
    tau = ridge_leverage_scores(K, ridge, method=method)
    ref = _exact_rls(Phi, ridge)
    # round-off of a rank-deficient K: each null eigenvalue is ~ n eps ||K||, seen through 1/ridge
    atol = 50 * K.shape[0] * np.finfo(float).eps * np.linalg.norm(K, 2) / ridge
    np.testing.assert_allclose(tau, ref, rtol=1e-6, atol=max(atol, 1e-12))
    assert effective_dimension(K, ridge) == pytest.approx(ref.sum(), rel=1e-8, abs=K.shape[0] * atol)


def test_small_scores_keep_relative_accuracy():
    # A point far from the span of the others has a tiny score at a large ridge; the cancelling
    # formula 1 - ridge [(K + ridge I)^-1]_ii would return noise or a negative number.
    Phi = _features(30, 3) * 1e-7
    K = Phi.T @ Phi
    ridge = 10.0
    ref = _exact_rls(Phi, ridge)
    assert ref.max() < 1e-12
    naive = 1 - ridge * np.diag(np.linalg.inv(K + ridge * np.eye(30)))
    assert np.max(np.abs(naive - ref) / ref) > 1e-3  # the naive formula really loses digits here
    for method in ("cholesky", "eigh"):
        np.testing.assert_allclose(ridge_leverage_scores(K, ridge, method=method), ref, rtol=1e-6)


def test_effective_dimension_of_diagonal():
    assert effective_dimension(np.diag([3.0, 1.0, 0.0]), 1.0) == pytest.approx(0.75 + 0.5)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 25), st.floats(1e-3, 1e3), st.integers(0, 10**6))
def test_scores_in_unit_interval_and_sum_to_deff(n, ridge, seed):
    Phi = np.random.default_rng(seed).standard_normal((3, n))
    K = Phi.T @ Phi
    tau = ridge_leverage_scores(K, ridge)
    assert np.all((tau >= 0) & (tau <= 1))
    atol = 50 * n * np.finfo(float).eps * max(np.linalg.norm(K, 2), 1.0) / ridge
    assert tau.sum() == pytest.approx(effective_dimension(K, ridge), rel=1e-7, abs=max(n * atol, 1e-9))


def test_input_not_modified():
    K = np.eye(4) * 2.0
    K0 = K.copy()
    ridge_leverage_scores(K, 1.0)
    effective_dimension(K, 1.0)
    np.testing.assert_array_equal(K, K0)


@pytest.mark.parametrize(
    "K, ridge, exc, match",
    [
        (np.eye(3), 0.0, ValueError, "ridge"),
        (np.eye(3), -1.0, ValueError, "ridge"),
        (np.eye(3), np.nan, ValueError, "ridge"),
        (np.eye(3), "1", TypeError, "ridge"),
        (np.ones((3, 2)), 1.0, ValueError, "square"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0, ValueError, "symmetric"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), 1.0, ValueError, "NaN"),
        (np.zeros((0, 0)), 1.0, ValueError, "empty"),
        (-10 * np.eye(3), 1.0, ValueError, "positive"),
        (np.ones(3), 1.0, ValueError, "2-dimensional"),
    ],
)
def test_bad_input(K, ridge, exc, match):
    with pytest.raises(exc, match=match):
        ridge_leverage_scores(K, ridge)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        ridge_leverage_scores(np.eye(2), 1.0, method="qr")


def test_estimator_with_full_dictionary_is_exact():
    # With every point in the dictionary at weight 1 the estimator is the exact RLS (times the scale).
    Phi = _features(25, 4, seed=3)
    K = Phi.T @ Phi
    est = estimate_scores(K, np.ones(25), 0.5, 1.0)
    np.testing.assert_allclose(est, _exact_rls(Phi, 0.5), rtol=1e-8)
    np.testing.assert_allclose(estimate_scores(K, np.ones(25), 0.5, 0.5), 0.5 * _exact_rls(Phi, 0.5), rtol=1e-8)


def test_spectral_accuracy_zero_for_exact_dictionary_and_matches_definition():
    Phi = _features(20, 4, seed=1)
    K = Phi.T @ Phi
    assert spectral_accuracy(K, np.arange(20), np.ones(20), 1.0) < 1e-10
    idx = np.array([0, 3, 5, 9, 12])
    w = np.array([2.0, 1.0, 3.0, 0.5, 4.0])
    G = Phi @ Phi.T + np.eye(4)
    lam, U = np.linalg.eigh(G)
    G_isqrt = U @ np.diag(lam**-0.5) @ U.T
    W = np.zeros(20)
    W[idx] = w
    P = G_isqrt @ Phi @ Phi.T @ G_isqrt
    Pt = G_isqrt @ (Phi * W) @ Phi.T @ G_isqrt
    assert spectral_accuracy(K, idx, w, 1.0) == pytest.approx(np.linalg.norm(P - Pt, 2), rel=1e-8)
