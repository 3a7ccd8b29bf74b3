"""Numba kernels of the Hadamard family (private).

All transforms are in natural (Sylvester) order, unnormalised unless a
``scale`` is passed, and work in place on C-contiguous float32/float64 rows.
:func:`fwht_rows_numpy` is the plain-numpy reference the tests compare with
(and the benchmark's NumPy baseline).

Layout of :func:`fwht_inplace` on a vector of length n = 2^L (the FFHT
recursion of Andoni et al. 2015, done iteratively):

1. **Register blocks** of 256 bytes (64 float32 / 32 float64 = eight AVX
   registers): ``_register_block`` loads the eight vectors, does the levels
   inside a vector with a lane shuffle and a fused ``p + (+-1) * v`` per level
   (exact: the product by +-1 is exact and the sum is rounded once, as in the
   plain butterfly), then the three levels across the eight registers, and
   stores.
2. **L1 blocks** of 16 KiB: the remaining levels up to the block size, in
   radix-8 sweeps (three levels per load/store; one radix-2/4 sweep first
   when the count is not a multiple of three).
3. **Outer levels** in radix-8 sweeps, scheduled depth first: as soon as the
   last L1 block of a group of 8 (then 64, ...) blocks is done, the group is
   merged, so a merge reads data that is still in L2/L3. A radix-2/4
   remainder is merged at the lowest tier, where data is still in cache. The
   scale is fused into the last sweep.

The register block and the radix-r butterflies (r vectors at stride h, all
``lanes`` butterflies at once) are numba intrinsics that emit LLVM vector IR
directly: Numba does not run LLVM's SLP vectoriser, so the in-vector levels
cannot be vectorised from scalar code, and a loop-vectorised butterfly over
views ``x[i:i+h]``, ``x[i+h:i+2h]`` pays a runtime overlap check per group
and a scalar remainder loop (measured 10-30 % slower). Only plain adds,
subtracts and multiplications by +-1 or ``scale`` are used, so no fastmath is
needed and the results do not depend on the compiler's reassociation.

Every transform reports whether a result may be non-finite, from a check
fused into its last pass (``_non_finite_lanes``: one add per vector on data
already in registers, measured within noise of the unchecked kernel): NaN/inf
input, or a partial sum that overflowed although the result may fit. The
callers then check the input and redo the rare overflowing rows on an input
scaled by a power of two (see ``fwht._rescaled_rows``).

Batches of rows shorter than one register block (d = 2 ... 32) are done on
the flat array, 256 bytes of rows per register block (``_fwht_short_rows``).
Batches of at least ``_PARALLEL_MIN_ELEMENTS`` elements run on numba threads
over rows; smaller ones run serially, because waking threads costs more.
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
# Levels merged per sweep over memory above the L1 block (radix 8). Radix 16
# measured 1.5-4x slower here: 16 vectors spill from the 16 AVX registers and
# 16 streams at a power-of-two stride conflict in the 8-way caches.
_OUTER_LOG_RADIX = 3


def _non_finite_lanes(builder, vectors):
    """IR: an i64 that is nonzero iff an entry of ``vectors`` is NaN or infinite (or their sum overflows).

    The sum of the vectors is NaN or infinite whenever one entry is (inf + finite = inf, inf - inf = NaN)
    and ``t - t`` turns inf into NaN, so one unordered self-comparison of ``t - t`` per lane and a lane
    mask (movmsk) cover them all: one add per vector and three instructions per call. A finite sum that
    overflows is a false alarm, resolved by the caller's exact fallback.
    """
    values = list(vectors)
    while len(values) > 1:
        values = [builder.fadd(values[k], values[k + 1]) for k in range(0, len(values), 2)]
    total = values[0]
    diff = builder.fsub(total, total)
    lanes = total.type.count
    unordered = builder.fcmp_unordered("uno", diff, diff)
    return builder.zext(builder.bitcast(unordered, ir.IntType(lanes)), ir.IntType(64))


def _make_register_kernel(max_levels, check=False):
    """Intrinsic ``kernel(src, dst, start)``: the lowest ``max_levels`` levels of the WHT on one register block.

    Reads ``src[start:start + 256 // itemsize]`` (eight AVX vectors: 64
    float32 / 32 float64) and writes the result to the same positions of
    ``dst`` (``dst`` may be ``src``: everything is loaded before anything is
    stored). With ``max_levels`` >= 6 it is one full WHT of the block; with
    fewer, the WHT of every run of 2^max_levels contiguous elements (the rows
    of a batch with d < one block). Both arrays must be 1-D C-contiguous,
    float32 or float64 alike, with a full block after ``start`` (the callers
    guarantee it).
    """

    @intrinsic
    def kernel(typingctx, src, dst, start):
        for arr in (src, dst):
            if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
                    and arr.dtype in (types.float32, types.float64)):
                return None
        if src.dtype != dst.dtype or not isinstance(start, types.Integer):
            return None
        sig = (types.int64 if check else types.void)(src, dst, start)

        def codegen(context, builder, signature, args):
            srcty, dstty, startty = signature.args
            elt = context.get_value_type(srcty.dtype)
            itemsize = 4 if srcty.dtype == types.float32 else 8
            lanes = 32 // itemsize
            vty = ir.VectorType(elt, lanes)
            i64 = ir.IntType(64)
            offset = context.cast(builder, args[2], startty, types.int64)

            def vector_pointers(arrty, value):
                data = context.make_array(arrty)(context, builder, value).data
                base = builder.gep(data, [offset], inbounds=True, source_etype=elt)
                return [
                    builder.bitcast(
                        builder.gep(base, [ir.Constant(i64, k * lanes)], inbounds=True, source_etype=elt),
                        vty.as_pointer(),
                    )
                    for k in range(_N_REGISTERS)
                ]

            ptrs = vector_pointers(srcty, args[0])
            out_ptrs = vector_pointers(dstty, args[1])
            v = [builder.load(p, align=itemsize, typ=vty) for p in ptrs]
            undef = ir.Constant(vty, ir.Undefined)
            levels = 0
            # Levels inside a vector: lane k pairs with lane k ^ h; the result is
            # v[k ^ h] + v[k] for the lower lane and v[k ^ h] - v[k] for the upper.
            h = 1
            while h < lanes and levels < max_levels:
                partner = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [k ^ h for k in range(lanes)])
                signs = ir.Constant(vty, [(-1.0 if k & h else 1.0) for k in range(lanes)])
                for a in range(_N_REGISTERS):
                    swapped = builder.shuffle_vector(v[a], undef, partner)
                    signed = builder.fmul(v[a], signs, flags=("contract",))
                    v[a] = builder.fadd(swapped, signed, flags=("contract",))
                h *= 2
                levels += 1
            # Levels across the eight registers: whole-vector butterflies.
            h = 1
            while h < _N_REGISTERS and levels < max_levels:
                for a in range(_N_REGISTERS):
                    if a & h == 0:
                        b = a + h
                        v[a], v[b] = builder.fadd(v[a], v[b]), builder.fsub(v[a], v[b])
                h *= 2
                levels += 1
            for a in range(_N_REGISTERS):
                builder.store(v[a], out_ptrs[a], align=itemsize)
            if check:
                return _non_finite_lanes(builder, v)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


# The full register-block transform (6 levels for float32, 5 for float64) and
# partial ones for batches of short rows (d = 2 ... 32).
_register_block = _make_register_kernel(6)
_register_block_checked = _make_register_kernel(6, check=True)
_register_levels_1 = _make_register_kernel(1, check=True)
_register_levels_2 = _make_register_kernel(2, check=True)
_register_levels_3 = _make_register_kernel(3, check=True)
_register_levels_4 = _make_register_kernel(4, check=True)
_register_levels_5 = _make_register_kernel(5, check=True)


@intrinsic
def _cast_like(typingctx, x, value):
    """``value`` converted to the dtype of the array ``x`` (keeps float32 math in float32)."""
    if not (isinstance(x, types.Array) and isinstance(value, (types.Float, types.Integer))):
        return None
    sig = x.dtype(x, value)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[1], signature.args[1], signature.return_type)

    return sig, codegen


def _make_butterfly(radix, scaled):
    """Intrinsic ``kernel(x, i, h, scale)``: a radix-``radix`` butterfly on whole AVX vectors.

    Loads the ``radix`` vectors starting at x[i], x[i + h], ..., x[i + (radix-1) h],
    does log2(radix) levels of add/sub across them in registers (times
    ``scale`` if ``scaled``) and stores them back: ``lanes`` butterflies at once.
    Written in IR so that no runtime aliasing check or scalar remainder loop
    is needed (the callers guarantee h >= lanes and that the vectors exist).
    """

    @intrinsic
    def kernel(typingctx, x, i, h, scale):
        if not (isinstance(x, types.Array) and x.ndim == 1 and x.layout == "C"
                and x.dtype in (types.float32, types.float64)):
            return None
        if not (isinstance(i, types.Integer) and isinstance(h, types.Integer)):
            return None
        sig = types.int64(x, i, h, scale)

        def codegen(context, builder, signature, args):
            arrty = signature.args[0]
            ary = context.make_array(arrty)(context, builder, args[0])
            elt = context.get_value_type(arrty.dtype)
            itemsize = 4 if arrty.dtype == types.float32 else 8
            lanes = 32 // itemsize
            vty = ir.VectorType(elt, lanes)
            offset = context.cast(builder, args[1], signature.args[1], types.int64)
            stride = context.cast(builder, args[2], signature.args[2], types.int64)
            ptrs = []
            for _ in range(radix):
                ptr = builder.gep(ary.data, [offset], inbounds=True, source_etype=elt)
                ptrs.append(builder.bitcast(ptr, vty.as_pointer()))
                offset = builder.add(offset, stride)
            v = [builder.load(p, align=itemsize, typ=vty) for p in ptrs]
            h_reg = 1
            while h_reg < radix:
                for a in range(radix):
                    if a & h_reg == 0:
                        b = a + h_reg
                        v[a], v[b] = builder.fadd(v[a], v[b]), builder.fsub(v[a], v[b])
                h_reg *= 2
            flag = _non_finite_lanes(builder, v) if scaled else ir.Constant(ir.IntType(64), 0)
            if scaled:
                value = context.cast(builder, args[3], signature.args[3], arrty.dtype)
                splat = ir.Constant(vty, ir.Undefined)
                for lane in range(lanes):
                    splat = builder.insert_element(splat, value, ir.Constant(ir.IntType(32), lane))
                v = [builder.fmul(a, splat) for a in v]
            for a in range(radix):
                builder.store(v[a], ptrs[a], align=itemsize)
            return flag

        return sig, codegen

    return kernel


_butterfly8 = _make_butterfly(8, False)
_butterfly8_scaled = _make_butterfly(8, True)
_butterfly4 = _make_butterfly(4, False)
_butterfly4_scaled = _make_butterfly(4, True)
_butterfly2 = _make_butterfly(2, False)
_butterfly2_scaled = _make_butterfly(2, True)


@njit(cache=True, boundscheck=False)
def _radix8(x, start, stop, h, scale, scaled):
    """Levels h, 2h, 4h on x[start:stop] in one sweep (h >= one vector); results times ``scale`` if ``scaled``."""
    lanes = 32 // x.itemsize
    bad = 0
    for i in range(start, stop, 8 * h):
        if scaled:
            for j in range(i, i + h, lanes):
                bad |= _butterfly8_scaled(x, j, h, scale)
        else:
            for j in range(i, i + h, lanes):
                _butterfly8(x, j, h, scale)
    return bad


@njit(cache=True, boundscheck=False)
def _radix4(x, start, stop, h, scale, scaled):
    """Levels h, 2h on x[start:stop] in one sweep (h >= one vector)."""
    lanes = 32 // x.itemsize
    bad = 0
    for i in range(start, stop, 4 * h):
        if scaled:
            for j in range(i, i + h, lanes):
                bad |= _butterfly4_scaled(x, j, h, scale)
        else:
            for j in range(i, i + h, lanes):
                _butterfly4(x, j, h, scale)
    return bad


@njit(cache=True, boundscheck=False)
def _radix2_vector(x, start, stop, h, scale, scaled):
    """Level h on x[start:stop] (h >= one vector)."""
    lanes = 32 // x.itemsize
    bad = 0
    for i in range(start, stop, 2 * h):
        if scaled:
            for j in range(i, i + h, lanes):
                bad |= _butterfly2_scaled(x, j, h, scale)
        else:
            for j in range(i, i + h, lanes):
                _butterfly2(x, j, h, scale)
    return bad


@njit(cache=True, boundscheck=False)
def _radix2(x, start, stop, h, scale, scaled):
    """Level h on x[start:stop], any h (scalar code; for vectors shorter than one register block)."""
    for i in range(start, stop, 2 * h):
        for j in range(i, i + h):
            a = x[j]
            b = x[j + h]
            if scaled:
                x[j] = (a + b) * scale
                x[j + h] = (a - b) * scale
            else:
                x[j] = a + b
                x[j + h] = a - b


@njit(cache=True, boundscheck=False)
def _radix_pass(x, start, stop, h, radix, scale, scaled):
    if radix == 8:
        return _radix8(x, start, stop, h, scale, scaled)
    if radix == 4:
        return _radix4(x, start, stop, h, scale, scaled)
    return _radix2_vector(x, start, stop, h, scale, scaled)


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
    bad = 0
    remainder = (_log2(size) - _log2(h)) % 3
    if remainder:
        radix = 1 << remainder
        bad |= _radix_pass(x, start, stop, h, radix, scale, scaled and radix * h == size)
        h *= radix
    while h < size:
        bad |= _radix_pass(x, start, stop, h, 8, scale, scaled and 8 * h == size)
        h *= 8
    return bad


@njit(cache=True, boundscheck=False)
def _fwht_into(src, x, scale):
    """x <- scale * H src (``x`` may be ``src``): the first pass reads ``src``, all others work on ``x``."""
    n = x.shape[0]
    s = _cast_like(x, scale)
    reg = _REGISTER_BLOCK_BYTES // x.itemsize
    if n < reg:  # fewer elements than one register block: plain radix-2 levels
        for j in range(n):  # a no-op when in place; an explicit loop never allocates
            x[j] = src[j]
        h = 1
        while h < n:
            _radix2(x, 0, n, h, s, 2 * h == n)
            h *= 2
        if n == 1:
            x[0] *= s
        bad = 0
        for j in range(n):
            if x[j] - x[j] != 0:  # NaN for inf and NaN
                bad = 1
        return bad
    block = min(n, _L1_BLOCK_BYTES // x.itemsize)
    # Tiers above the L1 block: the lowest merges 2, 4 or 8 blocks (the
    # remainder of the level count mod 3), every further tier 8 of the previous.
    remainder = (_log2(n) - _log2(block)) % _OUTER_LOG_RADIX
    first_tier = block << (remainder if remainder else _OUTER_LOG_RADIX)
    bad = 0
    for start in range(0, n, block):
        if n == reg:  # the register block is the whole transform
            bad |= _register_block_checked(src, x, start)
        else:
            for i in range(start, start + block, reg):
                _register_block(src, x, i)
        if block > reg:
            bad |= _block_levels(x, start, start + block, reg, block, s, block == n)
        elif block == n:
            for j in range(n):
                x[j] *= s
        end = start + block
        size = first_tier
        radix = first_tier // block
        while size <= n and end % size == 0:
            bad |= _radix_pass(x, end - size, end, size // radix, radix, s, size == n)
            size <<= _OUTER_LOG_RADIX
            radix = 1 << _OUTER_LOG_RADIX
    return bad


@njit(cache=True, boundscheck=False)
def fwht_inplace(x, scale):
    """Unnormalised FWHT of the contiguous 1-D array ``x`` (length 2^L), times ``scale`` (0 < scale <= 1).

    Returns 0 if every result is finite; nonzero if one may not be (an entry
    of ``x`` was NaN/inf, a partial sum overflowed, or, a false alarm the
    caller resolves, a sum of finite results in the last pass overflowed).
    The check is fused into the last pass (see ``_non_finite_lanes``).
    """
    return _fwht_into(x, x, scale)


@njit(cache=True, boundscheck=False)
def fwht_into(x, out, scale):
    """out <- scale * H x for contiguous 1-D arrays of one length 2^L and dtype.

    Saves the copy of an in-place transform of a copy: the register-block pass
    reads ``x`` and writes ``out``, the later passes work in ``out``. ``x`` is
    not modified (unless it is ``out``); ``x`` and ``out`` must not overlap
    otherwise.
    """
    return _fwht_into(x, out, scale)


_MAGNITUDE_MASK64 = np.uint64(0x7FFFFFFFFFFFFFFF)
_MAGNITUDE_MASK32 = np.uint32(0x7FFFFFFF)


@njit(cache=True, boundscheck=False)
def _max_magnitude_bits(bits, mask):
    peak = bits[0] & mask
    for j in range(1, bits.shape[0]):
        peak = max(peak, bits[j] & mask)
    return peak


def max_magnitude(X):
    """``max |X|`` of a non-empty C-contiguous float array, NaN or inf if an entry is.

    The maximum of the bit patterns with the sign cleared: for IEEE floats it
    orders like the magnitude, and inf and NaN lie above every finite value.
    An integer reduction that vectorises, unlike a float max with NaN.
    """
    wide = X.dtype == np.float64
    bits = X.reshape(-1).view(np.uint64 if wide else np.uint32)
    peak = _max_magnitude_bits(bits, _MAGNITUDE_MASK64 if wide else _MAGNITUDE_MASK32)
    return float(np.array(peak, dtype=bits.dtype).view(X.dtype))


# A parallel region costs a thread wake-up (and a scheduler time slice when the
# machine is oversubscribed), so small batches and single vectors run serially.
_PARALLEL_MIN_ELEMENTS = 1 << 18


@njit(cache=True, boundscheck=False)
def _use_threads(X):
    return X.shape[0] > 1 and X.shape[0] * X.shape[1] >= _PARALLEL_MIN_ELEMENTS


@njit(cache=True, boundscheck=False)
def _fwht_row_range(X, scale, lo, hi):
    bad = 0
    for r in range(lo, hi):
        bad |= fwht_inplace(X[r], scale)
    return bad


@njit(cache=True, parallel=True, boundscheck=False)
def _fwht_rows_parallel(X, scale):
    bad = 0
    for r in prange(X.shape[0]):
        bad += fwht_inplace(X[r], scale)
    return bad


@njit(cache=True, boundscheck=False)
def _short_rows_range(flat, log_d, start, stop, scale):
    """WHT of every run of 2^log_d elements in flat[start:stop] (whole register blocks), times ``scale``.

    For a C-contiguous batch of rows shorter than a register block, the rows'
    transforms are the lowest log_d levels of the flat array, so each register
    block transforms 256 bytes' worth of rows at once, in vector registers.
    """
    reg = _REGISTER_BLOCK_BYTES // flat.itemsize
    bad = 0
    for i in range(start, stop, reg):
        if log_d == 1:
            bad |= _register_levels_1(flat, flat, i)
        elif log_d == 2:
            bad |= _register_levels_2(flat, flat, i)
        elif log_d == 3:
            bad |= _register_levels_3(flat, flat, i)
        elif log_d == 4:
            bad |= _register_levels_4(flat, flat, i)
        else:
            bad |= _register_levels_5(flat, flat, i)
    if scale != 1:
        for j in range(start, stop):
            flat[j] *= scale
    return bad


@njit(cache=True, parallel=True, boundscheck=False)
def _short_rows_parallel(flat, log_d, n_chunks, chunk, scale):
    bad = 0
    for c in prange(n_chunks):
        bad += _short_rows_range(flat, log_d, c * chunk, (c + 1) * chunk, scale)
    return bad


@njit(cache=True, boundscheck=False)
def _fwht_short_rows(X, scale):
    """:func:`fwht_rows` for 1 < d < one register block: whole blocks in registers, the last rows one by one."""
    s = _cast_like(X, scale)
    n_rows, d = X.shape
    reg = _REGISTER_BLOCK_BYTES // X.itemsize
    flat = X.reshape(n_rows * d)
    n_blocks = (n_rows * d) // reg
    log_d = _log2(d)
    chunk_blocks = 256  # 64 KiB per thread chunk
    n_chunks = n_blocks // chunk_blocks
    bad = 0
    if _use_threads(X) and n_chunks > 1:
        bad |= _short_rows_parallel(flat, log_d, n_chunks, chunk_blocks * reg, s)
    done = n_chunks * chunk_blocks * reg if _use_threads(X) and n_chunks > 1 else 0
    bad |= _short_rows_range(flat, log_d, done, n_blocks * reg, s)
    return bad | _fwht_row_range(X, s, (n_blocks * reg) // d, n_rows)


@njit(cache=True, boundscheck=False)
def fwht_rows(X, scale):
    """In-place FWHT of every row of the C-contiguous 2-D array ``X`` (threads over rows for large batches).

    Returns nonzero if a result may be non-finite (see :func:`fwht_inplace`).
    """
    if 1 < X.shape[1] < _REGISTER_BLOCK_BYTES // X.itemsize:
        return _fwht_short_rows(X, scale)
    if _use_threads(X):
        return _fwht_rows_parallel(X, scale)
    return _fwht_row_range(X, scale, 0, X.shape[0])


@njit(cache=True, parallel=True, boundscheck=False)
def _fwht_rows_into_parallel(X, out, scale):
    bad = 0
    for r in prange(X.shape[0]):
        bad += _fwht_into(X[r], out[r], scale)
    return bad


@njit(cache=True, boundscheck=False)
def fwht_rows_into(X, out, scale):
    """out <- scale * (rows of X) H for C-contiguous 2-D arrays of one shape and dtype (X is not modified).

    The out-of-place :func:`fwht_rows`: one pass over memory less than copying
    ``X`` into ``out`` and transforming in place. ``X`` and ``out`` must not
    overlap (unless they are the same array). Returns nonzero if a result may
    be non-finite (see :func:`fwht_inplace`).
    """
    if 1 < X.shape[1] < _REGISTER_BLOCK_BYTES // X.itemsize:
        for r in range(X.shape[0]):
            for j in range(X.shape[1]):
                out[r, j] = X[r, j]
        return _fwht_short_rows(out, scale)
    if _use_threads(X):
        return _fwht_rows_into_parallel(X, out, scale)
    bad = 0
    for r in range(X.shape[0]):
        bad |= _fwht_into(X[r], out[r], scale)
    return bad


@njit(cache=True, boundscheck=False, inline="always")
def _rotate_row_shared(row, signs, scale):
    bad = 0
    for b in range(signs.shape[0]):
        s = signs[b]
        for j in range(row.shape[0]):
            row[j] *= s[j]
        bad |= fwht_inplace(row, scale)
    return bad


@njit(cache=True, parallel=True, boundscheck=False)
def _rotate_rows_shared_parallel(X, signs, scale):
    bad = 0
    for r in prange(X.shape[0]):
        bad += _rotate_row_shared(X[r], signs, scale)
    return bad


@njit(cache=True, boundscheck=False)
def rotate_rows_shared(X, signs, scale):
    """Rows of X <- (scale H D_k) ... (scale H D_1) row, with the same sign rows ``signs`` (k, n) for every row.

    Returns nonzero if a result may be non-finite (see :func:`fwht_inplace`).
    """
    if _use_threads(X):
        return _rotate_rows_shared_parallel(X, signs, scale)
    bad = 0
    for r in range(X.shape[0]):
        bad |= _rotate_row_shared(X[r], signs, scale)
    return bad


@njit(cache=True, boundscheck=False, inline="always")
def _rotate_row_fresh(row, n_blocks, seed, global_row, scale):
    n = row.shape[0]
    base = global_row * n_blocks
    bad = 0
    for b in range(n_blocks):
        counter0 = (base + b) * n
        for j in range(n):
            row[j] *= counter_sign(seed, counter0 + j)
        bad |= fwht_inplace(row, scale)
    return bad


@njit(cache=True, parallel=True, boundscheck=False)
def _rotate_rows_fresh_parallel(X, n_blocks, seed, row_offset, scale):
    bad = 0
    for r in prange(X.shape[0]):
        bad += _rotate_row_fresh(X[r], n_blocks, seed, row_offset + r, scale)
    return bad


@njit(cache=True, boundscheck=False)
def rotate_rows_fresh(X, n_blocks, seed, row_offset, scale):
    """Like :func:`rotate_rows_shared`, with independent signs for each row.

    The sign of block b, coordinate j for global row r is a pure function of
    (seed, r, b, j), so the result does not depend on threads or chunking.
    """
    if _use_threads(X):
        return _rotate_rows_fresh_parallel(X, n_blocks, seed, row_offset, scale)
    bad = 0
    for r in range(X.shape[0]):
        bad |= _rotate_row_fresh(X[r], n_blocks, seed, row_offset + r, scale)
    return bad


@njit(cache=True, boundscheck=False, inline="always")
def _unrotate_row_shared(row, signs, scale):
    bad = 0
    for b in range(signs.shape[0] - 1, -1, -1):
        bad |= fwht_inplace(row, scale)
        s = signs[b]
        for j in range(row.shape[0]):
            row[j] *= s[j]
    return bad


@njit(cache=True, parallel=True, boundscheck=False)
def _unrotate_rows_shared_parallel(X, signs, scale):
    bad = 0
    for r in prange(X.shape[0]):
        bad += _unrotate_row_shared(X[r], signs, scale)
    return bad


@njit(cache=True, boundscheck=False)
def unrotate_rows_shared(X, signs, scale):
    """Transpose of :func:`rotate_rows_shared`: rows <- (scale D_1 H) ... (scale D_k H) row (nonzero: see fwht_inplace)."""
    if _use_threads(X):
        return _unrotate_rows_shared_parallel(X, signs, scale)
    bad = 0
    for r in range(X.shape[0]):
        bad |= _unrotate_row_shared(X[r], signs, scale)
    return bad


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
