"""Claim registry, results, runner and report writer of the validation suite.

A *claim* is one checkable statement from a paper. It is registered with the
:func:`claim` decorator on its ``run(scale, seed) -> Result`` function, and
must also register

* a **negative control** (``@<claim>.control``): the same check applied to
  something that must fail it. The framework runs it and requires its
  ``Result.passed`` to be False; a control that passes means the check has no
  teeth, and the claim is reported ``fail`` with the reason ``no teeth``.
* a **plot** (``@<claim>.plot``): ``plot(result, control) -> Figure``, saved
  as ``<figures>/<id>.png`` when figures are requested.

Example::

    @claim(
        id="family.short-name",
        paper="Author et al. (year), title",
        where="Theorem 1",
        statement="one sentence a reader can check",
        prediction="what is measured and what confirms it",
    )
    def short_name(scale, seed):
        ...
        return Result(passed=slope_ci_high <= -0.2, reason="...", measured={...}, predicted={...}, series={...})

    @short_name.control
    def _(scale, seed):
        ...  # same check on something that must fail it
        return Result(passed=..., reason="...")

    @short_name.plot
    def _(result, control):
        fig, ax = new_figure()
        ...
        return fig
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Claim", "Result", "Outcome", "claim", "registry", "load_all", "run_claims", "write_report", "SCALES", "one_thread"]

SCALES = ("quick", "full")

#: Modules holding claims, one per family. A module listed here that does not
#: exist yet is skipped, so families can land one at a time.
FAMILY_MODULES = (
    "validation.hadamard",
    "validation.sampling",
    "validation.nystrom",
    "validation.completion",
    "validation.recovery",
    "validation.streaming",
    "validation.concat",
)


@dataclass
class Result:
    """Outcome of running one claim (or its negative control).

    Attributes
    ----------
    passed : bool
        Whether the asserted prediction held.
    reason : str
        One line saying why (the number compared and the threshold).
    measured, predicted : dict
        JSON-serialisable numbers: what was measured and what the paper (or
        the derivation) predicts. Report-only numbers go in ``measured`` too.
    series : dict
        Arrays to plot (not written to the report).
    """

    passed: bool
    reason: str
    measured: dict = field(default_factory=dict)
    predicted: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)

    def __post_init__(self):
        self.passed = bool(self.passed)


@dataclass
class Outcome:
    """A claim's verdict after the framework has also run its control."""

    claim: "Claim"
    verdict: str  # "pass" or "fail"
    reason: str
    result: Result | None
    control: Result | None
    seconds: float
    figure: str | None = None

    def to_json(self):
        c = self.claim
        return {
            "id": c.id,
            "paper": c.paper,
            "where": c.where,
            "statement": c.statement,
            "prediction": c.prediction,
            "verdict": self.verdict,
            "reason": self.reason,
            "measured": _jsonable(self.result.measured) if self.result else None,
            "predicted": _jsonable(self.result.predicted) if self.result else None,
            "control": None
            if self.control is None
            else {
                "passed_check": self.control.passed,
                "reason": self.control.reason,
                "measured": _jsonable(self.control.measured),
            },
            "seconds": round(self.seconds, 3),
            "figure": self.figure,
        }


class Claim:
    """One registered claim; built by the :func:`claim` decorator."""

    def __init__(self, run, *, id, paper, where, statement, prediction):
        self.run = run
        self.id = id
        self.paper = paper
        self.where = where
        self.statement = statement
        self.prediction = prediction
        self._control = None
        self._plot = None
        self.__doc__ = run.__doc__

    def control(self, fn):
        """Register the negative control: ``fn(scale, seed) -> Result`` that must not pass."""
        self._control = fn
        return fn

    def plot(self, fn):
        """Register the figure: ``fn(result, control) -> matplotlib Figure``."""
        self._plot = fn
        return fn

    def __call__(self, scale="quick", seed=0):
        return self.run(scale, seed)

    def evaluate(self, scale="quick", seed=0):
        """Run the claim and its control; return an :class:`Outcome` with the framework's verdict."""
        if scale not in SCALES:
            raise ValueError(f"`scale` must be one of {SCALES}; got {scale!r}.")
        t0 = time.perf_counter()
        result = control = None
        try:
            if self._control is None:
                verdict, reason = "fail", "no negative control registered"
            else:
                result = self.run(scale, seed)
                control = self._control(scale, seed)
                if not isinstance(result, Result) or not isinstance(control, Result):
                    raise TypeError("run and control must return validation.core.Result")
                if control.passed:
                    verdict, reason = "fail", f"no teeth: the negative control passed the check ({control.reason})"
                elif not result.passed:
                    verdict, reason = "fail", result.reason
                else:
                    verdict, reason = "pass", result.reason
        except Exception as exc:  # a crash is a failed claim, reported with its traceback
            verdict = "fail"
            reason = f"error: {type(exc).__name__}: {exc}"
            traceback.print_exc()
        return Outcome(self, verdict, reason, result, control, time.perf_counter() - t0)

    def __repr__(self):
        return f"<Claim {self.id}>"


_REGISTRY: dict[str, Claim] = {}


def claim(*, id, paper, where, statement, prediction):
    """Decorator registering ``run(scale, seed) -> Result`` as a claim."""

    def wrap(run):
        if id in _REGISTRY:
            raise ValueError(f"claim id {id!r} registered twice")
        c = Claim(run, id=id, paper=paper, where=where, statement=statement, prediction=prediction)
        _REGISTRY[id] = c
        return c

    return wrap


def load_all():
    """Import every family module so that its claims register themselves."""
    for name in FAMILY_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
    return registry()


def registry(pattern=None):
    """Registered claims, in registration order, optionally filtered by a glob or substring."""
    claims = list(_REGISTRY.values())
    if pattern:
        claims = [
            c for c in claims if pattern in c.id or fnmatch.fnmatch(c.id, pattern)
        ]
    return claims


def run_claims(claims, *, scale="quick", seed=0, figures_dir=None, progress=True):
    """Evaluate claims in order; optionally save one figure per claim. Returns the outcomes."""
    outcomes = []
    iterator = claims
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(claims, desc=f"validation ({scale})", unit="claim")
            iterator = bar
        except ImportError:
            pass
    for c in iterator:
        if bar is not None:
            bar.set_postfix_str(c.id)
        outcome = c.evaluate(scale, seed)
        if figures_dir is not None and outcome.result is not None and c._plot is not None:
            outcome.figure = _save_figure(c, outcome, Path(figures_dir))
        outcomes.append(outcome)
    return outcomes


def _save_figure(c, outcome, figures_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures_dir.mkdir(parents=True, exist_ok=True)
    try:
        fig = c._plot(outcome.result, outcome.control)
        fig.suptitle(f"{c.id}: {outcome.verdict}", fontsize=9, y=0.995)
        path = figures_dir / f"{c.id}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return path.name
    except Exception as exc:
        outcome.verdict = "fail"
        outcome.reason = f"plot error: {type(exc).__name__}: {exc}"
        traceback.print_exc()
        return None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        if len(v) > 6:
            return "[" + ", ".join(_fmt(x) for x in v[:6]) + ", …]"
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def summary_table(outcomes):
    """Plain-text table: id, verdict, seconds, reason."""
    width = max([len(o.claim.id) for o in outcomes] + [5])
    lines = [f"{'claim':<{width}}  verdict  seconds  reason", "-" * (width + 60)]
    for o in outcomes:
        lines.append(f"{o.claim.id:<{width}}  {o.verdict:<7}  {o.seconds:7.1f}  {o.reason}")
    n_pass = sum(o.verdict == "pass" for o in outcomes)
    lines.append(f"{n_pass} passed, {len(outcomes) - n_pass} failed")
    return "\n".join(lines)


def write_report(outcomes, out_dir, *, scale, seed):
    """Write ``report.json`` and ``report.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "scale": scale,
        "seed": seed,
        "passed": sum(o.verdict == "pass" for o in outcomes),
        "failed": sum(o.verdict != "pass" for o in outcomes),
        "claims": [o.to_json() for o in outcomes],
    }
    (out_dir / "report.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = [f"# Validation report ({scale}, seed {seed})", "", f"{payload['passed']} passed, {payload['failed']} failed.", ""]
    md += ["| claim | where | verdict | reason | control |", "|---|---|---|---|---|"]
    for o in outcomes:
        ctrl = "" if o.control is None else ("**passed (no teeth)**" if o.control.passed else "fails, as it must")
        md.append(f"| `{o.claim.id}` | {o.claim.where} | **{o.verdict}** | {_md(o.reason)} | {ctrl} |")
    md.append("")
    for o in outcomes:
        c = o.claim
        md += [f"## `{c.id}`: {o.verdict}", "", f"*{c.paper}*, {c.where}.", "", f"- **Statement.** {c.statement}",
               f"- **Prediction.** {c.prediction}", f"- **Verdict.** {o.verdict}: {_md(o.reason)}"]
        if o.result is not None:
            for k, v in _jsonable(o.result.measured).items():
                md.append(f"  - measured `{k}` = {_fmt(v)}")
            for k, v in _jsonable(o.result.predicted).items():
                md.append(f"  - predicted `{k}` = {_fmt(v)}")
        if o.control is not None:
            md.append(f"- **Negative control** ({'passed: no teeth' if o.control.passed else 'fails, as it must'}): {_md(o.control.reason)}")
        if o.figure:
            md.append(f"- Figure: `{o.figure}`")
        md.append("")
    (out_dir / "report.md").write_text("\n".join(md))
    return out_dir / "report.json", out_dir / "report.md"


def write_figure_index(outcomes, figures_dir, *, scale, seed):
    """Update ``figures/README.md``: one row per claim with its figure and verdict.

    Rows of claims not run this time (``-k``) are kept from ``figures/index.json``, so
    regenerating one family's figures does not drop the others from the index.
    """
    rows = {
        o.claim.id: {"figure": o.figure, "statement": o.claim.statement, "verdict": o.verdict,
                     "reason": o.reason, "run": f"--{scale} --seed {seed}"}
        for o in outcomes
    }
    update_figure_index(rows, figures_dir)


def update_figure_index(rows, figures_dir):
    """Merge ``rows`` (claim id -> figure, statement, verdict, reason, run) into the index and render it."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    index_path = figures_dir / "index.json"
    merged = json.loads(index_path.read_text()) if index_path.exists() else {}
    merged.update(rows)
    merged = dict(sorted(merged.items()))
    index_path.write_text(json.dumps(merged, indent=1) + "\n")
    lines = [
        "# Figures",
        "",
        "Regenerated by `python -m validation run --full` (one figure per claim; `-k PATTERN` updates only",
        "the matching rows). Each figure's title repeats its claim's verdict; red marks the negative controls.",
        "",
        "| figure | claim | verdict | reason | run |",
        "|---|---|---|---|---|",
    ]
    for row in merged.values():
        fig = f"[{row['figure']}]({row['figure']})" if row["figure"] else "(none)"
        lines.append(f"| {fig} | {_md(row['statement'])} | **{row['verdict']}** | {_md(row['reason'])} | {row['run']} |")
    (figures_dir / "README.md").write_text("\n".join(lines) + "\n")


def index_from_report(report_path, figures_dir):
    """Copy a run's figures into ``figures_dir`` and merge its verdicts into the index."""
    import shutil

    report_path = Path(report_path)
    report = json.loads(report_path.read_text())
    rows = {}
    for c in report["claims"]:
        if c["figure"]:
            src = report_path.parent / "figures" / c["figure"]
            if src.exists() and src.resolve() != (Path(figures_dir) / c["figure"]).resolve():
                shutil.copy2(src, Path(figures_dir) / c["figure"])
        rows[c["id"]] = {"figure": c["figure"], "statement": c["statement"], "verdict": c["verdict"],
                         "reason": c["reason"], "run": f"--{report['scale']} --seed {report['seed']}"}
    update_figure_index(rows, figures_dir)


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def new_figure(ncols=1, nrows=1, width=5.0, height=3.8):
    """A matplotlib figure with the suite's style (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
    return fig, (axes[0, 0] if axes.size == 1 else axes.ravel())


@contextlib.contextmanager
def one_thread(*, user_api="blas", numba=False):
    """Pin BLAS (``user_api=None``: every threadpoolctl-managed pool) and, with ``numba=True``, numba's
    threads to one while a claim runs; usable as ``with one_thread():`` or as the decorator ``@one_thread()``.

    The claims' matrices are small: on the shared 2-core machine, threads there gain little and cost up
    to ~30x in synchronisation, and timing claims must not depend on the load.
    """
    from threadpoolctl import threadpool_limits

    numba_before = None
    if numba:
        import numba as nb

        numba_before = nb.get_num_threads()
        nb.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api=user_api):
            yield
    finally:
        if numba_before is not None:
            nb.set_num_threads(numba_before)
