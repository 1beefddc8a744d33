"""symdyn: formal analysis of the convergence of learning dynamics.

Network + Rule + Data --derive--> LearningSystem --analyse / integrate / verify / report-->
"""

from .derive import derive
from .errors import AnalysisError, DataError, DerivationError, SpecError, SymdynError
from .rules import ARBP, ASRBP, BP, RBP, RULES, SRBP, LearningRule
from .spec import ACTIVATIONS, Activation, Dataset, Moments, Network
from .system import LearningSystem, MatrixForm

__version__ = "0.1.0"

__all__ = [
    "derive",
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
    "DataError",
    "DerivationError",
    "AnalysisError",
]
