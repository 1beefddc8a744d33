r"""Lyapunov and LaSalle checks: :math:`\dot V = \nabla V \cdot f \le 0` proved exactly
(:math:`-\dot V` a product of factors of known sign, a sum of non-negative terms, or a
weighted sum of squares :math:`\sum_i w_i q_i^2` checked by expansion), or refuted at a
rational point; then the largest invariant set inside :math:`\{\dot V = 0\}`, computed
exactly as the variety of the smallest ideal that contains the :math:`q_i` and is closed
under the Lie derivative (a polynomial flow is analytic, so a solution stays in the zero set
of :math:`q` exactly when every Lie derivative of :math:`q` vanishes at its start).
LaSalle's invariance principle: every solution bounded in forward time approaches that
set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from .._typeset import Math, ddt, sentence
from ..errors import AnalysisError, SpecError
from ._certificate import ProofCertificate, assume, prove_nonnegative
from ._common import as_expression, rationalize

__all__ = ["lyapunov_check", "LyapunovCheck", "vector_field"]


@dataclass(frozen=True, kw_only=True)
class LyapunovCheck(ProofCertificate):
    r"""The result of :func:`lyapunov_check`. ``V`` and ``derivative`` (:math:`\dot V`,
    expanded); ``squares``: pairs :math:`(w_i, q_i)` with :math:`\dot V = -\sum_i w_i q_i^2`
    when the proof is by squares; ``zero_set``: polynomials whose common zeros are
    :math:`\{\dot V = 0\}`; ``invariant_set``: a Groebner basis whose zeros are the largest
    invariant set inside it (``None`` if not computed); ``equilibria_only``: whether that set
    consists of equilibria (``None`` if unknown)."""

    V: sp.Expr
    derivative: sp.Expr
    squares: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    zero_set: tuple[sp.Expr, ...] = ()
    invariant_set: tuple[sp.Expr, ...] | None = None
    equilibria_only: bool | None = None


def vector_field(system) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]:
    """``(state, rhs)`` of a :class:`~symdyn.LearningSystem` or of a mapping
    ``{state symbol: right-hand side}``."""
    if isinstance(system, Mapping):
        if not system or not all(isinstance(k, sp.Symbol) for k in system):
            raise SpecError("a vector field is a non-empty mapping {state symbol: "
                            "right-hand side}")
        return tuple(system), tuple(sp.sympify(v, strict=True) for v in system.values())
    if hasattr(system, "state") and hasattr(system, "rhs"):
        return tuple(system.state), tuple(system.rhs)
    raise SpecError(f"expected a LearningSystem or a mapping {{symbol: rhs}}, got {system!r}")


def _expression(system, V, what):
    if isinstance(system, Mapping):
        if isinstance(V, str):
            raise SpecError(f"give {what} as a sympy expression for a vector field given as "
                            "a mapping (strings are parsed only against a LearningSystem)")
        return sp.sympify(V, strict=True)
    return as_expression(system, V, what)


def lyapunov_check(system, V, *, assumptions=(), squares=None,
                   lasalle: bool = True) -> LyapunovCheck:
    r"""Prove :math:`\dot V \le 0` along :math:`\dot y = f(y)` exactly, and find the largest
    invariant set in :math:`\{\dot V = 0\}` (LaSalle).

    ``system``: a :class:`~symdyn.LearningSystem` or a mapping ``{symbol: rhs}``; ``V``: a
    polynomial in the state (a string is parsed against a system). ``assumptions``: sympy
    relations on the parameters (``beta > 0``); ``squares``: polynomials :math:`q_i` to try
    :math:`\dot V = -\sum_i w_i q_i^2` with (default: the components of :math:`f` and of
    :math:`\nabla V`, which proves every gradient flow :math:`f = -k \nabla V`).
    ``lasalle``: compute the invariant set (a Groebner basis over the parameters' field,
    valid for generic parameter values).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> lyapunov_check({x: -x}, x**2).status
    'proved'
    >>> lyapunov_check({x: x - x**3}, x**2).status
    'refuted'
    """
    state, rhs = vector_field(system)
    facts = assume(assumptions)
    V = rationalize(_expression(system, V, "a Lyapunov function"))
    rhs = tuple(rationalize(e) for e in rhs)
    if not all(e.is_polynomial(*state) for e in (V, *rhs)):
        raise AnalysisError("the Lyapunov check needs V and the vector field polynomial in "
                            "the state")
    grad = [sp.diff(V, x) for x in state]
    vdot = sp.expand(sum(g * f for g, f in zip(grad, rhs, strict=True)))
    candidates = list(squares) if squares is not None else [*rhs, *grad]
    candidates = [c for c in dict.fromkeys(sp.expand(c) for c in candidates) if c != 0]
    result = prove_nonnegative(-vdot, state, facts, squares=candidates)
    claim = sentence("Along every solution of the system, {V} is non-increasing: {d}.",
                     V=V, d=Math(rf"{ddt(V).latex} \le 0", f"{ddt(V).text} <= 0"))
    base = dict(kind="lyapunov", assumptions=facts.relations, V=V, derivative=vdot)
    steps = [sentence("Its derivative along the vector field is {d}.", d=ddt(V, vdot))]
    if result.status != "proved":
        cx = result.counterexample
        if cx:  # the refuter's value is that of -dV/dt
            cx = {**{k: v for k, v in cx.items() if k != "value"}, "dV/dt": -cx["value"]}
        return LyapunovCheck(
            status=result.status, statement=claim, sketch=tuple(steps), counterexample=cx,
            message=("dV/dt > 0 at " + ", ".join(f"{k} = {v}" for k, v in cx.items()
                                                 if k != "dV/dt") + f" (dV/dt = {cx['dV/dt']})"
                     if cx else "dV/dt <= 0 could be neither proved nor refuted; pass "
                     "squares= with the polynomials of a sum of squares"), **base)
    zero = _zero_set(vdot, result, state)
    steps.append(_certificate_step(vdot, result))
    invariant, equilibria = (None, None)
    if lasalle:
        invariant, equilibria = _largest_invariant(state, rhs, zero)
    steps += _lasalle_steps(vdot, zero, invariant, equilibria)
    return LyapunovCheck(
        status="proved", statement=claim, sketch=tuple(steps), squares=result.squares,
        zero_set=zero, invariant_set=invariant, equilibria_only=equilibria,
        message=f"dV/dt <= 0 proved ({result.method})"
                + ("; the largest invariant set in {dV/dt = 0} consists of equilibria"
                   if equilibria else ""), **base)


def _normal(q: sp.Expr) -> sp.Expr:
    """``q`` without its numerical content and with a positive leading sign (same zeros)."""
    q = sp.primitive(sp.expand(q))[1]
    return sp.expand(-q) if q.could_extract_minus_sign() else q


def _zero_set(vdot, result, state) -> tuple[sp.Expr, ...]:
    if vdot == 0:  # V is a first integral: the zero set is the whole space
        return ()
    if result.method == "squares":
        return tuple(dict.fromkeys(_normal(q) for _, q in result.squares))
    # the square-free part: {dV/dt = 0} is the union of the zeros of its distinct factors
    _, factors = sp.factor_list(vdot)
    return (_normal(sp.Mul(*[f for f, _ in factors if f.free_symbols & set(state)])),)


def _certificate_step(vdot, result):
    if result.method == "squares":
        total = sp.Add(*[-w * sp.Pow(q, 2, evaluate=False) for w, q in result.squares],
                       evaluate=False)
        return sentence("Expanded, it equals {s} exactly, with non-negative weights, so it is "
                        "never positive.", s=total)
    if result.method == "zero":
        return sentence("It is identically zero: V is a first integral.")
    return sentence("Every factor (or every term) of {e} has a known sign, which makes it "
                    "non-negative: the derivative is never positive.", e=sp.factor(-vdot))


def _lie(p, state, rhs):
    return sp.expand(sum(sp.diff(p, x) * f for x, f in zip(state, rhs, strict=True)))


#: LaSalle's set is computed (Groebner bases) only up to this many state variables and this
#: total degree of the zero set's polynomials (beyond, it is reported as not computed), so
#: the outcome never depends on how long a computation is allowed to run
_GROEBNER_STATE, _GROEBNER_DEGREE = 4, 8


def _largest_invariant(state, rhs, zero, rounds: int = 6):
    """The Groebner basis of the smallest Lie-closed ideal containing ``zero``, and whether
    its variety consists of equilibria; ``(None, None)`` if it does not close in ``rounds``."""
    params = sorted(set().union(*(e.free_symbols for e in (*rhs, *zero))) - set(state),
                    key=str)
    domain = sp.QQ.frac_field(*params) if params else sp.QQ
    if not zero:  # the whole space: invariant; equilibria only if f = 0
        return (), all(f == 0 for f in rhs)
    # shortcut (gradient flows): every f_j a constant multiple of some q, so the ideal of
    # the q's is closed under the Lie derivative and its zeros are exactly equilibria
    if all(any(q != 0 and not (sp.cancel(f / q).free_symbols & set(state)) for q in zero)
           for f in rhs if f != 0):
        return tuple(zero), True
    if len(state) > _GROEBNER_STATE or max(sp.Poly(q, *state).total_degree()
                                           for q in zero) > _GROEBNER_DEGREE:
        return None, None  # too large for Groebner bases in reasonable time: not computed
    ideal = list(zero)
    for _ in range(rounds):
        try:
            G = sp.groebner(ideal, *state, domain=domain, order="grevlex")
        except (sp.polys.polyerrors.PolynomialError, sp.CoercionFailed):
            return None, None
        new = [r for r in (G.reduce(_lie(g, state, rhs))[1] for g in G.exprs) if r != 0]
        if not new:
            equilibria = all(_in_radical(f, G.exprs, state, domain) for f in rhs)
            return tuple(G.exprs), equilibria
        ideal = [*G.exprs, *new]
    return None, None


def _in_radical(f, ideal, state, domain) -> bool:
    """Whether f vanishes on the variety of ``ideal`` (Rabinowitsch: 1 is in I + <1 - t f>)."""
    if f == 0:
        return True
    t = sp.Dummy("t")
    G = sp.groebner([*ideal, 1 - t * f], *state, t, domain=domain, order="grevlex")
    return G.exprs == [1]


def _lasalle_steps(vdot, zero, invariant, equilibria):
    out = [sentence("So {d} vanishes exactly where {z}.", d=vdot,
                    z=[sp.Eq(q, 0) for q in zero])] if zero else []
    if invariant is None or not zero:
        return out
    tail = (" It consists of equilibria, so every solution bounded in forward time "
            "converges to the set of equilibria (LaSalle's invariance principle)."
            if equilibria else " Every solution bounded in forward time approaches it "
            "(LaSalle's invariance principle).")
    out.append(sentence("The largest invariant set inside it is where {g} (the smallest "
                        "ideal containing these polynomials and closed under the Lie "
                        "derivative, for generic parameters)." + tail,
                        g=[sp.Eq(g, 0) for g in invariant]))
    return out
