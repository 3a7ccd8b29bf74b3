"""Run the benchmarks: ``python -m benchmarks [list] [-k PATTERN] [--quick] [--write-docs]``.

Prints each benchmark's markdown table; ``--write-docs`` also replaces its
section of ``docs/performance.md``. A benchmark whose accuracy check fails
aborts with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .core import load_all, registry, update_docs

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["run", "list"], default="run")
    parser.add_argument("-k", dest="pattern", default=None, help="substring or glob on benchmark ids")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    load_all()
    benches = registry(args.pattern)
    if args.command == "list":
        for b in benches:
            print(f"{b.id}: {b.description}")
        return 0
    if not benches:
        print(f"no benchmark matches {args.pattern!r}", file=sys.stderr)
        return 2
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress is optional
        def tqdm(x, **_):
            return x
    reports = {}
    for b in tqdm(benches, desc="benchmarks", unit="bench"):
        t0 = time.perf_counter()
        reports[b.id] = b(quick=args.quick)
        print(f"\n## {b.id} ({time.perf_counter() - t0:.0f} s)\n\n{reports[b.id].markdown}\n", flush=True)
    if args.write_docs:
        update_docs(reports, REPO_ROOT / "docs" / "performance.md")
        print("updated docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
