"""
.. _ex-unusual:

Flag unusual segments with the pretrained model
===============================================

An autoencoder reconstructs well what resembles its training data. The shipped model
(:func:`~mne_specae.load_pretrained`) knows how badly it reconstructed each ECG, EEG
and EMG segment it was trained on (``model.calibration_``):
:func:`~mne_specae.annotate_unusual` compares every channel of every 5 s segment of a
new recording with those references and returns the segments it reconstructs far
worse as ``BAD_specae`` :class:`mne.Annotations`, which MNE's plots, epoching and
:func:`~mne_specae.make_segments` honour.

The score of one channel in one segment is a **robust z-score**: ``log10`` of its
reconstruction error, minus the median of the training items of its signal type,
divided by their spread (``1.4826 * MAD``). A segment is unusual when any channel
scores above ``threshold`` (default 5), or when a channel holds a level for half of it
(flat at any level, or clipped at the rails; checked on the recording's own samples,
before resampling; its score is then infinite: a flat line is easy to reconstruct,
but it is no signal). A channel unusual in most segments is reported as a
**bad-channel candidate** (for ``raw.info["bads"]``) instead of being annotated.

Here: one minute of an eegmat recording (three EEG channels and the ECG lead of the
same file), then copies with a flat channel, clipping and a broadband noise burst.
A few seconds on 2 CPU cores.
"""

# sphinx_gallery_multi_image = "single"

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_specae as msa
from mne_specae.datasets import load_sample

mne.set_log_level("WARNING")

raws = load_sample(modalities=["eeg", "ecg"], subjects=["eegmat-Subject00"])
eeg = next(r for r in raws["eeg"] if r.info["description"].endswith("Subject00_1"))
ecg = next(r for r in raws["ecg"] if r.info["description"].endswith("Subject00_1"))
raw = eeg.copy().pick(["Fz", "Cz", "Pz"]).add_channels([ecg.copy()])
raw.crop(0.0, 60.0, include_tmax=False)
print(raw)

model = msa.load_pretrained()
print(model.calibration_)
for kind, (median, spread) in model.calibration_.error_reference.items():
    print(f"  {kind}: log10 error median {median:.2f}, spread {spread:.3f}")

# %%
# Annotate the recording
# ----------------------
# ``return_scores=True`` also returns the z-score of every channel of every segment
# (columns: segment onsets in seconds). A clean recording should score below the
# threshold everywhere.
annot, scores = msa.annotate_unusual(raw, model=model, return_scores=True)
print(annot)
print(scores.pivot(index="channel", columns="onset", values="z").round(1).to_string())

# %%
# Three artefacts
# ---------------
# Each copy gets one artefact in one channel, from 20 to 25 s (the fifth segment):
#
# * **flat**: the channel reads zero (an electrode came off, an amplifier dropped out);
# * **clipping**: the signal, amplified 20 times, saturates at its normal range;
# * **noise**: broadband noise 20 times the channel's spread (a loose contact,
#   movement).
#
# The EEG artefacts go into ``Cz``, the ECG ones into the ``ECG`` lead.
START, STOP = 20.0, 25.0


def inject(raw, channel, kind, start=START, stop=STOP):
    """A copy of ``raw`` with an artefact in ``channel`` from ``start`` to ``stop`` s."""
    sfreq = raw.info["sfreq"]
    span = slice(int(start * sfreq), int(stop * sfreq))

    def artefact(x):
        x = x.copy()
        if kind == "flat":
            x[span] = 0.0
        elif kind == "clipping":
            limit = np.percentile(np.abs(x), 99)
            x[span] = np.clip(20 * x[span], -limit, limit)
        else:
            noise = np.random.default_rng(0).standard_normal(span.stop - span.start)
            x[span] = 20 * x.std() * noise
        return x

    return raw.copy().apply_function(artefact, picks=[channel])


rows = []
for channel in ("Cz", "ECG"):
    for kind in ("none", "flat", "clipping", "noise"):
        variant = raw if kind == "none" else inject(raw, channel, kind)
        found, table = msa.annotate_unusual(
            variant, model=model, picks=[channel], return_scores=True
        )
        table["onset"] -= raw.first_time  # seconds from the start of the recording
        rows.append(table.assign(artefact=kind))
        z_hit = table.loc[np.isclose(table["onset"], START), "z"].item()
        hit = [f"{t - raw.first_time:g} s" for t in found.onset]
        print(
            f"{channel:>3} {kind:<8}: z of the 20-25 s segment {z_hit:6.1f}, "
            f"annotated: {', '.join(hit) or 'nothing'}"
        )
table = pd.concat(rows, ignore_index=True)

# %%
# The score of each segment, per artefact: the artefact's segment (grey) against the
# threshold (dashed); flat segments (infinite scores) are drawn at the top.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained", sharey=True)
for ax, channel in zip(axes, ("Cz", "ECG")):
    for kind, part in table[table["channel"] == channel].groupby("artefact", sort=False):
        ax.plot(part["onset"] + 2.5, np.minimum(part["z"], 12.0), "o-", ms=4, lw=1, label=kind)
    ax.axvspan(START, STOP, color="0.85", zorder=0)
    ax.axhline(5.0, color="k", ls="--", lw=1, label="threshold")
    ax.set(
        title=f"{channel}: one artefact from {START:g} to {STOP:g} s", xlabel="segment centre (s)"
    )
axes[0].set_ylabel("robust z of log10 reconstruction error")
axes[1].legend(loc="upper right", fontsize="small")
plt.show()

# %%
# Flat channels, clipping and the noise burst are all flagged. Clipping is caught by
# the held-level check, not by the model: amplified 20 times, the signal sits at the
# rails for most of the segment, so most consecutive samples repeat exactly (checked
# at the recording's own 500 Hz, before resampling would turn the held runs into a
# ripple). The model alone would not see it: the clipped stretch keeps the rhythm and
# the spectral shape of the signal, so its spectrogram is reconstructed nearly as well
# as a clean one. The score measures how unlike the training data a segment's
# spectrogram is, not how large or distorted the waveform is. Milder clipping (a few
# percent of the samples) is not flagged: lower ``threshold`` to catch more, at the
# price of more clean segments flagged, or combine the annotations with
# amplitude-based ones such as :func:`mne.preprocessing.annotate_amplitude`.
#
# Use the annotations
# -------------------
# One copy with several artefacts, at different times and in different channels.
# The annotations name the channels that exceeded the threshold (``ch_names``);
# added to the recording's own, MNE shows them on the traces, and
# :func:`~mne_specae.make_segments` (like any MNE epoching with
# ``reject_by_annotation=True``) leaves the flagged segments out. An annotation
# belongs to its channels: the ECG segments keep the span flagged on ``Cz`` only
# (MNE drops channel-specific annotations with the channels they name).
bad = inject(raw, "Cz", "flat", 10.0, 15.0)
bad = inject(bad, "ECG", "clipping", 30.0, 35.0)
bad = inject(bad, "Fz", "noise", 40.0, 45.0)
bad = inject(bad, "ECG", "flat", 50.0, 55.0)
found = msa.annotate_unusual(bad, model=model)
for onset, channels in zip(found.onset, found.ch_names):
    print(f"unusual: {onset - bad.first_time:g} s, channels {list(channels)}")
bad.set_annotations(bad.annotations + found)
bad.plot(
    duration=60.0, scalings=dict(eeg=50e-6, ecg=1e-3), show_scrollbars=False, show_scalebars=False
)

kept = msa.make_segments(bad, picks="ecg")
n_segments = int(bad.n_times / bad.info["sfreq"] // 5.0)
print(
    f"{len(kept)} of {n_segments} ECG segments kept, starting at (s): "
    f"{list((kept.metadata['onset'] - bad.first_time).round(1))}"
)

# %%
# A channel that is bad throughout
# --------------------------------
# A channel that deviates for the whole recording (here ``Fz`` replaced by broadband
# noise; in practice a loose electrode, or temporal channels full of muscle activity)
# would flag every segment, and every channel of those segments would be rejected.
# Instead, a channel unusual in more than ``bad_channel_fraction`` (default half) of
# its segments is a **bad-channel candidate**: a warning names it, ``return_bads=True``
# returns it, and its segments are not annotated. Mark it bad and the other channels
# keep their segments.
noisy = inject(raw, "Fz", "noise", 0.0, 60.0)
found, bads = msa.annotate_unusual(noisy, model=model, return_bads=True)
print(f"bad-channel candidates: {bads}; annotated segments: {len(found)}")
noisy.info["bads"] += bads
noisy.set_annotations(noisy.annotations + found)
kept = msa.make_segments(noisy, picks="eeg")
print(f"{len(kept)} of {n_segments} EEG segments kept, channels {kept.ch_names}")
