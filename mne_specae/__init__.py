"""mne-specae: learn features from biosignal spectrograms, the MNE way."""

__version__ = "0.1.0.dev0"

from . import datasets
from .segments import SIGNAL_TYPES, make_segments

__all__ = [
    "SIGNAL_TYPES",
    "__version__",
    "datasets",
    "make_segments",
]
