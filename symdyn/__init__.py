"""symdyn: formal analysis of the convergence of learning dynamics.

Network + Rule + Data --derive--> LearningSystem --analyse / integrate / verify / report-->
"""

from .analysis import (
    Analysis,
    FixedPoint,
    FixedPoints,
    InvariantCheck,
    Reduction,
    analyze,
    fixed_points,
    invariants,
    jacobian,
    reduce,
    verify_fixed_point,
    verify_invariant,
)
from .derive import derive
from .errors import (
    AnalysisError,
    DataError,
    DerivationError,
    ExpressionError,
    MissingValueError,
    SpecError,
    SymdynError,
)
from .expressions import parse_expression
from .numerics import (
    BatchResult,
    Certificate,
    Classification,
    IntegrationResult,
    NumericRHS,
    certify_periodic,
    classify,
    integrate,
    integrate_batch,
)
from .rules import ARBP, ASRBP, BP, RBP, RULES, SRBP, LearningRule
from .spec import ACTIVATIONS, Activation, Dataset, Moments, Network
from .sweep import load_sweep, sweep, sweep_summary
from .system import LearningSystem, MatrixForm
from .training import (
    ClassificationData,
    Comparison,
    DeepNetwork,
    ResultsTable,
    Run,
    SimulationResult,
    Suite,
    compare,
    load_data,
    run_suite,
    simulate,
)

__version__ = "0.1.0"

__all__ = [
    "derive",
    "integrate",
    "integrate_batch",
    "IntegrationResult",
    "BatchResult",
    "NumericRHS",
    "simulate",
    "compare",
    "SimulationResult",
    "Comparison",
    "DeepNetwork",
    "Run",
    "Suite",
    "run_suite",
    "ResultsTable",
    "ClassificationData",
    "load_data",
    "LearningSystem",
    "MatrixForm",
    "Network",
    "Activation",
    "ACTIVATIONS",
    "Moments",
    "Dataset",
    "LearningRule",
    "BP",
    "RBP",
    "SRBP",
    "ARBP",
    "ASRBP",
    "RULES",
    "SymdynError",
    "SpecError",
    "ExpressionError",
    "parse_expression",
    "DataError",
    "DerivationError",
    "AnalysisError",
    "MissingValueError",
    "invariants",
    "verify_invariant",
    "InvariantCheck",
    "fixed_points",
    "FixedPoint",
    "FixedPoints",
    "verify_fixed_point",
    "jacobian",
    "reduce",
    "Reduction",
    "analyze",
    "Analysis",
    "sweep",
    "load_sweep",
    "sweep_summary",
    "classify",
    "Classification",
    "certify_periodic",
    "Certificate",
]
