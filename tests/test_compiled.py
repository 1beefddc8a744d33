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
from symdyn.numerics._tableau import TABLEAUS

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
    # and the work, counted the same way (every stage of every attempt): per row it differs by
    # whole attempts only, a few at most, and in total by rounding's share. Rounding moves
    # rejections, not accepted steps: where a step's error norm is within rounding of 1, one
    # path retries it. Measured on 1-1-1-1 RBP (60 seeds x 30 rows, DOP853): the numpy path
    # against itself with starts 2 ulp apart differs by 1-4 attempts in 46 of 1,800 rows, and
    # numpy against numba by 1-4 in 52, the same spread.
    stages = TABLEAUS[a.method].n_stages if a.method in TABLEAUS else None
    attempts = np.abs(a.nfev - b.nfev)[~a.stiff]
    if stages is not None:
        assert np.all(attempts % stages == 0)
        attempts = attempts // stages
        assert np.all(attempts <= np.abs(a.nsteps - b.nsteps)[~a.stiff] + 6)
    assert abs(int(a.nfev.sum()) - int(b.nfev.sum())) <= 1e-2 * a.nfev.sum() + 32


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


def test_auto_keeps_numpy_where_compiling_does_not_pay(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMDYN_CACHE", str(tmp_path))
    rbp = sd.derive("1-1-1", "rbp")
    assert _compiled.select_backend("auto", rbp, "matrix", None, 10**6) == "numpy"
    wide = sd.derive("10-10-10", "rbp")  # matrix loops (test_loopgen), not worth 20 s here
    assert _compiled.select_backend("auto", wide, "auto", None, 1000) == "numpy"


def test_auto_weighs_expected_work_against_compile_and_load(monkeypatch, tmp_path):
    """A fresh cache: compiling pays only for enough rows x horizon x state; once the
    machine code is on disk, loading it pays for much less; in process, always."""
    pytest.importorskip("numba")
    monkeypatch.setenv("SYMDYN_CACHE", str(tmp_path))
    built = []
    monkeypatch.setattr(_compiled, "rk_program", lambda *a, **k: built.append(1))
    system = sd.derive("1-1-1-1", "arbp", rate_ratio=3)  # never compiled in this process
    assert not _compiled.on_disk(system)
    small = dict(rows=10, tab=None, t_final=100.0)
    big = dict(rows=2000, tab=None, t_final=1000.0)
    # 10 rows x 5 x 100 = 5000 row-units: ~0.015 s on numpy, well under a compile
    assert _compiled.select_backend("auto", system, "auto", None, **small) == "numpy"
    assert _compiled.select_backend("auto", system, "auto", None, **big) == "numba"
    assert built == [1]
    # on disk: a load (about a second) pays from about 10^5 row-units on
    monkeypatch.setattr(_compiled, "on_disk", lambda *a, **k: True)
    assert _compiled.select_backend("auto", system, "auto", None, rows=10, tab=None,
                                    t_final=100.0) == "numpy"
    assert _compiled.select_backend("auto", system, "auto", None, rows=200, tab=None,
                                    t_final=1000.0) == "numba"
    # t_eval no longer keeps the numpy path: the compiled loop records dense output
    assert _compiled.select_backend("auto", system, "auto", np.linspace(0, 1, 3),
                                    **big) == "numba"


def test_scalar_function_prints_cse_and_refuses_unknown_symbols():
    a, b, c = sp.symbols("a b c")
    src = _compiled.scalar_function("f", ["y", "out"], [("y[{}]", [a, b])],
                                    [(a + b) ** 2 + a + b, a * b])
    ns: dict = {"math": math}
    exec(src, ns)  # noqa: S102 - printed by sympy from our own expressions
    out = np.empty(2)
    ns["f"](np.array([2.0, 3.0]), out)
    np.testing.assert_array_equal(out, [30.0, 6.0])
    with pytest.raises(_compiled.Unsupported, match="c"):
        _compiled.scalar_function("f", ["y", "out"], [("y[{}]", [a, b])], [a * c])


# -- with numba: both paths agree --------------------------------------------------------------


@pytest.fixture(scope="module")
def rbp111():
    """1-1-1 RBP, compiled once for the module (numba caches the machine code on disk)."""
    pytest.importorskip("numba")
    system = sd.derive("1-1-1", "rbp")
    for tab in TABLEAUS.values():
        _compiled.rk_program(system, tab)
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


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_dense_output_agrees(rbp_depth3, method):
    """t_eval: the compiled loop records the solver's own dense output polynomial, as the
    numpy path does (and both sit on scipy's within tolerance, test_numerics)."""
    rng = np.random.default_rng(5)
    Y0 = rng.normal(scale=0.8, size=(20, 3))
    values = {"alpha": 1.0, "beta": 1.5, "c1": 0.7, "c2": 1.3}
    te = np.r_[0.0, np.sort(rng.uniform(0, 60, 300))]
    a, b = both(rbp_depth3, Y0, 60.0, values, t_eval=te, method=method)
    assert_agree(a, b)
    assert "converged" in set(a.status)  # held at their end state after stopping
    assert not np.isnan(a.y_eval).any() and not np.isnan(b.y_eval).any()
    assert units(a.y_eval, b.y_eval) < 50
    # three more stages per recorded step (DOP853), counted alike
    assert np.max(np.abs(a.nfev - b.nfev)) <= 2 * (TABLEAUS[method].n_stages + 3)


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


@pytest.mark.slow
def test_numba_runs_the_matrix_form_when_asked(rbp111):
    """form='matrix' compiles the matrix loops (test_loopgen) instead of being refused; a
    compile of its own (15-30 s once per machine), hence slow."""
    values = {"alpha": 1, "beta": 2, "c1": 1}
    Y0 = np.random.default_rng(2).normal(size=(20, 2))
    a, b = both(rbp111, Y0, 50.0, values, form="matrix")
    assert_agree(a, b)


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


# -- SGD: component code (plain Python or numba) against matrix code and a hand-written loop --


def _data(seed, n=40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1))
    return X, 0.7 * X + 0.1 * rng.normal(size=(n, 1))


@given(seed=st.integers(0, 2**32 - 1), b=st.integers(1, 5),
       sampling=st.sampled_from(["iid", "shuffle"]), depth=st.sampled_from([2, 3]))
def test_sgd_component_code_equals_matrix_code(seed, b, sampling, depth):
    system = sd.derive("-".join(["1"] * (depth + 1)), "rbp")
    X, Y = _data(seed)
    rng = np.random.default_rng(seed)
    values = {f"c{i}": float(rng.uniform(0.5, 1.5)) for i in range(1, depth)}
    kw = dict(lr=0.02, steps=500, y0=rng.uniform(0.1, 0.5, depth), values=values, seed=seed,
              batch_size=b, sampling=sampling, record_every=7)
    ref = sd.simulate(system, X, Y, backend="numpy", **kw)
    assert _fast_code(system, "auto", 500) in ("python", "numba")  # component code
    comp = sd.simulate(system, X, Y, backend="auto", **kw)
    np.testing.assert_array_equal(ref.steps, comp.steps)
    np.testing.assert_allclose(comp.y, ref.y, rtol=1e-12, atol=1e-14)


def _fast_code(system, backend, steps):
    from symdyn.training import _fast

    return _fast.choose_code(backend, system, steps)


def test_sgd_numba_equals_plain_python():
    pytest.importorskip("numba")
    system = sd.derive("1-1-1", "rbp")
    X, Y = _data(5)
    kw = dict(lr=0.01, steps=30_000, y0=[0.1, 0.2], values={"c1": 1.0}, seed=3)
    assert _fast_code(system, "auto", 30_000) == "numba"
    fast = sd.simulate(system, X, Y, **kw)
    ref = sd.simulate(system, X, Y, backend="numpy", **kw)
    np.testing.assert_allclose(fast.y, ref.y, rtol=1e-12, atol=1e-14)
    # SGD on the averaged flow: a1 a2 ends near the least-squares slope 0.7 (PAPER.md 4)
    assert abs(fast.y_final[0] * fast.y_final[1] - 0.7) < 0.05


def test_sgd_blow_up_at_the_same_step_in_every_code():
    system = sd.derive("1-1-1", "rbp")
    X, Y = _data(2)
    out = [sd.simulate(system, X, Y, lr=5.0, steps=3000, y0=[0.1, 0.2], values={"c1": 1.0},
                       record_every=3, backend=k) for k in ("numpy", "auto")]
    assert [r.status for r in out] == ["diverged", "diverged"]
    np.testing.assert_array_equal(out[0].steps, out[1].steps)


def test_sgd_numba_without_numba_is_a_clear_error(no_numba):
    X, Y = _data(0)
    with pytest.raises(SpecError, match="needs numba"):
        sd.simulate(sd.derive("1-1-1", "rbp"), X, Y, lr=0.1, steps=10, y0=[0.1, 0.1],
                    values={"c1": 1.0}, backend="numba")
    assert _fast_code(sd.derive("1-1-1", "rbp"), "auto", 10**6) == "python"


def test_sgd_wide_network_equals_hand_written_loop():
    """2-3-1 tanh BP: simulate equals the textbook update, written out by hand, on the same
    mini-batches (numpy.random.default_rng(seed).integers in chunks of 4096)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 1))
    system = sd.derive("2-3-1", "bp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
    A1, A2 = rng.normal(scale=0.5, size=(3, 2)), rng.normal(scale=0.5, size=(1, 3))
    y0 = np.concatenate([A1.ravel(), A2.ravel()])
    lr, b, steps = 0.05, 4, 300
    r = sd.simulate(system, X, Y, lr=lr, steps=steps, y0=y0, batch_size=b, seed=9,
                    record_every=steps)
    idx = np.random.default_rng(9).integers(0, 30, size=(4096, b))
    for k in range(steps):
        I, T = X[idx[k]].T, Y[idx[k]].T  # noqa: E741
        h = np.tanh(A1 @ I)
        e = T - A2 @ h
        dA1 = ((A2.T @ e) * (1 - h**2)) @ I.T / b
        dA2 = e @ h.T / b
        A1, A2 = A1 + lr * dA1, A2 + lr * dA2
    np.testing.assert_allclose(r.y_final, np.concatenate([A1.ravel(), A2.ravel()]),
                               rtol=1e-12, atol=1e-14)


def test_sgd_one_sample_loop_chunks_records_and_blow_up():
    """The b = 1 loop (state in locals, indices drawn in one call per run): the same records
    as the numpy path whether the run is cut into 4,096-step chunks (progress) or not, with
    record_every not dividing the chunks; a prefix of a run is the shorter run; a blow-up
    stops at the same record as the numpy path."""
    pytest.importorskip("numba")
    system = sd.derive("1-1-1", "rbp")
    X, Y = _data(7)
    kw = dict(lr=0.01, y0=[0.1, 0.2], values={"c1": 0.8}, seed=11, record_every=777)
    seen: list = []
    whole = sd.simulate(system, X, Y, steps=30_000, backend="numba", **kw)
    chunked = sd.simulate(system, X, Y, steps=30_000, backend="numba", progress=seen.append,
                          **kw)
    ref = sd.simulate(system, X, Y, steps=30_000, backend="numpy", **kw)
    assert len(seen) > 5  # progress came between chunks
    np.testing.assert_array_equal(whole.steps, ref.steps)
    np.testing.assert_array_equal(whole.y, chunked.y)
    np.testing.assert_allclose(whole.y, ref.y, rtol=1e-12, atol=1e-14)
    short = sd.simulate(system, X, Y, steps=7770, backend="numba", **kw)
    np.testing.assert_array_equal(short.y, whole.y[:len(short.y)])
    out = [sd.simulate(system, X, Y, lr=5.0, steps=3000, y0=[0.1, 0.2], values={"c1": 1.0},
                       record_every=3, backend=k) for k in ("numpy", "numba")]
    assert [r.status for r in out] == ["diverged", "diverged"]
    np.testing.assert_array_equal(out[0].steps, out[1].steps)
