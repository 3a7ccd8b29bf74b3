"""Every streaming claim passes in quick mode (with its control failing) and draws its figure."""

import matplotlib
import pytest

from validation.core import load_all, registry

matplotlib.use("Agg")
load_all()
CLAIMS = registry("streaming.")


def test_claims_registered():
    assert {c.id for c in CLAIMS} >= {
        "streaming.kw-rate", "streaming.kw-space", "streaming.px-hard-instance",
        "streaming.px-random-order", "streaming.fd-bound", "streaming.kw-lower-bound",
    }


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_passes_quick(claim):
    import matplotlib.pyplot as plt

    outcome = claim.evaluate("quick", 0)
    assert outcome.verdict == "pass", outcome.reason
    assert outcome.control is not None and not outcome.control.passed
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
