r"""Reduction by first integrals: on a level set :math:`H(y) = K` of an invariant that is
linear in one state variable, that variable is a function of the others, and the system
loses one equation. E.g. 1-1-1 RBP with :math:`K = a_1^2 - 2 c_1 a_2` becomes the cubic
:math:`\dot a_1 = \alpha c_1 - \tfrac{\beta}{2} a_1 (a_1^2 - K)`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.polys.rings import ring

from ..errors import AnalysisError, SpecError, require_system
from ._common import as_expression, free_parameters, rationalize, require_polynomial
from ._invariant_check import verify_invariant
from ._invariants import invariants as find_invariants

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


def _candidates(system, invariants, solve_for) -> tuple[list, list]:
    """The invariants to reduce by (each verified first) and the variable to solve each for
    (``None``: choose)."""
    names = {x.name: x for x in system.state}
    if invariants is None:
        candidates = list(find_invariants(system, 2, generators=True))
    else:
        if isinstance(invariants, (str, sp.Basic)):
            invariants = [invariants]
        candidates = [as_expression(system, h, "an invariant") for h in invariants]
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

    return candidates, targets


def _eliminate(R, var, state, candidates, polys, targets, K, compose):
    """Solve each invariant, in turn, for a variable it is linear in (with a coefficient
    free of the state): ``back`` maps each eliminated variable to a polynomial in the
    remaining ones. Returns ``back``, the invariants used, their constants, and why others
    were skipped."""
    field = R.domain
    back: dict = {}  # state symbol -> polynomial in the remaining state
    used, constants, skipped = [], {}, []
    for h, poly, target, k in zip(candidates, polys, targets, K, strict=True):
        remaining = [x for x in state if x not in back]
        reduced = compose(poly, back)
        if all(reduced.degree(var[x]) <= 0 for x in remaining):
            skipped.append(f"{h} (a function of those already used)")
            continue
        linear = [x for x in remaining if reduced.degree(var[x]) == 1
                  and reduced.diff(var[x]).is_ground]
        if target is not None:
            if target in back:
                raise SpecError(f"solve_for: {target} is already eliminated")
            if target not in linear:
                raise AnalysisError(
                    f"{h} = {k} cannot be solved for {target} everywhere (it is not linear in "
                    f"{target} with a coefficient free of the state); choose one of "
                    f"{', '.join(map(str, linear)) or '(none)'}")
            x = target
        elif linear:
            x = linear[-1]
        else:
            skipped.append(f"{h} (not linear in any remaining variable)")
            continue
        coeff = reduced.diff(var[x]).LC
        rest = reduced - var[x].mul_ground(coeff)
        value = (R(field.from_sympy(k)) - rest).mul_ground(field.one / coeff)
        back = {y: e.compose(var[x], value) for y, e in back.items()}
        back[x] = value
        used.append(h)
        constants[k] = h
    return back, used, constants, skipped


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
    require_system(system, "reduce: system")
    state = list(system.state)
    candidates, targets = _candidates(system, invariants, solve_for)
    require_polynomial(system, "a reduction by polynomial invariants")
    K = _constant_names(system, len(candidates))
    others = sorted((set(free_parameters(system)) | set().union(
        *(h.free_symbols for h in candidates))) - set(state), key=str) + K
    R, *gens = ring(state, sp.QQ.frac_field(*others) if others else sp.QQ)
    var = dict(zip(state, gens, strict=True))
    try:
        polys = [R(sp.expand(rationalize(h))) for h in candidates]
        f = [R(sp.expand(rationalize(e))) for e in system.rhs]
    except (ValueError, sp.polys.polyerrors.CoercionFailed):
        raise AnalysisError("the invariants must be polynomials in the state") from None

    def compose(p, back):
        return p.compose([(var[x], v) for x, v in back.items()]) if back else p

    back, used, constants, skipped = _eliminate(R, var, state, candidates, polys, targets, K,
                                                compose)
    if not back:
        raise AnalysisError(
            "no invariant could be solved globally for a state variable ("
            + "; ".join(skipped or ["no invariants"]) + "); pass invariants= and solve_for= "
            "to choose one (a non-linear one gives several branches and is refused)")
    kept = [x for x in state if x not in back]
    reduced_rhs = [compose(fi, back) for x, fi in zip(state, f, strict=True) if x in kept]
    verified = _check(R, var, f, state, back, reduced_rhs, polys, used, candidates,
                      constants, compose)
    # name the constants K1, K2, ... in the order used
    final = _constant_names(system, len(used))
    rename = dict(zip(constants, final, strict=True))
    constants = {rename[k]: h for k, h in constants.items()}

    def out(p):
        return sp.factor(p.as_expr()).xreplace(rename) if len(p) <= 8 else \
            p.as_expr().xreplace(rename)

    rhs = tuple(p.as_expr().xreplace(rename) for p in reduced_rhs)
    back = {x: out(v) for x, v in back.items()}
    params = tuple(free_parameters(system)) + tuple(constants)
    denominators = sorted({str(g) for e in back.values()
                           for g, _ in sp.factor_list(sp.denom(sp.together(e)))[1]})
    message = (f"eliminated {', '.join(map(str, back))} by {len(used)} invariant(s)"
               + (f"; assumes {', '.join(denominators)} != 0" if denominators else "")
               + (f"; skipped: {'; '.join(skipped)}" if skipped else "")
               + ("; checked symbolically" if verified else
                  "; WARNING: the symbolic check did not simplify to 0"))
    return Reduction(state=tuple(kept), rhs=rhs, parameters=params, back=back,
                     invariants=tuple(used), constants=constants, verified=verified,
                     message=message)


def _check(R, var, f, state, back, reduced_rhs, polys, used, candidates, constants,
           compose) -> bool:
    """In exact polynomial arithmetic: every invariant used equals its constant under
    ``back``, and the time derivative of each ``back`` polynomial along the reduced flow is
    the original right-hand side there."""
    field = R.domain
    for k, h in constants.items():
        poly = polys[candidates.index(h)]
        if compose(poly, back) != R(field.from_sympy(k)):
            return False
    kept = [x for x in state if x not in back]
    flow = dict(zip(kept, reduced_rhs, strict=True))
    for x, fi in zip(state, f, strict=True):
        if x in back:
            dt = sum((back[x].diff(var[y]) * g for y, g in flow.items()), R.zero)
            if dt != compose(fi, back):
                return False
    return True
