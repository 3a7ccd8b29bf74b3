"""The chunked heavy-tilt stream (full mode of streaming.kw-lower-bound): same law as the dense one."""

import numpy as np
import pytest
from scipy import stats

from lrla import RandomOrderTopEigenvector
from lrla.datasets import make_heavy_tilt_stream, stream_heavy_tilt_stream
from validation.streaming import _kept_rows_floor, _kw_lb_stream


@pytest.mark.parametrize("chunk_rows", [1, 7, 10_000])
def test_chunks_do_not_depend_on_chunk_rows(chunk_rows):
    ref = np.vstack(list(stream_heavy_tilt_stream(300, 8, 4.0, 3, chunk_rows=64, random_state=5)[0]))
    chunks, heavy, pos = stream_heavy_tilt_stream(300, 8, 4.0, 3, chunk_rows=chunk_rows, random_state=5)
    chunks = list(chunks)
    assert all(c.shape[0] <= chunk_rows and c.dtype == np.float64 for c in chunks)
    rows = np.vstack(chunks)
    np.testing.assert_allclose(rows, ref, rtol=1e-13, atol=1e-15)  # the same draws; the projection is BLAS
    assert rows.shape == (303, 8)
    assert np.all(np.diff(pos) > 0)
    np.testing.assert_array_equal(rows[pos], heavy)


def test_heavy_rows_have_the_dense_structure():
    n, d, R, h = 3000, 16, 8.0, 5
    chunks, heavy, pos = stream_heavy_tilt_stream(n, d, R, h, random_state=0)
    A = np.vstack(list(chunks))
    sq = np.einsum("ij,ij->i", A, A)
    np.testing.assert_array_equal(np.flatnonzero(sq >= 0.5 / R), pos)  # light rows are far lighter
    np.testing.assert_allclose(np.einsum("ij,ij->i", heavy, heavy), 1.0 / R, rtol=1e-12)
    np.testing.assert_allclose(heavy @ heavy.T * R, 0.5 + 0.5 * np.eye(h), atol=1e-12)  # 45 deg, orthonormal u_j


def test_light_rows_have_the_planted_covariance():
    # A_light^T A_light -> v v^T + (I - v v^T)/gap: eigenvalues 1 (once) and 1/gap (d - 1 times).
    n, d, R = 200_000, 6, 4.0
    chunks, _, _ = stream_heavy_tilt_stream(n, d, R, 0, chunk_rows=50_000, random_state=1)
    A = np.vstack(list(chunks))
    w = np.linalg.eigvalsh(A.T @ A)
    np.testing.assert_allclose(w[-1], 1.0, rtol=0.02)
    np.testing.assert_allclose(w[:-1], 1.0 / R, rtol=0.03)


def test_same_law_as_make_heavy_tilt_stream():
    # Two-sample KS over 60 seeds each, on two functionals of the whole stream: the exact R (light rows
    # and heavy rows together) and the relative position of the first heavy row (the random order).
    n, d, R, h = 400, 8, 8.0, 3
    dense_R, chunk_R, dense_first, chunk_first = [], [], [], []
    for s in range(60):
        A, _, Rd = make_heavy_tilt_stream(n, d, R, h, random_state=s)
        dense_R.append(Rd)
        dense_first.append(np.flatnonzero(np.einsum("ij,ij->i", A, A) >= 0.5 / R)[0])
        chunks, _, pos = stream_heavy_tilt_stream(n, d, R, h, random_state=10_000 + s)
        B = np.vstack(list(chunks))
        w = np.linalg.eigvalsh(B.T @ B)
        chunk_R.append(w[-1] / w[-2])
        chunk_first.append(pos[0])
    assert stats.ks_2samp(dense_R, chunk_R).pvalue > 0.01
    assert stats.ks_2samp(dense_first, chunk_first).pvalue > 0.01


def test_same_law_detects_a_different_gap():
    # The KS comparison above has teeth: a 10% different gap is told apart.
    a = [make_heavy_tilt_stream(400, 8, 8.0, 3, random_state=s)[2] for s in range(60)]
    b = []
    for s in range(60):
        B = np.vstack(list(stream_heavy_tilt_stream(400, 8, 8.8, 3, random_state=s)[0]))
        w = np.linalg.eigvalsh(B.T @ B)
        b.append(w[-1] / w[-2])
    assert stats.ks_2samp(a, b).pvalue < 0.01


def test_kw_lb_one_pass_matches_the_dense_computation():
    # The claim's one-pass run (4 estimators and A^T A fed chunk by chunk) gives exactly what the
    # estimators and the kept-rows floor give on the stacked matrix.
    sw = dict(d=16, h=8, caps=[0, 2, 4], chunked=True)
    n, R, rs = 20_000, 16.0, 3
    Rtrue, per_cap = _kw_lb_stream(sw, R, n, rs)
    chunks, heavy, _ = stream_heavy_tilt_stream(n, 16, R, 8, random_state=rs)
    A = np.vstack(list(chunks))
    w, V = np.linalg.eigh(A.T @ A)
    assert Rtrue == pytest.approx(w[-1] / w[-2], rel=1e-10)
    v1 = V[:, -1]
    for cap, err, stored, floor in per_cap:
        est = RandomOrderTopEigenvector(16, n_rows=A.shape[0], random_state=rs)
        est._store_cap = None if cap < 0 else cap
        est.fit(A)
        assert stored == est.stored_rows_ == (8 if cap < 0 else cap)
        assert err == pytest.approx(1 - abs(est.vector_ @ v1), rel=1e-6, abs=1e-13)
        if cap >= 0:
            kept = {r.tobytes() for r in est.heavy_rows_}
            dropped = np.array([r for r in heavy if r.tobytes() not in kept])
            _, Vk = np.linalg.eigh(A.T @ A - dropped.T @ dropped)
            assert floor == pytest.approx(1 - abs(Vk[:, -1] @ v1), rel=1e-6, abs=1e-13)
            assert floor == pytest.approx(_kept_rows_floor(A.T @ A, heavy, v1, est.heavy_rows_), rel=1e-9)
            assert floor > 0 and err >= 0.5 * floor


def test_stream_heavy_tilt_bad_arguments():
    with pytest.raises(ValueError, match="chunk_rows"):
        stream_heavy_tilt_stream(100, 8, 2.0, 3, chunk_rows=0)
    with pytest.raises(ValueError, match="n_heavy"):
        stream_heavy_tilt_stream(100, 4, 2.0, 4)
    with pytest.raises(ValueError, match="gap"):
        stream_heavy_tilt_stream(100, 4, 1.0, 1)
