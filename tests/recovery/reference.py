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


_MASK = (1 << 64) - 1


def _splitmix64_int(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _normal(h, zx, zf, r):
    """One ziggurat draw from hash ``h``, written plainly (Python ints for the 64-bit arithmetic)."""
    def u53(v):
        return (v >> 11) * 2.0**-53

    i = h & 127
    x = (2.0 * u53(h) - 1.0) * zx[i]
    while True:
        if abs(x) < zx[i + 1]:
            return x
        if i == 0:
            negative = x < 0.0
            while True:
                h = _splitmix64_int(h)
                t = -np.log(1.0 - u53(h)) / r
                h = _splitmix64_int(h)
                e = -np.log(1.0 - u53(h))
                if e + e >= t * t:
                    return -(r + t) if negative else r + t
        h = _splitmix64_int(h)
        if zf[i + 1] + (zf[i] - zf[i + 1]) * u53(h) < np.exp(-0.5 * x * x):
            return x
        h = _splitmix64_int(h)
        i = h & 127
        x = (2.0 * u53(h) - 1.0) * zx[i]


def gaussian_rows(seed, n_rows, n_free):
    """Entry (i, k): ziggurat normal from the k-th SplitMix64 output keyed by hash(seed, i)."""
    from lrla.recovery._kernels import ZIG_F, ZIG_R, ZIG_X

    out = np.empty((n_rows, n_free))
    for i in range(n_rows):
        for k in range(n_free):
            key = _splitmix64_int(seed ^ _splitmix64_int(i))
            h = _splitmix64_int((key + k * 0x9E3779B97F4A7C15) & _MASK)
            out[i, k] = _normal(h, ZIG_X, ZIG_F, ZIG_R)
    return out


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
