"""What the shipped encoder does: loading it (weights in ``assets/``), channel types
from the signal (and fitting their head), and unusual segments."""

from ._type_evaluation import evaluate_types
from ._type_fit import TypeData, calibrate_types, collect_type_data
from .channel_types import identify_channel_types
from .loading import load_pretrained
from .unusual import annotate_unusual

__all__ = [
    "TypeData",
    "annotate_unusual",
    "calibrate_types",
    "collect_type_data",
    "evaluate_types",
    "identify_channel_types",
    "load_pretrained",
]
