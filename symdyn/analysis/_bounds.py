r"""A-priori bounds: a quantity :math:`Q(y)` with :math:`\dot Q \le a Q + b` along every
solution, proved exactly (:math:`a Q + b - \dot Q \ge 0` as a polynomial inequality: factors
or terms of known sign, or a weighted sum of squares checked by expansion). Grönwall's
inequality then bounds :math:`Q(y(t)) \le (Q(y_0) + b/a) e^{a t} - b/a` (:math:`Q(y_0) + b t`
for :math:`a = 0`) on every finite interval; when :math:`Q \ge |y|^2` as well, no solution
can blow up in finite time, so every solution exists for all :math:`t \ge 0`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .._typeset import Math, ddt, latex_math, sentence
from ..errors import AnalysisError
from ._certificate import ProofCertificate, assume, prove_nonnegative
from ._common import rationalize
from ._lyapunov import _expression, vector_field

__all__ = ["apriori_bound", "AprioriBound"]


@dataclass(frozen=True, kw_only=True)
class AprioriBound(ProofCertificate):
    r"""The result of :func:`apriori_bound`. ``Q``, its derivative ``derivative``, the
    constants ``a`` and ``b``; ``slack``: :math:`a Q + b - \dot Q`, proved non-negative
    (``squares``: its certificate as pairs :math:`(w_i, q_i)`, if by squares);
    ``global_existence``: also :math:`Q \ge |y|^2` was proved, so every solution exists for
    all :math:`t \ge 0`."""

    Q: sp.Expr
    derivative: sp.Expr
    a: sp.Expr
    b: sp.Expr
    slack: sp.Expr
    squares: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    global_existence: bool = False


def apriori_bound(system, Q, *, a=0, b=0, assumptions=(), squares=None) -> AprioriBound:
    r"""Prove :math:`\dot Q \le a Q + b` along every solution, exactly, and whether
    :math:`Q \ge |y|^2` (then no finite-time blow-up: global existence).

    ``system``: a :class:`~symdyn.LearningSystem` or a mapping ``{symbol: rhs}``; ``Q``: a
    polynomial in the state; ``a``, ``b``: numbers or expressions in the parameters (free of
    the state); ``assumptions``: sympy relations on the parameters (``beta > 0``);
    ``squares``: polynomials :math:`q_i` to try :math:`a Q + b - \dot Q = \sum_i w_i q_i^2`.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> apriori_bound({x: y, y: -x}, x**2 + y**2).global_existence
    True
    >>> apriori_bound({x: x**2}, x**2, a=2, b=2).status
    'refuted'
    """
    state, rhs = vector_field(system)
    facts = assume(assumptions)
    Q = rationalize(_expression(system, Q, "the bounded quantity"))
    a, b = (rationalize(sp.sympify(v, strict=True)) for v in (a, b))
    if (a.free_symbols | b.free_symbols) & set(state):
        raise AnalysisError("a and b must be free of the state (constants or parameters)")
    rhs = tuple(rationalize(e) for e in rhs)
    if not all(e.is_polynomial(*state) for e in (Q, *rhs)):
        raise AnalysisError("the a-priori bound needs Q and the vector field polynomial in "
                            "the state")
    qdot = sp.expand(sum(sp.diff(Q, x) * f for x, f in zip(state, rhs, strict=True)))
    slack = sp.expand(a * Q + b - qdot)
    cands = [sp.expand(q) for q in (squares or [*state, *rhs])]
    result = prove_nonnegative(slack, state, facts, squares=cands)
    norm = sum(x**2 for x in state)
    proper = prove_nonnegative(Q - norm, state, facts).status == "proved"
    bound = (Math(rf"{latex_math(Q)}\big|_{{t}} \le {latex_math(Q)}\big|_{{0}} + "
                  rf"{latex_math(b)}\, t", f"Q(t) <= Q(0) + {b} t") if a == 0 else
             Math(rf"{latex_math(Q)}\big|_{{t}} \le \left({latex_math(Q)}\big|_{{0}} + "
                  rf"{latex_math(b / a)}\right) e^{{{latex_math(a)} t}} - {latex_math(b / a)}",
                  f"Q(t) <= (Q(0) + {b / a}) exp({a} t) - {b / a}"))
    rel = Math(rf"{ddt(Q).latex} \le {latex_math(a * sp.Symbol('Q') + b)}",
               f"{ddt(Q).text} <= {a} Q + {b}")
    exists = " Since it bounds the squared norm of the state, every solution exists for all " \
             "positive time." if proper else ""
    claim = sentence("Along every solution, {rel}, with {Qdef}; hence {bound} for all "
                     "positive time, and this quantity cannot blow up in finite time." + exists,
                     rel=rel, Qdef=sp.Eq(sp.Symbol("Q"), Q), bound=bound)
    steps = [sentence("The derivative of the quantity along the vector field is {d}.",
                      d=ddt(Q, qdot))]
    base = dict(kind="a-priori bound", statement=claim, assumptions=facts.relations, Q=Q,
                derivative=qdot, a=a, b=b, slack=slack)
    if result.status != "proved":
        cx = result.counterexample
        if cx:  # the refuter's value is that of the slack aQ + b - dQ/dt, negative there
            cx = {**{k: v for k, v in cx.items() if k != "value"}, "slack": cx["value"]}
        return AprioriBound(status=result.status, sketch=tuple(steps), counterexample=cx,
                            message=(f"dQ/dt > aQ + b at {cx}" if cx else
                                     "aQ + b - dQ/dt >= 0 could be neither proved nor "
                                     "refuted; pass squares="), **base)
    steps.append(_slack_step(slack, result))
    steps.append(sentence("By Grönwall's inequality, {bound}.", bound=bound))
    if proper:
        steps.append(sentence("Moreover {ineq} is proved the same way, so the state stays "
                              "bounded on every finite time interval and no solution blows "
                              "up in finite time.", ineq=sp.Ge(Q, norm, evaluate=False)))
    return AprioriBound(status="proved", sketch=tuple(steps), squares=result.squares,
                        global_existence=proper,
                        message=f"dQ/dt <= {a * sp.Symbol('Q') + b} proved ({result.method})"
                        + ("; Q >= |y|^2: global existence" if proper else
                           "; Q >= |y|^2 not proved: global existence not concluded"), **base)


def _slack_step(slack, result):
    if result.method == "squares":
        total = sp.Add(*[w * sp.Pow(q, 2, evaluate=False) for w, q in result.squares],
                       evaluate=False)
        return sentence("The slack {s} equals {t} exactly, with non-negative weights.",
                        s=Math(r"a Q + b - \dot Q", "aQ + b - dQ/dt"), t=total)
    return sentence("The slack {s} is non-negative: each of its factors (or terms) has a "
                    "known sign.", s=sp.factor(slack))
