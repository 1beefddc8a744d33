"""The numeric fixed-point search: multistart root finding at given parameter values, each
root polished at 50 digits (true roots stay put, near-roots in saturation drift away)."""

from __future__ import annotations

import time

import numpy as np
import sympy as sp

from ..numerics._budget import DEADLINE, check_deadline
from ..numerics._codegen import numpy_function
from ._fixed_point import FixedPoint, as_number
from ._stability import classify_numeric

__all__ = ["numeric_search"]


def _multistart(fun, jac, n: int, deadline: float, starts: int, seed: int):
    """Distinct roots (max |f| <= 1e-10) of ``fun`` from random starts at three scales, with
    scipy's ``hybr`` then ``lm``; stops at three quarters of the remaining time. Under a
    context deadline (``symdyn verify``) every start is tried, or the search raises."""
    from scipy.optimize import root

    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    tried = 0
    strict = DEADLINE.get() is not None
    with np.errstate(all="ignore"):
        stop = np.inf if strict else deadline - 0.25 * max(0.0, deadline - time.monotonic())
        while tried < starts and time.monotonic() < stop:
            if strict:
                check_deadline("the numeric fixed-point search")
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
    return found, tried


def numeric_search(system, vals, deadline: float, starts: int, seed: int,
                   samples: int = 5) -> tuple[list[FixedPoint], str]:
    """Fixed points at numeric parameter values ``vals``; at most ``samples`` listed per
    solution set of positive dimension. Returns the points and a message."""
    X = list(system.state)
    n = len(X)
    rhs = [e.xreplace(vals) for e in system.rhs]
    J = sp.Matrix(rhs).jacobian(sp.Matrix(X))
    f = numpy_function([X], rhs, cse=False)
    jf = numpy_function([X], J, cse=False)

    def fun(x):
        return np.asarray(f(x), dtype=float).reshape(n)

    def jac(x):
        return np.asarray(jf(x), dtype=float).reshape(n, n)

    found, tried = _multistart(fun, jac, n, deadline, starts, seed)
    polished, near = [], 0
    polish = _polisher(X, rhs, J)
    strict = DEADLINE.get() is not None
    for x in found:
        if strict:
            check_deadline("the polishing of numeric fixed points")
        elif time.monotonic() > deadline + 2:
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
            eigenvalues=tuple(as_number(v) for v in np.linalg.eigvals(Jx)),
            stability=stab.label,
            condition=stab.condition,
            condition_sentence=stab.sentence,
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


