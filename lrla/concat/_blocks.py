"""Block-collection checks and small spectral helpers shared by the concat family (private)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_array, check_int

__all__ = ["check_blocks", "check_energy", "check_rank_param", "norm_seed", "top_sum", "sq_singular_values", "orth_basis"]


def check_blocks(blocks, name="blocks", *, return_sq_norms=False):
    """Validate a collection of matrices with a common row count.

    Accepts a sequence of 2-D array-likes or a 3-D array (split along its
    first axis). Returns a list of C-contiguous float64 arrays (never views
    that could alias a caller's array being written to: the code below never
    writes into them). Raises ``ValueError``/``TypeError`` naming ``blocks``.
    With ``return_sq_norms``, also returns the squared Frobenius norms of the
    blocks (computed during the check, so callers do not pass over the data
    twice).
    """
    if sp.issparse(blocks):
        raise TypeError(f"`{name}` must be a sequence of dense 2-D arrays or a 3-D array; got a scipy.sparse matrix.")
    if isinstance(blocks, np.ndarray):
        if blocks.ndim != 3:
            raise ValueError(
                f"`{name}` must be a sequence of 2-D arrays or a 3-D array of shape (n_blocks, m, d); "
                f"got an array of shape {blocks.shape}."
            )
        seq = list(blocks)
    elif isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise TypeError(f"`{name}` must be a sequence of 2-D arrays or a 3-D array; got {type(blocks).__name__}.")
    else:
        seq = list(blocks)
    if len(seq) == 0:
        raise ValueError(f"`{name}` must contain at least one matrix; got an empty collection.")
    fast = _fast_path(seq)
    if fast is not None:
        check_energy(fast[0], fast[1], name)
        return fast if return_sq_norms else fast[0]
    out = []
    n_rows = None
    for j, A in enumerate(seq):
        A = check_array(A, f"{name}[{j}]", ndim=2)
        if n_rows is None:
            n_rows = A.shape[0]
        elif A.shape[0] != n_rows:
            raise ValueError(
                f"all `{name}` must have the same number of rows; {name}[0] has {n_rows}, "
                f"{name}[{j}] has {A.shape[0]}."
            )
        # Certificates compare energies to ~1e-10 relative accuracy: float64 throughout.
        out.append(np.ascontiguousarray(A, dtype=np.float64))
    sq = np.array([float(np.vdot(A, A)) for A in out])
    check_energy(out, sq, name)
    if return_sq_norms:
        return out, sq
    return out


def check_energy(blocks, sq_norms, name="blocks", *, indexed=True):
    """Reject blocks whose squared Frobenius norms (finite entries) overflow or underflow float64.

    Every certificate and error of this family is a ratio of such energies: an
    overflowing one made every certified error 0 or NaN, and one that
    underflows to 0 (all entries below ~1e-154) made a non-zero block count as
    zero, so either way the clustering certified errors it did not have.
    ``indexed=False``: ``blocks`` holds the one matrix called ``name``.
    """
    sq_norms = np.asarray(sq_norms, dtype=np.float64)
    with np.errstate(over="ignore"):
        total = float(sq_norms.sum())
    fix = f"rescale `{name}` (relative errors and clusters do not depend on the scale)."
    if not np.isfinite(total):
        if not indexed:
            what = "its squared Frobenius norm"
        elif np.isfinite(sq_norms).all():
            what = "the sum of the squared Frobenius norms"
        else:
            what = f"the squared Frobenius norm of `{name}[{int(np.argmin(np.isfinite(sq_norms)))}]`"
        raise ValueError(f"`{name}` is too large: {what} overflows float64 (entries above ~1e150); {fix}")
    for j in np.flatnonzero(sq_norms < np.finfo(np.float64).tiny):
        if np.any(blocks[j]):
            label = f"{name}[{j}]" if indexed else name
            raise ValueError(f"`{label}` is too small: its squared Frobenius norm underflows float64 (entries "
                             f"below ~1e-154); {fix}")


def _fast_path(seq):
    """Equal-shape real ndarrays: one stacked copy and one pass for norms and finiteness.

    Returns ``(blocks, squared norms)`` or None (then the per-block loop checks,
    and names the offending block). A finite sum of squares proves every entry
    finite (a NaN or an infinity makes it NaN or inf), so the squared norms,
    which the clustering needs anyway, double as the finiteness check; only if
    one is not finite (a bad entry, or an overflowing square) does the
    per-block loop decide.
    """
    first = seq[0]
    if not (isinstance(first, np.ndarray) and first.ndim == 2 and first.size and first.dtype.kind in "fiu"):
        return None
    shape = first.shape
    for A in seq:
        if not (isinstance(A, np.ndarray) and A.shape == shape and A.dtype.kind in "fiu"):
            return None
    stacked = np.array(seq, dtype=np.float64)
    sq = np.einsum("kij,kij->k", stacked, stacked)
    if not np.isfinite(sq).all():
        return None
    return list(stacked), sq


def check_rank_param(rank, name="rank"):
    return check_int(rank, name, min_value=1)


def norm_seed(widths, order, rank):
    """Number of leading blocks of ``order`` forming the zero-error seed.

    The seed is ``order[0]`` plus the following blocks as long as the total
    width stays <= ``rank`` (the largest block alone if it is wider).
    """
    total = widths[order[0]]
    k = 1
    while k < len(order) and total + widths[order[k]] <= rank:
        total += widths[order[k]]
        k += 1
    return k


def top_sum(values, k):
    """Sum of the ``k`` largest entries of ``values`` (all of them if fewer)."""
    values = np.asarray(values, dtype=np.float64)
    if k <= 0 or values.size == 0:
        return 0.0
    if values.size <= k:
        return float(values.sum())
    return float(np.partition(values, values.size - k)[values.size - k:].sum())


def sq_singular_values(blocks):
    """List of squared singular values of each block (batched when shapes agree)."""
    shapes = {A.shape for A in blocks}
    if len(shapes) == 1 and len(blocks) > 1:
        s = np.linalg.svd(np.stack(blocks), compute_uv=False)
        return list(s * s)
    return [np.linalg.svd(A, compute_uv=False) ** 2 for A in blocks]


def prune_tol(A, rtol=None):
    """Absolute threshold below which a residual direction of ``A`` is rounding noise."""
    if rtol is None:
        rtol = 10.0 * np.finfo(np.float64).eps * np.sqrt(A.shape[0])
    return rtol * np.linalg.norm(A)


def orth_basis(A, rtol=None):
    """Orthonormal basis of range(A), dropping directions with singular value <= the pruning threshold."""
    if A.shape[1] == 0:
        return A[:, :0]
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    return np.ascontiguousarray(U[:, s > prune_tol(A, rtol)])
