"""Structured Hadamard rotations.

fwht               fast Walsh-Hadamard transform along any axis (Numba, cache-blocked)
HadamardRotation   k-block randomized Hadamard rotation H D_k ... H D_1 / d^{k/2} (LinearOperator)
srht               subsampled randomized Hadamard row sketch S @ A (n x d -> m x d)
SRHT               scikit-learn transformer: fast Johnson-Lindenstrauss embedding of the feature axis

References
----------
T. Zilca and G. Mendelson, "Approximating uniform random rotations by two-block
structured Hadamard rotations in high dimensions", arXiv:2604.23418 (2026).
"""

from .fwht import fwht
from .rotation import HadamardRotation
from .srht import SRHT, srht

__all__ = ["fwht", "HadamardRotation", "srht", "SRHT"]
