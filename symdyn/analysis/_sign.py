r"""Exact sign analysis of a scalar polynomial vector field :math:`\dot x = g(x)`.

A scalar autonomous ODE has monotone solutions: each one either converges to an equilibrium
or leaves every compact set. If :math:`g` has odd degree and a negative leading coefficient,
:math:`g > 0` below its smallest real root and :math:`g < 0` above its largest, so every
solution is bounded, monotone, and converges to a real root of :math:`g`. With a positive
leading coefficient (or an even degree) the solutions beyond the extreme roots leave to
infinity. The leading coefficient's sign is decided exactly under assumptions on the
parameters (``beta > 0``, ``Ne(c1, 0)``); with numerical coefficients every real root is
isolated in a rational interval (sympy's ``Poly.intervals``, exact arithmetic) and classified
stable, unstable or semi-stable by the sign of :math:`g` on either side."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .._typeset import dot, sentence
from ..errors import AnalysisError, SpecError
from ..expressions import sympy_object
from ._certificate import ProofCertificate, assume
from ._common import rationalize

__all__ = ["sign_analysis", "SignAnalysis", "Root"]


@dataclass(frozen=True)
class Root:
    r"""A real root of :math:`g`: its exact value (a rational or a ``CRootOf``), an isolating
    interval with rational ends, its multiplicity, and its stability as an equilibrium of
    :math:`\dot x = g(x)`: ``"stable"`` (:math:`g > 0` left, :math:`g < 0` right),
    ``"unstable"`` (the reverse) or ``"semi-stable"`` (the same sign on both sides)."""

    value: sp.Expr
    interval: tuple[sp.Rational, sp.Rational]
    multiplicity: int
    stability: str


@dataclass(frozen=True, kw_only=True)
class SignAnalysis(ProofCertificate):
    r"""The result of :func:`sign_analysis`. ``proved``: every solution of
    :math:`\dot x = g(x)` is bounded and converges monotonically to a real root of
    :math:`g`; ``refuted``: some solutions are unbounded (``counterexample``: a start beyond
    the roots, for numerical coefficients). ``roots``: every real root (numerical
    coefficients only, else ``None``); ``root_bound``: Cauchy's bound :math:`B = 1 +
    \max_i |a_i / a_n|`, every real root lies in :math:`(-B, B)` (an expression in the
    parameters when there are some)."""

    variable: sp.Symbol
    rhs: sp.Expr
    degree: int
    leading_coefficient: sp.Expr
    leading_sign: int | None
    roots: tuple[Root, ...] | None = None
    root_bound: sp.Expr | None = None

    @property
    def stable(self) -> tuple[Root, ...]:
        """The stable roots (attracting from both sides)."""
        return tuple(r for r in self.roots or () if r.stability == "stable")

    @property
    def unstable(self) -> tuple[Root, ...]:
        """The unstable roots (repelling on both sides)."""
        return tuple(r for r in self.roots or () if r.stability == "unstable")


def _roots(p: sp.Poly) -> tuple[Root, ...]:
    """Every real root of ``p`` (rational coefficients), isolated exactly, with stability."""
    values = p.real_roots(multiple=False)  # sorted, with multiplicities
    eps = None
    while True:
        found = sorted(p.intervals(eps=eps), key=lambda iv: iv[0][0])
        ends = [iv for iv, _ in found]
        # refine until the intervals are strictly apart, so a point between two of them is
        # no root and the sign of p there is the sign beside each root
        if all(a[1] < b[0] for a, b in zip(ends, ends[1:])):
            break
        eps = sp.Rational(1, 10) if eps is None else eps / 10
    if len(values) != len(ends):
        raise AnalysisError("root isolation disagrees with real_roots (a sympy bug?)")
    out = []
    for i, ((lo, hi), (value, mult)) in enumerate(zip(ends, values, strict=True)):
        left = lo - 1 if i == 0 else (ends[i - 1][1] + lo) / 2
        right = hi + 1 if i == len(ends) - 1 else (hi + ends[i + 1][0]) / 2
        sl, sr = sp.sign(p.eval(left)), sp.sign(p.eval(right))
        stability = ("stable" if sl > 0 > sr else "unstable" if sl < 0 < sr
                     else "semi-stable")
        out.append(Root(value=value, interval=(sp.Rational(lo), sp.Rational(hi)),
                        multiplicity=int(mult), stability=stability))
    return tuple(out)


def _cauchy_bound(p: sp.Poly) -> sp.Expr:
    """1 + max |a_i / a_n|: every root lies strictly inside (-bound, bound)."""
    lc = p.LC()
    ratios = [sp.Abs(sp.cancel(c / lc)) for c in p.all_coeffs()[1:]]
    return 1 + (sp.Max(*ratios) if ratios else sp.Integer(0))


def sign_analysis(rhs, x: sp.Symbol, assumptions=()) -> SignAnalysis:
    r"""Decide exactly whether every solution of :math:`\dot x = g(x)` is bounded and
    converges to a root of :math:`g` (``rhs``, a polynomial in ``x`` whose coefficients may
    hold parameters). ``assumptions``: sympy relations on the parameters, each a symbol
    against 0 (``beta > 0``, ``Ne(c1, 0)``, ``c1 < 0``); every symbol is real.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> r = sign_analysis(-x**3 + x, x)
    >>> r.status, [(rt.value, rt.stability) for rt in r.roots]
    ('proved', [(-1, 'stable'), (0, 'unstable'), (1, 'stable')])
    >>> sign_analysis(x**3, x).status
    'refuted'
    >>> b = sp.Symbol("beta")
    >>> sign_analysis(1 - b * x**3, x, [b > 0]).status
    'proved'
    """
    if not isinstance(x, sp.Symbol):
        raise SpecError(f"the variable must be a sympy Symbol, got {x!r}")
    facts = assume(assumptions)
    g = sp.expand(rationalize(sympy_object(rhs, what="the right-hand side")))
    if not g.is_polynomial(x):
        raise AnalysisError(f"{g} is not a polynomial in {x}; the sign analysis needs one")
    p = sp.Poly(g, x)
    n, lc = p.degree(), sp.factor(p.LC())
    numeric = not (g.free_symbols - {x})
    s = facts.sign(lc) if n >= 0 else 0
    ode = dot(x, g)
    claim = sentence("Every solution of {ode} is bounded and converges monotonically to a "
                     "real root of its right-hand side.", ode=ode)
    steps = [sentence("The right-hand side is a polynomial in {x} of degree {n} with leading "
                      "coefficient {lc}.", x=x, n=sp.Integer(max(n, 0)), lc=lc)]
    base = dict(kind="reduction+sign", statement=claim, assumptions=facts.relations,
                variable=x, rhs=g, degree=max(n, 0), leading_coefficient=lc, leading_sign=s,
                root_bound=_cauchy_bound(p) if n > 0 else None)
    if g == 0:
        return SignAnalysis(status="proved", message="g = 0: every point is an equilibrium",
                            sketch=(*steps, sentence("Every point is an equilibrium.")),
                            roots=None, **base)
    roots = _roots(p) if numeric and n > 0 else (() if numeric else None)
    if s is None:
        return SignAnalysis(
            status="inconclusive", roots=roots, sketch=tuple(steps), **base,
            message=f"the sign of the leading coefficient {lc} is not decided by the "
                    f"assumptions ({', '.join(map(str, facts.relations)) or 'none'}); "
                    "assume a sign for its factors")
    if s < 0 and n % 2 == 1:
        steps += [_sign_step(lc, s, facts), sentence(
            "The degree is odd, so {g} is positive below its smallest real root and negative "
            "above its largest. A scalar autonomous equation has monotone solutions; here "
            "each one moves towards the extreme roots from beyond them, or stays between "
            "two consecutive roots, so it is bounded and converges to a real root.", g=g)]
        if roots:
            steps.append(_roots_step(x, roots))
        return SignAnalysis(status="proved", roots=roots, sketch=tuple(steps), **base,
                            message=f"degree {n} (odd), leading coefficient {lc} < 0: every "
                                    "solution is bounded and converges to a root"
                                    + _roots_text(roots))
    side = "above its largest real root" if s > 0 else "below its smallest real root"
    where = "above" if s > 0 else "below"
    why = (f"degree {n}, leading coefficient {lc} {'> 0' if s > 0 else '< 0'}: the "
           f"solutions starting {side} are unbounded")
    cx = None
    if numeric:
        b = _cauchy_bound(p)
        start = b if s > 0 else -b  # beyond every root, on the side g points away
        cx = {str(x): start, "rhs": g.subs(x, start)}
    steps += [_sign_step(lc, s, facts), sentence(
        f"So {{g}} is {'positive' if s > 0 else 'negative'} {where} every real root: the "
        "solutions there move away from the roots, without bound.", g=g)]
    return SignAnalysis(status="refuted", roots=roots, sketch=tuple(steps), counterexample=cx,
                        message=why + _roots_text(roots), **base)


def _sign_step(lc, s, facts):
    rel = sp.Lt(lc, 0, evaluate=False) if s < 0 else sp.Gt(lc, 0, evaluate=False)
    if facts.relations:
        return sentence("Under the assumptions, {rel}.", rel=rel)
    return sentence("Its sign: {rel}.", rel=rel)


def _roots_step(x, roots):
    parts = [sp.Eq(x, r.value) for r in roots]
    kinds = ", ".join(f"{r.stability}" + (f" (multiplicity {r.multiplicity})"
                                         if r.multiplicity > 1 else "") for r in roots)
    return sentence("The real roots, isolated exactly in rational intervals, are {roots}: "
                    "respectively " + kinds + ". Each start converges to the nearest root in "
                    "the direction of the sign of the right-hand side.", roots=parts)


def _roots_text(roots) -> str:
    if not roots:
        return ""
    return "; roots " + ", ".join(f"{r.value} ({r.stability})" for r in roots)
