"""Fast Walsh-Hadamard transform: lrla against FFHT, a NumPy reshape FWHT and a dense scipy product.

Peers: FFHT (``ffht-unofficial``, the AVX C code of Andoni et al. 2015; its
rows are skipped with a note when it is not installed), the plain NumPy
reshape butterfly (``_kernels.fwht_rows_numpy``, the reference of the tests)
and ``scipy.linalg.hadamard(d) @ x`` (only at d <= 2^13, as the dense matrix
is d^2 numbers). Every timed output is compared with a float64 reference.

In-place rows copy the input into a work buffer and transform it there
(``np.copyto`` + ``ffht.fht_`` / ``_kernels.fwht_inplace``): repeated
unnormalised in-place transforms would overflow, and both sides pay the same
copy, which is timed alone as the ``memcpy`` row of the same run. All
in-place candidates share one buffer (see ``_single_vector``).
"""

from __future__ import annotations

import math
import os

import numpy as np
from scipy.linalg import hadamard

from lrla import fwht
from lrla.hadamard import _kernels

from .core import Report, benchmark, machine_line, md_table, pinned_blas, time_interleaved

try:  # optional peer: pip install pybind11 setuptools wheel; pip install --no-build-isolation ffht-unofficial
    import ffht
except ImportError:  # pragma: no cover - depends on the machine
    ffht = None

DENSE_MAX_D = 2**13
BATCH_ROWS, BATCH_D = 4096, 2**10


def _load():
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def _checker(reference, bound):
    """Assert that an output (1-D or rows) matches ``reference`` to relative error ``bound`` per vector."""

    def check(out):
        out = np.asarray(out, dtype=np.float64).reshape(reference.shape)
        err = np.linalg.norm(out - reference, axis=-1) / np.linalg.norm(reference, axis=-1)
        assert np.all(err <= bound), f"relative error {err.max():.3g} > {bound:.3g}"

    return check


def _fwht_bound(dtype, d):
    """Rounding bound of an FWHT: 4 log2(d) units of the dtype's 2^-p."""
    return 4 * max(math.log2(d), 1) * (2.0**-24 if dtype == np.float32 else 2.0**-53)


def _dense_bound(dtype, d):
    """Rounding bound of a length-d dot product (d units)."""
    return d * (2.0**-24 if dtype == np.float32 else 2.0**-53)


def _single_vector(dtype, d, repeat):
    rng = np.random.default_rng(d)
    x = rng.standard_normal(d).astype(dtype)
    reference = _kernels.fwht_rows_numpy(x[None, :].astype(np.float64))[0]
    # One work buffer for every in-place candidate, so that all of them transform the same memory
    # (same alignment, same pages).
    buf = np.empty_like(x)
    one = dtype(1.0)

    def lrla_inplace():
        np.copyto(buf, x)
        _kernels.fwht_inplace(buf, one)
        return buf

    def memcpy():
        np.copyto(buf, x)
        return buf

    def lrla_into():  # a new output array, as ffht.fht
        out = np.empty_like(x)
        _kernels.fwht_into(x, out, one)
        return out

    candidates = {"memcpy": memcpy, "lrla kernel": lrla_inplace, "lrla into": lrla_into,
                  "lrla fwht": lambda: fwht(x, normalize=False)}
    fwht_check = _checker(reference, _fwht_bound(dtype, d))
    checks = {"memcpy": None, "lrla kernel": fwht_check, "lrla into": fwht_check, "lrla fwht": fwht_check}
    if ffht is not None:
        def ffht_inplace():
            np.copyto(buf, x)
            ffht.fht_(buf)
            return buf

        candidates["FFHT"] = ffht_inplace
        candidates["FFHT fht"] = lambda: ffht.fht(x)
        checks["FFHT"] = checks["FFHT fht"] = fwht_check
    candidates["NumPy reshape"] = lambda: _kernels.fwht_rows_numpy(x[None, :])
    checks["NumPy reshape"] = fwht_check
    if d <= DENSE_MAX_D:
        H = hadamard(d).astype(dtype)
        candidates["scipy dense"] = lambda: H @ x
        checks["scipy dense"] = _checker(reference, _dense_bound(dtype, d))
    min_time = 0.02 if d <= 2**16 else 0.0
    return time_interleaved(candidates, repeat=repeat, warmup=2, min_time=min_time, check=checks)


def _batch(dtype, n_rows, d, repeat):
    import numba

    rng = np.random.default_rng(n_rows + d)
    X = rng.standard_normal((n_rows, d)).astype(dtype)
    reference = _kernels.fwht_rows_numpy(X.astype(np.float64))
    buf = np.empty_like(X)  # shared by the in-place candidates, as in _single_vector
    one = dtype(1.0)

    def memcpy():
        np.copyto(buf, X)
        return buf

    def lrla_rows():
        np.copyto(buf, X)
        _kernels.fwht_rows(buf, one)
        return buf

    def lrla_rows_one_thread():
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            np.copyto(buf, X)
            _kernels.fwht_rows(buf, one)
        finally:
            numba.set_num_threads(threads)
        return buf

    def lrla_rows_into():
        out = np.empty_like(X)
        _kernels.fwht_rows_into(X, out, one)
        return out

    fwht_check = _checker(reference, _fwht_bound(dtype, d))
    candidates = {
        "memcpy": memcpy,
        "lrla kernel": lrla_rows,
        "lrla kernel 1 thread": lrla_rows_one_thread,
        "lrla into": lrla_rows_into,
        "lrla fwht": lambda: fwht(X, normalize=False),
    }
    checks = {"memcpy": None, "lrla kernel": fwht_check, "lrla kernel 1 thread": fwht_check, "lrla into": fwht_check,
              "lrla fwht": fwht_check}
    if ffht is not None:
        def ffht_per_row():
            np.copyto(buf, X)
            for row in buf:
                ffht.fht_(row)
            return buf

        candidates["FFHT"] = ffht_per_row
        checks["FFHT"] = fwht_check
    candidates["NumPy reshape"] = lambda: _kernels.fwht_rows_numpy(X)
    checks["NumPy reshape"] = fwht_check
    H = hadamard(d).astype(dtype)
    candidates["scipy dense"] = lambda: X @ H  # H is symmetric
    checks["scipy dense"] = _checker(reference, _dense_bound(dtype, d))
    return time_interleaved(candidates, repeat=repeat, warmup=1, check=checks)


def _is_vectorised():
    """Packed 256-bit add/sub counts in the compiled radix-8 pass and the register block, per dtype.

    Numba cannot disassemble cached code, so uncached copies of the same Python
    functions are compiled here (the same LLVM pipeline as the cached kernels).
    """
    from numba import njit

    radix8 = njit(boundscheck=False)(_kernels._radix8.py_func)
    register = njit(boundscheck=False)(lambda x: _kernels._register_block(x, x, 0))
    found = {}
    for dtype in (np.float32, np.float64):
        buf = np.zeros(64, dtype)
        radix8(buf, 0, 64, 8, dtype(1.0), False)
        register(buf)
        counts = []
        for fn in (radix8, register):
            asm = list(fn.inspect_asm().values())[-1]
            counts.append(sum(("vaddp" in ln or "vsubp" in ln or "vfmadd" in ln) and "ymm" in ln for ln in asm.splitlines()))
        found[np.dtype(dtype).name] = f"radix-8 pass {counts[0]}, register block {counts[1]}"
    return "; ".join(f"{k}: {v}" for k, v in found.items())


@benchmark(id="hadamard.fwht", description="fwht vs FFHT, NumPy reshape FWHT and dense scipy.linalg.hadamard @ x")
def bench_fwht(quick):
    sizes = [2**10, 2**16] if quick else [2**10, 2**16, 2**20, 2**24]
    n_rows = 256 if quick else BATCH_ROWS
    load_before = _load()
    single, batch = {}, {}
    with pinned_blas(1):
        for dtype in (np.float32, np.float64):
            for d in sizes:
                repeat = 3 if quick else (5 if d >= 2**24 else 15)
                single[dtype, d] = _single_vector(dtype, d, repeat)
            batch[dtype] = _batch(dtype, n_rows, BATCH_D, 3 if quick else 15)
    load_after = _load()

    names = ["memcpy", "lrla kernel", "lrla into", "lrla fwht", "FFHT", "FFHT fht", "NumPy reshape", "scipy dense"]
    rows, raw = [], []
    for (dtype, d), t in single.items():
        rows.append([np.dtype(dtype).name, f"2^{int(math.log2(d))}"] + [_fmt_time(t.get(n)) for n in names])
        raw.append({"case": "single", "dtype": np.dtype(dtype).name, "d": d, "seconds": t})
    time_table = md_table(["dtype", "d"] + [f"{n} (ms)" for n in names], rows)

    ratio_rows = []
    for (dtype, d), t in single.items():
        adds = d * math.log2(d)
        nbytes = 2 * d * np.dtype(dtype).itemsize
        ratio_rows.append([
            np.dtype(dtype).name, f"2^{int(math.log2(d))}",
            _ratio(t["lrla kernel"], t.get("FFHT")), _ratio(t["lrla into"], t.get("FFHT fht")),
            _ratio(t["lrla fwht"], t.get("FFHT fht")),
            _ratio(t["NumPy reshape"], t["lrla kernel"]), _ratio(t["NumPy reshape"], t.get("FFHT")),
            adds / t["lrla kernel"] / 1e9, _gadd(adds, t.get("FFHT")),
            nbytes / t["lrla kernel"] / 1e9, _gbs(nbytes, t.get("FFHT")), nbytes / t["memcpy"] / 1e9,
        ])
    ratio_table = md_table(
        ["dtype", "d", "kernel / FFHT", "into / FFHT fht", "fwht / FFHT fht", "NumPy / kernel", "NumPy / FFHT",
         "kernel G add/s", "FFHT G add/s", "kernel GB/s", "FFHT GB/s", "memcpy GB/s"],
        ratio_rows,
    )

    batch_names = ["memcpy", "lrla kernel", "lrla kernel 1 thread", "lrla into", "lrla fwht", "FFHT", "NumPy reshape",
                   "scipy dense"]
    batch_rows = []
    for dtype, t in batch.items():
        adds = n_rows * BATCH_D * math.log2(BATCH_D)
        batch_rows.append(
            [np.dtype(dtype).name] + [_fmt_time(t.get(n)) for n in batch_names]
            + [_ratio(t["lrla kernel"], t.get("FFHT")), _ratio(t["lrla kernel 1 thread"], t.get("FFHT")),
               adds / t["lrla kernel"] / 1e9]
        )
        raw.append({"case": "batch", "dtype": np.dtype(dtype).name, "rows": n_rows, "d": BATCH_D, "seconds": t})
    batch_table = md_table(
        ["dtype"] + [f"{n} (ms)" for n in batch_names] + ["kernel / FFHT", "1 thread / FFHT", "kernel G add/s"],
        batch_rows,
    )

    targets = _targets(single, batch, quick)
    vec = _is_vectorised()
    ffht_note = (
        "FFHT: `ffht-unofficial` (AVX C code of FALCONN-LIB/FFHT)."
        if ffht is not None
        else "**FFHT is not installed here, so its columns are empty** (`pip install pybind11 setuptools wheel`, "
        "then `pip install --no-build-isolation ffht-unofficial`)."
    )
    md = f"""### hadamard: fast Walsh-Hadamard transform (`hadamard.fwht`)

`python -m benchmarks -k hadamard{' --quick' if quick else ''}` on {machine_line()}; BLAS pinned to 1 thread.
Load average (1, 5, 15 min) before the run: {load_before}; after: {load_after} (2 cores, shared machine).
{ffht_note}
lrla's kernel (`lrla/hadamard/_kernels.py`): 256-byte register blocks (eight AVX vectors, levels inside a vector by
lane shuffles) and radix-8 sweeps written as LLVM vector IR, all levels of each 16 KiB L1 block first, then radix-8
merges of 8, 64, ... blocks scheduled depth first (the FFHT recursion, done iteratively); no fastmath.

Candidates, each timed interleaved with the others (median of {'3' if quick else '15 (5 at 2^24)'} rounds after warm-up;
at d <= 2^16 each sample loops the call for 20 ms), every output checked against a float64 NumPy reference
(relative error <= 4 log2(d) 2^-24 for float32 / 2^-53 for float64; d units for the dense product). On a
loaded machine a call of a few milliseconds is often preempted, which inflates the absolute times at 2^20
and in the batch; the interleaved ratios are less affected.

- **memcpy**: `np.copyto(buf, x)`, the copy that the in-place rows also pay (all three use the same `buf`);
- **lrla kernel**: `np.copyto(buf, x)` then `lrla.hadamard._kernels.fwht_inplace(buf, 1.0)` (single vector) or
  `fwht_rows(buf, 1.0)` (batch, `prange` over rows on {_threads()} threads; also shown on 1 thread);
- **lrla into**: `_kernels.fwht_into(x, out, 1.0)` / `fwht_rows_into(X, out, 1.0)` into a new array `out`
  (as `ffht.fht`), out of place: the first pass reads `x` and writes `out`, so there is no separate copy;
- **lrla fwht**: the public `lrla.fwht(x, normalize=False)` (argument checks, a new output array, then
  the out-of-place kernel for contiguous rows);
- **FFHT**: `np.copyto(buf, x)` then `ffht.fht_(buf)` (batch: called on each row from Python);
  **FFHT fht**: `ffht.fht(x)` (new output array);
- **NumPy reshape**: the level-by-level butterfly on `x.reshape(n, d // 2h, 2, h)`;
- **scipy dense**: `scipy.linalg.hadamard(d) @ x` (matrix built outside the timing; d <= 2^13 only).

Single vector, median time per call (ms):

{time_table}

Ratios (time / time, > 1 means slower) and throughput (d log2 d adds per vector; GB/s counts one read and one
write of the buffer):

{ratio_table}

Batch of {n_rows} vectors of length 2^10 (ms):

{batch_table}

Vectorisation check (packed `vaddp*`/`vsubp*`/`vfmadd*` instructions on ymm registers in the compiled assembly): {vec}.

Targets of issue 2 (measured in this run, not timed tests):

{targets}
"""
    return Report(markdown=md, rows=raw)


def _threads():
    import numba

    return numba.get_num_threads()


def _fmt_time(t):
    return "" if t is None else f"{t * 1e3:.4g}"


def _ratio(a, b):
    return "" if a is None or b is None else a / b


def _gadd(adds, t):
    return "" if t is None else adds / t / 1e9


def _gbs(nbytes, t):
    return "" if t is None else nbytes / t / 1e9


def _targets(single, batch, quick):
    if ffht is None:
        return "- not evaluated: FFHT is not installed."
    lines = []
    d20 = 2**20
    if (np.float64, d20) in single:
        t = single[np.float64, d20]
        r = t["lrla kernel"] / t["FFHT"]
        lines.append(f"- single vector, float64, d = 2^20: lrla kernel / FFHT = {r:.2f} "
                     f"(target <= 1.5, aim 1.0): {'met' if r <= 1.5 else 'NOT met'}.")
        for dtype in (np.float32, np.float64):
            t = single[dtype, d20]
            ours, theirs = t["NumPy reshape"] / t["lrla kernel"], t["NumPy reshape"] / t["FFHT"]
            lines.append(f"- speedup over the NumPy reshape FWHT at 2^20, {np.dtype(dtype).name}, in place (copy + "
                         f"transform): lrla {ours:.1f}x, FFHT {theirs:.1f}x (target: lrla >= FFHT): "
                         f"{'met' if ours >= theirs else 'NOT met'}.")
            ours, theirs = t["NumPy reshape"] / t["lrla into"], t["NumPy reshape"] / t["FFHT fht"]
            lines.append(f"  Out of place into a new array (`fwht_into` vs `ffht.fht`): lrla {ours:.1f}x, "
                         f"FFHT {theirs:.1f}x: {'met' if ours >= theirs else 'NOT met'}.")
    else:
        lines.append("- single-vector 2^20 targets: not measured in quick mode.")
    for dtype, t in batch.items():
        r = t["lrla kernel"] / t["FFHT"]
        r1 = t["lrla kernel 1 thread"] / t["FFHT"]
        lines.append(f"- batch, {np.dtype(dtype).name}: lrla kernel / FFHT per row = {r:.2f} (1 thread: {r1:.2f}) "
                     f"(target <= 1): {'met' if r <= 1 else 'NOT met'}.")
    return "\n".join(lines)
