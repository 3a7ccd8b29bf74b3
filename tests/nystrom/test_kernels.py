import numpy as np

from lrla.nystrom import _kernels


def test_rbf_row_matches_reference():
    rng = np.random.default_rng(0)
    P, x = rng.standard_normal((17, 5)), rng.standard_normal(5)
    out = _kernels.rbf_row(P, x, 0.3, np.empty(17))
    np.testing.assert_allclose(out, _kernels.rbf_row_reference(P, x, 0.3), rtol=1e-13)


def test_update_slots_matches_reference():
    rng = np.random.default_rng(1)
    slots = rng.integers(-1, 6, 500)
    keep = rng.uniform(0, 1, 7)
    seed, counter = 12345, np.uint64(1000)
    u = _kernels.counter_uniforms(seed, counter, 500)
    ref = _kernels.update_slots_reference(slots, keep, 0.2, 6, u)
    got = _kernels.update_slots(slots.copy(), keep, 0.2, 6, seed, counter)
    np.testing.assert_array_equal(got, ref)
    assert 0 < np.sum(got == 6) < 500 and np.sum(got == -1) > np.sum(slots == -1)


def test_update_slots_marginal_law():
    # keep probability k and replacement probability p: P(slot still holds j) = (1 - p) k
    n = 40000
    slots = np.zeros(n, dtype=np.int64)
    _kernels.update_slots(slots, np.array([0.5, 1.0]), 0.1, 1, 7, np.uint64(0))
    frac = np.mean(slots == 0)
    assert abs(frac - 0.45) < 4 * np.sqrt(0.45 * 0.55 / n)
    assert abs(np.mean(slots == 1) - 0.1) < 4 * np.sqrt(0.09 / n)


def test_rbf_from_gram_matches_reference():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((13, 4)), rng.standard_normal((7, 4))
    x_sq, y_sq = (X * X).sum(1), (Y * Y).sum(1)
    for G, ys, zero in ((X @ Y.T, y_sq, False), (X @ X.T, x_sq, True)):
        ref = _kernels.rbf_from_gram_reference(G, x_sq, ys, 0.7, zero)
        np.testing.assert_allclose(_kernels.rbf_from_gram(G.copy(), x_sq, ys, 0.7, zero), ref, rtol=1e-14)


def test_fast_rbf_agrees_with_scikit_learn():
    from sklearn.metrics.pairwise import rbf_kernel

    from lrla.nystrom._kernel import KernelFunction

    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((40, 6)), rng.standard_normal((9, 6))
    k = KernelFunction("rbf", {"gamma": 0.3}, 6)
    np.testing.assert_allclose(k(X, Y), rbf_kernel(X, Y, gamma=0.3), rtol=1e-14, atol=0)
    K = k(X)
    np.testing.assert_allclose(K, rbf_kernel(X, gamma=0.3), rtol=1e-14, atol=0)
    assert np.all(np.diag(K) == 1.0)
    np.testing.assert_allclose(k.block(X, Y, (X * X).sum(1), (Y * Y).sum(1)), rbf_kernel(X, Y, gamma=0.3), rtol=1e-13)
    # float32 and array gamma take scikit-learn's own path
    assert k(X.astype(np.float32), Y.astype(np.float32)).dtype == np.float32
