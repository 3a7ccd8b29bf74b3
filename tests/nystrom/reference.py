"""Plain-numpy references shared by the nystrom tests."""

import numpy as np


def rbf_gram(X, gamma=0.5):
    """exp(-gamma ||x_i - x_j||^2) by broadcasting: independent of scikit-learn's and lrla's kernels."""
    return np.exp(-gamma * ((X[:, None] - X[None]) ** 2).sum(-1))
