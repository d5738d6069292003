"""Evaluation helpers of ``train_pretrained.py``: non-biosignal channels (synthetic, and
the UCI goniometers), reconstruction R² per source of the developers' recordings."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from mne_specae import select_evenly
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


def reconstruction_table(est, recordings, out=None):
    """R² of the reconstructions per source and signal type (at most 8 segments and 4
    channels of each recording), and one figure per type."""
    from mne_specae.evaluation.probes import reconstruction_r2

    rows = []
    by = {}
    for _, ep in recordings:
        key = (ep.metadata["source"].iloc[0], ep.metadata["signal_type"].iloc[0])
        by.setdefault(key, []).append(select_evenly(ep, 8, 4))
    for (source, kind), eps in sorted(by.items()):
        rows.append(dict(source=source, signal_type=kind, r2=reconstruction_r2(est, eps)))
    if out is not None:
        from mne_specae.viz import plot_reconstruction

        for kind, name in (
            ("ecg", "ecg/mitdb/106"),
            ("eeg", "eeg/eegmat/Subject05_1"),
            ("emg", "emg/uci_lower_limb/1Amar"),
        ):
            ep = next((e for r, e in recordings if r.info["description"] == name), None)
            if ep is not None:
                fig = plot_reconstruction(est, ep, n_examples=3, show=False)
                fig.savefig(out / f"reconstruction_{kind}.png", dpi=110)
    return pd.DataFrame(rows)
