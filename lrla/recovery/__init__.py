"""Robust low-rank matrix recovery from linear measurements.

GaussianSensing        Gaussian measurement operator, dense or matrix-free (counter-based, O(d^2) memory)
RankOneSensing         rank-one measurements A_i = a_i b_i^T, O(m d r') products
SensingOperator        generic operator from a stack of matrices or forward/adjoint callables
SubgradientRecovery    sub-gradient method on the l1 loss: small init, over-estimated rank, decaying steps
subgradient_recovery   functional form, returns the recovered matrix

Instances: ``lrla.datasets.make_sensing_problem``.

References
----------
J. Ma and S. Fattahi, "Global convergence of sub-gradient method for robust
matrix recovery: small initialization, noisy measurements, and
over-parameterization", JMLR 24 (2023), arXiv:2202.08788.
"""

from .operators import GaussianSensing, RankOneSensing, SensingOperator
from .subgradient import SubgradientRecovery, subgradient_recovery

__all__ = ["GaussianSensing", "RankOneSensing", "SensingOperator", "SubgradientRecovery", "subgradient_recovery"]
