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


N_LANES = 16
_LAYERS = 1024


def _uniform53(v):
    return (v >> 11) * 2.0**-53


def _slow(h, i, x, zx, zf, r, branches):
    """The ziggurat's slow path from the draw's 64 bits ``h`` (Python ints for the 64-bit arithmetic)."""
    while True:
        if i == 0:
            branches["tail"] += 1
            negative = x < 0.0
            while True:
                h = _splitmix64_int(h)
                t = -np.log(1.0 - _uniform53(h)) / r
                h = _splitmix64_int(h)
                e = -np.log(1.0 - _uniform53(h))
                if e + e >= t * t:
                    return -(r + t) if negative else r + t
        h = _splitmix64_int(h)
        if zf[i + 1] + (zf[i] - zf[i + 1]) * _uniform53(h) < np.exp(-0.5 * x * x):
            branches["wedge"] += 1
            return x
        branches["redraw"] += 1
        h = _splitmix64_int(h)
        i = h & (_LAYERS - 1)
        x = (2.0 * _uniform53(h) - 1.0) * zx[i]
        if abs(x) < zx[i + 1]:
            return x


def xoshiro_lanes(seed, n_rows, n_steps):
    """Outputs (n_rows, n_steps * N_LANES) of each row's N_LANES xoshiro256++ streams (Blackman & Vigna).

    Row i's lane j starts from SplitMix64 outputs 4 j .. 4 j + 3 of the key
    hash(seed, i); column 16 t + j is output t of lane j.
    """
    s = np.empty((4, n_rows, N_LANES), dtype=np.uint64)
    for i in range(n_rows):
        key = _splitmix64_int(seed ^ _splitmix64_int(i))
        for j in range(N_LANES):
            for q in range(4):
                s[q, i, j] = _splitmix64_int((key + (4 * j + q) * 0x9E3779B97F4A7C15) & _MASK)

    def rotl(x, k):
        return (x << np.uint64(k)) | (x >> np.uint64(64 - k))

    out = np.empty((n_rows, n_steps, N_LANES), dtype=np.uint64)
    s0, s1, s2, s3 = s
    with np.errstate(over="ignore"):
        for t in range(n_steps):
            out[:, t] = rotl(s0 + s3, 23) + s0
            shifted = s1 << np.uint64(17)
            s2 = s2 ^ s0
            s3 = s3 ^ s1
            s1 = s1 ^ s2
            s0 = s0 ^ s3
            s2 = s2 ^ shifted
            s3 = rotl(s3, 45)
    return out.reshape(n_rows, -1)


def gaussian_rows(seed, n_rows, n_free, *, slow_path=True, branches=None):
    """Entry (i, k): 1024-layer ziggurat draw from 32-bit word k of row i's interleaved xoshiro256++ outputs.

    Word k is the low (k even) or high (k odd) half of 64-bit output k // 2 of
    the row (``xoshiro_lanes``). Fast path: bits 0-9 pick the layer j, bit 10 is
    the sign, bits 11-31 the magnitude m; the candidate is float32(2 m + 1) times
    the float32 half step of layer j, accepted when m < threshold[j]. ``slow_path=False``
    keeps the rejected candidates instead (a wrong generator, for tests' teeth);
    ``branches`` (a dict) counts the slow-path branches taken. Values are float32
    numbers returned as float64.
    """
    from lrla.recovery._kernels import ZIG_F, ZIG_HALF_STEP, ZIG_R, ZIG_THRESHOLD, ZIG_X

    branches = {"tail": 0, "wedge": 0, "redraw": 0} if branches is None else branches
    for name in ("tail", "wedge", "redraw"):
        branches.setdefault(name, 0)
    raw = xoshiro_lanes(seed, n_rows, -(-n_free // (2 * N_LANES)))
    low = (raw & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    high = (raw >> np.uint64(32)).astype(np.uint32)
    words = np.stack([low, high], axis=-1).reshape(n_rows, -1)[:, :n_free]  # low half first
    layer = (words & np.uint32(_LAYERS - 1)).astype(np.intp)
    magnitude = words >> np.uint32(11)
    candidate = ((2 * magnitude + 1).astype(np.float32) * ZIG_HALF_STEP[layer]).astype(np.float64)
    candidate = np.where(words & np.uint32(_LAYERS), -candidate, candidate)
    out = candidate.copy()
    if slow_path:
        for i, k in zip(*np.nonzero(magnitude >= ZIG_THRESHOLD[layer])):
            h = int(raw[i, k // 2])
            if k % 2:
                h = ((h << 32) | (h >> 32)) & _MASK
            value = _slow(h, int(layer[i, k]), candidate[i, k], ZIG_X, ZIG_F, ZIG_R, branches)
            out[i, k] = np.float32(value)
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
