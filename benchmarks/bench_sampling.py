"""Sampling family: sketched vs exact leverage scores; exact l_1 sensitivities vs a cvxpy loop.

* ``sampling.leverage-dense``: ``leverage_scores(A, method="sketch")`` (SRHT sketch, R from its QR,
  row norms of ``A R^{-1}`` by a triangular solve) against the exact scores from NumPy's thin QR
  (``np.linalg.qr(A)`` then squared row norms of Q), the way a NumPy user computes them, and against
  lrla's own exact path (column-pivoted QR). n = 2^20 (~10^6), d = 64; the sketched scores must have
  median relative error <= 0.1 and max <= 0.5 (asserted in the run).
* ``sampling.leverage-sparse``: the sparse-embedding (OSNAP, 8 nonzeros per column) path on a scipy.sparse matrix (1% density) against
  NumPy's QR of the densified matrix (conversion included) and lrla's exact sparse path (d x d Gram).
* ``sampling.l1-sensitivities``: exact l_1 sensitivities at n = 2000, d = 10: lrla's per-row solver
  (the certified Numba simplex of ``lp_sensitivities``) and the HiGHS dual LP through
  ``scipy.optimize.linprog`` (lrla's fallback) against cvxpy solving the primal
  ``min ||A x||_1 s.t. a_i.x = 1`` per row with a compiled parametrised (DPP) problem and its default
  solver. Timed on the same subset of rows for both (the per-row cost does not depend on the row),
  reported per row and extrapolated to all n rows; the values must agree to 1e-5 relative.

BLAS is pinned to one thread for every candidate.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from lrla.sampling import leverage_scores
from lrla.sampling.scores import _l1_sensitivity, _l1_sensitivity_fast

from .core import Report, benchmark, machine_line, md_table, pinned_blas, time_interleaved


def _load_line():
    """The machine is shared: record its load so the absolute times can be read correctly."""
    one, five, fifteen = os.getloadavg()
    return (f"Load average during the run: {one:.1f}, {five:.1f}, {fifteen:.1f} (1/5/15 min) on 2 cores shared "
            "with other jobs: absolute times are inflated; the ratios come from interleaved runs.")


def _numpy_qr_scores(A):
    Q = np.linalg.qr(A)[0]
    return np.einsum("ij,ij->i", Q, Q)


def _accuracy(reference):
    def check(approx):
        live = reference > 1e-12
        rel = np.abs(approx[live] / reference[live] - 1)
        assert np.median(rel) <= 0.1, f"median relative error {np.median(rel):.3f} > 0.1"
        assert rel.max() <= 0.5, f"max relative error {rel.max():.3f} > 0.5"
    return check


def _exact_check(reference):
    def check(out):
        np.testing.assert_allclose(out, reference, rtol=1e-8, atol=1e-12)
    return check


def _leverage_report(title, times, errs, n, d):
    base = times["numpy-qr"]
    rows = [[name, t, base / t] for name, t in times.items()]
    md = [f"**{title}** (n = {n}, d = {d}; {machine_line()}; BLAS pinned to 1 thread)", "",
          md_table(["candidate", "median s", "speed-up vs numpy-qr"], rows), "",
          f"Sketched scores: median relative error {errs[0]:.3g}, max {errs[1]:.3g} (targets 0.1 and 0.5).", "",
          _load_line()]
    return Report("\n".join(md), rows)


def _rel_errors(approx, exact):
    live = exact > 1e-12
    rel = np.abs(approx[live] / exact[live] - 1)
    return float(np.median(rel)), float(rel.max())


@benchmark(id="sampling.leverage-dense", description="sketched (SRHT) vs exact QR leverage scores, dense 2^20 x 64")
def bench_leverage_dense(quick):
    n, d = (2**16, 32) if quick else (2**20, 64)
    rng = np.random.default_rng(0)
    A = rng.standard_t(3, size=(n, d))
    with pinned_blas(1):
        exact = _numpy_qr_scores(A)
        candidates = {
            "numpy-qr": lambda: _numpy_qr_scores(A),
            "lrla exact": lambda: leverage_scores(A),
            "lrla sketch": lambda: leverage_scores(A, method="sketch", random_state=1),
        }
        checks = {"numpy-qr": None, "lrla exact": _exact_check(exact), "lrla sketch": _accuracy(exact)}
        times = time_interleaved(candidates, repeat=3 if quick else 5, warmup=1, check=checks)
    errs = _rel_errors(leverage_scores(A, method="sketch", random_state=1), exact)
    return _leverage_report("Leverage scores, dense", times, errs, n, d)


@benchmark(id="sampling.leverage-sparse", description="OSNAP sketch vs exact leverage scores, sparse 2^18 x 64")
def bench_leverage_sparse(quick):
    n, d = (2**15, 32) if quick else (2**18, 64)
    A = sp.random(n, d, density=0.01 if not quick else 0.05, random_state=0, format="csr")
    A.data = np.random.default_rng(1).standard_t(3, size=A.data.size)
    with pinned_blas(1):
        exact = _numpy_qr_scores(A.toarray())
        candidates = {
            "numpy-qr": lambda: _numpy_qr_scores(A.toarray()),
            "lrla exact (Gram)": lambda: leverage_scores(A),
            "lrla sketch": lambda: leverage_scores(A, method="sketch", random_state=1),
        }
        checks = {"numpy-qr": None, "lrla exact (Gram)": lambda out: np.testing.assert_allclose(out, exact, atol=1e-8),
                  "lrla sketch": _accuracy(exact)}
        times = time_interleaved(candidates, repeat=3 if quick else 5, warmup=1, check=checks)
    errs = _rel_errors(leverage_scores(A, method="sketch", random_state=1), exact)
    return _leverage_report(f"Leverage scores, scipy.sparse CSR ({A.nnz / (n * d):.0%} dense)", times, errs, n, d)


@benchmark(id="sampling.l1-sensitivities", description="exact l1 sensitivities: certified simplex and HiGHS dual LP vs a cvxpy loop")
def bench_l1_sensitivities(quick):
    import cvxpy as cp

    n, d = (500, 6) if quick else (2000, 10)
    n_rows = 10 if quick else 40
    rng = np.random.default_rng(0)
    A = rng.standard_t(2, size=(n, d))
    Q = np.linalg.qr(A)[0]
    rows = np.arange(n_rows) * (n // n_rows)

    x = cp.Variable(d)
    a = cp.Parameter(d)
    prob = cp.Problem(cp.Minimize(cp.norm1(A @ x)), [a @ x == 1])

    def cvxpy_loop():
        out = []
        for i in rows:
            a.value = A[i]
            prob.solve()
            out.append(1.0 / prob.value)
        return np.array(out)

    def lrla_loop():  # what lp_sensitivities(A, 1) runs per row: the certified Numba simplex
        return np.array([_l1_sensitivity_fast(Q, i)[0] for i in rows])

    def highs_loop():  # the dual LP through scipy.optimize.linprog(method="highs"), lrla's fallback
        return np.array([_l1_sensitivity(Q, i)[0] for i in rows])

    with pinned_blas(1):
        ref = cvxpy_loop()
        times = time_interleaved(
            {"cvxpy loop (DPP)": cvxpy_loop, "scipy HiGHS dual LP": highs_loop, "lrla (certified simplex)": lrla_loop},
            repeat=3, warmup=1,
            check={"cvxpy loop (DPP)": None,
                   "scipy HiGHS dual LP": lambda out: np.testing.assert_allclose(out, ref, rtol=1e-5),
                   "lrla (certified simplex)": lambda out: np.testing.assert_allclose(out, ref, rtol=1e-5)},
        )
    per_row = {k: v / n_rows for k, v in times.items()}
    base = per_row["cvxpy loop (DPP)"]
    table = [[k, v * 1e3, v * n, base / v] for k, v in per_row.items()]
    md = [f"**Exact l_1 sensitivities** (n = {n}, d = {d}; {n_rows} rows timed, extrapolated to n; "
          f"{machine_line()}; BLAS pinned to 1 thread)", "",
          md_table(["candidate", "ms per row", "s for all n rows", "speed-up vs cvxpy"], table), "",
          "Values agree with cvxpy to 1e-5 relative (asserted). " + _load_line()]
    return Report("\n".join(md), table)
