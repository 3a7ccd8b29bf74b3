"""lrla: randomized and robust low-rank linear algebra.

Each family implements one paper and is checked against that paper's
theorems by the validation suite (``python -m validation``, run from a
checkout). All public names are importable from ``lrla`` and from their
subpackage.

Hadamard rotations (``lrla.hadamard``)
    fwht                 fast Walsh-Hadamard transform along any axis
    HadamardRotation     k-block randomized Hadamard rotation (a LinearOperator)
    srht                 subsampled randomized Hadamard row sketch S @ A
    SRHT                 scikit-learn transformer: fast Johnson-Lindenstrauss map

Row sampling (``lrla.sampling``)
    leverage_scores      exact (QR) or sketched (SRHT / OSNAP) leverage and ridge leverage scores
    lewis_weights        l_p Lewis weights (Cohen-Peng fixed point, damped for p >= 4)
    lp_sensitivities     l_p sensitivities: exact (certified simplex at p = 1, convex solves), Lewis or root-leverage bounds
    sample_rows          i.i.d. or Bernoulli row sampling with l_p reweighting -> RowSample
    RowSample            sampled indices, l_p weights and the sampled matrix S A
    sensitivity_sample   Woodruff-Yasuda sensitivity sampling and related schemes
    lp_distortion        worst distortion of a sample (exact for p = 2 and p = 1, d <= 3)
    lp_regression        min ||Ax - b||_p on all rows or on a RowSample

Matrix completion (``lrla.completion``)
    AltMinCompletion     robust alternating minimization (exact or inexact O(|Omega| k) half-steps)
    complete_matrix      functional form: (rows, cols, values, shape, rank) -> (U, V)

Ridge leverage scores and Nystroem (``lrla.nystrom``)
    ridge_leverage_scores  exact ridge leverage scores of a kernel matrix (stable for small ridge)
    effective_dimension    d_eff(ridge) = Tr K (K + ridge I)^{-1}
    InkEstimate            single-pass kernel dictionary by sequential RLS sampling (INK-ESTIMATE / SQUEAK)
    RLSNystroem            drop-in for sklearn's Nystroem with RLS / recursive / INK landmarks
    NystroemKRR            kernel ridge regression on the Nystroem approximation

Streaming top eigenvector (``lrla.streaming``)
    RandomOrderTopEigenvector  one pass over a random-order row stream, heavy rows stored (Kacham-Woodruff)
    OjaTopEigenvector          Oja / Price-Xun with fixed, decaying or several rates at once
    FrequentDirections         deterministic, mergeable covariance sketch with a certified error

Robust matrix recovery (``lrla.recovery``)
    GaussianSensing      Gaussian measurement operator, dense or matrix-free (O(d^2) memory)
    RankOneSensing       rank-one measurements a_i b_i^T, O(m d r') products
    SensingOperator      generic operator from matrices or forward/adjoint callables
    SubgradientRecovery  l1 sub-gradient method: small init, over-estimated rank, outlier-robust
    subgradient_recovery functional form, returns the recovered matrix

Concatenated-matrix SVD (``lrla.concat``)
    captured_energy             exact rank-r energy of [A_1 ... A_K] (the reference)
    weyl_bound, elementwise_weyl_bound, union_bound, credited_union_bound, residual_bound
                                certified lower bounds on that energy
    blockwise_tail_bound, elementwise_tail_bound   lower bounds on the rank-r tail
    total_energy, relative_error                   energies -> relative Frobenius error
    IncrementalSVD              Brand-style incremental estimator with certified energies
    cluster_matrices            error-constrained clustering (max_norm / residuals / approximate)
    ErrorConstrainedClustering  the same as an estimator (errors, ranks, compression ratio)
    compression_ratio           the paper's effective compression ratio

Instances with known ground truth: ``lrla.datasets``.
Versions, BLAS and Numba threading for bug reports: ``lrla.show_versions()``.
Warnings: ``lrla.ConvergenceWarning`` (scikit-learn's class).
"""

__version__ = "0.1.0.dev0"

from . import datasets
from ._show_versions import show_versions
from .exceptions import ConvergenceWarning
from .hadamard import *  # noqa: F401,F403
from .hadamard import __all__ as _hadamard_all
from .completion import *  # noqa: F401,F403
from .completion import __all__ as _completion_all
from .nystrom import *  # noqa: F401,F403
from .nystrom import __all__ as _nystrom_all
from .streaming import *  # noqa: F401,F403
from .streaming import __all__ as _streaming_all
from .recovery import *  # noqa: F401,F403
from .recovery import __all__ as _recovery_all
from .concat import *  # noqa: F401,F403
from .concat import __all__ as _concat_all
from .sampling import *  # noqa: F401,F403
from .sampling import __all__ as _sampling_all

__all__ = [
    "datasets", "show_versions", "ConvergenceWarning",
    *_hadamard_all, *_completion_all, *_nystrom_all, *_streaming_all, *_recovery_all, *_concat_all,
    *_sampling_all,
]
