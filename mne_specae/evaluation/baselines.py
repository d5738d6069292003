"""What the embeddings are compared with: hand-crafted and unlearned representations.

Each is a small scikit-learn transformer of Epochs (one Epochs or a list; one row per
epoch, channels averaged like :class:`~mne_specae.SpecAE`'s default
``channel_agg="mean"``), so the downstream protocol
(:func:`~mne_specae.compare_representations`) fits and applies every representation
the same way, on exactly the same segments:

* :class:`BandPowers`: log band powers from MNE's Welch PSD, the hand-crafted features
  the study wants to replace (delta..gamma for EEG, wider bands for EMG and ECG);
* :class:`InputPCA`: a PCA of the autoencoder's own input images (what a linear
  "autoencoder" learns);
* :class:`RandomWeights`: the same encoder with the weights it started from (does the
  training add anything?);
* the features users would pick instead, per channel: :class:`Catch22` (pycatch22),
  :class:`EMGTimeDomain` (libemg's time-domain set) and :class:`HeartRateFeatures`
  (heart rate and its variability from a simple R-peak detector).

The hand-crafted ones (:class:`BandPowers` and the per-channel sets) also keep each
channel's features with ``channel_agg="concat"``.
"""

from __future__ import annotations

import copy

import numpy as np
from mne.utils import _validate_type
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..estimator import _build
from ..estimator._items import ItemSet
from ..estimator.metadata import epochs_list_of
from ..estimator.specae import SpecAE
from ..spectral._recording import images_of
from ..utils._picks import pick_channels as resolve_picks
from ._handcrafted import (
    CATCH22_NAMES,
    CHANNEL_AGGREGATIONS,
    Catch22,
    EMGTimeDomain,
    aggregate_channels,
    check_transform_channels,
    feature_names,
    fitted_channels,
)
from ._heart_rate import HEART_RATE_FEATURES, HeartRateFeatures, detect_r_peaks

__all__ = [
    "BANDS",
    "CATCH22_NAMES",
    "CHANNEL_AGGREGATIONS",
    "HEART_RATE_FEATURES",
    "BandPowers",
    "Catch22",
    "EMGTimeDomain",
    "HeartRateFeatures",
    "InputPCA",
    "RandomWeights",
    "detect_r_peaks",
]

#: Bands (Hz) of :class:`BandPowers` per signal type; ``"mixed"`` is used when the
#: Epochs hold more than one signal type: bands below 60 Hz, the Nyquist frequency of
#: the slowest sample recording (the 125 Hz BioSPPy EEG), so that no empty band marks
#: a source.
BANDS = {
    "eeg": dict(
        delta=(1.0, 4.0), theta=(4.0, 8.0), alpha=(8.0, 13.0), beta=(13.0, 30.0), gamma=(30.0, 45.0)
    ),
    "emg": dict(
        emg_10_30=(10.0, 30.0),
        emg_30_60=(30.0, 60.0),
        emg_60_100=(60.0, 100.0),
        emg_100_150=(100.0, 150.0),
        emg_150_250=(150.0, 250.0),
    ),
    "ecg": dict(
        ecg_0_3=(0.5, 3.0),
        ecg_3_8=(3.0, 8.0),
        ecg_8_15=(8.0, 15.0),
        ecg_15_30=(15.0, 30.0),
        ecg_30_60=(30.0, 60.0),
    ),
    "mixed": dict(
        delta=(1.0, 4.0), theta=(4.0, 8.0), alpha=(8.0, 13.0), beta=(13.0, 30.0), gamma=(30.0, 60.0)
    ),
}


def _signal_types(epochs_list):
    types = set()
    for ep in epochs_list:
        md = ep.metadata
        if md is not None and "signal_type" in md:
            types |= set(md["signal_type"].astype(str))
        else:
            types |= set(ep.get_channel_types(picks=resolve_picks(ep.info, None)))
    return types


class BandPowers(TransformerMixin, BaseEstimator):
    """Log band powers: the hand-crafted baseline.

    The Welch PSD of each channel (:meth:`mne.Epochs.compute_psd`, 1 s windows with
    half overlap), averaged over each band, as ``log10`` of V²/Hz, then averaged over
    the channels of the epoch (or kept per channel); the relative powers (each band
    over the sum of the bands, ``log10``) are added, so that both the level and the
    shape of the spectrum are features (``2 * n_bands`` columns per channel).

    Parameters
    ----------
    bands : ``"auto"`` | str | dict
        ``{name: (fmin, fmax)}`` in Hz, a key of :data:`BANDS` (``"eeg"``, ``"emg"``,
        ``"ecg"``, ``"mixed"``), or ``"auto"``: the bands of the signal type of the
        data fitted on (``"mixed"`` for several types).
    picks : str | list | None
        Channels (MNE's rules; ``None``: the data channels, bads excluded).
    channel_agg : ``"mean"`` | ``"concat"``
        Average the channels' features, or concatenate them (``2 * n_bands`` per
        channel, channel after channel; the same number of channels in every Epochs).
    """

    def __init__(self, bands="auto", picks=None, channel_agg="mean"):
        self.bands = bands
        self.picks = picks
        self.channel_agg = channel_agg

    def _resolve_bands(self, epochs_list):
        if isinstance(self.bands, dict):
            bands = self.bands
        elif not isinstance(self.bands, str):
            bands = None
        elif self.bands == "auto":
            types = _signal_types(epochs_list)
            bands = BANDS[types.pop() if len(types) == 1 and types <= set(BANDS) else "mixed"]
        elif self.bands in BANDS:
            bands = BANDS[self.bands]
        else:
            bands = None
        if bands is None:
            raise ValueError(
                f"bands must be 'auto', one of {sorted(BANDS)} or a dict of "
                f"name: (fmin, fmax); got {self.bands!r}."
            )
        for name, edges in bands.items():
            if len(edges) != 2 or not 0 <= edges[0] < edges[1]:
                raise ValueError(
                    f"Band {name!r} must be (fmin, fmax) with 0 <= fmin < fmax, got {edges!r}."
                )
        return dict(bands)

    def fit(self, X, y=None):
        """Choose the bands (with ``bands="auto"``) and check them against the data."""
        epochs_list = epochs_list_of(X)
        self.n_channels_, self.channel_names_ = fitted_channels(
            epochs_list, self.picks, self.channel_agg
        )
        bands = self._resolve_bands(epochs_list)
        nyquist = min(ep.info["sfreq"] for ep in epochs_list) / 2
        above = [name for name, (_, fmax) in bands.items() if fmax > nyquist]
        if above:
            raise ValueError(
                f"Bands {above} reach above the Nyquist frequency of the data "
                f"({nyquist:g} Hz): choose lower bands or resample."
            )
        self.bands_ = bands
        return self

    def transform(self, X):
        """``(n_epochs, 2 * n_bands)`` float64: log powers, then log relative powers
        (``2 * n_bands`` per channel with ``channel_agg="concat"``)."""
        check_is_fitted(self, "bands_")
        rows = []
        for ep in epochs_list_of(X):
            n_fft = min(len(ep.times), int(round(ep.info["sfreq"])))
            spectrum = ep.compute_psd(
                method="welch",
                picks=resolve_picks(ep.info, self.picks),
                n_fft=n_fft,
                n_overlap=n_fft // 2,
                fmin=0.0,
                fmax=max(f for _, f in self.bands_.values()),
                verbose=False,
            )
            psd, freqs = spectrum.get_data(picks="all", return_freqs=True)
            check_transform_channels(psd.shape[1], self.n_channels_, self.channel_agg)
            empty = [
                name
                for name, (lo, hi) in self.bands_.items()
                if not ((freqs >= lo) & (freqs < hi)).any()
            ]
            if empty:
                raise ValueError(
                    f"Bands {empty} hold no frequency of the Welch PSD (resolution "
                    f"{freqs[1] - freqs[0]:g} Hz with {n_fft}-sample windows): widen them."
                )
            powers = np.stack(
                [
                    psd[..., (freqs >= lo) & (freqs < hi)].mean(axis=-1)
                    for lo, hi in self.bands_.values()
                ],
                axis=-1,
            )
            powers = np.maximum(powers, np.finfo(np.float64).tiny)
            relative = powers / powers.sum(axis=-1, keepdims=True)
            values = np.concatenate([np.log10(powers), np.log10(relative)], axis=-1)
            rows.append(aggregate_channels(values, self.channel_agg, nan_safe=False))
        return np.concatenate(rows)

    def get_feature_names_out(self, input_features=None):
        """``logpow_<band>`` then ``relpow_<band>`` (per channel with
        ``channel_agg="concat"``: ``<name>_<channel>``)."""
        check_is_fitted(self, "bands_")
        names = [f"logpow_{b}" for b in self.bands_] + [f"relpow_{b}" for b in self.bands_]
        return feature_names(names, self.channel_agg, self.channel_names_)


def input_images(epochs_list, stage, picks=None, batch_size=256, channel_agg="mean"):
    """One flattened input image per epoch: every channel through ``stage`` (its
    ``to_images``), the channels averaged (``channel_agg="mean"``) or each kept, one
    after the other (``"concat"``: the same number of channels in every Epochs)."""
    import torch

    fitted_channels(epochs_list, picks, channel_agg)  # a known option; concat: one count
    rows = []
    with torch.no_grad():
        for ep in epochs_list:
            data = ep.get_data(picks=resolve_picks(ep.info, picks)).astype(np.float32)
            n_ep, n_ch, n_times = data.shape
            flat = torch.from_numpy(data.reshape(-1, n_times))
            labels = None  # normalize="recording": each Epochs' recordings and channels
            if getattr(stage, "needs_item_index", False):
                labels = ItemSet(ep, picks=resolve_picks(ep.info, picks)).recordings(True)
            images = images_of(stage, flat, labels, batch_size)
            images = images.reshape(n_ep, n_ch, -1)
            rows.append(
                (images.mean(dim=1) if channel_agg == "mean" else images.flatten(1)).numpy()
            )
    return np.concatenate(rows)


class InputPCA(TransformerMixin, BaseEstimator):
    """PCA of the autoencoder's input images: the linear baseline.

    Every channel goes through exactly the input stage ``estimator`` would use (its
    spectrogram settings, with normalisation statistics fitted on the training channels
    where the settings need them; a waveform model uses the standardised waveforms);
    the images
    are flattened and averaged over the channels of each epoch (or kept side by side,
    ``channel_agg="concat"``), standardised, and projected on their first
    ``n_components`` principal components, fitted on the training data only.

    Parameters
    ----------
    estimator : SpecAE | None
        Whose input stage to use (fitted or not); ``None``: the recommended settings.
    n_components : int
        Principal components kept (fewer when the data have fewer epochs).
    random_state : int
        Seed of the PCA solver.
    batch_size : int
        Channels per batch of the input stage.
    channel_agg : ``"mean"`` | ``"concat"``
        Average the channels' images, or keep each (the same number of channels in
        every Epochs, at fitting and after): the baseline of a
        ``SpecAE(channel_agg="concat")``.
    """

    def __init__(
        self, estimator=None, n_components=32, random_state=0, batch_size=256, channel_agg="mean"
    ):
        self.estimator = estimator
        self.n_components = n_components
        self.random_state = random_state
        self.batch_size = batch_size
        self.channel_agg = channel_agg

    def _images(self, epochs_list):
        return input_images(
            epochs_list, self.stage_, self.picks_, self.batch_size, channel_agg=self.channel_agg
        )

    def fit(self, X, y=None):
        """Build the input stage, compute the training images and fit the PCA."""
        import torch
        from sklearn.decomposition import PCA
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        epochs_list = epochs_list_of(X)
        estimator = SpecAE() if self.estimator is None else self.estimator
        _validate_type(estimator, SpecAE, "estimator", "SpecAE or None")
        self.picks_ = estimator.picks
        self.n_channels_, _ = fitted_channels(epochs_list, self.picks_, self.channel_agg)
        stage = getattr(estimator, "input_stage_", None)
        if stage is None:
            stage = _build.input_stage(estimator, epochs_list[0].info["sfreq"])
        if getattr(stage, "channel_mode", "separate") != "separate":
            stage = copy.copy(stage)
            stage.channel_mode = "separate"
        self.stage_ = stage.cpu().eval()
        if getattr(self.stage_, "needs_fitting", False) and stage is not getattr(
            estimator, "input_stage_", None
        ):
            # e.g. normalize="dataset": statistics of the training channels, as SpecAE.fit
            self.stage_ = copy.deepcopy(self.stage_)
            waves = np.concatenate(
                [
                    ep.get_data(picks=resolve_picks(ep.info, self.picks_))
                    .astype(np.float32)
                    .reshape(-1, len(ep.times))
                    for ep in epochs_list
                ]
            )
            self.stage_.fit_normalization(torch.from_numpy(waves), batch_size=self.batch_size)
        images = self._images(epochs_list)
        n_components = max(1, min(int(self.n_components), len(images) - 1, images.shape[1]))
        self.pipeline_ = make_pipeline(
            StandardScaler(), PCA(n_components=n_components, random_state=self.random_state)
        )
        self.pipeline_.fit(images)
        return self

    def transform(self, X):
        """``(n_epochs, n_components)`` principal-component scores."""
        check_is_fitted(self, "pipeline_")
        epochs_list = epochs_list_of(X)
        for ep in epochs_list:
            n_channels = len(resolve_picks(ep.info, self.picks_))
            check_transform_channels(n_channels, self.n_channels_, self.channel_agg)
        return self.pipeline_.transform(self._images(epochs_list))


class RandomWeights:
    """The encoder of another representation, with random weights.

    In :func:`~mne_specae.compare_representations`, ``RandomWeights("specae")`` is the
    representation named ``"specae"`` after it was fitted in each fold, with its
    network re-initialised as a fit from random weights starts (same seed, same input
    stage): the difference between the two is what training added. For a fit that
    started from pretrained weights (``init="auto"`` with the shipped encoder's
    settings, the defaults), it is what pretraining and fine-tuning added together.

    Parameters
    ----------
    source : str
        Name of the :class:`~mne_specae.SpecAE` representation to copy.
    """

    def __init__(self, source="specae"):
        _validate_type(source, str, "source")
        self.source = source

    def __repr__(self):
        return f"RandomWeights({self.source!r})"

    @staticmethod
    def from_fitted(estimator):
        """A copy of a fitted SpecAE whose network has its initial (untrained) weights."""
        check_is_fitted(estimator, "model_")
        untrained = copy.deepcopy(estimator)
        untrained.model_ = _build.model(estimator, estimator.image_shape_).eval()
        untrained.history_ = None
        return untrained
