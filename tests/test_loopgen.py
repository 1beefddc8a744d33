"""Loop code printed from matrix expressions (the compiled backend of matrix-form systems)
against the numpy matrix code printed by the other printer (``_codegen.matrix_kernel``,
itself checked against sympy in test_numerics); the compiled loop against the numpy path row
by row (slow: compiling the loop of a matrix system takes 15-20 s once per machine)."""

import math

import numpy as np
import pytest

import symdyn as sd
from symdyn.numerics import _compiled
from symdyn.numerics._loopgen import matrix_parameter_table, matrix_rhs_source
from symdyn.numerics._rhs import rhs_kernel

RTOL, ATOL = 1e-8, 1e-10


def _plain_rhs(system):
    """The printed ``rhs`` run as plain Python (no numba), with its scratch size."""
    mf = system.matrix
    src = matrix_rhs_source(mf.state, mf.rhs, mf.parameters)
    ns: dict = {"np": np, "math": math}
    exec(src, ns)  # noqa: S102 - printed by sympy from the system's own expressions
    return ns["rhs"], ns["WORK"]


def _values(system, rng):
    """Random values for the parameters the matrix code takes (data already numeric kept)."""
    out = {}
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        a = rng.normal(size=(p.rows, p.cols))
        out[p.name] = a @ a.T / p.rows + np.eye(p.rows) if p.name == "Sigma_II" else a
    return out


@pytest.mark.parametrize("arch, rule, kw", [
    ("10-10-10", "rbp", {}), ("2-2-2-2", "arbp", {}), ("3-3-3", "bp", {}),
    ("2-3-2", "asrbp", {}), ("3-2-4", "srbp", {}),
])
def test_loop_rhs_equals_matrix_code(arch, rule, kw):
    """Every output block, for random states and parameters, equals the numpy matrix code
    (a different printer of the same sympy expressions) to rounding."""
    system = sd.derive(arch, rule, **kw)
    rhs, work = _plain_rhs(system)
    kernel = rhs_kernel(system, "matrix")
    assert kernel.form == "matrix"
    rng = np.random.default_rng(len(arch))
    f = system.numeric(_values(system, rng), form="matrix")
    P = matrix_parameter_table(kernel.params, f._args, None, work)
    for _ in range(3):
        y = rng.normal(size=system.size)
        K = np.full((3, system.size), np.nan)
        rhs(y, P[0], K, 1)
        np.testing.assert_allclose(K[1], f(0.0, y), rtol=1e-12, atol=1e-12)
        assert np.all(np.isnan(K[[0, 2]]))  # writes row s only


def test_loop_rhs_with_activations_and_data():
    """tanh BP on 20 samples: element-wise functions, Hadamard products, transposes of
    products and numeric data matrices."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    system = sd.derive("2-3-2", "bp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
    rhs, work = _plain_rhs(system)
    kernel = rhs_kernel(system, "matrix")
    f = system.numeric({}, form="matrix")
    P = matrix_parameter_table(kernel.params, f._args, None, work)
    for _ in range(3):
        y = rng.normal(size=system.size)
        K = np.empty((1, system.size))
        rhs(y, P[0], K, 0)
        np.testing.assert_allclose(K[0], f(0.0, y), rtol=1e-12, atol=1e-13)


def test_parameter_table_per_row():
    """Per-row matrices become per-row parameter rows, shared ones are repeated, and the
    scratch columns follow; the printed code reads row r's own values."""
    system = sd.derive("3-2-4", "srbp")
    rhs, work = _plain_rhs(system)
    kernel = rhs_kernel(system, "matrix")
    rng = np.random.default_rng(4)
    vals = _values(system, rng)
    vals["C1"] = rng.normal(size=(5, 2, 4))  # one channel matrix per row
    f = system.numeric(vals, form="matrix")
    P = matrix_parameter_table(kernel.params, f._args, f.batch, work)
    assert P.shape[0] == 5 and P.shape[1] >= work
    Y = rng.normal(size=(5, system.size))
    want = f(0.0, Y)
    for r in range(5):
        K = np.empty((1, system.size))
        rhs(Y[r], P[r].copy(), K, 0)
        np.testing.assert_allclose(K[0], want[r], rtol=1e-12, atol=1e-12)


def test_auto_weighs_the_matrix_loop_too(monkeypatch, tmp_path):
    """10-10-10 RBP: compiling its loops (about 25 s) pays only for enough rows x horizon;
    once on disk a load pays for less; nothing is compiled here (rk_program is replaced)."""
    pytest.importorskip("numba")
    monkeypatch.setenv("SYMDYN_CACHE", str(tmp_path))
    built = []
    monkeypatch.setattr(_compiled, "rk_program", lambda *a, **k: built.append(a[2:]))
    wide = sd.derive("10-10-10", "rbp")
    assert _compiled.compiled_form(wide, "auto") == "matrix"
    assert not _compiled.on_disk(wide, None, "matrix")
    # 20 rows x 200 x 20 = 8e4 row-units: 0.04 s of numpy, far under a compile
    assert _compiled.select_backend("auto", wide, "auto", None, rows=20, t_final=20.0) == "numpy"
    # 1,000 rows to t = 500: about 45 CPU-s of numpy, 30 saved: worth a 25 s compile
    assert _compiled.select_backend("auto", wide, "auto", None, rows=1000,
                                    t_final=500.0) == "numba"
    assert built == [("matrix",)]
    monkeypatch.setattr(_compiled, "on_disk", lambda *a, **k: True)
    # 1,000 rows to t = 20: 1.8 CPU-s of numpy, 1.2 saved: worth a 1 s load
    assert _compiled.select_backend("auto", wide, "auto", None, rows=1000,
                                    t_final=20.0) == "numba"
    assert _compiled.select_backend("auto", wide, "auto", None, rows=100,
                                    t_final=20.0) == "numpy"


@pytest.mark.slow
def test_compiled_matrix_loop_agrees_with_numpy_row_by_row(monkeypatch):
    """10-10-10 RBP, 12 starts to t = 20, DOP853 and RK45: same status, same step counts up
    to a step or two, final states within a few tolerance units (rounding differs: FMA).
    The lane loop (the default: the parameters are shared) reproduces the compiled per-row
    loop bit for bit: each lane does the same operations in the same order."""
    pytest.importorskip("numba")
    wide = sd.derive("10-10-10", "rbp")
    rng = np.random.default_rng(0)
    vals = _values(wide, rng)
    vals["Sigma_TI"] = vals["Sigma_TI"] / 3.2
    vals["C1"] = vals["C1"] / 3.2
    Y0 = rng.normal(scale=0.3, size=(12, wide.size))
    for method in ("DOP853", "RK45"):
        a, b = (sd.integrate_batch(wide, Y0, 20.0, vals, rtol=RTOL, atol=ATOL, method=method,
                                   backend=be, stop_on_convergence=False)
                for be in ("numpy", "numba"))
        np.testing.assert_array_equal(a.status, b.status)
        assert np.max(np.abs(a.nsteps - b.nsteps)) <= 2
        err = np.abs(a.y - b.y) / (ATOL + RTOL * np.maximum(np.abs(a.y), np.abs(b.y)))
        assert err.max() < 50
        # a negative control: another start is far outside that bound
        assert np.max(np.abs(a.y[0] - b.y[1]) / (ATOL + RTOL * np.abs(a.y[0]))) > 1e3
        monkeypatch.setattr(_compiled, "LANE_LOOP", False)
        c = sd.integrate_batch(wide, Y0, 20.0, vals, rtol=RTOL, atol=ATOL, method=method,
                               backend="numba", stop_on_convergence=False)
        monkeypatch.setattr(_compiled, "LANE_LOOP", True)
        for f in ("y", "t", "status", "nfev", "nsteps"):
            np.testing.assert_array_equal(getattr(b, f), getattr(c, f), err_msg=f)
    # dense output at t_eval from the compiled loop, against the numpy path's
    t_eval = np.linspace(0, 5, 11)
    a, b = (sd.integrate_batch(wide, Y0[:4], 5.0, vals, rtol=RTOL, atol=ATOL, t_eval=t_eval,
                               backend=be) for be in ("numpy", "numba"))
    np.testing.assert_allclose(a.y_eval, b.y_eval, rtol=1e-6, atol=1e-8)
