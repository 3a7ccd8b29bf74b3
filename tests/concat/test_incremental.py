import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from lrla.concat import IncrementalSVD, captured_energy, union_bound
from lrla.concat.incremental import _update, _update_unpruned
from lrla.datasets import make_block_family


def run(blocks, rank, p=5, cls=IncrementalSVD):
    est = cls(rank, oversample=p)
    for A in blocks:
        est.add(A)
    return est


def test_update_matches_numpy_reference():
    """One update keeps the top-(r+p) eigenpairs of Q diag(lam) Q^T + A A^T (plain numpy reference)."""
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((20, 5)))[0]
    lam = np.array([9.0, 5.0, 3.0, 2.0, 1.0])
    A = rng.standard_normal((20, 3))
    Q2, lam2 = _update(Q, lam, A, 6, None)
    G = Q @ np.diag(lam) @ Q.T + A @ A.T
    w, V = np.linalg.eigh(G)
    np.testing.assert_allclose(lam2, w[::-1][:6], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Q2.T @ Q2, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(np.abs(Q2.T @ V[:, ::-1][:, :6]), np.eye(6), atol=1e-8)


def test_exact_when_rank_fits():
    blocks = make_block_family("shared_subspace", 30, 40, 3, rank=7, noise=0.0, random_state=1)
    for r, p in ((5, 2), (7, 0), (3, 5)):
        est = run(blocks, r, p)
        assert est.energy_ == pytest.approx(captured_energy(blocks, r), rel=1e-10)


def test_identical_blocks_exact_and_unpruned_overshoots():
    A = np.random.default_rng(0).standard_normal((50, 4))
    blocks = [A] * 30
    E = captured_energy(blocks, 4)
    assert run(blocks, 4).energy_ == pytest.approx(E, rel=1e-12)
    assert run(blocks, 4).error_ < 1e-6

    class Unpruned(IncrementalSVD):
        _update_rule = staticmethod(_update_unpruned)

    # the failure the pruning rule prevents: the "certificate" exceeds the truth
    assert run(blocks, 4, cls=Unpruned).energy_ > E * (1 + 1e-6)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), rank=st.integers(1, 10), p=st.sampled_from([0, 2, 5]),
       kind=st.sampled_from(["gaussian", "power_law", "groups", "identical", "slow_direction"]))
def test_certified_and_dominates_union(seed, rank, p, kind):
    width = 1 if kind == "slow_direction" else 3
    blocks = make_block_family(kind, 10, 16, width, rank=3, random_state=seed)
    est = run(blocks, rank, p)
    E, N = captured_energy(blocks, rank), est.total_energy_
    assert est.energy_ <= E + 1e-10 * N
    post = est.certify(blocks)
    assert est.energy_ - 1e-10 * N <= post <= E + 1e-10 * N
    # fed block by block (no seed), the union bound with the first block as seed is dominated
    assert est.energy_ >= union_bound(blocks, rank, seed=[0]) - 1e-10 * N if blocks[0].shape[1] <= rank else True
    prof = est.energy_profile()
    assert prof.shape == (rank,) and np.all(np.diff(prof) >= -1e-12)
    np.testing.assert_allclose(est.basis_.T @ est.basis_, np.eye(est.basis_.shape[1]), atol=1e-10)


def test_cost_state_bounded():
    rng = np.random.default_rng(0)
    est = IncrementalSVD(4, oversample=3)
    for _ in range(50):
        est.add(rng.standard_normal((30, 5)))
    assert est.basis_.shape == (30, 7) and est.eigenvalues_.shape == (7,) and est.n_blocks_ == 50


def test_same_answer_and_inputs_untouched():
    blocks = make_block_family("gaussian", 5, 10, 2, random_state=0)
    copies = [b.copy() for b in blocks]
    a, b = run(blocks, 3), run(blocks, 3)
    np.testing.assert_array_equal(a.eigenvalues_, b.eigenvalues_)
    for x, y in zip(blocks, copies):
        np.testing.assert_array_equal(x, y)
    f32 = run([x.astype(np.float32) for x in blocks], 3)
    assert f32.basis_.dtype == np.float64 and f32.energy_ == pytest.approx(a.energy_, rel=1e-5)


def test_params_and_errors():
    est = IncrementalSVD(3)
    assert est.get_params() == {"rank": 3, "oversample": 5, "rtol": None}
    with pytest.raises(NotFittedError):
        est.energy_
    with pytest.raises(NotFittedError):
        est.certify([np.ones((3, 1))])
    est.add(np.ones((4, 2)))
    with pytest.raises(ValueError, match="4 rows"):
        est.add(np.ones((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        est.add(np.array([[np.nan], [1], [1], [1]]))
    with pytest.raises(ValueError, match="2-dimensional"):
        est.add(np.ones(4))
    with pytest.raises(ValueError, match="4 rows"):
        est.certify([np.ones((5, 1))])
    est.reset()
    assert not hasattr(est, "basis_")
    for bad in (IncrementalSVD(0), IncrementalSVD(2, oversample=-1), IncrementalSVD(2, rtol=2.0)):
        with pytest.raises(ValueError):
            bad.add(np.ones((3, 1)))
    with pytest.raises(TypeError, match="rank"):
        IncrementalSVD(2.5).add(np.ones((3, 1)))


@pytest.mark.parametrize("scale, match", [(1e200, "`block` is too large"), (1e-170, "`block` is too small")])
def test_block_energy_overflow_or_underflow_rejected(scale, match):
    A = np.random.default_rng(0).standard_normal((10, 3))
    inc = IncrementalSVD(2)
    with pytest.raises(ValueError, match=match):  # energy_ was inf (or 0 for a non-zero block)
        inc.add(A * scale)
    assert not hasattr(inc, "basis_")  # checked before the state is touched
    inc.add(A)
    with pytest.raises(ValueError, match=match):
        inc.add(A * scale)
    assert inc.n_blocks_ == 1


def test_zero_block():
    est = IncrementalSVD(2)
    assert est.add(np.zeros((5, 2))) == 0.0
    assert est.error_ == 0.0
    assert est.add(np.eye(5)[:, :1]) == pytest.approx(1.0)


def test_kernel_matches_numpy_reference():
    from lrla.concat import _kernels
    from lrla.concat._blocks import prune_tol
    from lrla.concat.incremental import _start, _update_numpy

    rng = np.random.default_rng(4)
    for kind in ("gaussian", "identical", "groups"):
        blocks = make_block_family(kind, 12, 20, 3, rank=4, random_state=rng)
        Q, lam = _start(blocks[0], 8, None)
        Qn, lamn = Q, lam
        for A in blocks[1:]:
            Q, lam = _kernels.update_state(Q, lam, A, 8, prune_tol(A))
            Qn, lamn = _update_numpy(Qn, lamn, A, 8, None)
            np.testing.assert_allclose(lam, lamn, rtol=1e-10, atol=1e-12 * lamn[0])
            np.testing.assert_allclose(np.abs(Q.T @ Qn)[: lam.size // 2, : lam.size // 2].diagonal(), 1.0, atol=1e-6)
