"""Top eigenvector of a row stream in small space.

RandomOrderTopEigenvector   block power method over segments of a random-order stream, heavy rows stored exactly
OjaTopEigenvector           Oja's rule with per-step renormalisation; several fixed rates at once (Price-Xun)
FrequentDirections          deterministic, mergeable covariance sketch with a certified error

All three take ``partial_fit(rows)`` with a NumPy array, one row, a memory-mapped file
or an iterator of row chunks, and give the same result for any chunking of the same stream.
Instances: ``lrla.datasets.make_spiked_stream``, ``make_heavy_tilt_stream`` (heavy rows that each
tilt the top eigenvector: the lower-bound instance; ``stream_heavy_tilt_stream`` is its chunk-by-chunk
version), ``make_oja_hard_instance`` and its chunk-by-chunk
version ``stream_oja_hard_instance`` (+ the closed-form ``oja_hard_instance_oracle``), ``adversarial_order``.

References
----------
P. Kacham and D. P. Woodruff, "Approximating the top eigenvector in random order streams",
NeurIPS 2024 (arXiv:2412.11963). E. Price and Z. Xun, "Spectral guarantees for adversarial
streaming PCA", FOCS 2024. M. Ghashami, E. Liberty, J. M. Phillips and D. P. Woodruff,
"Frequent Directions", SIAM J. Comput. 2016.
"""

from .frequent_directions import FrequentDirections
from .oja import OjaTopEigenvector
from .random_order import RandomOrderTopEigenvector

__all__ = ["RandomOrderTopEigenvector", "OjaTopEigenvector", "FrequentDirections"]
