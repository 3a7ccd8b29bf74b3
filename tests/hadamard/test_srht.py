import numpy as np
import pytest
from sklearn.random_projection import GaussianRandomProjection
from sklearn.utils.estimator_checks import parametrize_with_checks

from lrla import SRHT, srht


def test_shape_dtype_and_reproducibility(dtype):
    A = np.random.default_rng(0).standard_normal((100, 7)).astype(dtype)
    SA = srht(A, 40, random_state=3)
    assert SA.shape == (40, 7) and SA.dtype == A.dtype
    np.testing.assert_array_equal(SA, srht(A, 40, random_state=3))


def test_full_sketch_is_an_isometry():
    # m = n' keeps every mixed row: S is orthogonal, so (SA)^T SA = A^T A exactly.
    A = np.random.default_rng(1).standard_normal((64, 5))
    SA = srht(A, 64, random_state=0)
    np.testing.assert_allclose(SA.T @ SA, A.T @ A, atol=1e-12)


def test_gram_is_unbiased():
    A = np.random.default_rng(2).standard_normal((50, 4))
    grams = [srht(A, 16, random_state=s) for s in range(3000)]
    mean_gram = np.mean([G.T @ G for G in grams], axis=0)
    np.testing.assert_allclose(mean_gram, A.T @ A, rtol=0, atol=0.05 * np.abs(A.T @ A).max())


def test_embeds_a_coherent_subspace():
    n, k = 2048, 5
    U = np.zeros((n, k))
    U[np.arange(k), np.arange(k)] = 1.0
    s = np.linalg.svd(srht(U, 512, random_state=0), compute_uv=False)
    assert np.all(np.abs(s - 1) < 0.5)


def test_input_not_modified():
    A = np.random.default_rng(3).standard_normal((30, 3))
    A0 = A.copy()
    srht(A, 10, random_state=0)
    np.testing.assert_array_equal(A, A0)


@pytest.mark.parametrize(
    "A, m, exc, match",
    [
        (np.ones((10, 3)), 0, ValueError, "sketch_size"),
        (np.ones((10, 3)), 17, ValueError, "sketch_size"),
        (np.ones((10, 3)), 2.0, TypeError, "sketch_size"),
        (np.ones(10), 2, ValueError, "2-dimensional"),
        (np.ones((0, 3)), 1, ValueError, "empty"),
        (np.array([[1.0, np.nan]]), 1, ValueError, "NaN"),
    ],
)
def test_srht_bad_input(A, m, exc, match):
    with pytest.raises(exc, match=match):
        srht(A, m)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 2.0**1019), (np.float32, 2.0**123)])
def test_overflowing_partial_sums_with_representable_sketch(dtype, scale):
    # The sketch's entries are representable (|S A| <= ~16 scale here) but the unnormalised partial sums
    # are not (they reach ~n' scale): inf entries were returned, then (an earlier fix) a ValueError; the
    # sketch is now computed. ``scale`` is a power of two, so the exact answer is the sketch of A times it.
    A = np.random.default_rng(0).standard_normal((1000, 5)).astype(dtype)
    expected = srht(A, 100, random_state=0).astype(np.float64) * scale
    assert np.abs(expected).max() < np.finfo(dtype).max
    np.testing.assert_array_equal(srht(A * dtype(scale), 100, random_state=0), expected.astype(dtype))
    X = A.T.copy()
    model = SRHT(100, random_state=0).fit(X)
    expected = model.transform(X).astype(np.float64) * scale
    np.testing.assert_array_equal(model.transform(X * dtype(scale)), expected.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sketch_that_does_not_fit_raises_naming_the_input(dtype):
    A = np.random.default_rng(0).standard_normal((1000, 5))
    big = np.full((1000, 5), np.finfo(dtype).max / 4, dtype)  # sketch entries ~ sqrt(1000) (max / 4) N(0, 1) / 10
    with pytest.raises(ValueError, match="`A` is too large"):
        srht(big, 100, random_state=0)
    model = SRHT(100, random_state=0).fit(A.T)
    with pytest.raises(ValueError, match="`X` is too large"):
        model.transform(big.T.copy())


def test_transformer_norms_and_peer_parity():
    X = np.random.default_rng(4).standard_normal((200, 1000))
    Z = SRHT(512, random_state=0).fit_transform(X)
    G = GaussianRandomProjection(512, random_state=0).fit_transform(X)
    err_srht = np.abs(np.linalg.norm(Z, axis=1) / np.linalg.norm(X, axis=1) - 1).max()
    err_gauss = np.abs(np.linalg.norm(G, axis=1) / np.linalg.norm(X, axis=1) - 1).max()
    assert err_srht < 0.2 and err_gauss < 0.2


def test_transformer_is_fixed_and_preserves_dtype(dtype):
    X = np.random.default_rng(5).standard_normal((10, 20)).astype(dtype)
    est = SRHT(8, random_state=0).fit(X)
    Z = est.transform(X)
    assert Z.dtype == X.dtype and Z.shape == (10, 8)
    np.testing.assert_array_equal(Z, est.transform(X))
    assert list(est.get_feature_names_out()) == [f"srht{i}" for i in range(8)]


def test_transformer_bad_input():
    with pytest.raises(ValueError, match="n_components"):
        SRHT(64).fit(np.ones((3, 20)))
    with pytest.raises(ValueError, match="n_components"):
        SRHT(0).fit(np.ones((3, 20)))
    est = SRHT(4).fit(np.ones((3, 20)))
    with pytest.raises(ValueError, match="features"):
        est.transform(np.ones((3, 21)))


@parametrize_with_checks([SRHT(n_components=1, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_transformer_methods_are_documented():
    """help(SRHT.fit) / help(SRHT.transform) show their parameters and what they return."""
    for method in (SRHT.fit, SRHT.transform):
        assert method.__doc__ and "Parameters" in method.__doc__ and "Returns" in method.__doc__
    Z = SRHT(4, random_state=0).fit_transform(np.arange(24).reshape(3, 8))  # integers become float64
    assert Z.dtype == np.float64 and Z.shape == (3, 4)


def test_differences_from_gaussian_random_projection_are_documented():
    """A user swapping GaussianRandomProjection for SRHT hits these; the docstring lists them."""
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="dense data is required"):
        SRHT(4, random_state=0).fit(sp.random_array((10, 8), density=0.5, random_state=0, format="csr"))
    assert not hasattr(SRHT, "inverse_transform")
    assert "``X`` must be\n    dense" in SRHT.__doc__ and "no ``inverse_transform``" in SRHT.__doc__


def test_auto_components_follow_the_gaussian_jl_rule_and_meet_eps():
    from sklearn.metrics import pairwise_distances
    from sklearn.random_projection import johnson_lindenstrauss_min_dim

    rng = np.random.default_rng(0)
    gauss = rng.standard_normal((100, 4096))
    one_hot = np.eye(4096)[rng.choice(4096, 100, replace=False)]  # sparse rows
    for X in (gauss, one_hot):
        est = SRHT(eps=0.3, random_state=0).fit(X)
        assert est.n_components_ == johnson_lindenstrauss_min_dim(100, eps=0.3) == 511
        iu = np.triu_indices(100, 1)
        ratio = pairwise_distances(est.transform(X), squared=True)[iu] / pairwise_distances(X, squared=True)[iu]
        assert np.abs(ratio - 1).max() < 0.3  # measured 0.22 (Gaussian rows) and 0.14 (one-hot)
    assert SRHT(7).fit(gauss).n_components_ == 7  # an integer is used as given; eps is ignored
    assert SRHT().get_params()["n_components"] == "auto" and SRHT().eps == 0.1


def test_auto_components_bad_input():
    with pytest.raises(ValueError, match="n_components='auto' with eps=0.1 and n_samples=100 gives"):
        SRHT(random_state=0).fit(np.ones((100, 1000)))  # 3947 > 1024
    for eps in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="eps"):
            SRHT(eps=eps).fit(np.ones((10, 4096)))
    with pytest.raises(ValueError, match="n_components"):
        SRHT("automatic").fit(np.ones((10, 4096)))
