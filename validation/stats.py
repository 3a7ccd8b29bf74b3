"""Statistics used to judge claims.

* :func:`loglog_slope`: least-squares slope of log y on log x with a
  Student-t confidence interval (rates are asserted on its upper or lower end).
* :func:`kolmogorov_lattice`: exact Kolmogorov distance between a law with
  finitely many atoms and a continuous CDF. Both one-sided limits of the
  step function are compared at every atom; evaluating only the right limit
  (what a naive ``kstest`` on tied data does) understates the distance.
* :func:`ks_one_sample`, :func:`ks_two_sample`, :func:`ks_discrete`:
  Kolmogorov-Smirnov distances that handle ties correctly.
* :func:`dkw_radius`: the Dvoretzky-Kiefer-Wolfowitz-Massart band, a
  distribution-free threshold for an empirical CDF (valid with ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "SlopeFit",
    "loglog_slope",
    "kolmogorov_lattice",
    "ks_one_sample",
    "ks_two_sample",
    "ks_discrete",
    "dkw_radius",
]


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit ``log y = intercept + slope * log x``."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    level: float
    n: int

    def predict(self, x):
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope

    def as_dict(self):
        return {
            "slope": self.slope,
            "slope_ci": [self.ci_low, self.ci_high],
            "intercept": self.intercept,
            "level": self.level,
            "n_points": self.n,
        }


def loglog_slope(x, y, *, level=0.95):
    """Slope of ``log y`` against ``log x`` with a two-sided ``level`` confidence interval.

    The interval is the usual OLS interval, slope ± t_{n-2} * stderr; it needs
    at least three points. Non-positive values are rejected, not dropped.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same length; got {x.size} and {y.size}.")
    if x.size < 3:
        raise ValueError(f"a slope with a confidence interval needs at least 3 points; got {x.size}.")
    if np.any(x <= 0) or np.any(y <= 0) or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("`x` and `y` must be positive and finite for a log-log fit.")
    lx, ly = np.log(x), np.log(y)
    res = stats.linregress(lx, ly)
    t = stats.t.ppf(0.5 + level / 2, df=x.size - 2)
    half = t * res.stderr
    return SlopeFit(
        float(res.slope), float(res.intercept), float(res.slope - half), float(res.slope + half),
        float(res.stderr), level, int(x.size),
    )


def _step_vs_continuous(values, cdf_right, cdf):
    """sup_t |F(t) - G(t)| for a step function F with jumps at sorted ``values``."""
    g = cdf(values)
    cdf_left = np.concatenate(([0.0], cdf_right[:-1]))
    return float(max(np.max(np.abs(cdf_right - g)), np.max(np.abs(cdf_left - g))))


def kolmogorov_lattice(atoms, probs, cdf):
    """Exact sup_t |F(t) - G(t)| for a discrete law (``atoms``, ``probs``) and a continuous CDF ``G``.

    Between atoms F is constant and G monotone, so the supremum is attained at
    an atom, from the left (F(a-)) or the right (F(a)). Both are evaluated.
    """
    atoms = np.asarray(atoms, dtype=float)
    probs = np.asarray(probs, dtype=float)
    order = np.argsort(atoms, kind="stable")
    atoms, probs = atoms[order], probs[order]
    keep = probs > 0
    atoms, probs = atoms[keep], probs[keep]
    uniq, inverse = np.unique(atoms, return_inverse=True)
    merged = np.bincount(inverse, weights=probs)
    total = merged.sum()
    if not np.isclose(total, 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"`probs` must sum to 1; got {total!r}.")
    return _step_vs_continuous(uniq, np.cumsum(merged) / total, cdf)


def ks_one_sample(samples, cdf):
    """Kolmogorov distance between the empirical law of ``samples`` and a continuous CDF (ties handled)."""
    x = np.asarray(samples, dtype=float).ravel()
    uniq, counts = np.unique(x, return_counts=True)
    return _step_vs_continuous(uniq, np.cumsum(counts) / x.size, cdf)


def ks_discrete(atoms_f, probs_f, atoms_g, probs_g):
    """sup_t |F(t) - G(t)| between two discrete laws (both right-continuous step functions)."""
    grid = np.union1d(np.asarray(atoms_f, float), np.asarray(atoms_g, float))

    def cdf_on_grid(atoms, probs):
        atoms = np.asarray(atoms, float)
        probs = np.asarray(probs, float)
        order = np.argsort(atoms, kind="stable")
        cum = np.cumsum(probs[order])
        idx = np.searchsorted(atoms[order], grid, side="right")
        return np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)

    # Two step functions jump only on the grid, so the right limits there cover the supremum.
    return float(np.max(np.abs(cdf_on_grid(atoms_f, probs_f) - cdf_on_grid(atoms_g, probs_g))))


def ks_two_sample(x, y):
    """Two-sample Kolmogorov-Smirnov distance, exact with ties."""
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    grid = np.union1d(x, y)
    fx = np.searchsorted(np.sort(x), grid, side="right") / x.size
    fy = np.searchsorted(np.sort(y), grid, side="right") / y.size
    return float(np.max(np.abs(fx - fy)))


def dkw_radius(n, alpha):
    """Radius r with P(sup|F_n - F| > r) <= alpha (Massart 1990), valid for any F, ties included."""
    return float(np.sqrt(np.log(2.0 / alpha) / (2.0 * n)))
