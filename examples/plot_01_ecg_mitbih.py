"""
.. _ex-ecg:

ECG: MIT-BIH segments, spectrograms and where abnormal beats land
=================================================================

Cut four MIT-BIH Arrhythmia Database records into 5 s segments at 512 Hz, look at
their spectrograms with MNE's own time-frequency plots, train the spectrogram
autoencoder on them, and ask where the encoder puts the segments that contain
non-normal beats. Record 100 comes with the database's reference beat labels
(``100.atr``, read here as :class:`mne.Annotations`); it has 33 atrial premature
beats (``A``) and one premature ventricular contraction (``V``) among 2,239 normal
beats.

**Small settings.** The autoencoder takes the recommended settings, the defaults of
:class:`~mne_specae.SpecAE` (:data:`mne_specae.presets.RECOMMENDED`, printed below),
with a fixed number of training epochs, so that this page runs in about a minute on 2
CPU cores. On a GPU, use the study's method instead:
``SpecAE(**presets.STUDY, device="cuda")``.
"""

# sphinx_gallery_multi_image = "single"

# %%
import inspect

import matplotlib.pyplot as plt
import mne
import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mne_specae as msa
from mne_specae.datasets import get_data_path, load_sample, read_wfdb_annotations
from mne_specae.presets import RECOMMENDED

mne.set_log_level("WARNING")


def db_limits(*tfrs):
    """Colour limits (dB) spanning the 1st to 99.5th percentile of the power."""
    db = 10 * np.log10(np.concatenate([t.data.ravel() for t in tfrs]))
    return tuple(np.percentile(db, [1, 99.5]))


SETTINGS = {**RECOMMENDED, "max_epochs": 12}
print("SpecAE settings: mne_specae.presets.RECOMMENDED (* changed here)")
for key, value in SETTINGS.items():
    print(f"  {key:<12} {value!r}{'  *' if RECOMMENDED.get(key) != value else ''}")

# %%
# The recordings
# --------------
# :func:`~mne_specae.datasets.load_sample` reads the sample records from the data
# folder (``MNE_SPECAE_DATA``); each is an :class:`mne.io.Raw` in volts, two leads
# at 360 Hz. The full database is one call away (not run here):
#
# .. code-block:: python
#
#     headers = msa.datasets.fetch_mitdb()    # the 48 records (~100 MB), checksummed
#     raws = [msa.datasets.read_raw(h) for h in headers]
#     for raw, header in zip(raws, headers):  # every record has reference beat labels
#         raw.set_annotations(read_wfdb_annotations(header))
#
# Cite the database and PhysioNet (:func:`mne_specae.datasets.citations`).
records = ["100", "106", "113", "121"]
raws = load_sample(modalities="ecg", subjects=[f"mitdb-{r}" for r in records])["ecg"]
raw100 = raws[0]
print(raw100)
print(msa.datasets.citations(["mitdb"]))

# %%
# Reference beat labels of record 100 become MNE annotations; MNE shows them on the
# trace (here 10 s around the first atrial premature beat, at 5.7 s).
beats = read_wfdb_annotations(get_data_path() / "ecg/mitdb/100", verbose=False)
print(beats)
raw100.set_annotations(beats)
raw100.plot(
    start=0.0, duration=10.0, scalings=dict(ecg=2e-3), show_scrollbars=False, show_scalebars=False
)

# %%
# Segments
# --------
# :func:`~mne_specae.make_segments` resamples to 512 Hz (polyphase) and cuts 5 s
# segments; the annotations follow into the Epochs, and
# :meth:`mne.Epochs.add_annotations_to_metadata` lists the beats of each segment.
# A segment is ``"abnormal"`` when it holds any beat other than ``N``. All of
# record 100 is kept (its 361 segments hold 34 non-normal beats); of it we keep the
# abnormal segments and as many normal ones, evenly spread, and 12 segments of
# each other record (their first minute).
ep100 = msa.make_segments(raw100, duration=5.0, sfreq=512.0)
ep100.add_annotations_to_metadata()
codes = ep100.metadata["annot_description"]
md = ep100.metadata.drop(columns=["annot_onset", "annot_duration", "annot_description"])
md["beats"] = [sum(c not in ("+(N",) for c in d) for d in codes]
md["abnormal_codes"] = ["".join(sorted({c for c in d if c not in ("N", "+(N")})) for d in codes]
md["rhythm"] = np.where(md["abnormal_codes"] == "", "normal", "abnormal")
ep100.metadata = md
abnormal = np.flatnonzero(md["rhythm"] == "abnormal")
normal = np.flatnonzero(md["rhythm"] == "normal")
normal = normal[np.linspace(0, len(normal) - 1, len(abnormal)).round().astype(int)]
ep100 = ep100[np.sort(np.r_[abnormal, normal])]
print(ep100.metadata["rhythm"].value_counts().to_string())
print(
    ep100.metadata.loc[ep100.metadata["rhythm"] == "abnormal", ["onset", "beats", "abnormal_codes"]]
    .head(8)
    .to_string()
)

epochs = [ep100]
for raw in raws[1:]:
    ep = msa.make_segments(raw.copy().crop(0.0, 60.0), duration=5.0, sfreq=512.0)
    ep.metadata = ep.metadata.assign(rhythm="unlabelled", beats=np.nan, abnormal_codes="")
    epochs.append(ep)
for ep in epochs:
    print(f"{ep.metadata['recording'].iloc[0]}: {len(ep)} segments, channels {ep.ch_names}")

# %%
# Spectrograms as MNE objects
# ---------------------------
# :func:`~mne_specae.compute_spectrogram` returns an
# :class:`mne.time_frequency.EpochsTFRArray` that keeps the metadata, so MNE's
# selection by metadata query works as for any TFR, and
# :func:`~mne_specae.viz.plot_spectrogram` draws it with its units and a frequency
# axis in Hz. Here the average power of the normal and the abnormal segments of record
# 100, lead MLII, with the recommended window and frequency range.
spec_kw = {  # the recommended spectrogram settings (window, frequency axis, detrending)
    k: v
    for k, v in RECOMMENDED.items()
    if k in inspect.signature(msa.Spectrogram).parameters
    and k not in ("resize", "normalize", "output", "top_db")
}
tfr = msa.compute_spectrogram(ep100, picks="MLII", output="power", **spec_kw)
print(tfr)
averages = {rhythm: tfr[f"rhythm == '{rhythm}'"].average() for rhythm in ("normal", "abnormal")}
vlim = db_limits(*averages.values())
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained", sharey=True)
for ax, (rhythm, avg) in zip(axes, averages.items()):
    msa.viz.plot_spectrogram(
        avg,
        picks="MLII",
        vlim=vlim,
        ax=ax,
        show=False,
        colorbar=rhythm == "abnormal",
        title=f"record 100, MLII: {rhythm} segments (n={avg.nave})",
    )

# %%
# Averages blur the beats; one segment shows them, each QRS complex a broadband
# column. This one holds the atrial premature beat at 5.7 s (0.7 s into it): an
# early beat, closer to the one before.
first = int(np.flatnonzero(ep100.metadata["rhythm"] == "abnormal")[0])
single = tfr[first].average()
msa.viz.plot_spectrogram(
    single,
    picks="MLII",
    vlim=db_limits(single),
    title=(
        f"segment at {ep100.metadata['onset'].iloc[first]:.0f} s: beats "
        f"{ep100.metadata['abnormal_codes'].iloc[first]} + normal"
    ),
)

# %%
# The autoencoder
# ---------------
# One :class:`~mne_specae.SpecAE` is trained on every channel of every segment of
# the four records. By default the validation split (for early stopping) holds out
# whole subjects; with four records, one of which holds most segments, that could
# leave most of the data out of training. ``fit(groups=...)`` sets the groups:
# here 5-minute stretches of each record.
groups = np.concatenate(
    [
        ep.metadata["recording"] + "@" + (ep.metadata["onset"] // 300).astype(int).astype(str)
        for ep in epochs
    ]
)
# The settings are the shipped encoder's, so ``fit`` starts from its weights
# (``init="auto"``; it was trained on a corpus without these recordings) and
# fine-tunes them; ``fit(..., init=None)`` trains from random weights.
ae = msa.SpecAE(**SETTINGS)
ae.fit(epochs, groups=groups)
print(ae.history_.to_frame().round(4).to_string(index=False))
msa.viz.plot_history(ae)

# %%
# Reconstructions of two segments of record 100 (input | reconstruction, in the
# network's z-scored dB units). Four 2 x 2 poolings leave the deepest latent only a
# few time steps for 5 s (printed below), yet every beat comes back as a broadband
# column: the network started from the shipped encoder, trained on 125,000 corpus
# spectrograms (a network trained from random weights on these few segments redraws
# the spectral envelope instead). The embedding also keeps the shallower encoder
# blocks, where beat timing is plainest (``pooling="multiscale"``).
height, width = ae.image_shape_[1:]
latent = ae.model_.latent_shape((height, width))
print(
    f"input image {height} x {width} -> latent {latent[0]} x {latent[1]} x {latent[2]} "
    f"({latent[2]} time steps for 5 s)"
)
msa.viz.plot_reconstruction(
    ae,
    ep100,
    idx=[first, int(np.flatnonzero(ep100.metadata["rhythm"] == "normal")[0])],
    pick="MLII",
)

# %%
# Where the embeddings put abnormal beats
# ---------------------------------------
# :meth:`~mne_specae.SpecAE.add_embeddings` writes the pooled encoder features and
# the reconstruction error of each segment into the metadata; one UMAP
# (:func:`~mne_specae.add_umap`) places all segments of the four records.
for ep in epochs:
    ae.add_embeddings(ep)
msa.add_umap(epochs, n_neighbors=10, random_state=0)
msa.viz.plot_embedding(epochs, hue="rhythm", title="Encoder features of MIT-BIH segments (UMAP)")

# %%
# By record: the records differ more than normal and abnormal stretches within
# record 100 do.
msa.viz.plot_embedding(epochs, hue="subject", title="The same, by record")

# %%
# In numbers: the reconstruction error of abnormal and normal segments of record
# 100, and how often a segment's nearest neighbours in embedding space (within
# record 100) share its label.
table = ep100.metadata
print(
    table.groupby("rhythm")["specae_recon_error"]
    .describe()[["count", "mean", "50%", "max"]]
    .round(4)
    .to_string()
)

features = table.filter(like="specae_").to_numpy()
knn = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
cv = StratifiedKFold(5, shuffle=True, random_state=0)
scores = cross_val_score(knn, features, table["rhythm"], cv=cv, scoring="balanced_accuracy")
print(
    f"record 100, normal vs abnormal from the embedding (5-fold kNN): balanced accuracy "
    f"{scores.mean():.2f} +- {scores.std():.2f} (chance 0.50)"
)

# %%
# A segment with one premature beat among five or six normal ones differs little
# from a normal segment in a small 5 s spectrogram: expect a modest separation
# here. Beat-level labels call for shorter windows (e.g. 1 s around each beat) or
# the study's 480 x 640 images.
