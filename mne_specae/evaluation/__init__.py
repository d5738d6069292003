"""How good are embeddings: probes, the downstream protocol on held-out groups, and the
baselines they are compared with."""

from .baselines import (
    BANDS,
    BandPowers,
    Catch22,
    EMGTimeDomain,
    HeartRateFeatures,
    InputPCA,
    RandomWeights,
)
from .downstream import Task, compare_representations, fit_subset, group_folds, summarize_scores
from .probes import ALL_PROBES, PROBES, evaluate_embeddings, make_probe, reconstruction_r2

__all__ = [
    "ALL_PROBES",
    "BANDS",
    "BandPowers",
    "Catch22",
    "EMGTimeDomain",
    "HeartRateFeatures",
    "InputPCA",
    "PROBES",
    "RandomWeights",
    "Task",
    "compare_representations",
    "evaluate_embeddings",
    "fit_subset",
    "group_folds",
    "make_probe",
    "reconstruction_r2",
    "summarize_scores",
]
