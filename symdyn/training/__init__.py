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
    KP_DECAY,
    SUITES,
    VARIANTS,
    Run,
    Suite,
    architecture_of,
    measure,
    parse_variant,
    run_one,
    run_suite,
)
from ._figures import alignment_angles, learning_curves, save_figures, symmetry_over_training
from ._network import INITS, LOSSES, DeepNetwork, numeric_activation, quantize
from ._sgd import MAX_STEPS, Comparison, SimulationResult, compare, simulate, update_function
from ._table import ResultsTable, Summary

__all__ = [
    "simulate", "compare", "update_function", "SimulationResult", "Comparison", "MAX_STEPS",
    "DeepNetwork", "numeric_activation", "quantize", "INITS", "LOSSES",
    "ClassificationData", "load_data", "load_digits", "load_npz", "load_mnist",
    "load_cifar10", "load_fashion_mnist", "DATASETS",
    "Run", "Suite", "SUITES", "VARIANTS", "ARCHITECTURES", "KP_DECAY", "run_one",
    "run_suite", "parse_variant", "measure", "architecture_of",
    "ResultsTable", "Summary",
    "learning_curves", "alignment_angles", "symmetry_over_training", "save_figures",
]
