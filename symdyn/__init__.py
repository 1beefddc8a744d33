"""symdyn: formal analysis of the convergence of learning dynamics.

Network + Rule + Data --derive--> LearningSystem --analyse / integrate / verify / report-->
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers and editors; at run time see _EXPORTS
    from .analysis import (
        Analysis,
        AprioriBound,
        ChainLemma,
        ChainReduction,
        FixedPoint,
        FixedPoints,
        InvariantCheck,
        LyapunovCheck,
        ProofCertificate,
        Reduction,
        SignAnalysis,
        analyze,
        apriori_bound,
        chain_induction,
        chain_reduction,
        fixed_points,
        invariants,
        jacobian,
        lyapunov_check,
        reduce,
        sign_analysis,
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
        LevelCurve,
        NumericRHS,
        certify_periodic,
        classify,
        follow_level_curve,
        integrate,
        integrate_batch,
    )
    from .rules import (
        ARBP,
        ASRBP,
        BP,
        RBP,
        RULES,
        SRBP,
        DistinctChannel,
        LearningRule,
        SignSymmetry,
        TwinChannel,
    )
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

#: submodule -> the public names it provides. ``import symdyn`` imports none of them: a name
#: is imported on first use (PEP 562 ``__getattr__``), so ``symdyn --help`` does not pay for
#: sympy, scipy or numba. ``tests/test_cli_startup.py`` checks this table against the block
#: above.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "analysis": ("Analysis", "AprioriBound", "ChainLemma", "ChainReduction", "FixedPoint",
                 "FixedPoints", "InvariantCheck", "LyapunovCheck", "ProofCertificate",
                 "Reduction", "SignAnalysis", "analyze", "apriori_bound", "chain_induction",
                 "chain_reduction", "fixed_points", "invariants", "jacobian", "lyapunov_check",
                 "reduce", "sign_analysis", "verify_fixed_point", "verify_invariant"),
    "derive": ("derive",),
    "errors": ("AnalysisError", "DataError", "DerivationError", "ExpressionError",
               "MissingValueError", "SpecError", "SymdynError"),
    "expressions": ("parse_expression",),
    "numerics": ("BatchResult", "Certificate", "Classification", "IntegrationResult",
                 "LevelCurve", "NumericRHS", "certify_periodic", "classify",
                 "follow_level_curve", "integrate", "integrate_batch"),
    "rules": ("ARBP", "ASRBP", "BP", "RBP", "RULES", "SRBP", "LearningRule", "SignSymmetry",
              "TwinChannel", "DistinctChannel"),
    "spec": ("ACTIVATIONS", "Activation", "Dataset", "Moments", "Network"),
    "sweep": ("load_sweep", "sweep", "sweep_summary"),
    "system": ("LearningSystem", "MatrixForm"),
    "training": ("ClassificationData", "Comparison", "DeepNetwork", "ResultsTable", "Run",
                 "SimulationResult", "Suite", "compare", "load_data", "run_suite", "simulate"),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

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
    "SignSymmetry",
    "TwinChannel",
    "DistinctChannel",
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
    "ProofCertificate",
    "sign_analysis",
    "SignAnalysis",
    "lyapunov_check",
    "LyapunovCheck",
    "apriori_bound",
    "AprioriBound",
    "chain_reduction",
    "ChainReduction",
    "chain_induction",
    "ChainLemma",
    "sweep",
    "load_sweep",
    "sweep_summary",
    "classify",
    "Classification",
    "certify_periodic",
    "Certificate",
    "follow_level_curve",
    "LevelCurve",
]


def __getattr__(name: str) -> Any:
    """A public name (or a subpackage), imported on first use and then cached."""
    module = _SOURCE.get(name)
    if module is None:
        if name.startswith("_"):  # dunder probes (copy, inspect, doctest) are not subpackages
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:  # `sd.numerics` and the like, before anything imported them
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``symdyn`` itself. Importing a submodule sets it as an attribute of its package, and
    two submodules share their name with a function of the API (``symdyn.derive``,
    ``symdyn.sweep``): the function keeps the name, as it did when ``__init__`` imported
    eagerly, whichever is imported first."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _SOURCE.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
