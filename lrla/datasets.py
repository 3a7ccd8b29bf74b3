"""Problem instances with known ground truth, and loaders of data shipped inside installed packages.

Each family of lrla adds its generators here, in its own section. Every
generator takes ``random_state`` and returns plain NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from ._rng import check_random_state
from ._validation import check_int, check_option

# --- hadamard -----------------------------------------------------------------

HADAMARD_INPUT_KINDS = ("e1", "pair", "block4", "block8", "sparse2", "sparse8", "sparse32", "flat", "gaussian")


def make_hadamard_input(dim, kind, *, random_state=None):
    """A unit vector of length ``dim`` from the sweep of inputs the Hadamard claims use.

    Parameters
    ----------
    dim : int
        Length (>= 32 for the sparse and block kinds that need that many coordinates).
    kind : str
        ``"e1"``; ``"pair"`` = (e1 + e2)/sqrt 2; ``"block4"``, ``"block8"`` =
        indicator of the first 4 (8) coordinates, normalised (the extremal
        inputs: supported on a subgroup); ``"sparseK"`` = K random coordinates
        with random signs; ``"flat"`` = all-ones / sqrt(dim);
        ``"gaussian"`` = g/||g||.
    random_state : None, int, Generator or RandomState
        Used by the random kinds.
    """
    dim = check_int(dim, "dim", min_value=1)
    check_option(kind, "kind", HADAMARD_INPUT_KINDS)
    rng = check_random_state(random_state)
    u = np.zeros(dim)
    if kind == "e1":
        u[0] = 1.0
    elif kind in ("pair", "block4", "block8"):
        k = {"pair": 2, "block4": 4, "block8": 8}[kind]
        if dim < k:
            raise ValueError(f"`dim` must be >= {k} for kind {kind!r}; got {dim}.")
        u[:k] = 1.0
    elif kind.startswith("sparse"):
        k = int(kind[len("sparse"):])
        if dim < k:
            raise ValueError(f"`dim` must be >= {k} for kind {kind!r}; got {dim}.")
        support = rng.choice(dim, size=k, replace=False)
        u[support] = rng.choice([-1.0, 1.0], size=k)
    elif kind == "flat":
        u[:] = 1.0
    else:
        u = rng.standard_normal(dim)
    return u / np.linalg.norm(u)


def make_subspace(n, k, *, coherence="incoherent", random_state=None):
    """Orthonormal basis (n x k) of a k-dimensional subspace of R^n.

    ``coherence="incoherent"``: a uniformly random subspace (leverage scores
    about k/n); ``"coherent"``: the span of k coordinate vectors (leverage
    scores 0 or 1), the hard case for uniform row sampling.
    """
    n = check_int(n, "n", min_value=1)
    k = check_int(k, "k", min_value=1, max_value=n)
    check_option(coherence, "coherence", ("incoherent", "coherent"))
    rng = check_random_state(random_state)
    if coherence == "coherent":
        U = np.zeros((n, k))
        U[rng.choice(n, size=k, replace=False), np.arange(k)] = 1.0
        return U
    Q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return Q


# --- completion -----------------------------------------------------------------

from ._validation import check_array, check_scalar  # noqa: E402  (completion section)


def make_low_rank(m, n, rank, *, condition=1.0, coherence=1.0, random_state=None):
    """Factors of a random rank-``rank`` matrix M = U diag(s) V^T with known conditioning and coherence.

    Parameters
    ----------
    m, n : int
        Shape of M.
    rank : int
        ``1 <= rank <= min(m, n)``.
    condition : float, default 1.0
        kappa = s_max / s_min >= 1; the singular values are
        ``linspace(1, 1/condition, rank)``.
    coherence : float, default 1.0
        gamma >= 1: the first ``rank`` rows of the Gaussian matrices are
        multiplied by gamma before orthonormalisation, which concentrates the
        singular vectors on those rows (gamma = 1: a uniformly random, incoherent
        subspace, mu about 1.5-3; larger gamma: mu grows towards sqrt(m / rank)).
    random_state : None, int, Generator or RandomState

    Returns
    -------
    U : ndarray of shape (m, rank), orthonormal columns
    s : ndarray of shape (rank,), decreasing
    V : ndarray of shape (n, rank), orthonormal columns
        Factors rather than the dense matrix, so that large instances fit in
        memory; ``(U * s) @ V.T`` forms M.

    Examples
    --------
    >>> from lrla.datasets import make_low_rank
    >>> U, s, V = make_low_rank(50, 40, 3, condition=4.0, random_state=0)
    >>> U.shape, V.shape, s.round(2).tolist()
    ((50, 3), (40, 3), [1.0, 0.62, 0.25])
    """
    m = check_int(m, "m", min_value=1)
    n = check_int(n, "n", min_value=1)
    rank = check_int(rank, "rank", min_value=1, max_value=min(m, n))
    condition = check_scalar(condition, "condition", low=1.0)
    coherence = check_scalar(coherence, "coherence", low=1.0)
    rng = check_random_state(random_state)
    factors = []
    for size in (m, n):
        G = rng.standard_normal((size, rank))
        G[:rank] *= coherence
        factors.append(np.linalg.qr(G)[0])
    s = np.linspace(1.0, 1.0 / condition, rank)
    return factors[0], s, factors[1]


def make_observation_mask(shape, *, p=None, n_observed=None, random_state=None):
    """Uniformly random set of observed positions of an m x n matrix, without forming the mask.

    Give exactly one of ``p`` (each entry observed independently with
    probability p) or ``n_observed`` (a uniformly random subset of that size).

    Returns
    -------
    rows, cols : ndarray of int64, sorted row-major.

    Examples
    --------
    >>> from lrla.datasets import make_observation_mask
    >>> rows, cols = make_observation_mask((100, 80), n_observed=500, random_state=0)
    >>> rows.shape, int(rows.max()) < 100, int(cols.max()) < 80
    ((500,), True, True)
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"`shape` must be a pair (n_rows, n_cols); got {shape!r}.")
    m = check_int(shape[0], "shape[0]", min_value=1)
    n = check_int(shape[1], "shape[1]", min_value=1)
    if (p is None) == (n_observed is None):
        raise ValueError("give exactly one of `p` and `n_observed`.")
    rng = check_random_state(random_state)
    total = m * n
    if p is not None:
        p = check_scalar(p, "p", low=0.0, high=1.0, low_inclusive=False)
        n_observed = int(rng.binomial(total, p))
    n_observed = check_int(n_observed, "n_observed", min_value=1, max_value=total)
    if 2 * n_observed > total:
        linear = np.sort(rng.choice(total, size=n_observed, replace=False))
    else:
        # Draw with replacement, deduplicate, top up: O(|Omega| log |Omega|) memory and time,
        # independent of m * n (a 20000 x 20000 mask never exists).
        linear = np.unique(rng.integers(0, total, size=n_observed + n_observed // 8 + 16, dtype=np.int64))
        while linear.shape[0] < n_observed:
            extra = rng.integers(0, total, size=2 * (n_observed - linear.shape[0]) + 16, dtype=np.int64)
            linear = np.unique(np.concatenate([linear, extra]))
        if linear.shape[0] > n_observed:
            linear = np.sort(rng.choice(linear, size=n_observed, replace=False))
    return linear // n, linear % n


def sample_entries(U, s, V, *, p=None, n_observed=None, random_state=None):
    """Observed entries (rows, cols, values) of M = U diag(s) V^T on a random mask.

    The mask comes from :func:`make_observation_mask` (give ``p`` or
    ``n_observed``); values are computed in chunks, never forming M.

    Examples
    --------
    >>> from lrla.datasets import make_low_rank, sample_entries
    >>> U, s, V = make_low_rank(60, 50, 2, random_state=0)
    >>> rows, cols, vals = sample_entries(U, s, V, p=0.2, random_state=0)
    >>> bool(np.allclose(vals, ((U * s) @ V.T)[rows, cols]))
    True
    """
    U = check_array(U, "U", ndim=2)
    V = check_array(V, "V", ndim=2)
    s = check_array(s, "s", ndim=1)
    if not (U.shape[1] == V.shape[1] == s.shape[0]):
        raise ValueError(f"`U`, `s`, `V` must share the rank; got {U.shape[1]}, {s.shape[0]}, {V.shape[1]}.")
    rows, cols = make_observation_mask((U.shape[0], V.shape[0]), p=p, n_observed=n_observed,
                                       random_state=random_state)
    Us = U * s
    values = np.empty(rows.shape[0], dtype=np.result_type(U.dtype, V.dtype))
    chunk = 1 << 18
    for start in range(0, rows.shape[0], chunk):
        sl = slice(start, start + chunk)
        values[sl] = np.einsum("ij,ij->i", Us[rows[sl]], V[cols[sl]])
    return rows, cols, values
