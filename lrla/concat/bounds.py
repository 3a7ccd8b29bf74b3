"""Certified lower bounds on the energy a rank-r SVD of a concatenation captures.

For blocks ``A_1, ..., A_K`` with a common row count m, ``C = [A_1 ... A_K]``
and ``N = ||C||_F^2``, the energy captured at rank r is
``E_r(C) = sum_{i<=r} sigma_i(C)^2`` and the relative error of the best rank-r
approximation is ``sqrt((N - E_r) / N)`` (Eckart-Young). Every certificate
here returns a number ``E_hat <= E_r(C)``, so ``relative_error(E_hat, N)`` is
a certified *upper* bound on the error. The tail bounds return lower bounds
on ``T_r(C) = N - E_r(C)``.

All functions compute in float64 (the certificates are compared with the
exact energy to ~1e-10 relative accuracy; float32 input is promoted).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_array, check_option
from ._blocks import check_blocks, check_rank_param, norm_seed, orth_basis, sq_singular_values, top_sum

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
]

_REFERENCE = """M. Shamrai, "Concatenated Matrix SVD: Compression Bounds, Incremental
       Approximation, and Error-Constrained Clustering", arXiv:2601.11626 (2026)"""

_SEED_DOC = """seed : sequence of int, optional
        Indices of the seed blocks S. Default: the paper's seed, i.e. the
        largest block (Frobenius norm) plus the next largest ones while the
        total width stays <= rank."""

_BLOCKS_RANK_DOC = """blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    rank : int
        Target rank r >= 1."""

_CAPTURED_LOWER_DOC = """Returns
    -------
    float
        A lower bound on ``captured_energy(blocks, rank)``."""

_TAIL_LOWER_DOC = """Returns
    -------
    float
        A lower bound on ``||C - C_r||_F^2 = total_energy - captured_energy``."""


def _fill_doc(fn):
    fn.__doc__ = fn.__doc__ % {"reference": _REFERENCE, "seed": _SEED_DOC, "blocks_rank": _BLOCKS_RANK_DOC,
                               "captured_lower": _CAPTURED_LOWER_DOC, "tail_lower": _TAIL_LOWER_DOC}
    return fn


# Columns hstacked per Gram update in captured_energy: bounds memory at m x 4096.
_GRAM_CHUNK = 4096


def _energy_profile(blocks, rank):
    """Exact cumulative captured energies E_1, ..., E_rank of the concatenation (float64)."""
    m = blocks[0].shape[0]
    width = sum(A.shape[1] for A in blocks)
    if width <= m:
        s = np.linalg.svd(np.hstack(blocks), compute_uv=False)
        lam = s * s
    else:
        # Gram of the rows, accumulated chunk by chunk: C itself (m x W, W >> m) is never formed.
        G = np.zeros((m, m))
        start = 0
        while start < len(blocks):
            stop, cols = start, 0
            while stop < len(blocks) and (cols == 0 or cols + blocks[stop].shape[1] <= _GRAM_CHUNK):
                cols += blocks[stop].shape[1]
                stop += 1
            chunk = blocks[start] if stop == start + 1 else np.hstack(blocks[start:stop])
            G += chunk @ chunk.T
            start = stop
        lam = np.clip(np.linalg.eigvalsh(G)[::-1], 0.0, None)
    prof = np.cumsum(lam[:rank])
    if prof.size < rank:
        prof = np.concatenate([prof, np.full(rank - prof.size, prof[-1] if prof.size else 0.0)])
    return prof


@_fill_doc
def captured_energy(blocks, rank):
    """Exact energy ``E_r(C) = sum_{i<=r} sigma_i(C)^2`` captured by a rank-r SVD of the concatenation.

    The reference every certificate is checked against. When the total width
    W exceeds the row count m, it accumulates the m x m Gram ``sum_j A_j A_j^T``
    in column chunks (the m x W concatenation is never formed); otherwise it
    takes the singular values of the (narrow) concatenation.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    rank : int
        Target rank r >= 1 (ranks above the matrix rank capture everything).

    Returns
    -------
    float

    References
    ----------
    .. [1] %(reference)s, section 1 (Eckart-Young energy).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import captured_energy
    >>> blocks = [np.eye(4)[:, :2], 2 * np.eye(4)[:, 2:]]
    >>> float(captured_energy(blocks, 2))
    8.0
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    return float(_energy_profile(blocks, rank)[-1])


@_fill_doc
def total_energy(blocks):
    """``N = ||[A_1 ... A_K]||_F^2 = sum_j ||A_j||_F^2``.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)

    Returns
    -------
    float
        The total energy N.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import total_energy
    >>> float(total_energy([np.ones((2, 2)), np.ones((2, 1))]))
    6.0
    """
    blocks = check_blocks(blocks)
    return float(sum(np.vdot(A, A) for A in blocks))


@_fill_doc
def relative_error(captured, total):
    """Relative Frobenius error ``sqrt(max(0, N - E) / N)`` from a captured energy E and the total N.

    Applied to a certified lower bound on E it gives a certified upper bound
    on the rank-r error; ``N = 0`` gives error 0. Works elementwise on arrays
    (``captured`` and ``total`` broadcast).

    Parameters
    ----------
    captured : float or array_like
        Captured energy E: a sum of squared singular values (or a lower bound
        on one), so ``0 <= E <= N``.
    total : float or array_like
        Total energy ``N = ||C||_F^2 >= 0``.

    Returns
    -------
    float or ndarray
        The relative error, in [0, 1].

    Raises
    ------
    ValueError
        If either is NaN or infinite, if ``total < 0``, if ``captured < 0``, or
        if ``captured`` exceeds ``total`` by more than rounding:
        ``E > N (1 + sqrt(eps)) + tiny`` (eps and tiny of the arrays' dtype).
        A captured energy is at most the total (Eckart-Young), so a larger one
        is a wrong argument (e.g. swapped), not an error of 0.

    Notes
    -----
    Energies computed independently round differently, so a certificate of a
    rank that captures everything can exceed N slightly: lrla's certificates
    exceed :func:`total_energy` by at most ~1e-15 relative (measured on random
    instances), and the ``sqrt(eps)`` slack (1.5e-8 in float64, 3.5e-4 in
    float32) leaves room for energies summed in float32 or by other code.
    Such an excess is clipped: the error is 0, as for ``E = N``.

    Examples
    --------
    >>> from lrla.concat import relative_error
    >>> float(relative_error(0.75, 1.0))
    0.5
    """
    captured = check_array(captured, "captured", allow_empty=True)
    total = check_array(total, "total", allow_empty=True)
    if np.any(total < 0):
        raise ValueError("`total` must be >= 0.")
    captured_b, total_b = np.broadcast_arrays(captured, total)
    if np.any(captured_b < 0):
        first = captured_b[captured_b < 0].flat[0]
        raise ValueError(f"`captured` must be >= 0 (it is an energy, a sum of squares); got {float(first)!r}.")
    finfo = np.finfo(np.result_type(captured, total))
    excess = captured_b > total_b * (1.0 + np.sqrt(finfo.eps)) + finfo.tiny
    if np.any(excess):
        i = np.flatnonzero(excess)[0]
        raise ValueError(
            f"`captured` must not exceed `total` (a captured energy is at most the total energy, up to rounding); "
            f"got captured={float(captured_b.flat[i])!r} > total={float(total_b.flat[i])!r}."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.sqrt(np.clip(total - captured, 0.0, None) / total)
    err = np.where(total > 0, err, 0.0)
    return err[()] if err.ndim == 0 else err


def _check_seed(seed, n_blocks):
    idx = np.asarray(seed)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ValueError(f"`seed` must be a non-empty 1-D sequence of block indices; got {seed!r}.")
    if idx.min() < 0 or idx.max() >= n_blocks:
        raise ValueError(f"`seed` indices must lie in [0, {n_blocks}); got {idx.tolist()}.")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"`seed` indices must be distinct; got {idx.tolist()}.")
    return idx.astype(np.intp)


def _seed_and_rest(blocks, rank, seed, order="norm"):
    """Seed indices and the remaining indices in certificate order."""
    sq_norms = np.array([np.vdot(A, A) for A in blocks])
    widths = np.array([A.shape[1] for A in blocks])
    if seed is None:
        desc = np.argsort(-sq_norms, kind="stable")
        seed_idx = desc[: norm_seed(widths, desc, rank)]
    else:
        seed_idx = _check_seed(seed, len(blocks))
    in_seed = np.zeros(len(blocks), bool)
    in_seed[seed_idx] = True
    rest = np.flatnonzero(~in_seed)
    if order == "norm":  # the paper's 'norm' order: smallest blocks first
        rest = rest[np.argsort(sq_norms[rest], kind="stable")]
    return seed_idx, rest, sq_norms


def _seed_matrix(blocks, seed_idx):
    return blocks[seed_idx[0]] if seed_idx.size == 1 else np.hstack([blocks[j] for j in seed_idx])





@_fill_doc
def weyl_bound(blocks, rank, *, seed=None):
    """Seed (Weyl / "max-norm") certificate ``E_r(C_S)`` for a sub-cluster S.

    Column deletion interlacing gives ``sigma_i(C) >= sigma_i(C_S)``, hence
    ``E_r(C) >= E_r(C_S)``. When the seed is at most r columns wide this is
    the paper's ``sum_{j in S} ||A_j||_F^2``; for a wider seed lrla uses
    ``sum_{i<=r} sigma_i(C_S)^2``, which stays valid (the norm-only version
    does not: it can under-estimate the error by a factor of five).

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    rank : int
    %(seed)s

    %(captured_lower)s

    References
    ----------
    .. [1] %(reference)s: the max-norm bound (Weyl monotonicity under
       blockwise extension). Checked by claims ``concat.certificate-validity`` and
       ``concat.seed-weyl-any-width``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import weyl_bound, captured_energy
    >>> A = np.eye(3)[:, :1]
    >>> blocks = [A, A, A]          # three identical rank-1 blocks
    >>> float(weyl_bound(blocks, 1)), float(captured_energy(blocks, 1))
    (1.0, 3.0)
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    seed_idx, _, sq_norms = _seed_and_rest(blocks, rank, seed)
    return _weyl_energy(blocks, seed_idx, sq_norms, rank)


def _weyl_energy(blocks, seed_idx, sq_norms, rank):
    if sum(blocks[j].shape[1] for j in seed_idx) <= rank:
        return float(sq_norms[seed_idx].sum())
    s = np.linalg.svd(_seed_matrix(blocks, seed_idx), compute_uv=False)
    return float(np.sum(s[:rank] ** 2))


@_fill_doc
def elementwise_weyl_bound(blocks, rank):
    """Element-wise Weyl certificate ``sum_{i<=r} max_j sigma_i(A_j)^2``.

    Each ``sigma_i(C) >= max_j sigma_i(A_j)`` (interlacing), summed over i <= r.

    Parameters
    ----------
    %(blocks_rank)s

    %(captured_lower)s

    References
    ----------
    .. [1] %(reference)s: Weyl-type monotonicity. Checked by claim
       ``concat.certificate-validity``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import elementwise_weyl_bound
    >>> float(elementwise_weyl_bound([np.diag([3.0, 1.0]), np.diag([2.0, 2.0])], 2))
    13.0
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    best = np.zeros(rank)
    for lam in sq_singular_values(blocks):
        k = min(rank, lam.size)
        best[:k] = np.maximum(best[:k], lam[:k])
    return float(best.sum())


@_fill_doc
def union_bound(blocks, rank, *, seed=None):
    """Union certificate ``top_r( sigma(C_S)^2  U  union_{j not in S} sigma(A_j)^2 )``.

    For PSD ``X_j``, the sum of the r largest eigenvalues of ``sum_j X_j`` is
    at least the sum of the r largest elements of the multiset union of their
    spectra (partial sums only: the i-th values need not dominate). With
    ``X_j = A_j A_j^T`` this certifies ``E_r(C)``. It dominates the residual
    bound, which projects the blocks first and so can only lose energy.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    rank : int
    %(seed)s
        The seed enters as one block (its singular values), not as its members.

    %(captured_lower)s

    References
    ----------
    .. [1] %(reference)s; the union lemma is derived in lrla's digest
       (not stated in the paper). Checked by claims ``concat.certificate-validity``,
       ``concat.hierarchy`` and ``concat.union-lemma``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import union_bound
    >>> float(union_bound([np.eye(4)[:, :2], 0.5 * np.eye(4)[:, 2:]], 3))
    2.25
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    seed_idx, rest, _ = _seed_and_rest(blocks, rank, seed)
    spectra = [np.linalg.svd(_seed_matrix(blocks, seed_idx), compute_uv=False) ** 2]
    if rest.size:
        spectra += sq_singular_values([blocks[j] for j in rest])
    return top_sum(np.concatenate(spectra), rank)


@_fill_doc
def credited_union_bound(blocks, rank, *, seed=None):
    """Union certificate that credits the in-span energy of every block.

    With U the top-``s = min(r, rank C_S)`` left singular vectors of the seed
    and ``P = U U^T``::

        E_hat = sum_j ||U^T A_j||_F^2 + top_{r-s}( union_j sigma((I - P) A_j)^2 )

    (Ky Fan on ``P C`` plus the union lemma on ``(I - P) C``, whose range is
    orthogonal to range(P)). On blocks sharing a subspace it is near-exact
    where the union and residual bounds are nearly vacuous.

    Parameters
    ----------
    %(blocks_rank)s
    %(seed)s

    %(captured_lower)s

    References
    ----------
    .. [1] %(reference)s; derived in lrla's digest (not in the paper).
       Checked by claim ``concat.certificate-validity``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import credited_union_bound, captured_energy
    >>> A = np.eye(5)[:, :2]
    >>> blocks = [A, A, A]
    >>> float(credited_union_bound(blocks, 2)) == float(captured_energy(blocks, 2))
    True
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    seed_idx, rest, _ = _seed_and_rest(blocks, rank, seed)
    S = _seed_matrix(blocks, seed_idx)
    U = orth_basis(S)[:, :rank] if S.shape[1] <= rank else np.linalg.svd(S, full_matrices=False)[0][:, :rank]
    s = U.shape[1]
    credited = 0.0
    residuals = []
    for A in blocks:
        Y = U.T @ A
        credited += float(np.vdot(Y, Y))
        if s < rank:
            R = A - U @ Y
            R -= U @ (U.T @ R)
            residuals.append(R)
    extra = top_sum(np.concatenate(sq_singular_values(residuals)), rank - s) if residuals else 0.0
    return credited + extra


@_fill_doc
def residual_bound(blocks, rank, *, seed=None, projector="accumulated", order="norm"):
    """Incremental-residual certificate (the paper's second bound).

    Starting from ``Lambda = sigma(C_S)^2``, each further block A is projected,
    ``R = (I - Q Q^T) A``, and ``sigma(R)^2`` joins the multiset; the bound is
    the sum of the r largest elements of Lambda. Since ``sigma_i(R) <= sigma_i(A)``
    for any orthogonal projector, it never exceeds the union bound, and it is
    valid for any projector.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    rank : int
    %(seed)s
    projector : {"accumulated", "seed"}, default "accumulated"
        ``"accumulated"`` (the paper's code): Q spans the column space of the
        seed and every block added so far, re-orthogonalised and pruned.
        ``"seed"``: Q spans range(C_S) only (a smaller subspace, so larger
        residuals and a tighter bound).
    order : {"norm", "given"}, default "norm"
        Order in which non-seed blocks are added: ``"norm"`` smallest
        Frobenius norm first (the paper's greedy order), ``"given"`` the order
        of ``blocks``. With ``"accumulated"`` the value depends on the order.

    %(captured_lower)s

    References
    ----------
    .. [1] %(reference)s: the incremental residual bound. Checked by claims
       ``concat.certificate-validity`` and ``concat.hierarchy``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import residual_bound
    >>> blocks = [np.eye(4)[:, :1], 0.5 * np.eye(4)[:, 1:3]]
    >>> float(residual_bound(blocks, 2))
    1.25
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    check_option(projector, "projector", ("accumulated", "seed"))
    check_option(order, "order", ("norm", "given"))
    seed_idx, rest, _ = _seed_and_rest(blocks, rank, seed, order)
    S = _seed_matrix(blocks, seed_idx)
    lam = np.sort(np.linalg.svd(S, compute_uv=False) ** 2)[::-1][:rank]
    Q = orth_basis(S)
    m = S.shape[0]
    for j in rest:
        A = blocks[j]
        if Q.shape[1] >= m:
            break  # Q spans R^m: every further residual is zero
        R = A - Q @ (Q.T @ A)
        R -= Q @ (Q.T @ R)  # second pass: re-orthogonalisation
        lam = np.sort(np.concatenate([lam, np.linalg.svd(R, compute_uv=False) ** 2]))[::-1][:rank]
        if projector == "accumulated":
            V = orth_basis(R, rtol=None) if np.linalg.norm(R) > 0 else R[:, :0]
            if V.shape[1]:
                V -= Q @ (Q.T @ V)
                V = np.linalg.qr(V)[0]
                Q = np.hstack([Q, V])
    return float(lam.sum())


@_fill_doc
def blockwise_tail_bound(blocks, rank):
    """Lower bound ``sum_j T_r(A_j)`` on the rank-r tail ``T_r(C) = ||C - C_r||_F^2``.

    Any rank-r projector leaves at least each block's own rank-r tail. It is
    identically 0 when every block has at most r columns.

    Parameters
    ----------
    %(blocks_rank)s

    %(tail_lower)s

    References
    ----------
    .. [1] %(reference)s; lower bound derived in lrla's digest (L4a).
       Checked by claim ``concat.tail-lower-bounds``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import blockwise_tail_bound
    >>> float(blockwise_tail_bound([np.diag([2.0, 1.0]), np.diag([1.0, 1.0])], 1))
    2.0
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    return float(sum(lam[rank:].sum() for lam in sq_singular_values(blocks)))


@_fill_doc
def elementwise_tail_bound(blocks, rank):
    """Lower bound ``sum_{i>r} max_j sigma_i(A_j)^2`` on the rank-r tail of the concatenation.

    Parameters
    ----------
    %(blocks_rank)s

    %(tail_lower)s

    References
    ----------
    .. [1] %(reference)s; lower bound derived in lrla's digest (L4b, from
       interlacing). Checked by claim ``concat.tail-lower-bounds``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import elementwise_tail_bound
    >>> float(elementwise_tail_bound([np.diag([2.0, 1.0]), np.diag([1.0, 3.0])], 1))
    1.0
    """
    blocks = check_blocks(blocks)
    rank = check_rank_param(rank)
    spectra = sq_singular_values(blocks)
    longest = max(lam.size for lam in spectra)
    if longest <= rank:
        return 0.0
    best = np.zeros(longest - rank)
    for lam in spectra:
        tail = lam[rank:]
        best[: tail.size] = np.maximum(best[: tail.size], tail)
    return float(best.sum())
