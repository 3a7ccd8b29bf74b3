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
