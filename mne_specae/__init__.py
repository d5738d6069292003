"""mne-specae: learn features from biosignal spectrograms, the MNE way."""

__version__ = "0.1.0.dev0"

# before anything loads torch: OMP_WAIT_POLICY=PASSIVE unless set (mne_specae/_threads.py)
from . import _threads

_threads.init_from_environment()

from . import datasets, presets
from ._threads import set_num_threads
from .devices import resolve_device
from .segments import SIGNAL_TYPES, make_segments, select_evenly
from .spectrogram import Spectrogram
from .tfr import compute_spectrogram
from .inversion import griffin_lim
from .models import ConvAutoencoder1d, ConvAutoencoder2d
from .estimator import SpecAE
from .embedding import add_embeddings, add_umap
from .evaluation import evaluate_embeddings
from .downstream import Task, compare_representations, summarize_scores
from .calibration import Calibration, calibrate
from .pretrained import load_pretrained
from .channel_types import identify_channel_types
from .segment_store import SegmentStore, read_segments
from .preparation import prepare_segments
from .unusual import annotate_unusual
from . import baselines
from . import viz

__all__ = [
    "Calibration",
    "ConvAutoencoder1d",
    "ConvAutoencoder2d",
    "SIGNAL_TYPES",
    "SegmentStore",
    "SpecAE",
    "Task",
    "Spectrogram",
    "__version__",
    "add_embeddings",
    "add_umap",
    "annotate_unusual",
    "baselines",
    "calibrate",
    "compare_representations",
    "compute_spectrogram",
    "datasets",
    "evaluate_embeddings",
    "griffin_lim",
    "identify_channel_types",
    "load_pretrained",
    "make_segments",
    "prepare_segments",
    "presets",
    "read_segments",
    "resolve_device",
    "select_evenly",
    "set_num_threads",
    "summarize_scores",
    "viz",
]
