"""The building blocks of convergence proofs against hand-worked cases: exact sign analysis,
Lyapunov/LaSalle checks, a-priori bounds, chain reductions (one depth and every depth)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import symdyn as sd
from symdyn.analysis import (
    apriori_bound,
    chain_induction,
    chain_invariants,
    chain_reduction,
    lyapunov_check,
    prove_nonnegative,
    sign_analysis,
)
from symdyn.errors import AnalysisError, SpecError

x, y, z = sp.symbols("x y z")
alpha, beta, c1, c2, K = sp.symbols("alpha beta c1 c2 K")


# -- sign analysis ------------------------------------------------------------------------------


def test_cubic_with_three_roots():
    # x' = x - x^3 = -x (x - 1)(x + 1): g > 0 on (-inf, -1) and (0, 1), < 0 elsewhere
    r = sign_analysis(-x**3 + x, x)
    assert r.status == "proved" and r.degree == 3 and r.leading_sign == -1
    assert [rt.value for rt in r.roots] == [-1, 0, 1]
    assert [rt.stability for rt in r.roots] == ["stable", "unstable", "stable"]
    for rt in r.roots:
        lo, hi = rt.interval
        assert lo <= rt.value <= hi and rt.multiplicity == 1
        assert -r.root_bound < lo and hi < r.root_bound  # Cauchy: 1 + max |a_i / a_n| = 2
    assert r.root_bound == 2
    assert r.kind == "reduction+sign" and "proof" in r.theorem_latex()


def test_cubic_roots_agree_with_integration():
    """Each start converges to the root the analysis predicts (solve_ivp as the oracle)."""
    r = sign_analysis(-x**3 + x, x)
    stable = [float(rt.value) for rt in r.stable]
    for x0 in (-3.0, -0.5, 0.2, 0.9, 2.5):
        sol = solve_ivp(lambda t, u: u - u**3, (0, 40), [x0], rtol=1e-10, atol=1e-12)
        end = sol.y[0, -1]
        expected = -1.0 if x0 < 0 else 1.0  # the stable root on the side of the start
        assert expected in stable and abs(end - expected) < 1e-6


def test_positive_leading_coefficient_is_refuted():
    r = sign_analysis(x**3, x)
    assert r.status == "refuted"
    start = r.counterexample["x"]
    assert start > max(rt.interval[1] for rt in r.roots)  # beyond every root
    assert (start**3) > 0  # and the field points away from them


def test_even_degree_is_refuted_on_the_side_it_points():
    r = sign_analysis(-x**2, x)
    assert r.status == "refuted" and r.counterexample["x"] < 0
    assert r.roots[0].stability == "semi-stable" and r.roots[0].multiplicity == 2


def test_multiple_and_irrational_roots():
    r = sign_analysis(-(x - 1)**2 * (x + 2), x)
    assert r.status == "proved"
    assert [(rt.value, rt.multiplicity, rt.stability) for rt in r.roots] == [
        (-2, 1, "stable"), (1, 2, "semi-stable")]
    r = sign_analysis(2 * x - x**3, x)
    values = [float(rt.value) for rt in r.roots]
    assert np.allclose(values, [-np.sqrt(2), 0, np.sqrt(2)])
    for rt in r.roots:
        assert rt.interval[0] <= float(rt.value) <= rt.interval[1]


def test_symbolic_leading_coefficient_under_assumptions():
    assert sign_analysis(1 - beta * x**3, x, [beta > 0]).status == "proved"
    assert sign_analysis(1 - beta * x**3, x).status == "inconclusive"
    assert sign_analysis(1 - beta * x**3, x, [beta < 0]).status == "refuted"
    # the 1-1-1 RBP cubic of the papers' reduction (PAPER.md section 4)
    cubic = alpha * c1 - beta / 2 * x * (x**2 - K)
    r = sign_analysis(cubic, x, [beta > 0])
    assert r.status == "proved" and r.leading_coefficient == -beta / 2 and r.roots is None


def test_sign_analysis_rejects_bad_input():
    with pytest.raises(AnalysisError):
        sign_analysis(sp.exp(x), x)
    with pytest.raises(SpecError):
        sign_analysis(x, "x")
    with pytest.raises(SpecError):
        sign_analysis(x, x, [x + beta > 0])


# -- non-negativity, Lyapunov, LaSalle ----------------------------------------------------------


def test_prove_nonnegative():
    assert prove_nonnegative(x**2 + y**2, [x, y]).status == "proved"
    assert prove_nonnegative(beta * x**2, [x], [beta > 0]).status == "proved"
    refuted = prove_nonnegative(beta * x**2, [x])  # beta may be negative
    assert refuted.status == "refuted" and refuted.counterexample["value"] < 0
    r = prove_nonnegative(x**2 - y**2, [x, y])
    assert r.status == "refuted"
    cx = r.counterexample
    assert sp.Integer(cx["x"])**2 - sp.Integer(cx["y"])**2 < 0
    sq = prove_nonnegative(x**2 + 2 * x * y + 2 * y**2, [x, y], squares=[x + y, y])
    assert sq.status == "proved" and sq.method in ("squares", "terms", "factors")


def test_lyapunov_decay():
    r = lyapunov_check({x: -x}, x**2)
    assert r.status == "proved" and r.derivative == -2 * x**2
    assert r.equilibria_only and r.invariant_set == (x,)


def test_lyapunov_increasing_v_is_refuted():
    r = lyapunov_check({x: x - x**3}, x**2)
    assert r.status == "refuted"
    point = sp.Rational(r.counterexample["x"])
    assert 2 * point * (point - point**3) > 0  # dV/dt > 0 there, computed by hand


def test_lasalle_damped_oscillator():
    # V' = -2 y^2 vanishes on y = 0; the largest invariant set in it is the origin
    r = lyapunov_check({x: y, y: -x - y}, x**2 + y**2)
    assert r.status == "proved" and r.equilibria_only
    assert set(r.invariant_set) == {x, y}


def test_lasalle_conservative_system_is_not_equilibria():
    r = lyapunov_check({x: y, y: -x}, x**2 + y**2)
    assert r.status == "proved" and r.derivative == 0 and r.equilibria_only is False


def test_lyapunov_anti_damped_is_refuted():
    assert lyapunov_check({x: y, y: -x + y}, x**2 + y**2).status == "refuted"


def test_bp_chain_loss_is_a_lyapunov_function():
    s = sd.derive("1-1-1-1", "bp")
    a1, a2, a3 = s.state
    loss = (alpha - beta * a1 * a2 * a3)**2 / (2 * beta)
    r = lyapunov_check(s, loss, assumptions=[beta > 0])
    assert r.status == "proved" and r.equilibria_only
    # dL/dt = -|grad L|^2 = -sum f_h^2: by hand, BP's f is minus the gradient
    assert sp.expand(r.derivative + sum(f**2 for f in s.rhs)) == 0


# -- a-priori bounds ----------------------------------------------------------------------------


def test_apriori_bound_rotation_and_growth():
    r = apriori_bound({x: y, y: -x}, x**2 + y**2)
    assert r.status == "proved" and r.global_existence
    r = apriori_bound({x: x}, x**2, a=2)
    assert r.status == "proved" and r.global_existence
    assert apriori_bound({x: x}, x**2, a=1).status == "refuted"


def test_apriori_bound_blow_up_is_refuted():
    # x' = x^2 blows up at t = 1/x0: no bound dQ/dt <= aQ + b can hold
    for a in (1, 2, 10):
        assert apriori_bound({x: x**2}, x**2, a=a, b=a).status == "refuted"


def test_apriori_bound_without_properness():
    r = apriori_bound({x: -x, y: y}, x**2, a=0)
    assert r.status == "proved" and not r.global_existence


# -- chains -------------------------------------------------------------------------------------


def test_chain_reduction_matches_hand_computation():
    # depth 2: the cubic of PAPER.md, leading coefficient -beta/2
    r2 = chain_reduction("rbp", 2)
    assert r2.status == "proved" and r2.sign.degree == 3
    assert sp.simplify(r2.sign.leading_coefficient + beta / 2) == 0
    # depth 3 RBP by hand: lc(p2) = 1/(2 c1), lc(p3) = 1/(8 c1^2 c2), times -beta c1 c2
    r3 = chain_reduction("rbp", 3)
    assert r3.sign.degree == 7
    assert sp.simplify(r3.sign.leading_coefficient + beta / (16 * c1**2)) == 0
    # depth 3 SRBP by hand: lc(p2) = c2/(2 c1), lc(p3) = c2/(8 c1^2), times -beta c1
    s3 = chain_reduction("srbp", 3)
    assert s3.status == "proved"
    assert sp.simplify(s3.sign.leading_coefficient + beta * c2**2 / (16 * c1**2)) == 0


def test_chain_invariants_are_first_integrals():
    for rule in ("rbp", "srbp"):
        s = sd.derive("1-1-1-1", rule)
        for H in chain_invariants(rule, 3):
            assert sd.verify_invariant(s, H).holds


def test_chain_reduction_rejects():
    with pytest.raises(SpecError):
        chain_reduction("bp", 3)
    with pytest.raises(SpecError):
        chain_reduction("rbp", 1)
    with pytest.raises(SpecError):
        chain_reduction("rbp", 99)


def test_chain_converges_numerically_as_proved():
    """Random starts of RBP depth 3 (c of mixed signs) reach P = alpha/beta (solve_ivp)."""
    s = sd.derive("1-1-1-1", "rbp")
    f = sp.lambdify([s.state], [e.subs({alpha: 1.0, beta: 1.5, c1: -0.7, c2: 1.3})
                                for e in s.rhs])
    rng = np.random.default_rng(3)
    for y0 in rng.normal(scale=0.8, size=(6, 3)):
        sol = solve_ivp(lambda t, u: f(u), (0, 400), y0, rtol=1e-10, atol=1e-12,
                        method="LSODA")
        assert abs(np.prod(sol.y[:, -1]) - 1.0 / 1.5) < 1e-6


@pytest.mark.parametrize("rule", ["rbp", "srbp"])
def test_chain_induction(rule):
    r = chain_induction(rule, depths=(2, 3))
    assert r.status == "proved" and all(ok for _, ok in r.checks)
    assert len(r.checks) >= 7 and r.depths_checked == (2, 3)


def test_text_is_refused_never_evaluated(tmp_path):
    """The building blocks take sympy expressions: a string is refused with an
    ExpressionError, never handed to ``sympify`` (which would run it as Python)."""
    from symdyn.analysis._certificate import assume
    from symdyn.errors import ExpressionError

    x = sp.Symbol("x")
    marker = tmp_path / "ran"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch() or x"
    for call in (lambda: sign_analysis(text, x), lambda: prove_nonnegative(text, [x]),
                 lambda: assume([]).sign(text)):
        with pytest.raises(ExpressionError, match="not text"):
            call()
    assert not marker.exists()
    assert sign_analysis(-x, x).status == "proved"
