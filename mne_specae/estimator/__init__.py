"""The estimator: :class:`SpecAE`, its inference methods and inputs, reconstructions,
fine-tuning, metadata columns, calibration and the ``.specae`` model file."""

from .calibration import Calibration, calibrate
from .metadata import add_embeddings, add_umap
from .specae import SpecAE

__all__ = ["Calibration", "SpecAE", "add_embeddings", "add_umap", "calibrate"]
