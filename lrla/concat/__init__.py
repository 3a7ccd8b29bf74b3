"""Concatenated-matrix SVD: certified compression bounds, an incremental estimator, error-constrained clustering.

Certificates (lower bounds on the energy ``E_r(C)`` captured at rank r by the
concatenation ``C = [A_1 ... A_K]``; ``relative_error`` turns any of them into
a certified upper bound on the relative rank-r error):

captured_energy         exact ``E_r(C)`` (the reference; Gram of the rows when W >> m)
total_energy            ``||C||_F^2``
relative_error          ``sqrt(max(0, N - E) / N)``
weyl_bound              seed (max-norm) certificate ``E_r(C_S)``, valid for any seed width
elementwise_weyl_bound  ``sum_{i<=r} max_j sigma_i(A_j)^2``
union_bound             top-r of the union of the seed's and the blocks' squared spectra
credited_union_bound    in-span energy on the seed's basis + union bound of the residuals
residual_bound          the paper's incremental residual bound (projector choice documented)
blockwise_tail_bound    lower bound ``sum_j T_r(A_j)`` on the tail ``N - E_r(C)``
elementwise_tail_bound  lower bound ``sum_{i>r} max_j sigma_i(A_j)^2`` on the tail

Incremental estimator and clustering:

IncrementalSVD              Brand-style left-side update; ``add(block) -> certified energy``, ``certify``
cluster_matrices            the paper's greedy with methods max_norm / residuals / approximate
ErrorConstrainedClustering  the same as a scikit-learn style estimator (errors, ranks, compression ratio)
compression_ratio           the paper's effective compression ratio of a clustering

References
----------
M. Shamrai, "Concatenated Matrix SVD: Compression Bounds, Incremental
Approximation, and Error-Constrained Clustering", arXiv:2601.11626 (2026).
"""

from .bounds import (
    blockwise_tail_bound,
    captured_energy,
    credited_union_bound,
    elementwise_tail_bound,
    elementwise_weyl_bound,
    relative_error,
    residual_bound,
    total_energy,
    union_bound,
    weyl_bound,
)
from .clustering import ErrorConstrainedClustering, cluster_matrices, compression_ratio
from .incremental import IncrementalSVD

__all__ = [
    "captured_energy",
    "total_energy",
    "relative_error",
    "weyl_bound",
    "elementwise_weyl_bound",
    "union_bound",
    "credited_union_bound",
    "residual_bound",
    "blockwise_tail_bound",
    "elementwise_tail_bound",
    "IncrementalSVD",
    "cluster_matrices",
    "ErrorConstrainedClustering",
    "compression_ratio",
]
