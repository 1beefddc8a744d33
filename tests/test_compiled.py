"""The compiled backend of integrate_batch against the numpy path (the oracle: the same
algorithm vectorised, itself checked against scipy in test_numerics), and the backend choice
with and without numba."""

import math
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symdyn as sd
from symdyn.errors import SpecError
from symdyn.numerics import _batch, _compiled, _rk_loop

RTOL, ATOL = 1e-8, 1e-10


def units(a, b):
    """Distance of two states in tolerance units atol + rtol |y|."""
    return np.max(np.abs(a - b) / (ATOL + RTOL * np.maximum(np.abs(a), np.abs(b))))


def both(system, Y0, t_final, values, **kw):
    out = [sd.integrate_batch(system, Y0, t_final, values, rtol=RTOL, atol=ATOL,
                              backend=b, **kw) for b in ("numpy", "numba")]
    return out


def assert_agree(a, b, bound=50.0):
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.stiff, b.stiff)
    finite = np.all(np.isfinite(a.y), axis=1)
    assert units(a.y[finite], b.y[finite]) < bound
    # same algorithm: the step sequences agree up to rounding (a step or two apart at most)
    assert np.max(np.abs(a.nsteps - b.nsteps)) <= 2


# -- always: the numpy path and the choice of backend ------------------------------------------


def test_row_codes_are_shared():
    assert (_batch._RUN, _batch._CONV, _batch._END, _batch._DIV, _batch._FAIL,
            _batch._STIFF) == (_rk_loop.RUN, _rk_loop.CONV, _rk_loop.END, _rk_loop.DIV,
                               _rk_loop.FAIL, _rk_loop.STIFF)


def test_bad_backend_named():
    with pytest.raises(SpecError, match="'gpu'"):
        sd.integrate_batch(sd.derive("1-1-1", "rbp"), np.ones((2, 2)), 1.0,
                           {"alpha": 1, "beta": 1, "c1": 1}, backend="gpu")


@pytest.fixture
def no_numba(monkeypatch):
    """Simulate a machine without numba: ``import numba`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "numba", None)


def test_numba_backend_without_numba_is_a_clear_error(no_numba):
    system = sd.derive("1-1-1", "rbp")
    with pytest.raises(SpecError, match=r"needs numba.*symdyn\[fast\]"):
        sd.integrate_batch(system, np.ones((2, 2)), 1.0, {"alpha": 1, "beta": 1, "c1": 1},
                           backend="numba")


def test_auto_without_numba_runs_numpy(no_numba):
    """The hyperbola a1 a2 = alpha / beta is reached by every row (PAPER.md section 4)."""
    system = sd.derive("1-1-1", "rbp")
    assert _compiled.select_backend("auto", system, "auto", None, 10**6) == "numpy"
    Y0 = np.random.default_rng(1).normal(size=(3000, 2))
    r = sd.integrate_batch(system, Y0, 500.0, {"alpha": 1, "beta": 2, "c1": 1})
    assert r.counts == {"converged": 3000}
    np.testing.assert_allclose(r.y[:, 0] * r.y[:, 1], 0.5, atol=1e-6)


def test_auto_keeps_numpy_where_compiling_does_not_pay():
    rbp = sd.derive("1-1-1", "rbp")
    assert _compiled.select_backend("auto", rbp, "auto", np.linspace(0, 1, 3), 10**6) == "numpy"
    assert _compiled.select_backend("auto", rbp, "matrix", None, 10**6) == "numpy"
    wide = sd.derive("10-10-10", "rbp")
    assert _compiled.select_backend("auto", wide, "auto", None, 10**6) == "numpy"


def test_scalar_function_prints_cse_and_refuses_unknown_symbols():
    a, b, c = sp.symbols("a b c")
    src = _compiled.scalar_function("f", [("y", [a, b])], [(a + b) ** 2 + a + b, a * b])
    ns: dict = {"math": math}
    exec(src, ns)  # noqa: S102 - printed by sympy from our own expressions
    out = np.empty(2)
    ns["f"](np.array([2.0, 3.0]), out)
    np.testing.assert_array_equal(out, [30.0, 6.0])
    with pytest.raises(_compiled.Unsupported, match="c"):
        _compiled.scalar_function("f", [("y", [a, b])], [a * c])


# -- with numba: both paths agree --------------------------------------------------------------


@pytest.fixture(scope="module")
def rbp111():
    """1-1-1 RBP, compiled once for the module (numba caches the machine code on disk)."""
    pytest.importorskip("numba")
    system = sd.derive("1-1-1", "rbp")
    _compiled.rk_program(system)
    return system


@pytest.fixture(scope="module")
def rbp_depth3():
    pytest.importorskip("numba")
    system = sd.derive("1-1-1-1", "rbp")
    _compiled.rk_program(system)
    return system


@given(seed=st.integers(0, 2**32 - 1), alpha=st.floats(0.2, 3.0), beta=st.floats(0.2, 3.0),
       method=st.sampled_from(["DOP853", "RK45"]))
def test_both_paths_agree_111(rbp111, seed, alpha, beta, method):
    rng = np.random.default_rng(seed)
    Y0 = rng.normal(size=(40, 2))
    c1 = rng.normal(size=40)
    values = {"alpha": alpha, "beta": beta, "c1": np.where(np.abs(c1) < 0.05, 0.05, c1)}
    a, b = both(rbp111, Y0, 200.0, values, method=method)
    assert_agree(a, b)
    assert set(a.status) <= {"converged", "running"} and np.mean(a.converged) > 0.5
    # the oracle of the physics, not of the code: converged rows are on the hyperbola
    conv = b.converged
    np.testing.assert_allclose(b.y[conv, 0] * b.y[conv, 1], alpha / beta, atol=1e-5)


@given(seed=st.integers(0, 2**32 - 1), stop=st.booleans())
def test_both_paths_agree_depth3(rbp_depth3, seed, stop):
    rng = np.random.default_rng(seed)
    Y0 = rng.normal(scale=0.8, size=(30, 3))
    values = {"alpha": 1.0, "beta": 1.5, "c1": rng.uniform(0.3, 2, 30),
              "c2": rng.uniform(0.3, 2, 30)}
    a, b = both(rbp_depth3, Y0, 40.0, values, stop_on_convergence=stop)
    assert_agree(a, b)
    assert set(a.status) <= {"converged", "running"}


def test_convergence_verdicts_and_times_agree(rbp111):
    """Stopped by the convergence test at the same step: same status, same stop time (up to
    rounding in the step sequence)."""
    rng = np.random.default_rng(7)
    Y0 = rng.normal(size=(500, 2))
    values = {"alpha": 1.0, "beta": 2.0, "c1": rng.normal(size=500)}
    a, b = both(rbp111, Y0, 60.0, values)
    assert_agree(a, b)
    assert 0 < np.sum(a.status == "converged") < 500  # both verdicts occur
    conv = a.converged
    # rounding in the error estimates moves the step sequences slightly (measured: up to
    # 4e-6 relative)
    np.testing.assert_allclose(a.t[conv], b.t[conv], rtol=1e-4)


def test_blow_up_rows_diverge_in_both():
    """1-1-1 BP with beta < 0 blows up in finite time 0.5 ln 2 from (1, 1) (test_numerics);
    (1, -1) is a fixed point; max_norm stops a row that leaves the ball."""
    pytest.importorskip("numba")
    system = sd.derive("1-1-1", "bp")
    values = {"alpha": 1, "beta": -1}
    Y0 = np.array([[1.0, 1.0], [1.0, -1.0], [2.0, 1.0], [0.5, -2.0], [0.3, 0.2]])
    a, b = both(system, Y0, 10.0, values)
    np.testing.assert_array_equal(a.status, b.status)
    assert list(b.status[:3]) == ["diverged", "converged", "diverged"]
    assert b.t[0] == pytest.approx(0.5 * np.log(2), rel=1e-3)
    small = [sd.integrate_batch(system, Y0, 10.0, values, max_norm=5.0, backend=k)
             for k in ("numpy", "numba")]
    np.testing.assert_array_equal(small[0].status, small[1].status)
    assert small[1].status[0] == "diverged"
    np.testing.assert_allclose(small[0].t, small[1].t, rtol=1e-6)


def test_stiff_rows_go_to_scipy_from_both():
    """The stiff case of test_numerics (Sigma_II eigenvalues 1e4 and 1): every row is
    handed to LSODA and lands on the exact fixed point A = (1, 1)."""
    pytest.importorskip("numba")
    system = sd.derive("2-1", "bp")
    values = {"Sigma_II": np.diag([1e4, 1.0]), "Sigma_TI": [[1e4, 1.0]]}
    r = sd.integrate_batch(system, np.zeros((3, 2)), 100.0, values, backend="numba",
                           form="component")
    assert r.stiff.all() and np.all(r.status == "converged")
    np.testing.assert_allclose(r.y, 1.0, rtol=1e-6)


def test_numba_refuses_what_it_cannot_do(rbp111):
    values = {"alpha": 1, "beta": 1, "c1": 1}
    with pytest.raises(SpecError, match="t_eval"):
        sd.integrate_batch(rbp111, np.ones((2, 2)), 1.0, values, backend="numba",
                           t_eval=[0.5])
    with pytest.raises(SpecError, match="form='matrix'"):
        sd.integrate_batch(rbp111, np.ones((2, 2)), 1.0, values, backend="numba",
                           form="matrix")


def test_max_steps_and_progress(rbp111):
    values = {"alpha": 1, "beta": 2, "c1": 1}
    seen: list = []
    Y0 = np.random.default_rng(3).normal(size=(5000, 2))
    a = sd.integrate_batch(rbp111, Y0, 60.0, values, max_steps=5, backend="numpy")
    b = sd.integrate_batch(rbp111, Y0, 60.0, values, max_steps=5, backend="numba",
                           progress=seen.append)
    np.testing.assert_array_equal(a.status, b.status)
    assert np.all(b.status == "failed") and np.all(b.nsteps == 5)
    assert len(seen) >= 2 and seen[-1] == 1.0 and seen == sorted(seen)
