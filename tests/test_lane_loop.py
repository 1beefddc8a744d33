"""The lane loop (``numerics/_lane_loop.py``: rows side by side, for matrix code) against the
per-row loop it must reproduce step for step. Both run here as plain Python (the program's
text loaded without numba, so no compile and IEEE arithmetic without fused multiply-adds):
every result must then be equal bit for bit, whatever the rows do (rejections, convergence,
blow-up, dense output, a lane taking a new row). The compiled pair is compared on 10-10-10
RBP in test_loopgen (slow)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdyn as sd
from symdyn.numerics import _compiled, _rkgen
from symdyn.numerics._tableau import TABLEAUS

pytest.importorskip("numba")  # backend="numba" is checked for numba before the program

SYSTEMS = {(a, r): sd.derive(a, r) for a, r in [("2-2-2", "rbp"), ("1-2-1", "bp"),
                                                ("2-1-2", "srbp"), ("1-1-1-1", "arbp")]}
FIELDS = ("t", "y", "status", "nfev", "nsteps", "stiff", "y_eval")


@pytest.fixture
def plain(monkeypatch, tmp_path):
    """The compiled backend with plain-Python programs and 4 lanes; ``mutate(old, new)``
    edits the lane code (negative controls)."""
    monkeypatch.setenv("SYMDYN_CACHE", str(tmp_path))
    monkeypatch.setattr(_rkgen, "LANES", 4)
    edits: list = []

    def program(system, tab=None, form="component"):
        template, generated, _ = _compiled.program_text(system, tab or TABLEAUS["DOP853"],
                                                        form)
        for old, new in edits:
            assert old in generated
            generated = generated.replace(old, new)
        return _compiled.load_program(template, generated, jit=False)

    monkeypatch.setattr(_compiled, "rk_program", program)
    return lambda old, new: edits.append((old, new))


def _values(system, rng):
    out = {}
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        a = rng.normal(size=(p.rows, p.cols)) / 2
        out[p.name] = a @ a.T + np.eye(p.rows) if p.name == "Sigma_II" else a
    return out


def _run(system, Y0, t_final, values, lanes: bool, **kw):
    _compiled.LANE_LOOP = lanes
    try:
        return sd.integrate_batch(system, Y0, t_final, values, backend="numba",
                                  form="matrix", **kw)
    finally:
        _compiled.LANE_LOOP = True


def _assert_same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if x is None or y is None:
            assert x is y, f
        else:
            np.testing.assert_array_equal(x, y, err_msg=f)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(SYSTEMS)), rows=st.integers(1, 11),
       scale=st.sampled_from([0.1, 1.0, 4.0, 12.0]), t_final=st.sampled_from([0.5, 3.0, 8.0]),
       method=st.sampled_from(["DOP853", "RK45"]), stop=st.booleans(),
       dense=st.booleans(), max_norm=st.sampled_from([1e6, 20.0]), seed=st.integers(0, 2**16))
def test_lanes_reproduce_the_rows_bit_for_bit(plain, key, rows, scale, t_final, method, stop,
                                              dense, max_norm, seed):
    """Drawn systems, starts (small to large: rows converge, run on, or pass ``max_norm``),
    horizons, pairs and options; 4 lanes, so rows past the fourth wait for a lane."""
    system = SYSTEMS[key]
    rng = np.random.default_rng(seed)
    values = _values(system, rng)
    Y0 = rng.normal(scale=scale, size=(rows, system.size))
    kw = dict(method=method, stop_on_convergence=stop, rtol=1e-6, atol=1e-9,
              t_eval=np.linspace(0, t_final, 5) if dense else None, max_norm=max_norm)
    _assert_same(_run(system, Y0, t_final, values, True, **kw),
                 _run(system, Y0, t_final, values, False, **kw))


def test_lanes_with_activations_and_data(plain):
    """tanh BP on 12 samples (element-wise functions, Hadamard products, transposes, numeric
    data matrices) and the per-row loop: the same bits, dense output included."""
    rng = np.random.default_rng(5)
    data = sd.Dataset(X=rng.normal(size=(12, 2)), Y=rng.normal(size=(12, 2)))
    system = sd.derive("2-3-2", "bp", activation="tanh", data=data)
    Y0 = rng.normal(scale=0.5, size=(6, system.size))
    kw = dict(t_eval=np.linspace(0, 2, 3), rtol=1e-6, atol=1e-9)
    _assert_same(*(_run(system, Y0, 2.0, {}, lanes, **kw) for lanes in (True, False)))


def test_lanes_take_rows_in_turn_and_keep_their_limits(plain):
    """Nine rows in four lanes with a step limit: every row stops on its own limit (the
    counters are the row's, not the lane's), the same as row by row."""
    system = SYSTEMS["2-2-2", "rbp"]
    rng = np.random.default_rng(1)
    values = _values(system, rng)
    Y0 = rng.normal(size=(9, system.size))
    a, b = (_run(system, Y0, 50.0, values, lanes, max_steps=7) for lanes in (True, False))
    _assert_same(a, b)
    assert np.all(a.status == "failed") and np.all(a.nsteps == 7)


@pytest.mark.parametrize("old, new", [
    ("hs[r] * (0.0 + ", "hs[0] * (0.0 + "),  # every lane stepped with lane 0's step size
    ("errs[r] = abs(hs[r])", "errs[r] = 0.5 * abs(hs[r])"),  # a lenient error norm
])
def test_a_broken_lane_loop_is_caught(plain, old, new):
    """Negative controls: the comparison above fails on lane code with one fault."""
    plain(old, new)
    system = SYSTEMS["2-2-2", "rbp"]
    rng = np.random.default_rng(2)
    values = _values(system, rng)
    Y0 = rng.normal(size=(6, system.size))
    a, b = (_run(system, Y0, 3.0, values, lanes) for lanes in (True, False))
    with pytest.raises(AssertionError):
        _assert_same(a, b)
