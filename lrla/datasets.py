"""Problem instances with known ground truth, and loaders of data shipped inside installed packages.

Generators take ``random_state`` and return plain NumPy arrays (or a named tuple of them); loaders
read data that ships with scikit-learn, so nothing is downloaded. One section per family:

hadamard     make_hadamard_input, make_subspace
completion   make_low_rank, make_observation_mask, sample_entries
concat       make_block_family, load_digits_blocks, load_mlp_weight_blocks
sampling     make_flat_matrix, make_heavy_row_matrix, make_two_block_matrix, make_heavy_tailed_matrix
nystrom      make_clusters_outliers, load_digits_features, stream_order
streaming    make_spiked_stream, make_heavy_tilt_stream, stream_heavy_tilt_stream, make_oja_hard_instance,
             stream_oja_hard_instance, oja_hard_instance_oracle, adversarial_order
recovery     make_sensing_problem (-> SensingProblem)
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ._rng import check_random_state
from ._validation import check_array, check_int, check_option, check_scalar

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


# --- concat -------------------------------------------------------------------

BLOCK_FAMILIES = (
    "gaussian",
    "power_law",
    "orthogonal",
    "identical",
    "shared_subspace",
    "groups",
    "low_rank_wide",
    "slow_direction",
)


def make_block_family(kind, n_blocks=40, n_rows=64, width=4, *, rank=8, noise=0.05, n_groups=4,
                      return_groups=False, random_state=None):
    """A collection of ``n_blocks`` matrices of shape (n_rows, width) with known structure.

    The families of the concatenated-SVD validation (Shamrai 2026):

    - ``"gaussian"``: iid N(0, 1) entries (flat spectrum, the estimators' worst case);
    - ``"power_law"``: Gaussian blocks scaled by ``(k + 1)**-1``;
    - ``"orthogonal"``: mutually orthogonal column spaces (needs ``n_blocks * width <= n_rows``),
      log-normal scales; the concatenation's spectrum is the union of the blocks';
    - ``"identical"``: one Gaussian block repeated;
    - ``"shared_subspace"``: ``U G_k + noise * E_k`` with one ``rank``-dimensional U;
    - ``"groups"``: ``n_groups`` subspaces of dimension ``rank``, block k in group ``k % n_groups``,
      log-normal scales, relative noise ``noise``;
    - ``"low_rank_wide"``: blocks of rank ``rank`` plus ``1e-3`` noise (use ``width > rank``);
    - ``"slow_direction"``: adversarial unit columns, ``width`` = 1: ``3 e_1`` then ``e_2, ...,
      e_{rank+1}`` cycled; defeats ``IncrementalSVD(1, oversample=rank - 1)``, whose estimate
      of the error tends to 1 while the true error tends to 0.

    Parameters
    ----------
    kind : str
        One of ``BLOCK_FAMILIES``.
    n_blocks, n_rows, width : int
    rank : int
        Subspace dimension (shared_subspace, groups), block rank (low_rank_wide) or number of
        slow directions (slow_direction).
    noise : float
        Relative noise level of shared_subspace and groups.
    n_groups : int
    return_groups : bool
        Also return the ground-truth group of each block (zeros when the family has none).
    random_state : None, int, Generator or RandomState

    Returns
    -------
    blocks : list of ndarray of shape (n_rows, width)
    groups : ndarray of int, only if ``return_groups``
    """
    check_option(kind, "kind", BLOCK_FAMILIES)
    n_blocks = check_int(n_blocks, "n_blocks", min_value=1)
    n_rows = check_int(n_rows, "n_rows", min_value=1)
    width = check_int(width, "width", min_value=1)
    rank = check_int(rank, "rank", min_value=1)
    n_groups = check_int(n_groups, "n_groups", min_value=1)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"`noise` must be a finite number >= 0; got {noise!r}.")
    rng = check_random_state(random_state)
    groups = np.zeros(n_blocks, dtype=np.intp)

    def gauss(*shape):
        return rng.standard_normal(shape)

    if kind == "gaussian":
        blocks = [gauss(n_rows, width) for _ in range(n_blocks)]
    elif kind == "power_law":
        blocks = [gauss(n_rows, width) / (k + 1) for k in range(n_blocks)]
    elif kind == "orthogonal":
        if n_blocks * width > n_rows:
            raise ValueError(
                f"kind 'orthogonal' needs n_blocks * width <= n_rows; got {n_blocks} * {width} > {n_rows}."
            )
        Q = np.linalg.qr(gauss(n_rows, n_blocks * width))[0]
        blocks = [Q[:, k * width:(k + 1) * width] @ gauss(width, width) * rng.lognormal() for k in range(n_blocks)]
    elif kind == "identical":
        A = gauss(n_rows, width)
        blocks = [A.copy() for _ in range(n_blocks)]
    elif kind in ("shared_subspace", "groups"):
        if rank > n_rows:
            raise ValueError(f"`rank` must be <= n_rows for kind {kind!r}; got {rank} > {n_rows}.")
        n_sub = 1 if kind == "shared_subspace" else n_groups
        bases = [np.linalg.qr(gauss(n_rows, rank))[0] for _ in range(n_sub)]
        blocks = []
        for k in range(n_blocks):
            g = k % n_sub
            groups[k] = g
            signal = bases[g] @ gauss(rank, width) / np.sqrt(width)
            A = signal + noise * np.linalg.norm(signal) / np.sqrt(n_rows * width) * gauss(n_rows, width)
            blocks.append(A * (rng.lognormal() if kind == "groups" else 1.0))
    elif kind == "low_rank_wide":
        blocks = [gauss(n_rows, rank) @ gauss(rank, width) + 1e-3 * gauss(n_rows, width) for _ in range(n_blocks)]
    else:  # slow_direction
        if rank + 1 > n_rows:
            raise ValueError(f"kind 'slow_direction' needs rank + 1 <= n_rows; got rank={rank}, n_rows={n_rows}.")
        eye = np.eye(n_rows)
        blocks = [3.0 * eye[:, :1]] + [eye[:, 1 + (k % rank)][:, None].copy() for k in range(n_blocks - 1)]
        groups[1:] = 1 + np.arange(n_blocks - 1) % rank
    return (blocks, groups) if return_groups else blocks


def load_digits_blocks(width=8, *, return_classes=False):
    """scikit-learn's digits split per class into 64 x ``width`` column blocks.

    Each class c gives ``X_c^T`` (64 pixels x n_c images), cut into
    consecutive chunks of ``width`` images (the remainder is dropped), so
    blocks of one class share a low-dimensional subspace. Pixels are
    scaled to [0, 1]. Shipped with scikit-learn: no download.

    Returns
    -------
    blocks : list of ndarray of shape (64, width)
    classes : ndarray of int, only if ``return_classes``
    """
    from sklearn.datasets import load_digits

    width = check_int(width, "width", min_value=1, max_value=150)
    X, y = load_digits(return_X_y=True)
    blocks, classes = [], []
    for c in range(10):
        Xc = X[y == c].T / 16.0
        for k in range(Xc.shape[1] // width):
            blocks.append(np.ascontiguousarray(Xc[:, k * width:(k + 1) * width]))
            classes.append(c)
    classes = np.array(classes, dtype=np.intp)
    return (blocks, classes) if return_classes else blocks


def load_mlp_weight_blocks(width=8, *, hidden_layer_sizes=(64, 64, 64, 64), max_iter=50, random_state=0):
    """Column blocks of the weight matrices of a small MLP trained on digits.

    Trains ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes, max_iter,
    random_state)`` on the digits (pixels / 16; about a second on one core,
    BLAS limited to one thread), then cuts every weight matrix with 64 rows
    (``coefs_``, input and hidden layers) into column blocks of ``width``
    (``width=1`` mirrors the paper's one-vector blocks of transformer weights).
    Convergence warnings of the short training are silenced: the weights are
    data, not a model to use.

    Returns
    -------
    blocks : list of ndarray of shape (64, width)
    """
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    width = check_int(width, "width", min_value=1, max_value=64)
    hidden = tuple(check_int(h, "hidden_layer_sizes", min_value=1) for h in hidden_layer_sizes)
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", _SkConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=check_int(max_iter, "max_iter", min_value=1),
                            batch_size=200, random_state=random_state).fit(X / 16.0, y)
    blocks = []
    for W in clf.coefs_:
        if W.shape[0] != 64:
            continue
        for k in range(W.shape[1] // width):
            blocks.append(np.ascontiguousarray(W[:, k * width:(k + 1) * width]))
    return blocks


# --- sampling -----------------------------------------------------------------


def make_flat_matrix(d, *, kind="sign", n=None, random_state=None):
    """Flat (incoherent) matrices, the minimum-sensitivity instances for p < 2.

    ``kind="sign"``: all ``2**d`` sign vectors as rows (n = 2**d, ``n`` must be
    None; d <= 16): by symmetry every row has the same l_p sensitivity and the
    total sensitivity is Theta(d^{p/2}) (Khintchine), while any subspace
    embedding needs >= d rows. ``kind="gaussian"``: ``n`` i.i.d. N(0, 1) rows
    (total sensitivity about ``d^{p/2} / E|g|^p`` for n >> d).
    """
    d = check_int(d, "d", min_value=1)
    check_option(kind, "kind", ("sign", "gaussian"))
    if kind == "sign":
        if n is not None:
            raise ValueError("`n` is fixed to 2**d for kind='sign'; pass n=None.")
        if d > 16:
            raise ValueError(f"`d` must be <= 16 for kind='sign' (2**d rows); got {d}.")
        codes = np.arange(2**d)[:, None] >> np.arange(d)[None, :]
        return 1.0 - 2.0 * (codes & 1)
    n = check_int(n, "n", min_value=d)
    return check_random_state(random_state).standard_normal((n, d))


def make_heavy_row_matrix(n, d, *, heavy_scale=10.0, n_heavy=None, random_state=None):
    """Gaussian rows plus single heavy rows ``heavy_scale * e_j``: sweeps the total sensitivity at fixed d.

    The first ``n_heavy`` rows (default d) are ``heavy_scale * e_{j mod d}``;
    the other ``n - n_heavy`` rows are i.i.d. N(0, I_d). ``heavy_scale = 0``
    gives a flat Gaussian matrix (total l_p sensitivity about d^{p/2}/E|g|^p);
    as the scale grows each heavy row's sensitivity tends to 1 and the total
    moves towards d (for p < 2). Uniform sampling must keep all heavy rows.
    """
    n = check_int(n, "n", min_value=1)
    d = check_int(d, "d", min_value=1)
    n_heavy = d if n_heavy is None else check_int(n_heavy, "n_heavy", min_value=0, max_value=n)
    if n - n_heavy < d:
        raise ValueError(f"need n - n_heavy >= d Gaussian rows; got n={n}, n_heavy={n_heavy}, d={d}.")
    rng = check_random_state(random_state)
    A = rng.standard_normal((n, d))
    A[:n_heavy] = 0.0
    A[np.arange(n_heavy), np.arange(n_heavy) % d] = float(heavy_scale)
    return A


def make_two_block_matrix(k, n_copies, n_gaussian, d_gaussian, *, random_state=None):
    """Munteanu-Omlor-type instance ``diag([I_k; ...; I_k], G)`` (n_copies stacked identities, G Gaussian).

    Total sensitivity about ``k + d_gaussian^{p/2} / E|g|^p``; plain sensitivity
    sampling starves the Gaussian block, l2 augmentation fixes it.
    """
    k = check_int(k, "k", min_value=1)
    n_copies = check_int(n_copies, "n_copies", min_value=1)
    n_gaussian = check_int(n_gaussian, "n_gaussian", min_value=1)
    d_gaussian = check_int(d_gaussian, "d_gaussian", min_value=1, max_value=n_gaussian)
    rng = check_random_state(random_state)
    A = np.zeros((k * n_copies + n_gaussian, k + d_gaussian))
    A[: k * n_copies, :k] = np.tile(np.eye(k), (n_copies, 1))
    A[k * n_copies:, k:] = rng.standard_normal((n_gaussian, d_gaussian))
    return A


def make_heavy_tailed_matrix(n, d, *, df=2.0, random_state=None):
    """Rows with i.i.d. Student-t(df) entries: coherent, heavy-tailed leverage (uniform sampling fails)."""
    n = check_int(n, "n", min_value=1)
    d = check_int(d, "d", min_value=1)
    if not (isinstance(df, (int, float, np.floating)) and df > 0):
        raise ValueError(f"`df` must be a positive number; got {df!r}.")
    return check_random_state(random_state).standard_t(df, size=(n, d))


# --- nystrom ------------------------------------------------------------------


def make_clusters_outliers(n_samples=1000, *, n_outliers=20, n_clusters=3, cluster_std=0.3, spacing=2.0,
                           n_features=3, random_state=None):
    """Coherent kernel data: tight Gaussian clusters plus a few isolated uniform outliers.

    Under the RBF kernel ``exp(-0.5 ||x - y||^2)`` the outliers carry ridge
    leverage scores near ``1 / (1 + ridge)`` while cluster points carry
    ``~d_eff / n``: uniform Nystroem landmarks miss most outliers (error ~1 in
    spectral norm per missed outlier), ridge-leverage-score landmarks do not.
    With the defaults, ``d_eff(1) ~ 32`` and ``d_eff(0.3) ~ 45`` at n = 1000.

    Parameters
    ----------
    n_samples : int
        Total number of points (clusters + outliers).
    n_outliers : int
        Outliers, drawn uniformly from the box ``[-2 spacing, 3 spacing]^d``.
    n_clusters : int
        Clusters centred at ``spacing * e_k`` (``k < min(n_clusters, n_features)``)
        plus further centres on a line if ``n_clusters > n_features``.
    cluster_std, spacing : float
    n_features : int
    random_state : None, int, Generator or RandomState

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Rows in random order.
    is_outlier : ndarray of bool, shape (n_samples,)
    """
    n = check_int(n_samples, "n_samples", min_value=2)
    n_out = check_int(n_outliers, "n_outliers", min_value=0, max_value=n - 1)
    k = check_int(n_clusters, "n_clusters", min_value=1)
    d = check_int(n_features, "n_features", min_value=1)
    rng = check_random_state(random_state)
    centres = np.zeros((k, d))
    for j in range(1, k):
        centres[j, (j - 1) % d] = spacing * (1 + (j - 1) // d)
    inliers = centres[rng.integers(0, k, n - n_out)] + cluster_std * rng.standard_normal((n - n_out, d))
    outliers = rng.uniform(-2 * spacing, 3 * spacing, (n_out, d))
    X = np.vstack([inliers, outliers])
    is_outlier = np.r_[np.zeros(n - n_out, bool), np.ones(n_out, bool)]
    perm = rng.permutation(n)
    return X[perm], is_outlier[perm]


def load_digits_features(n_samples=None):
    """scikit-learn's bundled 8x8 digits (1797 x 64), pixels scaled to [0, 1], and the labels.

    ``n_samples`` keeps the first rows (no download: the data ships with scikit-learn).
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    X, y = data.data / 16.0, data.target
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", min_value=1, max_value=X.shape[0])
        X, y = X[:n_samples], y[:n_samples]
    return X, y


def stream_order(n, order="random", *, last=None, random_state=None):
    """A permutation of ``range(n)``: the order in which a streaming algorithm sees the points.

    ``order="random"``: uniformly random; ``"adversarial"``: random, except that
    the points flagged in the boolean mask ``last`` (e.g. the outliers of
    :func:`make_clusters_outliers`) come at the end, after the estimator has
    settled on the bulk; ``"given"``: ``0, 1, ..., n-1``.
    """
    n = check_int(n, "n", min_value=1)
    check_option(order, "order", ("random", "adversarial", "given"))
    rng = check_random_state(random_state)
    if order == "given":
        return np.arange(n)
    perm = rng.permutation(n)
    if order == "adversarial":
        if last is None:
            raise ValueError("`last` (a boolean mask of the points to put last) is required for order='adversarial'.")
        last = np.asarray(last, dtype=bool)
        if last.shape != (n,):
            raise ValueError(f"`last` must be a boolean mask of shape ({n},); got shape {last.shape}.")
        perm = np.r_[perm[~last[perm]], perm[last[perm]]]
    return perm


# --- streaming ----------------------------------------------------------------
# make_spiked_stream, make_heavy_tilt_stream, the hard instance for fixed-rate Oja (dense or streamed
# chunk by chunk, with its closed form), adversarial orders.

from .streaming._instances import (  # noqa: E402,F401  (streaming section)
    ADVERSARIAL_ORDERS,
    adversarial_order,
    make_heavy_tilt_stream,
    make_oja_hard_instance,
    make_spiked_stream,
    oja_hard_instance_oracle,
    stream_heavy_tilt_stream,
    stream_oja_hard_instance,
)


# --- recovery -----------------------------------------------------------------

SensingProblem = namedtuple("SensingProblem", ["operator", "y", "X", "U", "outliers"])
SensingProblem.__doc__ = """A sensing instance: ``y = operator(X) + noise`` with ``X = U U^T`` (PSD, rank r).

``outliers`` is the boolean mask of corrupted measurements (all False for Gaussian noise)."""


def make_sensing_problem(
    dim,
    rank,
    n_measurements,
    *,
    condition=2.0,
    noise="outlier",
    corruption=0.0,
    outlier_sign="one-sided",
    outlier_scale=10.0,
    noise_level=0.0,
    operator="gaussian",
    matrix_free=False,
    random_state=None,
):
    """Robust matrix-sensing instance with a PSD rank-``rank`` ground truth.

    ``X = U U^T`` with ``U = Q diag(sqrt(sigma))``, Q a random orthonormal
    d x r basis and eigenvalues ``sigma = linspace(1, 1/condition, r)``;
    ``y = A(X) + s``.

    Parameters
    ----------
    dim, rank, n_measurements : int
    condition : float, default 2.0
        kappa = sigma_1 / sigma_r (>= 1).
    noise : {"outlier", "gaussian"}
        ``"outlier"``: each measurement is corrupted independently with
        probability ``corruption``, by ``outlier_scale * max|A(X)| * U(0, 1)``
        (``outlier_sign="one-sided"``) or ``* U(-1, 1)`` (``"symmetric"``);
        ``"gaussian"``: ``s ~ N(0, noise_level^2)`` on every measurement.
    corruption : float in [0, 1)
        Outlier fraction p (``noise="outlier"``; must be 0 with ``"gaussian"``).
    outlier_sign : {"one-sided", "symmetric"}
    outlier_scale : float, default 10
    noise_level : float, default 0
        Gaussian noise standard deviation nu (``noise="gaussian"``; must be 0 with ``"outlier"``).
    operator : {"gaussian", "rank-one"}
        :class:`lrla.GaussianSensing` (symmetric) or :class:`lrla.RankOneSensing`.
    matrix_free : bool, default False
        Matrix-free Gaussian operator (``operator="gaussian"`` only).
    random_state : None, int, Generator or RandomState

    Returns
    -------
    SensingProblem
        Named tuple ``(operator, y, X, U, outliers)``.

    Examples
    --------
    >>> from lrla.datasets import make_sensing_problem
    >>> prob = make_sensing_problem(10, 2, 200, corruption=0.2, random_state=0)
    >>> prob.y.shape, prob.X.shape, int(prob.outliers.sum()) > 0
    ((200,), (10, 10), True)
    """
    from ._validation import check_bool
    from .recovery import GaussianSensing, RankOneSensing

    dim = check_int(dim, "dim", min_value=1)
    rank = check_int(rank, "rank", min_value=1, max_value=dim)
    n_measurements = check_int(n_measurements, "n_measurements", min_value=1)
    condition = check_scalar(condition, "condition", low=1.0)
    check_option(noise, "noise", ("outlier", "gaussian"))
    corruption = check_scalar(corruption, "corruption", low=0.0, high=1.0, high_inclusive=False)
    check_option(outlier_sign, "outlier_sign", ("one-sided", "symmetric"))
    outlier_scale = check_scalar(outlier_scale, "outlier_scale", low=0.0)
    noise_level = check_scalar(noise_level, "noise_level", low=0.0)
    check_option(operator, "operator", ("gaussian", "rank-one"))
    matrix_free = check_bool(matrix_free, "matrix_free")
    # an option of the other noise model or operator would be ignored: say so instead of returning other data
    if noise == "gaussian" and corruption > 0:
        raise ValueError("`corruption` applies to noise='outlier'; with noise='gaussian' use noise_level.")
    if noise == "outlier" and noise_level > 0:
        raise ValueError("`noise_level` applies to noise='gaussian'; with noise='outlier' use corruption.")
    if operator == "rank-one" and matrix_free:
        raise ValueError("`matrix_free` applies to operator='gaussian' (RankOneSensing stores O(m d) numbers).")
    rng = check_random_state(random_state)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    U = Q * np.sqrt(np.linspace(1.0, 1.0 / condition, rank))
    X = U @ U.T
    if operator == "gaussian":
        op = GaussianSensing(dim, n_measurements, matrix_free=matrix_free, random_state=rng)
    else:
        op = RankOneSensing(dim, n_measurements, random_state=rng)
    y = op(X)
    mask = np.zeros(n_measurements, dtype=bool)
    if noise == "outlier":
        mask = rng.random(n_measurements) < corruption
        low = 0.0 if outlier_sign == "one-sided" else -1.0
        size = outlier_scale * np.max(np.abs(y))
        y[mask] += size * rng.uniform(low, 1.0, size=int(mask.sum()))
    else:
        y += noise_level * rng.standard_normal(n_measurements)
    return SensingProblem(op, y, X, U, mask)
