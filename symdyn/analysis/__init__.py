"""Analyses of a derived system: first integrals, fixed points, stability, reduction; and
the building blocks of convergence proofs (exact sign analysis of a scalar polynomial
field, Lyapunov/LaSalle checks, a-priori bounds, chain reductions at one depth and by
induction over every depth), each a :class:`ProofCertificate`."""

from ._analyze import Analysis, analyze
from ._bounds import AprioriBound, apriori_bound
from ._certificate import Nonnegativity, ProofCertificate, prove_nonnegative
from ._chain_lemma import ChainLemma, chain_induction
from ._chains import MAX_CHAIN_DEPTH, ChainReduction, chain_invariants, chain_reduction
from ._fixed_points import FixedPoint, FixedPoints, fixed_points, verify_fixed_point
from ._invariant_check import InvariantCheck, lie_derivative, verify_invariant
from ._invariants import Invariants, functional_rank, invariants
from ._lyapunov import LyapunovCheck, lyapunov_check
from ._reduction import Reduction, reduce
from ._sign import Root, SignAnalysis, sign_analysis
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
    "ProofCertificate",
    "prove_nonnegative",
    "Nonnegativity",
    "sign_analysis",
    "SignAnalysis",
    "Root",
    "lyapunov_check",
    "LyapunovCheck",
    "apriori_bound",
    "AprioriBound",
    "chain_reduction",
    "ChainReduction",
    "chain_invariants",
    "chain_induction",
    "ChainLemma",
    "MAX_CHAIN_DEPTH",
]
