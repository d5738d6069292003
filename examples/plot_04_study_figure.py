"""
.. _ex-study:

The study's figure: ECG, EEG and EMG in one embedding
=====================================================

The study this package follows trained one convolutional autoencoder on
spectrograms of ECG, EEG and EMG together and showed, with a UMAP of the
encoder's features, that they group by signal type without ever being told the
type. This example reproduces that figure on the sample recordings (every source:
MIT-BIH, eegmat EEG and its ECG lead, UCI lower-limb EMG, BioSPPy), shows the
reconstructions (the study's Fig. 1), and checks the grouping in numbers against a
PCA baseline, on subjects held out. The defaults of :class:`~mne_specae.SpecAE` are
the recipe of the encoder that ships with the package, so the fit below starts from
its weights and fine-tunes them; at the end, the shipped encoder without training,
and a fit from random weights as in the study.

**Small settings.** At most 8 segments per recording and 2 channels per
recording, and the recommended settings (the defaults of :class:`~mne_specae.SpecAE`,
:data:`mne_specae.presets.RECOMMENDED`, printed below) with a fixed number of training
epochs: about a minute on 2 CPU cores. The ``mne-specae demo`` command runs the same
job with more data (12 segments, 4 channels). On a GPU, use the study's method:
``SpecAE(**presets.STUDY, device="cuda")``; the study itself used 125,000
spectrograms and a UMAP of 768 of them.
"""

# sphinx_gallery_multi_image = "single"

# %%
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_specae as msa
from mne_specae.datasets import load_sample_epochs
from mne_specae.presets import RECOMMENDED

mne.set_log_level("WARNING")
SETTINGS = {**RECOMMENDED, "max_epochs": 12}
PER_RECORDING, MAX_CHANNELS = 8, 2
print("SpecAE settings: mne_specae.presets.RECOMMENDED (* changed here)")
for key, value in SETTINGS.items():
    print(f"  {key:<12} {value!r}{'  *' if RECOMMENDED.get(key) != value else ''}")

# %%
# Segments of every sample recording
# ----------------------------------
# All recordings go to 512 Hz and 5 s segments. Their sampling rates differ (125 to
# 1000 Hz): the recommended ``fmax`` keeps the spectrograms below the lowest Nyquist
# frequency (62.5 Hz for the BioSPPy EEG), so that an empty upper band cannot
# give the signal type away. The full datasets (not run here):
#
# .. code-block:: python
#
#     paths = (msa.datasets.fetch_mitdb() + msa.datasets.fetch_eegmat()
#              + msa.datasets.fetch_uci_lower_limb_emg())
#     epochs = []
#     for path in paths:
#         raw = msa.datasets.read_raw(path)         # channel types set per file
#         if path.suffix == ".edf":                 # eegmat: 19 EEG + 1 ECG channel
#             raw.drop_channels(["A2-A1"])
#         for kind in set(raw.get_channel_types()):
#             epochs.append(msa.make_segments(raw, picks=kind))


# every sample recording -> make_segments (with its labels) -> select_evenly
epochs = load_sample_epochs(
    duration=5.0, sfreq=512.0, max_segments=PER_RECORDING, max_channels=MAX_CHANNELS
)
table = pd.concat([ep.metadata.assign(channels=len(ep.ch_names)) for ep in epochs])
print(
    table.groupby("signal_type")
    .agg(
        recordings=("recording", "nunique"),
        subjects=("subject", "nunique"),
        segments=("onset", "size"),
        spectrograms=("channels", "sum"),
    )
    .to_string()
)

# %%
# Training
# --------
# One model for all three signal types: each channel of each segment is one
# spectrogram, z-scored on its own (the recordings are in different units), and the
# validation split holds out whole subjects. The settings are the shipped encoder's,
# so ``fit`` starts from its weights (``init="auto"``, the default; the log says so)
# and fine-tunes them on these recordings, which it never saw.
ae = msa.SpecAE(**SETTINGS)
ae.fit(epochs)
hist = ae.history_.to_frame()
print(hist.round(4).to_string(index=False))
print(
    f"kept epoch {ae.history_.best_epoch} ({ae.history_.stop_reason}); "
    f"{hist['samples_per_s'].median():.0f} spectrograms/s on this machine"
)
msa.viz.plot_history(ae)

# %%
# Reconstructions (the study's Fig. 1)
# ------------------------------------
# Input and reconstruction of one segment of each type, in the network's z-scored
# dB units.
for kind in ("ecg", "eeg", "emg"):
    ep = next(e for e in epochs if e.metadata["signal_type"].iloc[0] == kind)
    msa.viz.plot_reconstruction(ae, ep, n_examples=1)

# %%
# The embedding, coloured by signal type
# --------------------------------------
for ep in epochs:
    ae.add_embeddings(ep)
msa.add_umap(epochs, random_state=0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
msa.viz.plot_embedding(
    epochs,
    hue="signal_type",
    ax=axes[0],
    show=False,
    title="Encoder features of ECG, EEG and EMG (UMAP)",
)
source = pd.Series([r.split("/")[1] for r in table["recording"]]).to_numpy()
start = 0
for ep in epochs:  # the source dataset as a metadata column, to colour by
    ep.metadata = ep.metadata.assign(source=source[start : start + len(ep)])
    start += len(ep)
msa.viz.plot_embedding(
    epochs, hue="source", ax=axes[1], show=False, title="... and by source dataset"
)

# %%
# Compare the two panels. Where one signal type splits into groups of different
# sources, the features also carry the source: the recording device, its
# sampling rate and preprocessing. The eegmat ECG lead, recorded by the EEG
# amplifier, is the case to watch: whether it sits with the MIT-BIH ECG or with
# the eegmat EEG says whether the model learned "ECG" or "this amplifier".

# %%
# The evaluation table
# --------------------
# :func:`~mne_specae.evaluate_embeddings` predicts the signal type of each
# subject's segments with a kNN trained on all other subjects (leave-one-subject-
# out), for the autoencoder's features and for a PCA of the very same
# log-spectrograms (8, 16, 32 or 64 components, chosen for each held-out subject
# by the same kNN on the other subjects alone). The silhouette measures how compact
# the groups are.
scores = msa.evaluate_embeddings(epochs, label="signal_type", group="subject", estimator=ae)
print(scores.round(3).to_string())

# %%
# The reconstruction error flags segments unlike most of the training data:
errors = np.concatenate([ep.metadata["specae_recon_error"] for ep in epochs])
print(
    table.assign(specae_recon_error=errors)
    .groupby("signal_type")["specae_recon_error"]
    .describe()[["mean", "50%", "max"]]
    .round(3)
    .to_string()
)

# %%
# Without training: the pretrained encoder
# ----------------------------------------
# The package ships an encoder trained on a corpus of public recordings
# (:func:`~mne_specae.load_pretrained`, model card: :doc:`/pretrained`). It gives the
# same figure in seconds, with no training. It never saw these sample recordings
# (its channel-type head did: it is fitted on them too).
pretrained = msa.load_pretrained()
pre_epochs = [ep.copy() for ep in epochs]
for ep in pre_epochs:
    pretrained.add_embeddings(ep)
msa.add_umap(pre_epochs, random_state=0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
msa.viz.plot_embedding(
    pre_epochs,
    hue="signal_type",
    ax=axes[0],
    show=False,
    title="Pretrained encoder, no training (UMAP)",
)
msa.viz.plot_embedding(
    pre_epochs, hue="source", ax=axes[1], show=False, title="... and by source dataset"
)
print(
    msa.evaluate_embeddings(pre_epochs, label="signal_type", group="subject", estimator=pretrained)
    .round(3)
    .to_string()
)

# %%
# Fine-tuning against random weights
# ----------------------------------
# ``fit(..., init=pretrained)`` insists on the pretrained weights (``init="auto"``
# takes them when the settings match, as above); ``init=None`` trains from random
# weights, as the study did. Three epochs of each, same settings and seed:
settings = {**pretrained.get_params(), "max_epochs": 3}
tuned = msa.SpecAE(**settings).fit(epochs, init=pretrained)
scratch = msa.SpecAE(**settings).fit(epochs, init=None)
print(
    pd.DataFrame(
        {
            "from random weights": scratch.history_.to_frame()["val_loss"].to_numpy(),
            "fine-tuned": tuned.history_.to_frame()["val_loss"].to_numpy(),
        },
        index=pd.Index([1, 2, 3], name="epoch"),
    )
    .round(4)
    .to_string()
)
