"""All analyses of one system at once, as the ``symdyn analyze`` command shows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..errors import AnalysisError, require_system
from ._common import is_polynomial_system
from ._fixed_points import TIMEOUT, FixedPoints, fixed_points
from ._invariants import generators_of, invariants
from ._reduction import Reduction, reduce

__all__ = ["analyze", "Analysis"]


@dataclass(frozen=True)
class Analysis:
    """Invariants (``None`` with ``notes`` when the system is not polynomial), fixed points
    with stability, and the reduction by the invariants (``None`` when none applies)."""

    system: object
    invariants: tuple[sp.Expr, ...] | None
    fixed_points: FixedPoints
    reduction: Reduction | None
    notes: tuple[str, ...]


def analyze(system, *, degree: int = 2, values: Mapping | None = None,
            timeout: float = TIMEOUT) -> Analysis:
    """Invariants up to ``degree``, fixed points (at ``values``) and the reduction by the
    invariant generators, each where it applies; the invariant search and the fixed-point
    search each get ``timeout`` seconds."""
    require_system(system, "analyze: system", values)
    notes = []
    invs = red = None
    if is_polynomial_system(system):
        try:
            invs = invariants(system, degree, timeout=timeout)
        except AnalysisError as exc:
            notes.append(f"invariants: {exc}")
        if invs is not None:
            try:
                red = reduce(system, invariants=generators_of(system, invs, degree))
            except AnalysisError as exc:
                notes.append(f"reduction: {exc}")
    else:
        notes.append("invariants and reduction: the system is not polynomial")
    fps = fixed_points(system, values, timeout=timeout)
    return Analysis(system=system, invariants=invs, fixed_points=fps, reduction=red,
                    notes=tuple(notes))
