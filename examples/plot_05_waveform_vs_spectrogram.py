"""
.. _ex-1d-vs-2d:

The study's next step: a waveform autoencoder against the spectrogram autoencoder
=================================================================================

The study closed by proposing to compare its spectrogram model with a model that
reads the raw waveform. :class:`~mne_specae.SpecAE` does both: ``SpecAE("2d")``
(the default) trains :class:`~mne_specae.ConvAutoencoder2d` on spectrogram images,
``SpecAE("1d")`` trains :class:`~mne_specae.ConvAutoencoder1d` on the 5 s
waveforms (2,560 samples at 512 Hz). Both are trained here on the same
segments, with the same number of filters, epochs and seed, and their embeddings
are scored with the same :func:`~mne_specae.evaluate_embeddings`.

**Small settings.** At most 4 segments per recording and 2 channels per recording
of every sample recording, the recommended settings (the defaults of
:class:`~mne_specae.SpecAE`, :data:`mne_specae.presets.RECOMMENDED`, printed below;
the spectrogram settings do not apply to the 1-D model) with a fixed number of
training epochs: about a minute on 2 CPU cores. The 1-D model is run with
``normalize="item"``: each waveform standardised on its own (mean 0, std 1), so that
recordings in different units and gains (volts, millivolts, uncalibrated counts)
become comparable; this is also how the 1-D model was run when the comparison was
first made; it is also the default (``normalize="item"``). With
``normalize="dataset"`` it would use one mean and std per channel of the training
waveforms, and recordings would keep their relative amplitudes. On a GPU: ``SpecAE(**presets.STUDY, device="cuda")`` and
``SpecAE("1d", normalize="item", filters=64, max_epochs=50, device="cuda")``, on the
full datasets
(``msa.datasets.fetch_mitdb()``, ``fetch_eegmat()``,
``fetch_uci_lower_limb_emg()``, read with ``msa.datasets.read_raw``).
"""

# sphinx_gallery_multi_image = "single"

# %%
import matplotlib.pyplot as plt
import mne
import pandas as pd

import mne_specae as msa
from mne_specae.datasets import load_sample_epochs
from mne_specae.presets import RECOMMENDED

mne.set_log_level("WARNING")
SETTINGS = {**RECOMMENDED, "max_epochs": 8}
PER_RECORDING, MAX_CHANNELS = 4, 2
print("SpecAE settings: mne_specae.presets.RECOMMENDED (* changed here)")
for key, value in SETTINGS.items():
    print(f"  {key:<12} {value!r}{'  *' if RECOMMENDED.get(key) != value else ''}")


# every sample recording -> make_segments (with its labels) -> select_evenly
epochs = load_sample_epochs(
    duration=5.0, sfreq=512.0, max_segments=PER_RECORDING, max_channels=MAX_CHANNELS
)
print(pd.concat([ep.metadata for ep in epochs])["signal_type"].value_counts().to_string())

# %%
# Two models, same data
# ---------------------
# Each gets its own copy of the Epochs, so each writes its own embedding and UMAP
# columns into the metadata. Both train from random weights (``init=None``; the 2-D
# defaults would otherwise start from the shipped encoder), so that the comparison
# is of the two inputs, not of pretraining.
models = {
    "2-D spectrogram": msa.SpecAE(**SETTINGS),
    "1-D waveform": msa.SpecAE(**{**SETTINGS, "model": "1d", "normalize": "item"}),
}
copies, scores = {}, {}
for name, ae in models.items():
    ae.fit(epochs, init=None)
    copies[name] = [ep.copy() for ep in epochs]
    for ep in copies[name]:
        ae.add_embeddings(ep)
    msa.add_umap(copies[name], random_state=0)
    hist = ae.history_.to_frame()
    print(
        f"{name}: {type(ae.model_).__name__}, input {ae.image_shape_}, "
        f"{sum(p.numel() for p in ae.model_.parameters()):,} weights, "
        f"{len(hist)} epochs, {hist['samples_per_s'].median():.0f} items/s, "
        f"best val loss {ae.history_.best_loss:.3f}"
    )

# %%
# What the 1-D model reconstructs: one ECG, EEG and EMG segment, standardised
# waveform and reconstruction (the first second).
ae1d = models["1-D waveform"]
fig, axes = plt.subplots(3, 1, figsize=(8, 6), layout="constrained", sharex=True)
for ax, kind in zip(axes, ("ecg", "eeg", "emg")):
    ep = next(e for e in epochs if e.metadata["signal_type"].iloc[0] == kind)[:1]
    recon, inputs = ae1d.reconstruct(ep, return_input=True)
    n = int(ep.info["sfreq"])
    ax.plot(inputs.times[:n], inputs.get_data()[0, 0, :n], lw=1, label="input")
    ax.plot(recon.times[:n], recon.get_data()[0, 0, :n], lw=1, label="reconstruction")
    ax.set(
        ylabel="z-score",
        title=f"{kind.upper()}: {ep.metadata['recording'].iloc[0]}, {ep.ch_names[0]}",
    )
axes[0].legend(loc="upper right", frameon=False)
axes[-1].set_xlabel("Time (s)")

# %%
# ... and the 2-D model, for comparison:
ae2d = models["2-D spectrogram"]
msa.viz.plot_reconstruction(
    ae2d, next(e for e in epochs if e.metadata["signal_type"].iloc[0] == "ecg"), n_examples=1
)

# %%
# The two embeddings
# ------------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
for ax, (name, eps) in zip(axes, copies.items()):
    msa.viz.plot_embedding(eps, hue="signal_type", ax=ax, show=False, title=name)

# %%
# In numbers: leave-one-subject-out kNN balanced accuracy and silhouette of the
# signal type for each model, and for the baseline: a PCA of the 2-D model's input
# spectrograms (its number of components chosen for each held-out subject on the
# other subjects).
rows = []
for name, eps in copies.items():
    scores = msa.evaluate_embeddings(
        eps,
        label="signal_type",
        group="subject",
        estimator=models[name],
        baseline=name.startswith("2-D"),
    )
    rows.append(scores.loc["specae"].rename(name))
    if "pca_logspec" in scores.index:
        baseline = scores.loc["pca_logspec"]
rows.append(baseline.rename(f"PCA of log-spectrograms ({int(baseline['n_features'])})"))
table = pd.DataFrame(rows)
table[["n_features", "n_epochs", "n_groups"]] = table[
    ["n_features", "n_epochs", "n_groups"]
].astype(int)
print(table.round(3).to_string())
two_d, one_d = table["knn_balanced_accuracy"].iloc[:2]
print(
    f"Signal type: the 2-D spectrogram model {'beats' if two_d > one_d else 'does not beat'} "
    f"the 1-D waveform model ({two_d:.3f} vs {one_d:.3f})."
)

# %%
# Read these numbers with the settings in mind: a few segments per recording, a
# few epochs, small images, and 17 subjects. Which input serves better is the
# question the study left open; answering it takes the full datasets, the
# study's image size and a GPU (settings at the top of this page).
