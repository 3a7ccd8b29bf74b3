"""The recovery claims are registered; tests/test_validation.py runs each in quick mode with its control
(``recovery.sample-size-rank-free`` is a known finding there: it fails, reported as such)."""

from validation.core import load_all, registry

load_all()


def test_all_claims_registered():
    assert {c.id for c in registry("recovery.")} == {
        "recovery.overparam-agnostic", "recovery.linear-rate", "recovery.init-scale-floor",
        "recovery.dense-outliers", "recovery.sample-size-rank-free", "recovery.gaussian-noise",
        "recovery.sign-rip", "recovery.structured-outliers-break",
    }
