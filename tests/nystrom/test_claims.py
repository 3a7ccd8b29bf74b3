import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from validation.core import load_all, registry  # noqa: E402

load_all()
CLAIMS = registry("nystrom.")


def test_claims_registered():
    assert len(CLAIMS) == 7


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_passes_in_quick_mode(claim):
    outcome = claim.evaluate("quick", 0)
    assert outcome.verdict == "pass", outcome.reason
    assert outcome.control is not None and not outcome.control.passed
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, Figure)
    plt.close(fig)
