"""mne-specae: learn features from biosignal spectrograms, the MNE way."""

__version__ = "0.1.0.dev0"

from . import datasets
from .segments import SIGNAL_TYPES, make_segments
from .spectrogram import Spectrogram, compute_spectrogram, griffin_lim, resolve_device

__all__ = [
    "SIGNAL_TYPES",
    "Spectrogram",
    "__version__",
    "compute_spectrogram",
    "datasets",
    "griffin_lim",
    "make_segments",
    "resolve_device",
]
