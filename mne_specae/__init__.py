"""mne-specae: learn features from biosignal spectrograms, the MNE way."""

from ._version import __version__

# before anything loads torch: OMP_WAIT_POLICY=PASSIVE unless set (mne_specae/utils/_threads.py)
from .utils import _threads

_threads.init_from_environment()

from . import _aliases, datasets, presets, viz
from .estimator import Calibration, SpecAE, add_embeddings, add_umap, calibrate
from .evaluation import (
    Task,
    baselines,
    compare_representations,
    evaluate_embeddings,
    summarize_scores,
)
from .nn import ConvAutoencoder1d, ConvAutoencoder2d
from .pretrained import (
    annotate_unusual,
    calibrate_types,
    collect_type_data,
    evaluate_types,
    identify_channel_types,
    load_pretrained,
)
from .segments import SIGNAL_TYPES, make_segments, select_evenly
from .spectral import Spectrogram, compute_spectrogram, griffin_lim
from .stores import SegmentStore, prepare_segments, read_segments
from .utils._devices import resolve_device
from .utils._threads import set_num_threads

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
    "calibrate_types",
    "collect_type_data",
    "compare_representations",
    "compute_spectrogram",
    "datasets",
    "evaluate_embeddings",
    "evaluate_types",
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
