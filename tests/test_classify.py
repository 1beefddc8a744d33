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


def test_certificate_refuses_an_equilibrium_on_the_level_set():
    cert = certify_periodic(SLOW, [0.0, 1.0], laws=[x**2 + y**2])
    assert not cert.certified
    assert "equilibrium" in cert.message
    assert "1.0" in cert.message  # near (1, 0)


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
