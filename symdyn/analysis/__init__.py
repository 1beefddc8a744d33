"""Analyses of a derived system: first integrals, fixed points, stability, reduction."""

from ._analyze import Analysis, analyze
from ._fixed_points import FixedPoint, FixedPoints, fixed_points, verify_fixed_point
from ._invariant_check import InvariantCheck, lie_derivative, verify_invariant
from ._invariants import Invariants, functional_rank, invariants
from ._reduction import Reduction, reduce
from ._stability import Stability, classify, eigenvalues, jacobian

__all__ = [
    "invariants",
    "verify_invariant",
    "InvariantCheck",
    "Invariants",
    "functional_rank",
    "lie_derivative",
    "fixed_points",
    "FixedPoint",
    "FixedPoints",
    "verify_fixed_point",
    "jacobian",
    "eigenvalues",
    "classify",
    "Stability",
    "reduce",
    "Reduction",
    "analyze",
    "Analysis",
]
