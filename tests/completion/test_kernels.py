"""Kernels against their plain-numpy references (tests/completion/reference.py)."""

import numpy as np
import pytest

from lrla.completion import _kernels
from lrla.completion._observed import entries_from_arrays
from lrla.completion.altmin import sketch_rows

from . import reference


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    m, n, k = 60, 40, 4
    F = rng.standard_normal((n, k))
    mask = rng.random((m, n)) < 0.4
    rows, cols = np.nonzero(mask)
    vals = rng.standard_normal(rows.size)
    entries, _ = entries_from_arrays(rows, cols, vals, (m, n))
    return entries, F


NO_RESIDUAL = np.empty(0)


@pytest.mark.parametrize("k", [1, 2, 3, 4])  # odd and even k: the blocked Gram pads to an even size
def test_solve_exact_matches_lstsq(problem, k):
    e, F = problem
    F = np.ascontiguousarray(F[:, :k])
    out = np.empty((e.shape[0], k))
    _kernels.solve_exact(e.row_indptr, e.row_idx, e.row_vals, F, out, NO_RESIDUAL, 3)
    np.testing.assert_allclose(out, reference.solve_lstsq(e.row_indptr, e.row_idx, e.row_vals, F), atol=1e-10)


@pytest.mark.parametrize("k", [32, 33])  # the gather takes four entries at a time from k = 32 on
def test_large_rank_gather_paths_match_lstsq(k):
    rng = np.random.default_rng(3)
    m, n = 30, 90
    F = rng.standard_normal((n, k))
    mask = rng.random((m, n)) < 0.8  # 60-85 entries per row: every remainder modulo 4 occurs
    rows, cols = np.nonzero(mask)
    e, _ = entries_from_arrays(rows, cols, rng.standard_normal(rows.size), (m, n))
    assert len(set(np.diff(e.row_indptr) % 4)) == 4
    expected = reference.solve_lstsq(e.row_indptr, e.row_idx, e.row_vals, F)
    exact = np.empty((m, k))
    _kernels.solve_exact(e.row_indptr, e.row_idx, e.row_vals, F, exact, NO_RESIDUAL, 4)
    np.testing.assert_allclose(exact, expected, atol=1e-9)
    cg = np.zeros((m, k))
    steps = np.zeros(m, dtype=np.int64)
    _kernels.solve_cg(e.row_indptr, e.row_idx, e.row_vals, F, cg, 200, 1e-14, steps, NO_RESIDUAL, 4)
    np.testing.assert_allclose(cg, expected, atol=1e-8)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_fused_residual_matches_reference(problem, solver):
    e, F = problem
    m = e.shape[0]
    res_sq = np.full(m, np.nan)
    X = np.zeros((m, F.shape[1]))
    if solver == "exact":
        _kernels.solve_exact(e.row_indptr, e.row_idx, e.row_vals, F, X, res_sq, 5)
    else:
        # Two capped steps: the residual must be the one at the returned (unconverged) iterate.
        _kernels.solve_cg(e.row_indptr, e.row_idx, e.row_vals, F, X, 2, 0.0, np.zeros(m, dtype=np.int64), res_sq, 5)
    per_entry = reference.residual_on_omega(e.row_indptr, e.row_idx, e.row_vals, X, F)
    expected = np.add.reduceat(per_entry ** 2, e.row_indptr[:-1]) * (np.diff(e.row_indptr) > 0)
    np.testing.assert_allclose(res_sq, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_chunks", [1, 7, 60])
def test_solve_cg_converges_to_lstsq(problem, n_chunks):
    e, F = problem
    X = np.zeros((e.shape[0], F.shape[1]))
    steps = np.zeros(e.shape[0], dtype=np.int64)
    _kernels.solve_cg(e.row_indptr, e.row_idx, e.row_vals, F, X, 50, 1e-14, steps, NO_RESIDUAL, n_chunks)
    np.testing.assert_allclose(X, reference.solve_lstsq(e.row_indptr, e.row_idx, e.row_vals, F), atol=1e-9)
    assert steps.max() <= 50 and steps.min() >= 1


@pytest.mark.parametrize("n_steps", [1, 2, 3])
def test_solve_cg_fixed_steps_matches_textbook_cg(problem, n_steps):
    e, F = problem
    X0 = np.random.default_rng(1).standard_normal((e.shape[0], F.shape[1]))
    X = X0.copy()
    steps = np.zeros(e.shape[0], dtype=np.int64)
    _kernels.solve_cg(e.row_indptr, e.row_idx, e.row_vals, F, X, n_steps, 0.0, steps, NO_RESIDUAL, 4)
    ref = reference.cg_fixed_steps(e.row_indptr, e.row_idx, e.row_vals, F, X0, n_steps)
    np.testing.assert_allclose(X, ref, atol=1e-10)
    assert np.all(steps == n_steps)


@pytest.mark.parametrize("k", [3, 16])
def test_cg_fused_gather_every_group_size_mod_4(k):
    # The CG gather computes the warm start's residual and F^T b four entries at a time, plus a
    # remainder loop: groups of 0..11 entries cover every remainder (and empty groups).
    rng = np.random.default_rng(4)
    n = 40
    sizes = np.arange(12)
    rows = np.repeat(np.arange(sizes.size), sizes)
    cols = np.concatenate([rng.choice(n, size, replace=False) for size in sizes])
    e, _ = entries_from_arrays(rows, cols, rng.standard_normal(rows.size), (sizes.size, n))
    F = rng.standard_normal((n, k))
    X0 = rng.standard_normal((sizes.size, k))
    for n_steps in (1, 2):
        X = X0.copy()
        res_sq = np.full(sizes.size, np.nan)
        steps = np.zeros(sizes.size, dtype=np.int64)
        _kernels.solve_cg(e.row_indptr, e.row_idx, e.row_vals, F, X, n_steps, 0.0, steps, res_sq, 3)
        ref = reference.cg_fixed_steps(e.row_indptr, e.row_idx, e.row_vals, F, X0, n_steps)
        np.testing.assert_allclose(X, ref, rtol=1e-9, atol=1e-9)
        per_entry = reference.residual_on_omega(e.row_indptr, e.row_idx, e.row_vals, X, F)
        expected = np.array([np.sum(per_entry[a:b] ** 2) for a, b in zip(e.row_indptr[:-1], e.row_indptr[1:])])
        np.testing.assert_allclose(res_sq, expected, rtol=1e-9, atol=1e-12)


def test_residual_sq_by_group_matches_reference(problem):
    e, F = problem
    A = np.random.default_rng(2).standard_normal((e.shape[1], F.shape[1]))  # one row per column group
    B = np.random.default_rng(3).standard_normal((e.shape[0], F.shape[1]))
    out = np.full(e.shape[1], np.nan)
    _kernels.residual_sq_by_group(e.col_indptr, e.col_idx, e.col_vals, A, B, out)
    per_entry = reference.residual_on_omega(e.col_indptr, e.col_idx, e.col_vals, A, B)
    expected = np.array([np.sum(per_entry[a:b] ** 2) for a, b in zip(e.col_indptr[:-1], e.col_indptr[1:])])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_solve_sketch_converges_to_lstsq(problem):
    # Columns hold ~24 entries: more than the sketch size for k=2, so the CountSketch path is used.
    e, F = problem
    k = 2
    F2 = np.ascontiguousarray(F[:, :k])
    assert np.diff(e.col_indptr).max() > sketch_rows(k)
    G = np.random.default_rng(2).standard_normal((e.shape[0], k))
    X = np.zeros((e.shape[1], k))
    steps = np.zeros(e.shape[1], dtype=np.int64)
    _kernels.solve_sketch(e.col_indptr, e.col_idx, e.col_vals, G, X, sketch_rows(k), 50, 1e-14, 123, steps, 5)
    np.testing.assert_allclose(X, reference.solve_lstsq(e.col_indptr, e.col_idx, e.col_vals, G), atol=1e-9)
    del F2


def test_solve_sketch_same_seed_same_result(problem):
    e, F = problem
    outs = []
    for n_chunks in (1, 9):
        X = np.zeros((e.shape[0], F.shape[1]))
        steps = np.zeros(e.shape[0], dtype=np.int64)
        _kernels.solve_sketch(e.row_indptr, e.row_idx, e.row_vals, F, X, sketch_rows(4), 2, 0.0, 7, steps, n_chunks)
        outs.append(X)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_underdetermined_and_empty_groups_are_bounded():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((10, 4))
    indptr = np.array([0, 2, 2, 6], dtype=np.int64)  # group 0: 2 < k entries; group 1: empty; group 2: 4
    idx = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    vals = rng.standard_normal(6)
    out = np.empty((3, 4))
    _kernels.solve_exact(indptr, idx, vals, F, out, NO_RESIDUAL, 2)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1], 0.0)
    # The under-determined group still fits its two observations.
    np.testing.assert_allclose(F[:2] @ out[0], vals[:2], atol=1e-8)
    assert np.linalg.norm(out[0]) < 10 * np.linalg.norm(reference.solve_lstsq(indptr, idx, vals, F)[0])


def test_residual_and_predict(problem):
    e, _ = problem
    rng = np.random.default_rng(4)
    A = rng.standard_normal((e.shape[0], 3))
    B = rng.standard_normal((e.shape[1], 3))
    out = np.empty(e.n_observed)
    _kernels.residual_on_omega(e.row_indptr, e.row_idx, e.row_vals, A, B, out)
    np.testing.assert_allclose(out, reference.residual_on_omega(e.row_indptr, e.row_idx, e.row_vals, A, B))
    pred = np.empty(e.n_observed)
    _kernels.predict_entries(e.rows, e.cols, A, B, pred)
    np.testing.assert_allclose(pred, np.einsum("ij,ij->i", A[e.rows], B[e.cols]))


def test_sparse_times_dense_both_layouts(problem):
    e, _ = problem
    rng = np.random.default_rng(5)
    for indptr, idx, vals, n_other in ((e.row_indptr, e.row_idx, e.row_vals, e.shape[1]),
                                       (e.col_indptr, e.col_idx, e.col_vals, e.shape[0])):
        X = rng.standard_normal((n_other, 7))
        out = np.full((len(indptr) - 1, 7), np.nan)
        _kernels.sparse_times_dense(indptr, idx, vals, X, out)
        np.testing.assert_allclose(out, reference.sparse_times_dense(indptr, idx, vals, X), atol=1e-12)


def test_randomized_svd_of_observed_matches_svd():
    # A fully observed rank-3 matrix: the range finder captures its range exactly.
    from lrla.completion.altmin import _randomized_svd_observed

    rng = np.random.default_rng(6)
    M = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20))
    rows, cols = np.nonzero(np.ones_like(M, dtype=bool))
    e, _ = entries_from_arrays(rows, cols, M[rows, cols], M.shape)
    U, s, V = _randomized_svd_observed(e, 3, rng, n_oversamples=5, n_power_iter=1)
    np.testing.assert_allclose(s, np.linalg.svd(M, compute_uv=False)[:3], rtol=1e-10)
    np.testing.assert_allclose((U * s) @ V.T, M, atol=1e-10)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 12), density=st.floats(0.05, 1.0), seed=st.integers(0, 10_000))
def test_csr_and_csc_hold_the_same_entries(m, n, density, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < density
    mask.flat[rng.integers(m * n)] = True
    rows, cols = np.nonzero(mask)
    vals = rng.standard_normal(rows.size)
    e, _ = entries_from_arrays(rows, cols, vals, (m, n))
    dense = np.full((m, n), np.nan)
    dense[rows, cols] = vals
    for j in range(m):
        sl = slice(e.row_indptr[j], e.row_indptr[j + 1])
        np.testing.assert_array_equal(dense[j, e.row_idx[sl]], e.row_vals[sl])
    for j in range(n):
        sl = slice(e.col_indptr[j], e.col_indptr[j + 1])
        np.testing.assert_array_equal(dense[e.col_idx[sl], j], e.col_vals[sl])
    assert e.row_indptr[-1] == e.col_indptr[-1] == rows.size
