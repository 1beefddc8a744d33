r"""Scalar loop code for the compiled backend, printed from sympy matrix expressions.

A system given in matrix form (10-10-10 RBP: :math:`\dot A_1 = C_1 (\Sigma_{TI} - A_2 A_1
\Sigma_{II})`, ...) has a component form of hundreds of long equations, too large to ``cse``
and compile. Its matrix expressions are printed here instead as ``def rhs(y, p, K, s)`` for
one row (the signature of :func:`~symdyn.numerics._rk_loop.rhs`): every matrix of the state
is a block of ``y``, every parameter matrix a block of the parameter row ``p``, every
intermediate matrix a block of scratch space at the end of that row (``WORK`` entries after
the parameters: allocating an array per evaluation cost 8% here; the rows are the compiled
loop's own copy), and the result is written into row ``s`` of the stage array ``K``.

A product is a loop over its rows and inner dimension with the columns of the result held in
local accumulators (unrolled for up to :data:`UNROLL` columns), so that they stay in
registers (accumulating in memory was 1.8x slower; numba leaves LLVM's SLP vectoriser off,
so the code is scalar FMAs, about two per cycle); a sum of products is one fused loop
(:math:`\Sigma_{TI} - A_2 M` starts its accumulators at :math:`\Sigma_{TI}`); transposes are
index swaps, never copies; element-wise functions are scalar functions printed by sympy's
``PythonCodePrinter``. Chains are multiplied in the cheapest order and repeated
sub-expressions computed once (:func:`~symdyn.numerics._codegen.repeated_subexpressions`).

Only sympy objects are printed, never user text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.pycode import PythonCodePrinter

from ._codegen import (
    Unsupported,
    _matmul_parts,
    _print_named_symbol,
    lift_transposes,
    repeated_subexpressions,
    share_activations,
)

__all__ = ["matrix_rhs_source", "parameter_layout", "matrix_parameter_table", "UNROLL",
           "compact_stages", "stage_loop"]

#: Products with at most this many columns keep every column in its own local variable.
UNROLL = 16


def parameter_layout(params: Sequence[sp.Basic]) -> list[tuple[sp.Basic, int, int]]:
    """``(parameter, offset, size)`` of each parameter in the row ``p``: matrices row-major,
    scalars one entry."""
    out, off = [], 0
    for q in params:
        size = int(q.rows * q.cols) if isinstance(q, sp.MatrixSymbol) else 1
        out.append((q, off, size))
        off += size
    return out


@dataclass(frozen=True)
class Operand:
    """A matrix stored row-major at ``base + offset`` with ``ld`` entries per row, read
    transposed when ``trans`` (``base`` is ``"y["``, ``"p["``, ``"W["`` or ``"K[s, "``)."""

    base: str
    offset: int
    rows: int
    cols: int
    ld: int
    trans: bool = False
    # lane code: one value per lane ``r``, entry ``e`` at ``e * lane + r`` of a flat array
    # (``lane``: the name of the entries' stride, a constant of the program, so that LLVM
    # addresses every term of a sum from one register; ``""``: not per lane)
    lane: str = ""

    @property
    def T(self) -> Operand:
        return Operand(self.base, self.offset, self.cols, self.rows, self.ld, not self.trans,
                       self.lane)

    def at(self, i, j) -> str:
        if self.trans:
            i, j = j, i
        index = _index(self.offset, i, self.ld, j)
        return f"{self.base}({index}) * {self.lane} + r]" if self.lane else \
            f"{self.base}{index}]"


def _index(offset: int, i, ld: int, j) -> str:
    """``offset + i*ld + j`` with the constant parts folded (``i``, ``j``: names or ints)."""
    const, terms = offset, []
    for v, scale in ((i, ld), (j, 1)):
        if isinstance(v, int):
            const += v * scale
        else:
            terms.append(v if scale == 1 else f"{v} * {scale}")
    if const or not terms:
        terms.append(str(const))
    return " + ".join(terms)


class _ScalarPrinter(PythonCodePrinter):
    def __init__(self, names: dict):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})
        self.names = names

    _print_Symbol = _print_named_symbol
    _print_Dummy = _print_named_symbol


class LoopPrinter:
    """Prints the matrix right-hand side of one row as scalar loops (module docstring)."""

    def __init__(self, state, params):
        self.sources: dict = {}
        off = 0
        for m in state:
            self.sources[m] = Operand("y[", off, int(m.rows), int(m.cols), int(m.cols))
            off += int(m.rows * m.cols)
        self.size = off
        self.scratch = sum(size for _, _, size in parameter_layout(params))
        scalars = {}
        for q, o, _ in parameter_layout(params):
            if isinstance(q, sp.MatrixSymbol):
                self.sources[q] = Operand("p[", o, int(q.rows), int(q.cols), int(q.cols))
            else:
                scalars[q] = f"p[{o}]"
        self.scalar = _ScalarPrinter(scalars)
        self.lines: list[str] = []
        self.work = 0
        self.functions: dict = {}   # Lambda -> (name, extra scalar symbols)
        self.helpers: list[str] = []
        self.temps: dict = {}
        self.loop = 0

    # -- storage ----------------------------------------------------------------------------
    def buffer(self, rows: int, cols: int) -> Operand:
        op = Operand("p[", self.scratch + self.work, rows, cols, cols)
        self.work += rows * cols
        return op

    def emit(self, text: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + text)

    def entry(self, target: str, code: str, depth: int) -> None:
        """``target = code`` for one entry (of every lane, in :class:`LanePrinter`)."""
        self.emit(f"{target} = {code}", depth)

    def names(self) -> tuple[str, str, str]:
        self.loop += 1
        return f"i{self.loop}", f"j{self.loop}", f"k{self.loop}"

    def coeff(self, c) -> str:
        text = self.scalar.doprint(sp.sympify(c, strict=True))
        if self.scalar._not_supported:
            raise Unsupported(f"no plain Python code for {c}")
        return f"({text})"

    # -- evaluation -------------------------------------------------------------------------
    def operand(self, e) -> Operand:
        """``e`` as stored matrix: a block of ``y``/``p``, a temporary, or a new buffer."""
        if e in self.temps:
            return self.temps[e]
        if e in self.sources:
            return self.sources[e]
        if isinstance(e, sp.Transpose):
            return self.operand(e.arg).T
        if not isinstance(e, sp.MatrixExpr):
            raise Unsupported(f"no loop code for {type(e).__name__}: {e}")
        out = self.buffer(int(e.rows), int(e.cols))
        self.assign(e, out)
        return out

    def element(self, e, i, j) -> str:
        """Code of the entry ``(i, j)`` of ``e`` (products are computed into buffers first)."""
        if e in self.temps or e in self.sources or isinstance(e, sp.Transpose):
            return self.operand(e).at(i, j)
        if isinstance(e, sp.MatMul):
            coeff, mats = _matmul_parts(e)
            if len(mats) == 1:
                return f"{self.coeff(coeff)} * {self.element(mats[0], i, j)}"
            return self.operand(e).at(i, j)
        if isinstance(e, sp.MatAdd):
            return "(" + " + ".join(self.element(a, i, j) for a in e.args) + ")"
        if isinstance(e, sp.HadamardProduct):
            return "(" + " * ".join(self.element(a, i, j) for a in e.args) + ")"
        if isinstance(e, sp.HadamardPower):
            return f"({self.element(e.base, i, j)} ** {self.coeff(e.exp)})"
        if isinstance(e, ElementwiseApplyFunction):
            name, extra = self.function(e.function)
            args = [self.element(e.expr, i, j)] + [self.coeff(s) for s in extra]
            return f"{name}({', '.join(args)})"
        if isinstance(e, sp.ZeroMatrix):
            return "0.0"
        if isinstance(e, sp.OneMatrix):
            return "1.0"
        if isinstance(e, sp.Identity):
            return f"(1.0 if {i} == {j} else 0.0)"
        raise Unsupported(f"no loop code for {type(e).__name__}: {e}")

    def function(self, lam: sp.Lambda) -> tuple[str, list]:
        """A scalar helper ``_gN(v, *extra)`` for an element-wise function."""
        if lam not in self.functions:
            (v,) = lam.variables
            extra = sorted(lam.expr.free_symbols - {v}, key=str)
            args = [sp.Symbol(f"_v{k}") for k in range(len(extra) + 1)]
            printer = _ScalarPrinter(dict(zip(args, map(str, args))))
            body = printer.doprint(lam.expr.xreplace(dict(zip([v, *extra], args))))
            if printer._not_supported:
                raise Unsupported(f"no plain Python code for {lam}")
            name = f"_g{len(self.functions)}"
            self.helpers.append(f"def {name}({', '.join(map(str, args))}):\n"
                                f"    return {body}\n")
            self.functions[lam] = (name, extra)
        return self.functions[lam]

    def assign(self, e, out: Operand) -> None:
        """Code computing ``e`` into ``out``: sums of products fused, the rest element-wise."""
        terms = list(e.args) if isinstance(e, sp.MatAdd) and e not in self.temps else [e]
        products, others = [], []
        for t in terms:
            if (isinstance(t, sp.MatMul) and t not in self.temps
                    and len(_matmul_parts(t)[1]) > 1):
                products.append(_matmul_parts(t))
            elif not isinstance(t, sp.ZeroMatrix):
                others.append(t)
        if not products:
            i, j, _ = self.names()
            code = " + ".join(self.element(t, i, j) for t in others) if others else "0.0"
            self.emit(f"for {i} in range({out.rows}):")
            self.emit(f"for {j} in range({out.cols}):", 2)
            self.entry(out.at(i, j), code, 3)
            return
        for n, (coeff, mats) in enumerate(products):
            self.product(coeff, mats, out, others if n == 0 else [out])

    def product(self, coeff, mats: list, out: Operand, init: list) -> None:
        """``out = sum(init) + coeff * mats[0] @ ... @ mats[-1]``, the chain split at its
        cheapest point (matrix-chain order), each side computed into a buffer first."""
        dims = [int(mats[0].rows)] + [int(m.cols) for m in mats]
        split = _chain_order(dims)

        def side(a: int, b: int) -> Operand:
            if a == b:
                return self.operand(mats[a])
            buf = self.buffer(dims[a], dims[b + 1])
            m = split[a][b]
            self.gemm(side(a, m), side(m + 1, b), buf, "", [])
            return buf

        k = len(mats) - 1
        m = split[0][k]
        left, right = side(0, m), side(m + 1, k)
        self.gemm(left, right, out, self.coeff(coeff) if coeff != 1 else "", init)

    def gemm(self, A: Operand, B: Operand, out: Operand, scale: str, init: list) -> None:
        """``out = sum(init) + scale * A @ B`` as loops (columns unrolled when few)."""
        i, j, k = self.names()
        def start(jj) -> str:
            return " + ".join(t.at(i, jj) if isinstance(t, Operand) else self.element(t, i, jj)
                              for t in init) or "0.0"

        a = f"{scale} * {A.at(i, k)}" if scale else A.at(i, k)
        # the starting terms first: computing them may print loops of their own
        starts = [start(c) for c in range(out.cols)] if out.cols <= UNROLL else [start(j)]
        self.emit(f"for {i} in range({out.rows}):")
        if out.cols <= UNROLL:
            for c in range(out.cols):
                self.emit(f"c{c} = {starts[c]}", 2)
            self.emit(f"for {k} in range({A.cols}):", 2)
            self.emit(f"a = {a}", 3)
            for c in range(out.cols):
                self.emit(f"c{c} += a * {B.at(k, c)}", 3)
            for c in range(out.cols):
                self.emit(f"{out.at(i, c)} = c{c}", 2)
        else:
            self.emit(f"for {j} in range({out.cols}):", 2)
            self.emit(f"acc = {starts[0]}", 3)
            self.emit(f"for {k} in range({A.cols}):", 3)
            self.emit(f"acc += {a} * {B.at(k, j)}", 4)
            self.emit(f"{out.at(i, j)} = acc", 3)


class LanePrinter(LoopPrinter):
    """Prints the right-hand side of ``W`` rows at once (``W``: a global of the program),
    ``def rhs_lanes(Y, p, T, K, s)``:
    the state of lane ``r`` is column ``r`` of ``Y`` (entries x lanes), intermediates rows of
    ``T`` (``LANE_WORK`` x lanes), the result ``K[:, s, r]`` (``KW``: the entries' stride of
    ``K``, a global of the program, as ``W``), all read as flat arrays; the parameters are one row
    ``p`` shared by the lanes. Every entry is one loop over the lanes whose body is the whole
    sum of a product (its inner dimension unrolled), so that LLVM's loop vectoriser runs it
    four lanes per instruction (AVX2); each lane does the same operations in the same order
    as :class:`LoopPrinter`'s code for one row."""

    def __init__(self, state, params, functions: dict, helpers: list):
        super().__init__(state, params)
        for m in state:
            op = self.sources[m]
            self.sources[m] = Operand("Yf[", op.offset, op.rows, op.cols, op.ld, lane="W")
        self.functions, self.helpers = functions, helpers

    def buffer(self, rows: int, cols: int) -> Operand:
        op = Operand("Tf[", self.work, rows, cols, cols, lane="W")
        self.work += rows * cols
        return op

    def entry(self, target: str, code: str, depth: int) -> None:
        self.emit("for r in range(W):", depth)
        self.emit(f"{target} = {code}", depth + 1)

    def gemm(self, A: Operand, B: Operand, out: Operand, scale: str, init: list) -> None:
        i, j, k = self.names()
        start = " + ".join(t.at(i, j) if isinstance(t, Operand) else self.element(t, i, j)
                           for t in init) or "0.0"

        def factor(kk) -> str:
            return f"({scale} * {A.at(i, kk)})" if scale else A.at(i, kk)

        self.emit(f"for {i} in range({out.rows}):")
        self.emit(f"for {j} in range({out.cols}):", 2)
        if A.cols <= UNROLL:
            terms = []
            for kk in range(A.cols):  # values shared by the lanes are read once, before
                a, b = factor(kk), B.at(kk, j)
                if not A.lane:
                    self.emit(f"a{kk} = {a}", 3)
                    a = f"a{kk}"
                if not B.lane:
                    self.emit(f"b{kk} = {b}", 3)
                    b = f"b{kk}"
                terms.append(f"{a} * {b}")
            self.entry(out.at(i, j), " + ".join([f"({start})", *terms]), 3)
        else:
            self.entry(out.at(i, j), start, 3)
            self.emit(f"for {k} in range({A.cols}):", 3)
            self.entry(out.at(i, j), f"{out.at(i, j)} + {factor(k)} * {B.at(k, j)}", 4)


def _chain_order(dims: list[int]) -> list[list[int]]:
    """Split points of the cheapest parenthesisation of a chain with these dimensions."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for a in range(k - length + 1):
            b = a + length - 1
            best = None
            for m in range(a, b):
                c = cost[a][m] + cost[m + 1][b] + dims[a] * dims[m + 1] * dims[b + 1]
                if best is None or c < best:
                    best, split[a][b] = c, m
            cost[a][b] = best
    return split


def matrix_rhs_source(state: Sequence[sp.MatrixSymbol], outputs: Sequence[sp.MatrixExpr],
                      params: Sequence[sp.Basic]) -> str:
    """Python source of ``rhs(y, p, K, s)`` (and its scalar helpers) for the matrix form:
    ``K[s]`` receives the blocks of ``outputs``, one per matrix of ``state``, packed as in
    ``y``; ``p`` is laid out by :func:`parameter_layout`; then ``rhs_lanes(Y, p, T, K, s)``,
    the same for the lanes of :class:`LanePrinter`. Raises
    :class:`~symdyn.numerics._codegen.Unsupported` for what it cannot print."""
    outputs = share_activations([lift_transposes(sp.sympify(e, strict=True)) for e in outputs])
    for m, e in zip(state, outputs, strict=True):
        if tuple(e.shape) != tuple(m.shape):
            raise ValueError(f"output for {m} has shape {e.shape}, expected {m.shape}")
    row = LoopPrinter(state, params)
    lanes = LanePrinter(state, params, row.functions, row.helpers)
    for pr in (row, lanes):
        for node in repeated_subexpressions(outputs):
            pr.temps[node] = pr.operand(node)
        off = 0
        for m, e in zip(state, outputs, strict=True):
            shape = (off, int(m.rows), int(m.cols), int(m.cols))
            pr.assign(e, Operand("Kf[ks + ", *shape, lane="KW") if pr is lanes
                      else Operand("K[s, ", *shape))
            off += int(m.rows * m.cols)
    head = [f"WORK = {row.work}", "", "", "def rhs(y, p, K, s):"]
    lane_head = [f"LANE_WORK = {lanes.work}", "", "", "def rhs_lanes(Y, p, T, K, s):",
                 "    Yf, Tf, Kf = Y.reshape(Y.size), T.reshape(T.size), K.reshape(K.size)",
                 "    ks = s * W  # stage s of entry e, lane r: Kf[ks + e * KW + r]"]
    return "\n\n".join(row.helpers + ["\n".join(head + row.lines),
                                       "\n".join(lane_head + lanes.lines)]) + "\n"


def matrix_parameter_table(params: Sequence[sp.Basic], args: Sequence,
                           batch: int | None, work: int = 0):
    """The bound values of matrix code (``NumericRHS._args``: matrices ``(r, c)`` or per row
    ``(B, r, c)``, scalars as numbers or per row ``(B, 1, 1)``) as parameter rows ``(B, m +
    work)`` laid out by :func:`parameter_layout`, then ``work`` entries of scratch (one row
    when no value is per row)."""
    layout = parameter_layout(params)
    rows = batch or 1
    P = np.zeros((rows, sum(size for _, _, size in layout) + work))
    for (_, off, size), a in zip(layout, args, strict=True):
        a = np.asarray(a, dtype=float)
        P[:, off:off + size] = a.reshape(-1, size) if a.ndim == 3 else a.reshape(size)
    return P


def stage_loop(coeffs: str, s: str, upto: str, out: str, row: str) -> list[str]:
    """``out = y + h * sum_j coeffs[j] K[j]`` over the nonzero coefficients in order (as
    :func:`~symdyn.numerics._rkgen.combination` sums them), then ``rhs(out, p, K, row)``."""
    return ["    for i in range(n):", f"        {out}[i] = 0.0", f"    for j in range({upto}):",
            f"        a = {coeffs}[{s}j]", "        if a != 0.0:",
            "            for i in range(n):", f"                {out}[i] += a * K[j, i]",
            "    for i in range(n):", f"        {out}[i] = y[i] + h * {out}[i]",
            f"    rhs({out}, p, K, {row})"]


def compact_stages(tab) -> list[str]:
    """``stages`` as loops over the coefficient table, one call of ``rhs``: the right-hand
    side of matrix code is long, and numba/LLVM inlining it at every stage made the
    compile of 10-10-10 RBP take minutes."""
    S = tab.n_stages
    return [f"_TA = np.array({np.asarray(tab.A, dtype=float).tolist()!r})",
            f"_TB = np.array({np.asarray(tab.B, dtype=float).tolist()!r})", "", "",
            "def stages(y, F, r, p, h, K, g, y_new):", "    n = y.shape[0]",
            "    for i in range(n):", "        K[0, i] = F[r, i]",
            f"    for s in range(1, {S}):"] + ["    " + x for x in stage_loop(
                "_TA", "s, ", "s", "g", "s")] + stage_loop("_TB", "", str(S), "y_new", str(S))
