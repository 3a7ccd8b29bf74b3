import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from lrla.nystrom import NystroemKRR


def test_all_points_as_landmarks_equals_kernel_ridge():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (60, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(60)
    ours = NystroemKRR(alpha=0.3, gamma=0.7, landmarks=X).fit(X, y)
    ref = KernelRidge(alpha=0.3, kernel="rbf", gamma=0.7).fit(X, y)
    Xt = rng.uniform(-2, 2, (20, 2))
    np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), atol=1e-6)


def test_multi_output_and_seed():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 3))
    Y = np.c_[X[:, 0], X[:, 1] ** 2]
    a = NystroemKRR(alpha=0.1, n_components=30, random_state=0).fit(X, Y)
    b = NystroemKRR(alpha=0.1, n_components=30, random_state=0).fit(X, Y)
    assert a.predict(X).shape == (80, 2)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.inf])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        NystroemKRR(alpha=alpha).fit(np.ones((5, 2)), np.ones(5))


def test_nan_in_y():
    y = np.ones(5)
    y[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NystroemKRR().fit(np.random.default_rng(0).standard_normal((5, 2)), y)


def test_fit_and_predict_are_documented_and_keep_the_dtype_of_X():
    """help(NystroemKRR.fit) / help(NystroemKRR.predict) show their parameters; the dtype they promise holds."""
    for method in (NystroemKRR.fit, NystroemKRR.predict):
        assert method.__doc__ and "Parameters" in method.__doc__ and "Returns" in method.__doc__
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2)).astype(np.float32)
    y = np.sin(X[:, 0]).astype(np.float64)
    model = NystroemKRR(n_components=10, random_state=0).fit(X, y)
    assert model.coef_.dtype == np.float32 and model.predict(X).dtype == np.float32
