"""Windows of a recording for :func:`~mne_specae.identify_channel_types`.

* the model's windows: each channel at its own rate (for the checks) and resampled
  to the model's (for the encoder), up to ``max_segments``, evenly spread;
* the model's windows without their drift (:func:`without_drift`), as the encoder
  sees them;
* the long windows of the rate-aware features (:data:`FEATURE_SECONDS`), at the
  channel's own rate only;
* the rate a channel was sampled at (:func:`sampled_rate`): a file's rate, or a
  lower one for a channel that carries nothing above some frequency, as when a reader
  upsamples the slow channels of a multi-rate file (MNE's EDF reader resamples every
  channel to the highest rate, by FFT), or whose every sample is repeated a whole
  number of times (a stream forward-filled to a common rate, as wearables' exports
  merge theirs).

Windows a channel cannot use (NaN samples, ``BAD`` annotations) are NaN rows.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import mne
import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt
from scipy.signal.windows import dpss

from ..utils._signals import bridge_nonfinite, evenly_spaced
from ._type_features import FEATURE_SECONDS

#: Corner (Hz) of the high-pass the model's windows pass before the encoder
#: (:func:`without_drift`). The shipped encoder reads 2-60 Hz, each 0.5 s frame with
#: its mean removed: an electrode's drift or an amplifier's settling, 1-100 times
#: the signal (DC-coupled EEG), leaked into its lowest bands and, through the
#: spectrogram's 60 dB range, erased the rest (UCI lower-limb EMG under a settling
#: transient 20 times its size came out ``ecg``, 4 of 4). Below 2 Hz the encoder
#: sees nothing anyway: a 4th-order Butterworth at 0.5 Hz, forward and backward,
#: keeps 99.9 % of the amplitude at 1.2 Hz (a heart's beat) and all from 2 Hz up.
DRIFT_HIGHPASS = 0.5
#: Seconds read on each side of a window before resampling (the filter's edge).
MARGIN_SECONDS = 0.5
#: A channel's band edge is where the power above it falls below this fraction of
#: its total (of the differenced signal: drifts do not hide the top of the band). An
#: FFT-upsampled channel keeps about 1e-16 there; each of 967 corpus channels sampled
#: at their rate kept more than this above 0.95 x Nyquist.
EDGE_TOLERANCE = 1e-10
#: Time-bandwidth of the Slepian taper of the band-edge spectrum (leakage < 1e-20).
EDGE_NW = 8.0
#: A channel whose twice band edge is below this fraction of its rate is judged at
#: that lower rate (:func:`sampled_rate`).
BAND_LIMITED = 0.75
#: The lowest rate a band-limited channel is judged at (the features' lowest).
MIN_SAMPLED_RATE = 4.0
#: A channel whose value changes only on a grid of ``k >= 2`` samples, in every window
#: with at least this many changes, was sampled at ``sfreq / k`` and each sample held
#: ``k`` times (:func:`held_step`).
MIN_HELD_CHANGES = 20


def _resample(x, sfreq, target):
    if sfreq == target:
        return x
    return mne.filter.resample(x, up=target, down=sfreq, method="polyphase", axis=-1, verbose=False)


def without_drift(items, sfreq):
    """``items`` (``(..., n)``, rows with NaN stay NaN) high-passed at
    :data:`DRIFT_HIGHPASS`, zero-phase; a new float64 array."""
    sos = _drift_sos(float(sfreq))
    x = np.asarray(items, np.float64)
    if x.shape[-1] <= 3 * (2 * len(sos) + 1):  # too short for the filter's padding
        return x - x.mean(axis=-1, keepdims=True)
    # reflected (odd) over the whole window: the filter's edge transient, seconds long
    # at 0.5 Hz, stays out of the window
    return sosfiltfilt(sos, x, axis=-1, padlen=x.shape[-1] - 1)


@lru_cache(maxsize=8)
def _drift_sos(sfreq):
    return butter(4, DRIFT_HIGHPASS, "highpass", fs=sfreq, output="sos")


def raw_windows(raw, idx, duration, target, max_segments):
    """Windows of a Raw: ``(orig, resampled)``, each ``(n_windows, n_ch, n)`` with NaN
    rows for windows a channel cannot use (NaN samples, BAD annotations)."""
    sfreq = raw.info["sfreq"]
    seg = int(round(duration * sfreq))
    n_out = int(round(duration * target))
    margin = 0 if sfreq == target else int(round(MARGIN_SECONDS * sfreq))
    orig, res = [], []
    for k in evenly_spaced(raw.n_times // seg, max_segments):
        a, b = max(0, k * seg - margin), min(raw.n_times, (k + 1) * seg + margin)
        x = raw.get_data(picks=idx, start=a, stop=b, reject_by_annotation="NaN")
        inner = slice(k * seg - a, k * seg - a + seg)
        bad = ~np.isfinite(x[:, inner]).all(axis=1)
        x = bridge_nonfinite(x)  # margins touching a BAD span or a gap: held values
        y = _resample(x, sfreq, target)
        off = int(round((k * seg - a) * target / sfreq))
        y = y[:, off : off + n_out]
        if y.shape[1] < n_out:  # the last window, short by a rounding sample
            y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), mode="edge")
        x = x[:, inner]
        x[bad], y[bad] = np.nan, np.nan
        orig.append(x)
        res.append(y)
    return orig, res


def epochs_windows(epochs, idx, duration, target, max_segments):
    sfreq = epochs.info["sfreq"]
    seg = int(round(duration * sfreq))
    n_out = int(round(duration * target))
    per_epoch = len(epochs.times) // seg
    pairs = [(e, w) for e in range(len(epochs)) for w in range(per_epoch)]
    orig, res = [], []
    for p in evenly_spaced(len(pairs), max_segments):
        e, w = pairs[p]
        x = epochs.get_data(picks=idx, item=[e])[0][:, w * seg : (w + 1) * seg]
        bad = ~np.isfinite(x).all(axis=1)
        y = _resample(bridge_nonfinite(x), sfreq, target)[:, :n_out]
        if y.shape[1] < n_out:
            y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), mode="edge")
        x[bad], y[bad] = np.nan, np.nan
        orig.append(x)
        res.append(y)
    return orig, res


def feature_windows(inst, idx, n_windows, min_seconds):
    """Long windows at the recording's rate: ``(n_windows, n_ch, n)``, NaN rows where
    a channel has a NaN sample or the window touches a ``BAD`` span. A window lasts
    ``FEATURE_SECONDS`` (or the whole recording / epoch when shorter, but at least
    ``min_seconds``); empty when there is none."""
    sfreq = inst.info["sfreq"]
    out = []
    if isinstance(inst, mne.io.BaseRaw):
        n = min(int(round(FEATURE_SECONDS * sfreq)), inst.n_times)
        if n < min_seconds * sfreq - 1e-6 or n < 8:
            return np.empty((0, len(idx), max(n, 0)))
        for k in evenly_spaced(inst.n_times // n, n_windows):
            x = inst.get_data(picks=idx, start=k * n, stop=(k + 1) * n, reject_by_annotation="NaN")
            out.append(x)
    else:
        n = min(int(round(FEATURE_SECONDS * sfreq)), len(inst.times))
        if n < min_seconds * sfreq - 1e-6 or n < 8:
            return np.empty((0, len(idx), max(n, 0)))
        for e in evenly_spaced(len(inst), n_windows):
            out.append(inst.get_data(picks=idx, item=[int(e)])[0][:, :n])
    if not out:
        return np.empty((0, len(idx), n))
    x = np.stack(out).astype(np.float64, copy=False)
    x[~np.isfinite(x).all(axis=2)] = np.nan
    return x


@lru_cache(maxsize=8)
def _taper(n):
    return dpss(n, EDGE_NW)


def band_edge(windows, sfreq):
    """The frequency (Hz) above which a channel holds less than ``EDGE_TOLERANCE`` of
    its power, the median over its finite windows ``(n_windows, n)``; ``nan`` when no
    window is long enough (16 samples) or every one is constant."""
    windows = np.asarray(windows, float)
    if windows.ndim != 2 or windows.shape[1] < 16:
        return np.nan
    n = windows.shape[1]
    t = np.arange(n) - (n - 1) / 2
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    edges = []
    for x in windows[np.isfinite(windows).all(axis=1)]:
        x = x - np.polyval(np.polyfit(t, x, 1), t)
        x = np.diff(x, append=x[-1])
        power = np.abs(np.fft.rfft(x * _taper(n))) ** 2
        total = power.sum()
        if not total > 0:
            continue
        above = np.cumsum(power[::-1])[::-1] / total  # power at and above each bin
        edges.append(freqs[max(0, int(np.searchsorted(-above, -EDGE_TOLERANCE)) - 1)])
    # less the taper's half-bandwidth, by which the top of the band spreads upward
    return max(0.0, float(np.median(edges)) - EDGE_NW * sfreq / n) if edges else np.nan


def held_step(windows):
    """``k >= 2`` when every change of value in the finite windows ``(n_windows, n)``
    falls on one grid of ``k`` samples (windows with fewer than ``MIN_HELD_CHANGES``
    changes say nothing), else 1: the samples were held ``k`` times each."""
    steps = []
    for x in np.asarray(windows, float):
        if not np.isfinite(x).all():
            continue
        changes = np.flatnonzero(np.diff(x) != 0)
        if len(changes) >= MIN_HELD_CHANGES:
            steps.append(int(np.gcd.reduce(np.diff(changes))))
    return int(np.gcd.reduce(steps)) if steps else 1


def sampled_rate(windows, sfreq):
    """``(rate, held)``: the rate (Hz) a channel was sampled at, and whether its samples
    are held (repeated) at ``sfreq``. A channel held ``k`` times (:func:`held_step`) was
    sampled at ``sfreq / k`` (or a multiple of it, to stay at or above
    ``MIN_SAMPLED_RATE``); one that holds nothing above some frequency (``band_edge``
    below ``BAND_LIMITED`` x Nyquist) at twice that frequency rounded up to whole Hz
    (at least ``MIN_SAMPLED_RATE``); any other at ``sfreq``."""
    step = held_step(windows)
    if step > 1:
        step = max(d for d in range(1, step + 1) if step % d == 0 and sfreq / d >= MIN_SAMPLED_RATE)
        if step > 1:
            return sfreq / step, True
    edge = band_edge(windows, sfreq)
    if not np.isfinite(edge) or 2 * edge >= BAND_LIMITED * sfreq:
        return float(sfreq), False
    return float(min(sfreq, max(MIN_SAMPLED_RATE, np.ceil(round(2 * edge, 3))))), False


def at_rate(windows, sfreq, rate, *, held=False, padtype="line"):
    """``(windows, rate)``: ``windows`` (last axis: time) at about ``rate`` and the rate
    they are at. ``held``: every ``sfreq / rate``-th sample, the samples as they were
    taken (``sfreq / rate`` must be whole). Else resampled from ``sfreq`` by a
    polyphase filter (``rate`` to a ratio of at most 1000); ``padtype`` as in
    :func:`scipy.signal.resample_poly`: ``"line"`` (continuing each window's line)
    leaves its edges as they are, as a channel sampled at ``rate`` has them; the
    training rows at other rates are made with ``"constant"`` (zeros beyond the
    edges: a window's offset turns into steps there), but those only the low-rate
    head learns from with ``"mean"`` (see ``_type_augment.augment_features``)."""
    if rate == sfreq:
        return windows, float(sfreq)
    if held:
        step = int(round(sfreq / rate))
        if not np.isclose(sfreq / rate, step):
            raise ValueError(f"held samples: {sfreq:g} Hz is not a whole multiple of {rate:g} Hz")
        return windows[..., ::step], sfreq / step
    frac = Fraction(rate / sfreq).limit_denominator(1000)
    low = resample_poly(windows, frac.numerator, frac.denominator, axis=-1, padtype=padtype)
    return low, sfreq * frac.numerator / frac.denominator
