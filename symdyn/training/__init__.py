"""Training: the per-sample rule run step by step (SGD) and compared with its averaged ODE;
deep networks trained on real data by the same rule objects (experiments)."""

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
from ._experiments import (
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
    measure,
    parse_variant,
    run_one,
)
from ._figures import alignment_angles, learning_curves, save_figures, symmetry_over_training
from ._grid import Plan, plan_suite, run_suite
from ._network import DTYPES, INITS, LOSSES, DeepNetwork, numeric_activation, quantize, unit_mask
from ._sgd import MAX_STEPS, Comparison, SimulationResult, compare, simulate, update_function
from ._symmetries import (
    SYMMETRIES,
    SymmetryProfile,
    format_symmetries,
    measure_symmetries,
    suite_symmetries,
)
from ._table import ResultsTable, Summary

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
