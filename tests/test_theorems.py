"""The theorems of proofs/p07-p09 and the corrections of docs/science.md: each key identity on
a case worked by hand, and the corrected 1-1-1 RBP limit statement."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdyn as sd
from symdyn.analysis import apriori_bound, reduce, sign_analysis
from symdyn.numerics import integrate_batch

EYE2 = sd.Moments(Sigma_II=np.eye(2), Sigma_TI=np.eye(2))


def _f(system, y, values=None):
    return np.asarray(system.numeric(values or {})(0.0, np.asarray(y, float)), float)


def test_autoencoder_reduction_by_hand():
    """2-1-2 RBP, c = (1, 2), u = (1, 0), v = (0, 1): by hand g = 5, p = 1, q = 2, r = 1, so
    dp/dt = g - p q = 3, dq/dt = p - q r = -1, w = 4/5 and dw/dt = -2 q w = -16/5."""
    s = sd.derive("2-1-2", "rbp", data=EYE2)
    c = np.array([1.0, 2.0])
    du_dv = _f(s, [1, 0, 0, 1], {"C1": c[None, :]})
    du, dv = du_dv[:2], du_dv[2:]
    assert c @ du == pytest.approx(3.0) and c @ dv == pytest.approx(-1.0)
    u = np.array([1.0, 0.0])
    dw = 2 * u @ du - 2 * (c @ u) * (c @ du) / 5
    assert dw == pytest.approx(-16 / 5)


@pytest.mark.parametrize("scale", [0.5, -2.0])
def test_autoencoder_rbp_fixed_point_is_the_projection_onto_c(scale):
    """A1 = s c, A2 = c / (s |c|^2) is fixed and P = c c^T / |c|^2 = [[1, 2], [2, 4]] / 5."""
    s = sd.derive("2-1-2", "rbp", data=EYE2)
    c = np.array([1.0, 2.0])
    y = np.r_[scale * c, c / (scale * 5)]
    assert np.abs(_f(s, y, {"C1": c[None, :]})).max() < 1e-14
    P = np.outer(y[2:], y[:2])
    np.testing.assert_allclose(P, np.array([[1, 2], [2, 4]]) / 5, atol=1e-14)
    # a BP fixed point off the channel's line is not an RBP fixed point (negative control)
    assert np.abs(_f(s, [1, 0, 1, 0], {"C1": c[None, :]})).max() > 0.5


def test_autoencoder_rbp_stability_sign_by_hand():
    """At s = -1 (c = (1, 2)) the eigenvalue -q = -1/s = 1 is positive: unstable; at s = 1
    every non-zero eigenvalue is negative."""
    s = sd.derive("2-1-2", "rbp", data=EYE2)
    c = np.array([1.0, 2.0])
    f = s.numeric({"C1": c[None, :]})
    for sv, unstable in ((1.0, False), (-1.0, True)):
        y = np.r_[sv * c, c / (sv * 5)]
        J = np.array([(f(0, y + 1e-6 * e) - f(0, y - 1e-6 * e)) / 2e-6 for e in np.eye(4)]).T
        ev = np.sort(np.linalg.eigvals(J).real)
        assert (ev.max() > 0.5) == unstable
        if not unstable:  # 0, -q, -r, -(q + r) with q = 1, r = 5
            np.testing.assert_allclose(ev, [-6, -5, -1, 0], atol=1e-5)


def test_existence_identity_by_hand_111():
    """1-1-1 RBP: Q = a1^2 + (a2 - c)^2 + c^2 has dQ/dt = 2 a1 a2 (alpha - beta a1 a2) (by
    hand: the c-terms cancel), and (2 + alpha^2) Q - dQ/dt >= 0 is certified exactly."""
    a1, a2, c1, alpha, beta = sp.symbols("a1 a2 c1 alpha beta")
    s = sd.derive("1-1-1", "rbp")
    Q = a1**2 + (a2 - c1) ** 2 + c1**2
    dQ = sum(sp.diff(Q, x) * f for x, f in zip(s.state, s.rhs, strict=True))
    assert sp.expand(dQ - 2 * a1 * a2 * (alpha - beta * a1 * a2)) == 0
    r = apriori_bound(s, Q, a=2 + alpha**2, assumptions=[beta > 0],
                      squares=[a1 - alpha * (a2 - c1), a1 - alpha * c1, a1, a2 - c1, c1, a1 * a2])
    assert r.status == "proved"
    assert apriori_bound(s, Q, a=1, assumptions=[beta > 0]).status != "proved"


def test_srbp_is_rbp_with_one_hidden_layer():
    assert sd.derive("2-2-3", "rbp").rhs == sd.derive("2-2-3", "srbp").rhs
    assert sd.derive("1-1-1-1", "rbp").rhs != sd.derive("1-1-1-1", "srbp").rhs


def test_tanh_chain_rbp_is_a_scaled_gradient_and_the_origin_is_not_fixed():
    """On data I = (1, -2), T = (1/2, -1): at (0, 0) the gradient of L vanishes but RBP moves
    a1 at rate c1 E[I T] = c1 (1/2 + 2)/2 = 5/4 c1; on a2 = 0 the loss is E[T^2]/2 = 5/16;
    and at a point a2 da1/dt = -c1 dL/da1 (finite differences)."""
    X, Y = np.array([[1.0], [-2.0]]), np.array([[0.5], [-1.0]])
    s = sd.derive("1-1-1", "rbp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
    f = s.numeric({"c1": 2.0})
    np.testing.assert_allclose(f(0, np.array([0.0, 0.0])), [2.0 * 5 / 4, 0.0], atol=1e-14)

    def L(a):
        return 0.5 * np.mean((Y[:, 0] - a[1] * np.tanh(a[0] * X[:, 0])) ** 2)

    assert L([3.7, 0.0]) == pytest.approx(5 / 16)
    y, h = np.array([0.4, -0.7]), 1e-6
    g = [(L(y + h * e) - L(y - h * e)) / (2 * h) for e in np.eye(2)]
    d = f(0, y)
    assert y[1] * d[0] == pytest.approx(-2.0 * g[0], rel=1e-7)
    assert d[1] == pytest.approx(-g[1], rel=1e-7)


def test_rbp_111_tangent_level_set_converges_to_the_tangent_point():
    """alpha = beta = c1 = 1, K = 3: the reduced cubic is -(a1 + 1)^2 (a1 - 2) / 2, whose
    double root -1 is semi-stable, and a start with a1 < -1 on that level set converges to
    (-1, -1), where a1^2 + c1 a2 = 0: not the attracting part of the hyperbola."""
    a1, K = sp.symbols("a1 K")
    s = sd.derive("1-1-1", "rbp")
    a2, c1 = s.state[1], s.parameters[0]
    red = reduce(s, invariants=[a1**2 - 2 * c1 * a2], solve_for=[a2])
    (k,) = red.constants
    g = red.rhs[0].subs({k: 3, c1: 1, sp.Symbol("alpha"): 1, sp.Symbol("beta"): 1})
    assert sp.factor(g - (-(a1 + 1) ** 2 * (a1 - 2) / 2)) == 0
    roots = {r.value: r.stability for r in sign_analysis(g, a1).roots}
    assert roots == {-1: "semi-stable", 2: "stable"}
    y0 = np.array([[-2.0, 0.5]])  # a1^2 - 2 c1 a2 = 3
    r = integrate_batch(s, y0, 2000.0, {"alpha": 1.0, "beta": 1.0, "c1": 1.0}, rtol=1e-11,
                        atol=1e-13, stop_on_convergence=False)
    x, y = r.y[0]
    assert -1.01 < x < -1.0 and abs(x * y - 1) < 1e-3 and abs(x**2 + y) < 0.02
