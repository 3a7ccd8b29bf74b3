import numpy as np
import pytest

from lrla.concat import (
    blockwise_tail_bound,
    captured_energy,
    credited_union_bound,
    elementwise_tail_bound,
    elementwise_weyl_bound,
    relative_error,
    residual_bound,
    total_energy,
    union_bound,
    weyl_bound,
)
from lrla.concat import bounds as bounds_mod
from lrla.datasets import BLOCK_FAMILIES, make_block_family

CERTS = [
    weyl_bound,
    elementwise_weyl_bound,
    union_bound,
    credited_union_bound,
    residual_bound,
    lambda b, r: residual_bound(b, r, projector="seed"),
    lambda b, r: residual_bound(b, r, order="given"),
]


def exact_energy(blocks, r):
    s = np.linalg.svd(np.hstack(blocks), compute_uv=False)
    return float(np.sum(s[:r] ** 2))


def family(kind, seed=0):
    width = {"slow_direction": 1, "low_rank_wide": 8}.get(kind, 3)
    return make_block_family(kind, 8, 30, width, rank=3, random_state=seed)


@pytest.mark.parametrize("kind", BLOCK_FAMILIES)
@pytest.mark.parametrize("rank", [1, 4, 9])
def test_certificates_are_lower_bounds(kind, rank):
    blocks = family(kind)
    E = exact_energy(blocks, rank)
    N = total_energy(blocks)
    assert captured_energy(blocks, rank) == pytest.approx(E, rel=1e-12)
    for cert in CERTS:
        assert cert(blocks, rank) <= E + 1e-10 * N
    T = N - E
    assert blockwise_tail_bound(blocks, rank) <= T + 1e-10 * N
    assert elementwise_tail_bound(blocks, rank) <= T + 1e-10 * N


def test_captured_energy_gram_path_matches_svd(monkeypatch):
    rng = np.random.default_rng(1)
    blocks = [rng.standard_normal((6, 3)) for _ in range(7)]  # W = 21 > m = 6: Gram path
    monkeypatch.setattr(bounds_mod, "_GRAM_CHUNK", 5)  # several chunks, one block per chunk when wider
    for r in (1, 3, 6, 10):
        assert captured_energy(blocks, r) == pytest.approx(exact_energy(blocks, r), rel=1e-12)


def test_known_values():
    A = np.random.default_rng(2).standard_normal((20, 4))
    for K in (2, 4, 16):
        blocks = [A] * K
        N = total_energy(blocks)
        assert relative_error(weyl_bound(blocks, 4), N) == pytest.approx(np.sqrt(1 - 1 / K), abs=1e-12)
        assert credited_union_bound(blocks, 4) == pytest.approx(N, rel=1e-12)
    # orthogonal blocks: union = residual = truth
    blocks = make_block_family("orthogonal", 5, 30, 4, random_state=3)
    for r in (2, 7):
        E = exact_energy(blocks, r)
        assert union_bound(blocks, r) == pytest.approx(E, rel=1e-10)
        assert residual_bound(blocks, r) == pytest.approx(E, rel=1e-10)


def test_wide_seed_weyl_is_sigma_based():
    rng = np.random.default_rng(0)
    blocks = [np.eye(20)[:, :6], 0.1 * rng.standard_normal((20, 1))]
    N = total_energy(blocks)
    true = relative_error(exact_energy(blocks, 2), N)
    assert relative_error(weyl_bound(blocks, 2), N) >= true
    naive = relative_error(6.0, N)  # the paper code's ||C_S||^2
    assert naive < true  # the counterexample the sigma-based bound avoids


def test_hierarchy_small():
    blocks = make_block_family("groups", 20, 30, 2, rank=4, random_state=5)
    for r in (4, 8):
        w, res, u = weyl_bound(blocks, r), residual_bound(blocks, r), union_bound(blocks, r)
        assert w <= res + 1e-10 and res <= u + 1e-10
        assert elementwise_weyl_bound(blocks, r) <= u + 1e-10


def test_relative_error():
    assert relative_error(1.0, 4.0) == pytest.approx(np.sqrt(0.75))
    assert relative_error(4.0 * (1 + 4e-16), 4.0) == 0.0  # an excess by rounding is clipped
    assert relative_error(0.0, 0.0) == 0.0
    np.testing.assert_allclose(relative_error([0.0, 1.0], [1.0, 1.0]), [1.0, 0.0])
    with pytest.raises(ValueError, match="total"):
        relative_error(1.0, -1.0)
    with pytest.raises(ValueError, match="captured"):
        relative_error(np.nan, 1.0)


def test_relative_error_rejects_impossible_captured():
    # A negative captured energy gave errors > 1 (sqrt(1.25) for (-1, 4)) and a captured energy far above
    # the total gave 0, a certified "exact" approximation (found by the audit); both are wrong arguments.
    for captured, total in [(-1.0, 4.0), ([0.5, -0.1], 1.0), (-1e-300, 1.0)]:
        with pytest.raises(ValueError, match="`captured` must be >= 0"):
            relative_error(captured, total)
    for captured, total in [(5.0, 4.0), (1.0, 0.0), ([0.5, 2.0], [1.0, 1.0]), (1.0 + 1e-6, 1.0),
                            (np.float32(1.001), np.float32(1.0))]:
        with pytest.raises(ValueError, match="`captured` must not exceed `total`"):
            relative_error(captured, total)
    # Excess within rounding (the library's certificates at a rank that captures everything) stays accepted.
    rng = np.random.default_rng(3)
    blocks = [rng.standard_normal((6, 2)) for _ in range(3)]
    N = total_energy(blocks)
    for certificate in (captured_energy, weyl_bound, union_bound, credited_union_bound, residual_bound):
        assert relative_error(certificate(blocks, 6), N) <= 1e-7
    assert relative_error(np.float32(1.0001), np.float32(1.0)) == 0.0
    assert relative_error(0.0, 0.0) == 0.0 and relative_error(-0.0, 1.0) == 1.0
    # Valid input: bit-identical to the formula.
    captured = rng.uniform(0, 1, 50) * np.array([0.0, 1.0, 3.0, 1e-300, 1e300] * 10)
    total = np.array([0.0, 1.0, 3.0, 1e-300, 1e300] * 10)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(total > 0, np.sqrt(np.clip(total - captured, 0.0, None) / total), 0.0)
    np.testing.assert_array_equal(relative_error(captured, total), expected)


def test_container_types_and_dtypes_agree():
    rng = np.random.default_rng(0)
    arr = rng.standard_normal((6, 10, 3))
    as_list = list(arr)
    for fn in (captured_energy, weyl_bound, union_bound, residual_bound, credited_union_bound):
        ref = fn(as_list, 4)
        assert fn(arr, 4) == ref
        assert fn(tuple(as_list), 4) == ref
        assert fn([a.tolist() for a in as_list], 4) == pytest.approx(ref, rel=1e-14)
        assert fn(arr.astype(np.float32), 4) == pytest.approx(ref, rel=1e-5)


def test_inputs_not_modified():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((10, 3)) for _ in range(5)]
    copies = [b.copy() for b in blocks]
    for fn in CERTS + [captured_energy, blockwise_tail_bound, elementwise_tail_bound]:
        fn(blocks, 4)
    for b, c in zip(blocks, copies):
        np.testing.assert_array_equal(b, c)


def test_explicit_seed():
    blocks = make_block_family("gaussian", 6, 12, 2, random_state=0)
    E = exact_energy(blocks, 4)
    for seed in ([0], [3, 1], [5, 4, 2]):
        for fn in (weyl_bound, union_bound, credited_union_bound, residual_bound):
            assert fn(blocks, 4, seed=seed) <= E + 1e-10
    assert weyl_bound(blocks, 4, seed=[0, 1]) == pytest.approx(exact_energy(blocks[:2], 4))


@pytest.mark.parametrize("fn", [captured_energy, weyl_bound, elementwise_weyl_bound, union_bound, credited_union_bound,
                                residual_bound, blockwise_tail_bound, elementwise_tail_bound])
def test_bad_input(fn):
    good = [np.ones((4, 2)), np.ones((4, 1))]
    with pytest.raises(ValueError, match="same number of rows"):
        fn([np.ones((4, 2)), np.ones((5, 2))], 1)
    with pytest.raises(ValueError, match="at least one"):
        fn([], 1)
    with pytest.raises(ValueError, match="rank"):
        fn(good, 0)
    with pytest.raises(TypeError, match="rank"):
        fn(good, 1.5)
    bad = [np.ones((4, 2)), np.array([[np.nan], [1], [1], [1]])]
    with pytest.raises(ValueError, match=r"blocks\[1\].*NaN"):
        fn(bad, 1)
    with pytest.raises(ValueError, match="2-dimensional"):
        fn([np.ones(4)], 1)
    with pytest.raises(ValueError, match="3-D"):
        fn(np.ones((4, 4)), 1)
    with pytest.raises(TypeError):
        fn("abc", 1)
    with pytest.raises(ValueError, match="empty"):
        fn([np.ones((4, 0))], 1)


@pytest.mark.parametrize("scale, match", [(1e200, r"too large"), (1e-170, r"`blocks\[0\]` is too small")])
def test_energies_that_overflow_or_underflow_are_rejected(scale, match):
    # were inf (relative_error then NaN) or 0 (relative_error then 0: a zero error certified for any data)
    blocks = [A * scale for A in make_block_family("gaussian", 4, 10, 3, random_state=0)]
    for fn in (captured_energy, weyl_bound, union_bound, residual_bound, elementwise_tail_bound):
        with pytest.raises(ValueError, match=match):
            fn(blocks, 2)
    with pytest.raises(ValueError, match=match):
        total_energy(blocks)


def test_bad_options():
    blocks = [np.eye(3)[:, :1], np.eye(3)[:, 1:2]]
    with pytest.raises(ValueError, match="projector"):
        residual_bound(blocks, 1, projector="topr")
    with pytest.raises(ValueError, match="order"):
        residual_bound(blocks, 1, order="random")
    for seed in ([], [2], [0, 0], [[0]], [0.5]):
        with pytest.raises(ValueError, match="seed"):
            weyl_bound(blocks, 1, seed=seed)


def test_every_public_function_documents_its_parameters_and_return():
    """help() on each public function of lrla.concat shows Parameters and Returns (five showed neither)."""
    import inspect

    import lrla.concat

    for name in lrla.concat.__all__:
        obj = getattr(lrla.concat, name)
        if inspect.isclass(obj):
            continue
        doc = inspect.getdoc(obj)
        assert "Parameters\n----------" in doc and "Returns\n-------" in doc, name
        assert "%(" not in doc, name  # every template field was filled
