"""Plain-numpy references of the recovery kernels (used by the tests only)."""

import numpy as np

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x):
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def gaussian_rows(seed, n_rows, n_free):
    """Row i, entries 2k and 2k+1: Box-Muller of the hash of counter i * n_pairs + k."""
    n_pairs = (n_free + 1) // 2
    counters = (np.arange(n_rows, dtype=np.uint64)[:, None] * np.uint64(n_pairs)
                + np.arange(n_pairs, dtype=np.uint64)[None, :])
    h = splitmix64(np.uint64(seed) ^ splitmix64(counters))
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 1.0) / 4294967296.0
    u2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) / 4294967296.0
    radius = np.sqrt(-2.0 * np.log(u1))
    z = np.empty((n_rows, 2 * n_pairs))
    z[:, 0::2] = radius * np.cos(2 * np.pi * u2)
    z[:, 1::2] = radius * np.sin(2 * np.pi * u2)
    return z[:, :n_free]


def dense_matrices(op):
    """The measurement matrices A_i of an operator as an (m, d1, d2) array, by probing with unit vectors."""
    d1, d2 = op.shape
    mats = np.empty((op.n_measurements, d1, d2))
    for j in range(d1):
        for k in range(d2):
            E = np.zeros((d1, d2))
            E[j, k] = 1.0
            mats[:, j, k] = op(E)
    return mats


def subgm_numpy(A_mat, y, U0, eta0, rho, n_iter):
    """The digest's reference SubGM loop (A_mat of shape (m, d*d))."""
    m = A_mat.shape[0]
    d = U0.shape[0]
    U = U0.copy()
    for t in range(n_iter):
        res = A_mat @ (U @ U.T).ravel() - y
        G = (A_mat.T @ np.sign(res)).reshape(d, d) / m
        U = U - eta0 * rho**t * ((G + G.T) @ U)
    return U
