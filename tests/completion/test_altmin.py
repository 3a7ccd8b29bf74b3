"""AltMinCompletion and complete_matrix: recovery, input forms, diagnostics, bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from lrla import AltMinCompletion, ConvergenceWarning, complete_matrix
from lrla.datasets import make_low_rank, sample_entries


@pytest.fixture(scope="module")
def instance():
    U, s, V = make_low_rank(120, 90, 3, condition=2.0, random_state=0)
    rows, cols, vals = sample_entries(U, s, V, p=0.35, random_state=1)
    M = (U * s) @ V.T
    X = np.full(M.shape, np.nan)
    X[rows, cols] = vals
    return M, X, rows, cols, vals, (U, s, V)


def rel_err(model_or_factors, M):
    if isinstance(model_or_factors, tuple):
        A, B = model_or_factors
        return np.linalg.norm(A @ B.T - M) / np.linalg.norm(M)
    return np.linalg.norm(model_or_factors.reconstruct() - M) / np.linalg.norm(M)


@pytest.mark.parametrize("kw", [dict(solver="exact"), dict(), dict(inner="sketch"),
                                dict(inner_steps=3, inner_tol=0.0)])
def test_recovers_to_near_machine_precision(instance, kw):
    M, X, *_ = instance
    model = AltMinCompletion(3, random_state=0, **kw).fit(X)
    assert rel_err(model, M) <= 1e-8
    assert model.U_.shape == (120, 3) and model.V_.shape == (90, 3)
    # Balanced factors: equal column norms on both sides.
    np.testing.assert_allclose(np.linalg.norm(model.U_, axis=0), np.linalg.norm(model.V_, axis=0), rtol=1e-8)
    np.testing.assert_allclose(model.singular_values_, instance[5][1], rtol=1e-7)


def test_dense_and_sparse_inputs_agree(instance):
    M, X, rows, cols, vals, _ = instance
    dense = AltMinCompletion(3, random_state=0).fit(X)
    for fmt in ("coo", "csr", "csc"):
        S = sp.coo_array((vals, (rows, cols)), shape=M.shape).asformat(fmt)
        sparse = AltMinCompletion(3, random_state=0).fit(S)
        np.testing.assert_allclose(sparse.reconstruct(), dense.reconstruct(), atol=1e-12)
    A, B = complete_matrix(rows, cols, vals, M.shape, 3, random_state=0)
    np.testing.assert_allclose(A @ B.T, dense.reconstruct(), atol=1e-12)


def test_sparse_explicit_zeros_are_observations():
    U, s, V = make_low_rank(40, 30, 2, random_state=0)
    M = (U * s) @ V.T
    M[M.__abs__() < 0.02] = 0.0  # not low rank any more, only to exercise stored zeros
    rows, cols = np.nonzero(np.random.default_rng(0).random(M.shape) < 0.5)
    S = sp.coo_array((M[rows, cols], (rows, cols)), shape=M.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AltMinCompletion(2, random_state=0, n_iter=5).fit(S)
    assert model.row_counts_.sum() == rows.size


def test_same_seed_same_result_and_inputs_untouched(instance):
    M, X, rows, cols, vals, _ = instance
    X_copy, vals_copy, rows_copy = X.copy(), vals.copy(), rows.copy()
    a = AltMinCompletion(3, inner="sketch", random_state=5).fit(X)
    b = AltMinCompletion(3, inner="sketch", random_state=5).fit(X)
    np.testing.assert_array_equal(a.U_, b.U_)
    np.testing.assert_array_equal(a.V_, b.V_)
    complete_matrix(rows, cols, vals, M.shape, 3, random_state=0)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(vals, vals_copy)
    np.testing.assert_array_equal(rows, rows_copy)


def test_float32_preserved(instance):
    M, X, *_ = instance
    model = AltMinCompletion(3, random_state=0).fit(X.astype(np.float32))
    assert model.U_.dtype == np.float32 and model.V_.dtype == np.float32
    assert rel_err(model, M) <= 1e-5


def test_predict_history_and_diagnostics(instance):
    M, X, rows, cols, vals, truth = instance
    model = AltMinCompletion(3, random_state=0).fit(X, true_matrix=truth)
    i, j = np.array([0, 5, 119]), np.array([3, 0, 89])
    np.testing.assert_allclose(model.predict(i, j), model.reconstruct()[i, j])
    h = model.history_
    assert set(h) == {"residual", "inner_steps", "incoherence", "error"}
    assert len(h["residual"]) == model.n_iter_ == len(h["error"])
    assert h["error"][-1] <= 1e-8 and h["residual"][-1] <= 1e-10
    # The factor-based error equals the dense one.
    dense = AltMinCompletion(3, random_state=0).fit(X, true_matrix=M)
    np.testing.assert_allclose(dense.history_["error"], h["error"], rtol=1e-6, atol=1e-14)
    np.testing.assert_array_equal(model.row_counts_, np.bincount(rows, minlength=120))
    np.testing.assert_array_equal(model.col_counts_, np.bincount(cols, minlength=90))
    assert 1.0 <= model.incoherence_ <= np.sqrt(90 / 3)


def test_convergence_warning_on_iteration_cap(instance):
    X = instance[1]
    with pytest.warns(ConvergenceWarning, match="n_iter=2"):
        AltMinCompletion(3, n_iter=2, random_state=0).fit(X)


def test_undersampled_rows_warn():
    U, s, V = make_low_rank(50, 40, 3, random_state=0)
    M = (U * s) @ V.T
    X = np.where(np.random.default_rng(0).random(M.shape) < 0.5, M, np.nan)
    X[7, 2:] = np.nan  # row 7 keeps at most 2 < rank entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="fewer than rank=3"):
            model = AltMinCompletion(3, random_state=0, n_iter=20).fit(X)
    assert np.all(np.isfinite(model.reconstruct()))


def test_theory_faithful_options_run(instance):
    M, X, *_ = instance
    clipped = AltMinCompletion(3, clip_incoherence=3.0, random_state=0).fit(X)
    assert rel_err(clipped, M) <= 1e-8
    U, s, V = make_low_rank(100, 100, 2, random_state=0)
    M2 = (U * s) @ V.T
    X2 = np.where(np.random.default_rng(1).random(M2.shape) < 0.9, M2, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        split = AltMinCompletion(2, sample_split=True, n_iter=4, random_state=0).fit(X2)
    # Fresh ~10% samples per half-step: converging, not yet exact. Over random_state 0..3 the final error
    # spreads over 0.05..0.10 (whatever the init's power iterations), so assert the descent and a margin.
    assert np.all(np.diff(split.history_["residual"]) < 0)
    assert rel_err(split, M2) < 0.15


def test_sample_split_with_too_small_parts_warns():
    # 60 x 40 at 50 %: 1200 entries over 2 * 100 + 1 parts, about 0.1 per row in a part
    U, s, V = make_low_rank(60, 40, 2, random_state=0)
    M = (U * s) @ V.T
    X = np.where(np.random.default_rng(1).random(M.shape) < 0.5, M, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="sample_split=True: 201 of the 2 n_iter"):
            AltMinCompletion(2, sample_split=True, random_state=0).fit(X)
        U, s, V = make_low_rank(100, 100, 2, random_state=0)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="sample_split")  # 5 parts of a full 100 x 100: ~20 per row each
            AltMinCompletion(2, sample_split=True, n_iter=2, random_state=0).fit((U * s) @ V.T)


def test_get_params_and_clone():
    est = AltMinCompletion(4, solver="exact", tol=1e-6, random_state=3)
    assert est.get_params()["rank"] == 4 and est.get_params()["solver"] == "exact"
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "U_")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rank=0), "rank"),
        (dict(rank=90), "rank"),  # rank >= min(m, n)
        (dict(rank=2.5), "rank"),
        (dict(rank=3, solver="svd"), "solver"),
        (dict(rank=3, inner="lsqr"), "inner"),
        (dict(rank=3, n_iter=0), "n_iter"),
        (dict(rank=3, tol=-1.0), "tol"),
        (dict(rank=3, inner_steps=0), "inner_steps"),
        (dict(rank=3, inner_tol=-0.1), "inner_tol"),
        (dict(rank=3, clip_incoherence=0.5), "clip_incoherence"),
        (dict(rank=3, sample_split="yes"), "sample_split"),
        (dict(rank=3, random_state="seed"), "random_state"),
    ],
)
def test_bad_parameters(instance, kwargs, match):
    X = instance[1]
    rank = kwargs.pop("rank")
    with pytest.raises((ValueError, TypeError), match=match):
        AltMinCompletion(rank, **kwargs).fit(X)


def test_bad_inputs(instance):
    M, X, rows, cols, vals, _ = instance
    with pytest.raises(ValueError, match="all NaN"):
        AltMinCompletion(2).fit(np.full((5, 4), np.nan))
    with pytest.raises(ValueError, match="infinite"):
        Y = X.copy()
        Y[0, 0] = np.inf
        AltMinCompletion(2).fit(Y)
    with pytest.raises(ValueError, match="2-dimensional"):
        AltMinCompletion(2).fit(np.ones(5))
    with pytest.raises(ValueError, match="empty"):
        AltMinCompletion(2).fit(np.ones((0, 4)))
    with pytest.raises(ValueError, match="infinite"):
        AltMinCompletion(2).fit(sp.coo_array(([np.inf, 1.0], ([0, 1], [0, 1])), shape=(5, 4)))
    with pytest.raises(ValueError, match="duplicate"):
        AltMinCompletion(2).fit(sp.coo_array(([1.0, 1.0, 2.0], ([0, 0, 1], [0, 0, 1])), shape=(5, 4)))
    with pytest.raises(TypeError, match="real"):
        AltMinCompletion(2).fit(X.astype(complex))
    with pytest.raises(ValueError, match="true_matrix"):
        AltMinCompletion(3).fit(X, true_matrix=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no observed entries"):
        complete_matrix([], [], [], (5, 4), 2)
    with pytest.raises(ValueError, match="same length"):
        complete_matrix(rows, cols[:-1], vals, M.shape, 3)
    with pytest.raises(ValueError, match="rows"):
        complete_matrix(rows + 200, cols, vals, M.shape, 3)
    with pytest.raises(ValueError, match="cols"):
        complete_matrix(rows, cols - 100, vals, M.shape, 3)
    with pytest.raises(TypeError, match="integer"):
        complete_matrix(rows + 0.5, cols, vals, M.shape, 3)
    with pytest.raises(ValueError, match="NaN"):
        complete_matrix(rows, cols, np.where(np.arange(vals.size) == 3, np.nan, vals), M.shape, 3)
    with pytest.raises(ValueError, match="infinite"):
        complete_matrix(rows, cols, np.where(np.arange(vals.size) == 3, np.inf, vals), M.shape, 3)
    with pytest.raises(ValueError, match="shape"):
        complete_matrix(rows, cols, vals, (120,), 3)
    with pytest.raises(ValueError, match="rank"):
        complete_matrix(rows, cols, vals, M.shape, 90)


def test_predict_checks(instance):
    X = instance[1]
    model = AltMinCompletion(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="rows"):
        model.predict([120], [0])
    with pytest.raises(ValueError, match="same length"):
        model.predict([0, 1], [0])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AltMinCompletion(3).predict([0], [0])


def test_out_of_range_indices_are_reported_unwrapped(instance):
    # uint64 indices >= 2**63 (and integral floats beyond int64) were cast to int64 before the range
    # check, so the message showed a wrapped negative value instead of the one passed.
    M, X, rows, _, vals, _ = instance
    model = AltMinCompletion(3, random_state=0).fit(X)
    huge = np.array([2**63, 1], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"`rows` must hold indices in \[0, 120\); got values in \[1, 9223372036854775808\]"):
        model.predict(huge, [0, 1])
    with pytest.raises(ValueError, match=r"`cols` must hold indices in \[0, 90\); got values in \[1, 18446744073709551615\]"):
        model.predict([0, 1], np.array([2**64 - 1, 1], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"`rows` .* got values in \[-100000000000000000000, 1\]"):
        model.predict([-1e20, 1.0], [0, 1])
    with pytest.raises(ValueError, match=r"`cols` .* got values in \[0, 100000000000000000000\]"):
        complete_matrix(rows[:2], np.array([0.0, 1e20]), vals[:2], M.shape, 1)
    # In-range uint64 and integral float indices still work, with the int64 results of before.
    i, j = np.array([0, 119], dtype=np.uint64), np.array([3.0, 89.0])
    np.testing.assert_array_equal(model.predict(i, j), model.predict(np.array([0, 119]), np.array([3, 89])))


def test_order_of_observations_does_not_matter(instance):
    M, X, rows, cols, vals, _ = instance
    perm = np.random.default_rng(9).permutation(rows.size)
    A, B = complete_matrix(rows, cols, vals, M.shape, 3, random_state=0)
    A2, B2 = complete_matrix(rows[perm], cols[perm], vals[perm], M.shape, 3, random_state=0)
    np.testing.assert_allclose(A2 @ B2.T, A @ B.T, atol=1e-12)


def test_adaptive_inner_tolerance_rule():
    from lrla.completion.altmin import _RTOL_FLOOR, adaptive_inner_tol
    # Slow outer contraction: 0.05 x residual; fast contraction: 0.5 x contraction x residual.
    assert adaptive_inner_tol(1e-3, 1.0) == pytest.approx(5e-5)
    assert adaptive_inner_tol(1e-3, 0.3) == pytest.approx(5e-5)
    assert adaptive_inner_tol(1e-3, 0.02) == pytest.approx(1e-5)
    assert adaptive_inner_tol(0.0, 0.5) == _RTOL_FLOOR


def test_adaptive_tolerance_follows_the_observed_residuals(instance, monkeypatch):
    from lrla.completion import altmin
    *_, rows, cols, vals, _ = instance
    X = sp.coo_array((vals, (rows, cols)), shape=(120, 90))
    seen = []
    original = altmin.half_step

    def recording_half_step(*args, rtol, **kwargs):
        seen.append(rtol)
        return original(*args, rtol=rtol, **kwargs)

    monkeypatch.setattr(altmin, "half_step", recording_half_step)
    model = AltMinCompletion(3, random_state=0).fit(X)
    U0, V_warm = altmin.spectral_init(altmin.entries_from_matrix(X)[0], 3, np.random.default_rng(0))
    init_residual = np.linalg.norm(vals - np.einsum("ij,ij->i", U0[rows], V_warm[cols])) / np.linalg.norm(vals)
    residuals = [init_residual] + model.history_["residual"]
    assert len(seen) == 2 * model.n_iter_  # one tolerance per half-step, the same for both of an iteration
    for t in range(model.n_iter_):
        contraction = 1.0 if t == 0 else residuals[t] / residuals[t - 1]
        expected = max(min(0.05, 0.5 * contraction) * residuals[t], altmin._RTOL_FLOOR)
        assert seen[2 * t] == seen[2 * t + 1] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-200, 1e130, 1e200])
@pytest.mark.parametrize("solver", ["robust", "exact"])
def test_extreme_scales_complete_like_scale_one(instance, scale, solver):
    # The method is scale-equivariant; in float64 it was not: values of ~1e120 made the robust solver's
    # SVD fail ("SVD did not converge"), and values of ~1e-200 or 1e200 gave a relative error of 0.13-0.47
    # without any error or warning. They are now balanced by an exact power of 4.
    M, X, rows, cols, vals, (U, s, V) = instance
    base = AltMinCompletion(3, solver=solver, random_state=0).fit(X)
    model = AltMinCompletion(3, solver=solver, random_state=0).fit(X * scale, true_matrix=(U, s * scale, V))
    root = np.sqrt(scale)
    assert rel_err((model.U_ / root, model.V_ / root), M) <= 1e-8
    assert model.history_["error"][-1] <= 1e-8  # the ground truth is balanced with the values
    np.testing.assert_allclose(model.singular_values_ / scale, base.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(model.history_["residual"][:3], base.history_["residual"][:3], rtol=1e-6)


def test_true_matrix_checked_naming_it(instance):
    M, X, *_, (U, s, V) = instance
    fit = AltMinCompletion(3, n_iter=2, random_state=0).fit
    with pytest.raises(TypeError, match="`true_matrix` must be real"):  # was cast, dropping the imaginary part
        fit(X, true_matrix=M.astype(complex))
    with pytest.raises(TypeError, match="`true_matrix`"):  # was numpy's "could not convert string to float"
        fit(X, true_matrix=np.full(M.shape, "abc"))
    with pytest.raises(ValueError, match="`true_matrix` contains NaN"):
        fit(X, true_matrix=np.where(M > 0, np.nan, M))
    with pytest.raises(TypeError, match=r"`true_matrix\[1\]` must be real"):
        fit(X, true_matrix=(U, s + 0j, V))


@pytest.mark.parametrize("solver", ["robust", "exact"])
def test_all_observed_values_zero_gives_the_zero_matrix(solver):
    X = np.where(np.random.default_rng(0).random((30, 20)) < 0.5, 0.0, np.nan)
    model = AltMinCompletion(2, solver=solver, random_state=0).fit(X)
    assert np.all(np.isfinite(model.U_)) and np.all(np.isfinite(model.V_))
    assert np.abs(model.reconstruct()).max() == 0.0
    assert model.n_iter_ == 1


def test_warnings_point_at_the_callers_line():
    """The ConvergenceWarning and the under-sampling UserWarning name the user's file, not altmin.py."""
    U, s, V = make_low_rank(60, 40, 3, random_state=0)
    M = (U * s) @ V.T
    X = np.where(np.random.default_rng(1).random(M.shape) < 0.5, M, np.nan)
    X[0, 1:] = np.nan  # row 0 keeps one entry < rank: the UserWarning
    rows, cols = np.nonzero(~np.isnan(X))
    for call in (lambda: AltMinCompletion(3, n_iter=2, random_state=0).fit(X),
                 lambda: complete_matrix(rows, cols, X[rows, cols], X.shape, 3, n_iter=2, random_state=0)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        kinds = {w.category for w in caught}
        assert kinds == {ConvergenceWarning, UserWarning}
        assert all(w.filename == __file__ for w in caught), [(w.category, w.filename) for w in caught]


def test_none_for_missing_entries_gets_a_hint():
    """A list with None (or a pandas nullable frame with pd.NA) is an object array: the error says to use NaN."""
    X = [[1.0, None, 2.0], [None, 3.0, 1.0], [2.0, 1.0, None]]
    with pytest.raises(TypeError, match=r"NaN for missing entries.*None or pandas\.NA"):
        AltMinCompletion(1).fit(X)
    with pytest.raises(TypeError, match="could not be converted|numeric"):
        AltMinCompletion(1).fit([[1.0, 2.0], [3.0]])
