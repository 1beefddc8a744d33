r"""Fixed points :math:`f(y; p) = 0`: exact solution sets where sympy finds them, a numeric
multistart fallback for given parameter values, each point verified and classified.

Sympy cannot be interrupted inside a thread, so the symbolic work runs in a forked process
that is killed when its time budget is spent; what it found by then is kept."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..errors import SpecError
from ._common import (
    as_values,
    assumed_symbols,
    budgeted,
    free_parameters,
    generic_assumptions,
    is_polynomial_system,
    parse,
    rationalize,
)
from ._stability import Stability, classify, classify_numeric, eigenvalues

__all__ = ["fixed_points", "FixedPoint", "FixedPoints", "verify_fixed_point"]

#: Default time budget of :func:`fixed_points`, in seconds.
TIMEOUT = 30.0


@dataclass(frozen=True)
class FixedPoint:
    r"""One solution set of :math:`f(y) = 0`.

    ``solution`` maps solved state symbols to expressions in the ``free`` ones (the
    coordinates along the set) and the parameters; ``dimension`` is the dimension of the set in
    state space (0: an isolated point). ``eigenvalues`` of the Jacobian on the set (with
    multiplicity; ``dimension`` of them are 0 along the set), ``stability`` one of
    :data:`~symdyn.analysis._stability.LABELS` for the transverse directions, ``condition``
    what it depends on. ``exact``: found symbolically (else numerically, with ``residual``
    :math:`\max_i |f_i|`); ``verified``: substituted back and found to vanish
    (``verification`` says how)."""

    solution: dict[sp.Symbol, sp.Expr]
    dimension: int
    free: tuple[sp.Symbol, ...] = ()
    eigenvalues: tuple[sp.Expr, ...] = ()
    stability: str = "unknown"
    condition: str = ""
    transverse: tuple[sp.Expr, ...] = ()
    description: str = ""
    exact: bool = True
    verified: bool = False
    verification: str = ""
    residual: float = 0.0

    @property
    def classification(self) -> str:
        """``stability`` with its condition, e.g. ``"depends: stable where x > 0, ..."``."""
        return f"{self.stability}: {self.condition}" if self.condition else self.stability


@dataclass(frozen=True)
class FixedPoints:
    """The fixed points of a system. ``status``: ``"solved"`` (exact solution sets from sympy,
    each verified), ``"numeric"`` (multistart root finding at the given values), ``"timeout"``
    (the budget ran out: ``points`` holds what was found by then), ``"failed"`` (see
    ``message``). ``assumptions`` states the genericity assumed of symbolic parameters."""

    points: tuple[FixedPoint, ...]
    status: str
    message: str
    assumptions: str
    values: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    method: str = "symbolic"
    elapsed: float = 0.0

    @property
    def success(self) -> bool:
        return self.status in ("solved", "numeric")

    def __iter__(self) -> Iterator[FixedPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> FixedPoint:
        return self.points[i]


# -- verification -----------------------------------------------------------------------------


def _vanishes(e: sp.Expr) -> bool:
    e = sp.cancel(sp.together(e))
    if e == 0:
        return True
    return sp.simplify(e) == 0


def verify_fixed_point(system, solution: Mapping, values: Mapping | None = None) -> bool:
    r"""Whether substituting ``solution`` (state symbol or name -> expression) and ``values``
    (parameter -> number) makes every right-hand side vanish identically (exactly, under the
    generic assumptions on the parameters left symbolic)."""
    vals = as_values(system, values)
    names = {x.name: x for x in system.state}
    sol = {}
    for k, v in solution.items():
        key = names.get(k.name if isinstance(k, sp.Symbol) else str(k))
        if key is None:
            raise SpecError(f"{k} is not a state variable of this system")
        sol[key] = parse(system, v) if isinstance(v, str) else sp.sympify(v)
    rep = assumed_symbols(system, vals)
    sol = {rep[k]: v.xreplace(vals).xreplace(rep) for k, v in sol.items()}
    return all(_vanishes(rationalize(e).xreplace(vals).xreplace(rep).subs(sol))
               for e in system.rhs)


# -- the symbolic search (runs in a child process) --------------------------------------------


def _symbolic(system, vals) -> Iterator[tuple]:
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
    from ._invariants import invariants

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
    verified = all(_vanishes(e.subs(sol)) for e in eqs)
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
        eigenvalues=tuple(_as_number(v) for v in eigs),
        stability=stab.label,
        condition=stab.condition,
        transverse=stab.transverse,
        description="an isolated point in closed form (radicals); verified and classified "
                    "numerically at 50 digits: "
                    + ", ".join(f"{plain[x]} = {sp.N(v, 12)}" for x, v in point.items()),
        exact=True,
        verified=residual < 1e-30,
        verification=f"numeric, 50 digits: max |f| = {residual:.1e}",
        residual=float(residual),
    )


def _as_number(v: complex) -> sp.Expr:
    v = complex(v)
    return sp.Float(v.real, 12) + (sp.I * sp.Float(v.imag, 12) if v.imag else 0)


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
    if not _vanishes((candidate - trace).subs(sol)):
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


# -- the numeric search -----------------------------------------------------------------------


def _numeric(system, vals, deadline: float, starts: int, seed: int,
             samples: int = 5) -> tuple[list[FixedPoint], str]:
    from scipy.optimize import root

    X = list(system.state)
    n = len(X)
    rhs = [e.xreplace(vals) for e in system.rhs]
    J = sp.Matrix(rhs).jacobian(sp.Matrix(X))
    f = sp.lambdify([X], rhs, "numpy")
    jf = sp.lambdify([X], J, "numpy")

    def fun(x):
        return np.asarray(f(x), dtype=float).reshape(n)

    def jac(x):
        return np.asarray(jf(x), dtype=float).reshape(n, n)

    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    tried = 0
    with np.errstate(all="ignore"):
        stop = deadline - 0.25 * max(0.0, deadline - time.monotonic())
        while tried < starts and time.monotonic() < stop:
            scale = (0.3, 1.0, 3.0)[tried % 3]
            x0 = rng.normal(size=n) * scale
            tried += 1
            best = None
            for method in ("hybr", "lm"):
                try:
                    r = root(fun, x0, jac=jac, method=method)
                except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                    continue
                x = r.x
                if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e6:
                    continue
                res = float(np.max(np.abs(fun(x))))
                if res <= 1e-10:
                    best = x
                    break
            if best is None:
                continue
            if any(np.max(np.abs(best - y)) <= 1e-6 * (1 + np.max(np.abs(y))) for y in found):
                continue
            found.append(best)
    polished, near = [], 0
    polish = _polisher(X, rhs, J)
    for x in found:
        if time.monotonic() > deadline + 2:
            break
        xp, res_hp = polish(x)
        moved = float(np.max(np.abs(xp - x)))
        if res_hp < 1e-25 and moved <= 1e-6 * (1 + float(np.max(np.abs(x)))):
            polished.append((xp, res_hp))
        else:
            near += 1
    points, counts = [], {}
    for x, res_hp in polished:
        Jx = jac(x)
        sv = np.linalg.svd(Jx, compute_uv=False)
        rank = int(np.sum(sv > 1e-8 * max(1.0, sv[0]))) if sv.size else 0
        dim = n - rank
        counts[dim] = counts.get(dim, 0) + 1
        if dim > 0 and counts[dim] > samples:
            continue
        res = float(np.max(np.abs(fun(x))))
        stab = classify_numeric(np.linalg.eigvals(Jx), dim)
        points.append(FixedPoint(
            solution={s: sp.Float(v, 15) for s, v in zip(X, x, strict=True)},
            dimension=dim,
            eigenvalues=tuple(_as_number(v) for v in np.linalg.eigvals(Jx)),
            stability=stab.label,
            condition=stab.condition,
            transverse=stab.transverse,
            description=("a numeric point" if dim == 0 else
                         f"a numeric point on a solution set of dimension {dim} (estimated "
                         "from the numerical rank of the Jacobian)") +
                        ("; the right-hand side is flat here (saturated units?): possibly "
                         "only a near-root" if sv.size and sv[0] < 1e-8 else ""),
            exact=False,
            verified=True,
            verification=(f"numeric: max |f| = {res:.1e} in double precision, "
                          f"{float(res_hp):.1e} after Newton polishing at 50 digits"),
            residual=res,
        ))
    points.sort(key=lambda p: (-p.dimension, [float(v) for v in p.solution.values()]))
    summary = ", ".join(f"{c} on sets of dimension {d}" if d else f"{c} isolated"
                        for d, c in sorted(counts.items()))
    more = any(c > samples for d, c in counts.items() if d > 0)
    message = (f"{len(polished)} distinct roots from {tried} starts" +
               (f" ({summary})" if summary else "") +
               (f"; {near} near-root(s) left out (|f| <= 1e-10 in double precision, but "
                "Newton's method at 50 digits moves away or does not converge: e.g. "
                "saturated units, where the flow is slow but does not stop)" if near else "") +
               (f"; at most {samples} samples of each solution set are listed" if more else "") +
               "; numeric search is not exhaustive")
    return points, message


# -- the entry point --------------------------------------------------------------------------


def fixed_points(system, values: Mapping | None = None, *, timeout: float = TIMEOUT,
                 method: str = "auto", starts: int = 200, seed: int = 0) -> FixedPoints:
    r"""The fixed points :math:`f(y; p) = 0` of ``system``, each with its dimension,
    eigenvalues and stability.

    ``values`` fixes parameters (name or symbol -> number; floats become exact rationals);
    the others are treated as generic (non-zero; :math:`\beta`, rates positive), as
    ``assumptions`` says. ``method``: ``"symbolic"`` (sympy: ``solve_poly_system``, else
    ``solve``; every solution substituted back), ``"numeric"`` (multistart
    ``scipy.optimize.root`` from ``starts`` random points, de-duplicated; needs every
    parameter in ``values``) or ``"auto"`` (symbolic for polynomial systems, numeric when it
    does not finish or the system is not polynomial and every parameter has a value). The
    whole search takes at most about ``timeout`` seconds; it never raises on a timeout but
    returns ``status="timeout"`` with what it found.

    >>> from symdyn import derive
    >>> fp = fixed_points(derive("1-1-1", "rbp"))
    >>> fp.status, [(p.solution, p.dimension) for p in fp]
    ('solved', [({a1: alpha/(a2*beta)}, 1)])
    """
    if method not in ("auto", "symbolic", "numeric"):
        raise SpecError(f"method must be 'auto', 'symbolic' or 'numeric', got {method!r}")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise SpecError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise SpecError(f"starts must be a positive integer, got {starts!r}")
    vals = as_values(system, values)
    t0 = time.monotonic()
    missing = [p for p in free_parameters(system) if p not in vals]
    numeric_ok = not missing
    polynomial = is_polynomial_system(system)
    assumptions = generic_assumptions(system) if not vals else (
        "parameters fixed: " + ", ".join(f"{k} = {v}" for k, v in vals.items()) +
        ("; " + generic_assumptions(system, vals) if missing else ""))
    if method == "numeric" and not numeric_ok:
        raise SpecError("numeric fixed points need a value for every parameter; missing: "
                        f"{', '.join(map(str, missing))} (pass values={{...}} or --values)")
    use_symbolic = method == "symbolic" or (method == "auto" and (polynomial or not numeric_ok))
    points: list[FixedPoint] = []
    status, message, used = "failed", "", "symbolic"
    if use_symbolic:
        share = timeout if (method == "symbolic" or not numeric_ok) else 0.6 * timeout
        msgs, end = budgeted(_symbolic, (system, vals), share)
        first = next((m for m in msgs if m[0] == "solutions"), None)
        solutions = first[1] if first else None
        dropped = first[2] if first else 0
        analysed = {m[1]: m[2] for m in msgs if m[0] == "point"}
        if solutions is not None:
            for i, s in enumerate(solutions):
                points.append(analysed.get(i) or _unanalysed(system, s))
        if end == "done":
            status = "solved"
            verified = sum(p.verified for p in points)
            message = (f"{len(points)} solution set(s) from sympy, {verified} verified by "
                       "substitution"
                       + ("" if polynomial else
                          "; sympy's solve may miss solutions of a non-polynomial system"))
        elif end == "timeout":
            status = "timeout"
            message = (f"the symbolic search ran out of its {share:.3g} s budget " +
                       ("while classifying the solutions (unclassified ones are 'unknown')"
                        if solutions is not None else "before sympy solved the system") +
                       "; raise timeout=, or give values for the parameters")
        else:
            message = f"sympy could not solve the system ({end})"
        if dropped:
            message += f"; {dropped} complex (non-real) solution(s) left out"
    if method == "numeric" or (method == "auto" and numeric_ok and status != "solved"):
        deadline = t0 + timeout
        num, num_msg = _numeric(system, vals, deadline, starts, seed)
        points = points + [p for p in num if not _duplicate(p, points)]
        message = (message + "; " if message else "") + num_msg
        status, used = "numeric", "numeric" if not use_symbolic else "symbolic+numeric"
    elif not use_symbolic:
        message = "nothing to do"
    if status == "failed" and not numeric_ok:
        message += ("; give values for " + ", ".join(map(str, missing)) +
                    " to use the numeric fallback")
    return FixedPoints(points=tuple(points), status=status, message=message,
                       assumptions=assumptions, values=vals, method=used,
                       elapsed=time.monotonic() - t0)


def _polisher(X, rhs, J):
    """``polish(x)``: a few Levenberg-Marquardt steps (minimal-norm Newton steps, so that
    families are fine) at 50 digits; the polished point and max |f| there. A true root
    converges quadratically and stays put; a near-root in saturation drifts away (towards
    infinity) while |f| shrinks only geometrically."""
    f = sp.lambdify(X, rhs, "mpmath")
    jf = sp.lambdify(X, J, "mpmath")

    def polish(x):
        return _polish(f, jf, len(X), x)

    return polish


def _polish(f, jf, n, x, steps: int = 12, dps: int = 50):
    import mpmath

    with mpmath.workdps(dps):
        x = mpmath.matrix([mpmath.mpf(float(v)) for v in x])
        mu = mpmath.mpf(10) ** (-(dps - 10))
        res = mpmath.inf
        for _ in range(steps):
            fx = mpmath.matrix(f(*x))
            res = max(abs(v) for v in fx)
            if res < mpmath.mpf(10) ** (-(dps - 10)):
                break
            Jx = mpmath.matrix(jf(*x))
            for i in range(n):  # rows scaled to 1: a flat row (saturation) gets a long step
                scale = max(abs(Jx[i, j]) for j in range(n))
                if scale:
                    fx[i] /= scale
                    for j in range(n):
                        Jx[i, j] /= scale
            try:
                step = Jx.T * mpmath.lu_solve(Jx * Jx.T + mu * mpmath.eye(n), fx)
            except ZeroDivisionError:
                break
            x = x - step
        fx = mpmath.matrix(f(*x))
        res = max(abs(v) for v in fx)
        return np.array([float(v) for v in x]), float(res)


def _duplicate(p: FixedPoint, exact: list[FixedPoint]) -> bool:
    """Whether a numeric point is one of the exact isolated points."""
    x = np.array([float(v) for v in p.solution.values()])
    for q in exact:
        if q.dimension or set(q.solution) != set(p.solution) or \
                any(v.free_symbols for v in q.solution.values()):
            continue
        y = np.array([complex(sp.N(q.solution[k], 20)).real for k in p.solution])
        if np.max(np.abs(x - y)) <= 1e-6 * (1 + np.max(np.abs(y))):
            return True
    return False


def _unanalysed(system, s: dict) -> FixedPoint:
    free = tuple(x for x in system.state if x not in s)
    return FixedPoint(solution=s, dimension=len(free), free=free, stability="unknown",
                      condition="not classified within the time budget",
                      description="found, but not verified or classified within the budget")
