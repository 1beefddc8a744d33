"""The result types of the fixed-point search, and verification by substitution."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ._common import as_expression, as_values, assumed_symbols, rationalize

__all__ = ["FixedPoint", "FixedPoints", "verify_fixed_point", "vanishes", "as_number"]


@dataclass(frozen=True)
class FixedPoint:
    r"""One solution set of :math:`f(y) = 0`.

    ``solution`` maps solved state symbols to expressions in the ``free`` ones (the
    coordinates along the set) and the parameters; ``dimension`` is the dimension of the set in
    state space (0: an isolated point). ``eigenvalues`` of the Jacobian on the set (with
    multiplicity; ``dimension`` of them are 0 along the set), ``stability`` one of
    :data:`~symdyn.analysis._stability.LABELS` for the transverse directions, ``condition``
    what it depends on. ``exact``: found symbolically (else numerically, with ``residual``
    :math:`\max_i |f_i|`); ``verified``: substituted back and found to vanish
    (``verification`` says how)."""

    solution: dict[sp.Symbol, sp.Expr]
    dimension: int
    free: tuple[sp.Symbol, ...] = ()
    eigenvalues: tuple[sp.Expr, ...] = ()
    stability: str = "unknown"
    condition: str = ""
    transverse: tuple[sp.Expr, ...] = ()
    #: ``condition`` with its formulas as sympy objects (a :class:`~symdyn._typeset.Sentence`)
    #: for LaTeX; ``None`` when there is none
    condition_sentence: object = field(default=None, compare=False, repr=False)
    description: str = ""
    exact: bool = True
    verified: bool = False
    verification: str = ""
    residual: float = 0.0

    @property
    def classification(self) -> str:
        """``stability`` with its condition, e.g. ``"depends: stable where x > 0, ..."``."""
        return f"{self.stability}: {self.condition}" if self.condition else self.stability


@dataclass(frozen=True)
class FixedPoints:
    """The fixed points of a system. ``status``: ``"solved"`` (exact solution sets from sympy,
    each verified), ``"numeric"`` (multistart root finding at the given values), ``"timeout"``
    (the budget ran out: ``points`` holds what was found by then), ``"failed"`` (see
    ``message``). ``assumptions`` states the genericity assumed of symbolic parameters."""

    points: tuple[FixedPoint, ...]
    status: str
    message: str
    assumptions: str
    values: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    method: str = "symbolic"
    elapsed: float = 0.0

    @property
    def success(self) -> bool:
        return self.status in ("solved", "numeric")

    def __iter__(self) -> Iterator[FixedPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> FixedPoint:
        return self.points[i]


# -- verification -----------------------------------------------------------------------------


def vanishes(e: sp.Expr) -> bool:
    e = sp.cancel(sp.together(e))
    if e == 0:
        return True
    return sp.simplify(e) == 0


def verify_fixed_point(system, solution: Mapping, values: Mapping | None = None) -> bool:
    r"""Whether substituting ``solution`` (state symbol or name -> expression) and ``values``
    (parameter -> number) makes every right-hand side vanish identically (exactly, under the
    generic assumptions on the parameters left symbolic)."""
    vals = as_values(system, values)
    names = {x.name: x for x in system.state}
    sol = {}
    for k, v in solution.items():
        key = names.get(k.name if isinstance(k, sp.Symbol) else str(k))
        if key is None:
            raise SpecError(f"{k} is not a state variable of this system")
        sol[key] = as_expression(system, v, f"a value of {key}")
    rep = assumed_symbols(system, vals)
    sol = {rep[k]: v.xreplace(vals).xreplace(rep) for k, v in sol.items()}
    return all(vanishes(rationalize(e).xreplace(vals).xreplace(rep).subs(sol))
               for e in system.rhs)


def as_number(v: complex) -> sp.Expr:
    v = complex(v)
    return sp.Float(v.real, 12) + (sp.I * sp.Float(v.imag, 12) if v.imag else 0)


