"""Matrix completion: lrla's robust AltMin vs its exact solver, a plain-NumPy exact ALS and SoftImpute.

All candidates start from the same spectral initialisation algorithm and stop on
the relative residual on Omega; each timed run's *true* relative error
||U V^T - M||_F / ||M||_F must be <= 1e-6 (checked, else the benchmark
aborts). Timing is time-to-accuracy (median of interleaved runs, one warm-up
each excluded). BLAS is pinned to one thread for every candidate; lrla's
Numba kernels use the default thread count.

Peers:

* ``numpy-als``: exact ALS in plain NumPy/SciPy -- the k x k Gram matrices of
  all columns at once as one sparse product W @ (row-wise distinct entries of
  F_i F_i^T, k(k+1)/2 columns: the Grams are symmetric), the right-hand sides
  as P_Omega(M)^T F, then a batched ``np.linalg.solve``; what a careful NumPy
  user writes (O(|Omega| k^2) per half-step). Its spectral initialisation is
  scikit-learn's ``randomized_svd`` on scipy.sparse with lrla's parameters
  (oversampling, power iterations, QR normaliser), so both sides run the same
  algorithms and differ only in how they are implemented.
* ``softimpute``: SoftImpute (Mazumder, Hastie, Tibshirani 2010) on
  scipy.sparse: Z = P_Omega(M) + P_Omega^perp(L) = S + L is applied as
  sparse + low rank inside a randomized SVD (range finder, 2 power steps);
  singular values are soft-thresholded by lambda_t, decreased geometrically
  to 0 so that the iteration can reach 1e-6 (a fixed lambda, fancyimpute's
  default, leaves an O(lambda) bias). Rank capped at k. It is 2-3 orders of
  magnitude slower, so it is timed in one run (capped at 60x the slowest
  other candidate or 300 s) instead of interleaved repeats; its error is checked every
  10 iterations outside the timed part.
"""

from __future__ import annotations

import resource
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from lrla import AltMinCompletion
from lrla.completion._observed import entries_from_arrays
from lrla.completion.altmin import SPECTRAL_POWER_ITER, relative_error
from lrla.datasets import make_low_rank, sample_entries

from .core import Report, benchmark, machine_line, md_table, pinned_blas, time_interleaved

TARGET = 1e-6
_RES_TOL = 1e-8  # residual tolerance on Omega used by every candidate to stop


def _instance(m, n, k, n_obs, seed=0):
    U, s, V = make_low_rank(m, n, k, random_state=seed)
    rows, cols, vals = sample_entries(U, s, V, n_observed=n_obs, random_state=seed + 1)
    entries, _ = entries_from_arrays(rows, cols, vals, (m, n))
    return (U, s, V), entries


def lrla_fit(entries, k, solver):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a capped run must not be timed as a success
            model = AltMinCompletion(k, solver=solver, tol=_RES_TOL, n_iter=200, random_state=0)
            model._fit_entries(entries, np.float64)
        return model.U_, model.V_
    return run


def _row_kron_lower(F):
    """Row i: the k (k + 1) / 2 distinct entries of F_i F_i^T (lower triangle), and the map back to k x k."""
    k = F.shape[1]
    ii, jj = np.tril_indices(k)
    position = np.empty((k, k), dtype=np.intp)
    position[ii, jj] = position[jj, ii] = np.arange(ii.size)
    return F[:, ii] * F[:, jj], position.ravel()


def numpy_spectral_init(entries, k, seed=0):
    """lrla's spectral initialisation in plain SciPy/scikit-learn: the same randomized SVD parameters."""
    m, n = entries.shape
    p_hat = entries.n_observed / (m * n)
    M_obs = sp.csr_array((entries.values / p_hat, (entries.rows, entries.cols)), shape=(m, n))
    U0, _, _ = randomized_svd(M_obs, k, n_oversamples=max(10, k), n_iter=SPECTRAL_POWER_ITER,
                              power_iteration_normalizer="QR", random_state=seed)
    return U0


def numpy_als(entries, k, max_iter=200):
    """Exact ALS in plain NumPy/SciPy (same init algorithm, QR steps and stopping rule as lrla)."""
    m, n = entries.shape
    W = sp.csr_array((np.ones(entries.n_observed), (entries.rows, entries.cols)), shape=(m, n))
    M = sp.csr_array((entries.values, (entries.rows, entries.cols)), shape=(m, n))
    Wt, Mt = W.T.tocsr(), M.T.tocsr()
    norm_obs = np.linalg.norm(entries.values)

    def solve(Wg, Mg, F):
        # The Grams are symmetric: one sparse product with the k(k+1)/2 distinct products, then expanded.
        lower, position = _row_kron_lower(F)
        G = (Wg @ lower)[:, position].reshape(-1, k, k)
        rhs = Mg @ F
        G += 1e-14 * np.eye(k)  # the empty-group guard lrla also has
        return np.linalg.solve(G, rhs[..., None])[..., 0]

    def run():
        U = numpy_spectral_init(entries, k)
        prev = 1.0
        for _ in range(max_iter):
            V = np.linalg.qr(solve(Wt, Mt, U))[0]
            U_t = solve(W, M, V)
            res = np.linalg.norm(entries.values - np.einsum("ij,ij->i", U_t[entries.rows], V[entries.cols]))
            rel = res / norm_obs
            U = np.linalg.qr(U_t)[0]
            if rel <= _RES_TOL or abs(prev - rel) <= _RES_TOL * prev:
                return U_t, V
            prev = rel
        raise RuntimeError("numpy ALS hit its iteration cap")
    return run


def _randomized_svd_sparse_plus_low_rank(S, St, A, B, k, rng, oversample=10, n_power=2):
    """Rank-k randomized SVD (Halko et al. 2011) of Z = S + A B^T, using only products with S and the factors."""
    def Z(X):
        return S @ X + A @ (B.T @ X)

    def Zt(Y):
        return St @ Y + B @ (A.T @ Y)

    Q = np.linalg.qr(Z(rng.standard_normal((S.shape[1], k + oversample))))[0]
    for _ in range(n_power):
        Q = np.linalg.qr(Z(np.linalg.qr(Zt(Q))[0]))[0]
    Ub, sb, Vtb = np.linalg.svd(Zt(Q).T, full_matrices=False)
    return (Q @ Ub)[:, :k], sb[:k], Vtb[:k]


def softimpute(entries, k, truth, *, time_cap, decay=0.9):
    """SoftImpute with a geometrically decreasing threshold, rank capped at k.

    Runs until the true relative error is <= TARGET (checked every 10 iterations, outside the timed part)
    or ``time_cap`` seconds pass. Returns (seconds, iterations, error reached).
    """
    m, n = entries.shape
    rows, cols, vals = entries.rows, entries.cols, entries.values
    rng = np.random.default_rng(0)
    A = np.zeros((m, k))
    B = np.zeros((n, k))
    lam0 = None
    elapsed = 0.0
    t = 0
    err = 1.0
    while elapsed < time_cap:
        t0 = time.perf_counter()
        for _ in range(10):
            S = sp.csr_array((vals - np.einsum("ij,ij->i", A[rows], B[cols]), (rows, cols)), shape=(m, n))
            Uz, sz, Vtz = _randomized_svd_sparse_plus_low_rank(S, S.T.tocsr(), A, B, k, rng)
            if lam0 is None:
                lam0 = sz[0] / 50.0  # fancyimpute's default shrinkage, then decreased towards 0
            s_shr = np.maximum(sz - lam0 * decay ** t, 0.0)
            A = Uz * np.sqrt(s_shr)
            B = Vtz.T * np.sqrt(s_shr)
            t += 1
        elapsed += time.perf_counter() - t0
        err = relative_error(A, B, truth)
        if err <= TARGET:
            break
    return elapsed, t, err


def _check(truth):
    def check(out):
        err = relative_error(out[0], out[1], truth)
        assert err <= TARGET, f"relative error {err:.2e} > {TARGET:g}"
    return check


def _race(truth, entries, k, names, repeat):
    makers = {
        "lrla robust": lambda: lrla_fit(entries, k, "robust"),
        "lrla exact": lambda: lrla_fit(entries, k, "exact"),
        "numpy-als": lambda: numpy_als(entries, k),
    }
    candidates = {name: makers[name]() for name in names if name in makers}
    with pinned_blas(1):
        times = time_interleaved(candidates, repeat=repeat, warmup=1, check=_check(truth))
        notes = {name: "" for name in times}
        if "softimpute" in names:
            # Far slower: one timed run (no warm-up needed, no JIT), capped.
            cap = min(60 * max(times.values()), 300.0)
            seconds, iters, err = softimpute(entries, k, truth, time_cap=cap)
            times["softimpute"] = seconds
            notes["softimpute"] = (f"single run, {iters} iterations, error {err:.1e}" if err <= TARGET else
                                   f"did not reach 1e-6 within the {cap:.0f} s cap (error {err:.1e}); time is a lower bound")
    return times, notes


def _load():
    with open("/proc/loadavg") as fh:
        return fh.read().split()[:3]


@benchmark(id="completion.time-to-accuracy",
           description="AltMin robust vs exact vs NumPy exact ALS vs SoftImpute: time to relative error 1e-6")
def time_to_accuracy(quick=False):
    problems = [("1000x1000, k=10, p=0.1", 1000, 1000, 10, 100_000, ("lrla robust", "lrla exact", "numpy-als",
                                                                     "softimpute"), 3),
                ("5000x5000, k=10, #Omega=1e6", 5000, 5000, 10, 1_000_000, ("lrla robust", "lrla exact",
                                                                              "numpy-als", "softimpute"), 3)]
    if quick:
        problems = [("300x300, k=5, p=0.2", 300, 300, 5, 18_000, ("lrla robust", "lrla exact", "numpy-als",
                                                                  "softimpute"), 2)]
    rows, raw = [], []
    load_before = _load()
    for label, m, n, k, n_obs, names, repeat in problems:
        truth, entries = _instance(m, n, k, n_obs)
        t, notes = _race(truth, entries, k, names, repeat)
        base = t["lrla robust"]
        for name in names:
            rows.append([label, name, t[name], t[name] / base, notes[name]])
        raw.append({"problem": label, **t})
    md = ["### completion: time to relative error 1e-6", "",
          "Time to relative error 1e-6 (median of interleaved runs after a warm-up; accuracy asserted). "
          f"{machine_line()}; BLAS pinned to 1 thread. Load average before/after: "
          f"{' '.join(load_before)} / {' '.join(_load())} (machine shared with other jobs).", "",
          md_table(["problem", "method", "seconds", "time / lrla robust", "note"], rows), "",
          "Command: `python -m benchmarks -k completion.time-to-accuracy`. numpy-als = exact ALS in plain "
          "NumPy/SciPy (one sparse product for the distinct Gram entries + batched solve); softimpute = own SoftImpute (scipy.sparse + "
          "randomized SVD, threshold decreased to 0), one capped run."]
    return Report("\n".join(md), raw)


@benchmark(id="completion.rank-sweep",
           description="AltMin robust vs exact (and NumPy exact ALS) at fixed |Omega|, k in {8, 16, 32, 64}")
def rank_sweep(quick=False):
    m = n = 1000
    n_obs = 600_000
    ks = (8, 16, 32, 64)
    n_rounds, numpy_rounds = 5, 3
    if quick:
        m = n = 400
        n_obs = 60_000
        ks = (4, 8)
        n_rounds, numpy_rounds = 3, 1
    rows, raw = [], []
    _, tiny = _instance(60, 50, 2, 1500)
    for solver in ("robust", "exact"):  # load the compiled kernels before timing
        lrla_fit(tiny, 2, solver)()
    load_before = _load()
    for k in ks:
        truth, entries = _instance(m, n, k, n_obs)
        names = ("lrla robust", "lrla exact") + (("numpy-als",) if k <= 32 else ())
        candidates = {"lrla robust": lrla_fit(entries, k, "robust"), "lrla exact": lrla_fit(entries, k, "exact"),
                      "numpy-als": numpy_als(entries, k)}
        samples = {name: [] for name in names}
        check = _check(truth)
        with pinned_blas(1):
            for rnd in range(n_rounds):  # interleaved rounds; the slow NumPy peer runs in the first few only
                for name in names:
                    if name == "numpy-als" and rnd >= numpy_rounds:
                        continue
                    t0 = time.perf_counter()
                    out = candidates[name]()
                    samples[name].append(time.perf_counter() - t0)
                    check(out)
        t = {name: float(np.median(v)) for name, v in samples.items()}
        ratios = np.array(samples["lrla exact"]) / np.array(samples["lrla robust"])  # per round
        for name in names:
            note = ""
            if name == "lrla exact":
                note = (f"per-round exact/robust: median {np.median(ratios):.2f}, range "
                        f"{ratios.min():.2f}-{ratios.max():.2f}")
            rows.append([k, name, t[name], t[name] / t["lrla robust"], len(samples[name]), note])
        raw.append({"k": k, **t, "exact_over_robust_per_round": ratios.tolist()})
    md = ["### completion: cost vs rank at fixed #Omega", "",
          f"{m}x{n}, #Omega = {n_obs:.0e} fixed; time to relative error 1e-6, median of {n_rounds} interleaved rounds "
          f"({numpy_rounds} for numpy-als; compiled kernels loaded by a warm-up fit beforehand; accuracy asserted "
          f"in every run). {machine_line()}; BLAS pinned to 1 thread. "
          f"Load average before/after: {' '.join(load_before)} / {' '.join(_load())}.", "",
          md_table(["k", "method", "median seconds", "time / lrla robust", "runs", "note"], rows), "",
          "Command: `python -m benchmarks -k completion.rank-sweep`."]
    return Report("\n".join(md), raw)


@benchmark(id="completion.large", description="lrla robust AltMin on 20000x20000, |Omega| = 1e7, k = 10")
def large(quick=False):
    m = n = 20_000 if not quick else 2_000
    n_obs = 10_000_000 if not quick else 200_000
    k = 10
    truth, entries = _instance(m, n, k, n_obs)
    _, tiny = _instance(60, 50, 2, 1500)
    lrla_fit(tiny, 2, "robust")()  # load the compiled kernels before timing
    load_before = _load()
    with pinned_blas(1), warnings.catch_warnings():
        warnings.simplefilter("error")
        t0 = time.perf_counter()
        model = AltMinCompletion(k, tol=_RES_TOL, random_state=0)._fit_entries(entries, np.float64)
        seconds = time.perf_counter() - t0
    err = relative_error(model.U_, model.V_, truth)
    assert err <= TARGET, f"relative error {err:.2e} > {TARGET:g}"
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    md = [f"### completion: a {m} x {n} problem", "",
          f"{m}x{n}, k={k}, #Omega = {n_obs:.0e}: lrla robust AltMin reached relative error {err:.1e} in "
          f"{seconds:.1f} s ({model.n_iter_} iterations, spectral initialisation included, compiled kernels "
          "loaded beforehand); peak resident "
          f"memory of the benchmark process {peak_gb:.2f} GB (includes instance generation). {machine_line()}. "
          f"Load average before/after: {' '.join(load_before)} / {' '.join(_load())}.", "",
          "Command: `python -m benchmarks -k completion.large`."]
    return Report("\n".join(md), [{"seconds": seconds, "error": err, "iterations": model.n_iter_,
                                   "peak_gb": peak_gb}])
