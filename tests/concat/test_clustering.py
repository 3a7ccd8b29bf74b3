import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrla.concat import ErrorConstrainedClustering, captured_energy, cluster_matrices, compression_ratio
from lrla.concat.clustering import _greedy, _SeedCertificate
from lrla.datasets import load_digits_blocks, load_mlp_weight_blocks, make_block_family

METHODS = ("max_norm", "residuals", "approximate")
ORDERS = ("norm", "residual")


def true_error(blocks, members, rank):
    sub = [blocks[j] for j in members]
    N = sum(float(np.vdot(A, A)) for A in sub)
    return np.sqrt(max(0.0, N - captured_energy(sub, rank)) / N)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("eps", [0.02, 0.2])
def test_partition_and_constraint(method, order, eps):
    blocks = make_block_family("groups", 30, 24, 2, rank=4, n_groups=3, random_state=0)
    model = ErrorConstrainedClustering(6, eps, method=method, order=order).fit(blocks)
    labels = model.labels_
    assert labels.shape == (30,) and set(labels) == set(range(model.n_clusters_))
    members = np.sort(np.concatenate(model.clusters_))
    np.testing.assert_array_equal(members, np.arange(30))
    for c, idx in enumerate(model.clusters_):
        np.testing.assert_array_equal(np.sort(idx), np.flatnonzero(labels == c))
        if len(idx) > 1:
            err = true_error(blocks, idx, 6)
            assert err <= eps * (1 + 1e-9)
            assert model.errors_[c] == pytest.approx(err, abs=1e-7)
            assert model.errors_[c] <= model.certified_errors_[c] + 1e-7 <= eps + 1e-7
    np.testing.assert_array_equal(cluster_matrices(blocks, 6, eps, method=method, order=order), labels)


def test_residual_order_recovers_groups():
    rng = np.random.default_rng(1)
    bases = [np.linalg.qr(rng.standard_normal((30, 4)))[0] for _ in range(4)]
    groups = np.arange(40) % 4
    blocks = [bases[g] @ rng.standard_normal((4, 3)) for g in groups]
    for method in ("approximate", "residuals"):
        labels = cluster_matrices(blocks, 4, 0.01, method=method, order="residual")
        if method == "approximate":  # greedy, not optimal: the absolute-residual order can close a cluster early
            assert np.unique(labels).size <= 8
        for c in np.unique(labels):  # never mixes groups: one foreign block costs >> 1% error
            assert np.unique(groups[labels == c]).size == 1


def test_max_norm_vectorised_matches_loop():
    # The O(K) max_norm path (contiguous runs + accept_prefix kernel) against the general certificate loop:
    # same clusters and ranks; blocks wider than the rank, mixed widths, many accepted candidates (power-law
    # norms), patience on and off. Certified energies and totals agree to rounding only: the loop adds one
    # block at a time to N and certifies ||C_S||_F^2 of the stacked seed, the fast path adds prefix sums of
    # the blocks' squared norms (as the vectorised path it replaced did, bit for bit).
    rng = np.random.default_rng(5)
    mixed = [rng.standard_normal((20, int(w))) * rng.lognormal(0, 2) for w in rng.integers(1, 7, 80)]
    cases = [(make_block_family("power_law", 40, 20, 2, random_state=2), 4),
             (make_block_family("power_law", 300, 20, 1, random_state=3), 6),
             (make_block_family("groups", 60, 20, 6, random_state=4), 4), (mixed, 5)]
    for blocks, rank in cases:
        for eps in (0.05, 0.3, 0.7):
            for patience in (None, 1, 10):
                fast = _greedy(blocks, rank, eps, method="max_norm", order="norm", patience=patience)
                slow = _greedy(blocks, rank, eps, method="max_norm", order="norm", patience=patience,
                               certificate=_SeedCertificate)
                assert [list(c) for c in fast[0]] == [list(c) for c in slow[0]]
                np.testing.assert_allclose(fast[1], slow[1], rtol=1e-13)
                np.testing.assert_allclose(fast[2], slow[2], rtol=1e-13)
                np.testing.assert_array_equal(fast[3], slow[3])


def test_max_norm_equal_norms_no_merge():
    A = np.random.default_rng(0).standard_normal((16, 4))
    labels = cluster_matrices([A] * 10, 4, 0.5, method="max_norm", patience=None)
    assert np.unique(labels).size == 10  # floor(eps^2/(1-eps^2)) = 0 extra blocks
    labels = cluster_matrices([A] * 10, 4, 0.5, method="approximate", patience=None)
    assert np.unique(labels).size == 1


def test_whole_seed_emitted():
    # d = 1 < r: seeds hold several blocks; the paper's code dropped them when nothing could be added
    blocks = make_block_family("orthogonal", 12, 24, 1, random_state=0)
    for method in METHODS:
        labels = cluster_matrices(blocks, 3, 0.01, method=method, patience=2)
        assert labels.shape == (12,) and labels.min() == 0
        assert np.bincount(labels).sum() == 12


def test_patience():
    blocks = make_block_family("orthogonal", 8, 16, 2, random_state=0)  # nothing merges beyond seeds
    model = ErrorConstrainedClustering(2, 0.01, method="residuals", patience=1).fit(blocks)
    assert model.n_clusters_ == 8 and model.compression_ratio_ == 1.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("order", ORDERS)
def test_minimal_rank_all_methods(method, order):
    blocks = make_block_family("groups", 30, 20, 2, rank=3, n_groups=3, noise=0.1, random_state=7)
    for eps in (0.1, 0.3):
        model = ErrorConstrainedClustering(6, eps, method=method, order=order, minimal_rank=True).fit(blocks)
        for c, idx in enumerate(model.clusters_):
            if len(idx) > 1:
                assert true_error(blocks, idx, int(model.ranks_[c])) <= eps * (1 + 1e-9)
                assert model.errors_[c] <= model.certified_errors_[c] + 1e-7 <= eps + 1e-7


def test_minimal_rank():
    blocks = load_digits_blocks(8)[::4]
    fixed = ErrorConstrainedClustering(16, 0.2, order="residual").fit(blocks)
    small = ErrorConstrainedClustering(16, 0.2, order="residual", minimal_rank=True).fit(blocks)
    np.testing.assert_array_equal(fixed.labels_, small.labels_)
    assert np.all(small.ranks_ <= 16) and np.any(small.ranks_ < 16)
    assert small.compression_ratio_ >= fixed.compression_ratio_
    for c, idx in enumerate(small.clusters_):
        if len(idx) > 1:
            assert true_error(blocks, idx, int(small.ranks_[c])) <= 0.2 * (1 + 1e-9)


def test_container_types_deterministic_and_untouched():
    arr = np.stack(make_block_family("groups", 20, 16, 2, rank=3, random_state=3))
    copy = arr.copy()
    ref = cluster_matrices(arr, 4, 0.1, order="residual")
    np.testing.assert_array_equal(cluster_matrices(list(arr), 4, 0.1, order="residual"), ref)
    np.testing.assert_array_equal(cluster_matrices(tuple(arr), 4, 0.1, order="residual"), ref)
    np.testing.assert_array_equal(cluster_matrices(arr.astype(np.float32), 4, 0.1, order="residual"), ref)
    np.testing.assert_array_equal(arr, copy)


def test_compression_ratio():
    blocks = [np.ones((10, 2))] * 4
    assert compression_ratio(blocks, [0, 1, 2, 3], 1) == 1.0
    assert compression_ratio(blocks, [0, 0, 1, 1], 1) == pytest.approx(80 / (2 * 14))
    assert compression_ratio(blocks, [0, 0, 1, 1], [1, 2]) == pytest.approx(80 / (14 + 28))
    assert compression_ratio(blocks, [0, 0, 0, 0], 9) == 1.0  # no gain: stored as it is
    with pytest.raises(ValueError, match="labels"):
        compression_ratio(blocks, [0, 1], 1)
    with pytest.raises(ValueError, match="rank"):
        compression_ratio(blocks, [0, 0, 1, 1], [1, 2, 3])


@pytest.mark.parametrize("kw, match", [(dict(eps=0.0), "eps"), (dict(eps=1.0), "eps"), (dict(eps=1.5), "eps"),
                                       (dict(eps=np.nan), "eps"), (dict(rank=0), "rank"), (dict(method="kmeans"), "method"),
                                       (dict(order="random"), "order"), (dict(patience=0), "patience"),
                                       (dict(oversample=-1), "oversample")])
def test_bad_parameters(kw, match):
    blocks = [np.ones((4, 1)), np.eye(4)[:, :1]]
    params = dict(rank=1, eps=0.1) | kw
    with pytest.raises(ValueError, match=match):
        cluster_matrices(blocks, **params)
    with pytest.raises(ValueError, match=match):
        ErrorConstrainedClustering(**params).fit(blocks)


def test_flags_must_be_bools():
    blocks = [np.ones((4, 1)), np.eye(4)[:, :1]]
    for flag in ("minimal_rank", "compute_errors"):
        with pytest.raises(TypeError, match=flag):  # a truthy string would switch the option silently
            ErrorConstrainedClustering(rank=1, eps=0.1, **{flag: "no"}).fit(blocks)


def test_bad_blocks():
    with pytest.raises(ValueError, match="same number of rows"):
        cluster_matrices([np.ones((4, 1)), np.ones((3, 1))], 1, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        cluster_matrices([], 1, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        cluster_matrices([np.ones((2, 1)), np.array([[np.nan], [0.0]])], 1, 0.1)
    with pytest.raises(ValueError, match="X"):
        ErrorConstrainedClustering(1, 0.1).fit(np.ones((3, 3)))


def test_estimator_params():
    est = ErrorConstrainedClustering(rank=4, eps=0.1, method="residuals")
    assert est.get_params()["method"] == "residuals"
    assert est.set_params(eps=0.2).eps == 0.2
    labels = est.fit_predict(make_block_family("gaussian", 6, 8, 2, random_state=0))
    assert labels.shape == (6,)


def test_datasets():
    b, c = load_digits_blocks(8, return_classes=True)
    assert len(b) == len(c) == 219 and b[0].shape == (64, 8) and set(c) == set(range(10))
    w = load_mlp_weight_blocks(16, hidden_layer_sizes=(64, 64), max_iter=5)
    assert all(x.shape == (64, 16) for x in w) and len(w) == 8
    a = make_block_family("groups", 5, 10, 2, random_state=0)
    np.testing.assert_array_equal(a[3], make_block_family("groups", 5, 10, 2, random_state=0)[3])
    with pytest.raises(ValueError, match="kind"):
        make_block_family("nope")
    with pytest.raises(ValueError, match="orthogonal"):
        make_block_family("orthogonal", 10, 8, 2)


def test_mixed_widths_and_views_of_other_arrays():
    rng = np.random.default_rng(0)
    other = rng.standard_normal((2, 12, 3))
    blocks = [other[0], 0.1 * rng.standard_normal((12, 2))]  # a view of an unrelated 3-D array, mixed widths
    for method in METHODS:
        model = ErrorConstrainedClustering(3, 0.5, method=method).fit(blocks)
        ref = ErrorConstrainedClustering(3, 0.5, method=method).fit([b.copy() for b in blocks])
        assert labels_ok(model.labels_, 2)
        np.testing.assert_array_equal(model.labels_, ref.labels_)
        np.testing.assert_allclose(model.certified_errors_, ref.certified_errors_)


def labels_ok(labels, n):
    return labels.shape == (n,) and set(labels) == set(range(labels.max() + 1))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 25), width=st.integers(1, 5), rank=st.integers(1, 6),
       eps=st.sampled_from([0.01, 0.1, 0.3, 0.7]), method=st.sampled_from(METHODS), order=st.sampled_from(ORDERS))
def test_property_partition_and_budget(seed, n, width, rank, eps, method, order):
    rng = np.random.default_rng(seed)
    widths = rng.integers(1, width + 1, size=n)
    blocks = [rng.standard_normal((10, w)) * rng.lognormal() for w in widths]
    model = ErrorConstrainedClustering(rank, eps, method=method, order=order).fit(blocks)
    assert labels_ok(model.labels_, n)
    for idx in model.clusters_:
        if len(idx) > 1:
            assert true_error(blocks, idx, rank) <= eps * (1 + 1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_equal_shape_nonfinite_block_named(bad):
    # Equal shapes take the stacked fast path, whose finiteness check is the squared norms: still an error
    # naming the block, for each kind of non-finite entry.
    blocks = [np.ones((3, 2)) for _ in range(5)]
    blocks[3] = blocks[3].copy()
    blocks[3][1, 0] = bad
    with pytest.raises(ValueError, match=r"blocks\[3\]"):
        cluster_matrices(blocks, 1, 0.1, method="max_norm")


def test_huge_finite_entries_named_as_overflow_not_as_non_finite():
    # Squares overflow to inf, entries are finite: the equal-shape fast path falls back per block, which
    # names the overflow (energies of inf made every certified error 0 or NaN) rather than a NaN or inf entry.
    from lrla.concat._blocks import check_blocks

    blocks = [np.full((2, 2), 1e200), np.ones((2, 2))]
    with pytest.raises(ValueError, match=r"`blocks` is too large: the squared Frobenius norm of `blocks\[0\]`"):
        check_blocks(blocks, return_sq_norms=True)
    out, sq = check_blocks([np.full((2, 2), 1e100), np.ones((2, 2))], return_sq_norms=True)
    assert sq.tolist() == [4e200, 4.0]


@pytest.mark.parametrize("scale, match", [(1e200, "too large"), (1e-170, "too small")])
@pytest.mark.parametrize("container", [list, np.array])
def test_scales_whose_energies_overflow_or_underflow_are_rejected(scale, match, container):
    # Clusters and errors are scale-invariant, but energies in float64 are not: at 1e-170 every energy
    # underflowed to 0 and all six blocks were merged into one cluster certified with error 0 (its true
    # error is 0.81 > eps); at 1e200 they overflowed to inf: the same one cluster, certified error NaN.
    blocks = make_block_family("gaussian", 6, 20, 3, random_state=0)
    labels = cluster_matrices(blocks, 2, 0.1)
    assert np.unique(labels).size > 1  # at scale 1 the constraint does separate them
    scaled = container([A * scale for A in blocks])
    with pytest.raises(ValueError, match=match):
        cluster_matrices(scaled, 2, 0.1)
    with pytest.raises(ValueError, match=match):
        ErrorConstrainedClustering(2, 0.1).fit(scaled)
    np.testing.assert_array_equal(cluster_matrices([A * 2.0**-300 for A in blocks], 2, 0.1), labels)


def test_compression_ratio_rejects_non_integer_ranks():
    blocks = [np.ones((10, 2))] * 4
    with pytest.raises(TypeError, match="`rank` must be an int or a sequence of ints"):
        compression_ratio(blocks, [0, 0, 1, 1], [1.5, 2.5])  # was truncated to [1, 2] silently
    with pytest.raises(TypeError, match="`rank`"):
        compression_ratio(blocks, [0, 0, 1, 1], [True, True])


def test_accept_prefix_matches_numpy():
    from lrla.concat._kernels import accept_prefix

    rng = np.random.default_rng(0)
    for _ in range(200):
        x = rng.lognormal(0, 3, int(rng.integers(1, 50)))
        N, E, budget = rng.lognormal(2, 1), rng.lognormal(2, 1), rng.uniform(0, 0.5)
        start, stop = sorted(int(v) for v in rng.integers(0, x.size + 1, 2))
        tp = N + np.cumsum(x[start:stop])  # the reference: the greedy's prefix test
        ok = tp - E <= budget * tp
        n_ref = int(np.argmin(ok)) if not ok.all() else ok.size
        n, last = accept_prefix(x, start, stop, N, E, budget)
        assert n == n_ref and last == (tp[n - 1] if n else N)


def test_residual_order_finds_a_mixture_of_subspaces_and_the_docstring_says_norm_order_does_not():
    """5 rank-4 subspaces, 5 % noise: order='residual' recovers about 5 groups; norm order barely merges."""
    rng = np.random.default_rng(0)
    bases = [np.linalg.qr(rng.standard_normal((32, 4)))[0] for _ in range(5)]
    blocks = np.stack([bases[i % 5] @ rng.standard_normal((4, 8)) + 0.05 * rng.standard_normal((32, 8))
                       for i in range(200)])
    by_residual = ErrorConstrainedClustering(rank=4, eps=0.2, order="residual").fit(blocks)
    by_norm = ErrorConstrainedClustering(rank=4, eps=0.2).fit(blocks)
    assert by_residual.n_clusters_ <= 10 and by_norm.n_clusters_ > 10 * by_residual.n_clusters_
    assert "prefer ``\"residual\"`` for mixtures" in cluster_matrices.__doc__
