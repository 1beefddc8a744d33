"""End-state classification and the closed-orbit certificate, on systems with known
answers (a harmonic oscillator, 1-1-1 BP, a finite-time blow-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

import symdyn as sd
from symdyn.numerics import integrate, integrate_batch
from symdyn.numerics._certify import certify_periodic, independent_laws
from symdyn.numerics._classify import classify, detect_period, section_crossings
from symdyn.spec import Moments

x, y, z, w = sp.symbols("x y z w")


@dataclass(frozen=True, eq=False)
class Toy:
    """A small ODE in the shape numerics accepts (component code, no parameters)."""

    state: tuple
    rhs: tuple
    parameters: tuple = ()
    network: object = field(default_factory=lambda: SimpleNamespace(
        is_scalar_chain=True, is_linear=False, sizes=(1, 1)))
    data: object = field(default_factory=Moments)
    matrix: object = field(default_factory=lambda: SimpleNamespace(
        parameters=(), values={}, state=(), rhs=()))
    title: str = "toy"

    @property
    def size(self) -> int:
        return len(self.state)

    def components(self, m):
        raise AssertionError("no matrix parameters")


OSC = Toy((x, y), (-y, x))  # x'' = -x: period 2 pi
BLOW = Toy((x,), (x**2,))  # y' = y^2 from y0: blow-up at t = 1/y0
# the flow of OSC slowed by g = (x-1)^2 + y^2: the circle x^2 + y^2 = 1 holds the
# equilibrium (1, 0), which the orbit from (0, 1) only approaches
SLOW = Toy((x, y), (-y * ((x - 1) ** 2 + y**2), x * ((x - 1) ** 2 + y**2)))


def test_harmonic_oscillator_is_periodic_with_period_two_pi():
    Y0 = np.array([[1.0, 0.0], [0.0, 2.0], [-0.3, 0.4]])
    r = integrate_batch(OSC, Y0, 50.0, rtol=1e-10, atol=1e-12)
    c = classify(OSC, r, tail=40.0, samples=4000, laws=[x**2 + y**2], certify=3)
    assert list(c.end) == ["periodic"] * 3
    np.testing.assert_allclose(c.period, 2 * np.pi, rtol=1e-6)
    np.testing.assert_allclose(c.amplitude, [1.0, 2.0, 0.5], rtol=1e-4)
    assert c.certified.all(), c.reason


def test_certificate_period_is_the_oscillators():
    cert = certify_periodic(OSC, [0.0, 3.0], laws=[x**2 + y**2])
    assert cert.certified
    assert abs(cert.period - 2 * np.pi) < 1e-7
    assert abs(cert.length - 2 * np.pi * 3) < 1e-5  # the circle of radius 3


STALL = "not certified: an equilibrium on the level set (the flow's speed along it vanishes)"


def test_certificate_refuses_an_equilibrium_on_the_level_set():
    # refused by the stall test (the flow's speed along the curve falls to speed_tol), not
    # by the fallback for a solver that gave up ("tracing stopped ...")
    cert = certify_periodic(SLOW, [0.0, 1.0], laws=[x**2 + y**2])
    assert not cert.certified
    assert cert.message.startswith(STALL), cert.message
    assert "1.0" in cert.message  # near (1, 0)


def test_certificate_stall_test_refuses_the_arbp_diagonal_through_a_fixed_point():
    # depth-3 ARBP at lam = 1: the diagonal a_h = c_h = t is a level curve through the fixed
    # point t = 1 (the control of deep-arbp-orbits); the flow's speed along it vanishes
    # quadratically there, where a cut-off in the tracer once made the solver fail first
    a1, a2, a3, c1, c2 = sp.symbols("a1 a2 a3 c1 c2")
    s = sd.derive("1-1-1-1", "arbp")
    laws = [c1 - a2, c2 - a3, a1**2 - c1**2, a2**2 - c2**2]
    cert = certify_periodic(s, np.full(5, 0.5), {"alpha": 1, "beta": 1}, laws=laws)
    assert not cert.certified and cert.message.startswith(STALL), cert.message
    assert "[1.0, 1.0, 1.0, 1.0, 1.0]" in cert.message
    # the curve is traced without the time t(s) (which diverges there): the trace ends at
    # the stall, a regular point of the level set
    from symdyn.numerics import follow_level_curve

    lc = follow_level_curve(s, np.full(5, 0.5), {"alpha": 1, "beta": 1}, laws=laws)
    assert lc.outcome == "converges" and lc.limit == "regular"


def test_certificate_refuses_too_few_laws_and_unbounded_level_sets():
    # 3-d rotation about the z axis: z and x^2 + y^2 conserved; with one law orbits are
    # surfaces, not curves
    rot = Toy((x, y, z), (-y, x, sp.Integer(0)))
    assert not certify_periodic(rot, [1.0, 0.0, 0.5], laws=[x**2 + y**2]).certified
    assert certify_periodic(rot, [1.0, 0.0, 0.5], laws=[x**2 + y**2, z]).certified
    # a hyperbolic saddle: x y conserved, level curves unbounded
    sad = Toy((x, y), (x, -y))
    cert = certify_periodic(sad, [1.0, 1.0], laws=[x * y], radius=50.0)
    assert not cert.certified and "ball" in cert.message


def test_independent_laws_counts_functional_rank_at_a_point():
    G = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0]])
    assert list(independent_laws(G)) in ([0, 2], [1, 2])


def test_bp_111_converges_to_the_minimum():
    s = sd.derive("1-1-1", "bp")
    Y0 = np.random.default_rng(1).normal(size=(50, 2))
    Y0[:, 1] = np.abs(Y0[:, 1]) + 0.1  # off the saddle's stable set a1 = -a2
    Y0[:, 0] = np.abs(Y0[:, 0]) + 0.1
    vals = {"alpha": 2.0, "beta": 1.0}
    r = integrate_batch(s, Y0, 200.0, vals)
    c = classify(s, r, vals)
    assert set(c.end) == {"converged"}
    assert set(c.endpoint) == {"minimum"}
    # oracle: P = a1 a2 = alpha / beta, excess loss beta (P - 2)^2 / 2
    P = c.y_end[:, 0] * c.y_end[:, 1]
    np.testing.assert_allclose(c.loss, 0.5 * (P - 2.0) ** 2, rtol=1e-9, atol=1e-15)
    assert np.all(c.loss < 1e-10)


def test_bp_111_saddle_is_a_critical_fixed_point_set():
    s = sd.derive("1-1-1", "bp")
    vals = {"alpha": 2.0, "beta": 1.0}
    r = integrate_batch(s, np.array([[0.5, -0.5]]), 200.0, vals)  # on the stable set
    c = classify(s, r, vals)
    assert c.end[0] == "converged" and c.endpoint[0] == "critical"
    assert c.loss[0] == pytest.approx(0.5 * 4.0, rel=1e-6)  # P = 0: excess beta*2^2/2


def test_finite_time_blow_up_diverges_near_one_over_y0():
    Y0 = np.array([[0.5], [1.0], [2.0]])
    r = integrate_batch(BLOW, Y0, 10.0)
    c = classify(BLOW, r)
    assert list(c.end) == ["diverged"] * 3
    np.testing.assert_allclose(c.t_end, 1 / Y0[:, 0], rtol=1e-6)


def test_single_run_is_classified():
    r = integrate(OSC, [1.0, 0.0], 10.0, stop_on_convergence=False)
    c = classify(OSC, r, tail=30.0, samples=3000)
    assert c.end[0] == "periodic" and c.period[0] == pytest.approx(2 * np.pi, rel=1e-6)


def test_short_horizon_and_drift_are_undecided():
    t = np.linspace(0, 8, 800)
    T, _, why = detect_period(t, np.c_[np.cos(t), np.sin(t)])
    assert np.isnan(T) and "horizon too short" in why
    t = np.linspace(0, 60, 6000)  # a slowly growing spiral is not periodic
    T, _, why = detect_period(t, np.exp(0.01 * t)[:, None] * np.c_[np.cos(t), np.sin(t)])
    assert np.isnan(T) and "do not repeat" in why


def test_two_crossings_per_period():
    # a figure-eight (Lissajous 1:2) crosses its principal section twice per period
    t = np.linspace(0, 40, 8000)
    Y = np.c_[np.sin(t), 0.4 * np.sin(2 * t)]
    T, _, why = detect_period(t, Y)
    assert T == pytest.approx(2 * np.pi, rel=1e-5), why
    times, pts, _, normal = section_crossings(t, Y)
    assert len(times) >= 6


def test_failed_rows_are_undecided_with_the_reason():
    r = integrate_batch(OSC, np.array([[1.0, 0.0]]), 1e4, max_steps=10)
    c = classify(OSC, r)
    assert c.end[0] == "undecided" and "failed" in c.reason[0]


def _crossings_loop(t, Y, point, normal):
    """The oracle: one crossing at a time, numpy's polyfit and roots (the classifier's former
    code)."""
    s = (Y - point) @ normal
    idx = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    idx = idx[(idx >= 1) & (idx + 1 < len(s))]
    times, points = [], []
    for i in idx:
        j = np.array([i - 1, i, i + 1]) if s[i + 1] - s[i] < s[i] - s[i - 1] or i + 2 >= len(s) \
            else np.array([i, i + 1, i + 2])
        x = (t[j] - t[i]) / (t[i + 1] - t[i])
        c = np.polyfit(x, s[j], 2)
        roots = np.roots(c)
        roots = roots[np.isreal(roots)].real
        roots = roots[(roots >= -1e-9) & (roots <= 1 + 1e-9)]
        u = float(roots[0]) if roots.size else float(-s[i] / (s[i + 1] - s[i]))
        L = [np.prod([(u - x[m]) / (x[k] - x[m]) for m in range(3) if m != k]) for k in range(3)]
        times.append(t[i] + u * (t[i + 1] - t[i]))
        points.append(np.einsum("k,kn->n", np.array(L), Y[j]))
    return np.array(times), np.array(points).reshape(-1, Y.shape[1])


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_section_crossings_equal_the_loop(seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 60, 3000))  # uneven samples
    w = rng.uniform(0.5, 3, 3)
    Y = np.c_[np.sin(w[0] * t), 0.5 * np.cos(w[1] * t + 1), 0.3 * np.sin(w[2] * t) + 0.01 * t]
    times, pts, point, normal = section_crossings(t, Y)
    want_t, want_p = _crossings_loop(t, Y, point, normal)
    assert len(times) == len(want_t) > 5
    np.testing.assert_allclose(times, want_t, rtol=0, atol=1e-9 * t[-1])
    np.testing.assert_allclose(pts, want_p, rtol=0, atol=1e-9)


# -- negative controls: signals a careless classifier would call periodic or converged -------

MU = sp.Rational(1, 50)
# r' = mu r (1 - r^2), theta' = 1: every start spirals onto the unit circle (period 2 pi)
HOPF = Toy((x, y), (MU * x * (1 - x**2 - y**2) - y, MU * y * (1 - x**2 - y**2) + x))


def _spiral(t, A=0.05, tau=10.0):
    """A spiral closing in on the unit circle: radius 1 + A exp(-t / tau)."""
    return (1 + A * np.exp(-t / tau))[:, None] * np.c_[np.cos(t), np.sin(t)]


def test_returns_that_repeat_only_late_are_not_a_period():
    # successive returns differ by 6.8e-3, 3.6e-3, 1.9e-3, then less than xtol = 1e-3 of the
    # orbit's size: some returns repeat, not all, so the signal is not periodic
    t = np.linspace(0, 60, 6000)
    times, pts, _, _ = section_crossings(t, _spiral(t))
    gaps = np.linalg.norm(np.diff(pts, axis=0), axis=1) / (2 * np.ptp(_spiral(t)[:, 0]) / 2)
    assert np.sum(gaps > 1e-3) >= 3 and np.sum(gaps <= 1e-3) >= 3  # the control is sharp
    T, _, why = detect_period(t, _spiral(t))
    assert np.isnan(T) and "do not repeat" in why
    # the same spiral later, once every return repeats, is periodic: the test can say yes
    late = np.linspace(80, 140, 6000)
    T, _, why = detect_period(late, _spiral(late))
    assert T == pytest.approx(2 * np.pi, rel=1e-6), why


def test_spiral_still_closing_in_on_its_limit_cycle_is_undecided():
    r = integrate_batch(HOPF, np.array([[0.5, 0.0], [1.0, 0.0]]), 10.0)
    c = classify(HOPF, r, tail=50.0, samples=2000)
    assert c.end[0] == "undecided" and "do not repeat" in c.reason[0]
    assert c.end[1] == "periodic"  # on the cycle from the start
    # followed long enough, the spiral has closed in: periodic, the cycle's period
    r = integrate_batch(HOPF, np.array([[0.5, 0.0]]), 600.0)
    c = classify(HOPF, r, tail=100.0, samples=2000)
    assert c.end[0] == "periodic" and c.period[0] == pytest.approx(2 * np.pi, rel=1e-6)


def test_slow_convergence_is_neither_periodic_nor_converged():
    # a focus with decay rate 1e-3 (radius shrinks 0.6% per turn: each return misses the
    # last by six times xtol), and x' = -x^3 (algebraic decay, never within tol by t = 100)
    eps = sp.Rational(1, 1000)
    focus = Toy((x, y), (-eps * x - y, x - eps * y))
    r = integrate_batch(focus, np.array([[1.0, 0.0]]), 100.0)
    c = classify(focus, r, tail=100.0, samples=2000)
    assert r.status[0] == "running"
    assert c.end[0] == "undecided" and "do not repeat" in c.reason[0]
    cubic = Toy((x,), (-x**3,))
    r = integrate_batch(cubic, np.array([[1.0]]), 100.0)
    c = classify(cubic, r, tail=100.0)
    assert c.end[0] == "undecided" and "still creeping" in c.reason[0]


@pytest.mark.parametrize("arch,rule", [("2-2-2", "bp"), ("2-3-2", "rbp"), ("2-2-2-2", "srbp")])
def test_excess_loss_of_matrix_chains(arch, rule):
    # at a point built to have A_L ... A_1 = Sigma_TI Sigma_II^-1 the excess loss is zero;
    # at a random point it is L(P) - L(P*), L(P) = tr(P S P^T)/2 - tr(P Sti^T) computed here
    from symdyn.numerics._classify import excess_loss

    s = sd.derive(arch, rule)
    sizes = s.network.sizes
    rng = np.random.default_rng(7)
    M = rng.normal(size=(sizes[0], sizes[0]))
    Sii = M @ M.T + sizes[0] * np.eye(sizes[0])
    Sti = rng.normal(size=(sizes[-1], sizes[0]))
    values = {"Sigma_II": Sii, "Sigma_TI": Sti}
    for p in s.matrix.parameters:
        if p.name.startswith("C"):
            values[p.name] = rng.normal(size=(int(p.rows), int(p.cols)))
    Pstar = Sti @ np.linalg.inv(Sii)
    layers = [rng.normal(size=(sizes[h + 1], sizes[h])) for h in range(len(sizes) - 1)]
    inner = layers[0]
    for A in layers[1:-1]:
        inner = A @ inner
    layers[-1] = Pstar @ np.linalg.pinv(inner)  # inner has full column rank: A_L inner = P*

    def state(mats):  # the state vector by the system's own component names
        by_name = {f"A{h + 1}_{i + 1}_{j + 1}": float(m[i, j]) for h, m in enumerate(mats)
                   for i in range(m.shape[0]) for j in range(m.shape[1])}
        return np.array([by_name.get(str(v), 0.0) for v in s.state])

    def loss(P):
        return 0.5 * np.trace(P @ Sii @ P.T) - np.trace(P @ Sti.T)

    at_min = excess_loss(s, state(layers), values)
    assert abs(at_min[0]) <= 1e-10 * loss(Pstar).__abs__()
    other = [rng.normal(size=m.shape) for m in layers]
    P = other[0]
    for A in other[1:]:
        P = A @ P
    np.testing.assert_allclose(excess_loss(s, state(other), values), loss(P) - loss(Pstar),
                               rtol=1e-10)


# -- a start classified by its level curve, without a time horizon ---------------------------


def test_level_curve_finds_the_double_zero_of_the_speed():
    """SLOW's speed along the circle touches 0 at (1, 0) without changing sign: the stall is
    found by the minimum of the speed, not by a solver failure or a threshold between steps."""
    from symdyn.numerics import follow_level_curve

    lc = follow_level_curve(SLOW, [0.0, 1.0], laws=[x**2 + y**2])
    assert lc.outcome == "converges" and lc.limit == "regular"
    np.testing.assert_allclose(lc.point, [1.0, 0.0], atol=1e-6)
    assert abs(lc.length - 1.5 * np.pi) < 1e-6  # a quarter turn short of the full circle


def test_level_curve_ends_in_a_singular_point():
    # x' = 2y, y' = 2x conserves x^2 - y^2; from (1, -1) the orbit runs into the saddle at
    # the origin, where the gradient of the law vanishes
    from symdyn.numerics import follow_level_curve

    sad = Toy((x, y), (2 * y, 2 * x))
    lc = follow_level_curve(sad, [1.0, -1.0], laws=[x**2 - y**2])
    assert lc.outcome == "converges" and lc.limit == "singular", lc.message
    assert np.max(np.abs(lc.point)) < 1e-6
    away = follow_level_curve(sad, [1.0, 1.0], laws=[x**2 - y**2], radius=50.0)
    assert away.outcome == "unbounded"


def _arbp3():
    s = sd.derive("1-1-1-1", "arbp")
    a1, a2, a3, c1, c2 = s.state
    return s, [c1 - a2, c2 - a3, a1**2 - c1**2, a2**2 - c2**2]


def test_level_curve_of_deep_arbp_starts():
    from symdyn.numerics import follow_level_curve

    s, laws = _arbp3()
    vals = {"alpha": 1.0, "beta": 1.0}
    lc = follow_level_curve(s, np.full(5, 0.5), vals, laws=laws)  # the diagonal: a_h = c_h
    assert lc.outcome == "converges" and lc.limit == "regular"
    np.testing.assert_allclose(lc.point, 1.0, atol=1e-6)
    # a start found periodic by its section returns (deep-arbp-orbits, d = 3, s = 0.1)
    y0 = 0.1 * np.random.default_rng(3010).normal(size=(12, 5))[3]
    lc = follow_level_curve(s, y0, vals, laws=laws)
    assert lc.outcome == "periodic"
    r = integrate(s, y0, lc.period, vals, rtol=1e-11, atol=1e-13, stop_on_convergence=False)
    assert np.max(np.abs(r.y_final - y0)) < 1e-5  # back at the start after one period


def test_classify_decides_a_short_horizon_by_the_level_curve():
    s, laws = _arbp3()
    vals = {"alpha": 1.0, "beta": 1.0}
    y0 = 0.1 * np.random.default_rng(3010).normal(size=(12, 5))[[3, 0]]
    r = integrate_batch(s, y0, 5.0, vals, tol=1e-8)  # far too short for either
    c = classify(s, r, vals, tail=5.0, decide=0)
    assert list(c.end) == ["undecided", "undecided"] and list(c.route) == ["", ""]
    c = classify(s, r, vals, tail=5.0, laws=laws)
    assert list(c.end) == ["periodic", "converged"], c.reason
    assert list(c.route) == ["level curve", "level curve"]
    assert c.certified[0] and abs(c.period[0] - 76.23) < 0.01
    assert c.endpoint[1] == "minimum" and "level curve" in c.reason[1]
