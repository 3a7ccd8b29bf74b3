"""The sampling claims are registered; tests/test_validation.py runs each in quick mode with its control."""

from validation import core

core.load_all()


def test_the_family_registers_its_claims():
    assert {c.id for c in core.registry("sampling.")} >= {
        "sampling.sandwich", "sampling.unbiased", "sampling.sketched-leverage",
        "sampling.sample-complexity", "sampling.flat-lower-bound", "sampling.regression",
        "sampling.sample-complexity-p3", "sampling.sample-complexity-p4", "sampling.flat-m-star",
    }
