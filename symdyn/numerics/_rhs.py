"""The generated right-hand side :math:`f(t, y)` of a system, with values bound."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from ..errors import SpecError, require_system
from ..spec import Moments
from . import _codegen
from ._binding import System, bind_values

__all__ = ["NumericRHS", "numeric", "rhs_kernel", "cached_kernel"]

_KERNELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_kernel(system: System, key, build: Callable[[], _codegen.Kernel]):
    table = _KERNELS.setdefault(system, {})
    if key not in table:
        table[key] = build()
    return table[key]


def _default_form(system: System) -> str:
    """Scalar chains with moments (a few terms per equation) run fastest as component code;
    everything else as matrix code."""
    if system.network.is_scalar_chain and isinstance(system.data, Moments):
        return "component"
    return "matrix"


def rhs_kernel(system: System, form: str = "auto") -> _codegen.Kernel:
    """The generated code of :math:`f` for ``system`` (cached)."""
    if form not in ("auto", "matrix", "component"):
        raise SpecError(f"form must be 'auto', 'matrix' or 'component', got {form!r}")
    if form == "auto":
        form = _default_form(system)
    mf = system.matrix
    if form == "matrix":
        try:
            return cached_kernel(system, ("rhs", "matrix"), lambda: _codegen.matrix_kernel(
                mf.state, mf.rhs, mf.parameters, "rhs"))
        except _codegen.Unsupported:
            form = "component"  # fall back: the component form always prints
    return cached_kernel(system, ("rhs", "component"), lambda: _codegen.component_kernel(
        system.state, system.rhs, system.parameters))


class NumericRHS:
    r"""The right-hand side :math:`f(t, y)` of a learning system with numbers bound to its
    parameters. ``y`` is in ``system.state`` order, shape ``(n,)`` or ``(batch, n)``; the
    result has the same shape. Parameters given per row (a leading batch axis) need ``y``
    of shape ``(batch, n)``; :meth:`rows` selects rows of them."""

    def __init__(self, system: System, kernel: _codegen.Kernel, args: tuple,
                 per_row: tuple[bool, ...], batch: int | None, values: dict):
        self.system = system
        self.kernel = kernel
        self.batch = batch
        self.values = values
        self._args = args
        self._per_row = per_row
        self._fn = kernel.function
        self.size = system.size

    @property
    def form(self) -> str:
        """``"matrix"`` or ``"component"``: the code that runs."""
        return self.kernel.form

    @property
    def source(self) -> str:
        """The generated Python source."""
        return self.kernel.source

    def __call__(self, t, y) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if y.ndim not in (1, 2) or y.shape[-1] != self.size:
            raise SpecError(f"state must have shape ({self.size},) or (batch, {self.size}), "
                            f"got {y.shape}")
        if self.batch is not None and (y.ndim != 2 or y.shape[0] != self.batch):
            raise SpecError(f"parameters are given per row for a batch of {self.batch}; the "
                            f"state must have shape ({self.batch}, {self.size}), got {y.shape}")
        return self._fn(y, *self._args)

    def rows(self, index) -> NumericRHS:
        """The same right-hand side restricted to some rows of per-row parameters."""
        if self.batch is None:
            return self
        index = np.asarray(index)
        args = tuple(a[index] if r else a for a, r in zip(self._args, self._per_row,
                                                          strict=True))
        n = int(index.sum()) if index.dtype == bool else index.size
        return NumericRHS(self.system, self.kernel, args, self._per_row, n, self.values)

    def row(self, i: int) -> NumericRHS:
        """One row of per-row parameters, as an unbatched right-hand side."""
        if self.batch is None:
            return self
        args = tuple(a[i] if r else a for a, r in zip(self._args, self._per_row, strict=True))
        return NumericRHS(self.system, self.kernel, args, (False,) * len(args), None,
                          self.values)

    def __repr__(self) -> str:
        per_row = f", {self.batch} rows of parameters" if self.batch is not None else ""
        return f"<NumericRHS of {self.system.title}; {self.form} code{per_row}>"


def numeric(system: System, values: Mapping | None = None, *,
            form: str = "auto") -> NumericRHS:
    r"""Numeric :math:`f(t, y)` of ``system`` with parameter ``values`` bound.

    ``values`` maps names to numbers or arrays: scalars by component name (``alpha``,
    ``c1``, ``eta``), matrices by name (``C1``, ``Sigma_II``) or by components
    (``C1_1_2``). Data matrices already numeric in the system come from
    ``system.matrix.values``. A value with an extra leading axis is per row of a batch.
    ``form``: ``"matrix"`` (matrix products on reshaped blocks), ``"component"``
    (``lambdify`` with common sub-expressions) or ``"auto"`` (component code for scalar
    chains with moments, matrix code otherwise).

    >>> from symdyn import derive
    >>> f = derive("1-1-1", "rbp").numeric({"alpha": 1, "beta": 1, "c1": 0.5})
    >>> f(0.0, [1.0, 2.0])
    array([-0.5, -1. ])
    """
    require_system(system, "numeric: system", values)
    kernel = rhs_kernel(system, form)
    args, per_row = [], []
    if kernel.form == "matrix":
        bound, batch = bind_values(system, values, kernel.params)
        for p in kernel.params:
            a = bound[p]
            if isinstance(p, sp.MatrixSymbol):
                args.append(a)
                per_row.append(a.ndim == 3)
            elif a.ndim == 1:
                args.append(a.reshape(-1, 1, 1))
                per_row.append(True)
            else:
                args.append(float(a))
                per_row.append(False)
    else:
        mats = [p for p in system.matrix.parameters if p not in system.matrix.values]
        bound, batch = bind_values(system, values, mats)
        comp = {}
        for p, a in bound.items():
            if isinstance(p, sp.MatrixSymbol):
                syms = system.components(p)
                for i in range(p.rows):
                    for j in range(p.cols):
                        comp[syms[i, j]] = a[..., i, j]
            else:
                comp[p] = a
        for s in kernel.params:
            a = np.asarray(comp[s])
            args.append(a if a.ndim == 1 else float(a))
            per_row.append(a.ndim == 1)
    return NumericRHS(system, kernel, tuple(args), tuple(per_row), batch, bound)


