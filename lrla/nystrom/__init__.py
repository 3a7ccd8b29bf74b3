"""Ridge leverage scores and Nystroem kernel approximation.

ridge_leverage_scores   exact ridge leverage scores of a kernel matrix (stable for small ridge)
effective_dimension     d_eff(ridge) = Tr K (K + ridge I)^{-1}
InkEstimate             single-pass kernel dictionary by sequential RLS sampling (INK-ESTIMATE / SQUEAK)
RLSNystroem             scikit-learn transformer, drop-in for Nystroem, with RLS / recursive / INK landmarks
NystroemKRR             kernel ridge regression on the Nystroem approximation (scikit-learn regressor)

References
----------
D. Calandriello, A. Lazaric and M. Valko, "Analysis of Nystrom method with
sequential ridge leverage scores", UAI 2016; C. Musco and C. Musco, "Recursive
sampling for the Nystrom method", NeurIPS 2017.
"""

from .ink import InkEstimate
from .krr import NystroemKRR
from .leverage import effective_dimension, ridge_leverage_scores
from .transformer import RLSNystroem

__all__ = ["ridge_leverage_scores", "effective_dimension", "InkEstimate", "RLSNystroem", "NystroemKRR"]
