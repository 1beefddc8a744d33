"""Training: the per-sample rule run step by step (SGD) and compared with its averaged ODE."""

from ._sgd import Comparison, SimulationResult, compare, simulate, update_function

__all__ = ["simulate", "compare", "update_function", "SimulationResult", "Comparison"]
