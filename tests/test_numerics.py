"""Numerics: generated code against the component form, integrators against scipy's DOP853
at tight tolerances (errors in units of the requested tolerance), convergence, blow-up and
creeping per row."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import symdyn as sd
from symdyn.errors import DataError, SpecError
from symdyn.numerics import integrate, integrate_batch, numeric

RULES = ["bp", "rbp", "srbp", "arbp", "asrbp"]
ACTS = [None, "tanh", "logistic", "softplus"]


# -- systems and values -----------------------------------------------------------------------


@st.composite
def systems(draw, max_depth=3, max_width=3):
    """A random system: architecture, rule, options, data (symbolic moments for linear
    networks, a small data set otherwise), and values for its parameters."""
    depth = draw(st.integers(1, max_depth))
    sizes = tuple(draw(st.integers(1, max_width)) for _ in range(depth + 1))
    activation = draw(st.sampled_from(ACTS))
    rule = draw(st.sampled_from(RULES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    opts = dict(
        derivative=draw(st.booleans()),
        channel_activation=draw(st.sampled_from([None, "tanh"])),
        rate=draw(st.sampled_from([1, 0.5, "eta"])),
        decay=draw(st.sampled_from([0, 0.25, "d"])),
    )
    if rule in ("arbp", "asrbp"):
        opts["rate_ratio"] = draw(st.sampled_from([1, 0.5, "lam"]))
    linear = activation is None and opts["channel_activation"] is None
    if linear and draw(st.booleans()):
        data = None
    else:
        N = draw(st.integers(1, 5))
        data = sd.Dataset(X=rng.normal(size=(N, sizes[0])), Y=rng.normal(size=(N, sizes[-1])))
    system = sd.derive("-".join(map(str, sizes)), rule, activation=activation, data=data,
                       **opts)
    return system, random_values(system, rng), rng


def random_values(system, rng) -> dict:
    values = {}
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        if isinstance(p, sp.MatrixSymbol):
            a = rng.normal(size=p.shape)
            if p.name == "Sigma_II":
                a = a @ a.T + np.eye(p.rows)
            values[p.name] = a
        else:
            values[str(p)] = float(rng.uniform(0.5, 1.5))
    return values


def component_point(system, values) -> dict:
    """Values by component symbol, for evaluating the component form."""
    point = {}
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        if isinstance(p, sp.MatrixSymbol):
            comps = system.components(p)
            for (i, j), v in np.ndenumerate(np.asarray(values[p.name]).reshape(p.shape)):
                point[comps[i, j]] = v
        else:
            point[p] = values[str(p)]
    return point


def reference_rhs(system, values, y) -> np.ndarray:
    """The component form evaluated by sympy itself (exact substitution, then evalf)."""
    subs = component_point(system, values)
    subs.update(zip(system.state, y, strict=True))
    return np.array([float(sp.sympify(e).xreplace(subs).evalf(30)) for e in system.rhs])


# -- generated code ---------------------------------------------------------------------------


@given(case=systems())
def test_generated_rhs_equals_component_form(case):
    """Matrix and component code agree with the component form evaluated by sympy, for a
    single state (n,) and a batch (batch, n)."""
    system, values, rng = case
    Y = rng.normal(size=(3, system.size))
    ref = np.array([reference_rhs(system, values, y) for y in Y])
    for form in ("matrix", "component"):
        f = numeric(system, values, form=form)
        assert f.form == form  # no silent fallback
        batch = f(0.0, Y)
        assert batch.shape == Y.shape
        np.testing.assert_allclose(batch, ref, rtol=1e-10, atol=1e-12)
        single = f(0.0, Y[1])
        assert single.shape == (system.size,)
        np.testing.assert_allclose(single, ref[1], rtol=1e-10, atol=1e-12)


def test_matrix_code_is_matrix_code():
    """A 3-4-2 tanh RBP rhs is printed as matrix products on reshaped blocks, with the
    forward pass computed once (shared temporaries), never entry by entry."""
    rng = np.random.default_rng(0)
    data = sd.Dataset(X=rng.normal(size=(10, 3)), Y=rng.normal(size=(10, 2)))
    system = sd.derive("3-4-2", "rbp", activation="tanh", data=data)
    src = numeric(system, {"C1": rng.normal(size=(4, 2))}).source
    assert "A1 = y[..., 0:12].reshape(lead + (4, 3))" in src
    assert src.count("(A1 @ X)") == 1  # the forward pass once
    assert "A1_1_1" not in src


def test_default_form():
    assert numeric(sd.derive("1-1-1", "rbp"), dict(alpha=1, beta=1, c1=1)).form == "component"
    assert numeric(sd.derive("2-2-1", "bp"), dict(Sigma_II=np.eye(2),
                                                  Sigma_TI=[[1, 0]])).form == "matrix"


def test_values_by_matrix_or_components_and_per_row():
    system = sd.derive("2-3-1", "rbp")
    rng = np.random.default_rng(1)
    C = rng.normal(size=(3, 1))
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    T = np.array([[1.0, -1.0]])
    y = rng.normal(size=(4, system.size))
    f = system.numeric({"C1": C, "Sigma_II": S, "Sigma_TI": T})
    by_comp = {"C1_1_1": C[0, 0], "C1_2_1": C[1, 0], "C1_3_1": C[2, 0], "Sigma_II_1_1": 2.0,
               "Sigma_II_1_2": 0.5, "Sigma_II_2_2": 1.0, "Sigma_TI_1_1": 1.0,
               "Sigma_TI_1_2": -1.0}
    g = system.numeric(by_comp)
    np.testing.assert_allclose(f(0, y), g(0, y), rtol=1e-14)
    # a parameter per row: C1 of shape (batch, 3, 1)
    Cs = rng.normal(size=(4, 3, 1))
    h = system.numeric({"C1": Cs, "Sigma_II": S, "Sigma_TI": T})
    rows = np.array([system.numeric({"C1": Cs[i], "Sigma_II": S, "Sigma_TI": T})(0, y[i])
                     for i in range(4)])
    np.testing.assert_allclose(h(0, y), rows, rtol=1e-14)
    with pytest.raises(SpecError, match="per row"):
        h(0, y[0])


@pytest.mark.parametrize("values, match", [
    ({"alpha": 1, "beta": 1}, "missing value for parameter c1"),
    ({"alpha": 1, "beta": 1, "c1": 1, "gamma": 2}, "unknown parameter 'gamma'"),
    ({"alpha": 1, "beta": 1, "c1": 1, "a1": 2}, "a1 is a state variable"),
    ({"alpha": 1, "beta": 1, "c1": "x"}, "must be a number"),
    ({"alpha": 1, "beta": 1, "c1": float("nan")}, "non-finite"),
    ({"alpha": [1, 2], "beta": [1, 2, 3], "c1": 1}, "different lengths"),
])
def test_bad_values_name_the_parameter(values, match):
    with pytest.raises(SpecError, match=match):
        sd.derive("1-1-1", "rbp").numeric(values)


def test_bad_values_of_matrices():
    system = sd.derive("2-3-1", "rbp")
    ok = {"C1": np.ones((3, 1)), "Sigma_TI": [[1, 0]]}
    with pytest.raises(DataError, match="symmetric"):
        system.numeric({**ok, "Sigma_II": [[1, 2], [0, 1]]})
    with pytest.raises(SpecError, match=r"shape \(2, 2\); expected \(3, 1\)"):
        system.numeric({**ok, "C1": np.ones((2, 2)), "Sigma_II": np.eye(2)})
    with pytest.raises(SpecError, match="C1_3_1 is missing"):
        system.numeric({"C1_1_1": 1, "C1_2_1": 1, "Sigma_II": np.eye(2), "Sigma_TI": [[1, 0]]})
    data = sd.Dataset(X=np.ones((3, 2)), Y=np.ones((3, 1)))
    with pytest.raises(SpecError, match="fixed by the system's numeric data"):
        sd.derive("2-3-1", "rbp", data=data).numeric({"C1": np.ones((3, 1)),
                                                      "Sigma_II": np.eye(2)})


def test_state_shape_checked():
    f = sd.derive("1-1-1", "rbp").numeric({"alpha": 1, "beta": 1, "c1": 1})
    with pytest.raises(SpecError, match=r"shape \(2,\) or \(batch, 2\)"):
        f(0, [1.0, 2.0, 3.0])


# -- accuracy against scipy's DOP853 at tight tolerances ---------------------------------------

RTOL, ATOL = 1e-8, 1e-10


def tolerance_units(y, ref, size=None):
    r"""Error in units of the requested tolerance, RMS over components as in scipy's own
    tests (``scipy/integrate/_ivp/tests/test_ivp.py``: ``compute_error``). The unit of a
    component is :math:`\mathrm{atol} + \mathrm{rtol}\,|y_i|` with :math:`|y_i|` its
    largest size along the trajectory (``size``; the error control scales by the size at
    each step, so a component passing near zero keeps the error it had while large)."""
    size = np.abs(ref) if size is None else size
    e = (y - ref) / (ATOL + RTOL * size)
    return np.sqrt(np.mean(e * e, axis=-1))


def reference(system, values, y0, t):
    f = numeric(system, values)
    sol = solve_ivp(f, (0, t), y0, method="DOP853", rtol=1e-12, atol=1e-12, dense_output=True)
    assert sol.success
    return sol


# The bound. Each accepted step keeps its local error estimate below one tolerance unit;
# over these short spans (t = 3, 10-60 steps) the global error is the sum of propagated
# local errors, O(1) units for contracting or mildly expanding flows (scipy's own suite
# asserts e < 5 in the same units). Measured on 4,800 trajectories of random systems drawn
# by ``systems(max_depth=2)``: median 0.008, 99th percentile 0.15, maximum 9.2 (a fast
# contracting linear system whose steps sit at the stability boundary of DOP853, where the
# error estimator is known to underestimate). The bound leaves a factor of two over that.
BOUND = 20.0


@given(case=systems(max_depth=2))
def test_integrators_match_tight_dop853(case):
    system, values, rng = case
    Y0 = 0.5 * rng.normal(size=(4, system.size))
    T = 3.0
    t_eval = np.linspace(0, T, 7)
    batch = integrate_batch(system, Y0, T, values, rtol=RTOL, atol=ATOL,
                            stop_on_convergence=False, t_eval=t_eval)
    assert np.all(batch.status == "running")  # reached t_final
    f = numeric(system, values)
    for i, y0 in enumerate(Y0):
        sol = reference(system, values, y0, T)
        size = np.abs(sol.y).max(axis=1)
        assert tolerance_units(batch.y[i], sol.y[:, -1], size) < BOUND
        # the trajectory between steps is the solver's own interpolant (scipy's dense
        # output, whose error between steps is not under error control): compare it with
        # scipy's at the same tolerances
        same = solve_ivp(f, (0, T), y0, method="DOP853", rtol=RTOL, atol=ATOL,
                         dense_output=True)
        np.testing.assert_allclose(batch.y_eval[:, i], same.sol(t_eval).T, rtol=1e-9,
                                   atol=1e-12)
        if i < 2:
            one = integrate(system, y0, T, values, rtol=RTOL, atol=ATOL,
                            stop_on_convergence=False, t_eval=t_eval)
            assert one.status == "running" and one.t_final == T
            assert tolerance_units(one.y_final, sol.y[:, -1], size) < BOUND
            if one.method == "DOP853":
                np.testing.assert_allclose(one.y, same.sol(t_eval).T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_batch_rows_are_scipys_solver(method):
    """Every row of the vectorised pair takes exactly the steps scipy's solver takes alone
    (same initial step, same controller): same step count, same result to rounding."""
    rng = np.random.default_rng(3)
    system = sd.derive("2-3-2", "arbp", rate_ratio=0.5)
    values = {"Sigma_II": np.eye(2) + 0.3, "Sigma_TI": rng.normal(size=(2, 2))}
    Y0 = 0.5 * rng.normal(size=(10, system.size))
    res = integrate_batch(system, Y0, 4.0, values, method=method, stop_on_convergence=False)
    f = numeric(system, values)
    for i in range(10):
        sol = solve_ivp(f, (0, 4.0), Y0[i], method=method, rtol=RTOL, atol=ATOL)
        assert res.nsteps[i] == len(sol.t) - 1
        np.testing.assert_allclose(res.y[i], sol.y[:, -1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["auto", "LSODA", "Radau", "RK45"])
def test_integrate_methods(method):
    system = sd.derive("1-1-1", "rbp")
    values = {"alpha": 1, "beta": 2, "c1": 0.7}
    sol = reference(system, values, [0.3, -0.2], 2.0)
    r = integrate(system, [0.3, -0.2], 2.0, values, method=method, stop_on_convergence=False)
    assert r.status == "running"
    assert tolerance_units(r.y_final, sol.y[:, -1]) < BOUND
    assert r.t[0] == 0 and r.t[-1] == 2.0 and r.y.shape == (len(r.t), 2)


def test_stiff_system_switches_to_lsoda():
    """Inputs on two scales (Sigma_II eigenvalues 1e3 and 1) make the linear network stiff:
    ``auto`` notices and finishes with LSODA, at the same accuracy and far fewer steps.
    Exact solution from A = 0: A_i(t) = 1 - exp(-s_i t)."""
    system = sd.derive("2-1", "bp")
    values = {"Sigma_II": np.diag([1e3, 1.0]), "Sigma_TI": [[1e3, 1.0]]}
    y0 = [0.0, 0.0]
    auto = integrate(system, y0, 10.0, values, stop_on_convergence=False)
    explicit = integrate(system, y0, 10.0, values, method="DOP853", stop_on_convergence=False)
    assert "LSODA" in auto.method and "stiffness" in auto.method
    assert auto.nfev < explicit.nfev / 3
    exact = np.array([1.0, 1.0 - np.exp(-10.0)])
    np.testing.assert_allclose(auto.y_final, exact, rtol=1e-6)
    # the batch hands a row to LSODA when more than 20,000 explicit steps would remain
    values = {"Sigma_II": np.diag([1e4, 1.0]), "Sigma_TI": [[1e4, 1.0]]}
    batch = integrate_batch(system, np.zeros((3, 2)), 100.0, values)
    assert batch.stiff.all() and np.all(batch.status == "converged")
    np.testing.assert_allclose(batch.y, 1.0, rtol=1e-6)
    mild = integrate_batch(system, np.zeros((3, 2)), 5.0, values, stop_on_convergence=False)
    assert not mild.stiff.any() and np.all(mild.status == "running")


# -- convergence, blow-up, creeping ------------------------------------------------------------


def rbp_landing_point(a1, a2, c1, alpha, beta):
    r"""Where 1-1-1 RBP lands (docs/science.md 4): :math:`K = a_1^2 - 2 c_1 a_2` is conserved and
    :math:`\dot a_1 = -\tfrac12 p(a_1)`, :math:`p = \beta a_1^3 - \beta K a_1 - 2\alpha c_1`,
    so :math:`a_1` moves monotonically to the nearest root of :math:`p` downhill."""
    K = a1**2 - 2 * c1 * a2
    roots = np.roots([beta, 0.0, -beta * K, -2 * alpha * c1])
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    p0 = beta * a1**3 - beta * K * a1 - 2 * alpha * c1
    root = real[real > a1].min() if p0 < 0 else real[real < a1].max()
    return root, alpha / (beta * root)


def check_rbp_batch(n, seed):
    rng = np.random.default_rng(seed)
    alpha, beta = 1.0, 2.0
    Y0 = rng.normal(size=(n, 2))
    c1 = rng.normal(size=n)
    c1 = np.where(np.abs(c1) < 1e-2, 1e-2, c1)  # c1 != 0 (slow but convergent below)
    res = integrate_batch(sd.derive("1-1-1", "rbp"), Y0, 1e5,
                          {"alpha": alpha, "beta": beta, "c1": c1})
    assert res.counts == {"converged": n}, res.message
    a1, a2 = res.y.T
    assert np.max(np.abs(a1 * a2 - alpha / beta)) < 1e-6  # on the hyperbola
    # and at the point predicted by the invariant, to the integration tolerance
    landing = np.array([rbp_landing_point(*Y0[i], c1[i], alpha, beta) for i in range(n)])
    # in tolerance units of the state's size (the convergence test measures the distance
    # still to go, at most xtol = ten such units, in the max-norm): the integration error
    # (BOUND) plus that distance
    size = np.max(np.abs(landing), axis=1, keepdims=True)
    err = np.abs(res.y - landing) / (ATOL + RTOL * size)
    assert np.max(err) < BOUND + 10, np.max(err)


def test_rbp_111_ten_thousand_starts_converge_to_hyperbola():
    """docs/science.md 4: every start with c1 != 0 converges to a1 a2 = alpha/beta (10,000 random
    starts and channels in about half a second)."""
    check_rbp_batch(10_000, seed=12)


@pytest.mark.slow
def test_rbp_111_hundred_thousand_starts_converge_to_hyperbola():
    check_rbp_batch(100_000, seed=13)


def test_blow_up_is_reported_per_row_not_raised():
    """1-1-1 BP with beta < 0 blows up in finite time from (1, 1) (a' = a(1 + a^2) on the
    diagonal); (1, -1) is a fixed point; a NaN start is diverged at once; rows do not
    disturb each other."""
    system = sd.derive("1-1-1", "bp")
    values = {"alpha": 1, "beta": -1}
    Y0 = np.array([[1.0, 1.0], [1.0, -1.0], [np.nan, 0.0], [2.0, 1.0], [0.5, -2.0]])
    res = integrate_batch(system, Y0, 10.0, values)
    assert list(res.status[:4]) == ["diverged", "converged", "diverged", "diverged"]
    blow_up_time = np.pi / 4 + 0.5 * np.log(2) - np.pi / 4  # int_1^inf da/(a(1+a^2))
    assert res.t[0] == pytest.approx(0.5 * np.log(2), rel=1e-3)
    assert blow_up_time == pytest.approx(0.5 * np.log(2))
    assert res.t[2] == 0.0 and np.isnan(res.y[2, 0])
    alone = integrate_batch(system, Y0[[4]], 10.0, values)
    assert alone.status[0] == res.status[4]
    np.testing.assert_allclose(alone.y[0], res.y[4], rtol=1e-14)
    one = integrate(system, [1.0, 1.0], 10.0, values)
    assert one.status == "diverged" and one.t_final == pytest.approx(0.5 * np.log(2), rel=1e-3)
    assert integrate(system, [np.nan, 1.0], 10.0, values).status == "diverged"


def test_creeping_is_not_converged():
    """1-1-1 BP with alpha = 0 from (1, 1): a1 = a2 = u with u' = -u^3, so
    u = (1 + 2t)^(-1/2). At t = 1e7 the speed |f| = u^3 ~ 1e-11 is far below tol, but u is
    still 2e-4 away from the fixed point: reported running, not converged."""
    system = sd.derive("1-1-1", "bp")
    values = {"alpha": 0, "beta": 1}
    T = 1e7
    u = (1 + 2 * T) ** -0.5
    one = integrate(system, [1.0, 1.0], T, values)
    batch = integrate_batch(system, np.array([[1.0, 1.0], [0.5, 0.5]]), T, values)
    for status, y in ((one.status, one.y_final), (batch.status[0], batch.y[0])):
        assert status == "running"
        assert np.max(np.abs(y) ** 3) < 1e-10  # a test on |f| alone would have stopped
        np.testing.assert_allclose(y, [u, u], rtol=1e-6)
    # a hyperbolic fixed point is reached and recognised: alpha = 1 from the same start
    conv = integrate(system, [1.0, 1.0], T, {"alpha": 1, "beta": 1})
    assert conv.status == "converged" and conv.t_final < 100


def test_converged_rows_have_small_speed():
    rng = np.random.default_rng(5)
    system = sd.derive("3-2-2", "srbp")
    values = {"C1": rng.normal(size=(2, 2)), "Sigma_II": np.eye(3) + 0.2,
              "Sigma_TI": rng.normal(size=(2, 3))}
    Y0 = 0.3 * rng.normal(size=(50, system.size))
    res = integrate_batch(system, Y0, 1e4, values)
    f = numeric(system, values)
    conv = res.converged
    assert conv.all(), res.message
    assert np.abs(f(0, res.y)).max() <= 1e-6
    # rows do not depend on their neighbours beyond rounding: each alone converges too,
    # to the same point within the accuracy of the test (xtol, ten tolerance units)
    for i in (0, 17, 33):
        alone = integrate_batch(system, Y0[[i]], 1e4, values)
        assert alone.converged[0]
        scale = ATOL + RTOL * np.abs(res.y[i])
        assert np.max(np.abs(alone.y[0] - res.y[i]) / scale) < 2 * BOUND


def test_integrate_arguments_checked():
    system = sd.derive("1-1-1", "rbp")
    v = {"alpha": 1, "beta": 1, "c1": 1}
    with pytest.raises(SpecError, match="2 entries"):
        integrate(system, [1.0], 10, v)
    with pytest.raises(SpecError, match="unknown method"):
        integrate(system, [1.0, 1.0], 10, v, method="Euler")
    with pytest.raises(SpecError, match="forward"):
        integrate(system, [1.0, 1.0], (5, 1), v)
    with pytest.raises(SpecError, match="rtol"):
        integrate(system, [1.0, 1.0], 10, v, rtol=0)
    with pytest.raises(SpecError, match=r"shape \(batch, 2\)"):
        integrate_batch(system, [1.0, 1.0], 10, v)
    with pytest.raises(SpecError, match="3 rows but Y0 has 2"):
        integrate_batch(system, np.ones((2, 2)), 10, {"alpha": 1, "beta": 1,
                                                      "c1": [1, 2, 3]})


def test_results_are_frozen():
    r = integrate(sd.derive("1-1-1", "rbp"), [0.1, 0.2], 10, {"alpha": 1, "beta": 1, "c1": 1})
    with pytest.raises(AttributeError):
        r.status = "x"
    assert r.converged and r.success and "converged" in repr(r)


@given(seed=st.integers(0, 2**32 - 1))
def test_convergence_monitor_remembers_first_decade_crossings(seed):
    """The decade bookkeeping of the convergence test equals a brute-force replay."""
    from symdyn.numerics._convergence import _DECADES
    from symdyn.numerics._convergence import Convergence as _Convergence

    rng = np.random.default_rng(seed)
    B, tol = 20, 1e-6
    f = 10 ** rng.uniform(-9, -2, B)
    mon = _Convergence(B, np.zeros(B), f, tol)
    history = [(0.0, f)]
    low = f.copy()
    for k in range(1, 30):
        f = low * 10 ** rng.uniform(-2.5, 1, B)
        f[rng.random(B) < 0.05] = 0.0
        mon._record(np.arange(B), np.full(B, float(k)), f)
        history.append((float(k), f))
        low = np.fmin(low, f)
    expect = np.full((B, _DECADES), np.nan)
    for t, f in history:
        for j, level in enumerate(mon.top - np.arange(_DECADES)):
            new = np.isnan(expect[:, j]) & (f < 10.0**level)
            expect[new, j] = t
    np.testing.assert_array_equal(mon.t_first, expect)


# -- blow-up is a result, not a hang (issue 13) -----------------------------------------------


@pytest.mark.parametrize("values, scale", [
    ({"alpha": 1e300, "beta": 1, "c1": 0.5}, 1.0),    # f near the top of floating point
    ({"alpha": 1, "beta": 1, "c1": 0.5}, 1e150),      # f overflows at the start
    ({"alpha": 1e200, "beta": 1e-200, "c1": 0.5}, 1.0),
])
def test_extreme_values_end_as_diverged_rows_quickly(values, scale):
    import time

    system = sd.derive("1-1-1", "rbp")
    Y0 = scale * np.random.default_rng(0).normal(size=(8, 2))
    start = time.perf_counter()
    res = sd.integrate_batch(system, Y0, 100.0, values, max_steps=2000)
    assert time.perf_counter() - start < 30
    assert set(res.status) <= {"diverged", "failed"}
    assert np.any(res.status == "diverged")
    assert np.all(np.isfinite(res.t)) and np.all(res.t <= 100.0)


def test_rms_does_not_overflow_near_the_top_of_floating_point():
    from symdyn.numerics._tableau import rms as _rms

    x = np.array([[1e300, 1e300], [0.0, 0.0], [np.inf, 1.0]])
    got = _rms(x)
    assert got[0] == pytest.approx(1e300)
    assert got[1] == 0.0 and got[2] == np.inf


def test_heaviside_of_nested_max_is_evaluated():
    """relu's f'(S) where S holds Max of Max (issue 13): sympy's numpy printing of Heaviside
    through its Piecewise rewrite nests numpy.select with float conditions ("invalid entry 0
    in condlist"); symdyn prints it as numpy.heaviside."""
    from symdyn.numerics._codegen import component_kernel

    a, b, c, d, e = sp.symbols("a b c d e")
    h = sp.Heaviside(e * sp.Max(0, c * sp.Max(0, a) + d * sp.Max(0, b)))
    kernel = component_kernel([a, b, c, d, e], [h * a] + [sp.Integer(0)] * 4, [])
    Y = np.array([[0.5, -0.7, 0.9, 0.3, 1.1], [0.5, -0.7, 0.9, 0.3, -1.1],
                  [-0.5, -0.7, 0.9, 0.3, 1.1]])
    got = kernel.function(Y)[:, 0]
    np.testing.assert_array_equal(got, [0.5, 0.0, -0.25])  # H(0) = 1/2 in the last row
