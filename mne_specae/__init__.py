"""mne-specae: learn features from biosignal spectrograms, the MNE way."""

from ._version import __version__

# before anything loads torch: OMP_WAIT_POLICY=PASSIVE unless set (mne_specae/_threads.py)
from .utils import _threads

_threads.init_from_environment()

from . import datasets, presets, viz
from .utils._threads import set_num_threads
from .utils._devices import resolve_device
from .segments import SIGNAL_TYPES, make_segments, select_evenly
from .spectral import Spectrogram, compute_spectrogram, griffin_lim
from .nn import ConvAutoencoder1d, ConvAutoencoder2d
from .estimator import Calibration, SpecAE, add_embeddings, add_umap, calibrate
from .evaluation import Task, compare_representations, evaluate_embeddings, summarize_scores
from .evaluation import baselines
from .pretrained import annotate_unusual, identify_channel_types, load_pretrained
from .stores import SegmentStore, prepare_segments, read_segments
from . import _aliases

_aliases.install(__name__)

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
