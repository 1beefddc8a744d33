"""Convergence of linear chains (theorem 1 of the companion paper): the 1-1-1 RBP reduction to
a cubic; RBP and SRBP chains of every depth by reduction on the level sets of their first
integrals and an exact sign analysis (depths 2 to 6 computed in full, every depth by
induction); BP chains by the loss as a Lyapunov function (almost every start, the exceptional
set named); numerical convergence from random starts beside it."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import (
    K,
    L,
    a,
    a1,
    a2,
    alpha,
    beta,
    c1,
    chain,
    h,
    invariant_steps,
    k,
    parameter_examples,
    random_values,
    ranging,
    seeds,
)
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import (
    chain_induction,
    chain_reduction,
    lyapunov_check,
    reduce,
    sign_analysis,
    verify_invariant,
)
from symdyn.numerics import integrate_batch
from symdyn.report import Math, dot
from symdyn.verify import ddt, proof, sentence

P = sp.Symbol("P")
HYPERBOLA = sp.Eq(a1 * a2, alpha / beta)
CUBIC = alpha * c1 - beta / 2 * a1 * (a1**2 - K)


def _converges_to_optimum(system, depth, example, starts, t_final=2e4, scale=0.7):
    """All ``starts`` random starts converge (|f| < 1e-9) with P = alpha/beta to 1e-6."""
    params, seed = example
    values = random_values(system, params)
    y0 = np.random.default_rng(seed).normal(scale=scale, size=(starts, system.size))
    r = integrate_batch(system, y0, t_final, values, rtol=1e-9, atol=1e-12, tol=1e-9)
    P = np.prod(r.y[:, :depth], axis=1)
    target = values["alpha"] / values["beta"]
    return bool(np.all(r.converged & (np.abs(P - target) < 1e-6 * max(1.0, abs(target)))))


@proof("rbp-111-convergence", title="1-1-1 RBP reduces to a cubic and converges",
       hypotheses=sentence("{b}, {a}, {c}.", b=beta > 0, a=sp.Ne(alpha, 0), c=sp.Ne(c1, 0)),
       claim=sentence("With {K} (a first integral), 1-1-1 RBP reduces to {ode}, a cubic with "
                      "leading coefficient {lc}; hence every trajectory converges to a point "
                      "of the hyperbola {hyperbola}.", K=sp.Eq(K, a1**2 - 2 * c1 * a2),
                      ode=dot(a1, CUBIC), lc=-beta / 2 < 0, hyperbola=HYPERBOLA))
def rbp_111(ctx):
    s = sd.derive("1-1-1", "rbp")
    assert s.state == (a1, a2)
    H = a1**2 - 2 * c1 * a2
    invariant_steps(ctx, s, [H], "1-1-1 RBP", covers="1-1-1", part="first integral")
    red = reduce(s, invariants=[H], solve_for=[a2])
    (Kr,) = red.constants
    g = red.rhs[0].subs(Kr, K)
    ctx.symbolic(sentence("the reduction (checked by substitution back) is the cubic {g}",
                          g=CUBIC),
                 red.verified and sp.expand(g - CUBIC) == 0,
                 latex=dot(a1, sp.collect(sp.expand(g), a1)), proof="reduction+sign",
                 covers="1-1-1", part="convergence")
    sign = sign_analysis(g, a1, [beta > 0, sp.Ne(c1, 0)])
    ctx.certificate(sign, covers="1-1-1", part="convergence")
    ctx.symbolic(sentence("its leading coefficient in {a1} is {lc}, negative for {b}", a1=a1,
                          lc=-beta / 2, b=beta > 0),
                 sp.Poly(g, a1).LC() == -beta / 2 and sign.leading_coefficient == -beta / 2,
                 proof="reduction+sign", covers="1-1-1", part="convergence")
    ctx.symbolic(sentence("at {a0} the cubic is {g0}, non-zero: every equilibrium has {ne}",
                          a0=sp.Eq(a1, 0), g0=alpha * c1, ne=sp.Ne(a1, 0)),
                 sp.simplify(g.subs(a1, 0) - alpha * c1) == 0, covers="1-1-1",
                 part="convergence")
    ctx.symbolic(sentence("{ode}: equilibria with {ne} lie on {hyperbola}",
                          ode=dot(a2, a1 * (alpha - beta * a1 * a2)), ne=sp.Ne(a1, 0),
                          hyperbola=HYPERBOLA),
                 sp.expand(s.rhs[1] - a1 * (alpha - beta * a1 * a2)) == 0, covers="1-1-1",
                 part="convergence")
    ctx.note(sentence("A scalar autonomous differential equation whose right-hand side is a "
                      "polynomial of odd degree with negative leading coefficient has bounded, "
                      "monotone solutions, which converge to an equilibrium; {a2} then "
                      "converges too. With the steps above, every trajectory converges to a "
                      "point of {hyperbola}; the transverse eigenvalue there, {ev}, equals "
                      "the derivative of the cubic, so the limit is in the stable part (where "
                      "it is negative) except for a null set of starts: the points of the "
                      "unstable arc, which are equilibria, and on the one level set where the "
                      "cubic has a double root, the starts on the side that approaches it, "
                      "which converge to that tangent point (eigenvalue 0).",
                      a2=sp.Eq(a2, (a1**2 - K) / (2 * c1)), hyperbola=HYPERBOLA,
                      ev=-beta * (a1**2 + c1 * a2)))
    values = {"alpha": 1.0, "beta": 2.0, "c1": -0.8}
    ctx.oracle_fixed_point(s, values, np.random.default_rng(0).normal(scale=0.7, size=(4, 2)),
                           2e4, tol=1e-9, rtol=1e-9, atol=1e-12)
    ctx.sample(sentence("random {a} and {b}, {c}: 50 random starts each converge to "
                        "{hyperbola}", a=alpha, b=beta > 0, c=sp.Ne(c1, 0),
                        hyperbola=HYPERBOLA), st.tuples(parameter_examples(s), seeds),
               lambda ex: _converges_to_optimum(s, 2, ex, 50), ctx.cases(5, 40),
               part="convergence")


def _fixed_point_steps(ctx, depths):
    """Every equation of every chain vanishes where alpha = beta P (identity)."""
    for rule in ("bp", "rbp", "srbp"):
        ok = True
        for depth in depths:
            s = chain(depth, rule)
            prod = sp.Mul(*s.state[:depth])
            ok &= all(sp.expand(e.subs(alpha, beta * prod)) == 0 for e in s.rhs)
        ctx.symbolic(sentence(f"{rule.upper()}: every equation vanishes on {{eq}}",
                              eq=sp.Eq(beta * P, alpha)), ok,
                     covers=f"depths {depths[0]}-{depths[-1]}", part="fixed points")


def _reduction_steps(ctx, depths):
    """RBP and SRBP: reduction + exact sign analysis per depth, and the lemma for every depth."""
    for rule in ("rbp", "srbp"):
        for depth in depths:
            r = chain_reduction(rule, depth)
            ctx.certificate(r, covers=f"depth {depth}", part="convergence (RBP, SRBP)",
                            )
        lemma = chain_induction(rule, depths=(2, 3))
        for statement, holds in lemma.checks:
            ctx.symbolic(statement, holds, proof="reduction+sign", covers="every depth",
                         part="convergence (RBP, SRBP)")
        ctx.note(lemma.sketch[-1])


def _bp_every_depth(ctx, depths):
    """The BP steps for every depth, as identities in a symbolic layer: with
    Q_h = P / a_h (the product of the other weights), BP is da_h/dt = E Q_h."""
    Pf, E, ai, aj = sp.symbols("P E a_i a_j")
    Qi, Qj = Pf / ai, Pf / aj
    form = True
    for depth in depths:
        s = chain(depth, "bp")
        prod = sp.Mul(*s.state)
        form &= all(sp.expand(f - (alpha - beta * prod) * prod / x) == 0
                    for x, f in zip(s.state, s.rhs))
    loss = (alpha - beta * Pf) ** 2 / (2 * beta)
    grad = sp.diff(loss, Pf) * Qi  # the chain rule: dP/da_i = Q_i
    cover = dict(covers="every depth", part="convergence (BP)")
    ctx.symbolic(sentence("BP, every depth: every equation is {f}, with {Q} the product of the "
                          "other weights (the derivation engine agrees at the depths above)",
                          f=dot(sp.Symbol("a_i"), E * sp.Symbol("Q_i")),
                          Q=sp.Eq(sp.Symbol("Q_i"), Pf / ai)), form, **cover)
    ctx.symbolic(sentence("BP, every depth: the loss {V} has partial derivative {g} in {ai}, so "
                          "BP is its gradient flow and the loss decreases as minus the sum of "
                          "the squared right-hand sides; it is stationary only at equilibria",
                          V=loss, ai=ai, g=Math(
                              r"\partial V / \partial a_i = -(\alpha - \beta P)\, Q_i",
                              "dV/da_i = -(alpha - beta P) Q_i")),
                 sp.simplify(grad + (alpha - beta * Pf) * Qi) == 0, proof="lyapunov", **cover)
    ctx.symbolic(sentence("BP, every depth: {H} is a first integral, since {d}", H=ai**2 - aj**2,
                          d=Math(r"\frac{d}{dt}\left(a_i^2 - a_j^2\right) = 2 a_i E Q_i - "
                                 r"2 a_j E Q_j = 2 E (P - P) = 0",
                                 "d/dt (a_i^2 - a_j^2) = 2 a_i E Q_i - 2 a_j E Q_j = 0")),
                 sp.cancel(2 * ai * E * Qi - 2 * aj * E * Qj) == 0, **cover)


def _bp_steps(ctx, depths):
    """BP: the loss is a Lyapunov function (LaSalle: equilibria), the squared differences
    are conserved, so every solution is bounded; the exceptional starts lie on hyperplanes."""
    for depth in depths:
        s = chain(depth, "bp")
        a_ = s.state[:depth]
        prod = sp.Mul(*a_)
        loss = (alpha - beta * prod) ** 2 / (2 * beta)
        lyap = lyapunov_check(s, loss, assumptions=[beta > 0])
        ctx.symbolic(sentence(f"BP depth {depth}: the loss {{V}} is non-increasing, {{d}} "
                              "exactly, and the largest invariant set where it is constant "
                              "consists of equilibria (LaSalle)", V=loss,
                              d=Math(rf"{ddt(loss).latex} = -\sum_h \dot a_h^2",
                                     f"{ddt(loss).text} = -sum_h (da_h/dt)^2")),
                     lyap.proved and bool(lyap.equilibria_only)
                     and sp.expand(lyap.derivative + sum(f**2 for f in s.rhs)) == 0,
                     proof="lyapunov", covers=f"depth {depth}", part="convergence (BP)")
        pairs = [(i, j) for i in range(depth) for j in range(i + 1, depth)]
        ctx.symbolic(sentence(f"BP depth {depth}: every {{H}} is a first integral, so each "
                              "weight squared differs from the first one's by a constant; with "
                              "the loss bounded, the product is bounded, hence every weight",
                              H=a[h] ** 2 - a[k] ** 2),
                     all(verify_invariant(s, a_[i] ** 2 - a_[j] ** 2).holds for i, j in pairs),
                     covers=f"depth {depth}", part="convergence (BP)")
        E = alpha - beta * prod
        S = sum((prod / x) ** 2 for x in a_)
        dP = sum(sp.diff(prod, x) * f for x, f in zip(a_, s.rhs))
        ctx.symbolic(sentence(f"BP depth {depth}: {{dP}} and every equation is the error "
                              "times the product of the other weights, so an equilibrium off "
                              "the optimum has two weights zero", dP=Math(
                                  r"\dot P = (\alpha - \beta P) \sum_h \prod_{k \neq h} a_k^2",
                                  "dP/dt = (alpha - beta P) sum_h prod_(k != h) a_k^2")),
                     sp.expand(dP - E * S) == 0
                     and all(sp.expand(f - E * prod / x) == 0 for x, f in zip(a_, s.rhs)),
                     covers=f"depth {depth}", part="convergence (BP)")
    _bp_every_depth(ctx, depths)
    ctx.note(sentence(
        "Hence (BP, {na}): every solution is bounded and its limit set, connected, lies in the "
        "optimal set {opt} or in the set where two weights vanish, which are disjoint. On the "
        "first, {S} is bounded below near the limit set, the error decays exponentially and the "
        "weights converge to one optimal point. The second can be reached only if two weights "
        "vanish together, which the conserved {H} forces to be zero from the start: the "
        "exceptional starts lie in the union of the hyperplanes {hyp}, a set of measure zero.",
        na=sp.Ne(alpha, 0), opt=sp.Eq(P, alpha / beta),
        S=Math(r"S = \sum_h \prod_{k \neq h} a_k^2", "S = sum_h prod_(k != h) a_k^2"),
        H=a[h] ** 2 - a[k] ** 2, hyp=Math(r"a_i = \pm a_j,\ i < j", "a_i = +-a_j, i < j")))


@proof("chain-convergence", title="Linear chains converge to the optimum under BP, RBP and SRBP",
       hypotheses=sentence("{b}; RBP and SRBP: non-zero channel weights of any signs, {a} any "
                           "real number; BP: {na}.", b=beta > 0, a=alpha, na=sp.Ne(alpha, 0)),
       claim=sentence(
           "Every equation of a linear chain vanishes where {eq}. RBP and SRBP chains of every "
           "depth converge from every start to an equilibrium with {opt} (by reduction on the "
           "level sets of their first integrals and exact sign analysis: an induction for every "
           "depth, and the reduction computed in full for {L}, depths 5 and 6 in the result "
           "chain-reduction-deep). BP chains of every depth converge to an equilibrium with "
           "{opt} from every start outside the union of the hyperplanes {hyp}, a null set "
           "(the loss is a Lyapunov function; checked for every depth in a symbolic layer, and "
           "in full at depths 2 to 6, 2 to 4 in the quick profile). Numerically: random "
           "parameters and starts converge.",
           eq=sp.Eq(alpha, beta * P), L=ranging(L, 2, 4), opt=sp.Eq(P, alpha / beta),
           hyp=Math(r"a_i = \pm a_j,\ i < j", "a_i = +-a_j, i < j")))
def chains(ctx):
    depths = (2, 3, 4) if ctx.quick else (2, 3, 4, 5, 6)
    s = chain(3, "srbp")
    values = {"alpha": 1.0, "beta": 1.5, "c1": 0.7, "c2": -1.3}
    ctx.oracle_rhs(s, values)
    ctx.oracle_fixed_point(s, values, np.random.default_rng(0).normal(scale=0.7, size=(4, 3)),
                           2e4, tol=1e-9, rtol=1e-9, atol=1e-12)
    _fixed_point_steps(ctx, depths)
    _reduction_steps(ctx, (2, 3, 4))  # depths 5 and 6 in full: chain-reduction-deep
    _bp_steps(ctx, depths)
    sampled = (2, 3) if ctx.quick else (2, 3, 4, 5)
    for rule in ("bp", "rbp", "srbp"):
        part = "convergence (BP)" if rule == "bp" else "convergence (RBP, SRBP)"
        for depth in sampled:
            s = chain(depth, rule)
            ctx.sample(sentence(f"{rule.upper()} depth {depth}: 20 random starts per case "
                                "converge to {eq}", eq=sp.Eq(P, alpha / beta)),
                       st.tuples(parameter_examples(s), seeds),
                       lambda ex, s=s, depth=depth: _converges_to_optimum(s, depth, ex, 20),
                       ctx.cases(2, 5), part=part)
    _bp_exceptional(ctx)


def _bp_exceptional(ctx):
    """The exceptional set is not empty: BP depth 2 from a start with a1 = -a2 (alpha > 0)
    converges to the saddle at the origin, not to the optimum."""
    s = chain(2, "bp")
    y0 = np.array([[0.5, -0.5], [-1.2, 1.2], [2.0, -2.0]])
    r = integrate_batch(s, y0, 2e3, {"alpha": 1.0, "beta": 1.0}, rtol=1e-10, atol=1e-13,
                        tol=1e-9)
    ok = np.all(r.converged) and np.all(np.abs(r.y) < 1e-4)
    ctx.numeric(sentence("BP depth 2, {a}, starts on the hyperplane {hyp}: each converges to "
                         "the non-optimal equilibrium {o}", a=sp.Eq(alpha, 1),
                         hyp=sp.Eq(a1, -a2), o=sp.Tuple(0, 0)),
                int(np.sum(r.converged & np.all(np.abs(r.y) < 1e-4, axis=1))), len(y0),
                part="convergence (BP)")
    return ok


@proof("chain-reduction-deep", title="Deep RBP and SRBP chains reduce to one equation of odd "
       "degree with a negative leading coefficient",
       hypotheses=sentence("{b}, non-zero channel weights of any signs.", b=beta > 0),
       claim=sentence("For depth {d5} (both profiles) and {d6} (full profile), the RBP and SRBP "
                      "chains reduce on the level sets of their first integrals to {ode}, a "
                      "polynomial of degree {n} with a negative leading coefficient, so every "
                      "start converges to an equilibrium with {opt}: the full computation "
                      "behind the induction of chain-convergence (kept apart, as it is the "
                      "costly part: depth 6 takes about 20 CPU-seconds per rule).",
                      d5=sp.Eq(L, 5), d6=sp.Eq(L, 6), n=2**L - 1,
                      ode=dot(a1, Math(r"M_1 (\alpha - \beta P(a_1))",
                                       "M_1 (alpha - beta P(a1))")),
                      opt=sp.Eq(P, alpha / beta)))
def chain_reduction_deep(ctx):
    for depth in (5,) if ctx.quick else (5, 6):
        for rule in ("rbp", "srbp"):
            ctx.certificate(chain_reduction(rule, depth), covers=f"depth {depth}",
                            part="convergence (RBP, SRBP)")
