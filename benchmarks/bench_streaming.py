"""Streaming top eigenvector: lrla against IncrementalPCA and a one-pass A^T A + eigh.

Peers: ``sklearn.decomposition.IncrementalPCA(n_components=1)`` fed the same
stream in chunks of 4096 rows (``partial_fit``), and one pass forming
``A^T A`` chunk by chunk followed by ``numpy.linalg.eigh`` (exact, but
``d^2`` memory and no streaming guarantee; the throughput yardstick).
river's ``OnlinePCA`` was named as a peer, but no released river has it:
``decomposition.OnlinePCA`` exists only in the unmerged pull request
online-ml/river#1509 (open since 2024-03-06), and the PyPI wheels of every
release since then (0.21.1 to 0.26.1) have no ``river/decomposition``, so it
cannot be installed with pip, nor timed here.

Instances: ``make_spiked_stream`` with 16 heavy rows carrying the spike
(nominal R = 16), rows in random order, float64. All candidates see the same
in-memory array in 4096-row chunks; BLAS is pinned to one thread. Each
output's correlation ``|<v, v1>|`` with the exact top eigenvector is
asserted in the run (lrla: >= 0.99 and no worse than IncrementalPCA).

Memory: "state" is what the algorithm keeps between chunks (lrla: the
stored rows plus the block, in floats; A^T A: d^2; IncrementalPCA: its
components, mean and variance vectors plus one batch it copies); "peak" is
the peak of ``tracemalloc`` during one fit, which also counts the temporaries
of validating one chunk.
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
from sklearn.decomposition import IncrementalPCA

from lrla import OjaTopEigenvector, RandomOrderTopEigenvector
from lrla.datasets import make_spiked_stream

from .core import Report, benchmark, machine_line, md_table, pinned_blas, time_interleaved

CHUNK = 4096


def _load():
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def _chunks(A):
    return (A[i:i + CHUNK] for i in range(0, A.shape[0], CHUNK))


def _lrla(A):
    est = RandomOrderTopEigenvector(A.shape[1], n_rows=A.shape[0], random_state=0)
    for c in _chunks(A):
        est.partial_fit(c)
    return est


def _oja(A, rate):
    est = OjaTopEigenvector(A.shape[1], learning_rate=rate, random_state=0)
    for c in _chunks(A):
        est.partial_fit(c)
    return est


def _ipca(A):
    est = IncrementalPCA(n_components=1, batch_size=CHUNK)
    for c in _chunks(A):
        est.partial_fit(c)
    return est


def _gram(A):
    G = np.zeros((A.shape[1], A.shape[1]))
    for c in _chunks(A):
        G += c.T @ c
    return np.linalg.eigh(G)[1][:, -1]


def _vector(out):
    if isinstance(out, np.ndarray):
        return out
    if isinstance(out, IncrementalPCA):
        return out.components_[0]
    return out.vector_


def _peak_bytes(fn, A):
    tracemalloc.start()
    try:
        fn(A)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@benchmark(id="streaming", description="random-order top eigenvector vs IncrementalPCA and one-pass A^T A + eigh")
def bench_streaming(quick):
    shapes = [(20_000, 64), (40_000, 32)] if quick else [(200_000, 256), (1_000_000, 64)]
    rows, lines = [], []
    for n, d in shapes:
        A, v1, R = make_spiked_stream(n - 16, d, gap=16.0, n_heavy=16, random_state=0)
        lam1 = float(np.linalg.eigvalsh(A.T @ A)[-1])
        oja_rate = 4 * np.log(d) / lam1  # x = eta lambda_1 = 4 ln d, with an oracle lambda_1
        candidates = {
            "lrla RandomOrderTopEigenvector": lambda A=A: _lrla(A),
            "lrla OjaTopEigenvector (1 rate, oracle)": lambda A=A, r=oja_rate: _oja(A, r),
            "A^T A one pass + eigh": lambda A=A: _gram(A),
            "sklearn IncrementalPCA(1)": lambda A=A: _ipca(A),
        }
        corr = {}

        def make_check(name, v1=v1):
            def check(out):
                c = abs(float(_vector(out) @ v1))
                corr[name] = c
                if name.startswith("lrla Random"):
                    assert c >= 0.99, f"correlation {c:.4f} < 0.99"
                if name.startswith("A^T A"):
                    assert c >= 1 - 1e-9, f"correlation {c:.12f}"

            return check

        with pinned_blas(1):
            times = time_interleaved(candidates, repeat=3 if not quick else 5, warmup=1,
                                     check={k: make_check(k) for k in candidates})
            assert corr["lrla RandomOrderTopEigenvector"] >= corr["sklearn IncrementalPCA(1)"] - 1e-3, corr
            peaks = {k: _peak_bytes(lambda _, fn=fn: fn(), A) for k, fn in candidates.items()}
        est = _lrla(A)
        state = {
            "lrla RandomOrderTopEigenvector": (est.stored_rows_ + 2 * est._Z.shape[1]) * d * 8,
            "lrla OjaTopEigenvector (1 rate, oracle)": d * 8,
            "A^T A one pass + eigh": d * d * 8,
            "sklearn IncrementalPCA(1)": (3 * d + CHUNK * d) * 8,
        }
        ref_ipca = times["sklearn IncrementalPCA(1)"]
        ref_gram = times["A^T A one pass + eigh"]
        for name, t in times.items():
            rows.append([f"{n:,} x {d}", name, t, n / t / 1e6, ref_ipca / t, t / ref_gram, corr[name],
                         f"{state[name] / 1024:.0f}",
                         f"{peaks[name] / 2**20:.1f}"])
        lines.append(f"{n:,} x {d}: exact R = {R:.1f}, lrla stored {est.stored_rows_} rows "
                     f"(16 heavy), {est.n_power_steps_} power steps")
    header = ["stream", "candidate", "median s", "M rows/s", "speed-up vs IncrementalPCA", "time / (A^T A + eigh)",
              "|<v, v1>|", "state KiB", "peak MiB (tracemalloc)"]
    md = "\n".join([
        "### Streaming top eigenvector (`python -m benchmarks -k streaming`)",
        "",
        f"{machine_line()}; BLAS pinned to 1 thread; chunks of {CHUNK} rows; load average at the end "
        f"of the run (1, 5, 15 min): {_load()} on 2 cores.",
        "",
        md_table(header, rows),
        "",
        *[f"- {line}" for line in lines],
        "- river `OnlinePCA`: not timed, because no released river has it. `pip index versions river` lists "
        "0.7.0 to 0.26.1; the PyPI wheels of 0.21.1, 0.21.2, 0.22.0, 0.23.0, 0.24.2, 0.25.0, 0.26.0 and 0.26.1 "
        "contain no `river/decomposition` (the release notes of 0.24.0 and 0.24.1 add none either; earlier "
        "releases predate the code). `decomposition.OnlinePCA` (Eftekhari et al. 2019) exists only in the "
        "unmerged pull request online-ml/river#1509, open since 2024-03-06 (issue online-ml/river#1366).",
        "- FrequentDirections is not timed here: its SVD every l + 1 rows is a per-row Python/LAPACK cost "
        "(about 1 ms per shrink), far from the throughput of the others.",
        "- Oja uses one fixed rate x = 4 ln d from the exact lambda_1 (an oracle a stream does not have).",
    ])
    return Report(markdown=md, rows=rows)
