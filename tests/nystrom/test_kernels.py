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


def test_exp_nonpositive_within_one_ulp():
    rng = np.random.default_rng(3)
    v = np.concatenate([-rng.exponential(5.0, 20000), np.linspace(-707.99, 0.0, 20001),
                        [0.0, -0.0, -1e-300, -5e-324, -0.5 * np.log(2.0), -np.log(2.0), -707.9999]])
    got = _kernels.exp_nonpositive(v.copy())
    np.testing.assert_array_max_ulp(got, np.exp(v), maxulp=1)
    assert got[-7] == 1.0 and got[-6] == 1.0


def test_exp_nonpositive_tail_and_nan():
    v = np.array([-708.0, -709.5, -1e300, -np.inf, np.nan, -1.0])
    got = _kernels.exp_nonpositive(v.copy())
    ref = _kernels.exp_nonpositive_reference(v)
    np.testing.assert_array_equal(got[:4], 0.0)
    assert np.isnan(got[4])
    np.testing.assert_array_max_ulp(got[5:], ref[5:], maxulp=1)
    # lengths around the internal chunk size
    for n in (1, 255, 256, 257, 1000):
        w = -np.linspace(0.0, 30.0, n)
        np.testing.assert_array_max_ulp(_kernels.exp_nonpositive(w.copy()), np.exp(w), maxulp=1)


def _weighted_rbf(n, d, gamma, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.uniform(0.5, 4.0, n)
    K = np.exp(-gamma * ((X[:, None] - X[None]) ** 2).sum(-1))
    return K * w[:, None] * w[None, :]


def test_tridiagonal_eigenvalues_match_scipy():
    rng = np.random.default_rng(0)
    for n in [1, 2, 3, 7, 30, 120]:
        for case in range(6):
            d = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3)
            e = rng.standard_normal(max(n - 1, 0))
            if case == 1:
                d[:] = 1.0  # a multiple eigenvalue-prone matrix
            if case == 2 and n > 2:
                e[n // 2] = 0.0  # split into two blocks
            if case == 3:
                e *= 1e-9  # nearly diagonal
            got = np.sort(_kernels.tridiagonal_eigenvalues(d, e))
            ref = _kernels.tridiagonal_eigenvalues_reference(d, e)
            scale = max(np.abs(ref).max(), np.abs(e).max(initial=0.0))
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * scale)


def test_lanczos_top_sum_matches_dense_eigenvalues():
    for n, d, gamma, k in [(5, 3, 0.5, 2), (57, 5, 0.3, 6), (90, 64, 0.02, 6), (120, 4, 1.0, 17), (300, 8, 0.1, 17)]:
        for seed in range(3):
            A = _weighted_rbf(n, d, gamma, seed)
            got, converged = _kernels.lanczos_top_eigenvalue_sum(A, k, 1e-12, n, 7)
            ref = _kernels.lanczos_top_eigenvalue_sum_reference(A, k)
            assert converged
            assert abs(got - ref) <= 1e-11 * np.trace(A)


def test_lanczos_restarts_after_an_invariant_subspace():
    # three identical 4 x 4 blocks: the first Krylov space is invariant after 4 steps and holds one
    # copy of each eigenvalue; the restarts from fresh orthogonal directions must find the others.
    # (A repeated eigenvalue whose first Krylov space is not exhausted before the sum stagnates can be
    # counted once -- the limit of any single-vector Krylov method, MATLAB's eigs in the reference
    # included; see the docstring.)
    B = _weighted_rbf(4, 3, 0.5, 1)
    A = np.kron(np.eye(3), B)
    got, converged = _kernels.lanczos_top_eigenvalue_sum(A, 6, 1e-12, 12, 3)
    assert converged
    np.testing.assert_allclose(got, _kernels.lanczos_top_eigenvalue_sum_reference(A, 6), rtol=1e-12)


def test_lanczos_reports_non_convergence_and_the_ridge_rule_falls_back():
    from lrla.nystrom.leverage import musco_ridge

    A = np.eye(40)  # every direction is invariant: more restarts than start vectors
    _, converged = _kernels.lanczos_top_eigenvalue_sum(A, 6, 1e-12, 40, 3)
    assert not converged
    K = 2.0 * np.eye(40)
    w = np.ones(40)
    # lambda = (tr(WKW) - top-k sum) / k with k = ceil(100 / (4 ln 100)) = 6
    assert musco_ridge(K, w, 100) == (80.0 - 12.0) / 6
    _, converged = _kernels.lanczos_top_eigenvalue_sum(A, 6, 1e-12, 5, 3)  # step cap
    assert not converged


def test_musco_ridge_matches_the_dense_formula():
    from lrla.nystrom.leverage import musco_ridge

    for n, s in [(57, 100), (120, 400), (300, 400)]:
        K = _weighted_rbf(n, 5, 0.2, n)
        w = np.random.default_rng(n).uniform(0.5, 3.0, n)
        k = int(np.ceil(s / (4 * np.log(s))))
        Kw = K * w[:, None] * w[None, :]
        ref = (np.dot(np.diag(K), w * w) - np.abs(np.linalg.eigvalsh(Kw)[-k:]).sum()) / k
        np.testing.assert_allclose(musco_ridge(K, w, s), max(ref, 1e-5), rtol=1e-10)
