"""Training: the per-sample rule run step by step (SGD) and compared with its averaged ODE;
deep networks trained on real data by the same rule objects (experiments).

Names are imported on first use (PEP 562, as in ``symdyn``): the command line sizes a suite
(:mod:`._suite`) and reads data headers (:mod:`._headers`) before sympy or the engine load."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers and editors; at run time see _EXPORTS
    from ._data import (
        DATASETS,
        ClassificationData,
        load_cifar10,
        load_data,
        load_digits,
        load_fashion_mnist,
        load_mnist,
        load_npz,
    )
    from ._experiments import measure, run_one
    from ._figures import (
        alignment_angles,
        learning_curves,
        save_figures,
        symmetry_over_training,
    )
    from ._grid import Plan, plan_suite, run_suite
    from ._network import (
        DTYPES,
        INITS,
        LOSSES,
        DeepNetwork,
        numeric_activation,
        quantize,
        unit_mask,
    )
    from ._sgd import (
        MAX_STEPS,
        Comparison,
        SimulationResult,
        compare,
        simulate,
        update_function,
    )
    from ._suite import (
        ARCHITECTURES,
        BASELINES,
        KP_DECAY,
        SUITES,
        UNIT_VARIANTS,
        VARIANTS,
        Run,
        Suite,
        applies,
        architecture_of,
        parse_variant,
    )
    from ._symmetries import (
        SYMMETRIES,
        SymmetryProfile,
        format_symmetries,
        measure_symmetries,
        suite_symmetries,
    )
    from ._table import ResultsTable, Summary

#: submodule -> the public names it provides, imported on first use
_EXPORTS: dict[str, tuple[str, ...]] = {
    "_data": ("DATASETS", "ClassificationData", "load_cifar10", "load_data", "load_digits",
              "load_fashion_mnist", "load_mnist", "load_npz"),
    "_experiments": ("measure", "run_one"),
    "_figures": ("alignment_angles", "learning_curves", "save_figures",
                 "symmetry_over_training"),
    "_grid": ("Plan", "plan_suite", "run_suite"),
    "_network": ("DTYPES", "INITS", "LOSSES", "DeepNetwork", "numeric_activation", "quantize",
                 "unit_mask"),
    "_sgd": ("MAX_STEPS", "Comparison", "SimulationResult", "compare", "simulate",
             "update_function"),
    "_suite": ("ARCHITECTURES", "BASELINES", "KP_DECAY", "SUITES", "UNIT_VARIANTS", "VARIANTS",
               "Run", "Suite", "applies", "architecture_of", "parse_variant"),
    "_symmetries": ("SYMMETRIES", "SymmetryProfile", "format_symmetries", "measure_symmetries",
                    "suite_symmetries"),
    "_table": ("ResultsTable", "Summary"),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "simulate", "compare", "update_function", "SimulationResult", "Comparison", "MAX_STEPS",
    "DeepNetwork", "numeric_activation", "quantize", "unit_mask", "INITS", "LOSSES", "DTYPES",
    "ClassificationData", "load_data", "load_digits", "load_npz", "load_mnist",
    "load_cifar10", "load_fashion_mnist", "DATASETS",
    "Run", "Suite", "SUITES", "VARIANTS", "ARCHITECTURES", "KP_DECAY", "run_one",
    "run_suite", "plan_suite", "Plan", "parse_variant", "measure", "architecture_of",
    "BASELINES", "applies", "UNIT_VARIANTS",
    "SYMMETRIES", "SymmetryProfile", "measure_symmetries", "format_symmetries",
    "suite_symmetries",
    "ResultsTable", "Summary",
    "learning_curves", "alignment_angles", "symmetry_over_training", "save_figures",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its submodule on first use and then cached."""
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
