"""The vectorised level-curve tracer (the sweep's route past the time horizon) against the
per-row tracer, the time-horizon classifier where both decide, and a negative control."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

import symdyn as sd
from symdyn.numerics import follow_level_curve, integrate_batch
from symdyn.numerics._classify import ROUTES, classify
from symdyn.numerics._level_batch import follow_level_curves

sys.path.insert(0, str(Path(__file__).parent))
from test_classify import OSC, SLOW, Toy, x, y  # noqa: E402

VALS = {"alpha": 1.0, "beta": 1.0}


def _arbp(d: int, lam: float = 1.0):
    """A scalar ARBP chain and its 2(d - 1) laws c_h - lam a_{h+1}, lam a_h^2 - c_h^2
    (proofs/p06_deep_arbp_orbits.py)."""
    s = sd.derive("-".join(["1"] * (d + 1)), "arbp", rate_ratio=lam)
    a, c = s.state[:d], s.state[d:]
    return s, ([c[h] - lam * a[h + 1] for h in range(d - 1)]
               + [lam * a[h] ** 2 - c[h] ** 2 for h in range(d - 1)])


def _same(batch, ref, *, period_rtol=1e-5, point_atol=1e-5):
    assert [b.outcome for b in batch] == [r.outcome for r in ref]
    for b, r in zip(batch, ref, strict=True):
        if r.outcome == "periodic":
            assert abs(b.period - r.period) <= period_rtol * r.period, (b.period, r.period)
            assert abs(b.length - r.length) <= 1e-5 * r.length
        elif r.outcome == "converges":
            assert b.limit == r.limit
            np.testing.assert_allclose(b.point, r.point, atol=point_atol)


def test_batched_tracer_equals_the_per_row_tracer_on_deep_arbp_starts():
    s, laws = _arbp(3)
    rng = np.random.default_rng(21)
    Y0 = np.concatenate([rng.normal(size=(6, 5)), 0.1 * rng.normal(size=(6, 5))])
    ref = [follow_level_curve(s, y0, VALS, laws=laws, rtol=1e-8, atol=1e-10) for y0 in Y0]
    batch = follow_level_curves(s, Y0, VALS, laws=laws, rtol=1e-8, atol=1e-10)
    assert {"periodic", "converges"} <= {r.outcome for r in ref}  # both kinds in the sample
    _same(batch, ref)


def test_batched_tracer_on_known_curves():
    # the oscillator's circles: period 2 pi; the saddle: a singular stall at the origin, and
    # an unbounded branch; SLOW's speed touches 0 on its unit circle without changing sign:
    # not located, so that closed curve is left undecided, never called periodic
    osc = follow_level_curves(OSC, [[1.0, 0.0], [0.0, 2.0]], laws=[x**2 + y**2])
    assert [c.outcome for c in osc] == ["periodic", "periodic"]
    np.testing.assert_allclose([c.period for c in osc], 2 * np.pi, rtol=1e-7)
    sad = Toy((x, y), (2 * y, 2 * x))
    ends = follow_level_curves(sad, [[1.0, -1.0], [1.0, 1.0]], laws=[x**2 - y**2],
                               radius=50.0)
    assert (ends[0].outcome, ends[0].limit) == ("converges", "singular")
    assert np.max(np.abs(ends[0].point)) < 1e-6 and ends[1].outcome == "unbounded"
    slow = follow_level_curves(SLOW, [[0.0, 1.0], [0.0, 2.0]], laws=[x**2 + y**2])
    assert slow[0].outcome == "undecided" and "nearly vanishes" in slow[0].message
    assert slow[1].outcome == "periodic"


def test_arbp_diagonal_through_the_fixed_point_is_a_regular_stall():
    # the negative control of deep-arbp-orbits: a_h = c_h = t is a level curve through the
    # fixed point t = 1; the batched tracer places the stall where the speed changes sign
    s, laws = _arbp(3)
    lc = follow_level_curves(s, np.full((1, 5), 0.5), VALS, laws=laws)[0]
    assert (lc.outcome, lc.limit) == ("converges", "regular")
    np.testing.assert_allclose(lc.point, 1.0, atol=1e-9)


def test_small_starts_are_traced_not_taken_for_equilibria():
    """Depth 4 at initial scale 0.02: |f| ~ 1e-7, below the per-row tracer's absolute speed
    threshold 1e-8 at some starts, which it then calls equilibria; the batched tracer judges
    speeds relative to the curve's own and agrees with the per-row tracer run with a
    threshold far below every speed met."""
    s, laws = _arbp(4)
    Y0 = 0.02 * np.random.default_rng(7).normal(size=(3, 7))
    batch = follow_level_curves(s, Y0, VALS, laws=laws, rtol=1e-8, atol=1e-10)
    ref = [follow_level_curve(s, y0, VALS, laws=laws, rtol=1e-8, atol=1e-10, speed_tol=1e-20)
           for y0 in Y0]
    assert all(b.outcome in ("periodic", "converges") for b in batch)
    _same(batch, ref, period_rtol=1e-4)


def test_level_curve_route_agrees_with_the_horizon_where_both_decide():
    """The sweep's classification row by row: with the laws, rows the horizon decides keep
    their verdict (route "integrator" or "returns"), the others are decided by their level
    curve (route "level curve"); on the rows the horizon decides, the level curve gives the
    same verdict (period within 1%, the same limit). Negative control: the laws of another
    rate ratio (not first integrals here) make the comparison fail."""
    s, laws = _arbp(3)
    # five starts the horizon decides (one periodic, period 9.03), and the start of period
    # 76.23 of test_classify, which a horizon of 60 leaves undecided
    Y0 = np.concatenate([0.5 * np.random.default_rng(5).normal(size=(5, 5)),
                         0.1 * np.random.default_rng(3010).normal(size=(12, 5))[[3, 0]]])
    r = integrate_batch(s, Y0, 60.0, VALS, tol=1e-8)
    opts = dict(tail=60.0, samples=100, fine=1000)
    horizon = classify(s, r, VALS, decide=0, **opts)
    both = classify(s, r, VALS, laws=laws, **opts)
    by_h = horizon.end != "undecided"
    assert 3 <= by_h.sum() < len(Y0)  # the sample has rows of both routes
    assert {"converged", "periodic"} <= set(horizon.end[by_h])
    np.testing.assert_array_equal(both.end[by_h], horizon.end[by_h])
    np.testing.assert_array_equal(both.period[by_h], horizon.period[by_h])
    assert set(both.route[by_h]) <= {"integrator", "returns"} and set(ROUTES) >= set(both.route)
    assert set(both.route[~by_h]) == {"level curve"} and (both.end != "undecided").all()
    assert set(horizon.route[~by_h]) == {""}

    def agree(curves) -> list[bool]:
        out = []
        for i, lc in zip(np.flatnonzero(by_h), curves, strict=True):
            if horizon.end[i] == "periodic":
                out.append(lc.outcome == "periodic"
                           and abs(lc.period - horizon.period[i]) <= 1e-2 * horizon.period[i])
            else:
                out.append(lc.outcome == "converges"
                           and np.max(np.abs(lc.point - horizon.y_end[i])) <= 1e-3)
        return out

    ends = horizon.y_end[by_h]
    assert all(agree(follow_level_curves(s, ends, VALS, laws=laws)))
    wrong = _arbp(3, lam=2.0)[1]
    wrong = [sp.sympify(w) for w in wrong]
    assert not all(agree(follow_level_curves(s, ends, VALS, laws=wrong)))


def test_laws_given_as_text_are_refused_never_parsed(tmp_path):
    """Laws are sympy expressions; text (user input) is refused by both tracers, not handed
    to ``sympify``, which would evaluate it."""
    s, laws = _arbp(3)
    marker = tmp_path / "ran"
    text = [f"__import__('pathlib').Path({str(marker)!r}).touch()"] + [str(h) for h in laws[1:]]
    one = follow_level_curve(s, np.full(5, 0.5), VALS, laws=text)
    (batch,) = follow_level_curves(s, np.full((1, 5), 0.5), VALS, laws=text)
    for lc in (one, batch):
        assert lc.outcome == "undecided" and "sympy expression" in lc.message
    assert not marker.exists()
    assert follow_level_curve(s, np.full(5, 0.5), VALS, laws=laws).outcome == "converges"


def test_a_failed_integration_is_decided_by_its_level_curve():
    """A row of the phase diagram (depth 4, lambda = 2, scale 2) whose integration spends its
    step limit on thousands of fast turns of a closed orbit: classify traces the level curve
    from where the integrator stopped. The period is checked by an independent route: scipy's
    DOP853 on sympy's lambdified right-hand side, timed between two returns to a section."""
    from scipy.integrate import solve_ivp

    s, laws = _arbp(4, 2.0)
    y0 = np.array([[-1.51775787, -2.66962883, -1.07796523, 0.17679675, 2.18358085,
                    -1.43852986, -4.36636014]])
    r = integrate_batch(s, y0, 2000.0, VALS, tol=1e-8, rtol=1e-8, atol=1e-10, max_steps=300,
                        backend="numpy")
    assert r.status[0] == "failed" and r.t[0] < 20
    alone = classify(s, r, VALS, rtol=1e-8, atol=1e-10)  # no laws: left to the caller
    assert alone.end[0] == "undecided" and "integration failed" in alone.reason[0]
    c = classify(s, r, VALS, rtol=1e-8, atol=1e-10, laws=laws)
    assert (c.end[0], c.route[0], bool(c.certified[0])) == ("periodic", "level curve", True)
    assert "integration failed" in c.reason[0]

    f = sp.lambdify([s.state], [e.subs(VALS) for e in s.rhs])
    start = c.y_end[0]
    section = lambda t, y: y[0] - start[0]  # noqa: E731
    section.direction = float(np.sign(f(start)[0]))
    sol = solve_ivp(lambda t, y: f(y), (0, 10 * c.period[0]), start, method="DOP853",
                    rtol=1e-11, atol=1e-12, events=section)
    times, states = sol.t_events[0], sol.y_events[0]
    times, states = times[times > 1e-6], states[times > 1e-6]  # the start itself
    np.testing.assert_allclose(states[0], start, atol=1e-6)  # back where it began: closed
    assert abs(times[0] - c.period[0]) <= 1e-6 * c.period[0], (times[0], c.period[0])
