r"""The canonical form of every derivation: :class:`LearningSystem`, an ODE
:math:`\dot y = f(y; p)` in matrix form (any size) and component form (built on demand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import DerivationError, SpecError
from .numerics import numeric
from .report import latex_system, text_system
from .rules import LearningRule
from .spec import Data, Dataset, Moments, Network

__all__ = ["LearningSystem", "MatrixForm", "component_symbols", "MAX_COMPONENT_TERMS"]

#: The largest component form built, in estimated terms (state size x widest layer, x the
#: samples for a network averaged over a data set): about 30 s of sympy. Above it ``rhs``
#: and ``update`` raise a :class:`~symdyn.errors.DerivationError` with the estimate; the
#: matrix form is always available. Raise it at your own risk.
MAX_COMPONENT_TERMS = 250_000

_SCALAR_NAMES = {"Sigma_II": "beta", "Sigma_TI": "alpha", "I": "I", "T": "T"}


def _component_names(m: sp.MatrixSymbol, scalar_chain: bool) -> list[sp.Symbol]:
    """The entries of ``m`` as symbols, row-major (see :func:`component_symbols`)."""
    name, (rows, cols) = m.name, m.shape
    if scalar_chain and (rows, cols) == (1, 1):
        return [sp.Symbol(_SCALAR_NAMES.get(name, name.lower()))]
    if cols == 1 and name in ("I", "T"):
        return [sp.Symbol(f"{name}_{i + 1}") for i in range(rows)]
    if name == "Sigma_II":  # symmetric: one symbol per unordered pair
        return [sp.Symbol(f"{name}_{min(i, j) + 1}_{max(i, j) + 1}")
                for i in range(rows) for j in range(cols)]
    return [sp.Symbol(f"{name}_{i + 1}_{j + 1}") for i in range(rows) for j in range(cols)]


def names_entry_of(m: sp.MatrixSymbol, name: str, scalar_chain: bool) -> bool:
    """Whether ``name`` is ``m`` itself or one of its entries (see :func:`component_symbols`),
    in O(1) at any size."""
    if name == m.name:
        return True
    rows, cols = m.shape
    if scalar_chain and (rows, cols) == (1, 1):
        return name == _SCALAR_NAMES.get(m.name, m.name.lower())
    prefix = f"{m.name}_"
    if not name.startswith(prefix):
        return False
    parts = name[len(prefix):].split("_")
    if not all(p.isascii() and p.isdigit() for p in parts):
        return False
    idx = [int(p) for p in parts]
    if cols == 1 and m.name in ("I", "T"):
        return len(idx) == 1 and 1 <= idx[0] <= rows
    return len(idx) == 2 and 1 <= idx[0] <= rows and 1 <= idx[1] <= cols


@lru_cache(maxsize=1024)  # immutable; rebuilt per call it cost simulate 0.1 ms
def component_symbols(m: sp.MatrixSymbol, scalar_chain: bool = False) -> sp.ImmutableMatrix:
    """The entries of a matrix symbol as named scalar symbols (1-based): ``A1_i_j``,
    ``Sigma_II_i_j`` (symmetric), ``I_i``; in a scalar chain ``a1``, ``c1``, ``alpha``,
    ``beta``, ``I``, ``T``."""
    return sp.ImmutableMatrix(*m.shape, _component_names(m, scalar_chain))


def _numeric(value) -> sp.ImmutableMatrix:
    """A numeric array as a sympy matrix; integral values stay exact integers."""
    arr = np.asarray(value, dtype=float)
    return sp.ImmutableMatrix(*arr.shape, [sp.Integer(int(v)) if float(v).is_integer()
                                          else sp.Float(float(v)) for v in arr.ravel()])


def _exact_numeric(value) -> sp.ImmutableMatrix:
    """A numeric array as a sympy matrix of exact rationals: each float's exact binary value
    (``0.1`` becomes ``3602879701896397/36028797018963968``), so that nothing is rounded."""
    arr = np.asarray(value, dtype=float)
    return sp.ImmutableMatrix(*arr.shape, [sp.Rational(float(v)) for v in arr.ravel()])


def _matmul(a: sp.MatrixBase, b: sp.MatrixBase) -> sp.ImmutableMatrix:
    """Entry-wise ``Add`` of ``Mul``: sympy's own product goes through polynomial rings
    whose generators are the activations, and so expands every entry."""
    return sp.ImmutableMatrix(a.rows, b.cols, lambda i, j: sp.Add(
        *(a[i, k] * b[k, j] for k in range(a.cols))))


def _explicit(expr, subs: dict, cache: dict) -> sp.ImmutableMatrix:
    """Entries of a matrix expression, each shared sub-expression expanded once (sympy's
    ``doit`` would expand it again at every occurrence: exponential in depth)."""
    if expr in cache:
        return cache[expr]
    if isinstance(expr, sp.MatrixSymbol):
        out = subs[expr]
    elif isinstance(expr, sp.MatrixBase):
        out = expr
    elif isinstance(expr, sp.MatMul):
        coeff, factors = expr.as_coeff_matrices()
        out = _explicit(factors[0], subs, cache)
        for f in factors[1:]:
            out = _matmul(out, _explicit(f, subs, cache))
        out = out.applyfunc(lambda e: coeff * e) if coeff != 1 else out
    elif isinstance(expr, sp.MatAdd):
        terms = [_explicit(t, subs, cache) for t in expr.args]
        out = terms[0]
        for t in terms[1:]:
            out = out + t
    elif isinstance(expr, sp.Transpose):
        out = _explicit(expr.arg, subs, cache).T
    elif isinstance(expr, sp.HadamardProduct):
        factors = [_explicit(f, subs, cache) for f in expr.args]
        out = factors[0]
        for f in factors[1:]:
            out = out.multiply_elementwise(f)
    elif isinstance(expr, ElementwiseApplyFunction):
        out = _explicit(expr.expr, subs, cache).applyfunc(expr.function)
    else:  # anything else sympy knows how to make explicit
        out = expr.xreplace(subs).doit()
    out = sp.ImmutableMatrix(out)
    cache[expr] = out
    return out


@dataclass(frozen=True, eq=False)
class MatrixForm:
    r"""The system in matrix form: one matrix expression per weight matrix.

    ``state`` and ``rhs``: the weight matrices and :math:`\dot W = \mathrm{rhs}`;
    ``update``: the per-sample rule :math:`\Delta W` in the sample ``(I, T)``;
    ``parameters``: fixed channels, data matrices (``Sigma_II, Sigma_TI`` or ``X, Y``, the
    samples as columns) and scalar symbols; ``values``: numbers known for data matrices."""

    state: tuple[sp.MatrixSymbol, ...]
    parameters: tuple[sp.Basic, ...]
    rhs: tuple[sp.MatrixExpr, ...]
    update: tuple[sp.MatrixExpr, ...]
    sample: tuple[sp.MatrixSymbol, sp.MatrixSymbol]
    values: Mapping[sp.MatrixSymbol, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class LearningSystem:
    r"""A derived learning system. Matrix form in :attr:`matrix`; component form in
    :attr:`state`, :attr:`parameters`, :attr:`rhs` and :attr:`update` (built on first use).

    ``rhs[i]`` is :math:`\dot y_i` for ``state[i]``; time is in units of the learning rate
    when ``rate`` is 1 (:math:`t = \eta \cdot` step), in steps when ``rate`` is a symbol."""

    network: Network
    rule: LearningRule
    data: Data
    matrix: MatrixForm

    # -- names --------------------------------------------------------------------------
    def components(self, m: sp.MatrixSymbol) -> sp.ImmutableMatrix:
        """The component symbols of a matrix symbol of this system."""
        return component_symbols(m, self.network.is_scalar_chain)

    @cached_property
    def _substitution(self) -> dict:
        subs = {m: _numeric(v) for m, v in self.matrix.values.items()}
        for m in (*self.matrix.state, *self.matrix.parameters, *self.matrix.sample):
            if isinstance(m, sp.MatrixSymbol) and m not in subs:
                subs[m] = self.components(m)
        return subs

    @cached_property
    def _exact_substitution(self) -> dict:
        subs = dict(self._substitution)
        subs.update({m: _exact_numeric(v) for m, v in self.matrix.values.items()})
        return subs

    def _flat(self, matrices) -> tuple[sp.Symbol, ...]:
        out: dict = {}  # ordered and de-duplicated (Sigma_II_i_j = Sigma_II_j_i) in O(n)
        for m in matrices:
            if not isinstance(m, sp.MatrixSymbol):
                out[m] = None
            elif m not in self.matrix.values:
                out.update(dict.fromkeys(_component_names(m, self.network.is_scalar_chain)))
        return tuple(out)

    @cached_property
    def state(self) -> tuple[sp.Symbol, ...]:
        """Component symbols of the state, matrix by matrix, row-major."""
        return self._flat(self.matrix.state)

    @cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Component symbols of the parameters (numeric data are substituted, so absent)."""
        return self._flat(self.matrix.parameters)

    @cached_property
    def sample(self) -> tuple[sp.Symbol, ...]:
        """Component symbols of one sample ``(I, T)``, the variables of :attr:`update`."""
        return self._flat(self.matrix.sample)

    @property
    def size(self) -> int:
        """The number of state components (cheap at any size)."""
        return int(sum(m.rows * m.cols for m in self.matrix.state))

    # -- equations ----------------------------------------------------------------------
    def explicit(self, expr: sp.MatrixExpr) -> sp.ImmutableMatrix:
        """A matrix expression of this system with every matrix replaced by its entries."""
        return _explicit(expr, self._substitution, {})

    @property
    def component_terms(self) -> int:
        """An estimate of the number of terms of the component form (cheap at any size)."""
        terms = self.size * max(self.network.sizes)
        if isinstance(self.data, Dataset):
            terms *= self.data.size
        return terms

    def check_component_size(self) -> None:
        """Raise :class:`~symdyn.errors.DerivationError` if the component form is too large
        to build (see :data:`MAX_COMPONENT_TERMS`)."""
        terms = self.component_terms
        if terms > MAX_COMPONENT_TERMS:
            raise DerivationError(
                f"the component form of {self.network.arch} ({self.size:,} state components, "
                f"about {terms:,} terms) is too large to build; the limit is "
                f"{MAX_COMPONENT_TERMS:,} terms. Use the matrix form (--form matrix, "
                "system.matrix) or a smaller network"
            )

    def _components_of(self, exprs) -> tuple[sp.Expr, ...]:
        self.check_component_size()
        cache: dict = {}  # the forward pass is shared by every equation: expand it once
        return tuple(e for expr in exprs for e in _explicit(expr, self._substitution, cache))

    @cached_property
    def rhs(self) -> tuple[sp.Expr, ...]:
        """:math:`\\dot y` in component form, in :attr:`state` order."""
        return self._components_of(self.matrix.rhs)

    @cached_property
    def update(self) -> tuple[sp.Expr, ...]:
        """The per-sample update :math:`\\Delta y` in component form (variables
        :attr:`sample`), in :attr:`state` order."""
        return self._components_of(self.matrix.update)

    @cached_property
    def exact_rhs(self) -> tuple[sp.Expr, ...]:
        """:attr:`rhs` with numeric data as exact rationals (each float's exact binary value,
        not a rounded decimal): what exact analyses (:func:`~symdyn.verify_invariant`) use,
        since :attr:`rhs` multiplies floats (e.g. by ``1/N``) and so rounds."""
        if not self.matrix.values:
            return self.rhs
        cache: dict = {}
        return tuple(e for expr in self.matrix.rhs
                     for e in _explicit(expr, self._exact_substitution, cache))

    # -- state vector <-> matrices -----------------------------------------------------------
    @cached_property
    def _layout(self) -> tuple[tuple[str, tuple[int, int], int], ...]:
        out, start = [], 0
        for m in self.matrix.state:
            out.append((m.name, (m.rows, m.cols), start))
            start += m.rows * m.cols
        return tuple(out)

    def unpack(self, y) -> dict[str, np.ndarray]:
        """A state vector (shape ``(n,)``) or any array of them (shape ``(..., n)``: a batch
        ``(B, n)``, a trajectory ``(k, n)``, a batch's trajectories ``(k, B, n)``) as
        ``{"A1": array, ...}``: each matrix of shape ``(..., rows, cols)``, in the order of
        :attr:`state` (row-major).

        >>> from symdyn import derive
        >>> derive("1-2-1", "bp").unpack([1, 2, 3, 4])["A2"]
        array([[3., 4.]])
        """
        arr = np.asarray(y, dtype=float)
        if arr.ndim == 0 or arr.shape[-1] != self.size:
            names = ", ".join(n for n, _, _ in self._layout)
            raise SpecError(f"expected a state of shape ({self.size},) or an array of states "
                            f"of shape (..., {self.size}) for {self.network} ({names}), got "
                            f"shape {arr.shape}")
        lead = arr.shape[:-1]
        return {name: arr[..., start:start + r * c].reshape(*lead, r, c).copy()
                for name, (r, c), start in self._layout}

    def pack(self, matrices: Mapping | None = None, /, **named) -> np.ndarray:
        """The state vector of ``{"A1": array, ...}`` (or keyword arguments ``A1=...``): shape
        ``(n,)`` for single matrices, ``(B, n)`` when every matrix has a leading batch axis.
        The inverse of :meth:`unpack`; every state matrix must be given, with its shape."""
        given = {**(dict(matrices) if matrices is not None else {}), **named}
        names = [name for name, _, _ in self._layout]
        unknown = sorted(set(given) - set(names))
        missing = [n for n in names if n not in given]
        if unknown or missing:
            raise SpecError(f"pack needs exactly the state matrices {', '.join(names)} of "
                            f"{self.network}; missing: {', '.join(missing) or 'none'}, unknown: "
                            f"{', '.join(map(str, unknown)) or 'none'}")
        parts, lead = [], None
        for name, (r, c), _ in self._layout:
            a = np.asarray(given[name], dtype=float)
            if a.shape[-2:] != (r, c) or a.ndim not in (2, 3):
                raise SpecError(f"{name} must have shape ({r}, {c}) or (B, {r}, {c}), got "
                                f"{a.shape}")
            if lead is None:
                lead = a.shape[:-2]
            elif a.shape[:-2] != lead:
                raise SpecError(f"{name} has batch shape {a.shape[:-2]}, the others {lead}")
            parts.append(a.reshape(*lead, r * c))
        return np.concatenate(parts, axis=-1)

    @property
    def equations(self) -> dict[sp.Symbol, sp.Expr]:
        """``{state symbol: rhs}``."""
        return dict(zip(self.state, self.rhs))

    # -- numerics -----------------------------------------------------------------------
    def numeric(self, values: Mapping | None = None, *, form: str = "auto"):
        r"""Numeric :math:`f(t, y)` with ``values`` bound to the parameters, as generated
        numpy code; see :func:`symdyn.numerics.numeric`."""
        return numeric(self, values, form=form)

    # -- presentation -------------------------------------------------------------------
    @property
    def title(self) -> str:
        return f"{self.network} trained by {self.rule}, data: {_describe(self.data)}"

    def latex(self, form: str = "both", *, derivative: str = "dot", update: bool = False) -> str:
        r"""The system as an amsmath ``align`` block. ``form``: ``"matrix"``,
        ``"component"`` or ``"both"``; ``derivative``: ``"dot"`` (:math:`\dot a_1`) or
        ``"frac"`` (:math:`\frac{d}{dt} a_1`); ``update``: the per-sample rule instead."""
        return latex_system(self, form=form, derivative=derivative, update=update)

    def __str__(self) -> str:
        return text_system(self)

    def __repr__(self) -> str:
        return f"<LearningSystem {self.title}; {self.size} state components>"


def _describe(data: Data) -> str:
    if isinstance(data, Moments):
        return "symbolic moments" if data.is_symbolic else "numeric moments"
    return f"{data.size} samples"

