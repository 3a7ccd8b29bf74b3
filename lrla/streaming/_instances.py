"""Instances of the streaming family (re-exported by ``lrla.datasets``)."""

from __future__ import annotations

import numpy as np

from .._rng import check_random_state, spawn
from .._validation import check_array, check_int, check_option, check_scalar

__all__ = ["make_spiked_stream", "make_heavy_tilt_stream", "stream_heavy_tilt_stream", "make_oja_hard_instance", "stream_oja_hard_instance",
           "oja_hard_instance_oracle", "adversarial_order", "ADVERSARIAL_ORDERS"]

ADVERSARIAL_ORDERS = ("norm_ascending", "norm_descending", "spike_first", "spike_last")


def _top_two(A):
    w, V = np.linalg.eigh(A.T @ A)
    return V[:, -1], float(w[-1]), float(w[-2])


def make_spiked_stream(n, d, gap, n_heavy, *, heavy_share=None, heavy_tilt=0.1, random_state=None):
    """Rows of a spiked matrix, part of whose spike sits on a few heavy rows, in random order.

    ``A^T A ~ v v^T + (I - v v^T)/gap``. The bulk ``(I - v v^T)/gap`` and a
    share ``1 - heavy_share`` of the spike are spread over ``n`` light rows
    ``sqrt(1/(gap n)) (g - (g^T v) v) + sqrt((1 - heavy_share)/n) xi v``
    (``g ~ N(0, I_d)``, ``xi ~ N(0, 1)``); the other ``heavy_share`` of the
    spike is carried by ``n_heavy`` heavy rows
    ``sqrt(heavy_share / n_heavy) (cos(t) v + sin(t) u_j)`` (``t = heavy_tilt``,
    ``u_j`` random unit vectors orthogonal to ``v``). Uniform sampling of the
    stream sees few of those rows, so an estimator that does not keep them
    loses the spike; the tilt makes the top eigenvector depend on all of
    them. The rows are shuffled once (random order).

    Parameters
    ----------
    n : int
        Number of light rows (the stream has ``n + n_heavy`` rows).
    d : int
        Dimension, >= 2.
    gap : float
        Nominal ratio R = lambda_1/lambda_2 (> 1). The true ratio differs
        (Marchenko-Pastur edge, tilt): it is returned.
    n_heavy : int
        Number of heavy rows h (>= 0).
    heavy_share : float in [0, 1], optional
        Share of the spike on the heavy rows (default 1 if ``n_heavy > 0``, else 0).
    heavy_tilt : float, default 0.1
        Angle (radians) between a heavy row and ``v``.
    random_state : None, int, Generator or RandomState

    Returns
    -------
    rows : ndarray of shape (n + n_heavy, d)
    v1 : ndarray of shape (d,)
        Exact top eigenvector of ``rows.T @ rows`` (from ``eigh``).
    gap : float
        Exact ``lambda_1 / lambda_2`` of ``rows.T @ rows``.
    """
    n = check_int(n, "n", min_value=1)
    d = check_int(d, "d", min_value=2)
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    h = check_int(n_heavy, "n_heavy", min_value=0)
    share = (1.0 if h else 0.0) if heavy_share is None else check_scalar(heavy_share, "heavy_share", low=0.0, high=1.0)
    if h == 0 and share > 0:
        raise ValueError(f"`heavy_share` must be 0 when n_heavy=0; got {share}.")
    tilt = check_scalar(heavy_tilt, "heavy_tilt", low=0.0, high=np.pi / 2)
    rng = check_random_state(random_state)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    G = rng.standard_normal((n, d))
    G -= np.outer(G @ v, v)
    light = G * np.sqrt(1.0 / (gap * n)) + np.outer(rng.standard_normal(n) * np.sqrt((1.0 - share) / n), v)
    U = rng.standard_normal((h, d))
    U -= np.outer(U @ v, v)
    U /= np.maximum(np.linalg.norm(U, axis=1, keepdims=True), np.finfo(float).tiny)
    H = np.sqrt(share / h) * (np.cos(tilt) * v + np.sin(tilt) * U) if h else U
    rows = np.vstack([light, H])[rng.permutation(n + h)]
    v1, l1, l2 = _top_two(rows)
    return rows, v1, l1 / l2


def make_heavy_tilt_stream(n, d, gap, n_heavy, *, tilt=np.pi / 4, random_state=None):
    """Spiked rows plus heavy rows as heavy as the second eigenvalue, each tilting ``v1`` its own way.

    The ``n`` light rows are those of :func:`make_spiked_stream` with the
    whole spike on them (``A_light^T A_light ~ v v^T + (I - v v^T)/gap``).
    Each of the ``n_heavy`` heavy rows is ``sqrt(1/gap) (cos(t) v + sin(t) u_j)``
    (``t = tilt``, ``u_j`` orthonormal and orthogonal to ``v``): its squared
    norm ``1/gap`` is the scale of ``lambda_2``, far above a light row's, and
    it turns the top eigenvector towards ``u_j`` by about
    ``sin(2t) / (2 gap)``. An algorithm that does not keep a heavy row cannot
    know its ``u_j``, so each row it misses costs about
    ``sin(2t)^2 / (8 gap^2)`` of ``1 - |<v, v1>|``: the instance behind the
    ``1 - Omega(1/R^2)`` lower bound of Kacham & Woodruff (2024) for
    algorithms that cannot store the heavy rows (our reconstruction, not the
    paper's instance). The rows are shuffled once (random order).

    Parameters
    ----------
    n : int
        Number of light rows (the stream has ``n + n_heavy`` rows).
    d : int
        Dimension, >= 2.
    gap : float
        Nominal ``R`` (> 1); the exact ``lambda_1 / lambda_2`` is returned.
    n_heavy : int
        Number of heavy rows h, ``0 <= h <= d - 1``.
    tilt : float, default pi/4
        Angle (radians, in ``[0, pi/2]``) between a heavy row and ``v``.
    random_state : None, int, Generator or RandomState

    Returns
    -------
    rows : ndarray of shape (n + n_heavy, d)
    v1 : ndarray of shape (d,)
        Exact top eigenvector of ``rows.T @ rows`` (from ``eigh``).
    gap : float
        Exact ``lambda_1 / lambda_2``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.datasets import make_heavy_tilt_stream
    >>> rows, v1, R = make_heavy_tilt_stream(5000, 16, gap=8.0, n_heavy=4, random_state=0)
    >>> rows.shape, int(np.sum(np.einsum("ij,ij->i", rows, rows) > 0.1))
    ((5004, 16), 4)
    """
    n = check_int(n, "n", min_value=1)
    d = check_int(d, "d", min_value=2)
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    h = check_int(n_heavy, "n_heavy", min_value=0, max_value=d - 1)
    tilt = check_scalar(tilt, "tilt", low=0.0, high=np.pi / 2)
    rng = check_random_state(random_state)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    G = rng.standard_normal((n, d))
    G -= np.outer(G @ v, v)
    light = G * np.sqrt(1.0 / (gap * n)) + np.outer(rng.standard_normal(n) * np.sqrt(1.0 / n), v)
    heavy = _tilted_heavy_rows(v, rng.standard_normal((d, h)), gap, tilt)
    rows = np.vstack([light, heavy])[rng.permutation(n + h)]
    v1, l1, l2 = _top_two(rows)
    return rows, v1, l1 / l2


def _tilted_heavy_rows(v, draw, gap, tilt):
    """``sqrt(1/gap) (cos(t) v + sin(t) u_j)`` with orthonormal ``u_j``: QR of ``[v, draw]``, first column dropped."""
    h = draw.shape[1]
    Q, _ = np.linalg.qr(np.column_stack([v, draw]))
    U = Q[:, 1:h + 1].T * np.sign(Q[:, 0] @ v)
    return np.sqrt(1.0 / gap) * (np.cos(tilt) * v + np.sin(tilt) * U)


def stream_heavy_tilt_stream(n, d, gap, n_heavy, *, tilt=np.pi / 4, chunk_rows=8192, random_state=None):
    """The instance of :func:`make_heavy_tilt_stream`, generated chunk by chunk (same law, other draws).

    At the stream lengths where the light-row noise is well below the
    heavy-row effect (``n`` ~ 10^6, ``d`` ~ 100) the dense matrix and the
    temporaries of :func:`make_heavy_tilt_stream` take gigabytes. Here only
    the ``n_heavy`` heavy rows and their positions are held; the light rows
    of each chunk are drawn when the chunk is needed. The law is that of
    :func:`make_heavy_tilt_stream`: the light rows are i.i.d. (so a uniform
    shuffle of them is i.i.d. too), and the heavy rows sit at a uniformly
    random ordered set of ``n_heavy`` of the ``n + n_heavy`` positions (where
    a uniform permutation puts them). The draws differ, so the rows are not
    those of :func:`make_heavy_tilt_stream` for the same seed. They do not
    depend on ``chunk_rows`` (up to the rounding of a BLAS product).

    Parameters
    ----------
    n, d, gap, n_heavy, tilt, random_state
        As in :func:`make_heavy_tilt_stream`.
    chunk_rows : int, default 8192
        Rows per yielded chunk (the last one may be shorter).

    Returns
    -------
    chunks : iterator of ndarray of shape (<= chunk_rows, d)
        The ``n + n_heavy`` rows in stream order (float64). Pass it to
        ``fit``/``partial_fit``; call the function again (same
        ``random_state``) for a second pass. The exact ``v1`` and
        ``lambda_1 / lambda_2`` are those of the sum of ``c.T @ c`` over the
        chunks (the caller accumulates it while streaming).
    heavy_rows : ndarray of shape (n_heavy, d)
        The heavy rows, in stream order (bit-identical to the rows in the chunks).
    heavy_positions : ndarray of shape (n_heavy,)
        Their positions in the stream (increasing).

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.datasets import stream_heavy_tilt_stream
    >>> chunks, heavy, pos = stream_heavy_tilt_stream(5000, 16, gap=8.0, n_heavy=4, chunk_rows=1000,
    ...                                               random_state=0)
    >>> rows = np.vstack(list(chunks))
    >>> rows.shape, bool(np.array_equal(rows[pos], heavy))
    ((5004, 16), True)
    """
    n = check_int(n, "n", min_value=1)
    d = check_int(d, "d", min_value=2)
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    h = check_int(n_heavy, "n_heavy", min_value=0, max_value=d - 1)
    tilt = check_scalar(tilt, "tilt", low=0.0, high=np.pi / 2)
    chunk_rows = check_int(chunk_rows, "chunk_rows", min_value=1)
    rng = check_random_state(random_state)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    heavy = _tilted_heavy_rows(v, rng.standard_normal((d, h)), gap, tilt)
    where = rng.choice(n + h, size=h, replace=False)  # heavy row j at position where[j]
    order = np.argsort(where)
    heavy, where = np.ascontiguousarray(heavy[order]), where[order]
    # One generator for the Gaussian vectors, one for the spike coefficients: a row's draws do not
    # depend on where the chunk boundaries fall.
    rng_g, rng_xi = spawn(rng, 2)
    bulk, spike = np.sqrt(1.0 / (gap * n)), np.sqrt(1.0 / n)
    total = n + h

    def chunks():
        for start in range(0, total, chunk_rows):
            m = min(chunk_rows, total - start)
            # A row of each kind is drawn at every position (the draws at heavy positions are
            # overwritten): the light rows stay i.i.d. and the draws follow the positions.
            out = rng_g.standard_normal((m, d))
            coef = rng_xi.standard_normal(m) * spike - bulk * (out @ v)  # g - (g.v) v, plus xi v
            out *= bulk
            out += np.outer(coef, v)
            lo, hi = np.searchsorted(where, [start, start + m])
            out[where[lo:hi] - start] = heavy[lo:hi]
            yield out

    return chunks(), heavy.copy(), where.copy()


def make_oja_hard_instance(d, gap, n_spike, *, rows_per_coordinate=64, random_state=None):
    """Diagonal instance on which Oja's algorithm fails for every fixed learning rate.

    ``v1 = e_1`` is carried by ``n_spike`` equal rows ``sqrt(1/n_spike) e_1``
    (``lambda_1 = 1``); each other coordinate ``j`` gets
    ``rows_per_coordinate`` rows ``sqrt(1/(gap c)) e_j`` (``lambda_j = 1/gap``).
    With rate ``eta`` (``x = eta lambda_1``) Oja multiplies the first
    coordinate by ``(1 + x/m)^m`` (polynomial in x) and every other by
    ``(1 + x/(gap c))^c ~ e^{x/gap}`` (exponential), so with few spike rows
    no rate lifts ``e_1`` above the ``sqrt(d)`` head start of the bulk. The
    rows commute, so the order does not matter and
    :func:`oja_hard_instance_oracle` gives Oja's output in closed form. This
    is our reconstruction of the "simple instance" of Kacham & Woodruff
    (2024), not a verified copy.

    Returns
    -------
    rows : ndarray of shape (n_spike + (d - 1) * rows_per_coordinate, d)
        Shuffled (random order).
    v1 : ndarray of shape (d,)
        ``e_1``.
    gap : float
        Exact ``lambda_1 / lambda_2``.
    """
    d = check_int(d, "d", min_value=2)
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    m = check_int(n_spike, "n_spike", min_value=1)
    c = check_int(rows_per_coordinate, "rows_per_coordinate", min_value=1)
    rng = check_random_state(random_state)
    n = m + (d - 1) * c
    rows = np.zeros((n, d))
    rows[:m, 0] = np.sqrt(1.0 / m)
    idx = np.arange(m, n)
    rows[idx, 1 + (idx - m) // c] = np.sqrt(1.0 / (gap * c))
    rows = rows[rng.permutation(n)]
    v1 = np.zeros(d)
    v1[0] = 1.0
    return rows, v1, gap


def stream_oja_hard_instance(d, gap, n_spike, *, rows_per_coordinate=64, chunk_rows=8192, dtype=np.float64,
                             random_state=None):
    """The rows of :func:`make_oja_hard_instance`, generated chunk by chunk.

    The instance has ``n_spike + (d - 1) * rows_per_coordinate`` rows of
    length ``d``: at the sizes where the theorem bites (``d`` in the
    hundreds, ``rows_per_coordinate ~ 64 log2 d``) the dense matrix takes
    gigabytes. Every row has one non-zero entry, so only the permutation
    (``n`` integers) is held and each chunk of ``chunk_rows`` dense rows is
    built when it is needed. For the same arguments and seed the chunks
    stack to exactly ``make_oja_hard_instance(...)[0]`` (cast to ``dtype``).

    Parameters
    ----------
    d, gap, n_spike, rows_per_coordinate, random_state
        As in :func:`make_oja_hard_instance`.
    chunk_rows : int, default 8192
        Rows per yielded chunk (the last one may be shorter).
    dtype : {numpy.float64, numpy.float32}, default float64

    Returns
    -------
    iterator of ndarray of shape (<= chunk_rows, d)
        Pass it to ``fit``/``partial_fit`` of the streaming estimators.
        Call the function again (same ``random_state``) for a second pass.

    Examples
    --------
    >>> import numpy as np
    >>> from lrla.datasets import make_oja_hard_instance, stream_oja_hard_instance
    >>> chunks = list(stream_oja_hard_instance(32, 2.5, 2, rows_per_coordinate=10, chunk_rows=100,
    ...                                        random_state=0))
    >>> [c.shape[0] for c in chunks]
    [100, 100, 100, 12]
    >>> bool(np.array_equal(np.vstack(chunks), make_oja_hard_instance(32, 2.5, 2, rows_per_coordinate=10,
    ...                                                                 random_state=0)[0]))
    True
    """
    d = check_int(d, "d", min_value=2)
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    m = check_int(n_spike, "n_spike", min_value=1)
    c = check_int(rows_per_coordinate, "rows_per_coordinate", min_value=1)
    chunk_rows = check_int(chunk_rows, "chunk_rows", min_value=1)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"`dtype` must be float32 or float64; got {dtype}.")
    rng = check_random_state(random_state)
    n = m + (d - 1) * c
    perm = rng.permutation(n)  # the same draw as make_oja_hard_instance: row i is original row perm[i]
    spike, bulk = np.sqrt(1.0 / m), np.sqrt(1.0 / (gap * c))

    def chunks():
        for start in range(0, n, chunk_rows):
            src = perm[start:start + chunk_rows]
            out = np.zeros((src.size, d), dtype=dtype)
            is_spike = src < m
            col = np.where(is_spike, 0, 1 + (src - m) // c)
            out[np.arange(src.size), col] = np.where(is_spike, spike, bulk)
            yield out

    return chunks()


def oja_hard_instance_oracle(start, gap, n_spike, learning_rates, *, rows_per_coordinate=64):
    """Closed-form |<z, e_1>| of Oja (fixed rate) on :func:`make_oja_hard_instance`.

    Parameters
    ----------
    start : array_like of shape (d,)
        Oja's initial vector.
    gap, n_spike, rows_per_coordinate : as in :func:`make_oja_hard_instance`.
    learning_rates : array_like
        Rates eta (here ``x = eta``, since ``lambda_1 = 1``).

    Returns
    -------
    ndarray
        ``|z_1| / ||z||`` after the whole stream, one entry per rate.
    """
    g = check_array(start, "start", ndim=1, dtype=np.float64)
    if g.size < 2:
        raise ValueError("`start` must have length >= 2.")
    gap = check_scalar(gap, "gap", low=1.0, low_inclusive=False)
    m = check_int(n_spike, "n_spike", min_value=1)
    c = check_int(rows_per_coordinate, "rows_per_coordinate", min_value=1)
    eta = check_array(learning_rates, "learning_rates", ndim=(0, 1), dtype=np.float64).ravel()
    # log-growth per coordinate; compare in logs so that large rates cannot overflow.
    log_spike = m * np.log1p(eta / m)
    log_bulk = c * np.log1p(eta / (gap * c))
    a1 = np.log(abs(g[0])) + log_spike
    ab = 0.5 * np.log(np.sum(g[1:] ** 2)) + log_bulk
    return np.exp(-0.5 * np.logaddexp(0.0, 2.0 * (ab - a1)))  # 1/sqrt(1 + e^{2(ab - a1)}), overflow-free


def adversarial_order(rows, kind, *, v1=None):
    """The same rows in a bad fixed order (for the arbitrary-order claims and controls).

    ``kind``: ``"norm_ascending"`` / ``"norm_descending"`` (sorted by row
    norm), ``"spike_first"`` / ``"spike_last"`` (sorted by ``|<a, v1>| /
    ||a||``, needs ``v1``). Returns a new array; ``rows`` is not modified.
    """
    A = check_array(rows, "rows", ndim=2)
    check_option(kind, "kind", ADVERSARIAL_ORDERS)
    norms = np.linalg.norm(A, axis=1)
    if kind.startswith("norm"):
        key = norms
    else:
        if v1 is None:
            raise ValueError(f"`v1` is required for kind {kind!r}.")
        v = check_array(v1, "v1", ndim=1)
        if v.size != A.shape[1]:
            raise ValueError(f"`v1` must have length {A.shape[1]}; got {v.size}.")
        key = np.abs(A @ v) / np.where(norms > 0, norms, 1.0)
    order = np.argsort(key, kind="stable")
    if kind in ("norm_descending", "spike_first"):
        order = order[::-1]
    return A[order].copy()
