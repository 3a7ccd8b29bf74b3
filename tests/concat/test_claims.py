"""The concat claims are registered; tests/test_validation.py runs each in quick mode with its control."""

from validation.core import load_all, registry

load_all()


def test_claims_registered():
    assert len(registry("concat.")) >= 10
