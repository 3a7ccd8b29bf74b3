"""Every sampling claim passes in quick mode with its negative control failing, and plots a Figure."""

import matplotlib.figure
import pytest

from validation import core

core.load_all()
CLAIMS = core.registry("sampling.")
_outcomes = {}


def _outcome(c):
    if c.id not in _outcomes:
        _outcomes[c.id] = c.evaluate("quick", 0)
    return _outcomes[c.id]


def test_the_family_registers_its_claims():
    assert {c.id for c in CLAIMS} >= {
        "sampling.sandwich", "sampling.unbiased", "sampling.sketched-leverage",
        "sampling.sample-complexity", "sampling.flat-lower-bound", "sampling.regression",
    }


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_passes_and_control_fails(c):
    outcome = _outcome(c)
    assert outcome.control is not None and not outcome.control.passed, outcome.reason
    assert outcome.verdict == "pass", outcome.reason


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_plot_returns_a_figure(c):
    import matplotlib.pyplot as plt

    outcome = _outcome(c)
    fig = c._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
