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


_MAGIC = 6755399441055744.0  # 1.5 * 2**52: x + _MAGIC rounds x to an integer held in the low mantissa bits
_MAGIC_BITS = 0x4338000000000000  # the int64 bits of _MAGIC
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (Cody-Waite): n * _LN2_HI is exact for |n| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_EXP_CHUNK = 256


@njit(cache=True, boundscheck=False, fastmath={"contract"})
def _exp_chunk(src, dst, length, t, t_bits, scale_bits, scale):
    """``dst[:length] = exp(src[:length])`` for ``src <= 0`` (``src`` and ``dst`` may be the same array)."""
    for j in range(length):
        x = src[j]
        x = x if x > -708.0 else -708.0
        t[j] = x * _LOG2E + _MAGIC
    for j in range(length):
        scale_bits[j] = (t_bits[j] - _MAGIC_BITS + 1023) << 52  # the bits of 2.0**n
    for j in range(length):
        x = src[j]
        xc = x if x > -708.0 else -708.0
        n = t[j] - _MAGIC
        r = (xc - n * _LN2_HI) - n * _LN2_LO
        p = 1.6059043836821613e-10  # 1/13!, ..., 1/2!, 1, 1 (Horner)
        p = p * r + 2.08767569878681e-09
        p = p * r + 2.505210838544172e-08
        p = p * r + 2.755731922398589e-07
        p = p * r + 2.7557319223985893e-06
        p = p * r + 2.48015873015873e-05
        p = p * r + 0.0001984126984126984
        p = p * r + 0.001388888888888889
        p = p * r + 0.008333333333333333
        p = p * r + 0.041666666666666664
        p = p * r + 0.16666666666666666
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        dst[j] = p * scale[j] if x > -708.0 else (0.0 if x <= -708.0 else x)  # NaN stays NaN


@njit(cache=True, boundscheck=False, fastmath={"contract"})
def exp_nonpositive(v):
    """In place ``v <- exp(v)`` for a flat float64 array with ``v <= 0``; max error 1 ulp; ``v <= -708`` gives 0.

    numba calls libm's scalar ``exp`` element by element (about 10 ns each on
    a CPU without SVML); this is the textbook vectorisable form instead:
    ``x = n ln 2 + r`` with ``n`` rounded by the magic-number trick and ``|r| <=
    ln(2)/2``, ``exp(r)`` by its degree-13 Taylor polynomial (truncation
    < 1e-17 relative), and ``2^n`` assembled from the exponent bits -- integer
    adds and shifts that AVX2 has -- so that LLVM vectorises all of it. Only
    FMA contraction is allowed (no reassociation, which would undo the
    rounding trick). Values ``<= -708`` (``exp < 3.4e-308``) flush to 0, the
    subnormal range that ``2^n`` cannot hold; NaN stays NaN.
    """
    t = np.empty(_EXP_CHUNK)
    scale_bits = np.empty(_EXP_CHUNK, dtype=np.int64)
    t_bits, scale = t.view(np.int64), scale_bits.view(np.float64)
    for start in range(0, v.shape[0], _EXP_CHUNK):
        seg = v[start:min(start + _EXP_CHUNK, v.shape[0])]
        _exp_chunk(seg, seg, seg.shape[0], t, t_bits, scale_bits, scale)
    return v


def exp_nonpositive_reference(v):
    with np.errstate(invalid="ignore"):
        return np.where(v <= -708.0, 0.0, np.exp(v))


@njit(cache=True, boundscheck=False)  # no contraction here: the distances round as scikit-learn's do
def rbf_from_gram(G, x_sq, y_sq, gamma, zero_diagonal):
    """In place ``G[i, j] <- exp(-gamma * max(0, -2 G[i, j] + x_sq[i] + y_sq[j]))`` for a Gram block ``G = X Y^T``.

    The squared distances follow scikit-learn's ``rbf_kernel`` (same operations,
    same order); the exponential is that of :func:`exp_nonpositive` (within
    1 ulp of libm's, so entries agree with scikit-learn's to 1 ulp; ``gamma >=
    0``), fused with the distances chunk by chunk: one pass over ``G``.
    ``zero_diagonal`` sets the squared distances of the diagonal to 0, as
    scikit-learn does for ``k(X, X)``.
    """
    n, m = G.shape
    arg = np.empty(_EXP_CHUNK)
    t = np.empty(_EXP_CHUNK)
    scale_bits = np.empty(_EXP_CHUNK, dtype=np.int64)
    t_bits, scale = t.view(np.int64), scale_bits.view(np.float64)
    for i in range(n):
        a = x_sq[i]
        row = G[i]
        for start in range(0, m, _EXP_CHUNK):
            length = min(_EXP_CHUNK, m - start)
            for j in range(length):
                d = -2.0 * row[start + j] + a
                d += y_sq[start + j]
                d = 0.0 if d < 0.0 else d  # NaN stays NaN
                arg[j] = d * -gamma
            if zero_diagonal and start <= i < start + length:
                arg[i - start] = -0.0
            _exp_chunk(arg, row[start:start + length], length, t, t_bits, scale_bits, scale)
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
