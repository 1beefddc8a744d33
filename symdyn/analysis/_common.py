"""What the analyses share: the names of a system, its generic parameters, exact numbers."""

from __future__ import annotations

import math
import multiprocessing as mp
import re
import time
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from ..errors import AnalysisError, SpecError
from ..expressions import parse_expression
from ..numerics._budget import DEADLINE, WALL_FACTOR, BudgetExhausted, context_remaining

__all__ = [
    "namespace",
    "parse",
    "as_expression",
    "free_parameters",
    "positive_parameters",
    "generic_assumptions",
    "assumed_symbols",
    "exact_number",
    "rationalize",
    "as_values",
    "is_polynomial_system",
    "budgeted",
    "check_timeout",
]


def namespace(system) -> dict[str, sp.Basic]:
    """Every name a user may write about ``system``: component symbols of the state and the
    parameters, and the matrix symbols of the matrix form."""
    names: dict[str, sp.Basic] = {}
    m = system.matrix
    for s in (*m.state, *m.parameters):
        if isinstance(s, sp.MatrixSymbol):
            names[s.name] = s
    for s in (*system.state, *free_parameters(system)):
        names[s.name] = s
    return names


def parse(system, text: str) -> sp.Basic:
    """An expression about ``system`` from a string, with the system's own symbols (``beta``
    is the parameter, not sympy's beta function; ``A1.T`` is a transpose; ``^`` is a power).
    Parsed by the whitelist parser of :mod:`symdyn.expressions`: nothing in ``text`` runs."""
    return parse_expression(text, namespace(system))


def as_expression(system, value, what: str = "expression") -> sp.Basic:
    """``value`` as a sympy object: a string is parsed (see :func:`parse`), a sympy object is
    kept, a Python number converted; anything else is a :class:`SpecError` (``sympify`` is
    strict here, so no object's ``str`` is ever parsed)."""
    if isinstance(value, str):
        return parse(system, value)
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        raise SpecError(f"expected {what} (a string or a sympy expression), got {value!r}")
    try:
        out = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        out = None
    if not isinstance(out, sp.Expr | sp.MatrixExpr):  # not a tuple, a set, ...
        raise SpecError(f"expected {what} (a string or a sympy expression), got "
                        f"{value!r}")
    return out


def free_parameters(system) -> tuple[sp.Symbol, ...]:
    """The system's parameters, plus any other free scalar of the right-hand side."""
    out = list(system.parameters)
    state = set(system.state)
    extra = set().union(*(e.free_symbols for e in system.rhs)) - state - set(out)
    return tuple(out + sorted(extra, key=str))


def positive_parameters(system) -> set[sp.Symbol]:
    r"""Parameters that are positive by construction: :math:`\beta = E[I^2]`, the diagonal
    of :math:`\Sigma_{II}`, and symbolic rate, decay and rate ratio."""
    rule = system.rule
    out = set()
    for option in (rule.rate, rule.decay, getattr(rule, "rate_ratio", sp.Integer(1))):
        out |= set(sp.sympify(option, strict=True).free_symbols)
    for p in free_parameters(system):
        parts = p.name.split("_")
        if p.name == "beta" or (p.name.startswith("Sigma_II_") and parts[-1] == parts[-2]):
            out.add(p)
    return out & set(free_parameters(system))


def generic_assumptions(system, fixed: Mapping | None = None) -> str:
    """The genericity the analyses assume of the parameters not in ``fixed``, in words."""
    fixed = fixed or {}
    params = [p for p in free_parameters(system) if p not in fixed]
    pos = positive_parameters(system)
    nonzero = [str(p) for p in params if p not in pos]
    parts = []
    if nonzero:
        parts.append(f"{', '.join(nonzero)} real and non-zero")
    if pos:
        parts.append(f"{', '.join(str(p) for p in params if p in pos)} positive")
    if not parts:
        return "no symbolic parameters"
    return "generic parameters: " + "; ".join(parts)


def assumed_symbols(system, values: Mapping | None = None) -> dict[sp.Symbol, sp.Symbol]:
    """Plain symbol -> a symbol of the same name that carries the generic assumptions (state
    real; parameters real and non-zero, or positive). Parameters in ``values`` are left out."""
    values = values or {}
    pos = positive_parameters(system)
    out = {x: sp.Symbol(x.name, real=True) for x in system.state}
    for p in free_parameters(system):
        if p in values:
            continue
        out[p] = sp.Symbol(p.name, positive=True) if p in pos else \
            sp.Symbol(p.name, real=True, nonzero=True)
    return out


_DECIMAL = re.compile(
    r"^[+-]?([0-9]{1,100}(\.[0-9]{0,100})?|\.[0-9]{1,100})([eE][+-]?[0-9]{1,3})?$")


def exact_number(value) -> sp.Expr:
    """A number as an exact sympy number: integers stay integers, a float becomes the simplest
    rational within its precision (``0.1`` -> ``1/10``)."""
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.match(text):  # exact: "0.1" is 1/10 (a short exponent: no 1e99999999)
            value = sp.Rational(text)
        else:
            value = parse_expression(text, {}, what="expected a number: ")
            if isinstance(value, sp.Float):
                value = float(value)
    if isinstance(value, bool):
        raise SpecError(f"expected a number, got {value!r}")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SpecError(f"expected a finite number, got {value!r}")
        f = Fraction(value).limit_denominator(10**9)
        return sp.Rational(f.numerator, f.denominator) if float(f) == value else \
            sp.Rational(value)
    try:
        num = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise SpecError(f"expected a number, got {value!r}") from None
    if isinstance(num, sp.Float):
        return exact_number(float(num))
    if not getattr(num, "is_number", False) or num.is_real is False or num.is_finite is False:
        raise SpecError(f"expected a finite real number, got {value!r}")
    if abs(num) > sp.Float(1.7976931348623157e308):
        raise SpecError(f"{value!r} is beyond floating point (about 1.8e308); give a finite "
                        "number")
    return num


def rationalize(expr: sp.Basic, *, exact: bool = False) -> sp.Basic:
    """``expr`` with every float replaced by an exact rational: the simplest one within the
    float's precision (see :func:`exact_number`), or with ``exact=True`` its exact binary
    value (``0.1`` -> ``3602879701896397/36028797018963968``), which is what a numerical
    computation with that float uses: the sound choice for proofs and refutations."""
    floats = expr.atoms(sp.Float)
    if not floats:
        return expr
    if exact:
        return expr.xreplace({f: sp.Rational(f) for f in floats})
    return expr.xreplace({f: exact_number(float(f)) for f in floats})


def as_values(system, values: Mapping | None) -> dict[sp.Symbol, sp.Expr]:
    """``{name or symbol: number}`` -> ``{parameter symbol: exact number}``, checked."""
    if not values:
        return {}
    if not isinstance(values, Mapping):
        raise SpecError(f"values must be a mapping name -> number, got {values!r}")
    params = {p.name: p for p in free_parameters(system)}
    state = {x.name for x in system.state}
    out = {}
    for key, value in values.items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name in state:
            raise SpecError(f"{name} is a state variable, not a parameter; values fixes "
                            f"parameters only ({', '.join(params) or 'none'})")
        if name not in params:
            raise SpecError(f"unknown parameter {name!r}; this system's parameters are "
                            f"{', '.join(params) or '(none)'}")
        out[params[name]] = exact_number(value)
    return out


def is_polynomial_system(system) -> bool:
    """Whether every right-hand side is a polynomial in the state and the parameters."""
    gens = (*system.state, *free_parameters(system))
    return all(rationalize(e).is_polynomial(*gens) for e in system.rhs)


def require_polynomial(system, what: str) -> None:
    """Raise :class:`AnalysisError` unless the system is polynomial."""
    if not is_polynomial_system(system):
        raise AnalysisError(
            f"{what} needs a polynomial system, and {system.network} trained by {system.rule} "
            "is not (its right-hand side has non-polynomial functions such as tanh); use a "
            "linear network, or check a candidate with verify_invariant, which handles "
            "non-polynomial systems"
        )


# -- running under a budget -------------------------------------------------------------------


def _child(fn, args, conn) -> None:
    try:
        for msg in fn(*args):
            conn.send(msg)
        conn.send(("done",))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def check_timeout(timeout) -> float:
    """``timeout`` if it is a positive finite number of seconds, else a :class:`SpecError`."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise SpecError(f"timeout must be a positive finite number of seconds, got {timeout!r}")
    return float(timeout)


def budgeted(fn, args, timeout: float) -> tuple[list, str]:
    """Run the generator ``fn(*args)`` in a forked process for at most ``timeout`` seconds;
    return the messages it sent and how it ended: ``"done"``, ``"error: ..."``,
    ``"timeout"`` or ``"died"``. Under a context :data:`~symdyn.numerics._budget.DEADLINE`
    (``symdyn verify``) the search gets the time left before it instead (CPU seconds left,
    times ``WALL_FACTOR``, in wall-clock time), and running out of it raises
    :class:`~symdyn.numerics._budget.BudgetExhausted`: what a search finds must not depend
    on how busy the machine is."""
    check_timeout(timeout)
    strict = DEADLINE.get() is not None
    if strict:  # the child's CPU is not this process's: it gets wall time in proportion
        timeout = WALL_FACTOR * context_remaining()
        if timeout <= 0:
            raise BudgetExhausted(f"time budget exhausted before {fn.__name__} started")
    try:
        ctx = mp.get_context("fork")
    except ValueError:  # no fork on this platform: run here, without a budget
        msgs = list(fn(*args))
        return msgs, "done"
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, send), daemon=True)
    proc.start()
    send.close()
    deadline = time.monotonic() + timeout
    msgs: list = []
    end = "timeout"
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if recv.poll(min(left, 0.25)):
                try:
                    msg = recv.recv()
                except EOFError:
                    end = "died"
                    break
                if msg[0] == "done":
                    end = "done"
                    break
                if msg[0] == "error":
                    end = f"error: {msg[1]}"
                    break
                msgs.append(msg)
            elif not proc.is_alive() and not recv.poll():
                end = "died"
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        recv.close()
    if strict and end == "timeout":
        raise BudgetExhausted(f"time budget exhausted during {fn.__name__}")
    return msgs, end
