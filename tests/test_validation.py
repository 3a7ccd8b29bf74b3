"""The validation framework itself, its statistics, and every registered claim in quick mode."""

import json

import matplotlib.figure
import numpy as np
import pytest
from scipy import stats

from validation import core
from validation.stats import (
    dkw_radius,
    kolmogorov_lattice,
    ks_discrete,
    ks_one_sample,
    ks_two_sample,
    loglog_slope,
)

CLAIMS = core.load_all()


# --- every claim, quick mode ---------------------------------------------------------------------


#: Claims the suite reports as failing: findings, documented on the family's docs page and in
#: report.md, never hidden by a looser threshold. Each is an xfail(strict=True): if one starts to
#: pass, the test fails and the entry (and the docs) must be updated.
KNOWN_FINDINGS = {
    "recovery.sample-size-rank-free": (
        "for r' > r the error plateaus above the 1e-3 success threshold until the sign-noise edge of A*(sign y)/m "
        "falls below the weakest growth rate (m ~ 480 at d = 20); the exact rank has no spare columns and succeeds "
        "from m ~ 120, so the 50% success point moves between r' = r and r' > r (docs/recovery.md)"
    ),
}


def _claim_params():
    return [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FINDINGS[c.id]))
        if c.id in KNOWN_FINDINGS else pytest.param(c, id=c.id)
        for c in CLAIMS
    ]


@pytest.mark.parametrize("claim", _claim_params())
def test_claim_passes_in_quick_mode_its_control_fails_and_it_plots(claim):
    for field in ("paper", "where", "statement", "prediction"):
        assert getattr(claim, field).strip(), field
    assert claim._control is not None and claim._plot is not None
    outcome = claim.evaluate("quick", 0)
    # The control must fail even for a known finding: a failing claim with a passing control
    # would be a check without teeth, not a finding.
    assert outcome.control is not None and not outcome.control.passed, outcome.reason
    fig = claim._plot(outcome.result, outcome.control)
    assert isinstance(fig, matplotlib.figure.Figure)
    import matplotlib.pyplot as plt

    plt.close(fig)
    assert outcome.verdict == "pass", outcome.reason


def test_known_findings_are_registered_claims():
    assert set(KNOWN_FINDINGS) <= {c.id for c in CLAIMS}


def test_claim_ids_are_namespaced_by_family():
    families = {m.split(".")[1] for m in core.FAMILY_MODULES}
    for c in CLAIMS:
        assert c.id.split(".")[0] in families, c.id


# --- the framework enforces negative controls ----------------------------------------------------


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(core, "_REGISTRY", {})
    return core._REGISTRY


def _toy(passes, control_passes=None, crash=False):
    c = core.claim(id=f"toy.{passes}-{control_passes}-{crash}", paper="p", where="w", statement="s", prediction="q")(
        lambda scale, seed: (_ for _ in ()).throw(RuntimeError("boom")) if crash else core.Result(passes, "main")
    )
    if control_passes is not None:
        c.control(lambda scale, seed: core.Result(control_passes, "ctrl"))
    return c


def test_verdicts(scratch_registry):
    failing = _toy(False, False).evaluate()
    assert failing.verdict == "fail" and failing.reason == "main"
    toothless = _toy(True, True).evaluate()
    assert toothless.verdict == "fail" and toothless.reason.startswith("no teeth")
    uncontrolled = _toy(True, None).evaluate()
    assert uncontrolled.verdict == "fail" and "no negative control" in uncontrolled.reason
    crashed = _toy(True, False, crash=True).evaluate()
    assert crashed.verdict == "fail" and "RuntimeError: boom" in crashed.reason
    good = _toy(True, False)
    assert good.evaluate().verdict == "pass"
    with pytest.raises(ValueError, match="scale"):
        good.evaluate("medium")


def test_duplicate_ids_rejected(scratch_registry):
    _toy(True, False)
    with pytest.raises(ValueError, match="twice"):
        _toy(True, False)


def test_reports_and_figures_written(scratch_registry, tmp_path):
    good = _toy(True, False)

    @good.plot
    def _(result, control):
        fig, ax = core.new_figure()
        ax.plot([1, 2], [1, 2])
        return fig

    _toy(True, True)
    outcomes = core.run_claims(core.registry(), figures_dir=tmp_path / "fig", progress=False)
    core.write_report(outcomes, tmp_path, scale="quick", seed=0)
    core.write_figure_index(outcomes, tmp_path / "fig", scale="quick", seed=0)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] == 1 and report["failed"] == 1
    assert [c["verdict"] for c in report["claims"]] == ["pass", "fail"]
    assert report["claims"][1]["control"]["passed_check"] is True
    assert (tmp_path / "fig" / f"{good.id}.png").stat().st_size > 1000
    assert "no teeth" in (tmp_path / "report.md").read_text()
    assert "**fail**" in (tmp_path / "fig" / "README.md").read_text()


def test_cli_list_and_exit_codes(scratch_registry, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(core, "load_all", lambda: core.registry())
    import validation.__main__ as cli

    monkeypatch.setattr(cli, "load_all", lambda: core.registry())
    _toy(True, False)
    _toy(False, False)
    assert cli.main(["list"]) == 0
    assert "2 claims" in capsys.readouterr().out
    assert cli.main(["run", "--quick", "-k", "toy.True", "--out", str(tmp_path), "--no-figures"]) == 0
    assert cli.main(["run", "--quick", "--out", str(tmp_path), "--no-figures"]) == 1
    assert cli.main(["run", "-k", "nothing-matches", "--out", str(tmp_path)]) == 2


# --- statistics ----------------------------------------------------------------------------------


def test_loglog_slope_recovers_power_law_and_ci_covers():
    x = np.geomspace(10, 1e4, 12)
    fit = loglog_slope(x, 3 * x**-0.5)
    assert np.isclose(fit.slope, -0.5) and fit.ci_high - fit.ci_low < 1e-10
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        f = loglog_slope(x, x**-0.5 * np.exp(0.1 * rng.standard_normal(x.size)))
        covered += f.ci_low <= -0.5 <= f.ci_high
    assert 0.92 <= covered / 400 <= 0.98
    with pytest.raises(ValueError):
        loglog_slope([1, 2], [1, 2])
    with pytest.raises(ValueError):
        loglog_slope([1, 2, 3], [1, 0, 2])


def test_kolmogorov_lattice_uses_both_one_sided_limits():
    G = stats.uniform(loc=-1, scale=2).cdf
    # one atom at 0 against U(-1, 1): F(0-) = 0 and F(0) = 1 both differ from G(0) = 1/2 by 1/2
    assert np.isclose(kolmogorov_lattice([0.0], [1.0], G), 0.5)
    # a heavy atom at 0.8: the left limit F(0.8-) = 0.1 vs G(0.8) = 0.9 is the supremum; right limits see 0.1
    atoms, probs = np.array([-0.9, 0.8]), np.array([0.1, 0.9])
    grid = np.linspace(-1, 1, 200001)
    F = np.where(grid >= 0.8, 1.0, np.where(grid >= -0.9, 0.1, 0.0))
    assert np.isclose(kolmogorov_lattice(atoms, probs, G), np.max(np.abs(F - G(grid))), atol=1e-4)
    assert np.isclose(kolmogorov_lattice(atoms, probs, G), 0.8)
    right_only = np.max(np.abs(np.cumsum(probs) - G(atoms)))
    assert np.isclose(right_only, 0.1)
    with pytest.raises(ValueError, match="sum to 1"):
        kolmogorov_lattice(atoms, [0.5, 0.4], G)


def test_kolmogorov_lattice_binomial_vs_normal_known_value():
    # sqrt(d) d_K(Rademacher mean, N(0, 1/d)) -> 1/sqrt(2 pi) (the atom at 0 has mass ~ sqrt(2/(pi d))).
    d = 4096
    k = np.arange(d + 1)
    atoms = (2 * k - d) / d
    probs = stats.binom.pmf(k, d, 0.5)
    dist = kolmogorov_lattice(atoms, probs, stats.norm(scale=1 / np.sqrt(d)).cdf)
    assert abs(np.sqrt(d) * dist - 1 / np.sqrt(2 * np.pi)) < 2e-3


def test_ks_one_and_two_sample_with_ties():
    x = np.array([0, 0, 0, 1, 1, 2.0])
    y = np.array([0, 1, 1, 1, 2, 2.0])
    assert np.isclose(ks_two_sample(x, y), stats.ks_2samp(x, y).statistic)
    assert np.isclose(ks_two_sample(x, y), 2 / 6 + 0)  # F_x(0)=1/2, F_y(0)=1/6
    assert np.isclose(ks_discrete([0, 1, 2], [0.5, 1 / 3, 1 / 6], [0, 1, 2], [1 / 6, 1 / 2, 1 / 3]), 1 / 3)
    G = stats.uniform(loc=-1, scale=2).cdf
    assert np.isclose(ks_one_sample(np.zeros(10), G), 0.5)
    c = np.random.default_rng(0).uniform(-1, 1, 500)
    assert np.isclose(ks_one_sample(c, G), stats.kstest(c, G).statistic)
    assert np.isclose(dkw_radius(100, 0.05), np.sqrt(np.log(40) / 200))
