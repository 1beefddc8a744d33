"""Binding numbers to the parameters of a learning system (by name or by components)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import sympy as sp

from ..errors import DataError, MissingValueError, SpecError

__all__ = ["System", "bind_values", "parameter_names", "component_values"]


class System(Protocol):
    """What numerics asks of a learning system; :class:`~symdyn.System` is one.

    numerics sits below :mod:`symdyn.system` (whose ``numeric()`` calls it), so it names
    the interface it uses instead of importing the class."""

    state: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    rhs: tuple[sp.Expr, ...]
    matrix: Any
    network: Any
    data: Any
    size: int
    title: str

    def components(self, m: sp.MatrixSymbol) -> sp.ImmutableMatrix: ...


def _as_array(name: str, value) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"value of {name} must be a number or numeric array, got {value!r}") \
            from None
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"value of {name} has non-finite entries: {value!r}")
    return arr


def _matrix_value(system: System, m: sp.MatrixSymbol, values: Mapping,
                  used: set) -> np.ndarray | None:
    """The value of a matrix parameter, by its name (``C1``) or by its components
    (``C1_1_2`` or, in scalar chains, ``c1``); ``None`` if not given at all."""
    r, c = m.shape
    if (r, c) == (1, 1):
        comp_names = [[str(system.components(m)[0, 0])]]
    elif any(k.startswith(f"{m.name}_") for k in values):
        comps = system.components(m)
        comp_names = [[str(comps[i, j]) for j in range(c)] for i in range(r)]
    else:
        comp_names = []
    given = {n for row in comp_names for n in row if n in values and n != m.name}
    if m.name in values:
        if given:
            raise SpecError(f"give {m.name} either as a matrix or by its components "
                            f"({', '.join(sorted(given))}), not both")
        used.add(m.name)
        arr = _as_array(m.name, values[m.name])
        if arr.shape[-2:] == (r, c) and arr.ndim in (2, 3):
            return arr
        if arr.ndim <= 2 and arr.size == r * c and 1 in (r, c):
            return arr.reshape(r, c)
        if (r, c) == (1, 1) and arr.ndim == 1:
            return arr.reshape(-1, 1, 1)
        raise SpecError(f"value of {m.name} has shape {arr.shape}; expected ({r}, {c}) or "
                        f"(batch, {r}, {c})")
    if not given:
        return None
    entries, missing = {}, []
    for i in range(r):
        for j in range(c):
            name = comp_names[i][j]
            if name in values:
                used.add(name)
                entries[i, j] = _as_array(name, values[name])
            else:
                missing.append(name)
    if missing:
        raise SpecError(f"{m.name} is given by components but {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing")
    shapes = {v.shape for v in entries.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) > 1:
        raise SpecError(f"components of {m.name} must all be numbers or all be 1-d arrays of "
                        f"one length (one per row of a batch), got shapes {sorted(shapes)}")
    lead = next(iter(shapes))
    arr = np.empty(lead + (r, c))
    for (i, j), v in entries.items():
        arr[..., i, j] = v
    return arr


def bind_values(system: System, values: Mapping | None,
                params: Sequence[sp.Basic]) -> tuple[dict, int | None]:
    """Numeric values for ``params`` (matrix symbols as ``(r, c)`` or per-row ``(B, r, c)``
    arrays, scalar symbols as floats or per-row ``(B,)``), from ``values`` by name and, for
    data matrices, from ``system.matrix.values``. Returns the values and the batch size of
    per-row values (``None`` if there are none)."""
    values = dict(values or {})
    for k in values:
        if not isinstance(k, str):
            raise SpecError(f"values are keyed by parameter name (a string), got {k!r}")
    used: set = set()
    out: dict = {}
    missing: list[str] = []
    fixed = system.matrix.values
    for p in params:
        if isinstance(p, sp.MatrixSymbol):
            if p in fixed:
                arr = np.asarray(fixed[p], dtype=float)
            else:
                arr = _matrix_value(system, p, values, used)
                if arr is None:
                    missing.append(", ".join(str(s) for s in dict.fromkeys(system.components(p)))
                                   if p.shape == (1, 1) else p.name)
                    continue
                if p.name == "Sigma_II" and not np.allclose(arr, np.swapaxes(arr, -1, -2)):
                    raise DataError(f"Sigma_II must be symmetric, got {arr.tolist()}")
            out[p] = arr
        else:
            name = str(p)
            if name not in values:
                missing.append(name)
                continue
            used.add(name)
            arr = _as_array(name, values[name])
            if arr.ndim > 1:
                raise SpecError(f"value of scalar {name} must be a number or a 1-d array (one "
                                f"per row of a batch), got shape {arr.shape}")
            out[p] = arr
    if missing:
        first = missing[0].split(",")[0]
        mats = {m.name: m for m in params if isinstance(m, sp.MatrixSymbol)}
        component = str(system.components(mats[first])[0, 0]) if first in mats else first
        raise MissingValueError(missing, first, component, parameter_names(system))
    unknown = sorted(set(values) - used)
    if unknown:
        k = unknown[0]
        state = {str(s) for s in system.state} | {m.name for m in system.matrix.state}
        fixed_names = {m.name for m in fixed}
        if k in state:
            raise SpecError(f"{k} is a state variable of this system, not a parameter; give "
                            "it in the initial state y0")
        if k in fixed_names or any(k.startswith(f + "_") for f in fixed_names):
            raise SpecError(f"{k} is fixed by the system's numeric data; derive the system "
                            "with other data instead")
        raise SpecError(f"unknown parameter {k!r}; parameters of this system: "
                        f"{parameter_names(system)}")
    batch = {a.shape[0] for p, a in out.items()
             if a.ndim == (3 if isinstance(p, sp.MatrixSymbol) else 1)}
    if len(batch) > 1:
        raise SpecError(f"per-row parameter values have different lengths {sorted(batch)}")
    return out, (batch.pop() if batch else None)


def parameter_names(system: System) -> str:
    names = []
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        if isinstance(p, sp.MatrixSymbol) and p.shape == (1, 1):
            names.append(str(system.components(p)[0, 0]))
        else:
            names.append(str(getattr(p, "name", p)))
    return ", ".join(names) or "(none)"


def component_values(system: System, values: Mapping | None) -> dict[sp.Symbol, float]:
    """One number per parameter component symbol (``c1``, ``C1_1_2``, ``alpha``), for
    substitution into expressions; data already numeric in the system are left out."""
    params = [p for p in system.matrix.parameters if p not in system.matrix.values]
    bound, batch = bind_values(system, values, params)
    if batch is not None:
        raise SpecError("give one value per parameter here, not one per row of a batch")
    out: dict[sp.Symbol, float] = {}
    for p, arr in bound.items():
        if isinstance(p, sp.MatrixSymbol):
            comps = system.components(p)
            for i in range(p.rows):
                for j in range(p.cols):
                    out[comps[i, j]] = float(arr[i, j])
        else:
            out[p] = float(arr)
    return out
