"""Strings from users become sympy expressions here, and nowhere else.

A whitelist grammar on Python's :mod:`ast`: the text is parsed (``ast.parse(mode="eval")``,
which only builds a tree and runs nothing), every node is checked against a short list, and
the sympy object is built directly from the nodes. ``eval``, ``sympify`` and ``parse_expr``
never see user text.

Allowed: integer and decimal literals; the names the caller passes (a system's state and
parameters, matrix symbols); ``pi`` and ``E`` unless a name of the caller shadows them;
``+ - * / **`` (``^`` is a power too, ``@`` a matrix product), unary ``+``/``-``,
parentheses; the functions of :data:`FUNCTIONS`; ``.T`` (transpose) on matrix symbols.

Limits, so that no string makes sympy work without end: :data:`MAX_LENGTH` characters,
:data:`MAX_NODES` syntax nodes, integer literals of at most :data:`MAX_DIGITS` digits,
exponents of magnitude at most :data:`MAX_EXPONENT`, exact numbers of at most
:data:`MAX_BITS` bits (so ``9**9**9`` is refused at once rather than computed).

>>> import sympy as sp
>>> a1 = sp.Symbol("a1")
>>> parse_expression("a1^2 - 2*a1 + 1/3", {"a1": a1})
a1**2 - 2*a1 + 1/3
>>> parse_expression("__import__('os')", {"a1": a1})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symdyn.errors.ExpressionError: ...: __import__ is not a function symdyn knows; ...
"""

from __future__ import annotations

import ast
import contextlib
import io
import keyword
import math
import signal
import threading
import tokenize
from collections.abc import Callable, Mapping

import sympy as sp

from .errors import ExpressionError

__all__ = [
    "FUNCTIONS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_BITS",
    "parse_expression",
    "parse_number",
    "sympy_object",
]

MAX_LENGTH = 10_000
MAX_NODES = 2_000
MAX_DIGITS = 100
MAX_EXPONENT = 100
MAX_BITS = 4_000
#: CPU seconds sympy may spend building one expression (its automatic simplification asks
#: assumptions that can expand powers of high degree; in the main thread only, where a
#: signal can interrupt it)
MAX_SECONDS = 3.0
#: the largest magnitude of a number given to exp, sinh or cosh: e**2773 > 2**MAX_BITS
MAX_EXP_ARGUMENT = MAX_BITS * math.log(2)

#: name -> (sympy function, number of arguments: an int, a (fewest, most) pair, or ``None``
#: for two or more).
FUNCTIONS: dict[str, tuple[Callable[..., sp.Basic], int | tuple[int, int] | None]] = {
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tan": (sp.tan, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "tanh": (sp.tanh, 1),
    "Abs": (sp.Abs, 1),
    "abs": (sp.Abs, 1),
    "sign": (sp.sign, 1),
    "Heaviside": (sp.Heaviside, (1, 2)),  # Heaviside(x, H0): sympy prints H(0) = 1/2
    "Max": (sp.Max, None),
    "Min": (sp.Min, None),
    "transpose": (sp.transpose, 1),
    "trace": (sp.trace, 1),
}

_CONSTANTS: dict[str, sp.Basic] = {"pi": sp.pi, "E": sp.E}

_BINARY: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
    ast.BitXor: "^", ast.MatMult: "@",
}

#: What a user may write, in words, for the error messages.
GRAMMAR = ("numbers, the names of the system, + - * / ** ^ and parentheses, and the "
           "functions " + ", ".join(FUNCTIONS))


def _describe(node: ast.AST) -> str:
    """A short name of a forbidden construct, for the message."""
    what = {
        ast.Attribute: "attribute access", ast.Subscript: "subscripts",
        ast.Lambda: "lambda", ast.Compare: "a comparison (a relation is not an expression)",
        ast.BoolOp: "and/or", ast.IfExp: "if/else", ast.JoinedStr: "f-strings",
        ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
        ast.Call: "this call", ast.NamedExpr: "assignment (:=)", ast.Starred: "*unpacking",
        ast.Tuple: "tuples (one expression, please)", ast.List: "lists", ast.Dict: "dicts",
        ast.Set: "sets", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    }.get(type(node))
    if what is not None:
        return what
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r}"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {type(node.op).__name__}"
    return type(node).__name__


def _prepare(text: str, names: Mapping[str, sp.Basic]) -> tuple[str, dict[str, str]]:
    """Token-level rewriting before :func:`ast.parse`: ``^`` becomes ``**`` (with the
    precedence of a power), and names of the system that are Python keywords (``lambda``)
    get an alias. Tokenizing runs nothing."""
    aliases = {n: f"_symdyn_kw_{n}" for n in names if keyword.iskeyword(n)}
    if "^" not in text and not aliases:
        return text, {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text, {}  # ast.parse reports the syntax error
    out = []
    for t in tokens:
        if t.type == tokenize.NAME:
            out.append((t.type, aliases.get(t.string, t.string)))
        elif t.type == tokenize.OP and t.string == "^":
            out.append((t.type, "**"))
        else:
            out.append((t.type, t.string))
    return tokenize.untokenize(out), {v: k for k, v in aliases.items()}


def _number_bits(value: sp.Basic) -> float:
    """An upper estimate of the bits of the exact integers sympy keeps in a number (and of
    the magnitude of its floats): products add, powers multiply; functions and sums are
    kept unexpanded by sympy and count 1."""
    if isinstance(value, sp.Rational):
        return float(max(abs(value.p).bit_length(), abs(value.q).bit_length(), 1))
    if isinstance(value, sp.Float):
        return max(abs(float(sp.log(abs(value), 2))), 1.0) if value != 0 else 1.0
    if isinstance(value, sp.Mul):
        return float(sum(_number_bits(a) for a in value.args))
    if isinstance(value, sp.Pow) and isinstance(value.exp, sp.Rational):
        return _number_bits(value.base) * max(abs(float(value.exp)), 1.0)
    return 1.0


class _OverBudget(BaseException):
    """Raised by the CPU timer inside sympy (a BaseException: sympy's ``except Exception``
    clauses must not swallow it)."""


@contextlib.contextmanager
def _cpu_budget(seconds: float):
    """Interrupt the block after ``seconds`` of CPU time (``SIGPROF``), when this is the
    main thread and nobody else uses the timer; otherwise run it unbounded."""
    usable = threading.current_thread() is threading.main_thread() and \
        hasattr(signal, "SIGPROF") and signal.getsignal(signal.SIGPROF) in (signal.SIG_DFL,
                                                                             None)
    if not usable:
        yield
        return

    def ring(signum, frame):
        raise _OverBudget()

    signal.signal(signal.SIGPROF, ring)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)


class _Builder:
    """Builds the sympy object of one checked tree."""

    def __init__(self, text: str, source: str, names: Mapping[str, sp.Basic],
                 aliases: dict[str, str], what: str) -> None:
        self.text = text
        self.source = source
        self.names = names
        self.aliases = aliases
        self.what = what

    def fail(self, message: str) -> ExpressionError:
        shown = self.text if len(self.text) <= 80 else self.text[:60] + "..." + self.text[-10:]
        return ExpressionError(f"{self.what}{shown!r}: {message}")

    def valid_names(self) -> str:
        names = sorted(self.names, key=lambda n: (len(n), n))
        shown = ", ".join(names[:40])
        if len(names) > 40:
            shown += f", ... ({len(names)} names in all)"
        return shown or "(none: numbers only)"

    # -- numbers ------------------------------------------------------------------------------

    def check_number(self, value: sp.Basic) -> sp.Basic:
        if isinstance(value, (sp.Rational, sp.Mul, sp.Pow)):
            bits = int(_number_bits(value))
            if bits > MAX_BITS:
                raise self.fail(f"a number of {bits} bits; at most {MAX_BITS} bits "
                                f"(about {int(MAX_BITS * math.log10(2))} digits) are allowed")
        return value

    def constant(self, node: ast.Constant) -> sp.Basic:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"not allowed: {_describe(node)}; an expression may use {GRAMMAR}")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_DIGITS:
                raise self.fail(f"an integer of more than {MAX_DIGITS} digits is not allowed")
            return sp.Integer(value)
        if not math.isfinite(value):
            raise self.fail(f"the number {ast.get_source_segment(self.source, node) or value} "
                            "is out of the range of floating point; numbers must be finite")
        return sp.Float(value)

    # -- the tree -----------------------------------------------------------------------------

    def build(self, node: ast.AST) -> sp.Basic:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            arg = self.build(node.operand)
            return -arg if isinstance(node.op, ast.USub) else arg
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Compare):
            raise self.fail("a relation (==, <, >, ...) is not an expression; give the "
                            "expression alone, e.g. 'a1**2 - c1' rather than 'a1**2 > c1'")
        raise self.fail(f"not allowed: {_describe(node)}; an expression may use {GRAMMAR}")

    def name(self, name: str) -> sp.Basic:
        name = self.aliases.get(name, name)
        if name in self.names:
            return self.names[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"{name} is a function; call it, e.g. {name}(a1)")
        raise self.fail(f"unknown name {name!r}; the valid names are {self.valid_names()}")

    def binary(self, node: ast.BinOp) -> sp.Basic:
        left = self.build(node.left)
        right = self.build(node.right)
        op = type(node.op)
        try:
            if op is ast.Add:
                out = left + right
            elif op is ast.Sub:
                out = left - right
            elif op in (ast.Mult, ast.MatMult):
                out = left * right
            elif op is ast.Div:
                if right.is_zero:
                    raise self.fail("division by zero")
                out = left / right
            else:
                out = self.power(left, right)
        except ExpressionError:
            raise
        except (TypeError, ValueError, AttributeError, ArithmeticError, sp.ShapeError) as exc:
            sym = _BINARY[op]
            raise self.fail(f"cannot apply {sym} to {left} and {right}: {exc}") from None
        if getattr(out, "has", None) is not None and out.has(sp.zoo, sp.nan):
            raise self.fail("the expression is undefined (a division by zero)")
        return self.check_number(out)

    def power(self, base: sp.Basic, exponent: sp.Basic) -> sp.Basic:
        if not (isinstance(exponent, sp.Expr) and exponent.is_number):
            raise self.fail(f"the exponent {exponent} must be a number")
        if not exponent.is_real:
            raise self.fail(f"the exponent {exponent} must be a real number")
        if abs(float(exponent)) > MAX_EXPONENT:
            raise self.fail(f"the exponent {exponent} is too large; |exponent| <= "
                            f"{MAX_EXPONENT} is allowed")
        if isinstance(base, sp.Rational) and base == 0 and exponent.is_negative:
            raise self.fail("division by zero (0 to a negative power)")
        if isinstance(base, sp.Pow) and not base.base.is_number and base.exp.is_number \
                and base.exp.is_real and abs(float(base.exp) * float(exponent)) > MAX_EXPONENT:
            raise self.fail(f"the power ({base})**{exponent} has an exponent above "
                            f"{MAX_EXPONENT}")
        if isinstance(base, sp.Expr):
            # on the value, before sympy computes it: sqrt(2)**99 is 2**49*sqrt(2), and a
            # tower of such powers multiplies the bits of its integers at every level
            bits = _number_bits(base) * abs(float(exponent))
            if bits > MAX_BITS:
                raise self.fail(f"({base})**{exponent} has about {bits:,.0f} bits; at most "
                                f"{MAX_BITS} bits are allowed")
        out = base**exponent
        if isinstance(out, sp.Pow) and out.exp.is_number and out.exp.is_real \
                and abs(float(out.exp)) > MAX_EXPONENT:
            raise self.fail(f"the power {out} has an exponent above {MAX_EXPONENT}")
        return out

    def check_growth(self, name: str, arg: sp.Basic) -> None:
        """exp, sinh and cosh of a number: refused above :data:`MAX_EXP_ARGUMENT` in
        magnitude (exp(exp(exp(100))) has a 10**43-digit exponent)."""
        if not (isinstance(arg, sp.Expr) and arg.is_number):
            return
        try:
            size = abs(complex(arg.evalf(15)))
        except (TypeError, ValueError, ArithmeticError):
            size = math.inf
        if not size <= MAX_EXP_ARGUMENT:
            raise self.fail(f"{name} of a number of magnitude above {MAX_EXP_ARGUMENT:.0f} "
                            f"(e**{MAX_EXP_ARGUMENT:.0f} ~ 2**{MAX_BITS}) is not allowed")

    def call(self, node: ast.Call) -> sp.Basic:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.fail(f"only the functions {', '.join(FUNCTIONS)} may be called")
        name = func.id
        if name not in FUNCTIONS:
            raise self.fail(f"{name} is not a function symdyn knows; the functions are "
                            f"{', '.join(FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"{name}() takes plain arguments only")
        fn, arity = FUNCTIONS[name]
        n = len(node.args)
        low, high = (2, None) if arity is None else \
            arity if isinstance(arity, tuple) else (arity, arity)
        if n < low or (high is not None and n > high):
            want = "two or more arguments" if arity is None else \
                f"{low} or {high} arguments" if low != high else \
                f"{low} argument{'s' if low != 1 else ''}"
            raise self.fail(f"{name}() takes {want}, got {n}")
        args = [self.build(a) for a in node.args]
        if name in ("exp", "sinh", "cosh"):
            self.check_growth(name, args[0])
        try:
            out = fn(*args)
        except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise self.fail(f"cannot apply {name} to {', '.join(map(str, args))}: {exc}") \
                from None
        if out.has(sp.zoo, sp.nan):
            raise self.fail(f"{name}({', '.join(map(str, args))}) is undefined")
        return out

    def attribute(self, node: ast.Attribute) -> sp.Basic:
        if node.attr != "T":
            raise self.fail(f"attribute access (.{node.attr}) is not allowed; only .T, the "
                            "transpose of a matrix symbol")
        value = self.build(node.value)
        if not isinstance(value, sp.MatrixExpr):
            raise self.fail(f"{value}.T: only matrix expressions have a transpose")
        return value.T


def parse_expression(text: str, names: Mapping[str, sp.Basic], *, what: str = "") -> sp.Basic:
    """The sympy object that ``text`` denotes, where ``names`` maps each name the user may
    write to its sympy symbol. Raises :class:`~symdyn.errors.ExpressionError` (a
    :class:`~symdyn.errors.SpecError`) that shows the text and says what is allowed;
    ``what`` (e.g. ``"--check "``) prefixes the message."""
    if not isinstance(names, Mapping):
        raise ExpressionError(f"{what}names must be a mapping of names to sympy symbols, "
                              f"got {type(names).__name__}")
    if not isinstance(text, str):
        raise ExpressionError(f"{what}expected an expression as a string, got {text!r}")
    if not text.strip():
        raise ExpressionError(f"{what}expected an expression, got an empty string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{what}an expression of {len(text)} characters; at most "
                              f"{MAX_LENGTH} are allowed")
    source, aliases = _prepare(text.strip(), names)
    builder = _Builder(text, source, names, aliases, what)
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise builder.fail(f"not an expression ({msg}); an expression may use {GRAMMAR}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise builder.fail(f"{count} syntax nodes; at most {MAX_NODES} are allowed")
    try:
        with _cpu_budget(MAX_SECONDS):
            return builder.build(tree.body)
    except _OverBudget:
        raise builder.fail(f"sympy took more than {MAX_SECONDS:g} CPU-seconds to build it "
                           "(powers of high degree inside functions); simplify it or use "
                           "smaller exponents") from None
    except RecursionError:
        raise builder.fail("nested too deeply") from None


def parse_number(text: str, *, what: str = "") -> float:
    """A finite real number from ``text``: a literal (``0.5``, ``-1e-3``) or a constant
    expression (``1/3``, ``2**-10``, ``sqrt(2)``, ``pi/4``). Raises
    :class:`~symdyn.errors.ExpressionError`."""
    expr = parse_expression(text, {}, what=what)
    if not (isinstance(expr, sp.Expr) and expr.is_number):
        raise ExpressionError(f"{what}{text!r} is not a number")
    try:
        with _cpu_budget(MAX_SECONDS):
            value = complex(expr.evalf(30))
    except (TypeError, ValueError, ArithmeticError, _OverBudget):
        raise ExpressionError(f"{what}{text!r} is not a finite real number (or cannot be "
                              "evaluated)") from None
    if value.imag != 0 or not math.isfinite(value.real):
        raise ExpressionError(f"{what}{text!r} = {value if value.imag else value.real} is not "
                              "a finite real number")
    return value.real


def sympy_object(value, *, what: str = "expression") -> sp.Expr:
    """``value`` (a sympy expression or a Python number) as a finite scalar sympy expression.
    Text is refused, never parsed: ``sympify`` of a string evaluates it as Python (parse user
    text with :func:`parse_expression`); so are containers (a ``Tuple``, a ``Dict``) and
    NaN or infinities, which no sign or level set is made of."""
    if isinstance(value, (str, bytes)):
        raise ExpressionError(f"{what} must be a sympy expression, not text (parse text "
                              "with symdyn.expressions.parse_expression)")
    try:
        out = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        out = None
    if not isinstance(out, sp.Expr) or isinstance(out, sp.MatrixExpr):
        raise ExpressionError(f"{what} must be a scalar sympy expression, got "
                              f"{type(value).__name__}")
    if out.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ExpressionError(f"{what} must be finite, got {out}")
    return out
