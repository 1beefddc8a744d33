r"""Numpy code generated from sympy matrix expressions (private; used by
:mod:`symdyn.numerics` and :mod:`symdyn.training`).

The matrix expressions of a :class:`~symdyn.system.MatrixForm` are printed by a subclass of
sympy's :class:`~sympy.printing.numpy.NumPyPrinter` that walks ``MatMul``, ``MatAdd``,
``Transpose``, ``HadamardProduct`` and ``ElementwiseApplyFunction``. Every matrix of the state
is a block of the flat state vector, reshaped to ``(..., rows, cols)``, so that one function
serves a single state ``(n,)`` and a batch ``(batch, n)``: products are ``@`` (``np.matmul``,
broadcasting over the batch), transposes swap the last two axes, element-wise functions are
the activation ``Lambda``\ s lambdified to numpy. Before printing, transposes are moved
outward (:math:`X^T A^T \to (A X)^T`, :math:`f.(M^T) \to f.(M)^T`) and repeated
sub-expressions become temporaries (sympy's own ``cse`` cannot rebuild
``ElementwiseApplyFunction``); each product chain is multiplied in the cheapest order.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter

__all__ = ["Kernel", "matrix_kernel", "component_kernel", "Unsupported", "NUMPY_MODULES",
           "numpy_function"]


def _heaviside(x, h0=0.5):
    return np.heaviside(x, h0)


#: The modules of every ``lambdify`` in symdyn: numpy, with ``Heaviside`` as
#: ``numpy.heaviside``. Without it sympy prints ``Heaviside(s)`` through its Piecewise
#: rewrite, and for a relu network ``s`` holds ``Max``: the condition ``Max(..) > 0`` becomes
#: a nested ``numpy.select`` whose boolean choices come back as floats (``default=nan``), and
#: the outer ``select`` raises "invalid entry 0 in condlist: should be boolean ndarray"
#: (whether it does depended on what ``cse`` happened to pull out).
NUMPY_MODULES = [{"Heaviside": _heaviside}, "numpy"]


def numpy_function(args, exprs, *, cse: bool = True) -> Callable:
    """``sympy.lambdify(args, exprs)`` to numpy, with :data:`NUMPY_MODULES`."""
    return sp.lambdify(args, exprs, modules=NUMPY_MODULES, cse=cse)


class Unsupported(Exception):
    """A matrix expression this generator does not print (the caller falls back to the
    component form)."""


@dataclass(frozen=True, eq=False)
class Kernel:
    """Generated code: ``function(y, *params)`` returns an array shaped like ``y``.

    ``params`` are the sympy objects (matrix symbols, scalar symbols) whose values the
    function takes after ``y``, in order; ``form`` is ``"matrix"`` or ``"component"``."""

    function: Callable
    params: tuple[sp.Basic, ...]
    form: str
    source: str


# -- rewriting ------------------------------------------------------------------------------


def _matmul_parts(expr: sp.MatMul) -> tuple[sp.Expr, list[sp.MatrixExpr]]:
    """Scalar coefficient and matrix factors of a product, nested products flattened."""
    coeff, mats = sp.Integer(1), []
    for a in expr.args:
        if isinstance(a, sp.MatMul):
            c, m = _matmul_parts(a)
            coeff, mats = coeff * c, mats + m
        elif isinstance(a, sp.MatrixExpr):
            mats.append(a)
        else:
            coeff = coeff * a
    return coeff, mats


def _mul(coeff, mats: list) -> sp.MatrixExpr:
    return sp.MatMul(*mats) if coeff == 1 else sp.MatMul(coeff, *mats)


def lift_transposes(expr):
    r"""Move transposes outward so that :math:`X^T A^T` and :math:`A X` share code."""
    if not isinstance(expr, sp.MatrixExpr) or isinstance(expr, sp.MatrixSymbol):
        return expr
    if isinstance(expr, sp.Transpose):
        inner = lift_transposes(expr.arg)
        return inner.arg if isinstance(inner, sp.Transpose) else sp.Transpose(inner)
    if isinstance(expr, ElementwiseApplyFunction):
        inner = lift_transposes(expr.expr)
        rebuild = expr.func  # keeps subclasses (symdyn's own Elementwise)
        if isinstance(inner, sp.Transpose):
            return sp.Transpose(rebuild(expr.function, inner.arg))
        return expr if inner == expr.expr else rebuild(expr.function, inner)
    if isinstance(expr, sp.MatMul):
        coeff, mats = _matmul_parts(expr)
        mats = [lift_transposes(m) for m in mats]
        if len(mats) > 1 and all(isinstance(m, sp.Transpose) for m in mats):
            return sp.Transpose(_mul(coeff, [m.arg for m in reversed(mats)]))
        return _mul(coeff, mats)
    if isinstance(expr, (sp.MatAdd, sp.HadamardProduct)):
        args = [lift_transposes(a) for a in expr.args]
        if len(args) > 1 and all(isinstance(a, sp.Transpose) for a in args):
            return sp.Transpose(expr.func(*[a.arg for a in args]))
        return expr.func(*args)
    if isinstance(expr, sp.HadamardPower):
        return sp.HadamardPower(lift_transposes(expr.base), expr.exp)
    return expr


def share_activations(exprs: Sequence[sp.MatrixExpr]) -> list[sp.MatrixExpr]:
    r"""Write an element-wise function of a matrix through another one of the same matrix
    when it can be: :math:`\tanh'.(M) = 1 - \tanh.(M)^2` becomes ``1 - u**2`` applied to
    :math:`\tanh.(M)`, which is then computed once (the derivative of a tanh layer is the
    common case)."""
    groups: dict = {}
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, ElementwiseApplyFunction):
                groups.setdefault(node.expr, set()).add(node)
    rep = {}
    u = sp.Dummy("u")
    for group in groups.values():
        if len(group) < 2:
            continue
        base = min(group, key=lambda g: (sp.count_ops(g.function.expr), str(g)))
        (v,) = base.function.variables
        for other in group - {base}:
            (w,) = other.function.variables
            new = other.function.expr.xreplace({w: v}).subs(base.function.expr, u)
            if new.has(u) and v not in new.free_symbols:
                rep[other] = other.func(sp.Lambda(u, new), base)
    return [e.xreplace(rep) for e in exprs] if rep else list(exprs)


def _is_leaf(e) -> bool:
    return (not isinstance(e, sp.MatrixExpr) or isinstance(e, sp.MatrixSymbol)
            or (isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol)))


def repeated_subexpressions(exprs: Sequence[sp.MatrixExpr]) -> list[sp.MatrixExpr]:
    """Matrix sub-expressions met more than once, children before parents."""
    seen: set = set()
    repeated: set = set()
    order: list = []

    def visit(e):
        if _is_leaf(e):
            return
        if e in seen:
            repeated.add(e)
            return
        seen.add(e)
        for a in e.args:
            visit(a)
        order.append(e)

    for e in exprs:
        visit(e)
    return [e for e in order if e in repeated]


# -- printing -------------------------------------------------------------------------------

_SUPPORTED = (sp.MatrixSymbol, sp.MatMul, sp.MatAdd, sp.Transpose, sp.HadamardProduct,
              sp.HadamardPower, ElementwiseApplyFunction, sp.ZeroMatrix, sp.Identity,
              sp.OneMatrix)


class ChainPlan:
    r"""Shared sub-products of all product chains of one function.

    A deep linear network gives chains such as :math:`C_h \cdots C_{L-1} D A_1^T \cdots
    A_{h-1}^T` for every :math:`h`; multiplied independently they cost :math:`O(L^2)`
    products, but their sub-chains repeat. Every contiguous sub-chain is counted over all
    chains; each chain is then parenthesised by a dynamic programme in which a sub-chain
    already computed costs nothing and the cost of the others is divided by the number of
    chains that contain them; a sub-chain met more than once becomes a temporary."""

    def __init__(self):
        self.ids: dict = {}
        self.counts: dict = {}
        self.memo: dict = {}

    def factor_ids(self, mats) -> tuple[int, ...]:
        return tuple(self.ids.setdefault(m, len(self.ids)) for m in mats)

    def count(self, mats) -> None:
        ids = self.factor_ids(mats)
        k = len(ids)
        for i in range(k):
            for j in range(i + 2, k + 1):
                key = ids[i:j]
                self.counts[key] = self.counts.get(key, 0) + 1

    def order(self, ids: tuple[int, ...], shapes: list[tuple[int, int]]):
        """Split points ``split[i, j]`` of the cheapest amortised parenthesisation."""
        k = len(ids)
        dims = np.array([shapes[0][0]] + [c for _, c in shapes], dtype=float)
        cost = np.zeros((k, k))
        split = np.zeros((k, k), dtype=int)
        for length in range(2, k + 1):
            for i in range(k - length + 1):
                j = i + length - 1
                key = ids[i:j + 1]
                if key in self.memo:
                    continue
                c = cost[i, i:j] + cost[i + 1:j + 1, j] + dims[i] * dims[i + 1:j + 1] * dims[j + 1]
                b = int(np.argmin(c))
                split[i, j] = i + b
                cost[i, j] = c[b] / max(1, self.counts.get(key, 1))
        return split


def _print_named_symbol(printer, expr) -> str:
    """A printer method: the identifier of a symbol in ``printer.names`` (a symbol without
    one has no value to print)."""
    try:
        return printer.names[expr]
    except KeyError:
        raise Unsupported(f"symbol {expr} has no value") from None


class MatrixCodePrinter(NumPyPrinter):
    """Prints matrix expressions as batched numpy code (see the module docstring)."""

    def __init__(self, names: dict, functions: dict, chains: ChainPlan | None = None):
        super().__init__({"fully_qualified_modules": True})
        self.names = names          # sympy symbol -> identifier
        self.functions = functions  # Lambda -> (identifier, extra scalar symbols)
        self.temps: dict = {}       # sub-expression -> identifier
        self.chains = chains or ChainPlan()
        self.pending: list[str] = []  # shared sub-products to assign before the statement

    def _print(self, expr, **kwargs):
        name = self.temps.get(expr)
        if name is not None:
            return name
        if isinstance(expr, sp.MatrixExpr) and not isinstance(expr, _SUPPORTED):
            raise Unsupported(f"no batched numpy code for {type(expr).__name__}: {expr}")
        return super()._print(expr, **kwargs)

    def definition(self, expr) -> str:
        """The code of ``expr`` itself (not its temporary's name)."""
        name = self.temps.pop(expr, None)
        try:
            return self._print(expr)
        finally:
            if name is not None:
                self.temps[expr] = name

    # symbols
    _print_Symbol = _print_named_symbol
    _print_Dummy = _print_named_symbol

    def _print_MatrixSymbol(self, expr):
        return self._print_Symbol(expr)

    # products and sums
    def _scaled(self, coeff, body: str) -> str:
        if coeff == 1:
            return body
        if coeff == -1:
            return f"(-{body})"
        return f"({self._print(coeff)} * {body})"

    def _product(self, coeff, mats) -> str:
        printed = [self._print(m) for m in mats]
        if len(printed) == 1:
            return self._scaled(coeff, printed[0])
        plan = self.chains
        ids = plan.factor_ids(mats)
        split = plan.order(ids, [(int(m.rows), int(m.cols)) for m in mats])

        def emit(i, j):
            if i == j:
                return printed[i]
            key = ids[i:j + 1]
            if key in plan.memo:
                return plan.memo[key]
            m = split[i, j]
            code = f"({emit(i, m)} @ {emit(m + 1, j)})"
            if plan.counts.get(key, 0) >= 2:
                name = f"_c{len(plan.memo)}"
                self.pending.append(f"{name} = {code}")
                plan.memo[key] = name
                return name
            return code

        return self._scaled(coeff, emit(0, len(mats) - 1))

    def _print_MatMul(self, expr):
        return self._product(*_matmul_parts(expr))

    def _print_MatAdd(self, expr):
        plus, minus = [], []
        for term in expr.args:
            if term not in self.temps and isinstance(term, sp.MatMul):
                coeff, mats = _matmul_parts(term)
                if coeff.is_number and coeff.is_negative:
                    minus.append(self._product(-coeff, mats))
                    continue
            plus.append(self._print(term))
        out = " + ".join(plus) if plus else f"-{minus.pop(0)}"
        return "(" + "".join([out] + [f" - {m}" for m in minus]) + ")"

    def _print_Transpose(self, expr):
        return f"numpy.swapaxes({self._print(expr.arg)}, -1, -2)"

    def _print_HadamardProduct(self, expr):
        return "(" + " * ".join(self._print(a) for a in expr.args) + ")"

    def _print_HadamardPower(self, expr):
        return f"({self._print(expr.base)} ** {self._print(expr.exp)})"

    def _print_ElementwiseApplyFunction(self, expr):
        name, extra = self.functions[expr.function]
        args = [self._print(expr.expr)] + [self._print(s) for s in extra]
        return f"{name}({', '.join(args)})"

    def _print_ZeroMatrix(self, expr):
        return "0.0"

    def _print_Identity(self, expr):
        return f"numpy.eye({expr.rows})"

    def _print_OneMatrix(self, expr):
        return f"numpy.ones(({expr.rows}, {expr.cols}))"


def _count_chains(outputs, repeated: set, plan: ChainPlan) -> None:
    """Count the sub-chains of every product the printer will print (temporaries once)."""
    seen: set = set()

    def visit(e, root=False):
        if _is_leaf(e) or (e in repeated and not root):
            return
        if isinstance(e, sp.MatMul):
            _, mats = _matmul_parts(e)
            plan.count(mats)
            for m in mats:
                visit(m)
            return
        for a in e.args:
            visit(a)

    for node in repeated:
        if node not in seen:
            seen.add(node)
            visit(node, root=True)
    for e in outputs:
        visit(e)


def _flat(m, k: int):
    """A block ``(..., r, c)`` as ``(..., r*c)`` (scalars pass through, to broadcast)."""
    m = np.asarray(m)
    return m.reshape(m.shape[:-2] + (k,)) if m.ndim >= 2 else m


_RESERVED = {"y", "lead", "out", "numpy"}


def _identifiers(objects: Sequence[sp.Basic], prefix: str, taken: set) -> dict:
    """A readable, unique Python identifier for each symbol."""
    out = {}
    for k, s in enumerate(objects):
        name = str(getattr(s, "name", s))
        if (not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_")
                or name in _RESERVED or name in taken):
            name = f"_{prefix}{k}"
        taken.add(name)
        out[s] = name
    return out


_counter = itertools.count()


def _compile(source: str, namespace: dict, label: str) -> Callable:
    filename = f"<symdyn-generated-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own printed code
    return namespace[label]


def matrix_kernel(state: Sequence[sp.MatrixSymbol], outputs: Sequence[sp.MatrixExpr],
                  params: Sequence[sp.Basic], label: str = "rhs") -> Kernel:
    """Generate ``label(y, *params)``: the blocks of ``y`` (batched, last axis) are the
    matrices ``state``; returns the blocks of ``outputs`` (one per state matrix) packed the
    same way. Raises :class:`Unsupported` for expressions it cannot print."""
    outputs = share_activations([lift_transposes(sp.sympify(e, strict=True)) for e in outputs])
    for m, e in zip(state, outputs, strict=True):
        if tuple(e.shape) != tuple(m.shape):
            raise ValueError(f"output for {m} has shape {e.shape}, expected {m.shape}")
    taken: set = set()
    names = _identifiers(state, "s", taken)
    names.update(_identifiers(params, "p", taken))

    # element-wise functions: each distinct Lambda lambdified once
    functions, helpers = {}, {}
    for e in outputs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, ElementwiseApplyFunction) and node.function not in functions:
                lam = node.function
                (v,) = lam.variables
                extra = sorted(lam.expr.free_symbols - {v}, key=str)
                missing = [s for s in extra if s not in names]
                if missing:
                    raise Unsupported(f"activation {lam} uses {missing} which has no value")
                ident = f"_f{len(functions)}"
                helpers[ident] = numpy_function((v, *extra), lam.expr)
                functions[lam] = (ident, extra)

    repeated = repeated_subexpressions(outputs)
    chains = ChainPlan()
    _count_chains(outputs, set(repeated), chains)
    printer = MatrixCodePrinter(names, functions, chains)
    lines = [f"def {label}(y, {', '.join(names[p] for p in params)}):".replace(", )", ")"),
             "    lead = y.shape[:-1]"]
    offset = 0
    blocks = []
    for m in state:
        size = m.rows * m.cols
        lines.append(f"    {names[m]} = y[..., {offset}:{offset + size}]"
                     f".reshape(lead + ({m.rows}, {m.cols}))")
        blocks.append((offset, size))
        offset += size
    def statement(text: str) -> None:
        lines.extend(f"    {p}" for p in printer.pending)
        printer.pending.clear()
        lines.append(f"    {text}")

    for k, node in enumerate(repeated):
        code = printer.definition(node)
        printer.temps[node] = f"_t{k}"
        statement(f"_t{k} = {code}")
    lines.append(f"    out = numpy.empty(lead + ({offset},))")
    for (start, size), e in zip(blocks, outputs, strict=True):
        code = printer._print(e)
        statement(f"out[..., {start}:{start + size}] = _flat({code}, {size})")
    lines.append("    return out")
    source = "\n".join(lines) + "\n"
    namespace = {"numpy": np, "_flat": _flat, **helpers}
    return Kernel(_compile(source, namespace, label), tuple(params), "matrix", source)


def component_kernel(state: Sequence[sp.Symbol], rhs: Sequence[sp.Expr],
                     params: Sequence[sp.Symbol]) -> Kernel:
    """``sympy.lambdify(..., cse=True)`` of the component form, wrapped to take and return
    the state on the last axis."""
    n = len(state)
    fn = numpy_function((tuple(state), tuple(params)), list(rhs))

    def rhs_function(y, *p):
        res = fn(np.moveaxis(y, -1, 0), p)
        out = np.empty(np.broadcast_shapes(y.shape[:-1], *(np.shape(v) for v in p)) + (n,))
        for i, v in enumerate(res):
            out[..., i] = v
        return out

    import inspect

    return Kernel(rhs_function, tuple(params), "component", inspect.getsource(fn))
