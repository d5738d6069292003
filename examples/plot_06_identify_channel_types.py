"""
.. _ex-identify:

Which channel is the ECG? Channel types from the signal
=======================================================

Readers decide a channel's type from its **name**. An EDF file read without
name-based inference types every channel EEG, and the ECG lead recorded beside the
EEG of the PhysioNet eegmat study comes in as one more EEG channel: MNE's ECG tools
cannot find it, and it ends up in the EEG average reference.

:func:`mne_specae.identify_channel_types` ignores the names and the current types and
asks the pretrained encoder (:func:`mne_specae.load_pretrained`, shipped with the
package; see :doc:`/pretrained`) what each channel's signal looks like. A channel
that is none of ECG, EEG or EMG (flat, a trigger, a slow sensor, a pure tone) comes
out ``"unknown"`` rather than with a confident wrong label.
"""

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np

import mne_specae as msa
from mne_specae.datasets import get_data_path

mne.set_log_level("WARNING")

# %%
# An EDF file, every channel typed EEG
# ------------------------------------
# ``infer_types=False`` is what many EDF readers and pipelines do; the channel
# names keep their ``EEG``/``ECG`` prefixes, which we ignore on purpose. We add two
# channels no model was trained on: a trigger line and a slow sensor.
fname = get_data_path() / "eeg" / "eegmat" / "Subject00_1.edf"
raw = mne.io.read_raw_edf(fname, infer_types=False, preload=True)
raw.drop_channels([ch for ch in raw.ch_names if "A2-A1" in ch])
t = raw.times
extra = np.array(
    [
        np.where((t % 3.0) < 0.05, 5.0, 0.0),  # trigger pulses
        2e-3 * np.sin(2 * np.pi * 0.1 * t),
    ]
)  # slow drift
raw.add_channels(
    [mne.io.RawArray(extra, mne.create_info(["STI", "TEMP"], raw.info["sfreq"], "eeg"))],
    force_update_info=True,
)
print(sorted(set(raw.get_channel_types())), len(raw.ch_names), "channels")

# %%
# Identify
# --------
# One call; the Raw is not changed. ``probability`` is the mean over up to 30
# windows of 5 s; ``second`` is the runner-up; ``reason`` says why a channel is
# ``"unknown"``.
table = msa.identify_channel_types(raw)
print(
    table[["type", "predicted", "probability", "second", "n_segments", "reason"]].to_string(
        float_format="{:.2f}".format
    )
)

# %%
# Fix the file in one line
# ------------------------
raw.set_channel_types(table.query("predicted != 'unknown'")["predicted"].to_dict())
raw.set_channel_types({"STI": "stim", "TEMP": "misc"}, on_unit_change="ignore")
print(raw.get_channel_types(unique=True))

# %%
# With the right types, MNE's tools work
# --------------------------------------
# The ECG channel now drives MNE's heartbeat detection, and the cardiac field shows
# in the EEG average around each R peak.
ecg_channel = table.index[table["predicted"] == "ecg"][0]
ecg_epochs = mne.preprocessing.create_ecg_epochs(raw, ch_name=ecg_channel, tmin=-0.3, tmax=0.5)
print(f"{len(ecg_epochs)} heartbeats found on {ecg_channel!r} ({raw.times[-1]:.0f} s of recording)")
evoked = ecg_epochs.average(picks=["eeg", "ecg"])
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True, layout="constrained")
evoked.plot(picks="ecg", axes=axes[0], show=False, titles="ECG (identified)")
evoked.plot(picks="eeg", axes=axes[1], show=False, titles="EEG around each R peak")
plt.show()

# %%
# How much to trust it
# --------------------
# On sources whose channels the signal-type head never saw, the identification is
# right for most channels and ``"unknown"`` for every flat, trigger and slow channel
# we tried; the numbers, and the known limits (sampling rates, amplitude ranges, the
# three signal types only), are on the model card: :doc:`/pretrained`.
