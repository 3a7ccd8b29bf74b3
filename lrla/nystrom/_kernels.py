"""Numba kernels of the Nystrom family (private).

Each kernel has a plain-numpy reference (``*_reference``) used by the tests.
Randomness comes from the counter-based generator of :mod:`lrla._rng`, so a
kernel's output depends only on its explicit ``seed`` and ``counter``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._rng import counter_uniform


@njit(cache=True, boundscheck=False)
def rbf_row(points, x, gamma, out):
    """``out[i] = exp(-gamma * ||points[i] - x||^2)``, fused (no temporaries)."""
    m, d = points.shape
    for i in range(m):
        acc = 0.0
        for j in range(d):
            diff = points[i, j] - x[j]
            acc += diff * diff
        out[i] = np.exp(-gamma * acc)
    return out


def rbf_row_reference(points, x, gamma):
    return np.exp(-gamma * ((points - x) ** 2).sum(axis=1))


@njit(cache=True, boundscheck=False)
def rbf_from_gram(G, x_sq, y_sq, gamma, zero_diagonal):
    """In place ``G[i, j] <- exp(-gamma * max(0, -2 G[i, j] + x_sq[i] + y_sq[j]))`` for a Gram block ``G = X Y^T``.

    One fused pass with the operations of scikit-learn's ``rbf_kernel`` in its
    order (so the result is bitwise the same); ``zero_diagonal`` sets the
    squared distances of the diagonal to 0, as scikit-learn does for ``k(X, X)``.
    """
    n, m = G.shape
    for i in range(n):
        a = x_sq[i]
        for j in range(m):
            t = -2.0 * G[i, j] + a
            t += y_sq[j]
            if t < 0.0 or (zero_diagonal and i == j):
                t = 0.0
            G[i, j] = np.exp(t * -gamma)
    return G


def rbf_from_gram_reference(G, x_sq, y_sq, gamma, zero_diagonal):
    D = np.maximum(-2.0 * G + x_sq[:, None] + y_sq[None, :], 0.0)
    if zero_diagonal:
        np.fill_diagonal(D, 0.0)
    return np.exp(-gamma * D)


@njit(cache=True, boundscheck=False)
def update_slots(slots, keep_prob, p_new, new_position, seed, counter):
    """One step of the INK slot update, in place.

    ``slots[s]`` holds a position into the candidate set (or -1 = empty).
    Each slot independently takes the new point (position ``new_position``)
    with probability ``p_new``; otherwise a slot holding position ``j`` keeps
    it with probability ``keep_prob[j]`` and is emptied otherwise. Slot ``s``
    uses the uniforms number ``counter + 2 s`` and ``counter + 2 s + 1``.
    """
    for s in range(slots.shape[0]):
        u = counter_uniform(seed, counter + np.uint64(2 * s))
        if u < p_new:
            slots[s] = new_position
        elif slots[s] >= 0:
            v = counter_uniform(seed, counter + np.uint64(2 * s + 1))
            if v >= keep_prob[slots[s]]:
                slots[s] = -1
    return slots


def update_slots_reference(slots, keep_prob, p_new, new_position, uniforms):
    """Same update with pre-drawn ``uniforms`` of shape (n_slots, 2)."""
    slots = slots.copy()
    take = uniforms[:, 0] < p_new
    held = (~take) & (slots >= 0)
    drop = held & (uniforms[:, 1] >= keep_prob[np.where(slots >= 0, slots, 0)])
    slots[take] = new_position
    slots[drop] = -1
    return slots


@njit(cache=True)
def counter_uniforms(seed, counter, n_slots):
    """The uniforms :func:`update_slots` draws, as an (n_slots, 2) array (for the reference)."""
    out = np.empty((n_slots, 2))
    for s in range(n_slots):
        out[s, 0] = counter_uniform(seed, counter + np.uint64(2 * s))
        out[s, 1] = counter_uniform(seed, counter + np.uint64(2 * s + 1))
    return out
