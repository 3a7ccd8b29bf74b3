import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from lrla import FrequentDirections, OjaTopEigenvector, RandomOrderTopEigenvector
from lrla.datasets import (
    adversarial_order,
    make_oja_hard_instance,
    make_spiked_stream,
    oja_hard_instance_oracle,
)

D = 24


@pytest.fixture(scope="module")
def spiked():
    return make_spiked_stream(6000, D, gap=15.0, n_heavy=4, random_state=3)


def _estimators(n):
    return [
        RandomOrderTopEigenvector(D, n_rows=n, random_state=0),
        RandomOrderTopEigenvector(D, n_rows=None, first_segment=200, random_state=0),
        RandomOrderTopEigenvector(D, n_rows=n, block_size=3, random_state=0),
        OjaTopEigenvector(D, learning_rate=[0.5, 4.0, 30.0], random_state=0),
        OjaTopEigenvector(D, learning_rate=200.0, schedule="decaying", random_state=0),
        FrequentDirections(D, 6),
    ]


ESTIMATOR_IDS = ["kw", "kw-geometric", "kw-block", "oja-multi", "oja-decaying", "fd"]


def _state(est):
    return est.vector_, getattr(est, "eigenvalue_", None), est.stored_rows_, est.n_seen_


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_accuracy_on_spiked_stream(spiked, index):
    A, v1, R = spiked
    est = _estimators(A.shape[0])[index].fit(A)
    assert abs(est.vector_ @ v1) > 0.98
    np.testing.assert_allclose(np.linalg.norm(est.vector_), 1.0, rtol=1e-12)


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_chunking_does_not_change_the_result(spiked, index):
    A, _, _ = spiked
    rng = np.random.default_rng(index)
    cuts = np.sort(rng.choice(np.arange(1, A.shape[0]), size=40, replace=False))
    pieces = np.split(A, cuts)
    whole = _estimators(A.shape[0])[index].fit(A)
    from_iter = _estimators(A.shape[0])[index].fit(iter(pieces))
    one_call = _estimators(A.shape[0])[index].partial_fit(A)
    by_rows = _estimators(A.shape[0])[index]
    for p in pieces:
        by_rows.partial_fit(p)
    for a, b in zip(_state(whole), _state(from_iter)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_state(one_call), _state(by_rows)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=12))
def test_chunking_property_random_order(sizes):
    A, _, _ = make_spiked_stream(1500, 8, gap=10.0, n_heavy=3, random_state=1)
    whole = RandomOrderTopEigenvector(8, n_rows=A.shape[0], random_state=5).fit(A)
    est = RandomOrderTopEigenvector(8, n_rows=A.shape[0], random_state=5)
    cuts = np.cumsum(sizes)
    cuts = cuts[cuts < A.shape[0]]
    for p in np.split(A, cuts):
        est.partial_fit(p)
    np.testing.assert_array_equal(whole.vector_, est.vector_)
    assert whole.stored_rows_ == est.stored_rows_


def test_single_rows_and_memmap(spiked, tmp_path):
    A, _, _ = spiked
    A = A[:1500]
    path = tmp_path / "rows.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=A.shape)
    mm[:] = A
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=A.shape)
    a = RandomOrderTopEigenvector(D, n_rows=A.shape[0], random_state=0).fit(ro)
    b = RandomOrderTopEigenvector(D, n_rows=A.shape[0], random_state=0)
    for row in np.asarray(ro):
        b.partial_fit(row)
    np.testing.assert_array_equal(a.vector_, b.vector_)
    c = RandomOrderTopEigenvector(D, n_rows=A.shape[0], random_state=0).fit(A.astype(np.float32))
    np.testing.assert_array_equal(a.vector_, c.vector_)


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_same_seed_same_answer_and_input_untouched(spiked, index):
    A, _, _ = spiked
    A_copy = A.copy()
    a = _estimators(A.shape[0])[index].fit(A)
    b = clone(_estimators(A.shape[0])[index]).fit(A)
    np.testing.assert_array_equal(a.vector_, b.vector_)
    np.testing.assert_array_equal(A, A_copy)


def test_float32_input(spiked):
    A, v1, _ = spiked
    for est in _estimators(A.shape[0]):
        est.fit(A.astype(np.float32))
        assert est.vector_.dtype == np.float64
        assert abs(est.vector_ @ v1) > 0.98


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_bad_input(index):
    make = lambda: _estimators(100)[index]  # noqa: E731
    with pytest.raises(ValueError, match="length dim=24"):
        make().partial_fit(np.ones((3, D + 1)))
    bad = np.ones((3, D))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make().partial_fit(bad)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        make().partial_fit(bad)
    with pytest.raises(ValueError, match="all zeros"):
        make().fit(np.zeros((100, D)))
    with pytest.raises(ValueError, match="empty"):
        make().fit(np.zeros((0, D)))
    with pytest.raises(ValueError, match="dimensional|1-D"):
        make().partial_fit(np.ones((2, 2, D)))
    with pytest.raises(TypeError, match="rows"):
        make().partial_fit("rows")
    with pytest.raises(TypeError, match="complex"):
        make().partial_fit(np.ones((2, D), dtype=complex))
    with pytest.raises(TypeError, match="`rows` must be dense; got a scipy.sparse"):  # was "got shape ()"
        make().partial_fit(sp.csr_array(np.ones((2, D))))
    with pytest.raises(TypeError, match=r"`rows \(chunk 1\)` must be dense"):
        make().partial_fit(iter([np.ones((2, D)), sp.csr_array(np.ones((2, D)))]))


@pytest.mark.parametrize("index", [0, 1, 2, 5], ids=["kw", "kw-geometric", "kw-block", "fd"])
def test_rows_whose_squares_overflow_are_rejected(spiked, index):
    # were a LinAlgError ("SVD did not converge"), an IndexError, or (FD) an SVD that never returned
    A, _, _ = spiked
    with pytest.raises(ValueError, match="`rows` is too large"):
        _estimators(A.shape[0])[index].fit(A * 1e155)


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_rows_whose_squares_underflow_are_not_called_all_zeros(index):
    with pytest.raises(ValueError, match="underflow"):
        _estimators(100)[index].fit(np.full((100, D), 1e-170))


@pytest.mark.parametrize("rates", [1e100, 1e300, [1e100, 1e300]])
def test_oja_rate_that_overflows_raises_instead_of_a_nan_vector(spiked, rates):
    A, _, _ = spiked
    with pytest.raises(ValueError, match="`learning_rate`"):  # was a NaN vector_, returned silently
        OjaTopEigenvector(D, learning_rate=rates, random_state=0).fit(A[:500])


def test_oja_overflowing_rate_is_never_selected(spiked):
    A, v1, _ = spiked
    grid = [0.5, 4.0, 30.0]
    est = OjaTopEigenvector(D, learning_rate=grid + [1e300], random_state=0).fit(A)  # 1e300 was selected: NaN
    ref = OjaTopEigenvector(D, learning_rate=grid, random_state=0).fit(A)
    assert est.selected_rate_ == ref.selected_rate_
    np.testing.assert_array_equal(est.vector_, ref.vector_)
    assert abs(est.vector_ @ v1) > 0.98


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_rows"):
        RandomOrderTopEigenvector(4, n_rows=0).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="n_rows"):
        RandomOrderTopEigenvector(4, n_rows=3, n_segments=5).partial_fit(np.ones(4))
    with pytest.raises(TypeError, match="n_rows"):
        RandomOrderTopEigenvector(4, n_rows=2.5).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="dim"):
        RandomOrderTopEigenvector(0, n_rows=10).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="block_size"):
        RandomOrderTopEigenvector(4, n_rows=10, block_size=5).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="heavy_factor"):
        RandomOrderTopEigenvector(4, n_rows=10, heavy_factor=-1).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="learning_rate"):
        OjaTopEigenvector(4, learning_rate=0.0).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="learning_rate"):
        OjaTopEigenvector(4, learning_rate=[1.0, np.nan]).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="schedule"):
        OjaTopEigenvector(4, learning_rate=1.0, schedule="cosine").partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="init"):
        OjaTopEigenvector(4, learning_rate=1.0, init=np.ones(3)).partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="sketch_size"):
        FrequentDirections(4, 0).partial_fit(np.ones(4))


def test_more_rows_than_n_rows_raises():
    est = RandomOrderTopEigenvector(4, n_rows=20, random_state=0)
    est.partial_fit(np.random.default_rng(0).standard_normal((20, 4)))
    assert est.vector_ is not None and est.n_power_steps_ == 4  # ceil(log2 4) + 2 segments
    with pytest.raises(ValueError, match="more rows than `n_rows`"):
        est.partial_fit(np.ones(4))
    with pytest.raises(ValueError, match="n_rows"):
        RandomOrderTopEigenvector(4, n_rows=20, random_state=0).fit(np.ones((10, 4)))


def test_geometric_mode_needs_more_than_the_warm_up():
    with pytest.raises(ValueError, match="first_segment"):
        RandomOrderTopEigenvector(4, n_rows=None, first_segment=50).fit(np.ones((30, 4)))


def test_geometric_mode_keeps_going():
    A, v1, _ = make_spiked_stream(8000, 16, gap=10.0, n_heavy=2, random_state=0)
    est = RandomOrderTopEigenvector(16, n_rows=None, first_segment=100, random_state=0)
    est.partial_fit(A[:4000])
    steps = est.n_power_steps_
    est.partial_fit(A[4000:])
    assert est.n_power_steps_ > steps >= 3
    assert abs(est.vector_ @ v1) > 0.98


def test_heavy_rows_are_stored_exactly():
    A, v1, _ = make_spiked_stream(20000, 32, gap=10.0, n_heavy=10, random_state=2)
    est = RandomOrderTopEigenvector(32, n_rows=A.shape[0], random_state=0).fit(A)
    norms = np.linalg.norm(A, axis=1)
    heavy = np.sort(norms)[-10:]
    stored = np.sort(np.linalg.norm(est.heavy_rows_, axis=1))
    assert 10 <= est.stored_rows_ <= 14
    np.testing.assert_allclose(stored[-10:], heavy, rtol=1e-12)
    np.testing.assert_allclose(est.eigenvalue_, np.linalg.eigvalsh(A.T @ A)[-1], rtol=0.1)


def test_frequent_directions_bound_and_merge():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((700, 30)) * np.linspace(4, 0.2, 30)
    B = rng.standard_normal((500, 30)) * np.linspace(4, 0.2, 30)
    for ell in (1, 5, 12, 40):
        fd = FrequentDirections(30, ell).fit(A)
        E = np.linalg.eigvalsh(A.T @ A - fd.sketch_.T @ fd.sketch_)
        assert E.min() >= -1e-9 * fd.frobenius_sq_
        assert E.max() <= fd.covariance_error_ * (1 + 1e-12) + 1e-9
        s = np.linalg.svd(A, compute_uv=False) ** 2
        for k in range(min(ell, 30)):
            assert fd.covariance_error_ <= s[k:].sum() / (ell - k) * (1 + 1e-9)
        if ell >= 30:
            assert fd.covariance_error_ == 0.0
    fa, fb = FrequentDirections(30, 6).fit(A), FrequentDirections(30, 6).fit(B)
    fa.merge(fb)
    AB = np.vstack([A, B])
    E = np.linalg.eigvalsh(AB.T @ AB - fa.sketch_.T @ fa.sketch_)
    assert E.min() >= -1e-8 and E.max() <= fa.covariance_error_ * (1 + 1e-12) + 1e-8
    assert fa.n_seen_ == 1200
    np.testing.assert_allclose(fa.frobenius_sq_, (AB**2).sum())
    with pytest.raises(ValueError, match="dim"):
        fa.merge(FrequentDirections(5, 2).fit(np.ones((3, 5))))
    with pytest.raises(TypeError, match="other"):
        fa.merge(FrequentDirections(30, 2))


def test_frequent_directions_angle_bound_is_valid():
    A, v1, _ = make_spiked_stream(4000, 40, gap=8.0, n_heavy=3, random_state=0)
    fd = FrequentDirections(40, 8).fit(A)
    sin = np.sqrt(max(0.0, 1 - (fd.vector_ @ v1) ** 2))
    assert sin <= fd.sin_theta_bound_


def test_oja_hard_instance_oracle_matches_simulation():
    d, R, m = 64, 2.5, 2
    A, v1, gap = make_oja_hard_instance(d, R, m, rows_per_coordinate=16, random_state=0)
    rates = np.geomspace(0.1, 300, 9)
    g = np.random.default_rng(4).standard_normal(d)
    oja = OjaTopEigenvector(d, learning_rate=rates, init=g).fit(A)
    sim = np.abs(oja.vectors_[0])
    np.testing.assert_allclose(sim, oja_hard_instance_oracle(g, R, m, rates, rows_per_coordinate=16),
                               rtol=1e-9, atol=1e-12)
    assert gap == R and v1[0] == 1.0


def test_oja_decaying_and_constant_differ():
    A, v1, _ = make_spiked_stream(3000, 10, gap=10.0, n_heavy=0, random_state=0)
    c = OjaTopEigenvector(10, learning_rate=20.0, random_state=0).fit(A)
    d = OjaTopEigenvector(10, learning_rate=20.0, schedule="decaying", random_state=0).fit(A)
    assert not np.array_equal(c.vector_, d.vector_)
    assert c.selected_rate_ == 20.0 and c.vectors_.shape == (10, 1)


def test_make_spiked_stream_ground_truth():
    A, v1, R = make_spiked_stream(3000, 12, gap=6.0, n_heavy=5, random_state=0)
    w, V = np.linalg.eigh(A.T @ A)
    assert A.shape == (3005, 12)
    np.testing.assert_allclose(abs(V[:, -1] @ v1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(R, w[-1] / w[-2])
    assert 2.0 < R < 6.0
    B, _, _ = make_spiked_stream(3000, 12, gap=6.0, n_heavy=5, random_state=0)
    np.testing.assert_array_equal(A, B)
    with pytest.raises(ValueError, match="gap"):
        make_spiked_stream(10, 3, gap=1.0, n_heavy=0)
    with pytest.raises(ValueError, match="n_heavy"):
        make_spiked_stream(10, 3, gap=2.0, n_heavy=-1)


def test_adversarial_order():
    A, v1, _ = make_spiked_stream(500, 6, gap=6.0, n_heavy=3, random_state=0)
    A_copy = A.copy()
    for kind in ("norm_ascending", "norm_descending", "spike_first", "spike_last"):
        B = adversarial_order(A, kind, v1=v1)
        assert sorted(map(tuple, B)) == sorted(map(tuple, A))
    n = np.linalg.norm(adversarial_order(A, "norm_descending"), axis=1)
    assert np.all(np.diff(n) <= 0)
    np.testing.assert_array_equal(A, A_copy)
    with pytest.raises(ValueError, match="v1"):
        adversarial_order(A, "spike_last")
    with pytest.raises(ValueError, match="kind"):
        adversarial_order(A, "sorted")


@pytest.mark.parametrize("index", range(6), ids=ESTIMATOR_IDS)
def test_rejected_chunk_leaves_the_state_unchanged(spiked, index):
    A, _, _ = spiked
    est = _estimators(A.shape[0])[index].partial_fit(A[:3000])
    before = [np.copy(x) if isinstance(x, np.ndarray) else x for x in _state(est)]
    bad = A[3000:3100].copy()
    bad[50, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(bad)
    for a, b in zip(before, _state(est)):
        np.testing.assert_array_equal(a, b)
    est.partial_fit(A[3000:])  # the stream can go on
    assert est.n_seen_ == A.shape[0]


def test_geometric_mode_eigenvalue_is_close_to_lambda_1():
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = X[np.random.default_rng(0).permutation(X.shape[0])]
    lam = np.linalg.eigvalsh(X.T @ X)[-1]
    fixed = RandomOrderTopEigenvector(64, n_rows=X.shape[0], random_state=0).fit(X)
    assert abs(fixed.eigenvalue_ / lam - 1) < 0.05  # the fixed-length mode is fine (0.985)
    # Rows stored under an early segment's lower heavy threshold were counted exactly and again in the
    # extrapolated light part: 1.41 x lambda_1 here before the fix (1.04-1.63 over orders and lengths)
    for order in range(3):
        Xo = load_digits().data[np.random.default_rng(order).permutation(X.shape[0])]
        for n in (800, 1797):
            lam_n = np.linalg.eigvalsh(Xo[:n].T @ Xo[:n])[-1]
            geometric = RandomOrderTopEigenvector(64, n_rows=None, first_segment=100, random_state=0).fit(Xo[:n])
            assert geometric.stored_rows_ > 100  # the early segments did store rows that are light by the end
            assert abs(geometric.eigenvalue_ / lam_n - 1) < 0.05  # measured 0.985-1.02


def test_frequent_directions_sketch_before_any_row_and_its_documented_size():
    """sketch_ before fit: NotFittedError (was "no attribute '_B'"); after: < 2 sketch_size rows, as documented."""
    from sklearn.exceptions import NotFittedError

    fd = FrequentDirections(20, sketch_size=8)
    with pytest.raises(NotFittedError, match="no rows yet"):
        fd.sketch_
    assert not hasattr(fd, "sketch_")
    A = np.random.default_rng(0).standard_normal((500, 20))
    sizes = {FrequentDirections(20, 8).fit(A[:n]).sketch_.shape[0] for n in range(1, 60)}
    assert max(sizes) == 15 and "sketch_ : ndarray" in FrequentDirections.__doc__
