"""Evaluation helpers of ``train_pretrained.py``: non-biosignal channels, leave-one-source-out
identification of the developers' recordings, reconstruction R² per source."""

from __future__ import annotations

import copy
import warnings

import mne
import numpy as np
import pandas as pd

from mne_specae import calibrate, identify_channel_types, select_evenly
from mne_specae.datasets import get_data_path


def synthetic_channels(sfreq=500.0, seconds=60.0, seed=0):
    """A Raw of channels that are none of ECG, EEG or EMG (typed misc)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sfreq * seconds)) / sfreq
    step = np.where((t % 2.0) < 0.1, 5.0, 0.0)
    walk = np.cumsum(rng.normal(0, 1e-7, t.size))
    walk = mne.filter.filter_data(walk, sfreq, None, 0.5, verbose=False)
    data = {
        "flat_zero": np.zeros_like(t),
        "flat_offset": np.full_like(t, 2.5e-3),
        "trigger_0_5V": step,
        "trigger_noisy": step + rng.normal(0, 1e-3, t.size),
        "status_codes": np.repeat(rng.integers(0, 8, t.size // 500 + 1), 500)[: t.size] * 1.0,
        "sine_10Hz": 20e-6 * np.sin(2 * np.pi * 10 * t),
        "sine_50Hz": 1e-4 * np.sin(2 * np.pi * 50 * t),
        "sine_1Hz": 1e-3 * np.sin(2 * np.pi * 1 * t),
        "drift_0.05Hz": 1e-4 * np.sin(2 * np.pi * 0.05 * t) + 1e-3,
        "random_walk": walk,
    }
    info = mne.create_info(list(data), sfreq, "misc")
    return mne.io.RawArray(np.array(list(data.values())), info, verbose=False)


def goniometer_raws():
    """The knee-angle goniometer channels of the UCI files (a real slow sensor)."""
    folder = get_data_path() / "emg" / "uci_lower_limb"
    raws = []
    for fname in sorted(folder.glob("*.txt"))[:12]:
        col = pd.read_csv(
            fname, sep="\t", skiprows=7, header=None, encoding="latin-1", usecols=[4], dtype=str
        )[4]
        x = pd.to_numeric(col, errors="coerce").dropna().to_numpy()
        info = mne.create_info([f"gonio_{fname.stem}"], 1000.0, "misc")
        raws.append(mne.io.RawArray(x[None] * 1.0, info, verbose=False))
    return raws


def scrambled(raw):
    """A copy with every channel typed misc (what a reader that guessed wrong gives)."""
    raw = raw.copy()
    with warnings.catch_warnings():  # "The unit ... has changed from V to NA": intended
        warnings.simplefilter("ignore", RuntimeWarning)
        raw.set_channel_types({ch: "misc" for ch in raw.ch_names}, verbose=False)
    return raw


def evaluate_sources(est, recordings, calib_segments):
    """Leave-one-source-out identification of every channel; one row per channel."""
    rows = []
    sources = sorted({ep.metadata["source"].iloc[0] for _, ep in recordings})
    for source in sources:
        held = copy.copy(est)  # shares the network; a head of its own
        calibrate(
            held,
            [
                select_evenly(ep, calib_segments)
                for _, ep in recordings
                if ep.metadata["source"].iloc[0] != source
            ],
            verbose=False,
        )
        for raw, ep in recordings:
            if ep.metadata["source"].iloc[0] != source:
                continue
            truth = dict(zip(raw.ch_names, raw.get_channel_types()))
            table = identify_channel_types(scrambled(raw), model=held, verbose=False)
            table = table.assign(
                truth=[truth[c] for c in table.index],
                source=source,
                recording=raw.info["description"],
            )
            rows.append(table.reset_index())
    return pd.concat(rows, ignore_index=True)


def reconstructions(est, recordings, train, out=None):
    """R² of the reconstructions per source: training segments and the others."""
    from mne_specae.evaluation.probes import reconstruction_r2

    rows = []
    for (_, ep), tr in zip(recordings, train):
        used = set(tr.metadata["onset"].round(6))
        rest = ~ep.metadata["onset"].round(6).isin(used).to_numpy()
        rows.append(
            dict(
                source=ep.metadata["source"].iloc[0],
                signal_type=ep.metadata["signal_type"].iloc[0],
                train=tr,
                rest=ep[np.flatnonzero(rest)] if rest.any() else None,
            )
        )
    table = []
    for (source, kind), group in pd.DataFrame(rows).groupby(["source", "signal_type"]):
        rest = [select_evenly(e, 8, 4) for e in group["rest"] if e is not None]
        table.append(
            dict(
                source=source,
                signal_type=kind,
                r2_training_segments=reconstruction_r2(est, list(group["train"])),
                r2_other_segments=(reconstruction_r2(est, rest) if rest else np.nan),
            )
        )
    if out is not None:
        from mne_specae.viz import plot_reconstruction

        for kind, name in (
            ("ecg", "ecg/mitdb/106"),
            ("eeg", "eeg/eegmat/Subject05_1"),
            ("emg", "emg/uci_lower_limb/1Amar"),
        ):
            ep = next(e for r, e in recordings if r.info["description"] == name)
            fig = plot_reconstruction(est, ep, n_examples=3, show=False)
            fig.savefig(out / f"reconstruction_{kind}.png", dpi=110)
    return pd.DataFrame(table)


def summarize(table):
    """Balanced accuracy (unknown counts as wrong), unknown rate, per source and type."""
    from sklearn.metrics import balanced_accuracy_score

    known = table[table["truth"].isin(["ecg", "eeg", "emg"])]
    per = (
        known.assign(
            correct=known["predicted"] == known["truth"], unknown=known["predicted"] == "unknown"
        )
        .groupby(["source", "truth"])
        .agg(channels=("correct", "size"), correct=("correct", "mean"), unknown=("unknown", "mean"))
    )
    bacc = balanced_accuracy_score(known["truth"], known["predicted"])
    return bacc, per
