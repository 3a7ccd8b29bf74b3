"""Every completion claim passes in quick mode (with its control failing) and draws its figure."""

import matplotlib
import pytest

from validation.core import load_all, registry

CLAIMS = [c.id for c in (load_all(), registry("completion."))[1]]


@pytest.fixture(scope="module")
def outcomes():
    return {c.id: c.evaluate("quick", 0) for c in registry("completion.")}


def test_all_seven_registered():
    assert len(CLAIMS) == 7


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_quick_claim_passes(outcomes, claim_id):
    outcome = outcomes[claim_id]
    assert outcome.verdict == "pass", outcome.reason
    assert outcome.control is not None and not outcome.control.passed


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_plot_returns_figure(outcomes, claim_id):
    outcome = outcomes[claim_id]
    fig = outcome.claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)
