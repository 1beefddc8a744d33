r"""Linear stability: the Jacobian, its eigenvalues and a classification of fixed points.

At a fixed point on a family (a solution set) of dimension :math:`k`, the :math:`k`
directions along the family are in the kernel of the Jacobian, so :math:`k` eigenvalues are
zero by construction. The classification speaks of the other, *transverse* eigenvalues:
``stable`` (all real parts negative: the family attracts nearby trajectories, normally
hyperbolic), ``unstable`` (all positive), ``saddle`` (both signs), ``non-hyperbolic`` (a
transverse eigenvalue with zero real part). When the signs depend on parameters or on the
point of the family, the label is ``depends`` and :attr:`Stability.condition` says on what;
``unknown`` when the eigenvalues could not be found."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .._typeset import Sentence
from ..errors import require_system

__all__ = ["jacobian", "eigenvalues", "classify", "Stability", "LABELS"]

#: The classification labels.
LABELS = ("stable", "unstable", "saddle", "non-hyperbolic", "depends", "unknown")


def jacobian(system) -> sp.Matrix:
    r"""The Jacobian :math:`J_{ij} = \partial f_i / \partial y_j` of the right-hand side, in
    :attr:`~symdyn.LearningSystem.state` order.

    >>> from symdyn import derive
    >>> jacobian(derive("1-1-1", "rbp"))
    Matrix([
    [          -a2*beta*c1, -a1*beta*c1],
    [-2*a1*a2*beta + alpha, -a1**2*beta]])
    """
    require_system(system, "jacobian: system")
    return sp.Matrix(system.rhs).jacobian(sp.Matrix(system.state))


def eigenvalues(J: sp.Matrix) -> tuple[list[sp.Expr], sp.Expr]:
    """The eigenvalues of ``J`` with multiplicity (as many as sympy can find in closed form or
    as exact roots of a polynomial with rational coefficients) and the characteristic
    polynomial in ``lambda_``."""
    x = sp.Symbol("lambda_")
    p = sp.factor(J.charpoly(x).as_expr())
    out: list[sp.Expr] = []
    for factor, k in sp.factor_list(p, x)[1]:
        poly = sp.Poly(factor, x)
        if poly.degree() == 0:
            continue
        found = sp.roots(poly, multiple=True)
        if len(found) < poly.degree() and not (poly.free_symbols - {x}):
            try:
                found = poly.all_roots()  # exact CRootOf for rational coefficients
            except (sp.polys.polyerrors.PolynomialError, NotImplementedError):
                found = []
        out.extend(list(found) * k)
    return out, p


@dataclass(frozen=True)
class Stability:
    """The linear stability of a fixed point (see the module's docstring for the labels)."""

    label: str
    transverse: tuple[sp.Expr, ...]
    condition: str = ""
    #: ``condition`` with its formulas as sympy objects, for LaTeX (``None`` when there is
    #: no condition, or it is prose only)
    sentence: Sentence | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.label} ({self.condition})" if self.condition else self.label


def _sign_split(e: sp.Expr) -> tuple[int | None, sp.Expr]:
    """``e = s * Q * (positive)``: the sign ``s`` of what is known and the undetermined rest
    ``Q`` (1 when the sign is known). ``s`` is ``None`` if a factor is not known to be real."""
    e = sp.factor(sp.together(e))
    if e == 0:
        return 0, sp.Integer(1)
    num, den = sp.fraction(e)
    sign, rest = 1, []
    for part, in_den in ((num, False), (den, True)):
        for f in sp.Mul.make_args(part):
            base, k = f.as_base_exp() if f.is_Pow and f.exp.is_Integer else (f, 1)
            k = int(k)
            if base.is_positive:
                continue
            if base.is_negative:
                sign *= (-1) ** k
                continue
            if base.is_real is not True:
                return None, e
            if k % 2 == 0 and (in_den or base.is_nonzero):
                continue  # an even power, non-zero (a denominator is non-zero where defined)
            if base.could_extract_minus_sign():
                base, sign = -base, sign * (-1) ** k
            rest.append(base**k)
    return sign, sp.Mul(*rest)


def _real_sign(e: sp.Expr) -> int | None:
    """The sign of the real part of ``e`` (-1, 0, 1) or ``None`` if it is not determined."""
    if e.is_zero:
        return 0
    if e.is_number:
        r = sp.re(e)
        if r.is_zero:
            return 0
        v = sp.N(r, 30)
        if v.is_number and v != 0:
            return 1 if v > 0 else -1
        return None
    r = e if e.is_real else sp.re(e)
    if r.is_negative:
        return -1
    if r.is_positive:
        return 1
    if r.is_zero:
        return 0
    s, q = _sign_split(e)  # e.g. a denominator that is non-zero where e is defined
    return s if q == 1 else None


def classify(eigs, zeros: int = 0, *, alternatives=()) -> Stability:
    """Classify a fixed point from its eigenvalues, ``zeros`` of which are expected to vanish
    (the dimension of its family). ``alternatives`` maps a transverse eigenvalue to other
    expressions equal to it at the point (e.g. in the ambient coordinates of a family), which
    are tried when the sign of the first is not determined and shown in the condition."""
    rest = list(eigs)
    for _ in range(zeros):
        zero = next((e for e in rest if e == 0 or e.is_zero), None)
        if zero is None:
            break
        rest.remove(zero)
    if not rest:
        return Stability("non-hyperbolic", (), "no transverse direction")
    alternatives = dict(alternatives)
    signs = []
    for e in rest:
        s = _real_sign(e)
        for alt in alternatives.get(e, ()):
            s = _real_sign(alt) if s is None else s
        signs.append(s)
    pos, neg, zero = 1 in signs, -1 in signs, 0 in signs
    parts: list[str] = []
    spoken: list[tuple[str, dict]] = []  # the same parts, their formulas as sympy objects
    undecided = [i for i, s in enumerate(signs) if s is None]
    # real pairs {x, -x}: one positive and one negative eigenvalue wherever x != 0
    for a in list(undecided):
        for b in list(undecided):
            if a < b and a in undecided and b in undecided and rest[a].is_real \
                    and rest[b].is_real and sp.expand(rest[a] + rest[b]) == 0:
                undecided = [i for i in undecided if i not in (a, b)]
                if (rest[a] * rest[b]).is_negative:
                    pos = neg = True
                else:
                    _, q = _sign_split(rest[a])
                    q = rest[a] if q == 1 else q
                    parts.append(f"eigenvalues {sp.sstr(rest[a])} and {sp.sstr(rest[b])}: "
                                 f"one positive, one negative where {sp.sstr(q)} != 0, both 0 "
                                 "where it is 0")
                    spoken.append(("eigenvalues {e} and {f}: one positive, one negative "
                                   "where {q}, both 0 where it is 0",
                                   {"e": rest[a], "f": rest[b],
                                    "q": sp.Ne(q, 0, evaluate=False)}))
    single = len(rest) == 1
    for i in undecided:
        text, said = _condition(rest[i], alternatives.get(rest[i], ()), single=single)
        parts.append(text)
        spoken.append(said)
    transverse = tuple(rest)
    if not parts:
        if zero:
            return Stability("non-hyperbolic", transverse,
                             "a transverse eigenvalue has zero real part" +
                             ("; one has positive real part: unstable" if pos else ""))
        if pos and neg:
            return Stability("saddle", transverse)
        return Stability("stable" if neg else "unstable", transverse)
    if pos and not zero and not any(p.startswith("eigenvalues") for p in parts):
        lead = "a transverse eigenvalue has positive real part; "
        return Stability("unstable", transverse, lead + "; ".join(parts),
                         _sentence(spoken, lead))
    return Stability("depends", transverse, "; ".join(parts), _sentence(spoken))


def _sentence(spoken: list[tuple[str, dict]], lead: str = "") -> Sentence:
    """One sentence of the parts ``(template, formulas)``, joined by semicolons."""
    templates, math = [], {}
    for k, (template, formulas) in enumerate(spoken):
        names = {name: f"{name}{k}" for name in formulas}
        templates.append(template.format(**{n: "{" + m + "}" for n, m in names.items()}))
        math.update({names[n]: v for n, v in formulas.items()})
    return Sentence(lead + "; ".join(templates), **math)


def _condition(e, alternatives, *, single: bool) -> tuple[str, tuple[str, dict]]:
    """What the sign of the real part of one eigenvalue depends on: in words, and as a
    template with its formulas (sympy relations) for :class:`~symdyn._typeset.Sentence`."""
    options = []
    for k, candidate in enumerate((e, *alternatives)):
        s, q = _sign_split(candidate)
        if s is not None:
            options.append((0 if k else 1, sp.count_ops(q), k, s, q))
    if not options:
        return (f"the sign of re({sp.sstr(e)}) is not determined",
                ("the sign of {r} is not determined", {"r": sp.re(e, evaluate=False)}))
    *_, alt, s, q = min(options, key=lambda o: o[:3])
    q_text = sp.sstr(q)
    where = " (on the set, in the state coordinates)" if alt else ""
    # s < 0: the eigenvalue is negative (stable) where q > 0
    above = sp.StrictGreaterThan(q, 0, evaluate=False)  # as the text says it, unsimplified
    below = sp.StrictLessThan(q, 0, evaluate=False)
    good, bad = (above, below) if s < 0 else (below, above)
    if single:
        if s < 0:
            text = f"stable where {q_text} > 0, unstable where {q_text} < 0{where}"
        else:
            text = f"stable where {q_text} < 0, unstable where {q_text} > 0{where}"
        return text, ("stable where {good}, unstable where {bad}" + where,
                      {"good": good, "bad": bad})
    return (f"eigenvalue {sp.sstr(e)} is negative where {q_text} {'>' if s < 0 else '<'} 0"
            f"{where}", ("eigenvalue {e} is negative where {good}" + where,
                         {"e": e, "good": good}))


def classify_numeric(eigs: np.ndarray, zeros: int = 0) -> Stability:
    """Classify from numerical eigenvalues: the ``zeros`` smallest in modulus are taken as the
    directions along the family; real parts within a relative 1e-8 count as zero."""
    eigs = np.asarray(eigs, dtype=complex)
    scale = max(1.0, float(np.max(np.abs(eigs)))) if eigs.size else 1.0
    tol = 1e-8 * scale
    order = np.argsort(np.abs(eigs))
    rest = eigs[order[zeros:]]
    values = tuple(_as_sympy_complex(v) for v in rest)
    if rest.size == 0:
        return Stability("non-hyperbolic", (), "no transverse direction")
    re = rest.real
    if np.any(np.abs(re) <= tol):
        return Stability("non-hyperbolic", values, "a transverse eigenvalue has real part 0 "
                         "within the tolerance")
    if np.all(re < 0):
        return Stability("stable", values)
    if np.all(re > 0):
        return Stability("unstable", values)
    return Stability("saddle", values)


def _as_sympy_complex(v: complex) -> sp.Expr:
    if v.imag == 0:
        return sp.Float(v.real, 12)
    return sp.Float(v.real, 12) + sp.I * sp.Float(v.imag, 12)
