"""Leverage scores, l_p Lewis weights, l_p sensitivities and row sampling.

leverage_scores      exact (QR) or sketched (SRHT / OSNAP sparse embedding) leverage and ridge leverage scores
lewis_weights        l_p Lewis weights by the (damped for p >= 4) Cohen-Peng fixed point
lp_sensitivities     l_p sensitivities: exact (one LP / convex solve per row), Lewis or root-leverage bounds
sample_rows          i.i.d. or Bernoulli row sampling with l_p reweighting -> RowSample
RowSample            indices, weights and the sampled matrix S A
sensitivity_sample   Woodruff-Yasuda sensitivity sampling and the related schemes
lp_distortion        worst distortion of a sample: exact (p = 2; p = 1, d <= 3), certified to a tolerance
                     (d <= 2, any p; per block of a block-diagonal A) or a search lower bound
lp_regression        min ||Ax - b||_p (LP at p = 1), on all rows or on a RowSample

References
----------
D. P. Woodruff and T. Yasuda, "Sharper bounds for l_p sensitivity sampling", ICML 2023.
M. B. Cohen and R. Peng, "l_p row sampling by Lewis weights", STOC 2015.
P. Drineas, M. Magdon-Ismail, M. W. Mahoney and D. P. Woodruff, "Fast approximation
of matrix coherence and statistical leverage", JMLR 13 (2012).
"""

from .distortion import lp_distortion
from .regression import lp_regression
from .rows import RowSample, sample_rows, sensitivity_sample
from .scores import leverage_scores, lewis_weights, lp_sensitivities

__all__ = [
    "leverage_scores",
    "lewis_weights",
    "lp_sensitivities",
    "sample_rows",
    "RowSample",
    "sensitivity_sample",
    "lp_distortion",
    "lp_regression",
]
