r"""Reduction by first integrals: on a level set :math:`H(y) = K` of an invariant that is
linear in one state variable, that variable is a function of the others, and the system
loses one equation. E.g. 1-1-1 RBP with :math:`K = a_1^2 - 2 c_1 a_2` becomes the cubic
:math:`\dot a_1 = \alpha c_1 - \tfrac{\beta}{2} a_1 (a_1^2 - K)`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from ..errors import AnalysisError, SpecError
from ._common import free_parameters, parse
from ._invariants import invariants as find_invariants
from ._invariants import verify_invariant

__all__ = ["reduce", "Reduction"]


@dataclass(frozen=True)
class Reduction:
    r"""A system reduced on the level sets of its invariants.

    ``state`` and ``rhs``: the reduced system :math:`\dot x = g(x; p, K)`; ``parameters``:
    the original parameters and the new constants :math:`K_i` (``constants`` maps each to the
    invariant whose value it is); ``back``: each eliminated state variable as a function of the
    reduced state and the constants; ``invariants``: the invariants used, in order.
    ``verified``: both checks passed symbolically: every invariant equals its constant under
    ``back``, and the time derivative of every ``back`` expression along :math:`g` equals the
    original right-hand side; ``message`` says what was assumed."""

    state: tuple[sp.Symbol, ...]
    rhs: tuple[sp.Expr, ...]
    parameters: tuple[sp.Symbol, ...]
    back: dict[sp.Symbol, sp.Expr]
    invariants: tuple[sp.Expr, ...]
    constants: dict[sp.Symbol, sp.Expr]
    verified: bool
    message: str

    @property
    def equations(self) -> dict[sp.Symbol, sp.Expr]:
        """``{reduced state symbol: rhs}``."""
        return dict(zip(self.state, self.rhs, strict=True))


def _constant_names(system, count: int) -> list[sp.Symbol]:
    taken = {s.name for s in (*system.state, *free_parameters(system))}
    stem = "K"
    while any(n == stem or (n.startswith(stem) and n[len(stem):].isdigit()) for n in taken):
        stem += "_"
    if count == 1:
        return [sp.Symbol(stem)]
    return [sp.Symbol(f"{stem}{i + 1}") for i in range(count)]


def _linear_candidates(H: sp.Expr, state: Sequence[sp.Symbol]) -> list[sp.Symbol]:
    """State variables in which ``H`` is linear with a coefficient free of the state, so that
    ``H = K`` solves for them everywhere (given generic, non-zero parameters)."""
    out = []
    for x in state:
        if not H.has(x):
            continue
        p = sp.Poly(H, x)
        if p.degree() == 1 and not (p.coeff_monomial(x).free_symbols & set(state)):
            out.append(x)
    return out


def reduce(system, invariants=None, solve_for=None) -> Reduction:
    r"""Reduce ``system`` on the level sets of first integrals.

    ``invariants``: expressions or strings (default: the generators of degree 2 from
    :func:`~symdyn.invariants`); each is verified first. For each in turn, a state variable it
    is linear in (with a coefficient free of the state: a global solution) is eliminated,
    the last such variable in state order unless ``solve_for`` (a sequence aligned with
    ``invariants``, entries a state symbol, its name, or ``None``) names one; an invariant
    that is no longer independent of the eliminated ones, or not linear in any remaining
    variable, is skipped. Raises :class:`~symdyn.AnalysisError` if nothing can be eliminated.

    >>> from symdyn import derive
    >>> r = reduce(derive("1-1-1", "rbp"))
    >>> r.state, r.back
    ((a1,), {a2: (-K + a1**2)/(2*c1)})
    >>> r.rhs[0]
    K*a1*beta/2 - a1**3*beta/2 + alpha*c1
    """
    state = list(system.state)
    names = {x.name: x for x in state}
    if invariants is None:
        candidates = list(find_invariants(system, 2, generators=True))
    else:
        if isinstance(invariants, (str, sp.Basic)):
            invariants = [invariants]
        candidates = [parse(system, h) if isinstance(h, str) else sp.sympify(h)
                      for h in invariants]
        for h in candidates:
            check = verify_invariant(system, h)
            if not check.holds:
                detail = (f"dH/dt = {check.counterexample['dH/dt']} at {check.counterexample}"
                          if check.counterexample else check.message)
                raise AnalysisError(f"{h} is not a first integral of this system ({detail}); "
                                    "reduce only by invariants (see symdyn.invariants)")
    targets: list = list(solve_for) if solve_for is not None else [None] * len(candidates)
    if len(targets) != len(candidates):
        raise SpecError(f"solve_for has {len(targets)} entries for {len(candidates)} "
                        "invariants; give one per invariant (None to choose)")
    for i, t in enumerate(targets):
        if t is None:
            continue
        key = t.name if isinstance(t, sp.Symbol) else str(t)
        if key not in names:
            raise SpecError(f"solve_for: {t!r} is not a state variable "
                            f"({', '.join(names)})")
        targets[i] = names[key]

    K = _constant_names(system, len(candidates))
    back: dict[sp.Symbol, sp.Expr] = {}
    used, constants, skipped = [], {}, []
    for h, target, k in zip(candidates, targets, K, strict=True):
        remaining = [x for x in state if x not in back]
        reduced_h = sp.expand(h.xreplace(back)) if back else h
        if not (reduced_h.free_symbols & set(remaining)):
            skipped.append(f"{h} (a function of those already used)")
            continue
        if target is not None:
            if target in back:
                raise SpecError(f"solve_for: {target} is already eliminated")
            solutions = sp.solve(sp.Eq(reduced_h, k), target, dict=True)
            if len(solutions) != 1:
                raise AnalysisError(
                    f"{h} = {k} has {len(solutions)} solutions for {target}; pick a variable "
                    "the invariant is linear in, or leave solve_for to choose")
            x, value = target, solutions[0][target]
        else:
            linear = _linear_candidates(reduced_h, remaining)
            if not linear:
                skipped.append(f"{h} (not linear in any remaining variable)")
                continue
            x = linear[-1]
            value = sp.solve(sp.Eq(reduced_h, k), x, dict=True)[0][x]
        value = sp.factor(value)
        back = {y: sp.factor(e.xreplace({x: value})) for y, e in back.items()}
        back[x] = value
        used.append(h)
        constants[k] = h
    if not back:
        raise AnalysisError(
            "no invariant could be solved globally for a state variable ("
            + "; ".join(skipped or ["no invariants"]) + "); pass invariants= and solve_for= "
            "to choose one (a non-linear one gives several branches and is refused)")
    # name the constants K1, K2, ... in the order used
    final = _constant_names(system, len(used))
    rename = dict(zip(constants, final, strict=True))
    constants = {rename[k]: h for k, h in constants.items()}
    back = {x: e.xreplace(rename) for x, e in back.items()}
    kept = [x for x in state if x not in back]
    rhs = tuple(_tidy(f.xreplace(back))
                for x, f in zip(state, system.rhs, strict=True) if x in kept)
    verified = _check(system, kept, rhs, back, constants)
    params = tuple(free_parameters(system)) + tuple(constants)
    denominators = sorted({str(f) for e in back.values()
                           for f, _ in sp.factor_list(sp.denom(sp.together(e)))[1]})
    message = (f"eliminated {', '.join(map(str, back))} by {len(used)} invariant(s)"
               + (f"; assumes {', '.join(denominators)} != 0" if denominators else "")
               + (f"; skipped: {'; '.join(skipped)}" if skipped else "")
               + ("; checked symbolically" if verified else
                  "; WARNING: the symbolic check did not simplify to 0"))
    return Reduction(state=tuple(kept), rhs=rhs, parameters=params, back=back,
                     invariants=tuple(used), constants=constants, verified=verified,
                     message=message)


def _tidy(e: sp.Expr) -> sp.Expr:
    e = sp.cancel(sp.together(e))
    return sp.expand(e) if sp.denom(e) == 1 else e


def _check(system, kept, rhs, back, constants) -> bool:
    """Invariants equal their constants under ``back``, and ``back`` moves with the flow."""
    for k, h in constants.items():
        if sp.cancel(sp.together(h.xreplace(back) - k)) != 0:
            return False
    flow = dict(zip(kept, rhs, strict=True))
    for x, f in zip(system.state, system.rhs, strict=True):
        if x in back:
            dt = sum(sp.diff(back[x], y) * g for y, g in flow.items())
            if sp.cancel(sp.together(dt - f.xreplace(back))) != 0:
                return False
    return True
