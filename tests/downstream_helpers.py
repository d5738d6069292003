"""Helpers shared by the downstream tests (tests/test_downstream.py and
tests/test_baselines.py; imported by them, not collected: no ``test_`` prefix): recorders
that log what representations are fitted on and transform, cheating and constant
representations, synthetic labelled and sine Epochs, and the real sample segments."""

import mne
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from tiny import TINY_ONE_EPOCH, weights_of

from mne_specae import SpecAE

#: The sample subjects of the real-data tests: 4 eegmat (EEG + ECG lead), 4 UCI (EMG).
SUBJECTS = [
    "eegmat-Subject00",
    "eegmat-Subject01",
    "eegmat-Subject02",
    "eegmat-Subject03",
    "uci-3A",
    "uci-4A",
    "uci-8N",
    "uci-9N",
]


# --------------------------------------------------------------------------- helpers
class CallLog:
    """The calls seen by the recorders. ``clone`` deep-copies the parameters of an
    estimator: this one stays the same object in every clone."""

    def __init__(self):
        self.calls = []

    def __deepcopy__(self, memo):
        return self

    def of(self, kind, tag=None):
        return [c for c in self.calls if c["kind"] == kind and (tag is None or c["tag"] == tag)]


def _as_list(X):
    return list(X) if isinstance(X, (list, tuple)) else [X]


def _segment_ids(epochs_list):
    """(recording or subject, onset or index) of every epoch, in order."""
    ids = []
    for ep in epochs_list:
        md = ep.metadata
        names = md["recording"] if "recording" in md else md["subject"]
        onsets = md["onset"] if "onset" in md else np.arange(len(md))
        ids += [(str(n), float(t)) for n, t in zip(names, onsets)]
    return ids


def _subjects(epochs_list):
    return {str(s) for ep in epochs_list for s in ep.metadata["subject"]}


class Recorder(TransformerMixin, BaseEstimator):
    """Any representation, logging what its fit and transform are given."""

    def __init__(self, inner=None, log=None, tag="recorder"):
        self.inner = inner
        self.log = log
        self.tag = tag

    def fit(self, X, y=None):
        epochs_list = _as_list(X)
        self.log.calls.append(
            dict(
                kind="fit",
                tag=self.tag,
                subjects=_subjects(epochs_list),
                ids=_segment_ids(epochs_list),
            )
        )
        self.inner_ = clone(self.inner).fit(X)
        return self

    def transform(self, X):
        self.log.calls.append(dict(kind="transform", tag=self.tag, ids=_segment_ids(_as_list(X))))
        return self.inner_.transform(X)


class RecordingSpecAE(SpecAE):
    """A SpecAE logging the subjects it is fitted on and the weights and segments of
    every transform (``log`` is set by the test: a class attribute, not a parameter)."""

    log = None

    def fit(self, X, y=None, groups=None, *, verbose=None):
        epochs_list = _as_list(X)
        self.log.calls.append(
            dict(
                kind="fit",
                tag="specae",
                seed=self.random_state,
                subjects=_subjects(epochs_list),
                ids=_segment_ids(epochs_list),
            )
        )
        return super().fit(X, y, groups, verbose=verbose)

    def transform(self, X, verbose=None):
        self.log.calls.append(
            dict(
                kind="transform",
                tag="specae",
                seed=self.random_state,
                trained=self.history_ is not None,
                weights=weights_of(self.model_),
                image_shape=self.image_shape_,
                ids=_segment_ids(_as_list(X)),
            )
        )
        return super().transform(X, verbose=verbose)


class LabelOracle(TransformerMixin, BaseEstimator):
    """Cheats: one feature per class, 1 where the epoch's metadata holds that label."""

    def __init__(self, column="label", classes=("a", "b")):
        self.column = column
        self.classes = classes

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        labels = np.concatenate(
            [ep.metadata[self.column].astype(str).to_numpy() for ep in _as_list(X)]
        )
        return (labels[:, None] == np.asarray(self.classes)[None]).astype(float)


class Constant(TransformerMixin, BaseEstimator):
    """The same three features for every epoch."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.ones((sum(len(ep) for ep in _as_list(X)), 3))


def _labelled_epochs(n_subjects=6, labels=("a",) * 4 + ("b",) * 4, sfreq=128.0, seed=0):
    """One EpochsArray (1 s of noise in one EEG channel per epoch) per subject, with
    ``subject``, ``label`` and ``signal_type`` metadata."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(["EEG0"], sfreq, "eeg")
    out = []
    for s in range(n_subjects):
        md = pd.DataFrame(dict(subject=f"s{s}", label=list(labels), signal_type="eeg"))
        data = 1e-6 * rng.standard_normal((len(labels), 1, int(sfreq)))
        out.append(mne.EpochsArray(data, info, metadata=md, verbose=False))
    return out


def _sine_epochs(
    freqs,
    sfreq=512.0,
    ch_type="eeg",
    n_epochs=3,
    duration=2.0,
    amplitude=1e-5,
    metadata=None,
    noise=0.0,
):
    """EpochsArray of sines: one channel per frequency in ``freqs`` (pure, or plus white
    noise of std ``noise * amplitude``)."""
    times = np.arange(int(round(duration * sfreq))) / sfreq
    data = np.stack([amplitude * np.sin(2 * np.pi * f * times) for f in freqs])
    data = np.repeat(data[None], n_epochs, axis=0)
    data = data + noise * amplitude * np.random.default_rng(0).standard_normal(data.shape)
    info = mne.create_info([f"{ch_type.upper()}{k}" for k in range(len(freqs))], sfreq, ch_type)
    return mne.EpochsArray(data, info, metadata=metadata, verbose=False)


def _initial_weights(seed, image_shape):
    """The weights a tiny SpecAE with this seed starts training from."""
    return weights_of(SpecAE(**dict(TINY_ONE_EPOCH, random_state=seed))._build_model(image_shape))


def _metadata(epochs_list):
    return pd.concat([ep.metadata for ep in epochs_list], ignore_index=True)


def load_real_epochs():
    """2 segments (1 channel) of every sample recording of 4 eegmat and 4 UCI subjects:
    52 segments in 27 Epochs, with a ``source`` column (eegmat / uci). The body of the
    ``real_epochs`` fixture of the test modules."""
    from mne_specae.datasets import load_sample_epochs

    epochs_list = load_sample_epochs(
        subjects=SUBJECTS, max_segments=2, max_channels=1, download=False, verbose=False
    )
    for ep in epochs_list:
        md = ep.metadata
        ep.metadata = md.assign(source=md["subject"].str.split("-").str[0])
    return epochs_list
