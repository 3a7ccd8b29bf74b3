import numpy as np
import pytest

from lrla.datasets import load_digits_features, make_clusters_outliers, stream_order


def test_clusters_outliers_shape_and_seed():
    X, out = make_clusters_outliers(100, n_outliers=7, random_state=0)
    assert X.shape == (100, 3) and out.sum() == 7
    X2, _ = make_clusters_outliers(100, n_outliers=7, random_state=0)
    np.testing.assert_array_equal(X, X2)


def test_stream_orders():
    out = np.zeros(10, bool)
    out[[2, 5]] = True
    p = stream_order(10, "adversarial", last=out, random_state=0)
    assert sorted(p) == list(range(10)) and set(p[-2:]) == {2, 5}
    assert list(stream_order(4, "given")) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="last"):
        stream_order(10, "adversarial")
    with pytest.raises(ValueError, match="order"):
        stream_order(10, "sorted")


def test_digits():
    X, y = load_digits_features(100)
    assert X.shape == (100, 64) and X.max() <= 1.0 and y.shape == (100,)
