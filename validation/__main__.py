"""Command line of the validation suite.

    python -m validation list [-k PATTERN]
    python -m validation run [--quick | --full] [-k PATTERN] [--seed N] [--out DIR] [--no-figures]
    python -m validation index REPORT.json

``run`` prints the claims table, writes ``report.json`` and ``report.md`` into
``--out`` (default ``validation-output/``) and one figure per claim. Quick runs
put figures in ``<out>/figures``; full runs regenerate the committed
``figures/`` directory (with its ``README.md`` index) unless ``--out`` is given.
``index`` copies the figures of a run written elsewhere (``--out``) into
``figures/`` and merges its verdicts into ``figures/README.md``. The exit
status of ``run`` is 1 when any claim fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core import index_from_report, load_all, registry, run_claims, summary_table, write_figure_index, write_report

REPO_ROOT = Path(__file__).resolve().parent.parent


def _parser():
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered claims")
    p_list.add_argument("-k", dest="pattern", default=None, help="substring or glob on claim ids")
    p_run = sub.add_parser("run", help="run claims and write the report")
    mode = p_run.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="scale", action="store_const", const="quick", help="seconds per claim (default)")
    mode.add_argument("--full", dest="scale", action="store_const", const="full", help="minutes; regenerates figures/")
    p_run.set_defaults(scale="quick")
    p_run.add_argument("-k", dest="pattern", default=None, help="substring or glob on claim ids")
    p_run.add_argument("--seed", type=int, default=0, help="base seed (default 0, the one CI uses)")
    p_run.add_argument("--out", type=Path, default=None, help="output directory (default validation-output/)")
    p_run.add_argument("--no-figures", action="store_true", help="skip the figures")
    p_index = sub.add_parser("index", help="merge a report's figures and verdicts into figures/")
    p_index.add_argument("report", type=Path, help="report.json of a run with figures")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "index":
        index_from_report(args.report, REPO_ROOT / "figures")
        print(f"updated {REPO_ROOT / 'figures' / 'README.md'}")
        return 0
    load_all()
    claims = registry(args.pattern)
    if args.command == "list":
        for c in claims:
            print(f"{c.id}\n    {c.paper}, {c.where}\n    {c.statement}\n    predicts: {c.prediction}")
        print(f"{len(claims)} claims")
        return 0
    if not claims:
        print(f"no claim matches {args.pattern!r}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else Path("validation-output")
    if args.no_figures:
        figures = None
    elif args.scale == "full" and args.out is None:
        figures = REPO_ROOT / "figures"
    else:
        figures = out / "figures"
    outcomes = run_claims(claims, scale=args.scale, seed=args.seed, figures_dir=figures)
    print(summary_table(outcomes))
    json_path, md_path = write_report(outcomes, out, scale=args.scale, seed=args.seed)
    print(f"report: {json_path}, {md_path}")
    if figures is not None:
        write_figure_index(outcomes, figures, scale=args.scale, seed=args.seed)
        print(f"figures: {figures}/")
    return 0 if all(o.verdict == "pass" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
