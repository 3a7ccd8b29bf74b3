import numpy as np
import pytest
from scipy import stats

from lrla.recovery import GaussianSensing, RankOneSensing, SensingOperator, _kernels, operators

from .reference import dense_matrices, gaussian_rows


def test_generator_matches_plain_reference():
    # 1e5 draws, n_free not a multiple of the 16 lanes; all three slow-path branches are exercised
    branches = {}
    want = gaussian_rows(12345, 300, 333, branches=branches)
    assert min(branches.values()) >= 5, branches
    got = _kernels.gaussian_rows(12345, 300, 333)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, got.astype(np.float32))  # float32 values


def test_generator_values_depend_on_seed_row_and_entry_only():
    full = _kernels.gaussian_rows(5, 37, 50)
    np.testing.assert_array_equal(_kernels.gaussian_rows(5, 37, 50, 3), full)  # another row blocking
    np.testing.assert_array_equal(_kernels.gaussian_rows(5, 20, 50)[:, :], full[:20])
    np.testing.assert_array_equal(_kernels.gaussian_rows(5, 37, 21), full[:, :21])
    assert not np.array_equal(_kernels.gaussian_rows(6, 37, 50), full)


def _solve_ziggurat(n_layers):
    """(r, v) of an n-layer normal ziggurat by bisection: every layer, the top one included, has area v."""
    from scipy.special import erfc

    def top_gap(r):
        v = r * np.exp(-r * r / 2) + np.sqrt(np.pi / 2) * erfc(r / np.sqrt(2))
        x = r
        for _ in range(1, n_layers - 1):
            a = np.exp(-x * x / 2) + v / x
            if a >= 1.0:
                return -1.0, v
            x = np.sqrt(-2 * np.log(a))
        return x * (1 - np.exp(-x * x / 2)) - v, v

    lo, hi = 2.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if top_gap(mid)[0] < 0 else (lo, mid)
    return lo, top_gap(lo)[1]


def test_ziggurat_tables():
    x, f = _kernels.ZIG_X, _kernels.ZIG_F
    assert x.size == _kernels.ZIG_LAYERS + 1
    assert x[1] == _kernels.ZIG_R and x[-1] == 0.0 and np.all(np.diff(x[1:]) < 0)
    r, v = _solve_ziggurat(_kernels.ZIG_LAYERS)
    np.testing.assert_allclose([r, v], [_kernels.ZIG_R, _kernels.ZIG_V], rtol=1e-12)
    # every layer has the same area v, the top one included (consistency of R and v)
    areas = x[1:-1] * (f[2:] - f[1:-1])
    np.testing.assert_allclose(areas, _kernels.ZIG_V, rtol=1e-9)


def test_fast_path_tables():
    # the packed word of layer j: threshold (low half), float32 half step (high half)
    table = _kernels.ZIG_TABLE
    half_step = (table >> np.uint64(32)).astype(np.uint32).view(np.float32)
    threshold = (table & np.uint64(0xFFFFFFFF)).astype(np.int64)
    np.testing.assert_array_equal(half_step, _kernels.ZIG_HALF_STEP)
    np.testing.assert_array_equal(threshold, _kernels.ZIG_THRESHOLD)
    x, bits = _kernels.ZIG_X, _kernels.ZIG_MAG_BITS
    assert bits == 32 - 1 - int(np.log2(_kernels.ZIG_LAYERS))
    width = half_step.astype(np.float64) * 2.0 ** (bits + 1)  # exact
    # each box is the layer's width rounded up to a float32: never narrower, at most one float32 step wider
    assert np.all(width >= x[:-1]) and np.all(width <= x[:-1] * (1 + 2.0**-23))
    # exact rational check of the acceptance rule: (m + 1/2) w / 2^bits < X[j+1] exactly for m < threshold
    from fractions import Fraction

    for j in range(_kernels.ZIG_LAYERS):
        w, edge, t = Fraction(float(width[j])), Fraction(float(x[j + 1])) * 2**bits, int(threshold[j])
        assert (t - Fraction(1, 2)) * w < edge or t == 0, j
        assert (t + Fraction(1, 2)) * w >= edge, j


_TAIL_POINTS = (1.0, 2.0, 3.0, 4.0, 4.3, 4.6)


def _normal_law_defects(z):
    """Which checks of 'i.i.d. standard normal' the sample z (rows x entries) fails, at about 5 sigma."""
    flat = z.ravel()
    n = flat.size
    defects = []
    if stats.kstest(flat, "norm").pvalue < 1e-4:
        defects.append("ks")
    for name, value, se in [
        ("mean", flat.mean(), 1.0),
        ("variance", flat.var() - 1.0, np.sqrt(2.0)),
        ("skewness", stats.skew(flat), np.sqrt(6.0)),
        ("excess kurtosis", stats.kurtosis(flat), np.sqrt(24.0)),
    ]:
        if abs(value) > 5 * se / np.sqrt(n):
            defects.append(name)
    # tails: the base strip ends at X[0] = 4.28, the rest comes from the tail algorithm
    for t in _TAIL_POINTS:
        p = 2 * stats.norm.sf(t)
        if abs(np.sum(np.abs(flat) > t) - n * p) > 5 * np.sqrt(n * p * (1 - p)):
            defects.append(f"tail {t}")
    # mass of every ziggurat band [X[j+1], X[j]) of |z| (a wrong layer or wedge would show)
    edges = np.concatenate([_kernels.ZIG_X[:0:-1], [np.inf]])
    counts = np.histogram(np.abs(flat), bins=edges)[0]
    expected = n * 2 * np.diff(stats.norm.cdf(edges))
    if stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue < 1e-4:
        defects.append("layers")
    # independence: neighbouring entries (the two halves of one output, or neighbouring lanes), the same
    # half of the same lane's next output (lag 32), the same entry of consecutive rows; values and squares
    bound = 5 / np.sqrt(z[:, :-32].size)
    for name, a, b in [("lag 1", z[:, :-1], z[:, 1:]), ("lag 32", z[:, :-32], z[:, 32:]),
                       ("rows", z[:-1], z[1:])]:
        if abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) > bound:
            defects.append(name)
        if abs(np.corrcoef(a.ravel() ** 2, b.ravel() ** 2)[0, 1]) > bound:
            defects.append(name + " squares")
    return defects


def test_generator_is_standard_normal():
    # 2e6 draws: KS, four moments, tail frequencies, ziggurat band masses, correlations
    assert _normal_law_defects(_kernels.gaussian_rows(7, 1000, 2001)) == []


def test_normal_law_checks_have_teeth():
    # the fast path alone (rejected candidates kept) has no Gaussian tail beyond the base strip (4e6 draws)
    assert "tail 4.3" in _normal_law_defects(gaussian_rows(7, 2000, 2001, slow_path=False))
    z = _kernels.gaussian_rows(7, 400, 2001)
    assert "lag 1" in _normal_law_defects(z + 0.02 * np.roll(z, 1, axis=1))
    assert "layers" in _normal_law_defects(np.where((np.abs(z) > 1) & (np.abs(z) < 2), 0.99 * z, z))


@pytest.mark.parametrize("symmetric", [True, False])
def test_gaussian_dense_equals_matrix_free(symmetric):
    dense = GaussianSensing(6, 40, symmetric=symmetric, random_state=1)
    free = GaussianSensing(6, 40, symmetric=symmetric, matrix_free=True, random_state=1)
    rng = np.random.default_rng(0)
    X, z = rng.standard_normal((6, 6)), rng.standard_normal(40)
    np.testing.assert_allclose(free(X), dense(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(free.adjoint(z), dense.adjoint(z), rtol=1e-12, atol=1e-12)
    L, R, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)), rng.standard_normal(40)
    for a, b in zip(free._sign_step(L, R, y), dense._sign_step(L, R, y)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # the magnitudes of the residuals the adaptive schedule reads, against the plain forward product
    free_res, dense_res = np.empty(40), np.empty(40)
    free._sign_step(L, R, y, free_res)
    dense._sign_step(L, R, y, dense_res)
    np.testing.assert_allclose(free_res, np.abs(dense(L @ R.T) - y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dense_res, np.abs(dense(L @ R.T) - y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianSensing(5, 30, random_state=0),
        lambda: GaussianSensing((4, 6), 30, symmetric=False, random_state=0),
        lambda: GaussianSensing(5, 30, matrix_free=True, random_state=0),
        lambda: RankOneSensing((4, 6), 30, random_state=0),
        lambda: RankOneSensing(5, 30, symmetric=True, random_state=0),
        lambda: SensingOperator(np.random.default_rng(0).standard_normal((30, 4, 3))),
    ],
)
def test_adjoint_identity_and_factored_products(make):
    op = make()
    rng = np.random.default_rng(1)
    X, z = rng.standard_normal(op.shape), rng.standard_normal(op.n_measurements)
    assert np.isclose(op(X) @ z, np.sum(X * op.adjoint(z)), rtol=1e-10)
    mats = dense_matrices(op)
    np.testing.assert_allclose(op.adjoint(z), np.einsum("i,ijk->jk", z, mats), rtol=1e-10, atol=1e-10)
    L, R = rng.standard_normal((op.shape[0], 3)), rng.standard_normal((op.shape[1], 3))
    np.testing.assert_allclose(op._forward_factored(L, R), op(L @ R.T), rtol=1e-10, atol=1e-10)
    G = op.adjoint(z)
    for a, b in zip(op._adjoint_products(z, L, R), (G @ R, G.T @ L)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    C = rng.standard_normal((op.n_measurements, 4))  # several columns in one pass (the noise probes)
    want = np.einsum("iq,ijk->qjk", C, mats)
    np.testing.assert_allclose(op._adjoint_many(C), want, rtol=1e-10, atol=1e-10)


def test_matrix_free_adjoint_many_blocks_and_chunks():
    # more entries than one 512-entry block, rows not divisible by the chunks, a column of zeros
    op = GaussianSensing(40, 37, matrix_free=True, random_state=3)
    C = np.random.default_rng(2).standard_normal((37, 3))
    C[:, 1] = 0.0
    want = np.einsum("iq,ik->qk", C, _kernels.gaussian_rows(op.seed, 37, op.n_free))
    for n_chunks in (1, 4, 5):
        got = _kernels.matrix_free_adjoint_many(op.seed, 37, C, op.n_free, n_chunks)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not got[1].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(37, 50), (9, 1100)])  # rows not a multiple of 4; n_free over two blocks
def test_dense_kernels_match_numpy(dtype, shape, monkeypatch):
    rng = np.random.default_rng(4)
    Z = rng.standard_normal(shape).astype(dtype)
    Z[2] = 0.0  # with y[2] = 0 an exactly zero residual, whose sign 0 adds nothing
    Z64 = Z.astype(np.float64)
    w = rng.standard_normal(shape[1])
    C = rng.standard_normal((shape[0], 3))
    C[:, 1] = 0.0
    np.testing.assert_allclose(_kernels.dense_forward(Z, w), Z64 @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_kernels.dense_adjoint(Z, C[:, 0]), Z64.T @ C[:, 0], rtol=1e-12, atol=1e-12)
    for block in (1 << 20, 3 * shape[1]):  # one block; blocks of 3 rows (the last one short)
        monkeypatch.setattr(operators, "_CONVERT_ENTRIES", block)
        got = operators._dense_adjoint_many(Z, C)
        np.testing.assert_allclose(got, C.T @ Z64, rtol=1e-12, atol=1e-12)
        assert not got[1].any()
    y = Z64 @ w + rng.standard_normal(shape[0])
    y[2] = 0.0
    g = np.empty(shape[1])
    abs_res = np.empty(shape[0])
    loss = _kernels._signed_row_pass(Z, y, w, g, abs_res)
    res = _kernels.dense_forward(Z, w) - y
    assert res[2] == 0.0
    np.testing.assert_allclose(g, Z64.T @ np.sign(res), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(abs_res, np.abs(Z64 @ w - y), rtol=1e-12, atol=1e-12)
    assert np.isclose(loss, np.abs(res).sum(), rtol=1e-12)


def test_dense_rows_are_exact_float32():
    op = GaussianSensing(6, 30, random_state=1)
    assert op._flat.dtype == np.float32
    np.testing.assert_array_equal(op._flat, _kernels.gaussian_rows(op.seed, 30, op.n_free))
    # the stored values are the matrix-free operator's: same products to rounding
    free = GaussianSensing(6, 30, matrix_free=True, random_state=1)
    X = np.random.default_rng(0).standard_normal((6, 6))
    np.testing.assert_allclose(op(X), free(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_dense_sign_step_matches_numpy(symmetric):
    shape = (7, 7) if symmetric else (5, 8)
    op = GaussianSensing(shape[0] if symmetric else shape, 41, symmetric=symmetric, random_state=2)
    rng = np.random.default_rng(3)
    L, R = rng.standard_normal((shape[0], 2)), rng.standard_normal((shape[1], 2))
    if symmetric:
        R = L
    y = op(L @ R.T) + rng.standard_normal(41)
    mats = dense_matrices(op)
    res = np.einsum("ijk,jk->i", mats, L @ R.T) - y
    S = np.einsum("i,ijk->jk", np.sign(res), mats) / 41
    GR, GtL, loss = op._sign_step(L, R, y)
    np.testing.assert_allclose(GR, S @ R, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(GtL, S.T @ L, rtol=1e-10, atol=1e-12)
    assert np.isclose(loss, np.abs(res).mean(), rtol=1e-10)


def test_symmetric_gaussian_law():
    # A_i = (G + G^T)/2: unit-variance diagonal, variance-1/2 off-diagonal
    mats = dense_matrices(GaussianSensing(4, 4000, random_state=0))
    np.testing.assert_array_equal(mats, mats.transpose(0, 2, 1))
    assert abs(mats[:, 0, 0].var() - 1.0) < 0.1
    assert abs(mats[:, 0, 1].var() - 0.5) < 0.05


def test_callable_operator_matches_matrices():
    mats = np.random.default_rng(0).standard_normal((20, 3, 3))
    op = SensingOperator(
        forward=lambda X: np.einsum("ijk,jk->i", mats, X),
        adjoint=lambda z: np.einsum("i,ijk->jk", z, mats),
        shape=(3, 3),
        n_measurements=20,
    )
    X = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(op(X), SensingOperator(mats)(X))


def test_same_seed_same_operator_and_inputs_untouched():
    X = np.random.default_rng(0).standard_normal((5, 5))
    X0 = X.copy()
    a = GaussianSensing(5, 20, random_state=3)(X)
    b = GaussianSensing(5, 20, random_state=3)(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, X0)
    assert not np.array_equal(a, GaussianSensing(5, 20, random_state=4)(X))


def test_bad_operator_input():
    op = GaussianSensing(4, 10, random_state=0)
    with pytest.raises(ValueError, match="X"):
        op(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        op(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="n_measurements"):
        op.adjoint(np.zeros(9))
    with pytest.raises(ValueError, match="dim"):
        GaussianSensing(0, 10)
    with pytest.raises(ValueError, match="square"):
        GaussianSensing((3, 4), 10)
    with pytest.raises(ValueError, match="n_measurements"):
        RankOneSensing(3, 0)
    with pytest.raises(TypeError, match="matrix_free"):
        GaussianSensing(3, 5, matrix_free="yes")
    with pytest.raises(ValueError, match="matrices"):
        SensingOperator(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="callables"):
        SensingOperator(forward=1, adjoint=2, shape=(2, 2), n_measurements=3)
    bad = SensingOperator(forward=lambda X: np.zeros(2), adjoint=lambda z: np.zeros((2, 2)),
                          shape=(2, 2), n_measurements=3)
    with pytest.raises(ValueError, match="forward"):
        bad(np.eye(2))
    # callables returning complex or non-finite values: named, not truncated or passed on
    for value, exc in [(1j, TypeError), (np.nan, ValueError), (np.inf, ValueError)]:
        bad = SensingOperator(forward=lambda X, v=value: np.full(3, v), adjoint=lambda z, v=value: np.full((2, 2), v),
                              shape=(2, 2), n_measurements=3)
        with pytest.raises(exc, match="forward"):
            bad(np.eye(2))
        with pytest.raises(exc, match="adjoint"):
            bad.adjoint(np.ones(3))


def test_dense_operator_too_large_says_so(monkeypatch):
    def fail(*args):
        raise MemoryError("Allocation failed (probably too large).")

    monkeypatch.setattr(_kernels, "gaussian_rows", fail)
    with pytest.raises(MemoryError, match="matrix_free=True"):
        GaussianSensing(3000, 10**5, random_state=0)


def test_memory_matrix_free_is_constant():
    assert GaussianSensing(50, 1000, matrix_free=True, random_state=0).memory_bytes == 0
    assert GaussianSensing(10, 100, random_state=0).memory_bytes == 100 * 55 * 4  # float32 rows


def test_fast_path_block_at_the_acceptance_boundary():
    # every layer, both signs, the largest accepted magnitude (T - 1) and the smallest rejected one (T):
    # values, zeros for rejects, reject-mask bits and the dot product of the vector-IR block
    from numba import njit

    @njit
    def run(words, buf, w, n_blocks):
        rejected = np.zeros(n_blocks, dtype=np.uint64)
        acc = _kernels._ziggurat_fast(n_blocks, words, buf, rejected, w)
        return acc, rejected

    layers = np.arange(_kernels.ZIG_LAYERS, dtype=np.uint32)
    threshold = _kernels.ZIG_THRESHOLD.astype(np.int64)
    words, want_ok = [], []
    for m_of, ok in ((np.maximum(threshold - 1, 0), threshold > 0), (threshold, np.ones_like(threshold, bool))):
        for sign in (0, 1):
            words.append(layers | np.uint32(sign << 10) | (m_of.astype(np.uint32) << np.uint32(11)))
            want_ok.append(ok if m_of is not threshold else np.zeros_like(ok))
    words, want_ok = np.concatenate(words), np.concatenate(want_ok)
    layer, magnitude = (words & 1023).astype(np.intp), words >> np.uint32(11)
    value = (2 * magnitude + 1).astype(np.float32) * _kernels.ZIG_HALF_STEP[layer]
    value = np.where(words & np.uint32(1024), -value, value)
    want = np.where(want_ok, value, np.float32(0.0))
    w = np.random.default_rng(0).standard_normal(words.size)
    buf = np.empty(words.size, dtype=np.float32)
    acc, rejected = run(words, buf, w, words.size // 64)
    np.testing.assert_array_equal(buf, want)
    bits = np.unpackbits(rejected.view(np.uint8), bitorder="little").astype(bool)
    np.testing.assert_array_equal(bits, ~want_ok)
    np.testing.assert_allclose(acc, want.astype(np.float64) @ w, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 600, 1001])
def test_select_inplace_matches_partition(n):
    rng = np.random.default_rng(n)
    for data in (rng.random(n), rng.integers(0, 4, n).astype(float), np.sort(rng.random(n)),
                 np.sort(rng.random(n))[::-1].copy(), np.zeros(n)):
        for k in {0, n // 10, n // 2, n - 1}:
            a = data.copy()
            assert _kernels.select_inplace(a, k) == np.partition(data, k)[k]
            np.testing.assert_array_equal(np.sort(a), np.sort(data))  # a permutation of the input
