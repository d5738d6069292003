"""Extra training rows of a labelled channel for the channel-type heads: its feature
windows at lower rates and on shorter windows (every type), and — ECG, EEG and EMG
only — 5 s windows and copies under a drift. Which head learns which rows:
:func:`._type_data.training_rows`.
"""

from __future__ import annotations

import numpy as np

from ._type_features import FEATURE_NAMES, window_features
from ._type_windows import at_rate

#: Rates (Hz) each training channel is also seen at (when its own rate is at least
#: 1.5 times higher), and the length (s) of the shorter windows it is also cut into
#: (where the window holds it twice): the head learns that an EMG at 200 Hz or a 10 s
#: EEG recording is still EMG or EEG.
#: The type head learns from the rows at 250, 100 and 32 Hz (and the channel's own
#: rate); the low-rate head (``LOW_RATE``) from those below 37.5 Hz, as a wearable
#: records a PPG or a breathing belt (25-32 Hz) and an EDA or a temperature (4-8 Hz:
#: the Empatica E4 at 4 Hz, the Affectiva Q of the Non-EEG dataset at 8 Hz; rows at
#: 8 Hz too were tried: leave one source out, the other types' specific type was
#: named for 0.629 of their channels against 0.640 without, EDA and temperature alike).
AUGMENT_RATES = (250.0, 100.0, 32.0, 25.0, 16.0, 4.0)
AUGMENT_SECONDS = (10.0,)
#: Augmented rates that only the low-rate head learns from (see ``training_rows``: the
#: type head taught them as well named more of MNE's short EEG test files EOG).
LOW_ONLY_RATES = (25.0, 16.0, 4.0)
#: Shorter windows still (s) that only ECG, EEG and EMG channels are also cut into
#: (``biopotential_features``): a 5 s recording shows a biopotential's rhythm, QRS
#: complexes or bursts, but not a breath, an EDA response or a temperature's course
#: (those need 20 s: ``_type_guards.SLOW_MIN_SECONDS``).
BIOPOTENTIAL_SECONDS = (5.0,)
#: Drifts added to a copy of each training window (and of its shorter windows), as
#: extra rows of ECG, EEG and EMG channels at their own rate (``biopotential_features``): a
#: DC-coupled amplifier (BioSemi, ANT, eXimia) records an electrode's slow drift and,
#: after it starts, a settling transient on every channel, far larger than the EEG
#: (in MNE's 5-11 s test files, 60-97 % of the power below 1.5 Hz). A drift changes no
#: biopotential's type, but a head that never saw one calls such EEG breathing or EDA.
#: Each copy gets a drift of ``DRIFT_SCALE`` (a log-uniform range) times the window's
#: standard deviation: an exponential settling (time constant ``DRIFT_TAUS`` s), a
#: linear trend and slow sines (below ``DRIFT_TOP`` Hz), mixed at random; ``None``: no
#: drifted rows. Leave one source out (2,165 channels of 16 sources), the ECG/EEG/EMG
#: balanced accuracy went from 0.792 to 0.811 with these rows and the 5 s windows
#: (drifts alone 0.801; 5 s windows alone, for every type, 0.801), and to 0.864 with
#: the EOG check sparing a drifting cap electrode
#: (``_type_eog.drifting_cap_electrode``); the other types' specific type named
#: 0.651 -> 0.648. Taught to every type (a breathing belt's or an EDA's signal
#: is as slow as a drift, so a drift replaces it) the rows named it for 0.602; drifts
#: up to 300 x: 0.810 instead of 0.812 (with 5 s windows for every type).
DRIFT_SCALE = (1.0, 100.0)
DRIFT_TAUS = (0.3, 10.0)
DRIFT_TOP = 0.2
#: Seed of the drifts (the rows of a channel are the same on every run).
DRIFT_SEED = 2021


def add_drift(windows, sfreq, rng):
    """``windows`` (``(n_windows, n)``) plus a slow drift each (see ``DRIFT_SCALE``);
    a new array."""
    x = np.asarray(windows, np.float64)
    n_win, n = x.shape
    t = np.arange(n) / sfreq
    sd = x.std(axis=1, keepdims=True)
    sd[~(sd > 0)] = 1.0
    tau = np.exp(rng.uniform(*np.log(DRIFT_TAUS), (n_win, 1)))
    settle = np.exp(-t / tau)
    trend = t / max(t[-1], 1e-9)
    freq = rng.uniform(0.0, DRIFT_TOP, (n_win, 3, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n_win, 3, 1))
    sines = np.sin(2 * np.pi * freq * t + phase).sum(axis=1)
    parts = np.stack([settle, np.broadcast_to(trend, x.shape), sines], axis=1)
    parts = parts - parts.mean(axis=2, keepdims=True)
    parts /= np.maximum(parts.std(axis=2, keepdims=True), 1e-12)
    weights = rng.normal(size=(n_win, 3, 1)) * (rng.random((n_win, 3, 1)) < 0.7)
    weights[np.abs(weights).sum(axis=(1, 2)) == 0, 0] = 1.0
    drift = (weights * parts).sum(axis=1)
    drift /= np.maximum(drift.std(axis=1, keepdims=True), 1e-12)
    scale = np.exp(rng.uniform(*np.log(DRIFT_SCALE), (n_win, 1)))
    return x + drift * scale * sd


def augment_features(windows, sfreq, band_top=None, context=None):
    """``(features, rates)``: feature rows of ``windows`` at lower rates and on shorter
    windows (see ``AUGMENT_RATES``, ``AUGMENT_SECONDS``; bands above ``band_top``, the
    recording's low-pass filter, missing; ``context``, the windows' peer features, kept
    as they are), and the rate of each row;
    ``(0, N_FEATURES)`` rows when none applies. The windows are resampled with zeros
    beyond their edges (with each window's line continued instead, the
    leave-one-source-out balanced accuracy at the channels' own rates fell from 0.773
    to 0.746; with the mean, 0.870 -> 0.847), but for the rows only the low-rate head
    learns from (``LOW_ONLY_RATES``), with each window's mean: a wrist sensor sampled
    at 4 Hz shows no step at a window's edge, while the zeros turned a temperature's or
    a conductance's offset into two. Leave one source out (2,165 channels of 16
    sources), the other types' specific type named went from 0.706 to 0.725 (EDA 1 ->
    11 of 24; 5 more wrong answers, the Non-EEG temperatures called EDA: the only other
    temperature is one channel, too few to learn), ECG/EEG/EMG unchanged."""
    rows, rates = [], []
    for rate in AUGMENT_RATES:
        if sfreq >= 1.5 * rate:
            pad = "mean" if rate in LOW_ONLY_RATES else "constant"
            low, low_rate = at_rate(windows, sfreq, rate, padtype=pad)
            rows.append(window_features(low, low_rate, band_top, context))
            rates += [rate] * len(rows[-1])
    for n in _crops(windows, sfreq):
        rows.append(window_features(windows[:, :n], sfreq, band_top, context))
        rates += [sfreq] * len(rows[-1])
    if not rows:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0)
    return np.concatenate(rows), np.asarray(rates, float)


def _crops(windows, sfreq, seconds=None):
    """Lengths (samples) of the shorter windows (``seconds``, default
    ``AUGMENT_SECONDS``) that fit twice."""
    lengths = (int(round(s * sfreq)) for s in seconds or AUGMENT_SECONDS)
    return [n for n in lengths if windows.shape[1] >= 2 * n]


def biopotential_features(windows, sfreq, band_top=None, context=None):
    """Feature rows that only an ECG, EEG or EMG channel learns from
    (:func:`training_rows`), at ``sfreq``: its shorter windows of
    ``BIOPOTENTIAL_SECONDS``, then the windows and all their shorter windows with a
    drift added (:func:`add_drift`; none when ``DRIFT_SCALE`` is ``None``). A
    biopotential's signal lies above a drift's band, while a drift as large as a
    breathing, EDA or temperature trace replaces it."""
    if not len(windows) or windows.shape[1] < 8:
        return np.empty((0, len(FEATURE_NAMES)))
    rows = [
        window_features(windows[:, :n], sfreq, band_top, context)
        for n in _crops(windows, sfreq, BIOPOTENTIAL_SECONDS)
    ]
    if DRIFT_SCALE is not None:
        rng = np.random.default_rng(DRIFT_SEED)
        rows.append(window_features(add_drift(windows, sfreq, rng), sfreq, band_top, context))
        for n in _crops(windows, sfreq, AUGMENT_SECONDS + BIOPOTENTIAL_SECONDS):
            drifted = add_drift(windows[:, :n], sfreq, rng)
            rows.append(window_features(drifted, sfreq, band_top, context))
    return np.concatenate(rows) if rows else np.empty((0, len(FEATURE_NAMES)))


def training_augment(windows, sfreq, band_top=None, context=None):
    """The extra training rows of a channel's long windows, as :func:`collect_channels`
    keeps them: ``features_aug`` and ``rates_aug`` (:func:`augment_features`) and
    ``features_biopotential`` (:func:`biopotential_features`)."""
    features, rates = augment_features(windows, sfreq, band_top, context)
    extra = biopotential_features(windows, sfreq, band_top, context)
    return dict(features_aug=features, rates_aug=rates, features_biopotential=extra)
