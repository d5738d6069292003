"""Named settings of :class:`~mne_specae.SpecAE`: the recommended, the study's, a quick one.

Each preset is a plain dict of :class:`~mne_specae.SpecAE` parameters that define the
method (input stage, network, training); where to run, the seed and the files stay
yours::

    from mne_specae import SpecAE, presets

    SpecAE()                                   # RECOMMENDED: the defaults
    SpecAE(**presets.STUDY, device="cuda")     # the study's network at 480 x 640
    SpecAE(**presets.QUICK)                    # a first look in a minute on a laptop
"""

from __future__ import annotations

#: The defaults of :class:`~mne_specae.SpecAE`: the shipped encoder's recipe
#: (:func:`~mne_specae.load_pretrained`), so that ``SpecAE().fit(epochs)`` of 5 s
#: segments at 512 Hz starts from the shipped weights (``init="auto"``) and a first fit
#: on a laptop is short. Each image is z-scored on its own (``normalize="item"``): the
#: selection of the pretraining recipe (``benchmarks/select_pretraining.py``) kept it,
#: and it transfers across sources, where per-frequency statistics of the training
#: data (``"dataset"``, the defaults before) placed unseen databases' EEG and ECG in
#: the wrong signal type (``benchmarks/bench_identify_normalisation.py``); for the
#: level of each band within a modality, standardise the features within each subject
#: (``add_embeddings(..., standardize_by="subject")``). The rest is physical: 60 Hz is
#: below the Nyquist frequency of every sample recording (the 125 Hz BioSPPy EEG), so
#: no empty band marks a source; removing each segment's mean keeps ADC offsets out of
#: the lowest bands; a log axis gives the 2-8 Hz range (heart-rate harmonics, EEG
#: rhythms) as many rows as 15-60 Hz; 0.5 s windows keep heart beats sharp broadband
#: columns; multi-scale pooling keeps the detail the deepest latent averages away.
#: Masking (``mask_fraction``) did not help in either selection, nor band limits
#: (``band_limit``) at 2-60 Hz, nor larger images on balance (see the model card).
RECOMMENDED = dict(
    model="2d",
    n_fft=256,
    hop_length=40,
    win_length=None,
    window="hann",
    fmin=2.0,
    fmax=60.0,
    freq_scale="log",
    n_freqs=32,
    output="db",
    top_db=60.0,
    detrend="constant",
    normalize="item",
    resize=(32, 64),
    channel_mode="separate",
    n_layers=4,
    filters=32,
    kernel_size=None,
    activation="relu",
    norm=None,
    bottleneck=None,
    max_epochs=12,
    batch_size=32,
    lr=1e-3,
    patience=3,
    val_fraction=0.2,
    scheduler=None,
    mask_fraction=0.0,
    noise_std=0.0,
    band_limit=0.0,
    spectrum_weight=0.0,
    pooling="multiscale",
    channel_agg="mean",
)

#: The study's method: 480 x 640 dB spectrograms of 5 s segments at 512 Hz, at native
#: resolution (``n_fft=958`` gives 480 frequency rows from 0 to 256 Hz; a hop of 4
#: samples gives 641 frames, resized to 640), and its network: 4 convolution layers of
#: 64 3 x 3 filters, each followed by 2 x 2 max-pooling (a 64 x 30 x 40 latent), a
#: transposed-convolution decoder, Adam, MSE and validation early stopping. A GPU job.
STUDY = dict(
    RECOMMENDED,
    n_fft=958,
    hop_length=4,
    fmin=0.0,
    fmax=None,
    freq_scale="linear",
    n_freqs=None,
    top_db=80.0,
    normalize="item",
    detrend=None,
    resize=(480, 640),
    filters=64,
    kernel_size=3,
    max_epochs=50,
    batch_size=64,
    patience=5,
    pooling="mean",
)

#: A first look on a laptop CPU: the recommended input stage with a smaller network
#: and fewer epochs.
QUICK = dict(RECOMMENDED, filters=16, max_epochs=6, patience=2)

PRESETS = {"recommended": RECOMMENDED, "study": STUDY, "quick": QUICK}
