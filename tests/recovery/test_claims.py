"""Each recovery claim in quick mode, through the Python API, plus its figure."""

import matplotlib
import pytest

from validation.core import load_all, registry

matplotlib.use("Agg")
load_all()
CLAIMS = registry("recovery.")

# Findings, reported as failures by the suite (see docs/recovery.md): not silenced, not loosened.
KNOWN_FAILURES = {"recovery.sample-size-rank-free"}


def test_all_claims_registered():
    assert {c.id for c in CLAIMS} == {
        "recovery.overparam-agnostic", "recovery.linear-rate", "recovery.init-scale-floor",
        "recovery.dense-outliers", "recovery.sample-size-rank-free", "recovery.gaussian-noise",
        "recovery.sign-rip", "recovery.structured-outliers-break",
    }


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_claim_quick(claim):
    outcome = claim.evaluate("quick", 0)
    assert outcome.control is not None and not outcome.control.passed, outcome.reason
    if claim.id in KNOWN_FAILURES:
        assert outcome.verdict == "fail" and "no teeth" not in outcome.reason
    else:
        assert outcome.verdict == "pass", outcome.reason
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)
