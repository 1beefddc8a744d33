"""The symbolic fixed-point search (run in a forked child by :func:`fixed_points`): sympy's
solution sets, each verified by substitution and classified."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import sympy as sp

from ._common import assumed_symbols, free_parameters, rationalize
from ._fixed_point import FixedPoint, as_number, vanishes
from ._invariants import invariants
from ._stability import Stability, classify, classify_numeric, eigenvalues

__all__ = ["symbolic_search"]


def symbolic_search(system, vals) -> Iterator[tuple]:
    """Yield ``("solutions", [...])`` then ``("point", i, FixedPoint)`` for each solution."""
    rep = assumed_symbols(system, vals)
    plain = {v: k for k, v in rep.items()}
    X = [rep[x] for x in system.state]
    eqs = [rationalize(e).xreplace(vals).xreplace(rep) for e in system.rhs]
    nonzero = [e for e in eqs if e != 0]
    polynomial = all(e.is_polynomial(*X, *[rep[p] for p in free_parameters(system)
                                           if p in rep]) for e in eqs)
    if not nonzero:
        sols: list[dict] = [{}]
    else:
        sols = None
        if polynomial:
            try:
                found = sp.solve_poly_system(nonzero, *X)
                sols = [dict(zip(X, s, strict=True)) for s in (found or [])]
            except (NotImplementedError, sp.polys.polyerrors.PolynomialError,
                    sp.polys.polyerrors.ComputationFailed):
                sols = None  # a system with solution families: sympy.solve below
        if sols is None:
            sols = sp.solve(nonzero, X, dict=True)
    sols = sorted(sols, key=lambda s: (len(s), sp.default_sort_key(tuple(sorted(
        ((str(k), v) for k, v in s.items()), key=lambda kv: kv[0])))))
    real = [s for s in sols if not _complex_point(s)]
    yield ("solutions", [{plain[k]: v.xreplace(plain) for k, v in s.items()} for s in real],
           len(sols) - len(real))
    sols = real
    J = sp.Matrix(eqs).jacobian(sp.Matrix(X))
    leaf = _leaf_invariants(system, rep, vals) if polynomial else []
    for i, s in enumerate(sols):
        yield ("point", i, _analyse(s, X, eqs, J, plain, leaf, polynomial))


def _complex_point(sol: dict) -> bool:
    """Whether a solution with numbers only (no symbols) is not real."""
    for v in sol.values():
        if v.free_symbols:
            continue
        z = complex(sp.N(v, 30))
        if abs(z.imag) > 1e-20 * (1 + abs(z)):
            return True
    return False


def _radical(v: sp.Expr) -> bool:
    """Whether ``v`` has a root of something not known to be non-negative, or ``I``."""
    return v.has(sp.I) or any(not p.exp.is_Integer and p.base.is_nonnegative is not True
                              for p in v.atoms(sp.Pow))


def _heavy(sol: dict) -> bool:
    """Closed forms too large to simplify in reasonable time (e.g. Cardano's formula)."""
    return any(sp.count_ops(v) > 60 for v in sol.values())


def _leaf_invariants(system, rep, vals) -> list[sp.Expr]:
    """Degree-2 polynomial invariant generators (small systems only), to describe families
    within the invariant's level sets."""
    if system.size > 12:
        return []
    try:
        return [h.xreplace(vals).xreplace(rep) for h in invariants(system, 2, generators=True)]
    except Exception:  # noqa: BLE001 - a description only
        return []


def _simplify(e: sp.Expr) -> sp.Expr:
    try:
        return sp.factor(sp.cancel(sp.together(e)))
    except sp.polys.polyerrors.PolynomialError:
        return sp.simplify(e)


def _analyse(sol, X, eqs, J, plain, leaf, polynomial) -> FixedPoint:
    free = [x for x in X if x not in sol]
    if not free and _heavy(sol) and not any(v.free_symbols for v in sol.values()):
        return _analyse_numbers(sol, X, eqs, J, plain)
    dim = len(free)
    verified = all(vanishes(e.subs(sol)) for e in eqs)
    Js = J.subs(sol).applyfunc(_simplify)
    eigs, charpoly = eigenvalues(Js)
    eigs = [_simplify(e) for e in eigs]
    nonzero = [e for e in eigs if not (e == 0 or e.is_zero)]
    alternatives = {}
    if len(nonzero) == 1 and len(eigs) == len(X):
        ambient = _ambient_trace(J, sol, X, polynomial)
        if ambient is not None:
            alternatives[nonzero[0]] = [ambient]
    if len(eigs) < len(X):
        stab = Stability("unknown", (), "sympy found "
                         f"{len(eigs)} of {len(X)} eigenvalues; characteristic polynomial "
                         f"{sp.sstr(charpoly.xreplace(plain))}")
    else:
        stab = classify(eigs, dim, alternatives=alternatives)
    describe = _describe(sol, free, X, leaf)
    if any(_radical(v) for v in sol.values()):
        describe += "; real only for some parameter values (see the radicals)"
    if not verified:
        describe += "; WARNING: substituting it back did not simplify to 0"
    to_plain = plain
    return FixedPoint(
        solution={plain[k]: v.xreplace(to_plain) for k, v in sol.items()},
        dimension=dim,
        free=tuple(plain[x] for x in free),
        eigenvalues=tuple(e.xreplace(to_plain) for e in eigs),
        stability=stab.label,
        condition=stab.condition,
        condition_sentence=stab.sentence and stab.sentence.xreplace(to_plain),
        transverse=tuple(e.xreplace(to_plain) for e in stab.transverse),
        description=describe,
        exact=True,
        verified=verified,
        verification="exact: every right-hand side simplifies to 0 on the set" if verified
        else "failed: the right-hand side did not simplify to 0",
    )


def _analyse_numbers(sol, X, eqs, J, plain) -> FixedPoint:
    """An isolated point given by large closed forms of numbers: verified and classified at
    50 significant digits instead of by simplification."""
    point = {x: sp.N(v, 50) for x, v in sol.items()}
    residual = max(abs(complex(sp.N(e.subs(point), 50))) for e in eqs) if eqs else 0.0
    Jn = np.array(J.subs(point).evalf(50).tolist(), dtype=complex)
    eigs = np.linalg.eigvals(Jn)
    stab = classify_numeric(eigs, 0)
    return FixedPoint(
        solution={plain[k]: v.xreplace(plain) for k, v in sol.items()},
        dimension=0,
        eigenvalues=tuple(as_number(v) for v in eigs),
        stability=stab.label,
        condition=stab.condition,
        condition_sentence=stab.sentence,
        transverse=stab.transverse,
        description="an isolated point in closed form (radicals); verified and classified "
                    "numerically at 50 digits: "
                    + ", ".join(f"{plain[x]} = {sp.N(v, 12)}" for x, v in point.items()),
        exact=True,
        verified=residual < 1e-30,
        verification=f"numeric, 50 digits: max |f| = {residual:.1e}",
        residual=float(residual),
    )


def _ambient_trace(J, sol, X, polynomial) -> sp.Expr | None:
    r"""The trace of the Jacobian, which on a family with one transverse direction equals the
    transverse eigenvalue, reduced modulo the family's equations: the eigenvalue in the
    ambient coordinates (e.g. :math:`-\beta(a_1^2 + c_1 a_2)`). Checked on the family."""
    trace = sp.expand(J.trace())
    candidate = trace
    if polynomial and sol:
        try:
            gens = [sp.numer(sp.together(x - v)) for x, v in sol.items()]
            params = sorted(set().union(*(g.free_symbols for g in gens), trace.free_symbols)
                            - set(X), key=str)
            domain = sp.QQ.frac_field(*params) if params else sp.QQ
            G = sp.groebner(gens, *X, order="grevlex", domain=domain)
            candidate = sp.factor(sp.reduced(trace, list(G.exprs), *X, order="grevlex",
                                             domain=domain)[1])
        except Exception:  # noqa: BLE001 - fall back to the plain trace
            candidate = sp.factor(trace)
    if not vanishes((candidate - trace).subs(sol)):
        return None
    return candidate


def _describe(sol, free, X, leaf) -> str:
    eqs = ", ".join(f"{k} = {sp.sstr(v)}" for k, v in sol.items())
    if not free:
        return f"an isolated point: {eqs}" if eqs else "an isolated point"
    where = f"{eqs}, " if eqs else "every state, "
    text = (f"a set of dimension {len(free)} in the state space: {where}with "
            f"{', '.join(map(str, free))} free")
    varying = _varying(leaf, sol, free)
    if varying:
        inner = len(free) - varying[0]
        names = ", ".join(map(sp.sstr, varying[1]))
        what = "an isolated point" if inner == 0 else f"a set of dimension {inner}"
        text += f"; within each level set of the invariant(s) {names} it is {what}"
    return text


def _varying(leaf, sol, free) -> tuple[int, list] | None:
    """The generic rank of the invariants restricted to the family, and those that vary."""
    if not leaf:
        return None
    rng = random.Random(1)
    restricted = [sp.together(h.subs(sol)) for h in leaf]
    symbols = set().union(*(r.free_symbols for r in restricted)) | set(free)
    for _ in range(5):
        point = {s: sp.Rational(rng.randint(1, 97), rng.randint(1, 13)) for s in symbols}
        try:
            rows = [[sp.diff(r, x).xreplace(point) for x in free] for r in restricted]
            if any(v.has(sp.zoo, sp.nan) for row in rows for v in row):
                continue
        except ZeroDivisionError:
            continue
        M = sp.Matrix(rows)
        rank = M.rank()
        used = [h for h, row in zip(leaf, rows, strict=True) if any(v != 0 for v in row)]
        return (rank, used) if rank else None
    return None


