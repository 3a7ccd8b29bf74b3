import numpy as np
import pytest

from lrla.streaming import _kernels

from . import reference


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("accumulate", [True, False])
def test_random_order_pass_matches_reference(dtype, accumulate):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 9)).astype(dtype)
    X[[5, 77, 200]] *= 30.0  # heavy rows
    X[10] = 0.0
    Z = np.linalg.qr(rng.standard_normal((9, 2)))[0]
    out = []
    for impl in (_kernels.random_order_pass, reference.random_order_pass):
        state, Y, heavy = np.zeros(3), np.zeros((9, 2)), np.zeros(300, dtype=bool)
        impl(X, 0, 3000.0, 1 / (9 * 3.0), state, Z, Y, heavy, accumulate)
        out.append((state, Y, heavy))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=tol)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=tol, atol=tol)
    np.testing.assert_array_equal(out[0][2], out[1][2])
    assert out[0][2][[5, 77, 200]].all() and out[0][2].sum() == 3
    if not accumulate:
        assert not out[0][1].any()


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("decay", [0.0, 50.0])
def test_oja_pass_matches_reference(decay, sparse):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 7))
    if sparse:  # mostly one or two non-zeros per row: the gathered path of the kernel
        X *= rng.random((200, 7)) < 0.2
    X[3] = 0.0
    rates = np.array([0.01, 0.3, 5.0, 1e4])
    z0 = rng.standard_normal(7)
    z0 /= np.linalg.norm(z0)
    Z = np.repeat(z0[:, None], 4, axis=1)
    lg_ref, en_ref = np.zeros(4), np.zeros(4)
    reference.oja_pass(X, 10, rates, decay, Z, lg_ref, en_ref)
    W, scale, lg, en = np.repeat(z0[None, :], 4, axis=0), np.ones(4), np.zeros(4), np.zeros(4)
    _kernels.oja_pass(X, 10, rates, decay, W, scale, lg, en, np.empty(7, dtype=np.int64))
    np.testing.assert_allclose((W / np.linalg.norm(W, axis=1, keepdims=True)).T, Z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lg, lg_ref, rtol=1e-10)
    np.testing.assert_allclose(en, en_ref, rtol=1e-10)
    # scale keeps z = scale * W a unit vector (up to rounding), and W stays finite at a rate of 1e4
    np.testing.assert_allclose(scale * np.linalg.norm(W, axis=1), 1.0, rtol=1e-9)
    assert np.isfinite(W).all()
