"""The tasks, representations and folds of the downstream benchmark.

Shared by ``bench_downstream.py`` (which re-exports them), ``bench_pretrained.py``,
``select_recipe.py`` and ``select_pretraining.py``: the task labels and queries, the
hand-crafted baselines users would pick, the representations of a preset, and the
report folds (the selection subjects never test).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from downstream_data import BLOCK_SECONDS  # noqa: E402

TASKS_LABELS = {
    "signal_type": ("signal_type", None),
    "eeg_rest_vs_arithmetic": ("condition", "source == 'eegmat' and signal_type == 'eeg'"),
    "eeg_eyes_closed_vs_open": ("condition", "source == 'biosppy' and signal_type == 'eeg'"),
    "emg_exercise": ("exercise", "source == 'uci_lower_limb'"),
    "emg_group": ("group", "source == 'uci_lower_limb'"),
    "ecg_beats": ("beats", "subject == 'mitdb-100'"),
    "ecg_rest_vs_arithmetic": ("condition", "source == 'eegmat' and signal_type == 'ecg'"),
}
#: The hand-crafted baselines (features users would pick instead of an encoder).
HANDCRAFTED = ("band_powers", "catch22", "emg_time_domain", "heart_rate")
MEAN_REPRESENTATIONS = ("specae", "specae_1d", "random_weights", "pca_input", *HANDCRAFTED)
CONCAT_REPRESENTATIONS = tuple(
    f"{name}_concat" for name in ("specae", "random_weights", *HANDCRAFTED)
)
REPRESENTATION_ORDER = MEAN_REPRESENTATIONS + CONCAT_REPRESENTATIONS
#: Tasks whose epochs have several channels (eegmat EEG 19, UCI EMG 4, MIT-BIH 2):
#: also scored with each channel's features kept.
CONCAT_TASKS = ("eeg_rest_vs_arithmetic", "emg_exercise", "emg_group", "ecg_beats")
PROBES = ("logistic", "knn", "gradient_boosting")

MODES = {  # data and folds per mode
    "full": dict(
        max_segments=8, mitdb100_segments=None, n_splits=5, seeds=(0, 1, 2), max_fit_items=1500
    ),
    "quick": dict(max_segments=4, mitdb100_segments=120, n_splits=3, seeds=(0,), max_fit_items=600),
    "smoke": dict(max_segments=2, mitdb100_segments=24, n_splits=2, seeds=(0,), max_fit_items=200),
}
#: Network and training of the smoke run (CI: checks the table, not the numbers).
SMOKE_SETTINGS = dict(filters=4, n_layers=2, max_epochs=1, patience=1, batch_size=64)


def handcrafted(channel_agg="mean", suffix=""):
    """The hand-crafted baselines, with ``channel_agg``; NaN features (undefined, e.g.
    HRV of a segment with fewer than 3 beats) are imputed with the training median.
    catch22 only where pycatch22 is installed."""
    import importlib.util

    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    from mne_specae.evaluation.baselines import (
        BandPowers,
        Catch22,
        EMGTimeDomain,
        HeartRateFeatures,
    )

    def imputed(transformer):
        return make_pipeline(
            transformer, SimpleImputer(strategy="median", keep_empty_features=True)
        )

    reps = {
        "band_powers": BandPowers(channel_agg=channel_agg),
        "catch22": imputed(Catch22(channel_agg=channel_agg)),
        "emg_time_domain": imputed(EMGTimeDomain(channel_agg=channel_agg)),
        "heart_rate": imputed(HeartRateFeatures(channel_agg=channel_agg)),
    }
    if importlib.util.find_spec("pycatch22") is None:
        print("pycatch22 is not installed: no catch22 baseline (pip install pycatch22)")
        del reps["catch22"]
    return {f"{name}{suffix}": rep for name, rep in reps.items()}


def representations(preset):
    """The representations compared, built from the SpecAE settings ``preset``."""
    from mne_specae import SpecAE
    from mne_specae.evaluation.baselines import InputPCA, RandomWeights

    return {
        "specae": SpecAE(**preset, verbose="warning"),
        "specae_1d": SpecAE(**dict(preset, model="1d", normalize="item"), verbose="warning"),
        "random_weights": RandomWeights("specae"),
        "pca_input": InputPCA(SpecAE(**preset)),
        **handcrafted(),
    }


def concat_representations(preset):
    """The representations with each channel's features kept (``channel_agg="concat"``)."""
    from mne_specae import SpecAE
    from mne_specae.evaluation.baselines import RandomWeights

    return {
        "specae_concat": SpecAE(**dict(preset, channel_agg="concat"), verbose="warning"),
        "random_weights_concat": RandomWeights("specae_concat"),
        **handcrafted("concat", "_concat"),
    }


def task_epochs(epochs_list, name):
    """The Epochs of task ``name`` (one recording and group each: all in or all out)."""
    query = TASKS_LABELS[name][1]
    return [ep for ep in epochs_list if ep.metadata.eval(query).to_numpy(bool).any()]


def subset_folds(folds, epochs_list):
    """``folds`` restricted to the groups of ``epochs_list``, renumbered from 0 (the same
    groups held out together; a fold with no group of these epochs dropped)."""
    present = {str(g) for ep in epochs_list for g in ep.metadata["split"]}
    kept = {g: k for g, k in folds.items() if g in present}
    used = sorted({k for k in kept.values() if k >= 0})
    return {g: (used.index(k) if k >= 0 else -1) for g, k in kept.items()}


def tasks(epochs_list, names=None):
    from mne_specae.evaluation.downstream import Task

    return {
        name: Task(label, query)
        for name, (label, query) in TASKS_LABELS.items()
        if names is None or name in names
    }


def signal_type_by_source(epochs_list, reps, **common):
    """Scores of the signal type with one source held out at a time (its task named
    ``signal_type_leave_source_out``); ``common``: the other arguments of
    :func:`~mne_specae.compare_representations`."""
    from mne_specae import compare_representations

    scores = compare_representations(
        epochs_list,
        tasks(epochs_list, ["signal_type"]),
        reps,
        group="source",
        n_splits=None,
        **common,
    )
    scores["task"] = "signal_type_leave_source_out"
    return scores


def report_folds(epochs_list, n_splits, seed=0):
    """Folds over the ``role == "report"`` groups; the selection subjects never test."""
    import pandas as pd

    from mne_specae.evaluation.downstream import group_folds

    md = pd.concat([ep.metadata for ep in epochs_list])
    report = md[md["role"] == "report"]
    # the time blocks of one subject are their own stratum, spread over the folds
    strata = report["subject"].where(report["subject"].isin(BLOCK_SECONDS), report["source"])
    folds = group_folds(report["split"], n_splits, strata=strata, seed=seed)
    folds.update({g: -1 for g in md.loc[md["role"] == "select", "split"]})
    return folds


def machine():
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), no GPU used"
    )
