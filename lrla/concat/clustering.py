"""Error-constrained clustering of matrices that share one truncated SVD per cluster."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._validation import check_array, check_bool, check_int, check_option, check_scalar
from . import _kernels
from ._blocks import check_blocks, check_rank_param, norm_seed, orth_basis
from .bounds import _energy_profile
from .incremental import _start, _update

__all__ = ["cluster_matrices", "ErrorConstrainedClustering", "compression_ratio"]

METHODS = ("max_norm", "residuals", "approximate")
ORDERS = ("norm", "residual")


def _padded_cumsum(values, rank):
    prof = np.cumsum(values[:rank])
    if prof.size < rank:
        prof = np.concatenate([prof, np.full(rank - prof.size, prof[-1] if prof.size else 0.0)])
    return prof


class _SeedCertificate:
    """max_norm: certified energy E_r(C_S) of the seed, whatever is added (no SVD when width <= r)."""

    def __init__(self, S, rank, oversample, rtol, update):
        self.S, self.rank = S, rank
        if S.shape[1] <= rank:
            self.energy = float(np.vdot(S, S))
        else:
            self.energy = float(np.sum(np.linalg.svd(S, compute_uv=False)[:rank] ** 2))

    def order_basis(self):
        return orth_basis(self.S)

    def add(self, A):
        return self.energy

    def commit(self):
        pass

    def profile(self, members):
        return _padded_cumsum(np.linalg.svd(self.S, compute_uv=False) ** 2, self.rank)


class _ResidualCertificate:
    """residuals: top-r multiset of seed and projected-residual spectra, projector = accumulated span."""

    def __init__(self, S, rank, oversample, rtol, update):
        self.rank, self.rtol = rank, rtol
        self.lam = (np.linalg.svd(S, compute_uv=False) ** 2)[:rank]
        self.Q = orth_basis(S, rtol)

    def order_basis(self):
        return self.Q

    def add(self, A):
        Q, lam = self.Q, self.lam
        if Q.shape[1] < Q.shape[0]:
            R = A - Q @ (Q.T @ A)
            R -= Q @ (Q.T @ R)
            U, s, _ = np.linalg.svd(R, full_matrices=False)
            lam = np.sort(np.concatenate([lam, s * s]))[::-1][: self.rank]
            V = orth_basis(R, self.rtol) if s.size and s[0] > 0 else R[:, :0]
            if V.shape[1]:
                V -= Q @ (Q.T @ V)
                Q = np.hstack([Q, np.linalg.qr(V)[0]])
        self.pending = (Q, lam)  # adopted by commit(): a rejected block must not enter the certificate
        return float(lam.sum())

    def commit(self):
        self.Q, self.lam = self.pending

    def profile(self, members):
        return _padded_cumsum(self.lam, self.rank)


class _IncrementalCertificate:
    """approximate: the incremental estimator, then an a-posteriori certificate with its top-r basis."""

    def __init__(self, S, rank, oversample, rtol, update):
        self.rank, self.k_max, self.rtol, self.update = rank, rank + oversample, rtol, update
        self.Q, self.lam = _start(S, self.k_max, rtol)
        self.accepted = (self.Q, self.lam)

    def order_basis(self):
        return self.Q

    def add(self, A):
        self.Q, self.lam = self.update(self.accepted[0], self.accepted[1], A, self.k_max, self.rtol)
        return float(self.lam[: self.rank].sum())

    def commit(self):
        self.accepted = (self.Q, self.lam)

    def column_energies(self, members):
        """Per basis column energy ``sum_j (q_i^T A_j)^2`` for the top-r accepted basis (rigorous, Ky Fan)."""
        Qr = self.accepted[0][:, : self.rank]
        return np.array([np.sum((Qr.T @ A) ** 2, axis=1) for A in members])

    def profile(self, members):
        return _padded_cumsum(self.column_energies(members).sum(axis=0), self.rank)


class _NormOnly:
    """max_norm with a seed at most `rank` wide: the certificate is the seed's squared norm."""

    def __init__(self, energy):
        self.energy = energy


_CERTIFICATES = {"max_norm": _SeedCertificate, "residuals": _ResidualCertificate, "approximate": _IncrementalCertificate}


def _greedy(blocks, rank, eps, *, method, order, patience, oversample=5, rtol=None, minimal_rank=False,
            update=_update, certificate=None, sq=None):
    """The paper's greedy skeleton. Returns (clusters, certified energies, totals, ranks).

    ``certificate`` / ``update`` let the validation suite plug in broken
    estimators for negative controls; the public functions never do.
    ``sq``: the blocks' squared Frobenius norms, if the caller has them.
    """
    n = len(blocks)
    widths = np.fromiter((A.shape[1] for A in blocks), dtype=np.intp, count=n)
    if sq is None:
        stacked = blocks[0].base
        if (isinstance(stacked, np.ndarray) and stacked.ndim == 3 and stacked.shape[0] == n
                and all(A.base is stacked for A in blocks)):  # the stack check_blocks made: one einsum for all
            sq = np.einsum("kij,kij->k", stacked, stacked)
        else:
            sq = np.array([float(np.vdot(A, A)) for A in blocks])
    if method == "max_norm" and certificate is None and order == "norm" and not minimal_rank:
        return _greedy_max_norm(blocks, widths, sq, rank, eps, patience)
    offsets = np.concatenate([[0], np.cumsum(widths)])
    C_all = np.hstack(blocks) if order == "residual" else None
    desc = np.argsort(-sq, kind="stable")
    available = np.ones(n, bool)
    cert_cls = certificate or _CERTIFICATES[method]
    clusters, certified, totals, ranks = [], [], [], []
    fails = 0
    while available.any():
        avail = desc[available[desc]]
        n_seed = norm_seed(widths, avail, rank)
        seed, rest = avail[:n_seed], avail[n_seed:]
        N = float(sq[seed].sum())
        seed_width = int(widths[seed].sum())
        norm_only = method == "max_norm" and certificate is None and order == "norm" and not minimal_rank
        if norm_only and seed_width <= rank:
            S, state = None, _NormOnly(N)  # the certificate needs only the seed's norm: skip the hstack
        else:
            S = blocks[seed[0]] if n_seed == 1 else np.hstack([blocks[j] for j in seed])
            state = cert_cls(S, rank, oversample, rtol, update)
        if rest.size == 0:
            cand = rest
        elif order == "norm":
            cand = rest[::-1]  # smallest norm first
        else:  # smallest residual against the seed's basis first (computed once per cluster)
            Q = state.order_basis()
            cols = np.concatenate([np.arange(offsets[j], offsets[j + 1]) for j in rest])
            in_span = np.sum((Q.T @ C_all[:, cols]) ** 2, axis=0)
            starts = np.concatenate([[0], np.cumsum(widths[rest])[:-1]])
            resid = sq[rest] - np.add.reduceat(in_span, starts)
            cand = rest[np.argsort(resid, kind="stable")]
        n_acc = 0
        energy = float("nan")
        if cand.size and method == "max_norm" and certificate is None:
            # The seed certificate is constant: accept the longest prefix within the energy budget.
            totals_prefix = N + np.cumsum(sq[cand])
            ok = totals_prefix - state.energy <= eps * eps * totals_prefix
            n_acc = int(np.argmin(ok)) if not ok.all() else cand.size
            if n_acc:
                N, energy = float(totals_prefix[n_acc - 1]), state.energy
        else:
            for j in cand:
                N_next = N + sq[j]
                E = state.add(blocks[j])
                if N_next - E > eps * eps * N_next:
                    break
                state.commit()
                N, energy = N_next, E
                n_acc += 1
        members = np.concatenate([seed, cand[:n_acc]])
        if n_acc and isinstance(state, _IncrementalCertificate):
            # Rigorous regardless of rounding in the updates: keep the longest certified prefix.
            e = state.column_energies([blocks[j] for j in members]).sum(axis=1)
            e_prefix = np.cumsum(e)[n_seed - 1:]
            N_prefix = np.cumsum(sq[members])[n_seed - 1:]
            ok = np.flatnonzero(N_prefix - e_prefix <= eps * eps * N_prefix)
            n_acc = int(ok[-1]) if ok.size else 0
            members = members[: n_seed + n_acc]
            N, energy = float(N_prefix[n_acc]), float(e_prefix[n_acc])
        if n_acc == 0:
            # Seed alone: at most `rank` columns wide (or one block), stored with zero error.
            energy = N if seed_width <= rank else float(_energy_profile([S], rank)[-1])
        r_c = rank
        if minimal_rank and members.size > 1:
            prof = state.profile([blocks[j] for j in members]) if n_acc else _energy_profile([S], rank)
            hit = np.flatnonzero(N - prof <= eps * eps * N)
            r_c = int(hit[0]) + 1 if hit.size else rank
            energy = float(prof[r_c - 1])
        clusters.append(members)
        certified.append(energy)
        totals.append(N)
        ranks.append(r_c)
        available[members] = False
        fails = 0 if n_acc else fails + 1
        if patience is not None and fails >= patience:
            # The rest become singletons, stored as they are (error 0, so "certified" = total).
            rest = desc[available[desc]]
            clusters.extend(rest.reshape(-1, 1))
            certified.extend(sq[rest])
            totals.extend(sq[rest])
            ranks.extend([rank] * rest.size)
            break
    return clusters, np.array(certified), np.array(totals), np.array(ranks)


def _greedy_max_norm(blocks, widths, sq, rank, eps, patience):
    """``_greedy`` for max_norm in norm order: same clusters, same arithmetic, O(K) overall.

    The certificate is the seed's energy, so a cluster is the seed, taken from
    the large end of the norm order, plus the longest run of the smallest
    blocks whose total stays within the budget: the blocks still available are
    always one contiguous run ``desc[lo:hi]`` of that order. Each cluster then
    costs O(its size) (``_kernels.accept_prefix`` stops at the first failing
    candidate) instead of the general loop's O(K) per cluster.
    """
    n = len(blocks)
    desc = np.argsort(-sq, kind="stable")
    asc = desc[::-1]  # candidates, smallest first: asc[n - hi: n - lo - n_seed]
    sq_desc = sq[desc]
    sq_asc = np.ascontiguousarray(sq_desc[::-1])
    widths_desc = widths[desc].tolist()
    budget = eps * eps
    lo, hi = 0, n
    clusters, certified, totals = [], [], []
    fails = 0
    while lo < hi:
        seed_width, n_seed = widths_desc[lo], 1  # the seed: as in norm_seed
        while lo + n_seed < hi and seed_width + widths_desc[lo + n_seed] <= rank:
            seed_width += widths_desc[lo + n_seed]
            n_seed += 1
        N = float(sq_desc[lo:lo + n_seed].sum())
        # A seed wider than the rank is one block: its certificate is E_r of that block.
        seed_energy = N if seed_width <= rank else _SeedCertificate(blocks[desc[lo]], rank, 0, None, None).energy
        n_acc, N_acc = _kernels.accept_prefix(sq_asc, n - hi, n - lo - n_seed, N, seed_energy, budget)
        if n_acc:
            members = np.concatenate([desc[lo:lo + n_seed], asc[n - hi:n - hi + n_acc]])
            N, energy = N_acc, seed_energy
        else:
            # Seed alone: at most `rank` columns wide (or one block), stored with zero error.
            members = desc[lo:lo + n_seed].copy()
            energy = N if seed_width <= rank else float(_energy_profile([blocks[desc[lo]]], rank)[-1])
        clusters.append(members)
        certified.append(energy)
        totals.append(N)
        lo, hi = lo + n_seed, hi - n_acc
        fails = 0 if n_acc else fails + 1
        if patience is not None and fails >= patience:
            break
    # After `patience` clusters that could not grow, the rest are singletons stored as they are.
    rest = desc[lo:hi]
    clusters.extend(rest.reshape(-1, 1))
    certified = np.concatenate([np.array(certified, dtype=np.float64), sq[rest]])
    totals = np.concatenate([np.array(totals, dtype=np.float64), sq[rest]])
    return clusters, certified, totals, np.full(len(clusters), rank)


def _check_cluster_params(rank, eps, method, order, patience, oversample, rtol):
    rank = check_rank_param(rank)
    eps = check_scalar(eps, "eps", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_option(method, "method", METHODS)
    check_option(order, "order", ORDERS)
    patience = None if patience is None else check_int(patience, "patience", min_value=1)
    oversample = check_int(oversample, "oversample", min_value=0)
    rtol = None if rtol is None else check_scalar(rtol, "rtol", low=0.0, high=1.0, high_inclusive=False)
    return rank, eps, patience, oversample, rtol


def _labels(clusters, n):
    sizes = np.fromiter(map(len, clusters), dtype=np.intp, count=len(clusters))
    labels = np.full(n, -1, dtype=np.intp)
    if clusters:
        labels[np.concatenate(clusters)] = np.repeat(np.arange(len(clusters)), sizes)
    if (labels < 0).any() or sizes.sum() != n:  # pragma: no cover - internal invariant
        raise RuntimeError("internal error: the clustering is not a partition of the blocks")
    return labels


def cluster_matrices(blocks, rank, eps, *, method="approximate", order="norm", patience=10, oversample=5,
                     rtol=None):
    """Group matrices so that each group's concatenation has rank-r relative error <= eps.

    The paper's greedy: the largest remaining block, plus the next largest
    while the total width stays <= ``rank``, seeds a cluster (zero error);
    candidates are tried in ``order`` and appended while a *certified* upper
    bound on the cluster's relative rank-``rank`` error stays <= ``eps``; the
    first failure closes the cluster. After ``patience`` consecutive clusters
    that could not grow, the remaining blocks become singletons.

    Every returned cluster with two or more blocks satisfies
    ``||C - C_r||_F <= eps ||C||_F`` (the certificate is a lower bound on the
    captured energy; for ``"approximate"`` it is re-checked a-posteriori with
    the estimator's basis, which is rigorous regardless of rounding). The
    output is always a partition: unlike the paper's code, the whole seed
    is emitted when nothing can be added.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
        Matrices with a common row count m.
    rank : int
        Rank r of the shared truncated SVD of each cluster.
    eps : float
        Relative Frobenius error budget, ``0 < eps < 1``.
    method : {"max_norm", "residuals", "approximate"}, default "approximate"
        Certificate: the seed's energy (no SVD, fastest, most conservative),
        the incremental residual bound, or the incremental truncated SVD
        (near-exact on structured data; per-block cost independent of the
        cluster size).
    order : {"norm", "residual"}, default "norm"
        Candidate order: smallest Frobenius norm first (the paper's default),
        or smallest residual after projecting on the seed's column space.
        ``"norm"`` ignores which subspace a block lies in: on 1000 blocks
        (64 x 16) drawn from 5 rank-4 subspaces plus 5 % noise, rank 4,
        eps 0.2, it gave 940 clusters (compression ratio 1.1) where
        ``"residual"`` gave 6 (15.6); prefer ``"residual"`` for mixtures.
    patience : int or None, default 10
        Consecutive non-growing clusters before the rest become singletons
        (None: never stop early).
    oversample : int, default 5
        Extra pairs kept by the ``"approximate"`` estimator.
    rtol : float, optional
        Relative pruning tolerance of residual directions (default
        ``10 * eps_float64 * sqrt(m)``).

    Returns
    -------
    labels : ndarray of int of shape (K,)
        Cluster of each block, clusters numbered in the order they were formed.

    References
    ----------
    .. [1] M. Shamrai, "Concatenated Matrix SVD: Compression Bounds, Incremental
       Approximation, and Error-Constrained Clustering", arXiv:2601.11626 (2026):
       the three error-constrained clustering algorithms. Their guarantee (every
       cluster's true error <= eps, for all methods, orders and eps) is checked by
       claim ``concat.clustering-constraint``; compression against eps by
       ``concat.compression-vs-eps``.

    See Also
    --------
    ErrorConstrainedClustering : the same, with errors, ranks and compression ratio.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import cluster_matrices
    >>> rng = np.random.default_rng(0)
    >>> bases = [np.linalg.qr(rng.standard_normal((40, 4)))[0] for _ in range(2)]
    >>> blocks = [bases[k % 2] @ rng.standard_normal((4, 4)) for k in range(20)]
    >>> labels = cluster_matrices(blocks, rank=4, eps=0.01, order="residual")
    >>> np.unique(labels).size
    2
    >>> bool(np.all(labels[::2] == labels[0]))
    True
    """
    blocks, sq = check_blocks(blocks, return_sq_norms=True)
    rank, eps, patience, oversample, rtol = _check_cluster_params(rank, eps, method, order, patience, oversample, rtol)
    clusters, *_ = _greedy(blocks, rank, eps, method=method, order=order, patience=patience,
                           oversample=oversample, rtol=rtol, sq=sq)
    return _labels(clusters, len(blocks))


def compression_ratio(blocks, labels, rank):
    """Parameters of the blocks over the parameters of their per-cluster truncated SVDs.

    ``CR = m sum_j d_j / sum_c P(c)`` with ``P(c) = m W_c`` for a single block
    (stored as it is) and ``min(r_c (m + W_c), m W_c)`` otherwise, ``W_c`` the
    cluster's total width: the paper's effective compression ratio.

    Parameters
    ----------
    blocks : sequence of array_like of shape (m, d_j), or ndarray of shape (K, m, d)
    labels : array_like of int of shape (K,)
    rank : int or array_like of int
        One rank for every cluster, or one per cluster, indexed by the sorted
        unique labels.

    Returns
    -------
    float
        The compression ratio (> 1 when the clustered SVDs store fewer numbers).

    References
    ----------
    .. [1] M. Shamrai, "Concatenated Matrix SVD: Compression Bounds, Incremental
       Approximation, and Error-Constrained Clustering", arXiv:2601.11626 (2026):
       the effective compression ratio reported by claim ``concat.compression-vs-eps``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import compression_ratio
    >>> blocks = [np.ones((10, 2))] * 4
    >>> float(compression_ratio(blocks, [0, 0, 0, 0], 1))
    4.444444444444445
    """
    blocks = check_blocks(blocks)
    labels = np.asarray(labels)
    if labels.shape != (len(blocks),) or labels.dtype.kind not in "iu":
        raise ValueError(f"`labels` must be an integer array of shape ({len(blocks)},); got {labels!r}.")
    uniq = np.unique(labels)
    if np.ndim(rank) == 0:
        ranks = np.full(uniq.size, check_rank_param(rank))
    else:
        ranks = np.asarray(rank)
        if ranks.dtype.kind not in "iu":  # floats were truncated (1.5 -> 1), bools counted as 1
            raise TypeError(f"`rank` must be an int or a sequence of ints; got dtype {ranks.dtype}.")
        ranks = check_array(ranks, "rank", ndim=1).astype(np.int64)
        if ranks.size != uniq.size or (ranks < 1).any():
            raise ValueError(f"`rank` must be an int or {uniq.size} positive ints (one per cluster).")
    return _compression_ratio(blocks, labels, ranks)


def _compression_ratio(blocks, labels, ranks):
    """compression_ratio on validated blocks, labels and one rank per sorted unique label."""
    m = blocks[0].shape[0]
    widths = np.fromiter((A.shape[1] for A in blocks), dtype=np.intp, count=len(blocks))
    _, inv = np.unique(labels, return_inverse=True)
    W = np.bincount(inv, weights=widths)
    size = np.bincount(inv)
    params = np.where(size == 1, m * W, np.minimum(ranks * (m + W), m * W))
    return float(m * widths.sum() / params.sum())


class ErrorConstrainedClustering(BaseEstimator):
    """Error-constrained clustering of matrices (scikit-learn style).

    Fits :func:`cluster_matrices` and reports, per cluster, the certified and
    the exact relative error, the rank used and the compression ratio.

    Parameters
    ----------
    rank : int, default 10
    eps : float, default 0.1
    method : {"max_norm", "residuals", "approximate"}, default "approximate"
    order : {"norm", "residual"}, default "norm"
        As in :func:`cluster_matrices`; ``"residual"`` follows the blocks'
        subspaces (on 1000 blocks from 5 subspaces ``"norm"``, the paper's,
        gave 940 clusters and ``"residual"`` 6, see :func:`cluster_matrices`).
    patience : int or None, default 10
    oversample : int, default 5
    rtol : float, optional
    minimal_rank : bool, default False
        Give each cluster the smallest rank ``r_c <= rank`` whose certified
        error is <= eps (the certificates bound every partial sum, so one pass
        suffices); the compression ratio counts ``r_c (m + W_c)`` parameters.
    compute_errors : bool, default True
        Compute ``errors_`` exactly (one Gram eigen-decomposition per cluster).

    Attributes
    ----------
    labels_ : ndarray of shape (K,)
    clusters_ : list of ndarray
        Block indices of each cluster, seed first.
    ranks_ : ndarray of shape (n_clusters,)
    certified_errors_ : ndarray of shape (n_clusters,)
        Certified upper bounds on each cluster's relative error (0 for
        single blocks, which are stored uncompressed).
    errors_ : ndarray of shape (n_clusters,)
        Exact relative errors ``||C - C_{r_c}||_F / ||C||_F`` of each cluster
        (0 for single blocks); ``errors_ <= certified_errors_ <= eps`` up to
        rounding (errors are square roots of energy gaps, so a gap of 1e-16 N
        reads as an error of 1e-8).
    compression_ratio_ : float
    n_clusters_ : int

    References
    ----------
    .. [1] M. Shamrai, "Concatenated Matrix SVD: Compression Bounds, Incremental
       Approximation, and Error-Constrained Clustering", arXiv:2601.11626 (2026);
       claims ``concat.clustering-constraint`` and ``concat.compression-vs-eps``.

    Notes
    -----
    ``fit`` takes a collection of matrices, not a 2-D sample matrix, so
    scikit-learn's generic estimator checks do not apply.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.concat import ErrorConstrainedClustering
    >>> rng = np.random.default_rng(0)
    >>> basis = np.linalg.qr(rng.standard_normal((30, 3)))[0]
    >>> blocks = [basis @ rng.standard_normal((3, 2)) + 1e-3 * rng.standard_normal((30, 2))
    ...           for _ in range(12)]
    >>> model = ErrorConstrainedClustering(rank=3, eps=0.05, order="residual").fit(blocks)
    >>> model.n_clusters_
    1
    >>> bool(model.errors_[0] <= model.certified_errors_[0] + 1e-12 and model.certified_errors_[0] <= 0.05)
    True
    >>> round(model.compression_ratio_, 2)
    4.44
    """

    def __init__(self, rank=10, eps=0.1, *, method="approximate", order="norm", patience=10, oversample=5,
                 rtol=None, minimal_rank=False, compute_errors=True):
        self.rank = rank
        self.eps = eps
        self.method = method
        self.order = order
        self.patience = patience
        self.oversample = oversample
        self.rtol = rtol
        self.minimal_rank = minimal_rank
        self.compute_errors = compute_errors

    def fit(self, X, y=None):
        """Cluster the matrices ``X`` (a sequence of m x d_j arrays or a (K, m, d) array)."""
        blocks, sq = check_blocks(X, "X", return_sq_norms=True)
        rank, eps, patience, oversample, rtol = _check_cluster_params(
            self.rank, self.eps, self.method, self.order, self.patience, self.oversample, self.rtol
        )
        minimal_rank = check_bool(self.minimal_rank, "minimal_rank")
        compute_errors = check_bool(self.compute_errors, "compute_errors")
        clusters, certified, totals, ranks = _greedy(
            blocks, rank, eps, method=self.method, order=self.order, patience=patience,
            oversample=oversample, rtol=rtol, minimal_rank=minimal_rank, sq=sq,
        )
        single = np.array([len(c) == 1 for c in clusters])
        with np.errstate(divide="ignore", invalid="ignore"):
            cert = np.sqrt(np.clip(totals - certified, 0.0, None) / totals)
        self.certified_errors_ = np.where(single | (totals <= 0), 0.0, cert)
        self.clusters_ = clusters
        self.labels_ = _labels(clusters, len(blocks))
        self.ranks_ = ranks
        self.n_clusters_ = len(clusters)
        self.compression_ratio_ = _compression_ratio(blocks, self.labels_, ranks)
        if compute_errors:
            errors = np.zeros(len(clusters))
            for c, members in enumerate(clusters):
                if len(members) > 1 and totals[c] > 0:
                    E = _energy_profile([blocks[j] for j in members], int(ranks[c]))[-1]
                    errors[c] = np.sqrt(max(0.0, totals[c] - E) / totals[c])
            self.errors_ = errors
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_
