"""Each recovery claim in quick mode, through the Python API, plus its figure."""

import matplotlib
import pytest

from validation.core import load_all, registry

matplotlib.use("Agg")
load_all()
CLAIMS = registry("recovery.")

# Findings the suite reports as failures (see docs/recovery.md); kept visible, not loosened.
KNOWN_FAILURES = {
    "recovery.sample-size-rank-free": "at alpha=1e-6 the r' > r error floor exceeds 1e-3 below ~20 d r "
    "measurements, so the success threshold in m moves with r'",
}


def test_all_claims_registered():
    assert {c.id for c in CLAIMS} == {
        "recovery.overparam-agnostic", "recovery.linear-rate", "recovery.init-scale-floor",
        "recovery.dense-outliers", "recovery.sample-size-rank-free", "recovery.gaussian-noise",
        "recovery.sign-rip", "recovery.structured-outliers-break",
    }


@pytest.mark.parametrize(
    "claim",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[c.id]))
     if c.id in KNOWN_FAILURES else c for c in CLAIMS],
    ids=lambda c: c.id,
)
def test_claim_quick(claim):
    outcome = claim.evaluate("quick", 0)
    assert outcome.control is not None and not outcome.control.passed, outcome.reason
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)
    assert outcome.verdict == "pass", outcome.reason
