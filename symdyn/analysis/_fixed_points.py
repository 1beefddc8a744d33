r"""Fixed points :math:`f(y; p) = 0`: exact solution sets where sympy finds them, a numeric
multistart fallback for given parameter values, each point verified and classified.

Sympy cannot be interrupted inside a thread, so the symbolic work runs in a forked process
that is killed when its time budget is spent; what it found by then is kept."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import sympy as sp

from ..errors import SpecError, require_system
from ._common import (
    as_values,
    budgeted,
    check_timeout,
    free_parameters,
    generic_assumptions,
    is_polynomial_system,
)
from ._fixed_point import FixedPoint, FixedPoints, verify_fixed_point
from ._fixed_points_numeric import numeric_search
from ._fixed_points_symbolic import symbolic_search

__all__ = ["fixed_points", "FixedPoint", "FixedPoints", "verify_fixed_point"]

#: Default time budget of :func:`fixed_points`, in seconds.
TIMEOUT = 30.0


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
    require_system(system, "fixed_points: system", values)
    if method not in ("auto", "symbolic", "numeric"):
        raise SpecError(f"method must be 'auto', 'symbolic' or 'numeric', got {method!r}")
    check_timeout(timeout)
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
        points, status, message = _symbolic_phase(system, vals, share, polynomial)
    if method == "numeric" or (method == "auto" and numeric_ok and status != "solved"):
        deadline = t0 + timeout
        num, num_msg = numeric_search(system, vals, deadline, starts, seed)
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


def _symbolic_phase(system, vals, share: float, polynomial: bool):
    """The symbolic search in a forked child with ``share`` seconds: the points found (each
    analysed or marked unanalysed), the status and a message."""
    points: list[FixedPoint] = []
    status, message = "failed", ""
    msgs, end = budgeted(symbolic_search, (system, vals), share)
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
    return points, status, message


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
