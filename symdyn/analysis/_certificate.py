r"""What the building blocks of convergence proofs share: the frozen :class:`ProofCertificate`
(status, the exact statement, its assumptions, a proof sketch as sentences with sympy
formulas), assumptions on symbols given as sympy relations (``beta > 0``, ``Ne(c1, 0)``), and
an exact prover of :math:`e \ge 0` for polynomials (a certificate by factors of known sign, by
terms of known sign, or as a weighted sum of squares of given polynomials) with a refuter that
looks for a rational point where :math:`e < 0`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from .._typeset import Sentence
from ..errors import SpecError
from ..expressions import sympy_object
from ._common import rationalize

__all__ = ["ProofCertificate", "Assumptions", "assume", "Nonnegativity", "prove_nonnegative",
           "STATUSES"]

#: ``proved``: the statement holds (under the assumptions); ``refuted``: it is false, with a
#: counterexample; ``inconclusive``: neither could be shown.
STATUSES = ("proved", "refuted", "inconclusive")


@dataclass(frozen=True, kw_only=True)
class ProofCertificate:
    r"""A statement and the state of its proof. ``kind``: the kind of proof (as in
    :data:`symdyn.verify.PROOF_KINDS`: ``"reduction+sign"``, ``"lyapunov"``, ``"a-priori
    bound"``, ...); ``statement``: what is proved (or refuted), exactly; ``assumptions``: the
    sympy relations assumed of the parameters; ``sketch``: the proof, one sentence per step,
    every formula a sympy object; ``counterexample``: a point that refutes, if any."""

    status: str
    message: str
    kind: str
    statement: Sentence
    assumptions: tuple[sp.Basic, ...] = ()
    sketch: tuple[Sentence, ...] = ()
    counterexample: dict | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise SpecError(f"status {self.status!r} is not one of {STATUSES}")

    @property
    def proved(self) -> bool:
        """Whether the statement is proved."""
        return self.status == "proved"

    def latex(self) -> str:
        """The proof sketch as LaTeX (sentences, formulas printed by sympy), to put inside a
        ``proof`` environment."""
        return "\n\n".join(s.latex() for s in self.sketch)

    def theorem_latex(self, name: str = "theorem") -> str:
        r"""The statement, its assumptions and the sketch as ``\begin{theorem}`` ...
        ``\begin{proof}`` (amsthm); a refuted statement is set as a remark."""
        from .._typeset import latex_math

        hyp = ", ".join(f"${latex_math(a)}$" for a in self.assumptions)
        head = f"Assume {hyp}. " if hyp else ""
        if self.status != "proved":
            return (f"\\begin{{remark}}[{self.status}] {head}{self.statement.latex()}\n\n"
                    f"{self.latex()}\n\\end{{remark}}")
        return (f"\\begin{{{name}}}\n{head}{self.statement.latex()}\n\\end{{{name}}}\n"
                f"\\begin{{proof}}\n{self.latex()}\n\\end{{proof}}")


# -- assumptions --------------------------------------------------------------------------------

_FACTS = {">": "positive", "<": "negative", ">=": "nonnegative", "<=": "nonpositive",
          "!=": "nonzero"}
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "!=": "!="}


@dataclass(frozen=True)
class Assumptions:
    """Facts about symbols: each symbol real, some positive, negative, non-negative,
    non-positive or non-zero. ``relations``: as given; ``facts``: symbol -> set of facts."""

    relations: tuple[sp.Basic, ...]
    facts: Mapping[sp.Symbol, frozenset]

    def symbols_for(self, symbols: Iterable[sp.Symbol]) -> dict[sp.Symbol, sp.Symbol]:
        """Each symbol -> a real dummy of the same name that carries its facts."""
        out = {}
        for s in symbols:
            kw = {f: True for f in self.facts.get(s, ())}
            out[s] = sp.Dummy(s.name, real=True, **kw)
        return out

    def sign(self, expr: sp.Expr) -> int | None:
        """The sign of ``expr`` (1, 0, -1) for every real value of its symbols that meets
        the facts, when sympy's assumptions decide it (factor by factor); else ``None``."""
        expr = sympy_object(expr)
        if expr == 0:
            return 0
        dummies = self.symbols_for(expr.free_symbols)
        e = sp.factor(rationalize(expr)).xreplace(dummies)
        if e.is_positive:
            return 1
        if e.is_negative:
            return -1
        return None

    def nonnegative(self, expr: sp.Expr) -> bool:
        """Whether ``expr >= 0`` for every real value of its symbols that meets the facts
        (decided by sympy's assumptions on its factored form)."""
        expr = sympy_object(expr)
        if expr == 0:
            return True
        dummies = self.symbols_for(expr.free_symbols)
        return bool(sp.factor(rationalize(expr)).xreplace(dummies).is_nonnegative) or \
            bool(sp.expand(rationalize(expr)).xreplace(dummies).is_nonnegative)

    def nonpositive(self, expr: sp.Expr) -> bool:
        """Whether ``expr <= 0`` under the facts (see :meth:`nonnegative`)."""
        return self.nonnegative(-sympy_object(expr))

    def sample_values(self, symbols: Sequence[sp.Symbol]) -> list[dict]:
        """A few exact values for ``symbols`` that meet the facts (for refutations)."""
        choices = []
        for s in symbols:
            f = self.facts.get(s, frozenset())
            pool = [sp.Integer(1), sp.Integer(-1), sp.Integer(2), sp.Rational(1, 2),
                    sp.Integer(-2), sp.Integer(0), sp.Integer(3), sp.Rational(-1, 3)]
            pool = [v for v in pool if _meets(v, f)]
            choices.append(pool[:4])
        points = list(itertools.islice(itertools.product(*choices), 64))
        return [dict(zip(symbols, p, strict=True)) for p in points]


def _meets(v, facts) -> bool:
    tests = {"positive": v > 0, "negative": v < 0, "nonnegative": v >= 0,
             "nonpositive": v <= 0, "nonzero": v != 0}
    return all(bool(tests[f]) for f in facts)


def assume(assumptions: Iterable[sp.Basic] | Assumptions | None = ()) -> Assumptions:
    """Read assumptions given as sympy relations between a symbol and 0 (``beta > 0``,
    ``c1 < 0``, ``x >= 0``, ``Ne(c1, 0)``, also ``0 < beta``); every symbol is real. Anything
    else is a :class:`~symdyn.SpecError` that shows it."""
    if isinstance(assumptions, Assumptions):
        return assumptions
    relations = tuple(assumptions or ())
    facts: dict[sp.Symbol, set] = {}
    for rel in relations:
        if isinstance(rel, sp.logic.boolalg.BooleanTrue):
            continue
        if not isinstance(rel, sp.core.relational.Relational) or rel.rel_op not in _FACTS:
            raise SpecError(f"assumption {rel!r}: give a relation between a symbol and 0, "
                            "such as beta > 0, c1 < 0 or Ne(c1, 0)")
        op, lhs, rhs = rel.rel_op, rel.lhs, rel.rhs
        if lhs == 0 and isinstance(rhs, sp.Symbol):
            op, lhs, rhs = _FLIP[op], rhs, lhs
        if not (isinstance(lhs, sp.Symbol) and rhs == 0):
            raise SpecError(f"assumption {rel}: give a relation between a symbol and 0, such "
                            "as beta > 0, c1 < 0 or Ne(c1, 0)")
        facts.setdefault(lhs, set()).add(_FACTS[op])
    return Assumptions(relations, {s: frozenset(f) for s, f in facts.items()})


# -- non-negativity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Nonnegativity:
    r"""Whether :math:`e \ge 0` for all real values of ``variables`` (and of the parameters,
    under the assumptions). ``status``: proved / refuted / inconclusive; ``method``: how
    (``"zero"``, ``"factors"``, ``"terms"``, ``"squares"``); ``squares``: for ``"squares"``,
    pairs (weight, q) with :math:`e = \sum w\, q^2` exactly; ``counterexample``: a point with
    :math:`e < 0`."""

    status: str
    method: str
    squares: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    counterexample: dict | None = None


def _sum_of_squares(e, candidates, variables, facts) -> tuple | None:
    """Weights w_i free of ``variables`` with e = sum w_i q_i^2 exactly, each w_i >= 0."""
    if not candidates:
        return None
    w = sp.symbols(f"w0:{len(candidates)}", cls=sp.Dummy)
    diff = sp.expand(e - sum(wi * q**2 for wi, q in zip(w, candidates, strict=True)))
    eqs = sp.Poly(diff, *variables).coeffs() if diff != 0 else []
    sol = sp.solve(eqs, w, dict=True) if eqs else [{}]
    if not sol:
        return None
    weights = [sp.simplify(sol[0].get(wi, 0)) for wi in w]  # free weights set to 0
    weights = [x.xreplace({wi: 0 for wi in w}) for x in weights]
    if sp.expand(e - sum(x * q**2 for x, q in zip(weights, candidates, strict=True))) != 0:
        return None
    if not all(facts.nonnegative(x) for x in weights):
        return None
    return tuple((x, q) for x, q in zip(weights, candidates, strict=True) if x != 0)


def prove_nonnegative(expr, variables: Sequence[sp.Symbol], assumptions=(), *,
                      squares: Sequence[sp.Expr] = ()) -> Nonnegativity:
    r"""Prove :math:`e \ge 0` for all real ``variables`` (parameters under ``assumptions``),
    exactly: every factor of :math:`e` of known sign with the negative ones paired (e.g.
    :math:`\beta (a_1 a_2)^2`); every term of its expansion non-negative (e.g. :math:`x^2 +
    \beta y^4`); or :math:`e = \sum_i w_i q_i^2` with ``squares`` the :math:`q_i` and weights
    :math:`w_i \ge 0` found by linear algebra. Else look for a rational point with
    :math:`e < 0` (refuted); else inconclusive."""
    facts = assume(assumptions)
    e = sp.expand(rationalize(sympy_object(expr)))
    if e == 0:
        return Nonnegativity("proved", "zero")
    variables = tuple(variables)
    # squares first: their zero set (all q_i = 0) is the sharpest description of {e = 0}
    found = _sum_of_squares(e, [sp.expand(rationalize(q)) for q in squares], variables, facts)
    if found is not None:
        return Nonnegativity("proved", "squares", squares=found)
    if facts.nonnegative(e) or _nonneg_factors(e, facts):
        return Nonnegativity("proved", "factors")
    if all(facts.nonnegative(t) for t in sp.Add.make_args(e)):
        return Nonnegativity("proved", "terms")
    point = _negative_point(e, variables, facts)
    if point is not None:
        return Nonnegativity("refuted", "point", counterexample=point)
    return Nonnegativity("inconclusive", "")


def _nonneg_factors(e, facts) -> bool:
    """Every factor is an even power, or of known sign, and the non-positive ones pair up."""
    coeff, factors = sp.factor_list(e)
    negative = 0 if coeff > 0 else 1
    for f, k in factors:
        if k % 2 == 0:
            continue
        if facts.nonnegative(f):
            continue
        if not facts.nonpositive(f):
            return False
        negative += 1
    return negative % 2 == 0


def _negative_point(e, variables, facts) -> dict | None:
    """A rational point (state and parameters) with e < 0: a small grid first, then large
    points along the directions {-1, 0, 1}^n (where the highest degree decides the sign)."""
    params = sorted(e.free_symbols - set(variables), key=str)
    grid = [sp.Integer(v) for v in (0, 1, -1, 2, -2)] + [sp.Rational(1, 2), sp.Rational(-1, 2),
                                                         sp.Integer(3), sp.Integer(-3)]
    n = len(variables)
    per = max(2, min(len(grid), int(4000 ** (1 / max(n, 1)))))
    directions = list(itertools.islice(itertools.product((1, -1, 0), repeat=n), 729))
    for pv in facts.sample_values(params)[:8] or [{}]:
        ep = e.xreplace(pv)
        near = itertools.product(grid[:per], repeat=n)
        far = ([sp.Integer(10**k) * v for v in d] for k in (1, 2, 3, 6) for d in directions)
        for point in itertools.chain(near, far):
            value = ep.xreplace(dict(zip(variables, point, strict=True)))
            if value.is_number and value < 0:
                return {**{str(k): v for k, v in pv.items()},
                        **{str(x): v for x, v in zip(variables, point, strict=True)},
                        "value": value}
    return None
