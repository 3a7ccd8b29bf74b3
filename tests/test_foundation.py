"""Shared plumbing: argument checks, random state, show_versions, the README and docs examples."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import lrla
from lrla import _rng, _validation as v

ROOT = Path(__file__).resolve().parent.parent


def test_check_bool():
    assert v.check_bool(np.bool_(True), "flag") is True and v.check_bool(False, "flag") is False
    for bad in ("no", 1, 0.0, None, np.array([True])):
        with pytest.raises(TypeError, match="`flag` must be a bool"):
            v.check_bool(bad, "flag")


def test_check_array_dtypes_and_copy():
    assert v.check_array([1, 2], "x").dtype == np.float64
    a32 = np.ones(3, np.float32)
    assert v.check_array(a32, "x") is a32
    assert v.check_array(a32, "x", copy=True) is not a32
    assert v.check_array(np.ones(2, np.float16), "x").dtype == np.float64
    for bad, exc in [(np.ones(2, complex), TypeError), (np.array(["a"]), TypeError), (sp.eye(2), TypeError)]:
        with pytest.raises(exc, match="`x`"):
            v.check_array(bad, "x")
    # a forced dtype does not cast them either (complex would lose its imaginary part, strings be parsed)
    for bad in (np.ones(2, complex), np.array(["1.0"]), np.array([1.0, None])):
        with pytest.raises(TypeError, match="`x`"):
            v.check_array(bad, "x", dtype=np.float64)
    assert v.check_array(np.ones(2, np.float32), "x", dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="`A`"):  # the sparse branch of check_matrix too
        v.check_matrix(sp.eye(2, dtype=complex, format="csr"), "A", accept_sparse=True, dtype=np.float64)
    with pytest.raises(ValueError, match="`x` contains NaN"):
        v.check_array([1.0, np.nan], "x")
    assert np.isnan(v.check_array([np.nan], "x", allow_nan=True)).all()
    with pytest.raises(ValueError, match="2-dimensional"):
        v.check_array(np.ones(3), "x", ndim=2)
    with pytest.raises(ValueError, match="empty"):
        v.check_array(np.ones((0, 2)), "x")


def test_check_matrix_sparse():
    S = v.check_matrix(sp.random(5, 4, density=0.5, random_state=0), "A", accept_sparse=True)
    assert sp.issparse(S) and S.format == "csr"
    with pytest.raises(TypeError, match="`A`"):
        v.check_matrix(sp.eye(3), "A")
    bad = sp.csr_array(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="`A`"):
        v.check_matrix(bad, "A", accept_sparse=True)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: v.check_int(True, "n"), TypeError, "`n`"),
        (lambda: v.check_int(2.5, "n"), TypeError, "`n`"),
        (lambda: v.check_int(0, "n", min_value=1), ValueError, "`n` must be >= 1"),
        (lambda: v.check_scalar(np.nan, "eps"), ValueError, "`eps` must be finite"),
        (lambda: v.check_scalar(1.0, "eps", high=1.0, high_inclusive=False), ValueError, "`eps` must be < 1"),
        (lambda: v.check_option("x", "method", ("a", "b")), ValueError, "`method` must be one of 'a', 'b'"),
        (lambda: v.check_power_of_two(12, "d"), ValueError, "next power of two is 16"),
        (lambda: v.check_rank(5, 5, strict=True), ValueError, "`rank` must satisfy"),
        (lambda: v.check_p(0.5), ValueError, "`p` must be >= 1"),
    ],
)
def test_scalar_checks_name_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_scalar_checks_accept_good_values():
    assert v.check_int(np.int64(3), "n") == 3
    assert v.check_power_of_two(16, "d") == 16
    assert v.check_rank(4, 5, strict=True) == 4
    assert v.next_power_of_two(1) == 1 and v.next_power_of_two(1025) == 2048


def test_random_state_normalisation():
    a = _rng.check_random_state(5).standard_normal(3)
    b = _rng.check_random_state(np.random.SeedSequence(5)).standard_normal(3)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(0)
    assert _rng.check_random_state(g) is g
    r1 = _rng.check_random_state(np.random.RandomState(3)).integers(0, 1000, 5)
    r2 = _rng.check_random_state(np.random.RandomState(3)).integers(0, 1000, 5)
    np.testing.assert_array_equal(r1, r2)
    with pytest.raises(TypeError, match="random_state"):
        _rng.check_random_state("0")
    with pytest.raises(ValueError, match="random_state"):
        _rng.check_random_state(-1)
    state = np.random.get_state()[1].copy()
    _rng.check_random_state(None).random()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched


def test_counter_based_randoms_are_uniform_and_deterministic():
    u = np.array([_rng.counter_uniform(11, i) for i in range(20000)])
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert _rng.counter_uniform(11, 5) == _rng.counter_uniform(11, 5) != _rng.counter_uniform(12, 5)
    s = np.array([_rng.counter_sign(3, i) for i in range(20000)])
    assert set(np.unique(s)) == {-1.0, 1.0} and abs(s.mean()) < 0.03


def test_show_versions(capsys):
    lrla.show_versions()
    out = capsys.readouterr().out
    for key in ("numpy", "scipy", "numba", "sklearn", "numba threading layer", "threadpoolctl"):
        assert key in out


def test_public_names_importable():
    for name in lrla.__all__:
        assert hasattr(lrla, name), name


def test_import_does_not_compile():
    # No Numba dispatcher may be compiled (or loaded from cache) by ``import lrla`` itself.
    code = """
import sys, lrla
from numba.core.registry import CPUDispatcher
compiled = [f"{m}.{n}" for m, mod in list(sys.modules.items()) if m.startswith("lrla")
            for n, obj in vars(mod).items() if isinstance(obj, CPUDispatcher) and obj.signatures]
kernels = sum(isinstance(o, CPUDispatcher) for m, mod in list(sys.modules.items()) if m.startswith("lrla")
              for o in vars(mod).values())
print(kernels, compiled)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert int(out[0]) > 0  # the check sees the kernels
    assert out[1].strip() == "[]"


def test_readme_example_runs():
    text = (ROOT / "README.md").read_text()
    example = re.search(r"<!-- example -->\s*```python\n(.*?)```", text, re.S).group(1)
    exec(compile(example, "README example", "exec"), {})


def _docs_examples():
    """Every ```python block of docs/*.md, except those marked ``<!-- not run: ... -->`` (sketches)."""
    blocks = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for i, m in enumerate(re.finditer(r"(<!-- not run[^>]*-->\n)?```python\n(.*?)```", page.read_text(), re.S)):
            if m.group(1) is None:
                blocks.append(pytest.param(m.group(2), id=f"{page.name}[{i}]"))
    return blocks


@pytest.mark.filterwarnings("ignore::lrla.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("code", _docs_examples())
def test_docs_example_runs(code, monkeypatch, tmp_path):
    """The usage examples of the docs pages run against the current API, so they cannot drift from it unnoticed."""
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    exec(compile(code, "docs example", "exec"), {"__name__": "__docs_example__"})
