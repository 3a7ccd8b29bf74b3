"""Certified l_p distortion (d <= 2, any p) and block-diagonal composition in ``lp_distortion``."""

import numpy as np
import pytest
import scipy.linalg as la
from hypothesis import given, settings
from hypothesis import strategies as st

from lrla.exceptions import ConvergenceWarning
from lrla.sampling import RowSample, lp_distortion, lp_sensitivities, sample_rows
from lrla.sampling import _kernels
from lrla.sampling.distortion import _certified


def _instance(n, seed, heavy=True):
    rng = np.random.default_rng(seed)
    A = rng.standard_t(2, size=(n, 2))
    if heavy:
        A[:2] *= 25.0
    return A


def _basis_and_sample(A, sample, p):
    Q = np.linalg.qr(A)[0]
    return Q, Q[sample.indices] * sample.weights[:, None] ** (1 / p)


@settings(max_examples=25, deadline=None)
@given(st.integers(5, 80), st.floats(1.0, 6.0), st.integers(0, 10_000), st.booleans(), st.booleans())
def test_certified_bounds_bracket_a_dense_grid(n, p, seed, replace, as_matrix):
    """Brute force: 20000 directions on the half circle never leave [min_lower, max_upper], and the attained
    extremes are within tol of the grid extremes."""
    A = _instance(n, seed)
    sample = sample_rows(A, np.abs(A).sum(1) + 0.1, max(2, n // 3), p=p, replace=replace, random_state=seed)
    Q, SQ = _basis_and_sample(A, sample, p)
    tol = 1e-3
    lo, lo_bound, hi, hi_bound = _certified(Q, SQ, p, tol, 200_000, None if as_matrix else sample)
    grid = _kernels.ratio_on_grid_reference(Q, SQ, p, 20_000)
    assert lo_bound <= grid.min() * (1 + 1e-10) + 1e-12 and grid.max() <= hi_bound * (1 + 1e-10) + 1e-12
    assert lo <= grid.min() * (1 + 1e-10) + 1e-12 + tol and hi >= grid.max() * (1 - 1e-10) - tol
    assert hi_bound - hi <= tol * (1 + 1e-9) and lo - lo_bound <= tol * (1 + 1e-9)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_certified_bounds_contain_the_exact_values(p):
    """At p = 1 (vertex enumeration) and p = 2 (eigenvalues) the exact extremes lie in the certified brackets."""
    A = _instance(60, 3)
    sample = sample_rows(A, np.ones(60), 20, p=p, replace=False, random_state=1)
    exact = lp_distortion(A, sample, p)
    assert exact.exact
    Q, SQ = _basis_and_sample(A, sample, p)
    for rows in (sample, None):
        lo, lo_bound, hi, hi_bound = _certified(Q, SQ, p, 1e-6, 200_000, rows)
        assert lo_bound - 1e-12 <= exact.ratio_min <= lo + 1e-12
        assert hi - 1e-12 <= exact.ratio_max <= hi_bound + 1e-12


@pytest.mark.parametrize("p", [1.5, 3.0, 4.0])
def test_certified_method_on_a_row_sample_and_on_its_matrix_agree(p):
    A = _instance(120, 5)
    sample = sample_rows(A, lp_sensitivities(A, p), 30, p=p, replace=False, random_state=2)
    by_rows = lp_distortion(A, sample, p, tol=1e-4)  # "auto" = certified for d = 2
    by_matrix = lp_distortion(A, sample.matrix, p, method="certified", tol=1e-4)
    assert not by_rows.exact and np.isfinite(by_rows.upper)
    assert by_rows.value <= by_rows.upper <= by_rows.value + 1e-4 * (1 + 1e-9)
    assert abs(by_rows.value - by_matrix.value) <= 2e-4
    search = lp_distortion(A, sample, p, method="search", random_state=0)
    assert search.value <= by_rows.upper + 1e-9 and search.upper == np.inf


def test_full_sample_is_certified_exact_and_d1_is_exact_at_any_p():
    A = _instance(40, 1)
    full = sample_rows(A, np.ones(40), 40, p=3.0, replace=False)
    dist = lp_distortion(A, full, 3.0)
    assert dist.upper <= 1e-9  # every row kept with weight 1: the certificate is exact
    a = np.random.default_rng(0).standard_normal((30, 1))
    s = sample_rows(a, np.ones(30), 10, p=3.5, random_state=0)
    d1 = lp_distortion(a, s, 3.5)
    ratio = np.sum(np.abs(s.matrix) ** 3.5) / np.sum(np.abs(a) ** 3.5)
    assert d1.exact and d1.ratio_min == pytest.approx(ratio) and d1.upper == d1.value


def test_certified_is_deterministic_and_keeps_float32():
    A = _instance(80, 7)
    sample = sample_rows(A, np.ones(80), 25, p=3.0, random_state=4)
    first = lp_distortion(A, sample, 3.0)
    assert lp_distortion(A, sample, 3.0) == first
    A32 = A.astype(np.float32)
    s32 = RowSample(sample.indices, sample.weights, A32[sample.indices], 3.0)
    assert lp_distortion(A32, s32, 3.0).value == pytest.approx(first.value, abs=1e-4)


def test_cap_on_evaluations_warns_and_keeps_valid_bounds():
    A = _instance(100, 9)
    sample = sample_rows(A, np.ones(100), 30, p=3.0, random_state=0)
    tight = lp_distortion(A, sample, 3.0, tol=1e-6)
    with pytest.warns(ConvergenceWarning, match="max_evaluations"):
        loose = lp_distortion(A, sample, 3.0, tol=1e-9, max_evaluations=65)
    assert loose.value <= tight.upper + 1e-12 and loose.upper >= tight.value - 1e-12


# --- blocks -----------------------------------------------------------------------------------------

def _blocks(p, seed=0):
    rng = np.random.default_rng(seed)
    parts = [_instance(50, seed + 1), rng.standard_normal((40, 1)), _instance(60, seed + 2, heavy=False)]
    A = la.block_diag(*parts)
    sample = sample_rows(A, np.abs(A).sum(1) + 0.2, 40, p=p, replace=False, random_state=seed)
    return parts, A, sample


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_block_distortion_is_the_max_over_blocks(p):
    parts, A, sample = _blocks(p)
    whole = lp_distortion(A, sample, p, blocks=[2, 1, 2], tol=1e-5)
    offsets = np.cumsum([0] + [b.shape[0] for b in parts])
    per_block = []
    for b, part in enumerate(parts):
        own = (sample.indices >= offsets[b]) & (sample.indices < offsets[b + 1])
        sub = RowSample(sample.indices[own] - offsets[b], sample.weights[own],
                        part[sample.indices[own] - offsets[b]], p)
        per_block.append(lp_distortion(part, sub, p, tol=1e-5))
    assert whole.value == pytest.approx(max(d.value for d in per_block), rel=1e-12)
    assert whole.ratio_min == pytest.approx(min(d.ratio_min for d in per_block), rel=1e-12)
    assert whole.exact == (p in (1.0, 2.0))
    # the same from the sampled matrix S A
    assert lp_distortion(A, sample.matrix, p, blocks=[2, 1, 2], tol=1e-5).value == pytest.approx(whole.value, abs=2e-5)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_block_distortion_equals_the_exact_distortion_of_the_whole_matrix(p):
    """Brute force on the assembled matrix: p = 2 eigenvalues (d = 5) and p = 1 vertices (blocks [1, 2], d = 3)."""
    parts, A, sample = _blocks(p, seed=3)
    if p == 1.0:
        A = la.block_diag(parts[1], parts[0])
        sample = sample_rows(A, np.ones(A.shape[0]), 30, p=p, replace=False, random_state=3)
        blocks = [1, 2]
    else:
        blocks = [2, 1, 2]
    assert lp_distortion(A, sample, p, blocks=blocks).value == pytest.approx(lp_distortion(A, sample, p).value,
                                                                            rel=1e-9)


def test_block_search_is_a_lower_bound_of_the_certified_value():
    parts, A, sample = _blocks(3.0, seed=5)
    cert = lp_distortion(A, sample, 3.0, blocks=[2, 1, 2])
    search = lp_distortion(A, sample, 3.0, blocks=[2, 1, 2], method="search", n_directions=200, random_state=0)
    assert search.value <= cert.upper + 1e-9


GOOD = la.block_diag(_instance(30, 1), _instance(30, 2))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda A: lp_distortion(A, A[:10], 3.0, blocks=[2, 1]), "blocks"),
        (lambda A: lp_distortion(A, A[:10], 3.0, blocks=[2, 0, 2]), "blocks"),
        (lambda A: lp_distortion(A, A[:10], 3.0, blocks=[1, 3]), "not block diagonal"),
        (lambda A: lp_distortion(np.vstack([A, np.ones((1, 4))]), A[:10], 3.0, blocks=[2, 2]), "not block diagonal"),
        (lambda A: lp_distortion(A, np.ones((3, 4)), 3.0, blocks=[2, 2]), "sample"),
        (lambda A: lp_distortion(A, A[:10], 3.0, method="certified"), "d <= 2"),
        (lambda A: lp_distortion(A, A[:10], 3.0, tol=0.0, blocks=[2, 2]), "tol"),
        (lambda A: lp_distortion(A, A[:10], 3.0, max_evaluations=10, blocks=[2, 2]), "max_evaluations"),
        (lambda A: lp_distortion(A[:31], A[:10], 3.0, blocks=[2, 2]), "at least as many rows"),
        (lambda A: lp_distortion(A, A[:10], 3.0, blocks=[2.5, 1.5]), "blocks"),
    ],
)
def test_bad_block_and_certified_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(GOOD.copy())


def test_inputs_are_not_modified():
    A = GOOD.copy()
    sample = sample_rows(A, np.ones(60), 20, p=3.0, random_state=0)
    keep = (A.copy(), sample.indices.copy(), sample.weights.copy(), sample.matrix.copy())
    lp_distortion(A, sample, 3.0, blocks=[2, 2])
    lp_distortion(A, sample.matrix, 3.0, blocks=(2, 2), method="certified")
    for before, after in zip(keep, (A, sample.indices, sample.weights, sample.matrix)):
        np.testing.assert_array_equal(before, after)
