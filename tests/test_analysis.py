"""The analysis stage against docs/science.md section 4 and independent checks written here: Lie
derivatives, span membership by linear solving, substitution of fixed points, brute-force
nullity of the invariant ansatz at random parameters."""

from __future__ import annotations

import itertools
import os
import random
import time

import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import symdyn as sd
from symdyn import AnalysisError, SpecError

SLOW = os.environ.get("SYMDYN_SLOW") == "1"
RULES = ["bp", "rbp", "srbp", "arbp", "asrbp"]
lam = sp.Symbol("lamda")


def chain(depth, rule, **kw):
    return sd.derive("-".join(["1"] * (depth + 1)), rule, **kw)


def lie(system, H):
    """dH/dt, computed here from the system's equations."""
    return sp.expand(sum(sp.diff(H, x) * f for x, f in system.equations.items()))


def in_span(candidate, basis, state):
    """Whether candidate = sum_i k_i basis_i for some k_i (rational functions of the
    parameters), by solving the coefficient equations."""
    if not basis:
        return sp.expand(candidate) == 0
    k = sp.symbols(f"k0:{len(basis)}")
    residual = sp.expand(candidate - sum(ki * h for ki, h in zip(k, basis, strict=True)))
    equations = sp.Poly(residual, *state).coeffs() if residual != 0 else []
    return bool(sp.linsolve(equations, k)) if equations else True


def paper_invariants(depth, rule):
    """docs/science.md section 4 (and its statement dC_h/dt = lambda dW_{h+1}/dt^T for ARBP)."""
    a = sp.symbols(f"a1:{depth + 2}")
    c = sp.symbols(f"c1:{depth + 1}")
    if rule == "bp":
        return [a[h] ** 2 - a[h + 1] ** 2 for h in range(depth - 1)]
    if rule == "rbp":
        return [a[h] ** 2 - 2 * c[h] * a[h + 1] for h in range(depth - 1)]
    if rule == "srbp":
        return ([c[h + 1] * a[h] ** 2 / 2 - c[h] * a[h + 1] for h in range(depth - 2)]
                + [a[depth - 2] ** 2 / 2 - c[depth - 2] * a[depth - 1]])
    if rule == "arbp":
        out = [c[h] - a[h + 1] for h in range(depth - 1)]
        return out + ([a[0] ** 2 - c[0] ** 2] if depth == 2 else [])
    raise ValueError(rule)


def point_nullity(system, degree, rng):
    """Brute force, independent of the library: the dimension of {H = sum k_m y^m : dH/dt =
    0} at one random parameter point, over the rationals."""
    state = system.state
    point = {p: sp.Integer(rng.choice([-1, 1]) * rng.randint(2, 10**6))
             for p in system.parameters}
    rhs = [f.xreplace(point) for f in system.rhs]
    monomials = [sp.Mul(*combo) for d in range(1, degree + 1)
                 for combo in itertools.combinations_with_replacement(state, d)]
    derivs = [sp.expand(sum(sp.diff(m, x) * f for x, f in zip(state, rhs, strict=True)))
              for m in monomials]
    keys = sorted({mono for d in derivs if d != 0 for mono in sp.Poly(d, *state).monoms()})
    rows = [[sp.Poly(d, *state).coeff_monomial(key) if d != 0 else 0 for d in derivs]
            for key in keys]
    M = sp.Matrix(rows) if rows else sp.zeros(1, len(monomials))
    return len(monomials) - M.rank()


# -- invariants -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("rule", ["bp", "rbp", "srbp", "arbp"])
def test_paper_first_integrals_come_out_of_the_search(depth, rule):
    system = chain(depth, rule)
    basis = sd.invariants(system, 2)
    assert basis, "no invariant found"
    for h in basis:
        assert lie(system, h) == 0, h
    for claim in paper_invariants(depth, rule):
        assert in_span(claim, basis, system.state), (claim, basis)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("rule", RULES)
def test_basis_is_complete_and_independent(depth, rule):
    system = chain(depth, rule)
    basis = sd.invariants(system, 2)
    assert len(basis) == point_nullity(system, 2, random.Random(depth))
    for i, h in enumerate(basis):  # independent: none in the span of the others
        assert not in_span(h, basis[:i] + basis[i + 1:], system.state)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [4, 5])
@pytest.mark.parametrize("rule", RULES)
def test_basis_is_complete_deep(depth, rule):
    system = chain(depth, rule)
    assert len(sd.invariants(system, 2)) == point_nullity(system, 2, random.Random(depth))


def test_arbp_rate_ratio_and_generators():
    system = sd.derive("1-1-1", "arbp", rate_ratio=lam)
    a1, a2, c1 = system.state
    basis = sd.invariants(system, 2)
    assert len(basis) == 3  # c1 - lambda a2, a1^2 - c1^2/lambda and (c1 - lambda a2)^2
    assert in_span(c1 - lam * a2, basis, system.state)
    assert in_span(a1**2 - c1**2 / lam, basis, system.state)
    assert in_span((c1 - lam * a2) ** 2, basis, system.state)
    gens = sd.invariants(system, 2, generators=True)
    assert len(gens) == 2 and all(g in basis for g in gens)
    assert in_span(c1 - lam * a2, gens, system.state)
    assert in_span(a1**2 - c1**2 / lam, gens, system.state)


def test_depth_five_search_takes_seconds():
    timings = {}
    for rule in RULES:
        system = chain(5, rule)
        start = time.perf_counter()
        sd.invariants(system, 2)
        timings[rule] = time.perf_counter() - start
    assert max(timings.values()) < 10, timings


def test_rbp_one_one_one_exact_basis():
    a1, a2 = sd.derive("1-1-1", "rbp").state
    c1 = sp.Symbol("c1")
    assert sd.invariants(sd.derive("1-1-1", "rbp")) == (a1**2 - 2 * c1 * a2,)
    assert sd.invariants(sd.derive("1-1-1", "bp")) == (a1**2 - a2**2,)


def _refuted_with_recomputed_value(system, H):
    check = sd.verify_invariant(system, H)
    assert not check.holds and check.status == "refuted"
    cx = check.counterexample
    symbols = {s.name: s for s in (*system.state, *system.parameters)}
    point = {symbols[k]: v for k, v in cx.items() if k in symbols}
    assert set(point) == set(symbols.values())
    value = lie(system, sp.sympify(H, locals=symbols)).xreplace(point)
    assert value == cx["dH/dt"] and value != 0
    return check


def test_false_claims_are_refuted():
    a1, a2 = sp.symbols("a1 a2")
    c1 = sp.Symbol("c1")
    # BP's invariant under RBP
    _refuted_with_recomputed_value(sd.derive("1-1-1", "rbp"), a1**2 - a2**2)
    # an RBP invariant under SRBP (they differ from depth 3 on)
    srbp = chain(3, "srbp")
    assert lie(chain(3, "rbp"), a1**2 - 2 * c1 * a2) == 0
    _refuted_with_recomputed_value(srbp, a1**2 - 2 * c1 * a2)
    # ARBP's invariant with the wrong rate ratio
    _refuted_with_recomputed_value(sd.derive("1-1-1", "arbp", rate_ratio=lam), c1 - a2)


def test_true_claims_hold_and_strings_parse():
    system = sd.derive("1-1-1", "rbp")
    check = sd.verify_invariant(system, "a1^2 - 2*c1*a2")
    assert check.holds and check.status == "proved" and check.counterexample is None
    assert check.derivative == 0
    # beta is the parameter, not sympy's beta function; lambda is a keyword
    assert sd.verify_invariant(system, "beta*(a1**2 - 2*c1*a2)").holds
    arbp = sd.derive("1-1-1", "arbp", rate_ratio=sp.Symbol("lambda"))
    assert sd.verify_invariant(arbp, "c1 - lambda*a2").holds


@st.composite
def false_candidates(draw):
    depth = draw(st.integers(2, 5))
    rule = draw(st.sampled_from(RULES))
    system = chain(depth, rule)
    monomials = [sp.Mul(*c) for d in (1, 2)
                 for c in itertools.combinations_with_replacement(system.state, d)]
    chosen = draw(st.lists(st.sampled_from(monomials), min_size=1, max_size=4, unique=True))
    coeffs = draw(st.lists(st.integers(-3, 3).filter(bool), min_size=len(chosen),
                           max_size=len(chosen)))
    return system, sum(k * m for k, m in zip(coeffs, chosen, strict=True))


@given(case=false_candidates())
def test_random_candidates_not_in_the_span_are_refuted(case):
    system, H = case
    assume(not in_span(H, sd.invariants(system, 2), system.state))
    _refuted_with_recomputed_value(system, H)


@given(case=false_candidates(), data=st.data())
def test_random_combinations_of_the_basis_hold(case, data):
    system, _ = case
    basis = sd.invariants(system, 2)
    ks = data.draw(st.lists(st.integers(-5, 5), min_size=len(basis), max_size=len(basis)))
    H = sum(k * h for k, h in zip(ks, basis, strict=True))
    assume(H != 0)
    assert sd.verify_invariant(system, H).holds


def test_non_polynomial_system(tmp_path):
    import numpy as np

    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[1.0], [2.0], [-1.0]]), Y=np.array([[1.0], [2.0], [1.0]]))
    system = sd.derive("1-1-1", "rbp", activation="tanh", data=str(path))
    with pytest.raises(AnalysisError, match="polynomial"):
        sd.invariants(system)
    check = sd.verify_invariant(system, "a1**2 - 2*c1*a2")  # true only for linear units
    assert check.status == "refuted" and abs(check.counterexample["dH/dt"]) > 1e-6


def test_bad_arguments():
    system = sd.derive("1-1-1", "rbp")
    with pytest.raises(SpecError):
        sd.invariants(system, 0)
    with pytest.raises(SpecError, match="a9"):
        sd.verify_invariant(system, "a1 + a9")
    with pytest.raises(SpecError):
        sd.verify_invariant(system, "a1 +* 2")


# -- matrix invariants ------------------------------------------------------------------------


MATRIX_CLAIMS = {
    "bp": "A1*A1.T - A2.T*A2",
    "rbp": "A1*A1.T - C1*A2 - A2.T*C1.T",
    "arbp": "C1 - lamda*A2.T",
}


@given(sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       rule=st.sampled_from(sorted(MATRIX_CLAIMS)))
def test_matrix_invariants_hold_in_matrix_form(sizes, rule):
    arch = "-".join(map(str, sizes))
    system = sd.derive(arch, rule, **({"rate_ratio": "lamda"} if rule == "arbp" else {}))
    check = sd.verify_invariant(system, MATRIX_CLAIMS[rule])
    assert check.holds and check.method == "matrix", check.message


@pytest.mark.parametrize("arch", ["2-2-2", "3-2-1"])
def test_matrix_invariants_hold_entrywise(arch):
    """The matrix-form proof agrees with the components, checked here independently."""
    for rule, claim in MATRIX_CLAIMS.items():
        system = sd.derive(arch, rule, **({"rate_ratio": "lamda"} if rule == "arbp" else {}))
        H = system.explicit(sd.analysis._common.parse(system, claim))
        assert all(lie(system, h) == 0 for h in H)


def test_false_matrix_invariant_is_refuted():
    system = sd.derive("3-2-2", "rbp")
    check = sd.verify_invariant(system, MATRIX_CLAIMS["bp"])
    assert check.status == "refuted" and check.method.startswith("components")
    cx = check.counterexample
    i, j = map(int, cx["entry"][2:-1].split(","))
    symbols = {s.name: s for s in (*system.state, *system.parameters)}
    H = system.explicit(sd.analysis._common.parse(system, MATRIX_CLAIMS["bp"]))[i - 1, j - 1]
    value = lie(system, H).xreplace({symbols[k]: v for k, v in cx.items() if k in symbols})
    assert value == cx["dH/dt"] != 0


# -- fixed points and stability ---------------------------------------------------------------


def substitute_rhs(system, solution, values=None):
    return [sp.simplify(f.xreplace(values or {}).subs(solution)) for f in system.rhs]


def test_fixed_points_rbp():
    system = sd.derive("1-1-1", "rbp")
    a1, a2 = system.state
    c1, alpha, beta = system.parameters
    fps = sd.fixed_points(system, timeout=60)
    assert fps.status == "solved" and "non-zero" in fps.assumptions
    assert len(fps) == 1
    (p,) = fps
    assert p.dimension == 1 and p.verified
    assert all(r == 0 for r in substitute_rhs(system, p.solution))
    assert sp.simplify((a1 * a2).subs(p.solution) - alpha / beta) == 0  # the hyperbola
    # eigenvalues: 0 along the family and the trace across it, computed here
    J = sp.Matrix(system.rhs).jacobian(system.state)
    transverse = sp.simplify(J.trace().subs(p.solution))
    assert sorted(map(sp.simplify, p.eigenvalues), key=str) == sorted([0, transverse], key=str)
    assert sp.simplify(transverse - (-beta * (a1**2 + c1 * a2)).subs(p.solution)) == 0
    assert p.stability == "depends"
    assert p.condition.startswith("stable where a1**2 + a2*c1 > 0, unstable where")


def test_fixed_points_bp():
    system = sd.derive("1-1-1", "bp")
    alpha = sp.Symbol("alpha")
    fps = sd.fixed_points(system, timeout=60)
    by_dim = {p.dimension: p for p in fps}
    assert sorted(by_dim) == [0, 1]
    for p in fps:
        assert all(r == 0 for r in substitute_rhs(system, p.solution))
    assert by_dim[1].stability == "stable"  # -beta (a1^2 + a2^2) < 0 on the hyperbola
    origin = by_dim[0]
    assert set(origin.solution.values()) == {0}
    assert set(origin.eigenvalues) == {alpha, -alpha} and origin.stability == "saddle"


@pytest.mark.parametrize("ratio", [1, lam])
def test_fixed_points_arbp(ratio):
    system = sd.derive("1-1-1", "arbp", rate_ratio=ratio)
    a1, a2, c1 = system.state
    alpha = sp.Symbol("alpha")
    fps = sd.fixed_points(system, timeout=60)
    assert fps.status == "solved"
    by_dim = {p.dimension: p for p in fps}
    assert sorted(by_dim) == [1, 2]
    for p in fps:
        assert all(r == 0 for r in substitute_rhs(system, p.solution))
    line = by_dim[1]  # a1 = c1 = 0, a2 free: a line, a point on each level set of c1 - a2
    assert line.solution == {a1: 0, c1: 0} and line.free == (a2,)
    expected = {0, alpha * sp.sqrt(ratio), -alpha * sp.sqrt(ratio)}
    assert set(line.eigenvalues) == expected and line.stability == "saddle"
    assert "isolated point" in line.description and "level set" in line.description
    surface = by_dim[2]
    beta = sp.Symbol("beta")
    assert sp.simplify((a1 * a2).subs(surface.solution) - alpha / beta) == 0
    assert surface.eigenvalues.count(0) == 2


@given(alpha=st.integers(-5, 5).filter(bool), beta=st.integers(1, 5),
       c1=st.integers(-5, 5).filter(bool))
def test_fixed_points_at_values_are_verified(alpha, beta, c1):
    system = sd.derive("1-1-1", "rbp")
    values = {"alpha": alpha, "beta": beta, "c1": c1}
    fps = sd.fixed_points(system, values, timeout=60)
    assert fps.status == "solved" and len(fps) == 1
    sub = {p: sp.Integer(v) for p, v in zip(system.parameters, (c1, alpha, beta), strict=True)}
    p = fps[0]
    assert all(r == 0 for r in substitute_rhs(system, p.solution, sub))
    assert p.dimension == 1


def test_numeric_fixed_points():
    system = sd.derive("1-1-1", "rbp")
    values = {"alpha": 1, "beta": 2, "c1": 1}
    fps = sd.fixed_points(system, values, method="numeric", timeout=20, starts=40)
    assert fps.status == "numeric" and len(fps) > 0
    for p in fps:
        a1, a2 = (float(p.solution[x]) for x in system.state)
        assert abs(a1 * a2 - 0.5) < 1e-8 and p.residual < 1e-10 and p.dimension == 1
        # the classification agrees with the sign of the transverse eigenvalue computed here
        expected = "stable" if a1**2 + a2 > 0 else "unstable"
        assert p.stability == expected


def test_fixed_points_never_hang():
    system = sd.derive("1-1-1", "rbp", decay="d")  # Cardano's formula with symbols: slow
    start = time.monotonic()
    fps = sd.fixed_points(system, timeout=1.5)
    assert time.monotonic() - start < 10
    assert fps.status in ("timeout", "solved")
    if fps.status == "timeout":
        assert "budget" in fps.message


def test_fixed_points_bad_input():
    system = sd.derive("1-1-1", "rbp")
    with pytest.raises(SpecError, match="state variable"):
        sd.fixed_points(system, {"a1": 1})
    with pytest.raises(SpecError, match="unknown parameter"):
        sd.fixed_points(system, {"gamma": 1})
    with pytest.raises(SpecError, match="every parameter"):
        sd.fixed_points(system, {"alpha": 1}, method="numeric")


def test_jacobian():
    system = sd.derive("1-1-1", "rbp")
    assert sd.jacobian(system) == sp.Matrix(system.rhs).jacobian(system.state)


# -- reduction --------------------------------------------------------------------------------


def test_rbp_reduces_to_the_cubic():
    system = sd.derive("1-1-1", "rbp")
    a1, a2 = system.state
    c1, alpha, beta = system.parameters
    red = sd.reduce(system)
    (K,) = red.constants
    assert red.state == (a1,) and red.verified
    assert red.constants[K] == a1**2 - 2 * c1 * a2
    cubic = alpha * c1 - beta / 2 * a1 * (a1**2 - K)
    assert sp.expand(red.rhs[0] - cubic) == 0
    assert sp.Poly(red.rhs[0], a1).LC() == -beta / 2
    # composed with the back map, the reduced system is the original one
    assert sp.simplify(system.rhs[0].subs(red.back) - red.rhs[0]) == 0
    flow = sp.diff(red.back[a2], a1) * red.rhs[0]
    assert sp.simplify(flow - system.rhs[1].subs(red.back)) == 0
    assert sp.simplify(red.invariants[0].subs(red.back) - K) == 0


def vanishes(e):
    return sp.expand(sp.numer(sp.together(sp.expand(e)))) == 0


@given(depth=st.integers(2, 5 if SLOW else 4), rule=st.sampled_from(["rbp", "srbp", "arbp"]))
def test_chains_reduce(depth, rule):
    system = chain(depth, rule)
    red = sd.reduce(system)
    assert red.verified
    if rule != "arbp":  # the a_h^2 - 2 c_h a_{h+1} family leaves a1 alone
        assert red.state == (system.state[0],)
    else:  # c_h - a_{h+1} eliminates every channel weight
        assert red.state == system.state[:depth]
    flow = red.equations
    for x, f in zip(system.state, system.rhs, strict=True):
        if x in red.back:  # d/dt of the back map along the reduced flow
            dt = sum(sp.diff(red.back[x], y) * g for y, g in flow.items())
            assert vanishes(dt - f.subs(red.back))
        else:  # the reduced rhs is the original one composed with the back map
            assert vanishes(f.subs(red.back) - flow[x])
    for k, h in red.constants.items():
        assert vanishes(h.subs(red.back) - k)


def test_reduction_refuses_what_it_cannot_do():
    with pytest.raises(AnalysisError, match="linear"):
        sd.reduce(sd.derive("1-1-1", "bp"))
    with pytest.raises(AnalysisError, match="not a first integral"):
        sd.reduce(sd.derive("1-1-1", "rbp"), invariants=["a1**2 - a2**2"])


def test_analyze():
    an = sd.analyze(sd.derive("1-1-1", "rbp"), timeout=60)
    assert an.invariants and an.fixed_points.status == "solved"
    assert an.reduction is not None and an.reduction.state == sd.derive("1-1-1", "rbp").state[:1]


def test_numeric_fixed_points_of_a_tanh_network(tmp_path):
    """Data generated by the network itself (a1 = atanh(1/2), a2 = 1): the two exact fits
    are the only fixed points; near-roots in saturation (|a1| large) are left out."""
    import math

    import numpy as np

    x = np.array([[1.0], [2.0], [-1.0]])
    a1 = math.atanh(0.5)
    y = np.tanh(a1 * x)
    path = tmp_path / "d.npz"
    np.savez(path, X=x, Y=y)
    system = sd.derive("1-1-1", "rbp", activation="tanh", data=str(path))
    fps = sd.fixed_points(system, {"c1": 1}, timeout=20, starts=60)
    assert fps.status == "numeric"
    found = sorted((float(p.solution[system.state[0]]), float(p.solution[system.state[1]]))
                   for p in fps)
    assert len(found) == 2, fps.message
    for (u, v), sign in zip(found, (-1, 1), strict=True):
        assert abs(u - sign * a1) < 1e-9 and abs(v - sign) < 1e-9
    assert all(p.dimension == 0 and p.verified for p in fps)


def test_verify_fixed_point():
    system = sd.derive("1-1-1", "rbp")
    assert sd.verify_fixed_point(system, {"a1": "alpha/(beta*a2)"})
    assert sd.verify_fixed_point(system, {"a1": 1, "a2": 1}, {"alpha": 1, "beta": 1, "c1": 3})
    assert not sd.verify_fixed_point(system, {"a1": 1, "a2": 2})
