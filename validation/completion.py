"""Claims of Gu, Song, Yin and Zhang (ICLR 2024): robust alternating minimization for matrix completion.

The paper proves (Theorem 4.2) that alternating minimization whose
per-row/column least-squares problems are solved only approximately, in
O~(|Omega| k) time per half-step, keeps the geometric convergence and the
sample complexity of exact AltMin (Jain, Netrapalli and Sanghavi 2013), and
that the iterates stay incoherent. The paper has no experiments; the
predictions below follow its statements (see papers/completion_and_subgm.md
part A, G1-G6). Thresholds marked "suite choice" are ours, not the paper's.

Every run pins Numba and BLAS to one thread: results do not depend on the
thread count (per-row problems are independent), and timings on a shared
machine are steadier.
"""

from __future__ import annotations

import math
import time
import warnings

import matplotlib.ticker
import numpy as np

from lrla.completion import AltMinCompletion
from lrla.completion._observed import entries_from_arrays
from lrla.completion.altmin import (ADAPTIVE_FACTOR, CONTRACTION_FACTOR, half_step, incoherence, relative_error,
                                    spectral_init)
from lrla.datasets import make_low_rank, sample_entries
from lrla.exceptions import ConvergenceWarning

from .core import Result, claim, new_figure, one_thread
from .stats import loglog_slope

PAPER = ("Gu, Song, Yin, Zhang (ICLR 2024), Low rank matrix completion via robust alternating "
         "minimization in nearly linear time")




def _instance(n, k, c, seed, *, condition=1.0, m=None):
    """Square (or m x n) rank-k instance with |Omega| = c * n * k * ln n uniformly observed entries."""
    m = n if m is None else m
    U, s, V = make_low_rank(m, n, k, condition=condition, random_state=seed)
    n_obs = int(round(c * n * k * math.log(n)))
    rows, cols, vals = sample_entries(U, s, V, n_observed=n_obs, random_state=seed + 1000)
    entries, _ = entries_from_arrays(rows, cols, vals, (m, n))
    return (U, s, V), entries


def _fit(entries, k, truth, seed=0, **kw):
    kw.setdefault("n_iter", 60)
    kw.setdefault("tol", 1e-13)
    with warnings.catch_warnings():
        # Sweeps visit failing and under-sampled instances on purpose.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = AltMinCompletion(k, random_state=seed, **kw)._fit_entries(entries, np.float64, truth)
    return model


def _log_rate(errors, lo=1e-11, hi=1e-1):
    """Least-squares slope of log10(error) per iteration on the window lo < e < hi, with R^2."""
    e = np.asarray(errors)
    t = np.arange(1, e.size + 1)
    keep = (e > lo) & (e < hi)
    if keep.sum() < 4:
        return float("nan"), float("nan")
    x, y = t[keep], np.log10(e[keep])
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    r2 = 1.0 - resid.var() / y.var() if y.var() > 0 else 0.0
    return float(slope), float(r2)


def _geometric_check(runs):
    """Each run: log10-error slope < -0.2 per iteration with R^2 > 0.98, final error < 1e-9."""
    rows = {}
    ok = True
    for name, err in runs.items():
        slope, r2 = _log_rate(err)
        good = bool(np.isfinite(slope) and slope < -0.2 and r2 > 0.98 and err[-1] < 1e-9)
        ok &= good
        rows[name] = {"log10_rate": slope, "r2": r2, "final_error": float(err[-1]), "iterations": len(err)}
    return ok, rows


# --------------------------------------------------------------------------------------------------
# G1: geometric convergence
# --------------------------------------------------------------------------------------------------


@claim(
    id="completion.geometric-convergence",
    paper=PAPER,
    where="Theorem 4.2 (T = O(log(1/eps)) iterations)",
    statement="Exact and robust (inexact) AltMin converge geometrically to the true matrix on incoherent, "
              "well-sampled instances: log error falls linearly with the iteration count.",
    prediction="For each solver and instance: the least-squares slope of log10 ||M_t - M||_F/||M||_F vs t on "
               "1e-11 < e < 1e-1 is < -0.2 per iteration with R^2 > 0.98 (suite choices), and the final error "
               "is < 1e-9. The rate itself is reported, not asserted.",
)
def geometric_convergence(scale, seed):
    n, k = (300, 5) if scale == "quick" else (500, 10)
    settings = [(1.0, 3.0)] if scale == "quick" else [(1.0, 2.0), (1.0, 3.0), (3.0, 3.0)]
    runs = {}
    with one_thread(numba=True):
        for condition, c in settings:
            truth, entries = _instance(n, k, c, seed, condition=condition)
            for solver in ("exact", "robust"):
                model = _fit(entries, k, truth, seed, solver=solver)
                runs[f"{solver} kappa={condition:g} c={c:g}"] = model.history_["error"]
    ok, rows = _geometric_check(runs)
    rates = {name: 10 ** r["log10_rate"] for name, r in rows.items()}
    return Result(
        passed=ok,
        reason="all runs geometric to < 1e-9; per-iteration error ratios "
               + ", ".join(f"{k_}: {v:.2f}" for k_, v in rates.items()),
        measured={"runs": rows, "n": n, "rank": k},
        predicted={"log10_rate_below": -0.2, "r2_above": 0.98, "final_error_below": 1e-9},
        series={"errors": runs},
    )


@geometric_convergence.control
def _(scale, seed):
    # Under-sampling: |Omega| = 0.3 n k ln n is below the recovery threshold (about 1 n k ln n).
    n, k = (300, 5) if scale == "quick" else (500, 10)
    with one_thread(numba=True):
        truth, entries = _instance(n, k, 0.3, seed)
        runs = {f"{s} c=0.3 (under-sampled)": _fit(entries, k, truth, seed, solver=s, n_iter=30).history_["error"]
                for s in ("exact", "robust")}
    ok, rows = _geometric_check(runs)
    return Result(passed=ok, reason="under-sampled: final errors " + ", ".join(
        f"{name}: {r['final_error']:.2g}" for name, r in rows.items()), measured={"runs": rows},
        series={"errors": runs})


@geometric_convergence.plot
def _(result, control):
    fig, ax = new_figure()
    for name, err in result.series["errors"].items():
        ax.semilogy(np.arange(1, len(err) + 1), err, marker=".", label=name)
    if control is not None:
        for name, err in control.series.get("errors", {}).items():
            ax.semilogy(np.arange(1, len(err) + 1), err, ls="--", color="gray", label=f"control: {name}")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("relative error ||M_t - M||_F / ||M||_F")
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------------
# G2: robustness to approximate updates
# --------------------------------------------------------------------------------------------------

_TAUS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def _rate_check(exact_err, other_err):
    """Same rate as exact: log10 rate within 20% of the exact solver's, and final error < 1e-9."""
    r_exact, _ = _log_rate(exact_err)
    r_other, _ = _log_rate(other_err)
    rel = abs(r_other - r_exact) / abs(r_exact) if np.isfinite(r_other) else float("inf")
    ok = bool(rel <= 0.2 and other_err[-1] < 1e-9)
    return ok, {"log10_rate_exact": r_exact, "log10_rate": r_other, "relative_difference": rel,
                "final_error": float(other_err[-1])}


@claim(
    id="completion.inexact-robustness",
    paper=PAPER,
    where="Theorem 4.2 and the forward-error lemma (Lemma B.5): approximate regressions",
    statement="Solving each regression only approximately costs accuracy in proportion to the inexactness: a "
              "fixed relative tolerance tau leaves an error floor that shrinks with tau, and an accuracy that "
              "tracks the current residual keeps the exact solver's rate.",
    prediction="(a) the error floor with fixed inner tolerance tau scales like tau: log-log slope of floor vs "
               "tau >= 0.8 (derived: slope 1; asserted one-sided); (b) adaptive inner tolerance "
               f"(min({ADAPTIVE_FACTOR}, {CONTRACTION_FACTOR} x last contraction) x current residual, the library "
               "default): per-iteration log-rate within 20% of exact AltMin "
               "(suite choice) and final error < 1e-9.",
)
def inexact_robustness(scale, seed):
    n, k = (300, 5) if scale == "quick" else (500, 10)
    with one_thread(numba=True):
        truth, entries = _instance(n, k, 3.0, seed)
        exact = _fit(entries, k, truth, seed, solver="exact").history_["error"]
        adaptive_model = _fit(entries, k, truth, seed, solver="robust")
        adaptive = adaptive_model.history_["error"]
        sketch = _fit(entries, k, truth, seed, solver="robust", inner="sketch").history_["error"]
        floors, curves = [], {}
        for tau in _TAUS:
            err = _fit(entries, k, truth, seed, solver="robust", inner_tol=tau, n_iter=40).history_["error"]
            curves[tau] = err
            floors.append(min(err))
    fit = loglog_slope(_TAUS, floors)
    ok_a = fit.slope >= 0.8
    ok_b, rate = _rate_check(exact, adaptive)
    ok_s, rate_s = _rate_check(exact, sketch)
    return Result(
        passed=ok_a and ok_b and ok_s,
        reason=f"floor ~ tau^{fit.slope:.2f} (CI {fit.ci_low:.2f}..{fit.ci_high:.2f}, need >= 0.8); adaptive CG "
               f"log-rate {rate['log10_rate']:.3f} vs exact {rate['log10_rate_exact']:.3f} "
               f"({100 * rate['relative_difference']:.0f}% apart), sketch-preconditioned "
               f"{rate_s['log10_rate']:.3f} ({100 * rate_s['relative_difference']:.0f}%); need <= 20%",
        measured={"floor_slope": fit.as_dict(), "floors": dict(zip(map(str, _TAUS), floors)),
                  "floor_over_tau": [f / t for f, t in zip(floors, _TAUS)], "adaptive_cg": rate,
                  "adaptive_sketch": rate_s,
                  "mean_inner_steps": float(np.mean(adaptive_model.history_["inner_steps"]))},
        predicted={"floor_slope_at_least": 0.8, "rate_within": 0.2},
        series={"exact": exact, "adaptive": adaptive, "sketch": sketch, "taus": list(_TAUS), "floors": floors,
                "curves": {str(t): v for t, v in curves.items()}},
    )


@inexact_robustness.control
def _(scale, seed):
    # A fixed, too-loose inner tolerance: stalls at its floor instead of keeping the exact rate.
    n, k = (300, 5) if scale == "quick" else (500, 10)
    with one_thread(numba=True):
        truth, entries = _instance(n, k, 3.0, seed)
        exact = _fit(entries, k, truth, seed, solver="exact").history_["error"]
        loose = _fit(entries, k, truth, seed, solver="robust", inner_tol=1e-3).history_["error"]
    ok, rate = _rate_check(exact, loose)
    return Result(passed=ok, reason=f"fixed tau=1e-3 stalls at {min(loose):.2g} (log-rate {rate['log10_rate']:.3f} "
                                    f"vs exact {rate['log10_rate_exact']:.3f})", measured=rate,
                  series={"loose": loose})


@inexact_robustness.plot
def _(result, control):
    fig, (ax1, ax2) = new_figure(ncols=2)
    s = result.series
    for name in ("exact", "adaptive", "sketch"):
        ax1.semilogy(np.arange(1, len(s[name]) + 1), s[name], marker=".", label=name)
    for tau, err in s["curves"].items():
        ax1.semilogy(np.arange(1, len(err) + 1), err, lw=0.8, alpha=0.7, label=f"fixed tau={float(tau):.0e}")
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("relative error")
    ax1.legend(fontsize=6)
    ax2.loglog(s["taus"], s["floors"], "o-", label="measured floor")
    ax2.loglog(s["taus"], s["taus"], "k--", lw=0.8, label="floor = tau")
    ax2.set_xlabel("fixed inner tolerance tau")
    ax2.set_ylabel("error floor")
    ax2.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------------
# G3: incoherence preserved
# --------------------------------------------------------------------------------------------------


def _altmin_path(entries, k, truth, rng, *, n_iter, perturb=None):
    """Exact AltMin written out half-step by half-step, with an optional perturbation after each half-step.

    ``perturb(F_exact, F_current, side)`` returns the perturbed update; ``F_current`` is the current
    estimate expressed in the same basis (so F_exact - F_current is the exact step), ``side`` is 0 for
    V half-steps and 1 for U half-steps.
    """
    U, V_warm = spectral_init(entries, k, rng)
    mus, errors = [], []
    for _ in range(n_iter):
        V_t, _ = half_step(entries.col_indptr, entries.col_idx, entries.col_vals, U, V_warm, solver="exact",
                           inner="cg", max_steps=0, rtol=0.0, rng=rng)
        if perturb is not None:
            V_t = perturb(V_t, V_warm, 0)
        V, R = np.linalg.qr(V_t)
        U_warm = U @ R.T
        U_t, _ = half_step(entries.row_indptr, entries.row_idx, entries.row_vals, V, None, solver="exact",
                           inner="cg", max_steps=0, rtol=0.0, rng=rng)
        if perturb is not None:
            U_t = perturb(U_t, U_warm, 1)
        U, R = np.linalg.qr(U_t)
        V_warm = V @ R.T
        mus.append(max(incoherence(U), incoherence(V)))
        errors.append(relative_error(U_t, V, truth))
    return np.array(mus), np.array(errors)


def _row_spike(eps0):
    """Perturbation of spectral norm eps0 * sigma_min(update) concentrated on row 0 (a coherent direction)."""
    def perturb(F, current, side):
        smin = np.linalg.svd(F, compute_uv=False)[-1]
        E = np.zeros_like(F)
        E[0, 0] = eps0 * smin
        return F + E
    return perturb


@claim(
    id="completion.incoherence-preserved",
    paper=PAPER,
    where="incoherence-perturbation lemma (Lemma G.3) used in the proof of Theorem 4.2",
    statement="The iterates U_t, V_t of exact and robust AltMin stay incoherent: their incoherence mu stays "
              "within a constant factor of the target's.",
    prediction="max over iterations of mu(U_t), mu(V_t) <= 4 mu(M) (constant 4 is a suite choice), on "
               "incoherent instances with kappa in {1, 3}; the ratio is reported.",
)
def incoherence_preserved(scale, seed):
    n, k = (400, 3) if scale == "quick" else (1000, 4)
    conditions = (1.0, 3.0)
    rows, traces = {}, {}
    ok = True
    with one_thread(numba=True):
        for condition in conditions:
            truth, entries = _instance(n, k, 3.0, seed, condition=condition)
            mu_star = max(incoherence(truth[0]), incoherence(truth[2]))
            for solver in ("exact", "robust"):
                model = _fit(entries, k, truth, seed, solver=solver)
                mu = np.array(model.history_["incoherence"])
                ratio = float(mu.max() / mu_star)
                ok &= ratio <= 4.0
                name = f"{solver} kappa={condition:g}"
                rows[name] = {"mu_star": mu_star, "max_mu": float(mu.max()), "ratio": ratio}
                traces[name] = (mu / mu_star).tolist()
    return Result(
        passed=ok,
        reason="max mu_t / mu* = " + ", ".join(f"{n_}: {r['ratio']:.2f}" for n_, r in rows.items()) + " (<= 4)",
        measured={"runs": rows, "max_possible_ratio": math.sqrt(n / k) / min(r["mu_star"] for r in rows.values())},
        predicted={"ratio_at_most": 4.0},
        series={"traces": traces},
    )


@incoherence_preserved.control
def _(scale, seed):
    # "Error injection turned up": a perturbation of 3 sigma_min per half-step aimed at one coordinate.
    n, k = (400, 3) if scale == "quick" else (1000, 4)
    with one_thread(numba=True):
        truth, entries = _instance(n, k, 3.0, seed)
        mu_star = max(incoherence(truth[0]), incoherence(truth[2]))
        mus, _ = _altmin_path(entries, k, truth, np.random.default_rng(seed), n_iter=10, perturb=_row_spike(3.0))
    ratio = float(mus.max() / mu_star)
    return Result(passed=ratio <= 4.0, reason=f"row-spike injection eps0=3: max mu_t / mu* = {ratio:.2f}",
                  measured={"ratio": ratio}, series={"trace": (mus / mu_star).tolist()})


@incoherence_preserved.plot
def _(result, control):
    fig, ax = new_figure()
    for name, tr in result.series["traces"].items():
        ax.plot(np.arange(1, len(tr) + 1), tr, marker=".", label=name)
    if control is not None and "trace" in control.series:
        tr = control.series["trace"]
        ax.plot(np.arange(1, len(tr) + 1), tr, "k--", label="control: coherent injection")
    ax.axhline(4.0, color="r", lw=0.8, label="bound 4 mu*")
    ax.set_xlabel("iteration t")
    ax.set_ylabel("mu(U_t, V_t) / mu(M)")
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------------
# G4: cost per half-step linear in k
# --------------------------------------------------------------------------------------------------


_WARM_STATES = {}


def _warm_state(m, n, n_obs, k, seed):
    """Instance and a warm state three exact iterations in (as in the middle of a run); cached for the control."""
    key = (m, n, n_obs, k, seed)
    if key not in _WARM_STATES:
        for old in [o for o in _WARM_STATES if o[:3] != key[:3] or o[4] != seed]:
            del _WARM_STATES[old]  # keep only the current sweep in memory
        U, s, V = make_low_rank(m, n, k, random_state=seed)
        rows, cols, vals = sample_entries(U, s, V, n_observed=n_obs, random_state=seed + 1)
        entries, _ = entries_from_arrays(rows, cols, vals, (m, n))
        model = _fit(entries, k, (U, s, V), seed, solver="exact", n_iter=3)
        U_t = np.linalg.qr(model.U_)[0]
        V_warm = model.V_ @ (U_t.T @ model.U_).T
        _WARM_STATES[key] = (entries, U_t, V_warm, model.history_["residual"][-1])
    return _WARM_STATES[key]


def _halfstep_costs(scale, seed, solver):
    """Seconds and counted flops of one V half-step, for k in a sweep at fixed |Omega|."""
    if scale == "quick":
        m, n, n_obs, ks, repeat = 2000, 250, 300_000, (2, 4, 8, 16), 3
    else:
        m, n, n_obs, ks, repeat = 4000, 500, 1_000_000, (4, 8, 16, 32, 64), 3
    times, flops, steps_mean = [], [], []
    with one_thread(numba=True):
        for k in ks:
            entries, U_t, V_warm, residual = _warm_state(m, n, n_obs, k, seed)
            rng = np.random.default_rng(seed)
            rtol = ADAPTIVE_FACTOR * residual
            args = (entries.col_indptr, entries.col_idx, entries.col_vals, U_t, V_warm)
            kw = dict(solver=solver, inner="cg", max_steps=k + 5, rtol=rtol, rng=rng)
            half_step(*args, **kw)  # compile / warm caches
            samples = []
            for _ in range(repeat):
                # CPU time of the pinned single thread: wall clock on a shared machine lets a half-step longer
                # than a scheduler time slice (the k >= 8 ones) be preempted, and the slope then measured the
                # load (1.18-1.41 against 0.73 quiet, two busy processes on the 2 cores; CPU time: 0.69-0.74)
                t0 = time.process_time()
                _, steps = half_step(*args, **kw)
                samples.append(time.process_time() - t0)
            times.append(float(np.median(samples)))
            counts = entries.col_counts.astype(float)
            if solver == "exact":
                flops.append(float(np.sum(counts * (k * (k + 1) + 2 * k)) + n * k ** 3 / 3))
                steps_mean.append(0.0)
            else:
                # Initial residual pass (4 N_j k) plus one fused pass (4 N_j k) per CG step.
                flops.append(float(np.sum(4 * counts * k * (1 + steps))))
                steps_mean.append(float(steps.mean()))
    return list(ks), times, flops, steps_mean


def _linear_cost_check(ks, times, flops):
    t_fit = loglog_slope(ks, times)
    f_fit = loglog_slope(ks, flops)
    ok = bool(t_fit.slope <= 1.4 and f_fit.ci_high <= 1.3)
    return ok, t_fit, f_fit


@claim(
    id="completion.linear-cost-in-rank",
    paper=PAPER,
    where="Theorem 4.2 (running time O~(|Omega| k) per iteration vs O~(|Omega| k^2))",
    statement="At fixed |Omega|, one robust half-step costs time linear in k (up to logs), while the exact "
              "solver's Gram matrices cost |Omega| k^2.",
    prediction="log-log slope vs k of the robust half-step: counted flops (CI upper end) <= 1.3 and measured "
               "CPU seconds <= 1.4 (one thread; suite choices around the predicted 1); the exact solver's "
               "slopes (predicted 2) are reported, and the same check applied to them must fail.",
)
def linear_cost_in_rank(scale, seed):
    ks, times, flops, steps = _halfstep_costs(scale, seed, "robust")
    ok, t_fit, f_fit = _linear_cost_check(ks, times, flops)
    return Result(
        passed=ok,
        reason=f"robust half-step: time slope {t_fit.slope:.2f} (need <= 1.4), flop slope {f_fit.slope:.2f} "
               f"(CI high {f_fit.ci_high:.2f}, need <= 1.3); mean CG steps {np.round(steps, 2).tolist()}",
        measured={"ks": ks, "seconds": times, "flops": flops, "mean_cg_steps": steps,
                  "time_slope": t_fit.as_dict(), "flop_slope": f_fit.as_dict()},
        predicted={"slope": 1.0},
        series={"ks": ks, "seconds": times, "flops": flops},
    )


@linear_cost_in_rank.control
def _(scale, seed):
    ks, times, flops, _ = _halfstep_costs(scale, seed, "exact")
    ok, t_fit, f_fit = _linear_cost_check(ks, times, flops)
    return Result(passed=ok, reason=f"exact solver: time slope {t_fit.slope:.2f}, flop slope {f_fit.slope:.2f}",
                  measured={"ks": ks, "seconds": times, "flops": flops, "time_slope": t_fit.as_dict()},
                  series={"ks": ks, "seconds": times, "flops": flops})


@linear_cost_in_rank.plot
def _(result, control):
    fig, (ax1, ax2) = new_figure(ncols=2)
    for res, name in ((result, "robust (CG)"), (control, "exact (Gram + Cholesky)")):
        if res is None or "ks" not in res.series:
            continue
        ax1.loglog(res.series["ks"], res.series["seconds"], "o-", label=name)
        ax2.loglog(res.series["ks"], res.series["flops"], "o-", label=name)
    ks = np.array(result.series["ks"], dtype=float)
    for ax, key in ((ax1, "seconds"), (ax2, "flops")):
        y0 = result.series[key][0]
        ax.loglog(ks, y0 * ks / ks[0], "k:", lw=0.8, label="slope 1")
        ax.loglog(ks, y0 * (ks / ks[0]) ** 2, "k--", lw=0.8, label="slope 2")
        ax.set_xlabel("rank k")
        ax.set_xticks(ks, [str(int(k)) for k in ks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.legend(fontsize=7)
    ax1.set_ylabel("CPU seconds per half-step (1 thread)")
    ax2.set_ylabel("counted flops per half-step")
    return fig


# --------------------------------------------------------------------------------------------------
# G5: sample complexity unchanged
# --------------------------------------------------------------------------------------------------


def _success_curves(scale, seed, variants):
    if scale == "quick":
        n, k, cs, n_seeds = 150, 3, (0.5, 0.7, 0.9, 1.2, 1.6), 5
    else:
        n, k, cs, n_seeds = 300, 5, (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.6, 2.0), 12
    curves = {name: [] for name in variants}
    with one_thread(numba=True):
        for c in cs:
            wins = {name: 0 for name in variants}
            for r in range(n_seeds):
                truth, entries = _instance(n, k, c, 100 * seed + r)
                for name, kw in variants.items():
                    err = _fit(entries, k, truth, r, tol=1e-9, **kw).history_["error"]
                    wins[name] += err[-1] < 1e-6
            for name in variants:
                curves[name].append(wins[name] / n_seeds)
    return list(cs), curves, n_seeds


def _threshold(cs, probs):
    """c at which the success probability first crosses 1/2 (log-linear interpolation); nan if it never does."""
    for i in range(1, len(cs)):
        if probs[i - 1] < 0.5 <= probs[i]:
            w = (0.5 - probs[i - 1]) / (probs[i] - probs[i - 1])
            return float(math.exp((1 - w) * math.log(cs[i - 1]) + w * math.log(cs[i])))
    if probs[0] >= 0.5:
        return float(cs[0])
    return float("nan")


def _coincide_check(cs, ref, other):
    t_ref, t_other = _threshold(cs, ref), _threshold(cs, other)
    ratio = t_other / t_ref if np.isfinite(t_ref) and np.isfinite(t_other) else float("nan")
    ok = bool(np.isfinite(ratio) and abs(ratio - 1.0) <= 0.1 and probs_span(ref))
    return ok, t_ref, t_other, ratio


def probs_span(probs):
    """The sweep must bracket the transition (some failures and some successes) for the check to mean anything."""
    return min(probs) < 0.5 <= max(probs)


@claim(
    id="completion.sample-complexity",
    paper=PAPER,
    where="Theorem 4.2 (sample complexity preserved from JNS13)",
    statement="Approximate regressions do not worsen the sample complexity: the success probability of robust "
              "AltMin as a function of |Omega| / (n k ln n) coincides with exact AltMin's.",
    prediction="On a sweep of c = |Omega|/(n k ln n) (same instances and masks for both solvers), the 50% "
               "success points differ by at most 10% (suite choice); success = relative error < 1e-6.",
)
def sample_complexity(scale, seed):
    cs, curves, n_seeds = _success_curves(scale, seed, {"exact": dict(solver="exact"), "robust": dict()})
    ok, t_exact, t_robust, ratio = _coincide_check(cs, curves["exact"], curves["robust"])
    return Result(
        passed=ok,
        reason=f"50% success at c = {t_exact:.2f} (exact) vs {t_robust:.2f} (robust): ratio {ratio:.3f} "
               f"(need within 10%; {n_seeds} instances per point)",
        measured={"c": cs, "success": curves, "threshold_exact": t_exact, "threshold_robust": t_robust,
                  "ratio": ratio, "instances_per_point": n_seeds},
        predicted={"ratio": 1.0},
        series={"c": cs, "curves": curves},
    )


@sample_complexity.control
def _(scale, seed):
    # The theory-faithful sample-split variant (fresh samples every half-step, 2T + 1 = 13 parts):
    # an approximation that does worsen the sample complexity (prediction G7).
    variants = {"exact": dict(solver="exact"), "split": dict(solver="exact", sample_split=True, n_iter=6)}
    cs, curves, _ = _success_curves(scale, seed, variants)
    ok, t_exact, t_split, ratio = _coincide_check(cs, curves["exact"], curves["split"])
    return Result(passed=ok, reason=f"sample-split AltMin: 50% point {t_split:.3g} vs exact {t_exact:.2f} "
                                    f"(success {curves['split']})",
                  measured={"success": curves, "threshold_split": t_split}, series={"c": cs, "curves": curves})


@sample_complexity.plot
def _(result, control):
    fig, ax = new_figure()
    for name, probs in result.series["curves"].items():
        ax.plot(result.series["c"], probs, "o-", label=name)
    if control is not None and "curves" in control.series:
        ax.plot(control.series["c"], control.series["curves"]["split"], "s--", color="gray",
                label="control: sample-split (13 parts)")
    ax.set_xscale("log")
    ax.set_xlabel("c = |Omega| / (n k ln n)")
    ax.set_ylabel("P(relative error < 1e-6)")
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------------
# G6: spectral initialisation
# --------------------------------------------------------------------------------------------------


def _subspace_distance(U0, U_star):
    return float(np.linalg.norm(U_star - U0 @ (U0.T @ U_star), 2))


def _init_distances(scale, seed, init):
    n, k, n_seeds = (400, 4, 3) if scale == "quick" else (700, 5, 5)
    ps = np.geomspace(0.03, 0.3, 6)
    dists = []
    for p in ps:
        d = []
        for r in range(n_seeds):
            U, s, V = make_low_rank(n, n, k, random_state=100 * seed + r)
            rows, cols, vals = sample_entries(U, s, V, p=float(p), random_state=100 * seed + r + 1)
            entries, _ = entries_from_arrays(rows, cols, vals, (n, n))
            U0 = init(entries, k, np.random.default_rng(10_000 + r))
            d.append(_subspace_distance(U0, U))
        dists.append(float(np.median(d)))
    return ps, np.array(dists)


def _init_check(ps, dists):
    fit = loglog_slope(ps, dists)
    # The analysis bounds the distance by C p^{-1/2}: assert a decay at least that fast (upper end of
    # the slope's CI), not a two-sided band; a steeper measured decay does not contradict the bound.
    ok = bool(fit.ci_high <= -0.5 and dists[-1] <= 0.5)
    return ok, fit


@claim(
    id="completion.spectral-init",
    paper=PAPER,
    where="initialisation step (Algorithm 1, line 5) and its JNS13 analysis",
    statement="The spectral initialisation (top-k singular subspace of P_Omega(M)/p) approaches the true "
              "column space as ||P_Omega(M)/p - M|| / sigma_k, i.e. like p^{-1/2}.",
    prediction="log-log slope of the median sin-theta distance dist(U_0, U*) vs p is <= -1/2 at the upper end "
               "of its 95% CI (the matrix-Bernstein bound C p^{-1/2}; the measured slope is reported) and "
               "dist <= 1/2 at the largest p (what the JNS13 analysis needs).",
)
def spectral_init_claim(scale, seed):
    with one_thread(numba=True):
        ps, dists = _init_distances(scale, seed, lambda e, k, rng: spectral_init(e, k, rng)[0])
    ok, fit = _init_check(ps, dists)
    return Result(
        passed=ok,
        reason=f"dist(U0, U*) ~ p^{fit.slope:.2f} (CI {fit.ci_low:.2f}..{fit.ci_high:.2f}); "
               f"dist at p={ps[-1]:.2f}: {dists[-1]:.3f}",
        measured={"p": ps.tolist(), "distance": dists.tolist(), "slope": fit.as_dict()},
        predicted={"slope": -0.5},
        series={"p": ps.tolist(), "distance": dists.tolist()},
    )


@spectral_init_claim.control
def _(scale, seed):
    # An initialiser that ignores the observations (a random subspace) has no p-dependence.
    with one_thread(numba=True):
        ps, dists = _init_distances(
            scale, seed, lambda e, k, rng: np.linalg.qr(rng.standard_normal((e.shape[0], k)))[0])
    ok, fit = _init_check(ps, dists)
    return Result(passed=ok, reason=f"random subspace: slope {fit.slope:.2f}, dist {dists[-1]:.3f}",
                  measured={"distance": dists.tolist()}, series={"p": ps.tolist(), "distance": dists.tolist()})


@spectral_init_claim.plot
def _(result, control):
    fig, ax = new_figure()
    p = np.array(result.series["p"])
    d = np.array(result.series["distance"])
    ax.loglog(p, d, "o-", label="spectral init (median)")
    ax.loglog(p, d[0] * (p / p[0]) ** -0.5, "k--", lw=0.8, label="slope -1/2")
    if control is not None and "distance" in control.series:
        ax.loglog(control.series["p"], control.series["distance"], "s:", color="gray", label="control: random")
    ax.set_xlabel("sampling rate p")
    ax.set_ylabel("dist(U_0, U*) = ||(I - U_0 U_0^T) U*||_2")
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------------
# G2c: tolerated inexactness does not shrink with n
# --------------------------------------------------------------------------------------------------

_EPS0 = (0.1, 0.25, 0.5, 0.8, 1.2, 2.0)


def _relative_injection(eps0, truth, rng, *, adaptive=True):
    """Perturb each half-step by eps0 times the exact step's size (adaptive) or eps0 * sigma_min (fixed).

    The direction is a Gaussian matrix projected off the true subspace (the adversarial case: it pushes the
    iterate away from U*, V*). ``adaptive`` models an inexact solver whose error is relative to the current
    one, as in the paper's forward-error bound; the fixed size models a solver with an absolute accuracy.
    """
    U_star, s, V_star = truth

    def perturb(F, current, side):
        basis = V_star if side == 0 else U_star
        G = rng.standard_normal(F.shape)
        G -= basis @ (basis.T @ G)
        size = eps0 * (np.linalg.norm(F - current, 2) if adaptive else s[-1])
        return F + size * G / np.linalg.norm(G, 2)
    return perturb


def _thresholds(scale, seed, adaptive):
    ns, k = ((120, 240, 480), 3) if scale == "quick" else ((200, 400, 800, 1600), 4)
    out, finals = [], {}
    with one_thread(numba=True):
        for n in ns:
            truth, entries = _instance(n, k, 3.0, seed)
            ok_eps = []
            finals[n] = []
            for eps0 in _EPS0:
                rng = np.random.default_rng(seed)
                _, err = _altmin_path(entries, k, truth, rng, n_iter=30,
                                      perturb=_relative_injection(eps0, truth, rng, adaptive=adaptive))
                finals[n].append(float(err[-1]))
                if err[-1] < 1e-8:
                    ok_eps.append(eps0)
            out.append(max(ok_eps) if ok_eps else float("nan"))
    return list(ns), out, finals


def _threshold_check(thresholds):
    t = np.asarray(thresholds, dtype=float)
    ok = bool(np.all(np.isfinite(t)) and t.max() / t.min() <= 2.0 and t[-1] >= t[0] / 2.0)
    return ok


@claim(
    id="completion.tolerated-inexactness",
    paper=PAPER,
    where="Theorem 4.2 / forward-error lemma: the per-step accuracy needed is a constant, not shrinking with n",
    statement="AltMin converges when each half-step is perturbed by up to a constant fraction eps0 of the exact "
              "step (adversarial direction off the true subspace), and that constant does not shrink as n grows.",
    prediction="largest eps0 on the grid (0.1 .. 2) with relative error < 1e-8 after 30 iterations, for each n: "
                "all finite, max/min <= 2 and no drop by more than 2x from the smallest to the largest n "
                "(suite choices; the paper gives no constant).",
)
def tolerated_inexactness(scale, seed):
    ns, thresholds, finals = _thresholds(scale, seed, adaptive=True)
    ok = _threshold_check(thresholds)
    return Result(
        passed=ok,
        reason="largest tolerated eps0 per n: " + ", ".join(f"n={n}: {t:g}" for n, t in zip(ns, thresholds)),
        measured={"n": ns, "threshold": thresholds, "eps0_grid": list(_EPS0),
                  "final_errors": {str(n): v for n, v in finals.items()}},
        predicted={"threshold_ratio_at_most": 2.0},
        series={"n": ns, "threshold": thresholds, "finals": {str(n): v for n, v in finals.items()}},
    )


@tolerated_inexactness.control
def _(scale, seed):
    # Perturbations of fixed size eps0 * sigma_min (not shrinking with the error): an absolute-accuracy
    # solver, which cannot reach 1e-8 for any eps0 on the grid.
    ns, thresholds, finals = _thresholds(scale, seed, adaptive=False)
    return Result(passed=_threshold_check(thresholds),
                  reason="fixed-size injection: tolerated eps0 per n " + ", ".join(
                      f"n={n}: {t:g}" for n, t in zip(ns, thresholds)),
                  measured={"threshold": thresholds},
                  series={"n": ns, "finals": {str(n): v for n, v in finals.items()}})


@tolerated_inexactness.plot
def _(result, control):
    fig, ax = new_figure()
    for n, finals in result.series["finals"].items():
        ax.loglog(_EPS0, np.maximum(finals, 1e-16), "o-", label=f"n={n}, relative to step")
    if control is not None and "finals" in control.series:
        for n, finals in control.series["finals"].items():
            ax.loglog(_EPS0, np.maximum(finals, 1e-16), "s:", color="gray", alpha=0.7,
                      label=f"control n={n}, fixed size")
    ax.axhline(1e-8, color="r", lw=0.8, label="success threshold 1e-8")
    ax.set_xlabel("injected inexactness eps0")
    ax.set_ylabel("relative error after 30 iterations")
    ax.legend(fontsize=6)
    return fig
