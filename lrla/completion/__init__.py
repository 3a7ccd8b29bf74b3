"""Low-rank matrix completion by robust alternating minimization.

AltMinCompletion   estimator: spectral init + alternating half-steps, exact (Gram + Cholesky,
                   O(|Omega| k^2)) or robust (inexact matrix-free CG / sketch-preconditioned CG,
                   O(|Omega| k) per inner step); fit(X with NaN or scipy.sparse), predict, reconstruct
complete_matrix    functional form: (rows, cols, values, shape, rank) -> (U, V)

Instances: ``lrla.datasets.make_low_rank``, ``make_observation_mask``, ``sample_entries``.

References
----------
Y. Gu, Z. Song, J. Yin and L. Zhang, "Low rank matrix completion via robust
alternating minimization in nearly linear time", ICLR 2024, arXiv:2302.11068.
"""

from .altmin import AltMinCompletion, complete_matrix

__all__ = ["AltMinCompletion", "complete_matrix"]
