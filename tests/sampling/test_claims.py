"""The sampling claims: registered, and each passes in quick mode with its negative control failing."""

import matplotlib.figure
import matplotlib.pyplot as plt
import pytest

from validation import core

core.load_all()
SAMPLING_CLAIMS = core.registry("sampling.")


def test_the_family_registers_its_claims():
    assert {c.id for c in SAMPLING_CLAIMS} >= {
        "sampling.sandwich", "sampling.unbiased", "sampling.sketched-leverage",
        "sampling.sample-complexity", "sampling.flat-lower-bound", "sampling.regression",
        "sampling.sample-complexity-p3", "sampling.sample-complexity-p4", "sampling.flat-m-star",
    }


@pytest.mark.parametrize("claim", SAMPLING_CLAIMS, ids=lambda c: c.id)
def test_claim_passes_in_quick_mode_and_its_control_fails(claim):
    # A control that runs several wrong implementations (sampling.regression: uniform and unweighted solves;
    # sampling.sample-complexity: uniform, l1 row-norm and l2 leverage samplers) fails only if each one fails.
    outcome = claim.evaluate("quick", 0)
    assert outcome.control is not None and not outcome.control.passed, outcome.reason
    assert outcome.verdict == "pass", outcome.reason
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)

