"""Row sampling, distortion, l_p regression, the Numba kernels, bad input and input immutability."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from lrla.sampling import (
    RowSample,
    leverage_scores,
    lewis_weights,
    lp_distortion,
    lp_regression,
    lp_sensitivities,
    sample_rows,
    sensitivity_sample,
)
from lrla.sampling import _kernels
from lrla.sampling.rows import SCHEMES


def _heavy(n=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_t(2, size=(n, d))
    A[:2] *= 20.0
    return A


# --- sample_rows / sensitivity_sample -----------------------------------------------------------

def test_iid_sample_has_m_rows_and_unbiased_weights():
    A = _heavy(50, 3)
    scores = np.linspace(1, 5, 50)
    s = sample_rows(A, scores, 20, p=1.5, replace=True, random_state=0)
    assert s.n_rows == 20 and np.all(np.diff(s.indices) >= 0)
    pi = scores / scores.sum()
    np.testing.assert_allclose(s.weights, 1 / (20 * pi[s.indices]))
    np.testing.assert_allclose(s.matrix, A[s.indices] * s.weights[:, None] ** (1 / 1.5))


def test_bernoulli_sample_keeps_capped_rows_and_scales_by_q():
    A = _heavy(50, 3)
    scores = np.ones(50)
    scores[0] = 1000.0  # q_0 = 1: always kept with weight 1
    s = sample_rows(A, scores, 10, p=1, replace=False, random_state=1)
    assert s.indices[0] == 0 and s.weights[0] == 1.0
    q = np.minimum(1, 10 * scores / scores.sum())
    np.testing.assert_allclose(s.weights, 1 / q[s.indices])


@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("p", [1.0, 3.0])
def test_sampled_norm_is_unbiased(replace, p):
    """Monte Carlo z-test of E||SAx||_p^p = ||Ax||_p^p (fixed seeds)."""
    A = _heavy(60, 3)
    x = np.array([1.0, -2.0, 0.5])
    scores = lp_sensitivities(A, p, method="lewis")
    rng = np.random.default_rng(0)
    vals = np.array([np.sum(np.abs(sample_rows(A, scores, 15, p=p, replace=replace, random_state=rng).matrix @ x) ** p)
                     for _ in range(3000)])
    truth = np.sum(np.abs(A @ x) ** p)
    z = (vals.mean() - truth) / (vals.std(ddof=1) / np.sqrt(vals.size))
    assert abs(z) < 4.0


def test_wrong_exponent_is_detected_by_the_same_z_test():
    A = _heavy(60, 3)
    x = np.array([1.0, -2.0, 0.5])
    scores = lp_sensitivities(A, 1.0, method="lewis")
    rng = np.random.default_rng(0)
    vals = []
    for _ in range(3000):
        s = sample_rows(A, scores, 15, p=2.0, replace=False, random_state=rng)  # weights for p=2, used at p=1
        vals.append(np.sum(np.abs(s.matrix @ x)))
    vals = np.array(vals)
    z = (vals.mean() - np.sum(np.abs(A @ x))) / (vals.std(ddof=1) / np.sqrt(vals.size))
    assert abs(z) > 4.0


def test_sparse_input_gives_the_same_sample():
    A = sp.random(100, 4, density=0.3, random_state=0, format="csr")
    scores = np.arange(1.0, 101.0)
    s_sp = sample_rows(A, scores, 30, p=1, random_state=4)
    s_de = sample_rows(A.toarray(), scores, 30, p=1, random_state=4)
    assert sp.issparse(s_sp.matrix)
    np.testing.assert_array_equal(s_sp.indices, s_de.indices)
    np.testing.assert_allclose(s_sp.matrix.toarray(), s_de.matrix)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_runs_and_is_reproducible(scheme):
    A = _heavy(60, 3)
    p = 3.0 if scheme == "mixed" else 1.0
    a = sensitivity_sample(A, p, 20, scheme=scheme, sensitivity_method="lewis", random_state=7)
    b = sensitivity_sample(A, p, 20, scheme=scheme, sensitivity_method="lewis", random_state=7)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert isinstance(a, RowSample) and a.matrix.shape[1] == 3
    np.testing.assert_allclose(a.apply(A), a.matrix)


# --- lp_distortion ---------------------------------------------------------------------------------

def test_p2_distortion_is_the_eigenvalue_range():
    A = _heavy(100, 4)
    s = sample_rows(A, leverage_scores(A), 40, p=2, random_state=0)
    Q = np.linalg.qr(A)[0]
    ev = np.linalg.eigvalsh((Q[s.indices] * np.sqrt(s.weights)[:, None]).T @ (Q[s.indices] * np.sqrt(s.weights)[:, None]))
    dist = lp_distortion(A, s, 2)
    assert dist.exact
    assert dist.ratio_min == pytest.approx(ev[0]) and dist.ratio_max == pytest.approx(ev[-1])


@pytest.mark.parametrize("d", [2, 3])
def test_exact_l1_distortion_dominates_search_and_matches_matrix_input(d):
    A = _heavy(70, d, seed=d)
    s = sample_rows(A, lp_sensitivities(A, 1.0), 25, p=1, replace=False, random_state=2)
    exact = lp_distortion(A, s, 1.0)
    search = lp_distortion(A, s, 1.0, method="search", n_directions=3000, random_state=0)
    assert exact.exact and not search.exact
    assert search.value <= exact.value + 1e-9
    assert search.value >= 0.5 * exact.value  # the search is a reasonable lower bound here
    via_matrix = lp_distortion(A, s.matrix, 1.0)
    assert via_matrix.value == pytest.approx(exact.value, rel=1e-9)


def test_full_sample_has_zero_distortion():
    A = _heavy(40, 3)
    s = sample_rows(A, np.ones(40), 40, p=1, replace=False)  # q = 1 everywhere
    assert s.n_rows == 40
    assert lp_distortion(A, s, 1.0).value == pytest.approx(0, abs=1e-12)
    assert lp_distortion(A, sample_rows(A, np.ones(40), 40, p=3, replace=False), 3.0).value < 1e-9


def test_too_few_rows_means_distortion_one():
    A = _heavy(40, 3)
    s = sample_rows(A, np.ones(40), 2, p=1, replace=True, random_state=0)
    assert lp_distortion(A, s, 1.0).ratio_min == 0.0


@settings(max_examples=20, deadline=None)
@given(st.integers(4, 30), st.integers(2, 3), st.integers(0, 10_000))
def test_vertex_kernels_match_numpy_reference(n, d, seed):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, d))
    N = rng.standard_normal((n // 2 + 1, d))
    kernel = _kernels.max_ratio_vertices_2d if d == 2 else _kernels.max_ratio_vertices_3d
    assert kernel(G, N, G)[0] == pytest.approx(_kernels.max_ratio_vertices_reference(G, N, G), rel=1e-12)


# --- lp_regression ----------------------------------------------------------------------------------

def test_l2_regression_is_least_squares_and_sample_of_all_rows_is_full():
    A = _heavy(50, 3)
    b = np.random.default_rng(1).standard_normal(50)
    np.testing.assert_allclose(lp_regression(A, b, 2), np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10)
    full = sample_rows(A, np.ones(50), 50, p=1, replace=False)
    np.testing.assert_allclose(lp_regression(A, b, 1, sample=full), lp_regression(A, b, 1), atol=1e-8)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_lp_regression_matches_cvxpy(p):
    cp = pytest.importorskip("cvxpy")
    A = _heavy(40, 3, seed=5)
    b = A @ np.array([1.0, 2.0, -1.0]) + np.random.default_rng(0).standard_t(1, 40)
    x = lp_regression(A, b, p)
    z = cp.Variable(3)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.power(cp.abs(A @ z - b), p)) if p != 1 else cp.norm1(A @ z - b)))
    prob.solve(solver="CLARABEL")
    cost = np.sum(np.abs(A @ x - b) ** p)
    assert cost <= prob.value * (1 + 1e-6)


# --- bad input and immutability -----------------------------------------------------------------------

GOOD = _heavy(30, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda A: leverage_scores(A[:2]), "n >= d"),
        (lambda A: leverage_scores(A, ridge=-1.0), "ridge"),
        (lambda A: leverage_scores(A, method="fast"), "method"),
        (lambda A: leverage_scores(A, method="sketch", epsilon=0.0), "epsilon"),
        (lambda A: leverage_scores(A, method="sketch", sketch_size=2), "sketch_size"),
        (lambda A: leverage_scores(A[:, 0]), "2-dimensional"),
        (lambda A: lewis_weights(A, 0.5), "p"),
        (lambda A: lewis_weights(A, np.nan), "p"),
        (lambda A: lp_sensitivities(A, 1.0, method="cvx"), "method"),
        (lambda A: lp_sensitivities(A[:2], 1.0), "n >= d"),
        (lambda A: sample_rows(A, np.ones(30), 0), "n_samples"),
        (lambda A: sample_rows(A, np.ones(30), -1.0, replace=False), "n_samples"),
        (lambda A: sample_rows(A, np.ones(29), 5), "scores"),
        (lambda A: sample_rows(A, -np.ones(30), 5), "scores"),
        (lambda A: sample_rows(A, np.full(30, np.nan), 5), "scores"),
        (lambda A: sample_rows(A, np.zeros(30), 5), "scores"),
        (lambda A: sensitivity_sample(A, 1.0, 5, scheme="magic"), "scheme"),
        (lambda A: sensitivity_sample(A, 0.9, 5), "p"),
        (lambda A: lp_distortion(np.column_stack([A, A[:, 0]]), A[:5], 1.0), "full column rank"),
        (lambda A: lp_distortion(A, A[:5, :2], 1.0), "columns"),
        (lambda A: lp_distortion(A, A[:5], 1.5, method="exact"), "exact"),
        (lambda A: lp_regression(A, np.ones(29), 1.0), "b"),
        (lambda A: lp_regression(A, np.ones(30), 1.0, sample=sample_rows(A, np.ones(30), 1, p=1, random_state=0)), "rank"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(GOOD.copy())


@pytest.mark.parametrize(
    "B, exc, match",
    [
        (np.ones(29), ValueError, r"`B` must have one row per row.*\(30\); got 29"),  # was a silent wrong answer
        (np.ones(31), ValueError, r"`B` must have one row per row.*\(30\); got 31"),
        (np.ones((30, 2, 2)), ValueError, "`B` must be 1 or 2-dimensional"),  # was an IndexError
        (np.full(30, np.nan), ValueError, "`B` contains NaN"),
        (np.ones(30, dtype=complex), TypeError, "`B` must be real"),
        (sp.csr_array(np.ones((30, 2))), TypeError, "`B`"),  # was an IndexError
    ],
)
def test_row_sample_apply_checks_B(B, exc, match):
    sample = sample_rows(GOOD, np.ones(30), 10, random_state=0)
    assert sample.n_source_rows == 30
    with pytest.raises(exc, match=match):
        sample.apply(B)
    b = np.arange(30.0)
    np.testing.assert_allclose(sample.apply(b), b[sample.indices] * np.sqrt(sample.weights))


@pytest.mark.parametrize("replace", [True, False])
def test_scores_whose_sum_overflows_are_only_ratios(replace):
    scores = np.linspace(1.0, 2.0, 30)
    huge = scores * 1e307  # finite, but their sum is not (was numpy's "Probabilities do not sum to 1")
    kept = huge.copy()
    a = sample_rows(GOOD, scores, 10, replace=replace, random_state=0)
    b = sample_rows(GOOD, huge, 10, replace=replace, random_state=0)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12)
    np.testing.assert_array_equal(huge, kept)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_rejected_everywhere(bad):
    A = GOOD.copy()
    A[3, 1] = bad
    for call in (leverage_scores, lambda M: lewis_weights(M, 1.0), lambda M: lp_sensitivities(M, 1.0),
                 lambda M: sample_rows(M, np.ones(30), 3), lambda M: sensitivity_sample(M, 1.0, 3),
                 lambda M: lp_regression(M, np.ones(30), 1.0)):
        with pytest.raises(ValueError, match="A"):
            call(A)


def test_inputs_are_never_modified():
    A = GOOD.copy()
    A32 = A.astype(np.float32)
    scores = np.linspace(1, 2, 30)
    b = np.ones(30)
    keep = [A.copy(), A32.copy(), scores.copy(), b.copy()]
    leverage_scores(A)
    leverage_scores(A32, method="sketch", random_state=0)
    leverage_scores(A, ridge=1.0)
    lewis_weights(A, 1.0)
    lp_sensitivities(A, 1.5)
    s = sample_rows(A, scores, 10, p=1, random_state=0)
    sensitivity_sample(A, 1.0, 10, random_state=0)
    lp_distortion(A, s, 1.0)
    lp_regression(A, b, 1.0, sample=sensitivity_sample(np.column_stack([A, b]), 1.0, 20, random_state=0))
    for before, after in zip(keep, [A, A32, scores, b]):
        np.testing.assert_array_equal(before, after)


@settings(max_examples=20, deadline=None)
@given(st.integers(6, 60), st.integers(2, 5), st.integers(0, 10_000), st.booleans())
def test_l1_vertex_descent_matches_the_highs_lp(n, d, seed, heavy):
    """The certified Numba simplex (with its LP fallback) equals HiGHS' dual LP on every row."""
    from lrla.sampling.scores import _l1_sensitivity, _l1_sensitivity_fast

    rng = np.random.default_rng(seed)
    A = rng.standard_t(2, size=(n, d))
    if heavy:
        A[: d // 2 + 1] *= 50.0
        A[-1] = A[0]  # a duplicated row
    Q = np.linalg.qr(A)[0]
    for i in range(0, n, max(1, n // 8)):
        s_fast, x = _l1_sensitivity_fast(Q, i)
        s_lp = _l1_sensitivity(Q, i)[0]
        assert s_fast == pytest.approx(s_lp, rel=1e-8)
        assert Q[i] @ x == pytest.approx(1.0, rel=1e-8)


def test_sample_of_a_prefix_is_rejected_on_the_whole_matrix():
    """A sample drawn from A[:300] carries weights for 300 rows: lp_regression / lp_distortion on all of A refuse it."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((400, 3))
    b = A @ np.ones(3) + rng.standard_normal(400)
    sample = sample_rows(A[:300], leverage_scores(A[:300]), 60, random_state=0)
    assert sample.indices.max() < 300  # its indices are valid rows of A: only the row count gives it away
    with pytest.raises(ValueError, match="drawn from a matrix with 300 rows; `A` has 400"):
        lp_regression(A, b, 2, sample=sample)
    with pytest.raises(ValueError, match="drawn from a matrix with 300 rows; `A` has 400"):
        lp_distortion(A, sample, 2)
    lp_regression(A[:300], b[:300], 2, sample=sample)  # the matrix it came from is fine
    lp_distortion(A[:300], sample, 2)


def test_sensitivity_sample_docstring_warns_about_the_cost_of_exact_sensitivities():
    """The default sensitivity_method="exact" costs one convex program per row; the docstring says so and names "lewis"."""
    doc = sensitivity_sample.__doc__
    assert "one convex program per row" in doc and 'Use ``"lewis"`` beyond a few' in doc


def test_lewis_warning_through_sensitivity_sample_names_the_callers_line(monkeypatch):
    """The review found it named lrla/sampling/rows.py (a fixed stacklevel counted from lewis_weights)."""
    import warnings

    from lrla.sampling import scores

    monkeypatch.setattr(scores, "_lewis_iterate", lambda Q, p, tol, max_iter: (np.ones(Q.shape[0]), max_iter, False))
    A = np.random.default_rng(0).standard_normal((200, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sensitivity_sample(A, 1.0, 20, sensitivity_method="lewis", random_state=0)
    ours = [w for w in caught if "lewis_weights stopped" in str(w.message)]
    assert ours and all(w.filename == __file__ for w in ours)
