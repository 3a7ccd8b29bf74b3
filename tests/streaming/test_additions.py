"""The streamed hard instance, the heavy-tilt instance, the private store cap and the PX-3 prediction."""

import math

import numpy as np
import pytest

from lrla import OjaTopEigenvector, RandomOrderTopEigenvector
from lrla.datasets import (
    make_heavy_tilt_stream,
    make_oja_hard_instance,
    oja_hard_instance_oracle,
    stream_oja_hard_instance,
)
from validation.streaming import _px3_f_star, _px3_spikes, _px3_success_probability


@pytest.mark.parametrize("chunk_rows", [1, 7, 10_000])
def test_streamed_hard_instance_equals_the_dense_one(chunk_rows):
    A, _, _ = make_oja_hard_instance(12, 2.5, 3, rows_per_coordinate=5, random_state=4)
    chunks = list(stream_oja_hard_instance(12, 2.5, 3, rows_per_coordinate=5, chunk_rows=chunk_rows, random_state=4))
    assert all(c.shape[0] <= chunk_rows and c.dtype == np.float64 for c in chunks)
    np.testing.assert_array_equal(np.vstack(chunks), A)
    f32 = np.vstack(list(stream_oja_hard_instance(12, 2.5, 3, rows_per_coordinate=5, dtype=np.float32,
                                                  random_state=4)))
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, A.astype(np.float32))


def test_streamed_hard_instance_feeds_the_estimators():
    d, R, m, c = 16, 2.5, 2, 8
    g = np.random.default_rng(1).standard_normal(d)
    rates = np.geomspace(0.1, 100, 7)
    oja = OjaTopEigenvector(d, learning_rate=rates, init=g).fit(
        stream_oja_hard_instance(d, R, m, rows_per_coordinate=c, chunk_rows=5, random_state=0))
    A, _, _ = make_oja_hard_instance(d, R, m, rows_per_coordinate=c, random_state=0)
    dense = OjaTopEigenvector(d, learning_rate=rates, init=g).fit(A)
    np.testing.assert_array_equal(oja.vectors_, dense.vectors_)
    np.testing.assert_allclose(np.abs(oja.vectors_[0]), oja_hard_instance_oracle(g, R, m, rates, rows_per_coordinate=c),
                               rtol=1e-9)


def test_streamed_hard_instance_bad_arguments():
    with pytest.raises(ValueError, match="chunk_rows"):
        stream_oja_hard_instance(8, 2.0, 1, chunk_rows=0)
    with pytest.raises(ValueError, match="dtype"):
        stream_oja_hard_instance(8, 2.0, 1, dtype=np.int64)
    with pytest.raises(ValueError, match="gap"):
        stream_oja_hard_instance(8, 1.0, 1)


def test_heavy_tilt_stream_ground_truth():
    n, d, R, h = 3000, 16, 8.0, 5
    A, v1, gap = make_heavy_tilt_stream(n, d, R, h, random_state=0)
    assert A.shape == (n + h, d)
    w, V = np.linalg.eigh(A.T @ A)
    np.testing.assert_allclose(abs(V[:, -1] @ v1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(gap, w[-1] / w[-2])
    sq = np.einsum("ij,ij->i", A, A)
    heavy = A[sq >= 0.5 / R]
    assert heavy.shape[0] == h
    np.testing.assert_allclose(np.einsum("ij,ij->i", heavy, heavy), 1.0 / R, rtol=1e-12)
    # the tilt directions are orthonormal: the Gram of the heavy rows is (cos^2 + sin^2 I)/R
    G = heavy @ heavy.T * R
    np.testing.assert_allclose(G, 0.5 + 0.5 * np.eye(h), atol=1e-12)
    with pytest.raises(ValueError, match="n_heavy"):
        make_heavy_tilt_stream(100, 4, 2.0, 4)


@pytest.mark.parametrize("cap", [0, 3, 100])
def test_store_cap_keeps_the_first_heavy_rows_for_any_chunking(cap):
    A, _, _ = make_heavy_tilt_stream(8000, 16, 8.0, 6, random_state=1)
    full = RandomOrderTopEigenvector(16, n_rows=A.shape[0], random_state=0).fit(A)
    results = []
    for parts in (1, 13):
        est = RandomOrderTopEigenvector(16, n_rows=A.shape[0], random_state=0)
        est._store_cap = cap
        for chunk in np.array_split(A, parts):
            est.partial_fit(chunk)
        results.append(est)
    a, b = results
    np.testing.assert_array_equal(a.vector_, b.vector_)
    assert a.stored_rows_ == min(cap, full.stored_rows_) == b.stored_rows_
    np.testing.assert_array_equal(a.heavy_rows_, full.heavy_rows_[: a.stored_rows_])
    if cap >= full.stored_rows_:
        np.testing.assert_array_equal(a.vector_, full.vector_)


def test_px3_success_probability_matches_monte_carlo():
    d, m, c = 64, 1, 20
    R = math.log(d) / math.log(math.log(d))
    p = _px3_success_probability(d, m, c)
    rates = np.geomspace(0.5, 20, 400)  # fine enough around x* = m (R - 1) for the best rate
    rng = np.random.default_rng(0)
    hits = sum(oja_hard_instance_oracle(rng.standard_normal(d), R, m, rates, rows_per_coordinate=c).max() >= 0.5
               for _ in range(20000))
    # binomial standard error on 20000 draws; p ~ 4e-3
    assert abs(hits / 20000 - p) <= 4 * math.sqrt(p * (1 - p) / 20000) + 1e-4
    # f* from the closed form's own expression at its maximiser m (R - 1) (c -> infinity limit)
    assert _px3_f_star(d, m, 10**9) == pytest.approx(m * (math.log(R) - 1 + 1 / R), rel=1e-6)


def test_px3_spike_counts_grow_with_d():
    assert _px3_spikes(64)[0] == []
    assert _px3_spikes(256)[0] == [1, 2]
    assert _px3_spikes(1024)[0] == [1, 2, 3]


def test_heavy_row_in_the_last_segment_is_used():
    # The spike lives on one heavy row that arrives last: it never enters the power-iteration block,
    # but the final Rayleigh-Ritz step spans the stored rows (found by streaming.px-hard-instance, d=512).
    d, c, R = 16, 64, 3.0
    bulk = np.zeros(((d - 1) * c, d))
    bulk[np.arange(bulk.shape[0]), 1 + np.arange(bulk.shape[0]) // c] = np.sqrt(1.0 / (R * c))
    rows = np.vstack([np.random.default_rng(0).permutation(bulk), np.eye(d)[:1]])
    est = RandomOrderTopEigenvector(d, n_rows=rows.shape[0], random_state=0).fit(rows)
    assert est.stored_rows_ == 1
    assert abs(est.vector_[0]) > 0.999
    np.testing.assert_allclose(est.eigenvalue_, 1.0, rtol=1e-6)
