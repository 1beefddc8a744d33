"""docs/science.md section 4, first integrals: found by the invariant search, proved by Lie
derivatives, and conserved along integrated trajectories."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import (
    L,
    a,
    a1,
    a2,
    alpha,
    beta,
    c,
    c1,
    chain,
    conserved,
    h,
    how,
    invariant_steps,
    lam,
    parameter_examples,
    random_values,
    ranging,
    seeds,
    t_range,
)
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import chain_induction, invariants, verify_invariant
from symdyn.report import Math, equalities, latex_math
from symdyn.verify import ddt, proof, sentence

TOL = 1e-7  # relative drift allowed of a conserved quantity at rtol 1e-10


def _spanned(found, expected, state) -> bool:
    """Every expected polynomial is a linear combination (over the parameters) of found."""
    found = [sp.Poly(sp.expand(f), *state) for f in found]
    monos = sorted({m for f in found for m in f.monoms()} |
                   {m for e in expected for m in sp.Poly(sp.expand(e), *state).monoms()})
    M = sp.Matrix([[f.coeff_monomial(m) for m in monos] for f in found])
    for e in expected:
        pe = sp.Poly(sp.expand(e), *state)
        row = sp.Matrix([[pe.coeff_monomial(m) for m in monos]])
        if M.col_join(row).rank(simplify=True) != M.rank(simplify=True):
            return False
    return True


def _search_step(ctx, system, expected, label):
    found = invariants(system, degree=2)
    ctx.symbolic(sentence(f"{label}: the search for first integrals of degree 2 finds "
                          f"{len(found)}, and their span contains {{H}}", H=list(expected)),
                 _spanned(found, expected, system.state))


def _conservation(ctx, system, Hs, label, n):
    """Random parameters and starts drawn by hypothesis: every H drifts < TOL."""

    def check(example):
        params, seed = example
        values = random_values(system, params)
        y0 = np.random.default_rng(seed).normal(scale=0.7, size=(4, system.size))
        return all(np.all(conserved(system, H, values, y0) < TOL) for H in Hs)

    ctx.sample(sentence(f"{label}: conserved to a relative {{tol}} for {{t}}, 4 starts per "
                        "case", tol=TOL, t=t_range(20)),
               st.tuples(parameter_examples(system), seeds), check, n)


@proof("bp-111-invariant", title=sentence("1-1-1 BP conserves {H}", H=a1**2 - a2**2),
       claim=sentence("For the 1-1-1 linear chain trained by BP, {H} is a first integral: "
                      "{dH}.", H=a1**2 - a2**2, dH=ddt(a1**2 - a2**2, 0)))
def bp_111(ctx):
    s = sd.derive("1-1-1", "bp")
    a1, a2 = s.state
    invariant_steps(ctx, s, [a1**2 - a2**2], "1-1-1 BP", covers="1-1-1")
    _search_step(ctx, s, [a1**2 - a2**2], "1-1-1 BP")
    ctx.oracle_rhs(s, {"alpha": 1.3, "beta": 0.7})
    _conservation(ctx, s, [a1**2 - a2**2], "1-1-1 BP", ctx.cases(4, 30))


def _every_depth(ctx, rule):
    """The conservation law for every depth and layer: the first step of the chain lemma,
    an identity in a symbolic layer (see symdyn.analysis.chain_induction)."""
    lemma = chain_induction(rule, depths=(2, 3))
    form, conserved = lemma.checks[0], lemma.checks[1]
    ctx.symbolic(form[0], form[1], covers="every depth")
    ctx.symbolic(conserved[0], conserved[1], covers="every depth")


RBP_H = a[h] ** 2 - 2 * c[h] * a[h + 1]
DEPTHS = ranging(L, 2, 5)


@proof("rbp-chain-invariants", title=sentence("RBP chains conserve {H}", H=RBP_H),
       claim=sentence("For the linear chain of any depth {L} trained by RBP, {H} is a first "
                      "integral for {h} (checked in components for {depths}, and for every "
                      "depth as an identity in a symbolic layer).", L=L, H=RBP_H,
                      h=ranging(h, 1, L - 1), depths=DEPTHS))
def rbp_chain(ctx):
    def integrals(s, depth):
        a, c = s.state, s.parameters[: depth - 1]
        return [a[h] ** 2 - 2 * c[h] * a[h + 1] for h in range(depth - 1)]

    for depth in range(2, 6):
        s = chain(depth, "rbp")
        invariant_steps(ctx, s, integrals(s, depth), f"RBP depth {depth}",
                        covers=f"depth {depth}")
        _search_step(ctx, s, integrals(s, depth), f"RBP depth {depth}")
    _every_depth(ctx, "rbp")
    s = chain(3, "rbp")
    ctx.oracle_trajectories(s, {"alpha": 1.0, "beta": 0.8, "c1": 0.9, "c2": -1.2}, 2, t=5.0)
    _conservation(ctx, s, integrals(s, 3), "RBP depth 3", ctx.cases(4, 30))


SRBP_H = c[h + 1] * a[h] ** 2 / 2 - c[h] * a[h + 1]


@proof("srbp-chain-invariants", title=sentence("SRBP chains conserve {H}", H=SRBP_H),
       claim=sentence("For the linear chain of depth {L} trained by SRBP, {H} (for {cond}) "
                      "and {last} are first integrals (checked in components for {depths}, and "
                      "for every depth as an identity in a symbolic layer).", L=L, H=SRBP_H,
                      cond=h + 1 < L, last=a[L - 1] ** 2 / 2 - c[L - 1] * a[L],
                      depths=DEPTHS))
def srbp_chain(ctx):
    for depth in range(2, 6):
        s = chain(depth, "srbp")
        a, c = s.state, s.parameters[: depth - 1]
        Hs = [c[h + 1] * a[h] ** 2 / 2 - c[h] * a[h + 1] for h in range(depth - 2)]
        Hs.append(a[depth - 2] ** 2 / 2 - c[depth - 2] * a[depth - 1])
        invariant_steps(ctx, s, Hs, f"SRBP depth {depth}", covers=f"depth {depth}")
        _search_step(ctx, s, Hs, f"SRBP depth {depth}")
    _every_depth(ctx, "srbp")


SADDLE = sp.FiniteSet(alpha, -alpha, 0)


@proof("arbp-111-invariants", title="1-1-1 ARBP: two first integrals and a saddle",
       claim=sentence("For 1-1-1 ARBP with rate ratio {lam}, {H1} and {H2} are first "
                      "integrals. The fixed points are the surface {surface} and the line "
                      "{line} ({a2} free; one point on each level set of {H3}), where the "
                      "Jacobian has eigenvalues {eig}: a saddle.", lam=lam, H1=c1 - lam * a2,
                      H2=a1**2 - c1**2 / lam, surface=sp.Eq(a1 * a2, alpha / beta),
                      line=equalities(a1, c1, 0), a2=a2, H3=c1 - a2, eig=SADDLE))
def arbp_111(ctx):
    from symdyn.analysis import fixed_points, jacobian

    s = sd.derive("1-1-1", "arbp", rate_ratio="lamda")
    assert s.state == (a1, a2, c1)
    invariant_steps(ctx, s, [c1 - lam * a2, a1**2 - c1**2 / lam], "1-1-1 ARBP",
                    covers="1-1-1")
    s1 = sd.derive("1-1-1", "arbp")
    fps = fixed_points(s1)
    surface = [p for p in fps if p.dimension == 2]
    line = [p for p in fps if p.dimension == 1 and p.solution.get(a1) == 0
            and p.solution.get(c1) == 0]
    ctx.symbolic(sentence("the fixed points include the surface {eq} (dimension 2)",
                          eq=sp.Eq(a1 * a2, alpha / beta)),
                 any(sp.simplify(a1 * a2 - alpha / beta).subs(p.solution) == 0
                     for p in surface), covers="1-1-1")
    J = sp.Matrix(jacobian(s1)).subs({a1: 0, c1: 0})
    eig = set(J.eigenvals())
    where = equalities(a1, c1, 0)
    ctx.symbolic(sentence("on {where} the Jacobian has eigenvalues {eig}", where=where,
                          eig=sp.FiniteSet(*eig)),
                 eig == {alpha, -alpha, 0} and bool(line),
                 latex=Math(rf"\operatorname{{spec}} J\big|_{{{where.latex}}} = "
                            rf"{latex_math(sp.FiniteSet(*eig))}",
                            f"spec J at {where} = {sp.FiniteSet(*eig)}"), covers="1-1-1")
    ctx.symbolic("classified as a saddle", bool(line) and line[0].stability == "saddle",
                 covers="1-1-1")


_n0, _n1, _n2 = sp.symbols("n0 n1 n2", integer=True, positive=True)
_A1, _A2 = sp.MatrixSymbol("A1", _n1, _n0), sp.MatrixSymbol("A2", _n2, _n1)
_C = sp.MatrixSymbol("C1", _n1, _n2)


@proof("linear-matrix-invariants",
       title="Matrix first integrals of the linear network with one hidden layer",
       claim=sentence("For the linear network with one hidden layer (forward weights {A}, "
                      "channel {C}), BP conserves {bp}, RBP conserves {rbp} and ARBP conserves "
                      "{arbp}, as matrix identities for all sizes.", A=[_A1, _A2], C=_C,
                      bp=_A1 * _A1.T - _A2.T * _A2, rbp=_A1 * _A1.T - _C * _A2 - _A2.T * _C.T,
                      arbp=_C - lam * _A2.T))
def matrix_invariants(ctx):
    for rule, H in [
        ("bp", lambda A1, A2, C: A1 * A1.T - A2.T * A2),
        ("rbp", lambda A1, A2, C: A1 * A1.T - C * A2 - A2.T * C.T),
        ("arbp", lambda A1, A2, C: C - lam * A2.T),
    ]:
        s = sd.derive("5-4-3", rule, **({"rate_ratio": "lamda"} if rule == "arbp" else {}))
        mats = {m.name: m for m in (*s.matrix.state, *s.matrix.parameters)
                if isinstance(m, sp.MatrixSymbol)}
        expr = H(mats["A1"], mats["A2"], mats.get("C1"))
        check = verify_invariant(s, expr)
        ctx.symbolic(sentence(f"{rule.upper()}: {{H}} is a first integral "
                              f"({how(check.method)})", H=expr), check.holds,
                     latex=ddt(expr, 0),
                     covers="every size" if check.method == "matrix" else "5-4-3")
