r"""Convergence of linear scalar chains under RBP and SRBP, by reduction on the level sets of
their first integrals and an exact sign analysis.

A chain of depth :math:`d` (weights :math:`a_1, \dots, a_d`, channel weights
:math:`c_1, \dots, c_{d-1}`, :math:`E = \alpha - \beta P`, :math:`P = a_d \cdots a_1`)
follows :math:`\dot a_h = M_h\, a_{h-1} \cdots a_1\, E` with :math:`M_h = c_h c_{h+1} \cdots
c_{d-1}` (RBP) or :math:`M_h = c_h` (SRBP), :math:`M_d = 1`. Its first integrals
:math:`a_h^2 - 2 c_h a_{h+1}` (RBP) or :math:`c_{h+1} a_h^2/2 - c_h a_{h+1}` (SRBP, with
:math:`c_d = 1`) are linear in :math:`a_{h+1}`, so on each level set every :math:`a_{h+1}` is a
polynomial :math:`p_{h+1}(a_1)` of degree :math:`2^h`, and :math:`\dot a_1 = M_1 (\alpha -
\beta P(a_1))` with :math:`P` of degree :math:`2^d - 1` (odd) and a negative leading
coefficient: the signs telescope. :func:`chain_reduction` proves this for one depth by
computer algebra; :func:`chain_induction` proves it for every depth, its inductive step
checked with symbolic depth."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .._typeset import Math, dot, latex_math, sentence
from ..errors import SpecError
from ._certificate import ProofCertificate
from ._reduction import Reduction, reduce
from ._sign import SignAnalysis, sign_analysis

__all__ = ["chain_reduction", "ChainReduction", "chain_invariants",
           "MAX_CHAIN_DEPTH"]

#: The deepest chain :func:`chain_reduction` accepts: the reduced polynomial has degree
#: 2^d - 1, and depth 6 already takes tens of CPU-seconds.
MAX_CHAIN_DEPTH = 8
_RULES = ("rbp", "srbp")


def _rule(rule) -> str:
    name = str(getattr(rule, "name", rule)).lower()
    if name not in _RULES:
        raise SpecError(f"chain reduction is for the rules {', '.join(_RULES)}, got {rule!r} "
                        "(BP is a gradient flow: use lyapunov_check with the loss)")
    return name


def _chain(rule: str, depth: int):
    from ..derive import derive

    if isinstance(depth, bool) or not isinstance(depth, int) or not 2 <= depth <= \
            MAX_CHAIN_DEPTH:
        raise SpecError(f"depth must be an integer from 2 to {MAX_CHAIN_DEPTH}, got {depth!r}")
    s = derive("-".join(["1"] * (depth + 1)), rule)
    names = {p.name: p for p in (*s.state, *s.parameters)}
    a = [names[f"a{h}"] for h in range(1, depth + 1)]
    c = [names[f"c{h}"] for h in range(1, depth)]
    return s, a, c, names["alpha"], names["beta"]


def chain_invariants(rule, depth: int) -> tuple[sp.Expr, ...]:
    r"""The first integrals that reduce a chain: :math:`a_h^2 - 2 c_h a_{h+1}` (RBP),
    :math:`c_{h+1} a_h^2/2 - c_h a_{h+1}` (SRBP, :math:`c_d = 1`), for :math:`h < d`."""
    rule = _rule(rule)
    _, a, c, _, _ = _chain(rule, depth)
    if rule == "rbp":
        return tuple(a[h]**2 - 2 * c[h] * a[h + 1] for h in range(depth - 1))
    cc = [*c, sp.Integer(1)]
    return tuple(cc[h + 1] * a[h]**2 / 2 - cc[h] * a[h + 1] for h in range(depth - 1))


@dataclass(frozen=True, kw_only=True)
class ChainReduction(ProofCertificate):
    r"""The result of :func:`chain_reduction`: ``reduction`` (the scalar ODE in
    :math:`a_1` on the level sets, checked by substitution back), ``sign`` (its exact sign
    analysis), and ``optimal``: every equilibrium of the reduced ODE has
    :math:`P = \alpha/\beta` and is an equilibrium of the chain."""

    rule: str
    depth: int
    reduction: Reduction
    sign: SignAnalysis
    optimal: bool


def chain_reduction(rule, depth: int) -> ChainReduction:
    r"""Prove that every solution of the scalar RBP or SRBP chain of ``depth`` converges to
    an equilibrium with :math:`P = a_d \cdots a_1 = \alpha/\beta`, from every start, for
    :math:`\beta > 0` and non-zero channel weights (any real :math:`\alpha`).

    >>> r = chain_reduction("rbp", 3)
    >>> r.status, r.sign.degree, r.sign.leading_coefficient
    ('proved', 7, -beta/(16*c1**2))
    """
    rule = _rule(rule)
    s, a, c, alpha, beta = _chain(rule, depth)
    H = chain_invariants(rule, depth)
    red = reduce(s, invariants=list(H), solve_for=a[1:])
    x = a[0]
    assumptions = (beta > 0, *(sp.Ne(ch, 0) for ch in c))
    sign = sign_analysis(red.rhs[0], x, assumptions)
    P = sp.Mul(*a)
    M = sp.Mul(*c) if rule == "rbp" else c[0]
    # g = M (alpha - beta P) composed with the reduction: M != 0, so g = 0 iff P = alpha/beta;
    # and every equation of the chain vanishes where alpha = beta P
    form = sp.expand(s.rhs[0] - M * (alpha - beta * P)) == 0
    vanish = all(sp.expand(e.subs(alpha, beta * P)) == 0 for e in s.rhs)
    optimal = form and vanish
    ok = red.verified and sign.proved and optimal and sign.degree == 2**depth - 1
    name = rule.upper()
    claim = sentence(f"Every solution of the {name} chain of depth {depth} converges, from "
                     "every start, to an equilibrium with {opt}.", opt=sp.Eq(P, alpha / beta))

    steps = (
        sentence("The first integrals {H} are constant along every solution; on their level "
                 "set {K} the chain reduces to one equation in {x}, with {back} (checked by "
                 "substitution back).", H=list(H), x=x,
                 K=[sp.Eq(k, h) for k, h in red.constants.items()],
                 back=[sp.Eq(v, red.back[v]) for v in a[1:] if depth <= 3] or
                 Math(r"a_{h+1} = p_{h+1}(a_{1})", "a_(h+1) = p_(h+1)(a1)")),
        sentence("The reduced equation is {ode}: {M} times the error of the product of the "
                 "reduced weights, a polynomial of degree {n} in {x}.",
                 ode=dot(x, Math(
                     rf"{latex_math(M)} \left({latex_math(alpha - beta * sp.Symbol('P'))}"
                     rf"\right)", f"{M} (alpha - beta P)")),
                 M=M, n=sp.Integer(sign.degree), x=x),
        *sign.sketch[1:2],
        sentence("Its degree is odd and its leading coefficient {lc} is negative, so every "
                 "solution of the reduced equation is bounded and converges monotonically to a "
                 "root, and the eliminated weights, polynomials in {x}, converge with it.",
                 lc=sign.leading_coefficient, x=x),
        sentence("At a root, since {M}, {opt}; and every equation of the chain vanishes "
                 "where {e}: the limit is an optimal equilibrium.", M=sp.Ne(M, 0),
                 opt=sp.Eq(P, alpha / beta), e=sp.Eq(alpha, beta * P)),
    )
    why = [w for w, bad in (("the reduction's check", not red.verified),
                            ("the sign analysis: " + sign.message, not sign.proved),
                            ("the optimality of the equilibria", not optimal),
                            (f"the degree {sign.degree} != {2**depth - 1}",
                             sign.degree != 2**depth - 1)) if bad]
    return ChainReduction(
        status="proved" if ok else "inconclusive", kind="reduction+sign", statement=claim,
        assumptions=assumptions, sketch=steps, rule=rule, depth=depth, reduction=red,
        sign=sign, optimal=optimal,
        message=(f"{name} depth {depth}: reduced to degree {sign.degree}, leading coefficient "
                 f"{sign.leading_coefficient} < 0: every start converges to P = alpha/beta"
                 if ok else "not proved: " + "; ".join(why)))


