import warnings

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.utils.estimator_checks import parametrize_with_checks

from lrla.datasets import make_clusters_outliers
from lrla.nystrom import NystroemKRR, RLSNystroem

from .reference import rbf_gram


@parametrize_with_checks(
    [
        RLSNystroem(random_state=0),
        RLSNystroem(sampling="rls", random_state=0),
        RLSNystroem(sampling="ink", random_state=0),
        RLSNystroem(sampling="uniform", random_state=0),
        NystroemKRR(random_state=0),
        NystroemKRR(sampling="ink", random_state=0),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # INK dictionary smaller than n_components
        check(estimator)


@pytest.fixture(scope="module")
def coherent():
    X, out = make_clusters_outliers(400, n_outliers=20, random_state=0)
    return X, out, rbf_gram(X)


def test_uniform_matches_sklearn_feature_map(coherent):
    # same landmarks -> same kernel approximation as scikit-learn's Nystroem
    X, _, K = coherent
    sk = Nystroem(gamma=0.5, n_components=60, random_state=0).fit(X)
    ours = RLSNystroem(gamma=0.5, landmarks=sk.components_).fit(X)
    Zs, Zo = sk.transform(X), ours.transform(X)
    np.testing.assert_allclose(Zo @ Zo.T, Zs @ Zs.T, atol=1e-8)


@pytest.mark.parametrize("sampling", ["rls", "recursive", "ink"])
def test_rls_landmarks_catch_outliers(coherent, sampling):
    X, out, K = coherent
    m = 100
    rls = RLSNystroem(gamma=0.5, n_components=m, sampling=sampling, ridge=0.3, random_state=0).fit(X)
    uni = RLSNystroem(gamma=0.5, n_components=m, sampling="uniform", random_state=0).fit(X)
    assert out[rls.component_indices_].sum() >= 15 > out[uni.component_indices_].sum()
    Zr, Zu = rls.transform(X), uni.transform(X)
    # trace norm of the (PSD) error: each missed outlier costs ~1
    err_r = np.trace(K - Zr @ Zr.T)
    err_u = np.trace(K - Zu @ Zu.T)
    assert err_r < 0.5 * err_u


def test_approximation_error_is_psd_and_below_K(coherent):
    X, _, K = coherent
    Z = RLSNystroem(gamma=0.5, n_components=80, random_state=0).fit_transform(X)
    ev = np.linalg.eigvalsh(K - Z @ Z.T)
    assert ev.min() > -1e-8


def test_duplicate_landmarks_do_not_blow_up():
    X = np.random.default_rng(0).standard_normal((30, 2))
    L = np.vstack([X[:5], X[:5]])
    Z = RLSNystroem(gamma=0.5, landmarks=L).fit_transform(X)
    K = rbf_gram(X)
    assert np.all(np.isfinite(Z)) and np.linalg.eigvalsh(K - Z @ Z.T).min() > -1e-8


@pytest.mark.parametrize("case", ["definite", "ill-conditioned", "singular"])
def test_feature_normalization_is_a_square_root_of_the_pseudo_inverse(case):
    # N^T N = K_mm^+ on both branches: the inverse Cholesky factor (lower triangular) when K_mm is
    # numerically definite, the dropped-eigenvalue K_mm^{-1/2} (symmetric) when it is not
    from lrla.nystrom.transformer import _feature_normalization

    rng = np.random.default_rng(0)
    P = rng.standard_normal((40, 3))
    if case == "ill-conditioned":
        P[1] = P[0] + 1e-4  # two landmarks close together: cond ~ 1e8, still definite
    if case == "singular":
        P[20:] = P[:20]  # exact duplicates
    K = rbf_gram(P)
    N = _feature_normalization(K)
    if case == "singular":
        np.testing.assert_allclose(N, N.T, atol=1e-12)
        np.testing.assert_allclose(N.T @ N, np.linalg.pinv(K, rcond=1e-10, hermitian=True), rtol=1e-6, atol=1e-6)
    else:
        assert np.all(np.triu(N, 1) == 0.0)
        assert np.linalg.norm(N.T @ N @ K - np.eye(40), 2) < 1e-13 * np.linalg.cond(K)


def test_float32_preserved_and_close():
    X = np.random.default_rng(0).standard_normal((100, 3))
    Z64 = RLSNystroem(n_components=20, random_state=0).fit_transform(X)
    Z32 = RLSNystroem(n_components=20, random_state=0).fit_transform(X.astype(np.float32))
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32 @ Z32.T, Z64 @ Z64.T, atol=1e-3)


@pytest.mark.parametrize("sampling", ["rls", "recursive", "ink", "uniform"])
def test_same_seed_same_landmarks(coherent, sampling):
    X = coherent[0][:150]
    a = RLSNystroem(n_components=20, sampling=sampling, random_state=3).fit(X)
    b = RLSNystroem(n_components=20, sampling=sampling, random_state=3).fit(X)
    np.testing.assert_array_equal(a.component_indices_, b.component_indices_)


def test_default_components():
    X = np.random.default_rng(0).standard_normal((30, 2))
    assert RLSNystroem(random_state=0).fit_transform(X).shape == (30, 30)
    assert RLSNystroem(random_state=0).fit_transform(np.vstack([X] * 5)).shape == (150, 100)


def test_input_not_modified():
    X = np.random.default_rng(0).standard_normal((50, 3))
    X0 = X.copy()
    t = RLSNystroem(n_components=10, random_state=0).fit(X)
    t.transform(X)
    np.testing.assert_array_equal(X, X0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_components": 51}, ValueError, "n_components"),
        ({"n_components": 0}, ValueError, "n_components"),
        ({"ridge": 0.0}, ValueError, "ridge"),
        ({"ridge": -2.0}, ValueError, "ridge"),
        ({"sampling": "leverage"}, ValueError, "sampling"),
        ({"kernel": "gauss"}, ValueError, "kernel"),
        ({"landmarks": np.ones((3, 5))}, ValueError, "landmarks"),
        ({"kernel": lambda x, y: 1.0, "gamma": 1.0}, ValueError, "gamma"),
    ],
)
def test_bad_input(kwargs, exc, match):
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(exc, match=match):
        RLSNystroem(**kwargs).fit(X)


@pytest.mark.parametrize("sampling", ["recursive", "uniform", "rls", "ink"])
@pytest.mark.parametrize(
    "kwargs, scale, exc, match",
    [
        # each was a LAPACK "dsyevd failed to converge", a foreign TypeError or "`K` contains NaN"
        ({"gamma": np.nan}, 1.0, ValueError, "`gamma` must be finite"),
        ({"gamma": -1.0}, 1.0, ValueError, "`gamma` must be >= 0"),
        ({"gamma": "a"}, 1.0, TypeError, "`gamma` must be a real number"),
        ({"kernel_params": {"gamma": 1j}}, 1.0, TypeError, "`gamma` must be a real number"),
        ({"kernel": "poly", "degree": 0.5}, 1.0, ValueError, "`degree` must be >= 1"),
        ({"kernel": "poly", "coef0": np.inf}, 1.0, ValueError, "`coef0` must be finite"),
        ({"kernel": "poly", "degree": 2.5, "coef0": -10.0}, 1.0, ValueError, "kernel 'poly' returned NaN"),
        ({"kernel": lambda x, y: np.nan}, 1.0, ValueError, "returned NaN"),
        ({}, 1e200, ValueError, "`X` is too large for the 'rbf' kernel"),
        ({"kernel": "linear"}, 1e160, ValueError, "`X` is too large for the 'linear' kernel"),
    ],
)
def test_kernel_parameters_and_overflow_rejected(sampling, kwargs, scale, exc, match):
    X = np.random.default_rng(0).standard_normal((30, 3)) * scale
    with pytest.raises(exc, match=match):
        RLSNystroem(n_components=5, sampling=sampling, random_state=0, **kwargs).fit(X)


def test_landmarks_and_transform_input_overflow_rejected():
    X = np.random.default_rng(0).standard_normal((30, 3))
    with pytest.raises(ValueError, match="`landmarks` is too large"):
        RLSNystroem(landmarks=X[:4] * 1e200).fit(X)
    fitted = RLSNystroem(n_components=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="`X` is too large"):
        fitted.transform(X * 1e200)
    with pytest.raises(ValueError, match="`X` is too large"):
        NystroemKRR(n_components=5, random_state=0).fit(X * 1e200, np.ones(30))


def test_nan_in_X():
    X = np.ones((5, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RLSNystroem().fit(X)


def test_sample_without_replacement_is_successive_sampling():
    # exponential keys must give the law of drawing one index at a time and renormalising:
    # P({i, j}) = p_i p_j / (1 - p_i) + p_j p_i / (1 - p_j)
    from itertools import combinations

    from lrla.nystrom.transformer import _sample_without_replacement

    p = np.array([0.5, 0.3, 0.15, 0.05])
    rng = np.random.default_rng(0)
    draws = 20000
    counts = {}
    for _ in range(draws):
        pair = tuple(sorted(_sample_without_replacement(rng, 2.0 * p, 2).tolist()))
        counts[pair] = counts.get(pair, 0) + 1
    for i, j in combinations(range(4), 2):
        exact = p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j])
        freq = counts.get((i, j), 0) / draws
        assert abs(freq - exact) < 5 * np.sqrt(exact * (1 - exact) / draws), (i, j, freq, exact)
    assert sorted(_sample_without_replacement(rng, p, 4).tolist()) == [0, 1, 2, 3]


def test_recursive_sampler_float32_and_other_kernels():
    X, _ = make_clusters_outliers(300, n_outliers=10, random_state=1)
    for kernel, params, Xin in (("rbf", {"gamma": 0.5}, X.astype(np.float32)), ("laplacian", {"gamma": 0.5}, X)):
        est = RLSNystroem(kernel, n_components=40, kernel_params=params, random_state=0).fit(Xin)
        idx = est.component_indices_
        assert idx.shape == (40,) and np.unique(idx).shape == (40,)
        assert est.components_.dtype == Xin.dtype


@pytest.mark.parametrize("kernel, params", [("rbf", {"gamma": 0.5}), ("laplacian", {"gamma": 0.5})])
def test_chunked_quadratic_forms_match_dense(monkeypatch, kernel, params):
    # the recursive sampler's k_i^T M^{-1} k_i, evaluated chunk by chunk, against a dense solve
    from scipy.linalg.lapack import dpotrf

    from lrla.nystrom import transformer
    from lrla.nystrom._kernel import KernelFunction

    X, _ = make_clusters_outliers(257, n_outliers=7, random_state=2)
    k = KernelFunction(kernel, params, X.shape[1])
    rng = np.random.default_rng(0)
    rows = rng.permutation(257)[:200]
    sample = rows[:23]
    sq = np.einsum("ij,ij->i", X, X) if k.is_rbf else None
    Xs = X[sample]
    xs_sq = sq[sample] if k.is_rbf else None
    M = k(Xs, Xs) + np.diag(rng.uniform(0.1, 1.0, 23))
    L, info = dpotrf(M, lower=1, clean=1)
    assert info == 0
    K_sr = k(Xs, X[rows])
    expected = np.einsum("ji,ji->i", K_sr, np.linalg.solve(M, K_sr))
    for chunk_bytes in (8 * 23 * 16, 8 * 23 * 50, 1 << 19):  # 16-column chunks, a ragged last chunk, one chunk
        monkeypatch.setattr(transformer, "_CHUNK_BYTES", chunk_bytes)
        out = transformer._rls_quadratic_forms(k, X, rows, Xs, xs_sq, sq, L, np.full(200, np.nan))
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_ridge_attribute_is_what_the_docstring_says():
    """ridge_: the given ridge; the rule's value for "rls"/"ink"; None for "uniform", landmarks and default "recursive"."""
    X = np.random.default_rng(0).standard_normal((120, 3))
    fit = lambda **kw: RLSNystroem(n_components=20, gamma=0.5, random_state=0, **kw).fit(X)  # noqa: E731
    assert fit(sampling="recursive", ridge=0.3).ridge_ == 0.3
    for sampling in ("rls", "ink"):
        assert fit(sampling=sampling).ridge_ > 0
    assert fit(sampling="recursive").ridge_ is None
    assert fit(sampling="uniform").ridge_ is None
    assert fit(landmarks=X[:5]).ridge_ is None
    assert "None for ``\"uniform\"``" in RLSNystroem.__doc__


def test_landmark_warning_points_at_the_callers_line():
    """The INK 'fewer than n_components' warning names the user's line via fit, fit_transform and NystroemKRR."""
    X = np.random.default_rng(0).standard_normal((150, 2))
    y = np.sin(X[:, 0])
    kw = dict(sampling="ink", n_components=149, ridge=1.0, gamma=0.5, random_state=0)
    for call in (lambda: RLSNystroem(**kw).fit(X), lambda: RLSNystroem(**kw).fit_transform(X),
                 lambda: NystroemKRR(alpha=1.0, **kw).fit(X, y)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        ours = [w for w in caught if "fewer than n_components" in str(w.message)]
        assert len(ours) == 1
        assert ours[0].filename == __file__, ours[0].filename


def test_sparse_input_is_the_documented_difference_from_sklearn():
    """scikit-learn's Nystroem takes scipy.sparse X; RLSNystroem refuses it with a TypeError, and says so."""
    import scipy.sparse as sp

    X = sp.random_array((40, 6), density=0.3, random_state=0, format="csr")
    with pytest.raises(TypeError, match="dense data is required"):
        RLSNystroem(n_components=5, random_state=0).fit(X)
    assert "``X`` must be dense" in RLSNystroem.__doc__ and "no ``n_jobs``" in RLSNystroem.__doc__
