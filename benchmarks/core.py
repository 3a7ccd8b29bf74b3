"""Benchmark harness: registry, interleaved timing, accuracy checks, markdown output.

A benchmark is a function registered with :func:`benchmark`; it receives
``quick`` (bool) and returns a :class:`Report` (markdown text plus the raw
rows). Timings come from :func:`time_interleaved`, which warms every
candidate up, then runs them round-robin so that drift in the machine's
speed hits all of them alike, and reports medians. Every timed call's output
is checked by the benchmark (``check`` callables raise ``AssertionError``): a
fast wrong answer makes the timing useless, so it aborts the benchmark.

``python -m benchmarks --write-docs`` replaces the section between
``<!-- bench:ID -->`` and ``<!-- /bench:ID -->`` in ``docs/performance.md``.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import pkgutil
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["benchmark", "Report", "time_interleaved", "registry", "load_all", "machine_line", "md_table", "pinned_blas"]

_REGISTRY = {}


@dataclass
class Report:
    """What a benchmark returns: markdown for docs/performance.md and the rows behind it."""

    markdown: str
    rows: list = field(default_factory=list)


@dataclass
class Benchmark:
    id: str
    description: str
    fn: object

    def __call__(self, quick=False):
        return self.fn(quick)


def benchmark(*, id, description):
    """Register ``fn(quick) -> Report`` under ``id``."""

    def wrap(fn):
        if id in _REGISTRY:
            raise ValueError(f"benchmark {id!r} registered twice")
        _REGISTRY[id] = Benchmark(id, description, fn)
        return fn

    return wrap


def load_all():
    """Import every ``benchmarks/bench_*.py`` module."""
    pkg_dir = Path(__file__).parent
    for info in pkgutil.iter_modules([str(pkg_dir)]):
        if info.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{info.name}")
    return registry()


def registry(pattern=None):
    out = list(_REGISTRY.values())
    if pattern:
        out = [b for b in out if pattern in b.id or fnmatch.fnmatch(b.id, pattern)]
    return out


def pinned_blas(n_threads=1):
    """Context manager limiting BLAS threads (threadpoolctl), so peers are timed on equal footing."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads, user_api="blas")


def time_interleaved(candidates, *, repeat=7, warmup=1, min_time=0.0, check=None):
    """Median wall time of each candidate, timed round-robin.

    Parameters
    ----------
    candidates : dict[str, callable]
        Zero-argument callables, in the order to run them each round.
    repeat : int
        Timed rounds; the median over rounds is reported.
    warmup : int
        Untimed calls of each candidate first (JIT compilation, caches).
    min_time : float
        If > 0, each timed sample loops the call until this many seconds have
        passed and reports the time per call (for microsecond-scale calls).
    check : dict[str, callable] or callable, optional
        Called with the candidate's output of the last warm-up call; must
        raise ``AssertionError`` if the output is wrong.

    Returns
    -------
    dict[str, float]
        Median seconds per call.
    """
    checks = check if isinstance(check, dict) else {name: check for name in candidates}
    for name, fn in candidates.items():
        out = None
        for _ in range(max(warmup, 1)):
            out = fn()
        if checks.get(name) is not None:
            try:
                checks[name](out)
            except AssertionError as exc:
                raise AssertionError(f"{name}: wrong output, timing is useless: {exc}") from None
    samples = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            if min_time > 0:
                n = 0
                t0 = time.perf_counter()
                while True:
                    fn()
                    n += 1
                    elapsed = time.perf_counter() - t0
                    if elapsed >= min_time:
                        break
                samples[name].append(elapsed / n)
            else:
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    return {name: float(np.median(v)) for name, v in samples.items()}


def machine_line():
    """One line describing the machine and thread settings, for the tables' captions."""
    import numba

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, numba {numba.__version__} ({numba.get_num_threads()} threads)"
    )


def md_table(header, rows):
    """Markdown table from a header list and row lists (floats formatted to 3 significant digits)."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def update_docs(reports, path):
    """Replace each benchmark's marked section of ``path`` (appending it if absent)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Performance\n"
    for bench_id, report in reports.items():
        start, end = f"<!-- bench:{bench_id} -->", f"<!-- /bench:{bench_id} -->"
        block = f"{start}\n{report.markdown.strip()}\n{end}"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
