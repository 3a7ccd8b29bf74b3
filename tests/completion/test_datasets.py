"""Instance generators of the completion family."""

import numpy as np
import pytest

from lrla.completion.altmin import incoherence
from lrla.datasets import make_low_rank, make_observation_mask, sample_entries


def test_make_low_rank_factors():
    U, s, V = make_low_rank(80, 60, 4, condition=5.0, random_state=0)
    np.testing.assert_allclose(U.T @ U, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(s, np.linspace(1.0, 0.2, 4))
    U2, s2, V2 = make_low_rank(80, 60, 4, condition=5.0, random_state=0)
    np.testing.assert_array_equal(U, U2)


def test_coherence_raises_mu():
    mus = [incoherence(make_low_rank(400, 300, 3, coherence=g, random_state=0)[0]) for g in (1.0, 10.0, 100.0)]
    assert mus[0] < 3.0 < mus[1] < mus[2]


@pytest.mark.parametrize("kw", [dict(p=0.3), dict(n_observed=700), dict(n_observed=2000)])
def test_mask_unique_and_sized(kw):
    rows, cols = make_observation_mask((50, 40), random_state=0, **kw)
    lin = rows * 40 + cols
    assert np.unique(lin).size == lin.size and np.all(np.diff(lin) > 0)
    if "n_observed" in kw:
        assert lin.size == kw["n_observed"]
    else:
        assert abs(lin.size - 600) < 4 * np.sqrt(600)


def test_sample_entries_values():
    U, s, V = make_low_rank(30, 20, 2, random_state=0)
    rows, cols, vals = sample_entries(U, s, V, n_observed=100, random_state=0)
    np.testing.assert_allclose(vals, ((U * s) @ V.T)[rows, cols])


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        make_low_rank(5, 4, 5)
    with pytest.raises(ValueError, match="condition"):
        make_low_rank(5, 4, 2, condition=0.5)
    with pytest.raises(ValueError, match="coherence"):
        make_low_rank(5, 4, 2, coherence=0.0)
    with pytest.raises(ValueError, match="exactly one"):
        make_observation_mask((5, 4))
    with pytest.raises(ValueError, match="exactly one"):
        make_observation_mask((5, 4), p=0.1, n_observed=3)
    with pytest.raises(ValueError, match="n_observed"):
        make_observation_mask((5, 4), n_observed=21)
    with pytest.raises(ValueError, match="p"):
        make_observation_mask((5, 4), p=1.5)
    with pytest.raises(ValueError, match="share the rank"):
        sample_entries(np.ones((3, 2)), np.ones(3), np.ones((4, 2)), p=0.5)
