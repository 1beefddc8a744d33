"""Checking a candidate first integral: exact Lie derivatives, per activation region for
piecewise-polynomial networks, counterexamples only from exact values or far above a stated
bound."""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from ..errors import SpecError, require_system
from ._common import (
    as_expression,
    free_parameters,
    namespace,
    positive_parameters,
    rationalize,
)
from ._invariant_setting import _on_regions
from ._invariant_words import _matrix_derivative, _Unsupported, _word_expr


@dataclass(frozen=True)
class InvariantCheck:
    r"""Whether a candidate :math:`H` is a first integral.

    ``status``: ``"proved"`` (:math:`\dot H \equiv 0` shown symbolically), ``"refuted"``
    (:math:`\dot H \not\equiv 0`; ``counterexample`` is a point, state and parameters by name,
    with the value of :math:`\dot H` there under ``"dH/dt"``) or ``"unknown"`` (not decided:
    see ``message``). ``holds`` is true exactly when proved. ``method`` says how:
    ``"components"``, ``"matrix"`` (a matrix identity, for every size) or
    ``"components (sizes ...)"`` (a matrix candidate checked entry-wise for this system's
    sizes). ``derivative`` is the simplified :math:`\dot H`."""

    expression: sp.Basic
    holds: bool
    status: str
    method: str
    derivative: sp.Basic
    counterexample: dict[str, sp.Expr] | None
    message: str


NUMERIC_BOUND = 1e-10
r"""The least :math:`|\dot H|` that refutes a candidate on a non-polynomial, non-relu system
(evaluated to 30 significant digits at an exact point with exact data, so the evaluation
error is below :math:`10^{-25}` relative to the terms)."""


def lie_derivative(system, H: sp.Expr) -> sp.Expr:
    r""":math:`\dot H = \sum_i \partial_{y_i} H\, f_i(y)` in component form (not simplified)."""
    return sp.Add(*[sp.diff(H, x) * f for x, f in zip(system.state, system.rhs, strict=True)])


def _exact_lie(system, H: sp.Expr) -> sp.Expr:
    """:func:`lie_derivative` with the data as exact rationals (no float rounding)."""
    H = rationalize(H, exact=True)
    return sp.Add(*[sp.diff(H, x) * f
                    for x, f in zip(system.state, system.exact_rhs, strict=True)])


def verify_invariant(system, H) -> InvariantCheck:
    r"""Check whether ``H`` is a first integral of ``system``: :math:`\dot H \equiv 0`.

    ``H`` is a sympy expression or a string in the component symbols (``"a1**2 - 2*c1*a2"``)
    or, for any network, in the matrix symbols (``"A1*A1.T - C1*A2 - A2.T*C1.T"``). A matrix
    candidate is first checked as a matrix identity (product rule, then the non-commutative
    words cancel: true for every size), else entry by entry for this system's sizes.

    Verdicts are sound. Numeric data enter as exact rationals (each float's exact binary
    value, the number the user's arrays hold), so a polynomial :math:`\dot H` is decided
    exactly, and a counterexample carries an exact non-zero value. A relu network is decided
    on its activation regions: proved when :math:`\dot H = 0` on every sign pattern, refuted
    by an exact point off the region boundaries. Any other function (tanh) is evaluated to 30
    digits and refutes only when :math:`|\dot H|` exceeds :data:`NUMERIC_BOUND`, far above
    the evaluation error; otherwise the verdict is ``"unknown"``, and the message says why.

    >>> from symdyn import derive
    >>> verify_invariant(derive("1-1-1", "rbp"), "a1**2 - 2*c1*a2").holds
    True
    >>> verify_invariant(derive("1-1-1", "rbp"), "a1**2 - a2**2").status
    'refuted'
    """
    require_system(system, "verify_invariant: system")
    H = as_expression(system, H, "an invariant candidate")
    if H.has(sp.MatrixSymbol) or isinstance(H, sp.MatrixExpr):
        return _check_matrix(system, H)
    known = set(system.state) | set(free_parameters(system))
    unknown = sorted(str(s) for s in H.free_symbols - known)
    if unknown:
        raise SpecError(f"{H} uses {', '.join(unknown)}, which this system does not have; its "
                        f"state is {', '.join(map(str, system.state))}")
    return _check_scalar(system, H, _exact_lie(system, H), method="components")


def _check_scalar(system, H, derivative: sp.Expr, *, method: str,
                  entry: str | None = None) -> InvariantCheck:
    """Decide whether the component expression ``derivative`` vanishes identically."""
    gens = (*system.state, *free_parameters(system))
    derivative = rationalize(derivative, exact=True)
    if derivative.is_polynomial(*gens):
        d = sp.expand(derivative)
        if d == 0:
            return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                                  "dH/dt expands to 0: a polynomial identity (exact)")
        point = _counterexample(system, d)
        shown = sp.factor(d) if len(d.args) <= 40 else d
        if point is None:  # not met in practice: random points find a non-zero polynomial
            return InvariantCheck(H, False, "refuted", method, shown, None,
                                  "dH/dt is a non-zero polynomial (exact; no point was tried "
                                  "where it is non-zero)")
        return InvariantCheck(H, False, "refuted", method, shown,
                              _with_entry(point, entry),
                              f"dH/dt is not identically 0: it is exactly {point['dH/dt']} at "
                              "the point given (exact rational arithmetic, data as exact "
                              "rationals)")
    (on_regions,), regions = _on_regions([derivative])
    sigmas = tuple(regions.values())
    if regions and on_regions.is_polynomial(*gens, *sigmas):
        d = _multilinear(sp.expand(on_regions), sigmas)
        if d == 0:
            return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                                  f"dH/dt = 0 on every activation region (all "
                                  f"{2 ** len(sigmas)} sign patterns of the {len(sigmas)} "
                                  "relu arguments): a polynomial identity on each (exact)")
        point = _counterexample(system, derivative, avoid=tuple(regions))
        if point is not None:
            return InvariantCheck(H, False, "refuted", method, derivative,
                                  _with_entry(point, entry),
                                  f"dH/dt is exactly {point['dH/dt']} at the point given, "
                                  "inside an activation region (exact rational arithmetic, "
                                  "data as exact rationals)")
        return InvariantCheck(H, False, "unknown", method, derivative, None,
                              "dH/dt is not 0 on some sign patterns of the relu arguments, "
                              "but vanished at every point tried; those patterns may never "
                              "occur: not decided")
    # not polynomial (e.g. tanh): an exact point, 30 digits, judged against NUMERIC_BOUND
    point = _counterexample(system, derivative, numeric=True)
    if point is not None:
        return InvariantCheck(H, False, "refuted", method, derivative,
                              _with_entry(point, entry),
                              f"dH/dt is {point['dH/dt']} at the point given (exact point and "
                              "data; evaluated to 30 significant digits, so the value is "
                              f"numerical, but its size is far above the bound {NUMERIC_BOUND:g} "
                              "used to refute)")
    simplified = sp.simplify(derivative)
    if simplified == 0:
        return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                              "dH/dt simplifies to 0")
    return InvariantCheck(H, False, "unknown", method, simplified, None,
                          f"|dH/dt| stayed below {NUMERIC_BOUND:g} at every point tried "
                          "(evaluated to 30 digits) and sympy could not simplify it to 0: "
                          "not decided")


def _multilinear(d: sp.Expr, sigmas) -> sp.Expr:
    r"""An expanded polynomial with every power of an indicator lowered (:math:`\sigma^2 =
    \sigma`)."""
    if not sigmas or d == 0:
        return d
    out: dict = {}
    for m, c in sp.Poly(d, *sigmas).terms():
        k = tuple(min(e, 1) for e in m)
        out[k] = out.get(k, 0) + c
    return sp.expand(sp.Add(*[c * sp.Mul(*[x for x, e in zip(sigmas, k, strict=True) if e])
                              for k, c in out.items()]))


def _with_entry(point: dict, entry: str | None) -> dict:
    return {"entry": entry, **point} if entry else point


def _counterexample(system, d: sp.Expr, *, numeric: bool = False, avoid=(),
                    tries: int = 300) -> dict | None:
    """A point (small integers first) where ``d`` is non-zero: parameters generic (non-zero,
    positive where they must be), the state anywhere, and none of ``avoid`` zero (relu
    arguments: a region boundary). Exact, unless ``numeric`` (then 30 digits, and the value
    must exceed :data:`NUMERIC_BOUND`)."""
    params = free_parameters(system)
    positive = positive_parameters(system)
    n0 = system.network.sizes[0]
    rng = random.Random(0)
    symbols = [s for s in (*system.state, *params) if s in d.free_symbols]
    for t in range(tries):
        bound = 2 if t < 60 else 5 if t < 150 else 20
        point = {}
        for s in (*system.state, *params):
            if s.name.startswith("Sigma_II_"):  # diagonally dominant: a valid second moment
                i, j = s.name.split("_")[-2:]
                v = rng.randint(n0, n0 + bound) if i == j else rng.choice([-1, 0, 1])
            elif s in positive:
                v = rng.randint(1, bound)
            elif s in params:
                v = rng.choice([k for k in range(-bound, bound + 1) if k != 0])
            else:
                v = rng.randint(-bound, bound)
            point[s] = sp.Integer(v)
        if any(a.xreplace(point) == 0 for a in avoid):
            continue
        value = d.xreplace({s: point[s] for s in symbols})
        if numeric:
            value = sp.N(value, 30)
            if not value.is_number or abs(value) <= NUMERIC_BOUND:
                continue
        elif value == 0:
            continue
        out = {str(s): v for s, v in point.items()}
        out["dH/dt"] = value
        return out
    return None


def _check_matrix(system, H) -> InvariantCheck:
    """A matrix candidate: as a word identity first, else entry by entry."""
    names = set(namespace(system).values())
    unknown = sorted(str(s) for s in H.free_symbols if s not in names)
    if unknown:
        raise SpecError(f"{H} uses {', '.join(unknown)}, which this system does not have; its "
                        f"matrices are {', '.join(map(str, system.matrix.state))}")
    reason = ""
    try:
        remainder = _matrix_derivative(system, H)
    except _Unsupported as exc:
        remainder, reason = None, f"the matrix form is not a word identity ({exc}); "
    if remainder == {}:
        return InvariantCheck(H, True, "proved", "matrix", sp.ZeroMatrix(*H.shape), None,
                              "dH/dt = 0 as a matrix identity (product rule; the words cancel), "
                              "so it holds for every layer size")
    if remainder is not None:
        left = _word_expr(remainder, H.shape)
        reason = f"the words of dH/dt do not cancel formally (left: {left}); "
    sizes = system.network.arch
    method = f"components (sizes {sizes})"
    entries = system.explicit(H)
    for i in range(entries.rows):
        for j in range(entries.cols):
            check = _check_scalar(system, entries[i, j], _exact_lie(system, entries[i, j]),
                                  method=method, entry=f"H[{i + 1},{j + 1}]")
            if check.status != "proved":
                if remainder is not None:
                    derivative = _word_expr(remainder, H.shape)
                else:
                    derivative = sp.ImmutableMatrix(
                        entries.rows, entries.cols,
                        lambda a, b: sp.expand(_exact_lie(system, entries[a, b])))
                return InvariantCheck(H, False, check.status, method, derivative,
                                      check.counterexample,
                                      reason + f"entry ({i + 1},{j + 1}): " + check.message)
    return InvariantCheck(H, True, "proved", method, sp.ZeroMatrix(*H.shape), None,
                          reason + f"every entry of dH/dt is 0 for sizes {sizes} (not shown for "
                          "other sizes)")
