"""Claims of Ma & Fattahi (2023): sub-gradient method for robust, over-parameterized matrix sensing.

Setting (digest ``completion_and_subgm.md`` part B): X* = U* U*^T PSD of rank
r with eigenvalues linspace(1, 1/kappa, r) (kappa = 2), symmetric Gaussian
measurements (``lrla.GaussianSensing``), y = A(X*) + s; SubGM on the l1 loss
with a factor of r' >= r columns, U_0 = alpha G / ||G||, steps eta_0 rho^t
(``lrla.SubgradientRecovery``). Error = ||U U^T - X*||_F / ||X*||_F.

The paper's constants are not available (digest: [M]); the figures are
"paper-figure replicas (unverified settings)" of the digest's pilot runs, and
every threshold below comes from the digest's test matrix (B.4), fixed before
these runs. Baselines: l2-loss gradient descent with small initialization
(Stoeger-Soltanolkotabi), and the convex l1 + trace program in cvxpy
(:func:`convex_l1_trace`, used by the benchmarks; needs the ``cvx`` extra).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import integrate

from lrla.datasets import make_sensing_problem
from lrla.exceptions import ConvergenceWarning
from lrla.recovery import GaussianSensing, SubgradientRecovery
from lrla.recovery.subgradient import _top_rates

from .core import Result, claim, new_figure, one_thread
from .stats import loglog_slope

PAPER = ("J. Ma and S. Fattahi, Global convergence of sub-gradient method for robust matrix recovery: "
         "small initialization, noisy measurements, and over-parameterization, JMLR 24 (2023), "
         "arXiv:2202.08788")
SUCCESS = 1e-3  # relative error counted as exact recovery (above the alpha = 1e-6 floors, digest B.7)


# ---------------------------------------------------------------------------- shared machinery
def rel_error(X, X_true):
    return float(np.linalg.norm(X - X_true) / np.linalg.norm(X_true))


def subgm(prob, rank, *, seed, quiet=False, **params):
    """``SubgradientRecovery`` on a problem; returns the estimator (error history recorded)."""
    est = SubgradientRecovery(rank, random_state=seed, **params)
    with warnings.catch_warnings():
        if quiet:  # runs that break the budget rule on purpose (controls)
            warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(prob.operator, prob.y, X_true=prob.X)


def factored_descent(op, y, X_true, U0, steps, *, loss):
    """Plain factored (sub)gradient loop with an arbitrary step sequence; returns the error path.

    ``loss="l1"``: SubGM direction (S + S^T) U, S = A*(sign(res))/m. ``loss="l2"``: the
    gradient (G + G^T) U of (1/2m) ||A(U U^T) - y||^2, G = A*(res)/m (the Stoeger-Soltanolkotabi
    baseline, with small initialization).
    """
    m = op.n_measurements
    U = U0.copy()
    errors = np.empty(len(steps))
    with one_thread():
        for t, eta in enumerate(steps):
            if loss == "l1":
                GR, GtL, _ = op._sign_step(U, U, y)
            else:
                res = op._forward_factored(U, U) - y
                GR, GtL = op._adjoint_products(res / m, U, U)
            errors[t] = rel_error(U @ U.T, X_true)
            U = U - eta * (GR + GtL)
            if not np.isfinite(U).all():
                errors[t:] = np.inf
                break
    return errors


def small_init(d, rank, alpha, seed):
    G = np.random.default_rng(seed).standard_normal((d, rank))
    return alpha * G / np.linalg.norm(G, 2)


def first_below(errors, level):
    idx = np.flatnonzero(np.asarray(errors) < level)
    return int(idx[0]) if idx.size else None


def convex_l1_trace(op, y, *, lam=1e-4, solver=None):
    """Convex baseline: min_X (1/m) ||y - A(X)||_1 + lam tr(X) s.t. X PSD (cvxpy; small d only).

    Returns None when cvxpy is not installed (optional extra ``cvx``).
    """
    try:
        import cvxpy as cp
    except ImportError:
        return None
    d = op.shape[0]
    mats = np.stack([op.adjoint(np.eye(op.n_measurements)[i]) for i in range(op.n_measurements)])
    X = cp.Variable((d, d), PSD=True)
    meas = mats.reshape(op.n_measurements, -1) @ cp.vec(X, order="C")
    prob = cp.Problem(cp.Minimize(cp.norm1(y - meas) / op.n_measurements + lam * cp.trace(X)))
    prob.solve(solver=solver)
    return np.asarray(X.value)


# ---------------------------------------------------------------------------- S1
@claim(
    id="recovery.overparam-agnostic",
    paper=PAPER,
    where="main theorem (abstract: small initialization nullifies over-parameterization); digest S1",
    statement="With small initialization, the iterations SubGM needs to reach relative error 1e-2 and 1e-4 do "
              "not depend on the over-estimated rank r' in {r, 2r, 4r, d}.",
    prediction="it(1e-2) and it(1e-4): max/min over r' <= 1.25 (digest B-S1), all r' reach both levels; "
               "control: large initialization (alpha = sqrt(scale)) with r' in {r, d} breaks the same check "
               "(r' = d stalls near 1e-2).",
)
def overparam_agnostic(scale, seed):
    return _s1(scale, seed, init_scale=1e-6)


LEVELS = (1e-2, 1e-4)


def _s1_setup(scale):
    if scale == "quick":
        return dict(d=20, r=2, m=800, p=0.2, ranks=[2, 4, 8, 20], n_iter=1000)
    return dict(d=30, r=2, m=2400, p=0.3, ranks=[2, 4, 8, 30], n_iter=1500)


def _s1(scale, seed, *, init_scale, ranks=None):
    cfg = _s1_setup(scale)
    ranks = cfg["ranks"] if ranks is None else ranks
    prob = make_sensing_problem(cfg["d"], cfg["r"], cfg["m"], corruption=cfg["p"], random_state=seed)
    # one step schedule for every r' (the defaults depend only on y): the defaults of the exact rank
    ref = subgm(prob, cfg["r"], seed=seed, n_iter=1, quiet=True)
    paths, iters = {}, {level: {} for level in LEVELS}
    for rp in ranks:
        est = subgm(prob, rp, seed=seed + 1, quiet=init_scale >= 1e-2, init_scale=init_scale,
                    step_size=ref.step_size_, decay=ref.decay_, n_iter=cfg["n_iter"])
        paths[rp] = est.history_["error"]
        for level in LEVELS:
            iters[level][rp] = first_below(paths[rp], level)
    spreads, parts = {}, []
    for level in LEVELS:
        its = iters[level]
        reached = all(v is not None for v in its.values())
        spreads[level] = max(its.values()) / max(min(its.values()), 1) if reached else math.inf
        parts.append(f"it({level:g}) = {its}, max/min {spreads[level]:.3g}" if reached
                     else f"it({level:g}) = {its}: not all r' reach {level:g} in {cfg['n_iter']} iterations")
    passed = all(v <= 1.25 for v in spreads.values())
    return Result(
        passed=passed,
        reason="; ".join(parts) + " (max/min <= 1.25 asserted at both levels)",
        measured={"iterations": {f"{lv:g}": {str(k): v for k, v in its.items()} for lv, its in iters.items()},
                  "spread": {f"{lv:g}": v for lv, v in spreads.items()},
                  "final_error": {str(k): float(v[-1]) for k, v in paths.items()}, "init_scale": init_scale},
        predicted={"spread_max": 1.25},
        series={"paths": paths},
    )


@overparam_agnostic.control
def _(scale, seed):
    cfg = _s1_setup(scale)
    return _s1(scale, seed, init_scale=1.0, ranks=[cfg["r"], cfg["d"]])


@overparam_agnostic.plot
def _(result, control):
    fig, ax = new_figure()
    for rp, path in result.series["paths"].items():
        ax.semilogy(path, label=f"small init, r'={rp}")
    if control is not None:
        for rp, path in control.series["paths"].items():
            ax.semilogy(path, "--", label=f"large init, r'={rp}")
    for level in LEVELS:
        ax.axhline(level, color="k", lw=0.5)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("relative error")
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S2
@claim(
    id="recovery.linear-rate",
    paper=PAPER,
    where="main theorem (linear convergence with geometric steps); digest S2",
    statement="After the escape phase, log(error) falls with slope ln(rho): the rate is set by the step decay.",
    prediction="least-squares slope of ln(error) on the window 1e-2 > error > 1e-9 within 20% of ln(rho) for "
               "each rho (digest B-S2); control: constant step (no decay) breaks the same check.",
)
def linear_rate(scale, seed):
    return _s2(scale, seed, constant=False)


def _s2_setup(scale):
    if scale == "quick":
        return dict(d=20, r=2, m=600, rhos=[0.97, 0.98, 0.99])
    return dict(d=30, r=2, m=1200, rhos=[0.98, 0.99, 0.995])


def _window_slope(errors, hi=1e-2, lo=1e-9):
    e = np.asarray(errors)
    start = first_below(e, hi)
    if start is None:
        return math.nan, None
    stop = first_below(e, lo)
    stop = e.size if stop is None else stop
    t = np.arange(start, stop)
    if t.size < 10:
        return math.nan, None
    return float(np.polyfit(t, np.log(e[start:stop]), 1)[0]), (start, stop)


def _s2(scale, seed, *, constant):
    cfg = _s2_setup(scale)
    prob = make_sensing_problem(cfg["d"], cfg["r"], cfg["m"], corruption=0.3, random_state=seed)
    slopes, paths, ok = {}, {}, True
    for rho in cfg["rhos"]:
        n_iter = int(math.ceil(math.log(1e-11) / math.log(rho)))
        est = subgm(prob, cfg["r"], seed=seed + 1, init_scale=1e-3, decay=rho, n_iter=n_iter)
        path = est.history_["error"]
        if constant:  # same initial step, no decay
            U0 = small_init(cfg["d"], cfg["r"], est.alpha_, seed + 1)
            path = factored_descent(prob.operator, prob.y, prob.X, U0, np.full(n_iter, est.step_size_), loss="l1")
        slope, _ = _window_slope(path)
        slopes[rho] = slope
        paths[rho] = path
        ok &= bool(np.isfinite(slope) and abs(slope - math.log(rho)) < 0.2 * abs(math.log(rho)))
    detail = ", ".join(f"rho={r}: {s:.4g} vs {math.log(r):.4g}" for r, s in slopes.items())
    return Result(
        passed=ok,
        reason=f"fitted slopes {detail} (|slope - ln rho| < 0.2 |ln rho| asserted)",
        measured={"slopes": {str(k): v for k, v in slopes.items()}, "constant_step": constant},
        predicted={"slopes": {str(r): math.log(r) for r in slopes}},
        series={"paths": paths},
    )


@linear_rate.control
def _(scale, seed):
    return _s2(scale, seed, constant=True)


@linear_rate.plot
def _(result, control):
    fig, ax = new_figure()
    for rho, path in result.series["paths"].items():
        (line,) = ax.semilogy(path, label=f"rho={rho}")
        t = np.arange(path.size)
        ax.semilogy(t, 1e-2 * rho ** (t - (first_below(path, 1e-2) or 0)), ":", color=line.get_color(), lw=0.8)
    if control is not None:
        for rho, path in control.series["paths"].items():
            ax.semilogy(path, "--", lw=0.8, label=f"constant step ({rho} schedule's eta0)")
    ax.set_ylim(1e-12, 3)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("relative error (dotted: slope ln rho)")
    ax.legend(fontsize=6)
    return fig


# ---------------------------------------------------------------------------- S3
@claim(
    id="recovery.init-scale-floor",
    paper=PAPER,
    where="main theorem (final error polynomial in the initialization scale for r' > r); digest S3",
    statement="With r' > r the error floor shrinks polynomially in the initialization scale alpha.",
    prediction="log-log slope of the floor (median error of the last 10% of iterations) against alpha: "
               "95% CI above 0 and slope in [0.8, 2.5] (digest B-S3); control: r' = r has no alpha floor "
               "(the error is set by rho^T), so the same check fails.",
)
def init_scale_floor(scale, seed):
    return _s3(scale, seed, overparam=True)


def _s3(scale, seed, *, overparam):
    d, r, m = (15, 2, 600) if scale == "quick" else (30, 2, 1200)
    alphas = [1e-2, 1e-4, 1e-6, 1e-8] if scale == "quick" else [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
    rank = 3 * r if overparam else r
    prob = make_sensing_problem(d, r, m, random_state=seed)
    # one schedule for all alpha, meeting the step-budget rule (with its 1.5 margin) at the smallest alpha;
    # the reference is the measured fit itself (same rank and seed: the same noise probes, hence the same
    # growth-rate estimate; a reference with another seed missed the margin by 0.2 % and warned)
    ref = subgm(prob, rank, seed=seed + 1, init_scale=min(alphas), n_iter=1, quiet=True)
    decay = 1.0 - (1.0 - ref.decay_) * min(1.0, ref.budget_ratio_ / 1.5)
    # run until rho^T is far below the smallest floor, so that the floor (not the schedule) is measured
    n_iter = int(math.ceil(math.log(1e-13) / math.log(decay)))
    floors, paths = [], {}
    for a in alphas:
        est = subgm(prob, rank, seed=seed + 1, init_scale=a, step_size=ref.step_size_, decay=decay,
                    n_iter=n_iter)
        path = est.history_["error"]
        paths[a] = path
        floors.append(float(np.median(path[-n_iter // 10:])))
    fit = loglog_slope(alphas, floors)
    passed = fit.ci_low > 0 and 0.8 <= fit.slope <= 2.5
    return Result(
        passed=passed,
        reason=f"r'={rank}: floor slope {fit.slope:.3g} (95% CI [{fit.ci_low:.3g}, {fit.ci_high:.3g}]); "
               "asserted CI > 0 and slope in [0.8, 2.5]",
        measured={"floors": dict(zip(map(str, alphas), floors)), "fit": fit.as_dict(), "rank": rank,
                  "decay": decay, "n_iter": n_iter},
        predicted={"slope_band": [0.8, 2.5], "ideal_noiseless_slope": 2.0},
        series={"alphas": alphas, "floors": floors, "paths": paths},
    )


@init_scale_floor.control
def _(scale, seed):
    return _s3(scale, seed, overparam=False)


@init_scale_floor.plot
def _(result, control):
    fig, ax = new_figure()
    ax.loglog(result.series["alphas"], result.series["floors"], "o-", label=f"r'={result.measured['rank']}")
    if control is not None:
        ax.loglog(control.series["alphas"], control.series["floors"], "s--",
                  label=f"control r'={control.measured['rank']}")
    ax.set_xlabel("initialization scale alpha (relative)")
    ax.set_ylabel("error floor")
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S4
@claim(
    id="recovery.dense-outliers",
    paper=PAPER,
    where="main theorem (arbitrarily large and dense outliers); digest S4",
    statement="SubGM recovers X* exactly under one-sided outliers of size 10 max|A(X*)| on up to 80% of the "
              "measurements given enough of them, and the measurements needed grow as the clean fraction shrinks.",
    prediction="minimal m on a doubling grid (success = error < 1e-3) exists for every p up to 0.8 and is "
               "non-decreasing in p; the slope of log m*(p) on log(1-p) is reported (theory-like -2, not "
               "asserted). Control: l2-loss gradient descent (small init, oracle step) fails already at p = 0.05.",
)
def dense_outliers(scale, seed):
    if scale == "quick":
        d, r, ps, grid = 20, 2, [0.0, 0.3, 0.6, 0.8], [100, 200, 400, 800, 1600, 3200]
    else:
        d, r, ps, grid = 30, 2, [0.0, 0.3, 0.6, 0.7, 0.8], [150, 300, 600, 1200, 2400, 4800, 9600]
    m_star, table = {}, {}
    for p in ps:
        m_star[p] = None
        for m in grid:
            prob = make_sensing_problem(d, r, m, corruption=p, random_state=seed)
            err = rel_error(subgm(prob, r, seed=seed + 1, quiet=True).X_, prob.X)
            table[(p, m)] = err
            if err < SUCCESS:
                m_star[p] = m
                break
    found = [m_star[p] for p in ps]
    monotone = all(v is not None for v in found) and all(a <= b for a, b in zip(found, found[1:]))
    slope = math.nan
    pos = [p for p in ps if m_star[p] is not None and p > 0]
    if len(pos) >= 2:
        slope = float(np.polyfit(np.log(1 - np.array(pos)), np.log([m_star[p] for p in pos]), 1)[0])
    return Result(
        passed=monotone,
        reason=f"m*(p) = {m_star} (all found and non-decreasing asserted); slope of log m* vs log(1-p) "
               f"{slope:.3g} (reported)",
        measured={"m_star": {str(k): v for k, v in m_star.items()}, "slope_log_m_vs_log_clean": slope,
                  "d": d, "r": r},
        predicted={"slope_theory_like": -2.0},
        series={"table": table, "ps": ps, "grid": grid, "m_star": m_star},
    )


@dense_outliers.control
def _(scale, seed):
    d, r, m = (20, 2, 1600) if scale == "quick" else (30, 2, 4800)
    prob = make_sensing_problem(d, r, m, corruption=0.05, random_state=seed)
    U0 = small_init(d, r, 1e-6, seed + 1)
    errors = factored_descent(prob.operator, prob.y, prob.X, U0, np.full(1500, 0.2), loss="l2")
    err = float(errors[-1])
    return Result(passed=err < SUCCESS, reason=f"l2-loss GD at p=0.05, m={m}: final error {err:.3g}",
                  measured={"final_error": err, "min_error": float(np.min(errors))}, series={"path": errors})


@dense_outliers.plot
def _(result, control):
    fig, ax = new_figure()
    ps = result.series["ps"]
    for (p, m), err in result.series["table"].items():
        ax.scatter(1 - p, m, c="tab:green" if err < SUCCESS else "tab:red", s=20)
    found = [(1 - p, result.series["m_star"][p]) for p in ps if result.series["m_star"][p] is not None]
    if found:
        x, y = zip(*found)
        ax.loglog(x, y, "k-", lw=0.8, label="m*(p)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clean fraction 1 - p")
    ax.set_ylabel("measurements m (green: error < 1e-3)")
    if control is not None:
        ax.set_title(f"l2-GD at p=0.05: final error {control.measured['final_error']:.2g}", fontsize=8)
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S5
@claim(
    id="recovery.sample-size-rank-free",
    paper=PAPER,
    where="main theorem (for Gaussian measurements the sample size is independent of r'); digest S5",
    statement="The number of measurements SubGM needs for exact recovery does not depend on the "
              "over-estimated rank r'.",
    prediction="minimal m on a grid (success = error < 1e-3, alpha = 1e-6) for r' in {r, 2r, d} agree within "
               "one grid step (digest B-S5); control: with large initialization (alpha = 1) r' = d needs "
               "more than one grid step more (or never succeeds).",
)
def sample_size_rank_free(scale, seed):
    return _s5(scale, seed, init_scale=1e-6)


def _s5(scale, seed, *, init_scale):
    if scale == "quick":
        d, r, grid, seeds = 15, 2, [90, 120, 180, 240, 360, 480, 720], [seed]
    else:
        d, r, grid, seeds = 20, 2, [80, 120, 160, 240, 320, 480, 640, 960], [seed + k for k in range(5)]
    ranks = [r, 2 * r, d]
    # success rates, scanned up the grid until each r' reaches 1/2 (larger m do not move the threshold)
    success = {rp: np.full(len(grid), np.nan) for rp in ranks}
    idx = {rp: None for rp in ranks}
    floor_errors = {rp: [] for rp in ranks}
    for j, m in enumerate(grid):
        todo = [rp for rp in ranks if idx[rp] is None]
        if not todo:
            break
        wins = {rp: 0 for rp in todo}
        for s in seeds:
            prob = make_sensing_problem(d, r, m, corruption=0.2, random_state=s)
            ref = subgm(prob, r, seed=s, n_iter=1, quiet=True)
            for rp in todo:
                est = subgm(prob, rp, seed=s + 1, quiet=True, init_scale=init_scale, step_size=ref.step_size_,
                            n_iter=1600)
                err = rel_error(est.X_, prob.X)
                wins[rp] += err < SUCCESS
                if err >= SUCCESS:
                    floor_errors[rp].append(err)
        for rp in todo:
            success[rp][j] = wins[rp] / len(seeds)
            if success[rp][j] >= 0.5:
                idx[rp] = j
    found = [v for v in idx.values() if v is not None]
    passed = len(found) == len(ranks) and max(found) - min(found) <= 1
    m_star = {str(rp): (grid[i] if i is not None else None) for rp, i in idx.items()}
    return Result(
        passed=passed,
        reason=f"50% success threshold m* = {m_star} for r' = {ranks} (agreement within one grid step asserted); "
               "median error of the unsuccessful runs per r': "
               + ", ".join(f"{rp}: {np.median(v):.2g}" for rp, v in floor_errors.items() if v),
        measured={"m_star": m_star, "init_scale": init_scale, "n_seeds": len(seeds),
                  "median_error_of_failures": {str(rp): (float(np.median(v)) if v else None)
                                               for rp, v in floor_errors.items()}},
        predicted={"grid_steps_apart_max": 1},
        series={"grid": grid, "success": success},
    )


@sample_size_rank_free.control
def _(scale, seed):
    return _s5(scale, seed, init_scale=1.0)


@sample_size_rank_free.plot
def _(result, control):
    fig, ax = new_figure()
    for rp, s in result.series["success"].items():
        ax.semilogx(result.series["grid"], s, "o-", label=f"small init, r'={rp}")  # NaN after threshold
    if control is not None:
        for rp, s in control.series["success"].items():
            ax.semilogx(control.series["grid"], s, "x--", lw=0.8, label=f"large init, r'={rp}")
    ax.set_xlabel("measurements m")
    ax.set_ylabel("success rate (error < 1e-3)")
    ax.legend(fontsize=6)
    return fig


# ---------------------------------------------------------------------------- S6
@claim(
    id="recovery.gaussian-noise",
    paper=PAPER,
    where="main theorem (dense Gaussian noise: error proportional to the noise level); digest S6",
    statement="Under dense Gaussian noise of level nu, SubGM's final error is proportional to nu and does "
              "not grow with the over-estimated rank r'.",
    prediction="log-log slope of final error on nu in [0.9, 1.1] and error(r'=d)/error(r'=r) <= 1.25 at every "
               "nu (digest B-S6); control: large initialization (alpha = 1) with r' = d breaks the same check.",
)
def gaussian_noise(scale, seed):
    return _s6(scale, seed, init_scale=1e-6)


def _s6(scale, seed, *, init_scale):
    d, r, m = (20, 2, 800) if scale == "quick" else (30, 2, 1200)
    nus = [1e-3, 1e-2, 1e-1] if scale == "quick" else [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    ranks = [r, d]
    errors = {rp: [] for rp in ranks}
    for nu in nus:
        prob = make_sensing_problem(d, r, m, noise="gaussian", noise_level=nu, random_state=seed)
        ref = subgm(prob, r, seed=seed, n_iter=1, quiet=True)
        for rp in ranks:
            est = subgm(prob, rp, seed=seed + 1, quiet=True, init_scale=init_scale if rp > r else 1e-6,
                        step_size=ref.step_size_, n_iter=1500)
            errors[rp].append(rel_error(est.X_, prob.X))
    fit = loglog_slope(nus, errors[d])
    ratios = [b / a for a, b in zip(errors[r], errors[d])]
    passed = 0.9 <= fit.slope <= 1.1 and max(ratios) <= 1.25
    heuristic = [math.sqrt(math.pi / 2) * nu * math.sqrt(d * r / m) / np.linalg.norm(prob.X) for nu in nus]
    return Result(
        passed=passed,
        reason=f"r'=d error slope on nu {fit.slope:.3g} (CI [{fit.ci_low:.3g}, {fit.ci_high:.3g}], [0.9, 1.1] "
               f"asserted); max error ratio r'=d / r'=r {max(ratios):.3g} (<= 1.25 asserted)",
        measured={"errors": {str(k): v for k, v in errors.items()}, "fit": fit.as_dict(), "ratios": ratios,
                  "init_scale": init_scale},
        predicted={"slope": 1.0, "lad_heuristic_error": heuristic},
        series={"nus": nus, "errors": errors, "heuristic": heuristic},
    )


@gaussian_noise.control
def _(scale, seed):
    return _s6(scale, seed, init_scale=1.0)


@gaussian_noise.plot
def _(result, control):
    fig, ax = new_figure()
    nus = result.series["nus"]
    for rp, e in result.series["errors"].items():
        ax.loglog(nus, e, "o-", label=f"r'={rp}")
    ax.loglog(nus, result.series["heuristic"], "k:", label="sqrt(pi/2) nu sqrt(dr/m)/||X*||")
    if control is not None:
        rp = max(control.series["errors"])
        ax.loglog(nus, control.series["errors"][rp], "x--", label=f"large init, r'={rp}")
    ax.set_xlabel("noise level nu")
    ax.set_ylabel("final relative error")
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S7
def phi_closed_form(norm_x, p, outlier_max):
    """phi(X) for one-sided outliers s ~ outlier_max * U(0, 1) with probability p (digest B.2)."""
    if p == 0:
        return math.sqrt(2 / math.pi)
    tail, _ = integrate.quad(lambda u: math.exp(-(outlier_max * u) ** 2 / (2 * norm_x**2)), 0.0, 1.0)
    return math.sqrt(2 / math.pi) * (1 - p + p * tail)


@claim(
    id="recovery.sign-rip",
    paper=PAPER,
    where="Sign-RIP definition and its sample size for Gaussian measurements; digest S7",
    statement="The l1 sub-differential concentrates around phi(X) X/||X||_F with the closed-form scaling "
              "function phi, with a deviation (in the rank-k Frobenius norm) that falls like m^(-1/2).",
    prediction="for p in {0, 0.5} (one-sided outliers 5 U(0,1), ||X||_F = 0.5): log-log slope of the mean "
               "deviation delta on m in [-0.6, -0.4] (digest B-S7) and |<Q(X), X/||X||> - phi| <= 4/sqrt(m) "
               "at every m; control: the clean phi (ignoring the outliers) breaks the same check.",
)
def sign_rip(scale, seed):
    return _s7(scale, seed, misspecified=False)


def _fk_norm(M, k):
    s = np.linalg.svd(M, compute_uv=False)
    return float(np.sqrt(np.sum(s[:k] ** 2)))


def _s7(scale, seed, *, misspecified):
    d, k = 20, 2
    ms = [1000, 2000, 4000, 8000, 16000] if scale == "quick" else list(np.geomspace(1000, 64000, 7).astype(int))
    n_x = 4 if scale == "quick" else 10
    ps, outlier_max, norm_x = [0.0, 0.5], 5.0, 0.5
    rng = np.random.default_rng(seed)
    deltas = {p: [] for p in ps}
    phi_gap = {p: [] for p in ps}
    phi_true = {p: phi_closed_form(norm_x, p, outlier_max) for p in ps}
    phi_used = {p: (phi_closed_form(norm_x, 0.0, outlier_max) if misspecified else phi_true[p]) for p in ps}
    for m in ms:
        op = GaussianSensing(d, m, random_state=rng)
        for p in ps:
            dev, gap = [], []
            for _ in range(n_x):
                V = rng.standard_normal((d, k))
                X = V @ V.T
                X *= norm_x / np.linalg.norm(X)
                s = np.where(rng.random(m) < p, outlier_max * rng.random(m), 0.0)
                Q = op.adjoint(np.sign(op(X) - s)) / m
                dev.append(_fk_norm(Q - phi_used[p] * X / norm_x, k) / phi_used[p])
                gap.append(abs(np.sum(Q * X) / norm_x - phi_used[p]))
            deltas[p].append(float(np.mean(dev)))
            phi_gap[p].append(float(np.max(gap)))
    fits = {p: loglog_slope(ms, deltas[p]) for p in ps}
    slope_ok = all(-0.6 <= f.slope <= -0.4 for f in fits.values())
    phi_ok = all(g <= 4 / math.sqrt(m) for p in ps for g, m in zip(phi_gap[p], ms))
    return Result(
        passed=slope_ok and phi_ok,
        reason="delta slopes " + ", ".join(f"p={p}: {f.slope:.3g}" for p, f in fits.items())
               + f" ([-0.6, -0.4] asserted); phi within 4/sqrt(m): {phi_ok}",
        measured={"slopes": {str(p): f.as_dict() for p, f in fits.items()},
                  "phi_gap_times_sqrt_m": {str(p): [g * math.sqrt(m) for g, m in zip(phi_gap[p], ms)] for p in ps},
                  "phi_used": {str(p): v for p, v in phi_used.items()}},
        predicted={"slope": -0.5, "phi": {str(p): v for p, v in phi_true.items()}},
        series={"ms": ms, "deltas": deltas},
    )


@sign_rip.control
def _(scale, seed):
    return _s7(scale, seed, misspecified=True)


@sign_rip.plot
def _(result, control):
    fig, ax = new_figure()
    ms = result.series["ms"]
    for p, dl in result.series["deltas"].items():
        ax.loglog(ms, dl, "o-", label=f"p={p}")
    if control is not None:
        for p, dl in control.series["deltas"].items():
            if p > 0:
                ax.loglog(ms, dl, "x--", label=f"p={p}, clean phi (control)")
    ax.loglog(ms, result.series["deltas"][0.0][0] * np.sqrt(ms[0] / np.asarray(ms)), "k:", label="m^-1/2")
    ax.set_xlabel("measurements m")
    ax.set_ylabel("Sign-RIP deviation delta")
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S8
@claim(
    id="recovery.structured-outliers-break",
    paper=PAPER,
    where="outlier model assumption (noise independent of the measurements); digest S8",
    statement="The independence of the outliers is essential: outliers consistent with another low-rank "
              "matrix X_fake (s_i = <A_i, X_fake - X*>) break recovery once they are the majority.",
    prediction="SubGM recovers X* (error < 1e-3) at p = 0.3 but not (error > 0.1) at p = 0.7 structured "
               "outliers; control: independent one-sided outliers at the same p do not break it.",
)
def structured_outliers_break(scale, seed):
    return _s8(scale, seed, structured=True)


def _s8(scale, seed, *, structured):
    d, r, m = (15, 2, 900) if scale == "quick" else (20, 2, 1600)
    ps = [0.3, 0.7] if scale == "quick" else [0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    errors, fake_errors = {}, {}
    for p in ps:
        prob = make_sensing_problem(d, r, m, corruption=p if not structured else 0.0, random_state=seed)
        if structured:
            rng = np.random.default_rng(seed + 7)
            Q, _ = np.linalg.qr(rng.standard_normal((d, r)))
            X_fake = (Q * np.linspace(1.0, 0.5, r)) @ Q.T
            mask = rng.random(m) < p
            y = prob.y.copy()
            y[mask] = prob.operator(X_fake)[mask]
            prob = prob._replace(y=y, outliers=mask)
        else:
            X_fake = None
        est = subgm(prob, r, seed=seed + 1, quiet=True)
        errors[p] = rel_error(est.X_, prob.X)
        fake_errors[p] = rel_error(est.X_, X_fake) if X_fake is not None else math.nan
    lo, hi = min(ps), max(ps)
    ok_low = errors[0.3] < SUCCESS
    broken_high = errors[0.7] > 0.1
    return Result(
        passed=ok_low and broken_high,
        reason=f"{'structured' if structured else 'independent'} outliers: error {errors[0.3]:.2g} at p=0.3 "
               f"(< 1e-3 asserted), {errors[0.7]:.2g} at p=0.7 (> 0.1 asserted)",
        measured={"errors": {str(k): v for k, v in errors.items()},
                  "distance_to_fake": {str(k): v for k, v in fake_errors.items()}, "p_range": [lo, hi]},
        predicted={"break_point": 0.5},
        series={"ps": ps, "errors": errors, "fake": fake_errors},
    )


@structured_outliers_break.control
def _(scale, seed):
    return _s8(scale, seed, structured=False)


@structured_outliers_break.plot
def _(result, control):
    fig, ax = new_figure()
    ps = result.series["ps"]
    ax.semilogy(ps, [result.series["errors"][p] for p in ps], "o-", label="structured: error to X*")
    ax.semilogy(ps, [result.series["fake"][p] for p in ps], "s:", label="structured: error to X_fake")
    if control is not None:
        ax.semilogy(control.series["ps"], [control.series["errors"][p] for p in control.series["ps"]], "x--",
                    label="independent outliers (control)")
    ax.axvline(0.5, color="k", lw=0.5)
    ax.set_xlabel("corrupted fraction p")
    ax.set_ylabel("relative error")
    ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------- S5 diagnosis (not a claim)
def diagnose_sample_size_floor(ms=(160, 240, 320, 480), ranks=(2, 4, 20), init_scales=(1e-6, 1e-9, 1e-12),
                               n_iters=(1600, 6400), decays=(None,), seeds=range(5), d=20, r=2, corruption=0.2,
                               verbose=False):
    """Why ``recovery.sample-size-rank-free`` fails: time, alpha or m?

    Runs S5's full-mode setting (same instances, the exact rank's default step,
    the rule's decay for each r', or the given ``decays``) at the measurement
    counts around its thresholds, for several initialization scales and
    iteration counts. Returns ``{(m, r', init_scale, n_iter, decay): array of
    relative errors over the seeds}`` (decay None: the default).
    If the over-parameterized errors fell with ``n_iter``, success would be
    time-limited; if they fell like ``init_scale^1.3`` (claim
    ``recovery.init-scale-floor``), alpha-limited. Run with
    ``python -c "from validation.recovery import diagnose_sample_size_floor as f; f(verbose=True)"``
    (about a minute) and, for the decay, ``f(ms=(320, 480), ranks=(4,), init_scales=(1e-6,),
    n_iters=(6000,), decays=(None, 0.99, 0.995), verbose=True)``; docs/recovery.md records the outcome.
    """
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for m in ms:
            problems = [make_sensing_problem(d, r, m, corruption=corruption, random_state=s) for s in seeds]
            steps = [subgm(p, r, seed=s, n_iter=1, quiet=True).step_size_ for p, s in zip(problems, seeds)]
            for rp in ranks:
                for a in init_scales:
                    for n_iter in n_iters:
                        for decay in decays:
                            out[(m, rp, a, n_iter, decay)] = np.array([
                                rel_error(subgm(p, rp, seed=s + 1, quiet=True, init_scale=a, step_size=step,
                                                decay=decay, n_iter=n_iter).X_, p.X)
                                for p, s, step in zip(problems, seeds, steps)
                            ])
    if verbose:
        _print_diagnosis(out)
    return out


def _print_diagnosis(out):
    for key, errs in out.items():
        m, rp, a, n_iter, decay = key
        print(f"m={m} r'={rp} init_scale={a:.0e} n_iter={n_iter} decay={decay or 'default'}: "
              f"median error {np.median(errs):.2e}, "
              f"success {int(np.sum(errs < SUCCESS))}/{errs.size}")


def diagnose_noise_edge_gap(ms=(120, 160, 240, 320, 480, 640, 960), d=20, r=2, corruption=0.2, seeds=range(5),
                            n_probes=19, verbose=False):
    """Where the over-parameterized threshold of ``recovery.sample-size-rank-free`` sits: the sign-noise edge.

    At U = 0 SubGM multiplies a direction v by about ``1 + eta v^T (S_0 + S_0^T) v`` per step, with
    ``S_0 = A*(sign y)/m`` a rank-r signal (growth rates ``g_i = 2 phi_0 sigma_i / ||X*||_F``) plus a
    Wigner-like noise whose spectrum ends at ``e``. The r true directions must grow from alpha to
    ``sqrt(sigma_i)``; the r' - r spare columns have no signal and grow at most like the noise edge. With
    ``g_r <= e`` the spare columns keep pace with the weakest true one and reach the error scale whatever
    alpha is; with ``g_r > e`` they lag, by a factor alpha^(1 - e / g_r). The exact rank has no spare
    columns and needs no such gap. ``e`` falls like ``sqrt(d / m)`` while ``g_r`` does not depend on m,
    so the gap sets a sample size that depends on d, r and kappa but not on r' (derived here, not
    from the paper).

    Returns ``{m: (edge, g_r, edge / g_r)}``, medians over the seeds, with ``e`` the mean top eigenvalue
    of ``n_probes`` random-sign probes and ``g_r`` from the truth with ``phi_0 = sqrt(2/pi) (1 - p)``
    (outliers far larger than the signal). Run with ``python -c "from validation.recovery import
    diagnose_noise_edge_gap as f; f(verbose=True)"`` (a few seconds); docs/recovery.md records it.
    """
    out = {}
    for m in ms:
        rows = []
        for s in seeds:
            prob = make_sensing_problem(d, r, m, corruption=corruption, random_state=s)
            signs = np.random.default_rng(1000 + s).choice([-1.0, 1.0], size=(m, n_probes))
            tops = _top_rates(prob.operator._adjoint_many(signs) / m, True)
            sigma_r = np.linalg.eigvalsh(prob.X)[-r]
            g_r = 2.0 * math.sqrt(2.0 / math.pi) * (1.0 - corruption) * sigma_r / np.linalg.norm(prob.X)
            rows.append((float(np.mean(tops)), g_r))
        edge, g_r = np.median(np.array(rows), axis=0)
        out[m] = (float(edge), float(g_r), float(edge / g_r))
        if verbose:
            print(f"m={m}: noise edge {edge:.3f}, weakest growth rate g_r {g_r:.3f}, edge / g_r {edge / g_r:.2f}")
    return out


def _ruled_descent(op, y, X_true, U0, step_rule, n_iter, stop):
    """SubGM whose step ``step_rule(loss, D)`` sees each iterate's loss and direction D = (S + S^T) U."""
    U = U0.copy()
    errors = []
    with one_thread():
        for _ in range(n_iter):
            GR, GtL, loss = op._sign_step(U, U, y)
            D = GR + GtL
            errors.append(rel_error(U @ U.T, X_true))
            if errors[-1] < stop:
                break
            U = U - step_rule(loss, D) * D
    return np.array(errors)


def kesten_descent(op, y, X_true, U0, eta0, shrink, n_iter, *, stop=1e-13):
    """SubGM with Kesten's step rule (1958): the step is multiplied by ``shrink`` after every
    iteration whose direction (S + S^T) U has a negative inner product with the previous one, and
    held otherwise. Returns the error path (cut at the first error below ``stop``).
    """
    state = {"eta": eta0, "previous": None}

    def rule(loss, D):
        if state["previous"] is not None and np.vdot(D, state["previous"]) < 0.0:
            state["eta"] *= shrink
        state["previous"] = D
        return state["eta"]

    return _ruled_descent(op, y, X_true, U0, rule, n_iter, stop)


def polyak_descent(op, y, X_true, U0, eta_cap, f_star, n_iter, *, stop=1e-13):
    """SubGM with Polyak's step ``(f(U) - f*) / ||D||^2``, capped at ``eta_cap``, D = (S + S^T) U.

    An oracle: ``f_star`` is the loss at X*, which needs the truth. Returns the error path (cut at the
    first error below ``stop``).
    """
    def rule(loss, D):
        return min(eta_cap, max(loss - f_star, 0.0) / max(float(np.vdot(D, D)), np.finfo(float).tiny))

    return _ruled_descent(op, y, X_true, U0, rule, n_iter, stop)


#: settings of :func:`diagnose_adaptive_schedule`: (name, d, r, m, corruption, condition)
_ADAPTIVE_SETTINGS = (
    ("benchmark (kappa 2)", 20, 2, 600, 0.3, 2.0),
    ("kappa 5", 20, 3, 900, 0.3, 5.0),
    ("kappa 10, p = 0.6", 20, 2, 1600, 0.6, 10.0),
)


def diagnose_adaptive_schedule(settings=_ADAPTIVE_SETTINGS, shrinks=(0.9, 0.95), seeds=range(5), n_iter=1500,
                               level=1e-4, verbose=False):
    """Would an adaptive step rule beat the default geometric schedule? Kesten's and Polyak's rules.

    The default schedule is what makes SubGM slow at d = 20 (445 iterations to 1e-4, docs/performance.md):
    the step-budget rule must fund the escape of the weakest true direction, whose growth rate the data
    may not resolve, so the decay stays at 0.98 or slower and the local phase converges at that rate.
    Kesten's rule needs no budget: the step stays put while successive directions agree (the escape) and
    shrinks when they turn against each other (oscillation around X*). Polyak's step (f(U) - f*) / ||D||^2
    follows the remaining excess loss, which includes the directions still escaping; it needs f*, here
    the loss at X*, so it is an oracle reference, not a usable rule.

    Per setting (``(name, d, r, m, corruption, condition)``), seed and r' in (r, d), all runs start from
    the same factor (alpha and eta0 of the estimator's defaults) and take ``n_iter`` steps: the geometric
    schedule eta0 rho^t with the default rho, Kesten's rule for each of ``shrinks``, and Polyak's step
    capped at eta0. Returns ``{(name, r', schedule): list of (first iteration below level or None,
    smallest error)}`` over the seeds, schedule ``"geometric"``, the shrink factor or
    ``"polyak (oracle f*)"``. Run with ``python -c "from validation.recovery import
    diagnose_adaptive_schedule as f; f(verbose=True)"`` (15 s); docs/recovery.md records the outcome.
    """
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, d, r, m, corruption, condition in settings:
            for s in seeds:
                prob = make_sensing_problem(d, r, m, corruption=corruption, condition=condition, random_state=s)
                for rp in (r, d):
                    ref = subgm(prob, rp, seed=s + 1, n_iter=1, quiet=True)
                    U0 = small_init(d, rp, ref.alpha_, 100 + s)
                    steps = ref.step_size_ * ref.decay_ ** np.arange(n_iter)
                    runs = {"geometric": factored_descent(prob.operator, prob.y, prob.X, U0, steps, loss="l1")}
                    for shrink in shrinks:
                        runs[shrink] = kesten_descent(prob.operator, prob.y, prob.X, U0, ref.step_size_, shrink,
                                                      n_iter)
                    f_star = float(np.mean(np.abs(prob.y - prob.operator(prob.X))))
                    runs["polyak (oracle f*)"] = polyak_descent(prob.operator, prob.y, prob.X, U0, ref.step_size_,
                                                                f_star, n_iter)
                    for schedule, errors in runs.items():
                        out.setdefault((name, rp, schedule), []).append(
                            (first_below(errors, level), float(np.min(errors))))
    if verbose:
        _print_schedule_runs(out, level, lambda hits, rows: (
            f"(median iterations {np.median(hits) if hits else float('nan'):.0f}), "
            f"median smallest error {np.median([e for _, e in rows]):.1e}"))
    return out


def _print_schedule_runs(out, level, describe):
    """One line per (setting, r', schedule) of a ``{key: [(first iteration below level or None, error)]}``."""
    for (name, rp, schedule), rows in out.items():
        hits = [h for h, _ in rows if h is not None]
        print(f"{name}, r'={rp}, {schedule}: below {level:.0e} in {len(hits)}/{len(rows)} " + describe(hits, rows))


#: settings of :func:`diagnose_adaptive_vs_geometric`: (name, d, r, m, make_sensing_problem keywords). The
#: first three are those of diagnose_adaptive_schedule; then a small dimension, two instances near the
#: sample-size threshold of SubGM and dense Gaussian noise
_SCHEDULE_SETTINGS = (
    ("benchmark (kappa 2)", 20, 2, 600, {"corruption": 0.3}),
    ("kappa 5", 20, 3, 900, {"corruption": 0.3, "condition": 5.0}),
    ("kappa 10, p = 0.6", 20, 2, 1600, {"corruption": 0.6, "condition": 10.0}),
    ("d = 8, m = 400, p = 0.2", 8, 2, 400, {"corruption": 0.2}),
    ("d = 8, m = 200, p = 0.2", 8, 2, 200, {"corruption": 0.2}),
    ("d = 20, m = 200, no noise", 20, 2, 200, {}),
    ("Gaussian noise 0.1, m = 800", 20, 2, 800, {"noise": "gaussian", "noise_level": 0.1}),
)


def diagnose_adaptive_vs_geometric(settings=_SCHEDULE_SETTINGS, seeds=range(5), n_iter=1500, level=1e-4,
                                   verbose=False):
    """``SubgradientRecovery`` with ``schedule="adaptive"`` against the default geometric schedule.

    Per setting, seed and r' in (r, d): both schedules from the same initial factor and initial step
    (same ``random_state``), ``n_iter`` iterations. Returns ``{(name, r', schedule): list of (first
    iteration below ``level`` or None, final error)}``. Run with ``python -c "from validation.recovery
    import diagnose_adaptive_vs_geometric as f; f(verbose=True)"`` (about 12 s); docs/recovery.md
    records the outcome.
    """
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, d, r, m, kw in settings:
            for s in seeds:
                prob = make_sensing_problem(d, r, m, random_state=s, **kw)
                for rp in (r, d):
                    for schedule in ("geometric", "adaptive"):
                        est = subgm(prob, rp, seed=s + 1, n_iter=n_iter, schedule=schedule)
                        errors = est.history_["error"]
                        out.setdefault((name, rp, schedule), []).append((first_below(errors, level),
                                                                         float(errors[-1])))
    if verbose:
        _print_schedule_runs(out, level, lambda hits, rows: (
            f"(iterations {[h for h, _ in rows]}), final errors {' '.join(f'{e:.1e}' for _, e in rows)}"))
    return out


def s5_success_rates(d, r, corruption, ms, seeds=range(5), ranks=None, verbose=False, schedule="geometric"):
    """S5's protocol at another setting: success rates (error < 1e-3) per r' and m.

    The same runs as ``recovery.sample-size-rank-free`` (alpha = 1e-6, the exact rank's default step, the
    rule's decay, 1600 iterations), for checking the gap condition of :func:`diagnose_noise_edge_gap`
    against settings it was not derived from. ``schedule="adaptive"`` replaces the decay by the
    estimator's adaptive steps (a diagnostic: the claim runs the paper's schedule). Returns
    ``{(m, r'): array of errors}``.
    """
    ranks = ranks or (r, 2 * r, d)
    out = {}
    for m in ms:
        for s in seeds:
            prob = make_sensing_problem(d, r, m, corruption=corruption, random_state=s)
            ref = subgm(prob, r, seed=s, n_iter=1, quiet=True)
            for rp in ranks:
                est = subgm(prob, rp, seed=s + 1, quiet=True, init_scale=1e-6, step_size=ref.step_size_, n_iter=1600,
                            schedule=schedule)
                out.setdefault((m, rp), []).append(rel_error(est.X_, prob.X))
        if verbose:
            print(f"m={m}: " + ", ".join(f"r'={rp} {int(np.sum(np.array(out[(m, rp)]) < SUCCESS))}/{len(seeds)}"
                                         for rp in ranks))
    return {key: np.array(v) for key, v in out.items()}
