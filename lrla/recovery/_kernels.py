"""Numba kernels of the recovery family (private).

Matrix-free Gaussian sensing: the measurement matrix A_i is never stored. Its
free entries (a "packed" vector of length ``n_free``, see
``operators._Packing``) are regenerated from ``(seed, i)``. Each row has 16
independent xoshiro256++ streams (Blackman & Vigna 2021), seeded from SplitMix64
outputs of the key hash(seed, i). Every 64-bit output gives two normals: entry
k comes from 32-bit word k of the row's stream, the low half (k even) or the
high half (k odd) of output k // 32 of lane (k // 2) % 16, so its value depends
on ``(seed, i, k)`` only, never on thread scheduling or on ``n_free``. Each
word feeds a 1024-layer ziggurat (Marsaglia & Tsang 2000): bits 0-9 pick the
layer j, bit 10 is the sign, bits 11-31 the magnitude m < 2^21 of the candidate
(m + 1/2) w_j / 2^21, computed in float32 (w_j: the layer's width rounded up to
a float32). One 64-bit table word per layer holds both the half step w_j / 2^22
(a float32) and the integer acceptance threshold, so the fast path makes one
table load per normal; it runs branch-free over a whole row (eight draws per
vector step), marks its rejects (0.43 % of draws) in one 64-bit mask per 64 draws, and
a fix-up pass runs the tail / wedge / redraw branch on those (exact float64
tables), chaining SplitMix64 on the draw's 64-bit output. Every normal is a
float32 value (the dense operator stores it as float32, exactly); the fast-path values
lie on a grid of step w_j / 2^21 (<= 2.1e-6). The fast path of each block of
64 draws is written in LLVM vector IR (``_ziggurat_block``). About 1.05 ns of
CPU per normal against 1.65-1.9 ns for the previous generator (one float64
normal per 64-bit output, two table loads per normal), and the row buffers
halve; the values for a given seed changed with it.

Reductions over measurements (adjoint sums) are split into ``n_chunks`` fixed
blocks of rows, each summed into its own buffer, and the buffers are added in
a fixed order, so the result does not depend on the number of threads.

The plain-numpy reference of the generator is ``tests/recovery/reference.py``.

Dense operator: the rows are stored as float32 (exact: the generator's values)
and every product is computed in float64 (``dense_forward``,
``dense_adjoint``, ``_signed_row_pass``): half the memory traffic of float64
storage, whose BLAS products these kernels replace. ``dense_subgm_symmetric``
and ``dense_subgm_asymmetric`` run whole SubGM iterations (one pass over the
stored rows each) without returning to Python; their references are the
digest's NumPy loop ``subgm_numpy`` in the same file and the estimator's
Python loop on a generic operator.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from llvmlite import ir
from numba.core.extending import intrinsic

from .._rng import splitmix64

# Reassociation lets LLVM vectorise the row dot products (their order of summation then differs
# from a scalar loop, by rounding only); no 'nnan'/'ninf': inputs are validated finite upstream.
_REASSOC = {"reassoc", "contract"}


def _ziggurat_tables(n_layers=1024, r=4.038849846109504, v=0.0012263246463530893):
    """Layer edges X[0..n] and densities F[i] = exp(-X[i]^2/2) of a normal ziggurat (Marsaglia & Tsang 2000).

    X[0] = v / f(r) is the width of the base strip's rectangle-equivalent, X[1] = r,
    and each layer has area v: X[i+1] = f^-1(f(X[i]) + v / X[i]); X[n] = 0. ``r`` and
    ``v`` are the solution for ``n_layers`` (the top layer's area is v too; the
    tests re-solve it by bisection); the defaults are for 1024 layers.
    """
    x = np.empty(n_layers + 1)
    x[0] = v / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(math.exp(-0.5 * x[i] ** 2) + v / x[i]))
    x[n_layers] = 0.0
    return x, np.exp(-0.5 * x * x)


ZIG_LAYERS = 1024
ZIG_R = 4.038849846109504
ZIG_V = 0.0012263246463530893
ZIG_X, ZIG_F = _ziggurat_tables(ZIG_LAYERS, ZIG_R, ZIG_V)
#: magnitude bits of a draw: 32 - 10 layer bits - 1 sign bit
ZIG_MAG_BITS = 21


def _fast_path_tables(x, mag_bits):
    """(half step, threshold) of each layer for the float32 fast path.

    The box of layer j is widened to ``w = X[j]`` rounded up to a float32 (by at
    most 6e-8 relative; the sliver beyond the curve is rejected by the wedge
    test), and the candidate of magnitude m is (m + 1/2) w / 2^mag_bits =
    (2 m + 1) * half_step with ``half_step = w / 2^(mag_bits + 1)`` (exact).
    It is accepted at once when m < threshold, i.e. when (m + 1/2) w / 2^mag_bits
    < X[j+1]: inside the layer's rectangle under the curve.
    """
    width = x[:-1].astype(np.float32)
    width = np.where(width < x[:-1], np.nextafter(width, np.float32(np.inf)), width)
    threshold = np.ceil(x[1:] / width * 2.0**mag_bits - 0.5).astype(np.uint32)
    return (width * np.float32(2.0 ** -(mag_bits + 1))).astype(np.float32), threshold


ZIG_HALF_STEP, ZIG_THRESHOLD = _fast_path_tables(ZIG_X, ZIG_MAG_BITS)
#: one 64-bit word per layer, so that the fast path loads once per draw:
#: threshold in the low 32 bits, the float32 bits of the half step in the high 32 bits
ZIG_TABLE = ZIG_THRESHOLD.astype(np.uint64) | (ZIG_HALF_STEP.view(np.uint32).astype(np.uint64) << np.uint64(32))
_LAYER_MASK = np.uint32(ZIG_LAYERS - 1)
_SIGN_BIT = np.uint32(ZIG_LAYERS)
_LOW32 = np.uint64(0xFFFFFFFF)
#: independent xoshiro256++ streams per measurement; entry k of a row is 32-bit word k of the
#: interleaved outputs (output t of lane j is 64-bit word 16 t + j, low half first)
N_LANES = 16
_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment
_INV_2_53 = 1.0 / 9007199254740992.0


#: the other type of the same width, for reinterpreting bits
_SAME_WIDTH = {types.uint32: types.float32, types.float32: types.uint32,
               types.uint64: types.float64, types.float64: types.uint64}


@intrinsic
def _reinterpret(typingctx, x):
    """The bits of ``x`` read as the other type of its width (uint32 <-> float32, uint64 <-> float64); no conversion."""
    target = _SAME_WIDTH.get(x)
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(x), codegen


@njit(cache=True, inline="always")
def _uniform53(h):
    return np.float64(h >> np.uint64(11)) * _INV_2_53


@njit(cache=True, inline="always")
def _candidate(u, half_step):
    """Signed candidate of the draw ``u`` (float32): (2 m + 1) * half_step with the sign of bit 10.

    The sign goes in by flipping the float's sign bit (bit 10 moved to bit 31),
    which vectorises without a compare.
    """
    magnitude = np.float32(np.int32((u >> np.uint32(10)) | np.uint32(1))) * half_step
    return _reinterpret(np.uint32(_reinterpret(magnitude) ^ ((u & _SIGN_BIT) << np.uint32(21))))


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _seed_lanes(seed, row, state):
    """xoshiro256++ states of measurement ``row``: SplitMix64 outputs 4 j + q of the key hash(seed, row).

    SplitMix64 is a bijection, so at most one of a lane's four words is zero:
    no lane starts in xoshiro's all-zero fixed point.
    """
    key = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(row)))
    for q in range(4):
        for j in range(N_LANES):
            state[q, j] = splitmix64(key + np.uint64(4 * j + q) * _GAMMA)


@njit(cache=True, inline="always")
def _xoshiro_lanes(n_steps, state, raw):
    """``n_steps`` outputs of each of the N_LANES xoshiro256++ streams (Blackman & Vigna 2021) into ``raw``.

    Shifts, xors and adds only, across independent lanes: the lane loop is
    vectorised (AVX2 has no 64-bit multiply, which a hash per entry would need).
    """
    for t in range(n_steps):
        base = t * N_LANES
        for j in range(N_LANES):
            s0 = state[0, j]
            s1 = state[1, j]
            s2 = state[2, j]
            s3 = state[3, j]
            raw[base + j] = _rotl(s0 + s3, 23) + s0
            shifted = s1 << np.uint64(17)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= shifted
            state[0, j] = s0
            state[1, j] = s1
            state[2, j] = s2
            state[3, j] = _rotl(s3, 45)


@njit(cache=True)
def _normal_slow(h, i, x):
    """Rare branch of the ziggurat (0.43 % of draws): the tail, a wedge test, or a redraw.

    ``x`` is the rejected candidate on layer ``i``. Further random bits come
    from chaining SplitMix64 on the 64-bit output ``h`` the draw came from
    (rotated by 32 bits for a high half), so the value still depends on
    (seed, row, k) only.
    """
    zx, zf, r = ZIG_X, ZIG_F, ZIG_R
    while True:
        if i == 0:  # tail beyond r (Marsaglia 1964)
            negative = x < 0.0
            while True:
                h = splitmix64(h)
                t = -math.log(1.0 - _uniform53(h)) / r
                h = splitmix64(h)
                e = -math.log(1.0 - _uniform53(h))
                if e + e >= t * t:
                    return -(r + t) if negative else r + t
        h = splitmix64(h)
        if zf[i + 1] + (zf[i] - zf[i + 1]) * _uniform53(h) < math.exp(-0.5 * x * x):
            return x
        h = splitmix64(h)
        i = np.int64(h & np.uint64(ZIG_LAYERS - 1))
        x = (2.0 * _uniform53(h) - 1.0) * zx[i]
        if abs(x) < zx[i + 1]:
            return x


def _is_vector_of(ty, dtype):
    return isinstance(ty, types.Array) and ty.ndim == 1 and ty.layout == "C" and ty.dtype == dtype


@intrinsic
def _ziggurat_block(typingctx, words, buf, w, table, base):
    """Fast path of the 64 draws ``words[base:base + 64]``: returns ``(sum_k buf[k] w[k], reject mask)``.

    Written in LLVM vector IR, eight draws per step: one vector load of the
    words; the table word of each draw by one scalar 64-bit load (gathers are
    slower on this CPU), split into thresholds and half steps by two shuffles;
    the candidate ``float32(2 m + 1) * half_step`` with the sign bit flipped in;
    a signed compare (both sides < 2^31) for the acceptance; ``buf[k]`` is the
    candidate or 0 for a reject; the eight reject bits are one ``movmsk`` (the
    mask bit q of the block is draw ``base + q``); the dot product with ``w``
    goes in float64 in two vector accumulators. The same arithmetic as the
    scalar description in ``_fast_path_tables``, bit for bit (tested against the
    NumPy reference). Compiled by LLVM for the host like the rest of the
    kernels. The same loop written in Numba took 0.81 ns per draw against 0.67
    (one thread, interleaved): LLVM rebuilt the word vectors from scalar loads
    and built the mask with 64-bit variable shifts.
    """
    if not (_is_vector_of(words, types.uint32) and _is_vector_of(buf, types.float32)
            and _is_vector_of(w, types.float64) and _is_vector_of(table, types.uint64)
            and isinstance(base, types.Integer)):
        return None
    sig = types.Tuple((types.float64, types.uint64))(words, buf, w, table, base)

    def codegen(context, builder, signature, args):
        words_ty, buf_ty, w_ty, table_ty, base_ty = signature.args
        i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
        f32, f64 = ir.FloatType(), ir.DoubleType()
        v8i32, v8f32, v4f64 = ir.VectorType(i32, 8), ir.VectorType(f32, 8), ir.VectorType(f64, 4)
        v2i32 = ir.VectorType(i32, 2)

        def data(ty, value):
            return context.make_array(ty)(context, builder, value).data

        def splat(value, vty):
            return ir.Constant(vty, [value] * vty.count)

        def lanes(indices, n):
            return ir.Constant(ir.VectorType(i32, n), list(indices))

        words_p, buf_p, w_p = data(words_ty, args[0]), data(buf_ty, args[1]), data(w_ty, args[2])
        table_p = builder.bitcast(data(table_ty, args[3]), i32.as_pointer())  # (threshold, half-step bits) pairs
        start = context.cast(builder, args[4], base_ty, types.int64)
        acc = [ir.Constant(v4f64, [0.0] * 4), ir.Constant(v4f64, [0.0] * 4)]
        mask = ir.Constant(i64, 0)
        for g in range(8):
            offset = builder.add(start, ir.Constant(i64, 8 * g))
            u_p = builder.gep(words_p, [offset], inbounds=True, source_etype=i32)
            u = builder.load(builder.bitcast(u_p, v8i32.as_pointer()), align=4, typ=v8i32)
            entries = []
            for lane in range(8):
                word = builder.load(builder.gep(u_p, [ir.Constant(i64, lane)], inbounds=True, source_etype=i32),
                                    align=4, typ=i32)
                layer = builder.zext(builder.and_(word, ir.Constant(i32, ZIG_LAYERS - 1)), i64)
                entry_p = builder.gep(table_p, [builder.shl(layer, ir.Constant(i64, 1))], inbounds=True,
                                      source_etype=i32)
                entries.append(builder.load(builder.bitcast(entry_p, v2i32.as_pointer()), align=8, typ=v2i32))
            quads = [builder.shuffle_vector(entries[2 * q], entries[2 * q + 1], lanes(range(4), 4)) for q in range(4)]
            low = builder.shuffle_vector(quads[0], quads[1], lanes(range(8), 8))
            high = builder.shuffle_vector(quads[2], quads[3], lanes(range(8), 8))
            threshold = builder.shuffle_vector(low, high, lanes(range(0, 16, 2), 8))
            half_step = builder.bitcast(builder.shuffle_vector(low, high, lanes(range(1, 16, 2), 8)), v8f32)
            odd = builder.or_(builder.lshr(u, splat(10, v8i32)), splat(1, v8i32))  # 2 m + 1
            magnitude = builder.fmul(builder.sitofp(odd, v8f32), half_step)
            sign = builder.shl(builder.and_(u, splat(ZIG_LAYERS, v8i32)), splat(21, v8i32))
            x = builder.bitcast(builder.xor(builder.bitcast(magnitude, v8i32), sign), v8f32)
            accepted = builder.icmp_signed("<", builder.lshr(u, splat(11, v8i32)), threshold)
            x = builder.select(accepted, x, ir.Constant(v8f32, [0.0] * 8))
            out_p = builder.gep(buf_p, [offset], inbounds=True, source_etype=f32)
            builder.store(x, builder.bitcast(out_p, v8f32.as_pointer()), align=4)
            rejected = builder.xor(accepted, ir.Constant(ir.VectorType(i1, 8), [1] * 8))
            bits = builder.zext(builder.bitcast(rejected, i8), i64)
            mask = builder.or_(mask, builder.shl(bits, ir.Constant(i64, 8 * g)))
            w_at = builder.gep(w_p, [offset], inbounds=True, source_etype=f64)
            for h in range(2):
                x_half = builder.fpext(builder.shuffle_vector(x, x, lanes(range(4 * h, 4 * h + 4), 4)), v4f64)
                w_half = builder.load(
                    builder.bitcast(builder.gep(w_at, [ir.Constant(i64, 4 * h)], inbounds=True, source_etype=f64),
                                    v4f64.as_pointer()),
                    align=8, typ=v4f64)
                acc[h] = builder.fadd(acc[h], builder.fmul(x_half, w_half, flags=("contract",)), flags=("contract",))
        both = builder.fadd(acc[0], acc[1])
        total = builder.extract_element(both, ir.Constant(i32, 0))
        for q in range(1, 4):
            total = builder.fadd(total, builder.extract_element(both, ir.Constant(i32, q)))
        return context.make_tuple(builder, signature.return_type, [total, mask])

    return sig, codegen


@njit(cache=True, inline="always")
def _ziggurat_fast(n_blocks, words, buf, rejected, w):
    """Fast path of every draw, branch-free: ``buf[k]`` and ``sum_k buf[k] w[k]``, 64 draws per block.

    ``words`` are the 32-bit draws. One load of ``ZIG_TABLE`` per draw gives the
    layer's half step and threshold. A rejected draw leaves 0 in ``buf[k]`` and
    sets bit k % 64 of ``rejected[k // 64]``. The block is ``_ziggurat_block``.
    """
    acc = 0.0
    for b in range(n_blocks):
        partial, mask = _ziggurat_block(words, buf, w, ZIG_TABLE, 64 * b)
        acc += partial
        rejected[b] = mask
    return acc


@intrinsic
def _trailing_zeros(typingctx, bits):
    """Index of the lowest set bit of a non-zero uint64 (LLVM cttz: one tzcnt)."""
    if bits != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], context.get_constant(types.boolean, True))

    return types.uint64(types.uint64), codegen


@njit(cache=True, inline="always")
def _ziggurat_fixup(n_free, raw, buf, rejected, w):
    """The slow path of the rejected draws among the first ``n_free``, visiting the set bits of the masks."""
    acc = 0.0
    for b in range(rejected.shape[0]):
        mask = rejected[b]
        while mask != np.uint64(0):
            k = 64 * b + np.int64(_trailing_zeros(mask))
            mask &= mask - np.uint64(1)
            if k < n_free:
                h = raw[k >> 1]
                if k & 1:
                    h = _rotl(h, 32)
                u = np.uint32(h & _LOW32)
                i = np.int64(u & _LAYER_MASK)
                z = np.float32(_normal_slow(h, i, np.float64(_candidate(u, ZIG_HALF_STEP[i]))))
                buf[k] = z
                acc += np.float64(z) * w[k]
    return acc


@njit(cache=True)
def _new_workspace(n_free):
    """Scratch of one thread: lane states, raw 64-bit outputs, normals (float32), reject masks, padded weights.

    Rows are padded to a multiple of 64 draws (a whole number of lane steps and of masks).
    """
    n_pad = (n_free + 63) // 64 * 64
    state = np.empty((4, N_LANES), dtype=np.uint64)
    raw = np.empty(n_pad // 2, dtype=np.uint64)
    buf = np.empty(n_pad, dtype=np.float32)
    rejected = np.empty(n_pad // 64, dtype=np.uint64)
    w_pad = np.zeros(n_pad)
    return state, raw, buf, rejected, w_pad


@njit(cache=True, fastmath=_REASSOC)
def _row_normals(seed, row, n_free, state, raw, buf, rejected, w_pad):
    """Standard normals of measurement ``row`` into ``buf[:n_free]`` (float32); returns ``sum_k buf[k] w_pad[k]``.

    Entry k is the ziggurat draw (1024 layers) of 32-bit word k of the row's
    interleaved lane outputs, so it depends on (seed, row, k) only. Two passes:
    a vectorised fast path over all draws, then the slow path of the rejected
    ones. The word view assumes a little-endian machine (all of Numba's targets).
    """
    _seed_lanes(seed, row, state)
    _xoshiro_lanes(raw.shape[0] // N_LANES, state, raw)
    acc = _ziggurat_fast(rejected.shape[0], raw.view(np.uint32), buf, rejected, w_pad)
    return acc + _ziggurat_fixup(n_free, raw, buf, rejected, w_pad)


@njit(cache=True, inline="always")
def _chunk_bounds(n_rows, n_chunks, c):
    size = (n_rows + n_chunks - 1) // n_chunks
    start = c * size
    stop = min(n_rows, start + size)
    return start, stop


@njit(cache=True, parallel=True)
def gaussian_rows(seed, n_rows, n_free, n_chunks=16):
    """Materialise the packed design: row i holds the free entries of A_i (float32, exact).

    The rows are generated in ``n_chunks`` blocks (one workspace each); the values
    do not depend on it (tested).
    """
    out = np.empty((n_rows, n_free), dtype=np.float32)
    for c in prange(n_chunks):
        state, raw, buf, rejected, w_pad = _new_workspace(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            _row_normals(seed, i, n_free, state, raw, buf, rejected, w_pad)
            out[i, :] = buf[:n_free]
    return out


@njit(cache=True, parallel=True)
def matrix_free_forward(seed, n_rows, w, n_chunks):
    """``out[i] = <z_i, w>`` for the regenerated packed rows z_i."""
    n_free = w.shape[0]
    out = np.empty(n_rows)
    for c in prange(n_chunks):
        state, raw, buf, rejected, w_pad = _new_workspace(n_free)
        w_pad[:n_free] = w
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            out[i] = _row_normals(seed, i, n_free, state, raw, buf, rejected, w_pad)
    return out


@njit(cache=True, parallel=True)
def matrix_free_adjoint(seed, n_rows, coef, n_free, n_chunks):
    """``sum_i coef[i] * z_i`` (packed), summed chunk by chunk in a fixed order."""
    partial = np.zeros((n_chunks, n_free))
    for c in prange(n_chunks):
        state, raw, buf, rejected, w_pad = _new_workspace(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            ci = coef[i]
            if ci == 0.0:
                continue
            _row_normals(seed, i, n_free, state, raw, buf, rejected, w_pad)
            for k in range(n_free):
                partial[c, k] += ci * buf[k]
    out = np.zeros(n_free)
    for c in range(n_chunks):
        for k in range(n_free):
            out[k] += partial[c, k]
    return out


@njit(cache=True, parallel=True)
def matrix_free_sign_adjoint(seed, n_rows, w, y, n_chunks, abs_res):
    """Fused l1 sub-gradient pass: one regeneration of each z_i serves both products.

    Returns ``(g, loss_sum)`` with ``g = sum_i sign(<z_i, w> - y_i) z_i`` (packed)
    and ``loss_sum = sum_i |<z_i, w> - y_i|``; ``abs_res[i] = |<z_i, w> - y_i|``.
    """
    n_free = w.shape[0]
    partial = np.zeros((n_chunks, n_free))
    losses = np.zeros(n_chunks)
    for c in prange(n_chunks):
        state, raw, buf, rejected, w_pad = _new_workspace(n_free)
        w_pad[:n_free] = w
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            res = _row_normals(seed, i, n_free, state, raw, buf, rejected, w_pad) - y[i]
            abs_res[i] = abs(res)
            losses[c] += abs(res)
            if res > 0.0:
                for k in range(n_free):
                    partial[c, k] += buf[k]
            elif res < 0.0:
                for k in range(n_free):
                    partial[c, k] -= buf[k]
    out = np.zeros(n_free)
    loss = 0.0
    for c in range(n_chunks):
        loss += losses[c]
        for k in range(n_free):
            out[k] += partial[c, k]
    return out, loss



@njit(cache=True, parallel=True)
def matrix_free_adjoint_many(seed, n_rows, C, n_free, n_chunks):
    """``out[q] = sum_i C[i, q] * z_i`` (packed) for every column q: one regeneration per row.

    For the few adjoints of a fit's set-up (the descent direction at U = 0 and
    its random-sign noise probes) at the cost of about two single adjoints.
    Entries go in blocks of 512 so that the q partial sums of a block stay in
    cache while the rows stream; the chunks are summed in a fixed order.
    """
    n_cols = C.shape[1]
    partial = np.zeros((n_chunks, n_cols, n_free))
    for c in prange(n_chunks):
        state, raw, buf, rejected, w_pad = _new_workspace(n_free)
        start, stop = _chunk_bounds(n_rows, n_chunks, c)
        for i in range(start, stop):
            _row_normals(seed, i, n_free, state, raw, buf, rejected, w_pad)
            for k0 in range(0, n_free, 512):
                k1 = min(n_free, k0 + 512)
                for q in range(n_cols):
                    ciq = C[i, q]
                    for k in range(k0, k1):
                        partial[c, q, k] += ciq * buf[k]
    out = np.zeros((n_cols, n_free))
    for c in range(n_chunks):
        for q in range(n_cols):
            for k in range(n_free):
                out[q, k] += partial[c, q, k]
    return out



@njit(inline="always")
def _sign(v):
    return 1.0 if v > 0.0 else (-1.0 if v < 0.0 else 0.0)


@njit(inline="always", fastmath=_REASSOC)
def _dot(Z, i, w):
    acc = 0.0
    for k in range(Z.shape[1]):
        acc += Z[i, k] * w[k]
    return acc


@njit(inline="always", fastmath=_REASSOC)
def _dots4(Z, i, w):
    """Dot products of rows ``i .. i+3`` with ``w``: four independent sums share each load of ``w``."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for k in range(Z.shape[1]):
        wk = w[k]
        a0 += Z[i, k] * wk
        a1 += Z[i + 1, k] * wk
        a2 += Z[i + 2, k] * wk
        a3 += Z[i + 3, k] * wk
    return a0, a1, a2, a3


@njit(inline="always", fastmath=_REASSOC)
def _add_row(g, Z, i, c):
    for k in range(Z.shape[1]):
        g[k] += c * Z[i, k]


@njit(inline="always", fastmath=_REASSOC)
def _add_rows4(g, Z, i, c0, c1, c2, c3):
    """``g += c0 Z[i] + ... + c3 Z[i+3]``: one load and store of ``g`` per four rows."""
    for k in range(Z.shape[1]):
        g[k] += (c0 * Z[i, k] + c1 * Z[i + 1, k]) + (c2 * Z[i + 2, k] + c3 * Z[i + 3, k])


@njit(cache=True, fastmath=_REASSOC)
def _signed_row_pass(Z, y, w, g, abs_res):
    """``g = Z^T sign(Z w - y)`` and ``abs_res = |Z w - y|``; returns ``sum |Z w - y|``. One read of ``Z``.

    Rows go four at a time: four independent dot products share each load of
    ``w``, and ``g`` is read and written once per four rows (the store traffic on
    ``g`` dominated a row-at-a-time loop: 1.5-1.8x slower under load, measured).
    ``Z`` may be float32 (the dense Gaussian operator's rows); the arithmetic is float64.
    """
    m = Z.shape[0]
    g[:] = 0.0
    loss = 0.0
    m4 = m - m % 4
    for i in range(0, m4, 4):
        a0, a1, a2, a3 = _dots4(Z, i, w)
        r0, r1, r2, r3 = a0 - y[i], a1 - y[i + 1], a2 - y[i + 2], a3 - y[i + 3]
        abs_res[i], abs_res[i + 1], abs_res[i + 2], abs_res[i + 3] = abs(r0), abs(r1), abs(r2), abs(r3)
        loss += (abs_res[i] + abs_res[i + 1]) + (abs_res[i + 2] + abs_res[i + 3])
        _add_rows4(g, Z, i, _sign(r0), _sign(r1), _sign(r2), _sign(r3))
    for i in range(m4, m):
        res = _dot(Z, i, w) - y[i]
        abs_res[i] = abs(res)
        loss += abs(res)
        _add_row(g, Z, i, _sign(res))
    return loss


@njit(cache=True, fastmath=_REASSOC)
def dense_forward(Z, w):
    """``Z @ w`` in float64 arithmetic (``Z`` float32 or float64); reference: ``Z.astype(float) @ w``."""
    m = Z.shape[0]
    out = np.empty(m)
    m4 = m - m % 4
    for i in range(0, m4, 4):
        out[i], out[i + 1], out[i + 2], out[i + 3] = _dots4(Z, i, w)
    for i in range(m4, m):
        out[i] = _dot(Z, i, w)
    return out


@njit(cache=True, fastmath=_REASSOC)
def dense_adjoint(Z, z):
    """``Z^T z`` in float64 arithmetic (``Z`` float32 or float64); reference: ``Z.astype(float).T @ z``."""
    m, n_free = Z.shape
    g = np.zeros(n_free)
    m4 = m - m % 4
    for i in range(0, m4, 4):
        _add_rows4(g, Z, i, z[i], z[i + 1], z[i + 2], z[i + 3])
    for i in range(m4, m):
        _add_row(g, Z, i, z[i])
    return g


@njit(inline="always")
def _distance(X, Y):
    """Frobenius norm of ``X - Y``."""
    acc = 0.0
    for j in range(X.shape[0]):
        for k in range(X.shape[1]):
            e = X[j, k] - Y[j, k]
            acc += e * e
    return math.sqrt(acc)


@njit(inline="always")
def _descend(F, D, eta):
    """``F -= eta * D`` in place."""
    for j in range(F.shape[0]):
        for q in range(F.shape[1]):
            F[j, q] -= eta * D[j, q]


@njit(inline="always")
def _record(t, eta, loss_mean, step_sq, factor_sq, tol, t_check, losses, steps, updates):
    """History of iteration t (relative update ``eta sqrt(step_sq / factor_sq)``); True to stop on ``tol``."""
    upd = eta * math.sqrt(step_sq) / max(math.sqrt(factor_sq), 2.2250738585072014e-308)
    losses[t] = loss_mean
    steps[t] = eta
    updates[t] = upd
    return tol > 0.0 and t >= t_check and upd < tol


@njit(cache=True)
def select_inplace(a, k):
    """The ``k``-th smallest entry of ``a`` (0-based), reordering ``a`` in place (Hoare's FIND).

    Median-of-three pivots; reference: ``np.partition(a, k)[k]``. numba's ``np.partition``
    copies and took about as long as the whole SubGM pass at m = 600 (measured).
    """
    lo, hi = 0, a.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(inline="always")
def _step_size(eta0, decay, t, abs_res, res_ref, q_index, growth, steps):
    """Step of iteration t and the estimated error ratio (``inf`` for the geometric schedule).

    ``res_ref > 0``: the adaptive schedule ``min(eta0 * min(1, s_t / res_ref), growth * steps[t - 1])``,
    ``s_t`` the ``q_index``-th smallest ``abs_res`` (reordered; see ``SubgradientRecovery``); otherwise
    ``eta0 * decay^t``.
    """
    if res_ref > 0.0:
        ratio = select_inplace(abs_res, q_index) / res_ref
        eta = eta0 * min(1.0, ratio)
        if t > 0:
            eta = min(eta, growth * steps[t - 1])
        return eta, ratio
    return eta0 * decay ** t, np.inf


@njit(cache=True, fastmath=_REASSOC)
def dense_subgm_symmetric(Z, y, U, eta0, decay, res_ref, q_index, stop_ratio, growth, t_start, t_stop, rows, cols,
                          X_true, true_norm, tol, t_check, losses, steps, updates, errors):
    """Iterations ``t_start .. t_stop - 1`` of symmetric SubGM on a dense packed Gaussian operator.

    ``Z`` (m, n_free) holds the packed free entries of the A_i (upper triangle,
    ``rows``/``cols`` its indices): ``<A_i, X> = sum_k Z[i, k] c_k X[rows_k, cols_k]``
    with ``c_k = 1`` on the diagonal and ``sqrt 2`` off it, and ``A*(z)`` has
    entries ``(Z^T z)_k / c_k``. Each iteration makes one pass over the rows of
    ``Z`` (``_signed_row_pass``): the residuals of a block of rows, their signs
    and the accumulation of ``sign * Z[i]`` share the rows while they are in
    cache. Then
    ``U <- U - eta_t (S + S^T) U`` with ``S = A*(sign(res)) / m`` and ``eta_t`` from
    ``_step_size`` (geometric ``eta0 decay^t``, or adaptive when ``res_ref > 0``).

    ``U`` is updated in place. Per iteration t the loss ``mean|res|``, the step,
    the relative update and (if ``true_norm > 0``) the relative error of
    ``U_t U_t^T`` go to ``losses[t]`` ... ``errors[t]``. Returns ``(n_done, stopped)``:
    the index after the last iteration done, and whether the loop stopped on its
    own, once ``t >= t_check`` and the relative update is below ``tol`` (``tol <= 0``
    never stops early) or once the adaptive schedule's error ratio is below
    ``stop_ratio`` (``<= 0``: never); otherwise ``(t_stop, False)``.

    The numpy reference is ``tests/recovery/reference.py::subgm_numpy``.
    """
    m, n_free = Z.shape
    d, r = U.shape
    sqrt2 = math.sqrt(2.0)
    w = np.empty(n_free)
    g = np.empty(n_free)
    abs_res = np.empty(m)
    G = np.empty((d, d))
    D = np.empty((d, r))
    X = np.empty((d, d))
    for t in range(t_start, t_stop):
        # X = U U^T and its packed form w
        for j in range(d):
            for k in range(j, d):
                acc = 0.0
                for q in range(r):
                    acc += U[j, q] * U[k, q]
                X[j, k] = acc
                X[k, j] = acc
        for k in range(n_free):
            a, b = rows[k], cols[k]
            w[k] = X[a, b] if a == b else sqrt2 * X[a, b]
        if true_norm > 0.0:
            errors[t] = _distance(X, X_true) / true_norm
        # one pass over the measurements: residual, sign, signed accumulation
        loss = _signed_row_pass(Z, y, w, g, abs_res)
        for k in range(n_free):
            a, b = rows[k], cols[k]
            v = g[k] / m if a == b else g[k] / (sqrt2 * m)
            G[a, b] = v
            G[b, a] = v
        # D = (S + S^T) U = 2 S U
        dnorm = 0.0
        unorm = 0.0
        for j in range(d):
            for q in range(r):
                acc = 0.0
                for k in range(d):
                    acc += G[j, k] * U[k, q]
                D[j, q] = 2.0 * acc
                dnorm += 4.0 * acc * acc
                unorm += U[j, q] * U[j, q]
        eta, ratio = _step_size(eta0, decay, t, abs_res, res_ref, q_index, growth, steps)
        _descend(U, D, eta)
        if _record(t, eta, loss / m, dnorm, unorm, tol, t_check, losses, steps, updates) or ratio < stop_ratio:
            return t + 1, True
    return t_stop, False


@njit(cache=True, fastmath=_REASSOC)
def dense_subgm_asymmetric(Z, y, L, R, eta0, decay, res_ref, q_index, stop_ratio, growth, t_start, t_stop, X_true,
                           true_norm, tol, t_check, losses, steps, updates, errors):
    """Iterations ``t_start .. t_stop - 1`` of SubGM on ``X = L R^T`` with a dense general Gaussian operator.

    ``Z`` (m, d1 d2) holds ``vec(A_i)`` row by row. Each iteration makes one
    pass over ``Z`` (``_signed_row_pass``) for ``S = A*(sign(A(L R^T) - y)) / m``,
    then ``L <- L - eta S R`` and ``R <- R - eta S^T L`` (both from the
    iteration's ``L``, ``R``), with the step of ``_step_size``. ``L`` and ``R`` are
    updated in place; the history and the early stop are those of
    ``dense_subgm_symmetric``, with the relative update
    ``eta ||(S R, S^T L)|| / ||(L, R)||``. Its reference is the Python loop
    of ``SubgradientRecovery`` on the same matrices as a generic operator (tested).
    """
    d1, r = L.shape
    d2 = R.shape[0]
    m = Z.shape[0]
    w = np.empty(d1 * d2)
    g = np.empty(d1 * d2)
    abs_res = np.empty(m)
    X = w.reshape((d1, d2))
    G = g.reshape((d1, d2))
    GR = np.empty((d1, r))
    GtL = np.empty((d2, r))
    for t in range(t_start, t_stop):
        for j in range(d1):
            for k in range(d2):
                acc = 0.0
                for q in range(r):
                    acc += L[j, q] * R[k, q]
                X[j, k] = acc
        if true_norm > 0.0:
            errors[t] = _distance(X, X_true) / true_norm
        loss = _signed_row_pass(Z, y, w, g, abs_res)
        GR[:, :] = 0.0
        GtL[:, :] = 0.0
        for j in range(d1):
            for k in range(d2):
                v = G[j, k] / m
                for q in range(r):
                    GR[j, q] += v * R[k, q]
                    GtL[k, q] += v * L[j, q]
        gnorm = 0.0
        fnorm = 0.0
        for j in range(d1):
            for q in range(r):
                gnorm += GR[j, q] * GR[j, q]
                fnorm += L[j, q] * L[j, q]
        for k in range(d2):
            for q in range(r):
                gnorm += GtL[k, q] * GtL[k, q]
                fnorm += R[k, q] * R[k, q]
        eta, ratio = _step_size(eta0, decay, t, abs_res, res_ref, q_index, growth, steps)
        _descend(L, GR, eta)
        _descend(R, GtL, eta)
        if _record(t, eta, loss / m, gnorm, fnorm, tol, t_check, losses, steps, updates) or ratio < stop_ratio:
            return t + 1, True
    return t_stop, False
