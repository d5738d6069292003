"""
.. _ex-identify:

Which channel is the ECG? Channel types from the signal
=======================================================

Readers decide a channel's type from its **name**. An EDF file read without
name-based inference types every channel EEG, and the ECG lead recorded beside the
EEG of the PhysioNet eegmat study comes in as one more EEG channel: MNE's ECG tools
cannot find it, and it ends up in the EEG average reference.

:func:`mne_specae.identify_channel_types` does not go by the names and the current
types (they only stop an answer they contradict: a declared EOG is never ``eeg``, a
channel named "Pleth" or "acc_x" never ECG, EEG, EMG or EOG) and asks the pretrained model (:func:`mne_specae.load_pretrained`, shipped with the
package; see :doc:`/pretrained`) what each channel's signal looks like, and answers
with MNE's channel types: ``ecg``, ``eeg``, ``emg``, ``eog``, ``resp``, ``bio`` (PPG,
arterial pressure), ``gsr``, ``temperature``, ``misc`` (motion, EMG envelopes), ``stim`` (triggers
and markers), or ``"unknown"`` (flat, pure tones, white noise, not sure) with a
reason.
"""

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_specae as msa
from mne_specae.datasets import get_data_path

mne.set_log_level("WARNING")

# %%
# An EDF file, every channel typed EEG
# ------------------------------------
# ``infer_types=False`` is what many EDF readers and pipelines do; the channel
# names keep their ``EEG``/``ECG`` prefixes, which we ignore on purpose. We add two
# channels: a trigger line and a slow sensor (a 0.1 Hz oscillation).
fname = get_data_path() / "eeg" / "eegmat" / "Subject00_1.edf"
raw = mne.io.read_raw_edf(fname, infer_types=False, preload=True)
raw.drop_channels([ch for ch in raw.ch_names if "A2-A1" in ch])
t = raw.times
extra = np.array(
    [
        np.where((t % 3.0) < 0.05, 5.0, 0.0),  # trigger pulses
        2e-3 * np.sin(2 * np.pi * 0.1 * t),  # a slow sensor
    ]
)
raw.add_channels(
    [mne.io.RawArray(extra, mne.create_info(["STI", "SLOW"], raw.info["sfreq"], "eeg"))],
    force_update_info=True,
)
print(sorted(set(raw.get_channel_types())), len(raw.ch_names), "channels")

# %%
# Identify
# --------
# One call; the Raw is not changed. ``probability`` is the model's, ``second`` the
# runner-up, ``kind`` says which signal within a type (``ppg`` or ``abp`` for
# ``bio``, ``trigger`` for ``stim``), ``reason`` why a channel is ``"unknown"``.
table = msa.identify_channel_types(raw)
print(
    table[["type", "predicted", "kind", "probability", "second", "reason"]].to_string(
        float_format="{:.2f}".format
    )
)

# %%
# Fix the file in one line
# ------------------------
# ``ch_type`` is the answer, or the current type where ``"unknown"``; the units follow
# the new types (``on_unit_change="ignore"``: MNE would warn for each change).
raw.set_channel_types(table["ch_type"].to_dict(), on_unit_change="ignore")
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
# A DC-coupled amplifier: EEG under a drift
# -----------------------------------------
# BioSemi, ANT and other DC-coupled amplifiers record without a high-pass filter:
# each electrode's offset wanders, and right after the amplifier starts every channel
# settles, far above the EEG. Here the first minute of the EEG above, each channel
# over an offset of a few millivolts with a slow wander 20 times its own size (a
# random walk below 0.2 Hz).
from scipy.signal import butter, sosfiltfilt  # noqa: E402

eeg = raw.copy().pick(table.index[table["predicted"] == "eeg"].tolist()).crop(0, 60)
x = eeg.get_data()
rng = np.random.default_rng(0)
walk = np.cumsum(rng.normal(size=x.shape), axis=1)
walk = sosfiltfilt(butter(4, 0.2, fs=eeg.info["sfreq"], output="sos"), walk)
walk = (walk - walk.mean(axis=1, keepdims=True)) / walk.std(axis=1, keepdims=True)
offsets = rng.uniform(-3e-3, 3e-3, (len(x), 1))
drifting = mne.io.RawArray(x + offsets + 20 * x.std(axis=1, keepdims=True) * walk, eeg.info)
print(msa.identify_channel_types(drifting)["predicted"].value_counts().to_string())

# %%
# When this page was built, all 19 came out ``eeg``. Almost all their power lies
# below 6 Hz, as with blinks, but each moves with its neighbours and keeps its alpha
# and beta above the drift, so the EOG check spares it; and the heads were taught
# drifted copies of their ECG, EEG and EMG; the encoder sees each window high-passed
# at 0.5 Hz, below its lowest band. The heads before them called 8 of these channels
# EDA (:doc:`/pretrained`, "Drifts"), and leg EMG under a drift ECG.

# %%
# A wearable-like export: EMG, its envelopes and a knee angle
# -----------------------------------------------------------
# Gait-lab software exports the raw EMG beside processed channels, often as text
# with no types at all. Here: the four thigh muscles of a UCI lower-limb recording
# (1000 Hz), the moving-RMS envelope of each (100 ms, what such software exports),
# and the knee goniometer recorded with them, every channel typed ``misc``.
from scipy.ndimage import uniform_filter1d  # noqa: E402

from mne_specae.datasets import read_uci_emg  # noqa: E402

fname = get_data_path() / "emg" / "uci_lower_limb" / "3Amar.txt"
emg = read_uci_emg(fname)
sfreq = emg.info["sfreq"]
x = emg.get_data()
envelopes = np.sqrt(uniform_filter1d(x**2, int(0.1 * sfreq), axis=-1))
knee = np.loadtxt(fname, skiprows=7, usecols=4, max_rows=x.shape[1], encoding="latin-1")
names = emg.ch_names + [f"{ch} RMS" for ch in emg.ch_names] + ["Knee"]
wearable = mne.io.RawArray(np.vstack([x, envelopes, knee]), mne.create_info(names, sfreq, "misc"))
table = msa.identify_channel_types(wearable)
print(
    table[["predicted", "kind", "probability", "floor", "reason"]].to_string(
        float_format="{:.2f}".format, max_colwidth=60
    )
)

# %%
# The raw EMG comes out ``emg``. An envelope is never negative and rests at zero
# while its muscle rests, with bursts upward (``floor``: its 0.5th percentile in
# standard deviations above zero): the rules call it ``misc`` with kind
# ``envelope`` before any head is asked. The rectus femoris works through the whole
# stride, so its envelope never rests (``floor`` far above zero): the rule leaves it
# to the heads, and when this page was built they called it ``eeg`` (0.80), which is
# wrong; but its name says "RMS", a processed envelope, and a name that says another
# sensor stops an ECG, EEG, EMG or EOG answer (the name guard: ``unknown``, the reason
# naming both, the type kept). The name never decides a type on its own: the knee
# angle, named "Knee", is judged from its signal. It is a motion sensor (``misc``),
# and no head has seen a goniometer: in this run it is called a pulse (``bio``, kind
# ``ppg``), which is wrong. Read ``probability`` and ``reason`` before applying the types.

# %%
# A wrist wearable, each stream at its own rate
# ---------------------------------------------
# Wearables store each sensor at its own rate, and each stream becomes a Raw of its
# own: here a pulse (PPG) and a breathing belt at 25 Hz, a wrist accelerometer at
# 32 Hz, EDA and skin temperature at 4 Hz. No wearable recording ships with the
# package, so these five minutes are made up, like the trigger above: a pulse wave
# with its dicrotic notch, breaths that inhale faster than they exhale, the steps of
# a walk with pauses, skin-conductance responses on a drifting level, a slow
# temperature drift in steps of 0.01 °C. Below 37.5 Hz no band above 10 Hz is left,
# where ECG, EEG and EMG show themselves, so such channels go to the low-rate head,
# which never answers a biopotential.
rng = np.random.default_rng(0)
seconds = 300.0


def rhythm(sfreq, rate):
    """Times and phase (cycles) of a rhythm near ``rate`` Hz that wanders slowly."""
    t = np.arange(int(seconds * sfreq)) / sfreq
    drift = np.cumsum(rng.normal(0, 1, t.size)) / np.sqrt(t.size)
    inst = rate * (1 + 0.1 * np.sin(2 * np.pi * t / 45) + 0.05 * drift)
    return t, np.cumsum(inst) / sfreq


t, beat = rhythm(25.0, 1.2)  # 72 beats a minute
f = beat % 1.0
ppg = np.exp(-(((f - 0.2) / 0.09) ** 2)) + 0.25 * np.exp(-(((f - 0.5) / 0.08) ** 2))
ppg += 0.1 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.01, t.size)
_, breath = rhythm(25.0, 0.25)  # 15 breaths a minute
f = breath % 1.0
belt = np.where(f < 0.4, np.sin(np.pi * f / 0.8), np.cos(np.pi * (f - 0.4) / 1.2))
belt = 1e-3 * (belt + rng.normal(0, 0.03, t.size))
t32, step = rhythm(32.0, 1.8)  # 1.8 steps a second, with pauses
walking = np.sin(2 * np.pi * t32 / 60) > -0.7
heel = 0.4 * np.exp(-((((step % 1) - 0.1) / 0.03) ** 2))
acc = [
    g + walking * (0.3 * np.sin(2 * np.pi * step + k) + heel) + rng.normal(0, 0.02, t32.size)
    for k, g in enumerate((0.0, 0.0, 1.0))  # in g
]
t4 = np.arange(int(seconds * 4)) / 4
eda = 2 + 0.3 * np.cumsum(rng.normal(0, 1, t4.size)) / np.sqrt(4 * 60)  # µS
for onset in np.cumsum(rng.exponential(15, 40)):
    s = np.clip(t4 - onset, 0, None)
    eda += rng.uniform(0.05, 0.4) * (np.exp(-s / 4) - np.exp(-s / 0.7))
temp = 33 + 0.3 * np.sin(2 * np.pi * t4 / 900)
temp = np.round(temp + 0.05 * np.cumsum(rng.normal(0, 1, t4.size)) / np.sqrt(t4.size), 2)
streams = [
    mne.io.RawArray(np.array([ppg, belt]), mne.create_info(["PPG", "Belt"], 25.0, "misc")),
    mne.io.RawArray(np.array(acc), mne.create_info(["ACC x", "ACC y", "ACC z"], 32.0, "misc")),
    mne.io.RawArray(np.array([1e-6 * eda, temp]), mne.create_info(["EDA", "TEMP"], 4.0, "misc")),
]
table = pd.concat([msa.identify_channel_types(stream) for stream in streams])
print(
    table[["predicted", "kind", "probability", "reason"]].to_string(
        float_format="{:.2f}".format, max_colwidth=60
    )
)

# %%
# When this page was built, the pulse came out ``bio``, which is right (which ``bio``
# it is, PPG or arterial pressure, is a guess at this rate), and so did the skin
# temperature (``temperature``, 1.00). The belt was ``unknown``, "not sure", though
# its first guess was ``resp`` (0.60, below ``min_probability``), and so was the EDA
# (``gsr`` 0.67). One accelerometer axis was called a pulse (``bio``), which is wrong:
# steps at about two a second are a smooth wave at heart lags; the other two were
# ``unknown``. The low-rate head reads each window's offset over its size (a
# temperature in degrees, a conductance, gravity on an axis are physical offsets; an
# electrode's is its amplifier's, so the other heads do not read it), and it learnt
# EDA and temperature from two wrist wearables of the corpus (PhysioNet's Non-EEG
# dataset at 8 Hz, an Empatica E4 at 4 Hz) and a few lab recordings. On the
# pretraining corpus (:doc:`/pretrained`, leave one source out), 11 of 24 EDA
# channels are named, but only 1 of 21 skin temperatures: held out, the Non-EEG
# dataset's temperatures have one other temperature channel to learn from, and come
# out ``unknown`` or EDA; nothing slow is called ECG, EEG or EMG.

# %%
# The same streams in one EDF file, as MNE reads it
# -------------------------------------------------
# A polysomnogram or a wearable's export often stores every stream in one EDF file,
# each at its own rate. MNE's reader gives every channel the highest rate (here the
# EEG's 500 Hz), upsampled by FFT, so above its own Nyquist frequency a slow
# channel is empty. :func:`~mne_specae.identify_channel_types` finds the rate each
# channel was sampled at from where its spectrum ends (column ``sfreq``) and judges
# it there, as if each stream were its own Raw. The file is written with ``edfio``
# (what MNE exports EDF with) into a temporary folder: the first three minutes of two
# EEG channels of the file above, and of the streams above.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from edfio import Edf, EdfSignal  # noqa: E402

minutes3 = 180.0
signals = [
    EdfSignal(
        raw.get_data(picks=[name], tmax=minutes3)[0][: int(minutes3 * 500)] * 1e6,
        sampling_frequency=500.0,
        label=name,
        physical_dimension="uV",
    )
    for name in ("EEG P3", "EEG O1")
]
for stream in streams:
    rate = stream.info["sfreq"]
    for name, x in zip(stream.ch_names, stream.get_data()):
        signals.append(EdfSignal(x[: int(minutes3 * rate)], sampling_frequency=rate, label=name))
psg_file = Path(tempfile.mkdtemp()) / "wearable_and_eeg.edf"
Edf(signals).write(psg_file)
psg = mne.io.read_raw_edf(psg_file, preload=True)
print(f"read at {psg.info['sfreq']:g} Hz:", psg.ch_names)
table = msa.identify_channel_types(psg)
print(
    table[["predicted", "kind", "sfreq", "reason"]].to_string(
        float_format="{:.0f}".format, max_colwidth=60
    )
)

# %%
# Each stream is judged at its own rate (the EEG at 500 Hz, the pulse and the belt at
# 25 Hz, the accelerometer at 32, the EDA and the temperature at 4). When this page
# was built the answers were the ones the streams got on their own above (the file's
# 16-bit samples are not quite the same numbers, so the probabilities differ a
# little). Before, such channels were judged at 500 Hz with their empty bands, and
# the rate guard and the low-rate head never saw them.

# %%
# How much to trust it
# --------------------
# The heads were fitted on these recordings' source among others, so this file is easy
# for them. On a source they never saw (leave one source out on the pretraining
# corpus), ECG, EEG and EMG come out right for 86 % of the channels (EEG 80 %,
# most of the rest ``"unknown"``), triggers for most, and other physiological signals are often
# ``"unknown"`` or wrong (a knee goniometer is called PPG): check ``probability`` and
# ``reason``. The table per type is on the model card: :doc:`/pretrained`.
