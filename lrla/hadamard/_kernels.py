"""Numba kernels of the Hadamard family (private).

All transforms are in natural (Sylvester) order, unnormalised unless a
``scale`` is passed, and work in place on C-contiguous float32/float64 rows.
:func:`fwht_rows_numpy` is the plain-numpy reference the tests compare with
(and the benchmark's NumPy baseline).

Layout of :func:`fwht_inplace` on a vector of length n = 2^L (the FFHT
recursion of Andoni et al. 2015, written for LLVM's vectorisers):

1. **Register blocks** of 256 bytes (64 float32 / 32 float64 = eight AVX
   registers): :func:`_register_block` is an LLVM-IR intrinsic that loads the
   eight vectors, does the levels inside a vector with a lane shuffle and a
   fused ``p + (+-1) * v`` per level (exact: the product by +-1 is exact and
   the sum is rounded once, as in the plain butterfly), then the three levels
   across the eight registers, and stores. Numba does not run LLVM's SLP
   vectoriser, so these small levels cannot be vectorised from scalar code.
2. **L1 blocks** of 16 KiB: the remaining levels up to the block size, in
   radix-8 passes (three levels per load/store of the block; one radix-2/4
   pass first when the count is not a multiple of three).
3. **Outer levels** in radix-8 passes, scheduled depth first: as soon as the
   last L1 block of a group of 8 (then 64, ...) blocks is done, the group is
   merged, so a merge reads data that is still in L2/L3 (the recursion of
   FFHT, done iteratively). A radix-2/4 remainder is merged at the lowest
   tier, where data is still in cache. The scale is fused into the last pass.

The radix-r passes read the r operands through r separate contiguous views
(``x[i:i+h]``, ``x[i+h:i+2h]``, ...): with distinct views LLVM's loop
vectoriser emits packed ``vaddps/vaddpd ymm`` code (guarded by a runtime
overlap check), which it does not do for ``x[j]``/``x[j+h]`` on one array.
No fastmath is needed: the butterflies are plain adds and subtracts.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core.extending import intrinsic

from .._rng import counter_sign

# Vectors held in registers by one register block; 8 of the 16 AVX registers
# leave room for the shuffled operands without spilling.
_N_REGISTERS = 8
# Bytes of one register block: 8 vectors of 32 bytes.
_REGISTER_BLOCK_BYTES = 32 * _N_REGISTERS
# Bytes of one L1 block (half of a 32 KiB L1d, so the block stays resident).
_L1_BLOCK_BYTES = 16384


@intrinsic
def _register_block(typingctx, x, start):
    """Unnormalised WHT of ``x[start:start + 256 // itemsize]``, in AVX registers.

    float32: 8 vectors of 8 lanes (6 levels); float64: 8 vectors of 4 lanes
    (5 levels). ``x`` must be 1-D C-contiguous float32/float64 with at least
    that many elements after ``start`` (the callers guarantee it).
    """
    if not (isinstance(x, types.Array) and x.ndim == 1 and x.layout == "C"
            and x.dtype in (types.float32, types.float64)):
        return None
    if not isinstance(start, types.Integer):
        return None
    sig = types.void(x, start)

    def codegen(context, builder, signature, args):
        arrty, startty = signature.args
        ary = context.make_array(arrty)(context, builder, args[0])
        elt = context.get_value_type(arrty.dtype)
        itemsize = 4 if arrty.dtype == types.float32 else 8
        lanes = 32 // itemsize
        vty = ir.VectorType(elt, lanes)
        i64 = ir.IntType(64)
        offset = context.cast(builder, args[1], startty, types.int64)
        base = builder.gep(ary.data, [offset], inbounds=True, source_etype=elt)
        ptrs = [
            builder.bitcast(
                builder.gep(base, [ir.Constant(i64, k * lanes)], inbounds=True, source_etype=elt),
                vty.as_pointer(),
            )
            for k in range(_N_REGISTERS)
        ]
        v = [builder.load(p, align=itemsize, typ=vty) for p in ptrs]
        undef = ir.Constant(vty, ir.Undefined)
        # Levels inside a vector: lane k pairs with lane k ^ h; the result is
        # v[k ^ h] + v[k] for the lower lane and v[k ^ h] - v[k] for the upper.
        h = 1
        while h < lanes:
            partner = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [k ^ h for k in range(lanes)])
            signs = ir.Constant(vty, [(-1.0 if k & h else 1.0) for k in range(lanes)])
            for a in range(_N_REGISTERS):
                swapped = builder.shuffle_vector(v[a], undef, partner)
                signed = builder.fmul(v[a], signs, flags=("contract",))
                v[a] = builder.fadd(swapped, signed, flags=("contract",))
            h *= 2
        # Levels across the eight registers: whole-vector butterflies.
        h = 1
        while h < _N_REGISTERS:
            for a in range(_N_REGISTERS):
                if a & h == 0:
                    b = a + h
                    v[a], v[b] = builder.fadd(v[a], v[b]), builder.fsub(v[a], v[b])
            h *= 2
        for a in range(_N_REGISTERS):
            builder.store(v[a], ptrs[a], align=itemsize)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _cast_like(typingctx, x, value):
    """``value`` converted to the dtype of the array ``x`` (keeps float32 math in float32)."""
    if not (isinstance(x, types.Array) and isinstance(value, (types.Float, types.Integer))):
        return None
    sig = x.dtype(x, value)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[1], signature.args[1], signature.return_type)

    return sig, codegen


@njit(cache=True, boundscheck=False)
def _radix8(x, start, stop, h, scale, scaled):
    """Levels h, 2h, 4h on x[start:stop] in one sweep; results times ``scale`` if ``scaled``."""
    for i in range(start, stop, 8 * h):
        v0 = x[i:i + h]
        v1 = x[i + h:i + 2 * h]
        v2 = x[i + 2 * h:i + 3 * h]
        v3 = x[i + 3 * h:i + 4 * h]
        v4 = x[i + 4 * h:i + 5 * h]
        v5 = x[i + 5 * h:i + 6 * h]
        v6 = x[i + 6 * h:i + 7 * h]
        v7 = x[i + 7 * h:i + 8 * h]
        # Two copies of the loop so that neither carries a branch or a multiply it does not need.
        if scaled:
            for j in range(h):
                x0 = v0[j]
                x1 = v1[j]
                x2 = v2[j]
                x3 = v3[j]
                x4 = v4[j]
                x5 = v5[j]
                x6 = v6[j]
                x7 = v7[j]
                a0 = x0 + x1
                a1 = x0 - x1
                a2 = x2 + x3
                a3 = x2 - x3
                a4 = x4 + x5
                a5 = x4 - x5
                a6 = x6 + x7
                a7 = x6 - x7
                b0 = a0 + a2
                b1 = a1 + a3
                b2 = a0 - a2
                b3 = a1 - a3
                b4 = a4 + a6
                b5 = a5 + a7
                b6 = a4 - a6
                b7 = a5 - a7
                v0[j] = (b0 + b4) * scale
                v1[j] = (b1 + b5) * scale
                v2[j] = (b2 + b6) * scale
                v3[j] = (b3 + b7) * scale
                v4[j] = (b0 - b4) * scale
                v5[j] = (b1 - b5) * scale
                v6[j] = (b2 - b6) * scale
                v7[j] = (b3 - b7) * scale
        else:
            for j in range(h):
                x0 = v0[j]
                x1 = v1[j]
                x2 = v2[j]
                x3 = v3[j]
                x4 = v4[j]
                x5 = v5[j]
                x6 = v6[j]
                x7 = v7[j]
                a0 = x0 + x1
                a1 = x0 - x1
                a2 = x2 + x3
                a3 = x2 - x3
                a4 = x4 + x5
                a5 = x4 - x5
                a6 = x6 + x7
                a7 = x6 - x7
                b0 = a0 + a2
                b1 = a1 + a3
                b2 = a0 - a2
                b3 = a1 - a3
                b4 = a4 + a6
                b5 = a5 + a7
                b6 = a4 - a6
                b7 = a5 - a7
                v0[j] = b0 + b4
                v1[j] = b1 + b5
                v2[j] = b2 + b6
                v3[j] = b3 + b7
                v4[j] = b0 - b4
                v5[j] = b1 - b5
                v6[j] = b2 - b6
                v7[j] = b3 - b7


@njit(cache=True, boundscheck=False)
def _radix4(x, start, stop, h, scale, scaled):
    """Levels h, 2h on x[start:stop] in one sweep."""
    for i in range(start, stop, 4 * h):
        v0 = x[i:i + h]
        v1 = x[i + h:i + 2 * h]
        v2 = x[i + 2 * h:i + 3 * h]
        v3 = x[i + 3 * h:i + 4 * h]
        if scaled:
            for j in range(h):
                x0 = v0[j]
                x1 = v1[j]
                x2 = v2[j]
                x3 = v3[j]
                a0 = x0 + x1
                a1 = x0 - x1
                a2 = x2 + x3
                a3 = x2 - x3
                v0[j] = (a0 + a2) * scale
                v1[j] = (a1 + a3) * scale
                v2[j] = (a0 - a2) * scale
                v3[j] = (a1 - a3) * scale
        else:
            for j in range(h):
                x0 = v0[j]
                x1 = v1[j]
                x2 = v2[j]
                x3 = v3[j]
                a0 = x0 + x1
                a1 = x0 - x1
                a2 = x2 + x3
                a3 = x2 - x3
                v0[j] = a0 + a2
                v1[j] = a1 + a3
                v2[j] = a0 - a2
                v3[j] = a1 - a3


@njit(cache=True, boundscheck=False)
def _radix2(x, start, stop, h, scale, scaled):
    """Level h on x[start:stop]."""
    for i in range(start, stop, 2 * h):
        v0 = x[i:i + h]
        v1 = x[i + h:i + 2 * h]
        if scaled:
            for j in range(h):
                a = v0[j]
                b = v1[j]
                v0[j] = (a + b) * scale
                v1[j] = (a - b) * scale
        else:
            for j in range(h):
                a = v0[j]
                b = v1[j]
                v0[j] = a + b
                v1[j] = a - b


@njit(cache=True, boundscheck=False)
def _radix_pass(x, start, stop, h, radix, scale, scaled):
    if radix == 8:
        _radix8(x, start, stop, h, scale, scaled)
    elif radix == 4:
        _radix4(x, start, stop, h, scale, scaled)
    else:
        _radix2(x, start, stop, h, scale, scaled)


@njit(cache=True, boundscheck=False)
def _log2(n):
    k = 0
    while (1 << k) < n:
        k += 1
    return k


@njit(cache=True, boundscheck=False)
def _block_levels(x, start, stop, h, size, scale, scaled):
    """Levels h, 2h, ..., size/2 of every length-``size`` transform in x[start:stop].

    The remainder (levels mod 3) goes first, as one radix-2/4 pass, then
    radix-8 passes; ``scale`` (if ``scaled``) is fused into the last pass.
    """
    remainder = (_log2(size) - _log2(h)) % 3
    if remainder:
        radix = 1 << remainder
        _radix_pass(x, start, stop, h, radix, scale, scaled and radix * h == size)
        h *= radix
    while h < size:
        _radix_pass(x, start, stop, h, 8, scale, scaled and 8 * h == size)
        h *= 8


@njit(cache=True, boundscheck=False)
def fwht_inplace(x, scale):
    """Unnormalised FWHT of the contiguous 1-D array ``x`` (length 2^L), times ``scale``."""
    n = x.shape[0]
    s = _cast_like(x, scale)
    reg = _REGISTER_BLOCK_BYTES // x.itemsize
    if n < reg:  # fewer elements than one register block: plain radix-2 levels
        h = 1
        while h < n:
            _radix2(x, 0, n, h, s, 2 * h == n)
            h *= 2
        if n == 1:
            x[0] *= s
        return
    block = min(n, _L1_BLOCK_BYTES // x.itemsize)
    # Tiers above the L1 block: the lowest merges 2, 4 or 8 blocks (the
    # remainder of the level count mod 3), every further tier 8 of the previous.
    remainder = (_log2(n) - _log2(block)) % 3
    first_tier = block << (remainder if remainder else 3)
    for start in range(0, n, block):
        for i in range(start, start + block, reg):
            _register_block(x, i)
        if block > reg:
            _block_levels(x, start, start + block, reg, block, s, block == n)
        elif block == n:
            for j in range(n):
                x[j] *= s
        end = start + block
        size = first_tier
        radix = first_tier // block
        while size <= n and end % size == 0:
            _radix_pass(x, end - size, end, size // radix, radix, s, size == n)
            size *= 8
            radix = 8


# A parallel region costs a thread wake-up (and a scheduler time slice when the
# machine is oversubscribed), so small batches and single vectors run serially.
_PARALLEL_MIN_ELEMENTS = 1 << 16


@njit(cache=True, boundscheck=False)
def _use_threads(X):
    return X.shape[0] > 1 and X.shape[0] * X.shape[1] >= _PARALLEL_MIN_ELEMENTS


@njit(cache=True, boundscheck=False)
def _fwht_row_range(X, scale, lo, hi):
    for r in range(lo, hi):
        fwht_inplace(X[r], scale)


@njit(cache=True, parallel=True, boundscheck=False)
def _fwht_rows_parallel(X, scale):
    for r in prange(X.shape[0]):
        fwht_inplace(X[r], scale)


@njit(cache=True, boundscheck=False)
def fwht_rows(X, scale):
    """In-place FWHT of every row of the C-contiguous 2-D array ``X`` (threads over rows for large batches)."""
    if _use_threads(X):
        _fwht_rows_parallel(X, scale)
    else:
        _fwht_row_range(X, scale, 0, X.shape[0])


@njit(cache=True, boundscheck=False, inline="always")
def _rotate_row_shared(row, signs, scale):
    for b in range(signs.shape[0]):
        s = signs[b]
        for j in range(row.shape[0]):
            row[j] *= s[j]
        fwht_inplace(row, scale)


@njit(cache=True, parallel=True, boundscheck=False)
def _rotate_rows_shared_parallel(X, signs, scale):
    for r in prange(X.shape[0]):
        _rotate_row_shared(X[r], signs, scale)


@njit(cache=True, boundscheck=False)
def rotate_rows_shared(X, signs, scale):
    """Rows of X <- (scale H D_k) ... (scale H D_1) row, with the same sign rows ``signs`` (k, n) for every row."""
    if _use_threads(X):
        _rotate_rows_shared_parallel(X, signs, scale)
    else:
        for r in range(X.shape[0]):
            _rotate_row_shared(X[r], signs, scale)


@njit(cache=True, boundscheck=False, inline="always")
def _rotate_row_fresh(row, n_blocks, seed, global_row, scale):
    n = row.shape[0]
    base = global_row * n_blocks
    for b in range(n_blocks):
        counter0 = (base + b) * n
        for j in range(n):
            row[j] *= counter_sign(seed, counter0 + j)
        fwht_inplace(row, scale)


@njit(cache=True, parallel=True, boundscheck=False)
def _rotate_rows_fresh_parallel(X, n_blocks, seed, row_offset, scale):
    for r in prange(X.shape[0]):
        _rotate_row_fresh(X[r], n_blocks, seed, row_offset + r, scale)


@njit(cache=True, boundscheck=False)
def rotate_rows_fresh(X, n_blocks, seed, row_offset, scale):
    """Like :func:`rotate_rows_shared`, with independent signs for each row.

    The sign of block b, coordinate j for global row r is a pure function of
    (seed, r, b, j), so the result does not depend on threads or chunking.
    """
    if _use_threads(X):
        _rotate_rows_fresh_parallel(X, n_blocks, seed, row_offset, scale)
    else:
        for r in range(X.shape[0]):
            _rotate_row_fresh(X[r], n_blocks, seed, row_offset + r, scale)


@njit(cache=True, boundscheck=False, inline="always")
def _unrotate_row_shared(row, signs, scale):
    for b in range(signs.shape[0] - 1, -1, -1):
        fwht_inplace(row, scale)
        s = signs[b]
        for j in range(row.shape[0]):
            row[j] *= s[j]


@njit(cache=True, parallel=True, boundscheck=False)
def _unrotate_rows_shared_parallel(X, signs, scale):
    for r in prange(X.shape[0]):
        _unrotate_row_shared(X[r], signs, scale)


@njit(cache=True, boundscheck=False)
def unrotate_rows_shared(X, signs, scale):
    """Transpose of :func:`rotate_rows_shared`: rows <- (scale D_1 H) ... (scale D_k H) row."""
    if _use_threads(X):
        _unrotate_rows_shared_parallel(X, signs, scale)
    else:
        for r in range(X.shape[0]):
            _unrotate_row_shared(X[r], signs, scale)


def fwht_rows_numpy(X):
    """Plain-numpy FWHT of every row (unnormalised): the reshape butterfly, one level at a time."""
    X = np.array(X, copy=True)
    n_rows, n = X.shape
    h = 1
    while h < n:
        Y = X.reshape(n_rows, n // (2 * h), 2, h)
        a = Y[:, :, 0, :].copy()
        b = Y[:, :, 1, :]
        Y[:, :, 0, :] = a + b
        Y[:, :, 1, :] = a - b
        h *= 2
    return X
