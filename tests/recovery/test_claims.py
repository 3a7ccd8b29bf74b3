"""The recovery claims are registered; tests/test_validation.py runs each in quick mode with its control
(``recovery.sample-size-rank-free`` is a known finding there: it fails, reported as such)."""

import numpy as np

from validation.core import load_all, registry

load_all()


def test_all_claims_registered():
    assert {c.id for c in registry("recovery.")} == {
        "recovery.overparam-agnostic", "recovery.linear-rate", "recovery.init-scale-floor",
        "recovery.dense-outliers", "recovery.sample-size-rank-free", "recovery.gaussian-noise",
        "recovery.sign-rip", "recovery.structured-outliers-break",
    }


def test_s5_diagnosis_runs():
    from validation.recovery import diagnose_sample_size_floor

    out = diagnose_sample_size_floor(ms=(150,), ranks=(2, 10), init_scales=(1e-6,), n_iters=(300,), seeds=range(2),
                                     d=10)
    assert set(out) == {(150, 2, 1e-6, 300, None), (150, 10, 1e-6, 300, None)}
    assert all(v.shape == (2,) and np.all(np.isfinite(v)) for v in out.values())
