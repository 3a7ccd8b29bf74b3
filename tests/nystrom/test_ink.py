import numpy as np
import pytest

from lrla.datasets import make_clusters_outliers
from lrla.nystrom import InkEstimate, effective_dimension, ridge_leverage_scores
from lrla.nystrom.leverage import spectral_accuracy

from .reference import rbf_gram


@pytest.fixture(scope="module")
def data():
    X, out = make_clusters_outliers(200, n_outliers=8, random_state=0)
    return X, out, rbf_gram(X)


@pytest.mark.parametrize("variant", ["slots", "binomial"])
def test_dictionary_is_accurate_and_small(data, variant):
    X, out, K = data
    ink = InkEstimate(ridge=1.0, variant=variant, kernel_params={"gamma": 0.5}, random_state=0).fit(X)
    idx = ink.dictionary_.indices
    np.testing.assert_array_equal(ink.dictionary_.points, X[idx])
    assert len(idx) < 200 and ink.weights_.shape == idx.shape == ink.scores_.shape
    assert spectral_accuracy(K, idx, ink.weights_, 1.0) < 1.0
    # outliers carry large RLS: the dictionary keeps most of them
    assert out[idx].sum() >= 0.75 * out.sum()
    assert ink.n_kernel_evaluations_ == 1 + sum(ink.dictionary_sizes_[:-1] + 1)


def test_scores_bounded_by_one_minus_eps(data):
    # a point's first estimate is (1 - eps)(1 - ridge [M^-1]_tt) <= 1 - eps, and scores only decrease
    X, _, K = data
    ink = InkEstimate(ridge=1.0, epsilon=0.5, kernel_params={"gamma": 0.5}, random_state=1).fit(X)
    assert np.all(ink.scores_ <= 0.5 + 1e-12)
    assert np.all(ink.scores_ > 0)
    assert ink.normalizer_ > 0.5 * ridge_leverage_scores(K, 1.0).sum()


def test_batches_equal_one_pass(data):
    X, _, _ = data
    a = InkEstimate(ridge=1.0, budget=300, kernel_params={"gamma": 0.5}, random_state=3).fit(X)
    b = InkEstimate(ridge=1.0, budget=300, kernel_params={"gamma": 0.5}, random_state=3)
    for chunk in np.array_split(X, 7):
        b.partial_fit(chunk)
    np.testing.assert_array_equal(a.dictionary_.indices, b.dictionary_.indices)
    np.testing.assert_allclose(a.weights_, b.weights_)


@pytest.mark.parametrize("variant", ["slots", "binomial"])
def test_same_seed_same_dictionary(data, variant):
    X = data[0]
    runs = [InkEstimate(ridge=1.0, variant=variant, random_state=5).fit(X) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].dictionary_.indices, runs[1].dictionary_.indices)
    np.testing.assert_array_equal(runs[0].weights_, runs[1].weights_)
    other = InkEstimate(ridge=1.0, variant=variant, random_state=6).fit(X)
    assert not np.array_equal(other.dictionary_.indices, runs[0].dictionary_.indices)


def test_fit_resets_state(data):
    X = data[0]
    ink = InkEstimate(ridge=1.0, budget=100, random_state=0)
    ink.fit(X[:50])
    ink.fit(X[:50])
    assert ink.n_seen_ == 50


def test_callable_and_named_kernels_agree(data):
    X = data[0][:80]

    def rbf(x, y):
        return np.exp(-0.5 * np.sum((x - y) ** 2))

    a = InkEstimate(ridge=1.0, budget=100, kernel_params={"gamma": 0.5}, random_state=0).fit(X)
    b = InkEstimate(rbf, ridge=1.0, budget=100, random_state=0).fit(X)
    np.testing.assert_array_equal(a.dictionary_.indices, b.dictionary_.indices)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-10)


def test_other_named_kernel_runs(data):
    X = data[0][:60]
    ink = InkEstimate("laplacian", ridge=0.5, budget=100, random_state=0).fit(X)
    assert ink.n_seen_ == 60 and len(ink.dictionary_.indices) > 0


def test_default_budget_rule(data):
    X, _, K = data
    from lrla.nystrom import effective_dimension

    ink = InkEstimate(ridge=1.0, epsilon=0.5, kernel_params={"gamma": 0.5}, random_state=0).fit(X)
    assert ink.budget_ == int(np.ceil(8 * effective_dimension(K, 1.0) / 0.25))
    assert InkEstimate(ridge=1.0, variant="binomial", epsilon=0.5).fit(X[:5]).budget_ == 32


def test_input_not_modified(data):
    X = data[0][:40].copy()
    X0 = X.copy()
    InkEstimate(ridge=1.0, budget=50, random_state=0).fit(X)
    np.testing.assert_array_equal(X, X0)


@pytest.mark.parametrize(
    "kwargs, X, exc, match",
    [
        ({"ridge": 0.0}, None, ValueError, "ridge"),
        ({"ridge": -1.0}, None, ValueError, "ridge"),
        ({"ridge": 1.0, "epsilon": 0.0}, None, ValueError, "epsilon"),
        ({"ridge": 1.0, "epsilon": 1.0}, None, ValueError, "epsilon"),
        ({"ridge": 1.0, "epsilon": 1.5}, None, ValueError, "epsilon"),
        ({"ridge": 1.0, "budget": 0}, None, ValueError, "budget"),
        ({"ridge": 1.0, "budget": 2.5}, None, TypeError, "budget"),
        ({"ridge": 1.0, "variant": "poisson"}, None, ValueError, "variant"),
        ({"ridge": 1.0, "kernel": "gaussian"}, None, ValueError, "kernel"),
        ({"ridge": 1.0, "kernel": "precomputed"}, None, ValueError, "kernel"),
        ({"ridge": 1.0, "kernel_params": {"degree": 3}}, None, ValueError, "kernel_params"),
        ({"ridge": 1.0}, np.array([[0.0, np.nan]]), ValueError, "NaN"),
        ({"ridge": 1.0}, np.zeros((0, 2)), ValueError, "empty"),
        ({"ridge": 1.0}, np.zeros(3), ValueError, "2-dimensional"),
    ],
)
def test_bad_input(kwargs, X, exc, match):
    X = np.random.default_rng(0).standard_normal((10, 2)) if X is None else X
    kernel = kwargs.pop("kernel", "rbf")
    with pytest.raises(exc, match=match):
        InkEstimate(kernel, **kwargs).fit(X)


@pytest.mark.parametrize("variant", ["slots", "binomial"])
@pytest.mark.parametrize(
    "kwargs, scale, exc, match",
    [
        # a NaN gamma gave an empty dictionary without error (slots) or numpy's "p < 0, p > 1" (binomial)
        ({"kernel_params": {"gamma": np.nan}}, 1.0, ValueError, "`gamma` must be finite"),
        ({"kernel_params": {"gamma": -1.0}}, 1.0, ValueError, "`gamma` must be >= 0"),
        ({"kernel_params": {"gamma": "a"}}, 1.0, TypeError, "`gamma` must be a real number"),
        ({"kernel": "poly", "kernel_params": {"degree": 2.5}}, 1.0, ValueError, "kernel 'poly' returned NaN"),
        ({}, 1e200, ValueError, "`X` is too large for the 'rbf' kernel"),  # was "`K` contains NaN"
    ],
)
def test_kernel_parameters_and_overflow_rejected(variant, kwargs, scale, exc, match):
    X = np.random.default_rng(0).standard_normal((30, 2)) * scale
    kwargs = dict(kwargs)
    kernel = kwargs.pop("kernel", "rbf")
    with pytest.raises(exc, match=match):
        InkEstimate(kernel, ridge=1.0, variant=variant, random_state=0, **kwargs).fit(X)


def test_later_batch_with_overflowing_norms_rejected():
    X = np.random.default_rng(0).standard_normal((30, 2))
    ink = InkEstimate(ridge=1.0, budget=20, random_state=0).fit(X)
    with pytest.raises(ValueError, match="`X` is too large"):
        ink.partial_fit(X * 1e200)


def test_feature_mismatch_in_partial_fit():
    ink = InkEstimate(ridge=1.0, budget=10).partial_fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="features"):
        ink.partial_fit(np.ones((3, 3)))


def test_a_collapsed_empty_dictionary_warns_at_the_callers_line():
    """An explicit budget far too small, fed one row at a time: the dictionary empties, and that is a warning."""
    import warnings

    from sklearn.datasets import load_digits

    X = load_digits().data[:300] / 16
    ink = InkEstimate(ridge=1.0, budget=32, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for row in X:
            ink.partial_fit(row[None])
    assert ink.dictionary_.indices.size == 0
    ours = [w for w in caught if "dictionary is empty" in str(w.message)]
    assert ours and len({str(w.message) for w in ours}) == 1  # one constant message: shown once by default
    assert "budget_=32" in str(ours[0].message) and "budget=None" not in str(ours[0].message)
    assert all(w.filename == __file__ for w in ours)


def test_default_budget_fed_one_row_at_a_time_does_not_collapse():
    """The defect of the 2026-11-23 review: budget=None sized 32 slots from a first batch of one row, and on
    digits every point was evicted. Now the rule sees the stream's first min(1000, n) points, whatever the batches."""
    import warnings

    from sklearn.datasets import load_digits

    X = load_digits().data[:300] / 16
    ink = InkEstimate(ridge=1.0, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for row in X:
            ink.partial_fit(row[None])
        size = ink.dictionary_.indices.size  # the tentative state is computed here
    assert not [w for w in caught if "dictionary is empty" in str(w.message)]
    K = rbf_gram(X, gamma=1 / 64)
    assert ink.budget_ == int(np.ceil(8 * effective_dimension(K, 1.0) / 0.25)) and ink.n_budget_points_ == 300
    assert size > 100 and spectral_accuracy(K, ink.dictionary_.indices, ink.weights_, 1.0) < 1.0


def _ink_state(ink):
    return {
        "indices": ink.dictionary_.indices, "points": ink.dictionary_.points, "weights": ink.weights_,
        "scores": ink.scores_, "counts": ink.counts_, "sizes": ink.dictionary_sizes_,
        "scalars": np.array([ink.normalizer_, ink.budget_, ink.n_budget_points_, ink.n_seen_,
                             ink.n_kernel_evaluations_], dtype=float),
    }


def _assert_same_state(a, b):
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def smooth_stream():
    # 1100 points (longer than the 1000-point budget probe) with a small effective dimension (about 3 at 100
    # points, 7 at 1000), so that the default budget (a few hundred slots) runs in a second.
    return np.random.default_rng(0).standard_normal((1100, 2))


@pytest.mark.parametrize("n", [300, 1100])
def test_default_budget_does_not_depend_on_the_batches(smooth_stream, n):
    X = smooth_stream[:n]
    params = dict(ridge=5.0, kernel_params={"gamma": 0.1}, random_state=4)
    whole = InkEstimate(**params).fit(X)
    assert whole.n_seen_ == n and whole.n_budget_points_ == min(n, 1000)
    deff = effective_dimension(rbf_gram(X[:1000], gamma=0.1), 5.0)
    assert whole.budget_ == int(np.ceil(8 * deff / 0.25))
    reference = _ink_state(whole)
    one_batch = InkEstimate(**params).partial_fit(X)
    rows = InkEstimate(**params)
    for x in X:
        rows.partial_fit(x[None, :])
    sevens = InkEstimate(**params)  # read now and then: the tentative states must not leak into the result
    budgets = []
    for start in range(0, n, 7):
        sevens.partial_fit(X[start:start + 7])
        if start % 70 == 0:
            budgets.append(sevens.budget_)
    for other in (one_batch, rows, sevens):
        _assert_same_state(_ink_state(other), reference)
    assert np.all(np.diff(budgets) >= 0)  # d_eff of a growing prefix only grows
    if n > 1000:
        assert rows._buffer is None  # released: from 1000 points on, points are processed as they arrive


def test_tentative_state_is_the_fit_of_the_points_so_far(smooth_stream):
    X = smooth_stream
    params = dict(ridge=5.0, kernel_params={"gamma": 0.1}, random_state=1)
    ink, done = InkEstimate(**params), 0
    for stop in (150, 400, 999, 1000, 1100):
        ink.partial_fit(X[done:stop])
        done = stop
        assert ink.n_seen_ == stop and ink.dictionary_sizes_.shape == (stop,)
        _assert_same_state(_ink_state(ink), _ink_state(InkEstimate(**params).fit(X[:stop])))
        assert ink.n_budget_points_ == min(stop, 1000)


def test_buffered_points_are_copies(smooth_stream):
    X = smooth_stream[:200].copy()
    params = dict(ridge=5.0, kernel_params={"gamma": 0.1}, random_state=0)
    reference = _ink_state(InkEstimate(**params).fit(X))
    ink = InkEstimate(**params).partial_fit(X)
    X[:] = 0.0  # the caller reuses its array before the tentative state is computed
    _assert_same_state(_ink_state(ink), reference)


def test_fitted_attributes_before_fit():
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    ink = InkEstimate(ridge=1.0)
    assert not hasattr(ink, "dictionary_") and not hasattr(ink, "budget_")
    with pytest.raises(NotFittedError):
        check_is_fitted(ink)
    ink.partial_fit(np.ones((3, 2)))
    check_is_fitted(ink)
    assert ink.budget_ == 32 and ink.n_budget_points_ == 3  # d_eff of three equal points < 1: the floor
    with pytest.raises(ValueError, match="features"):  # checked while the points are only buffered
        ink.partial_fit(np.ones((3, 3)))
    with pytest.raises(ValueError, match="`X` is too large"):
        ink.partial_fit(np.full((2, 2), 1e200))
    assert ink.n_seen_ == 3
