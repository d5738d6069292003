"""Channels that are none of ECG, EEG or EMG, recognised without a model.

A model trained on ECG, EEG and EMG always answers one of the three; these checks
catch, before it is asked, the channels where any answer would be wrong: flat or
nearly flat channels, trigger and status channels (a few levels held for long
stretches), slow sensors (a goniometer, a temperature, a respiration belt: nothing
above a few hertz) and pure tones (a sine, mains hum from an open input). Each check
works on the channel's own windows at its own sampling rate, and returns the reason
a channel is ``"unknown"``, or ``""``.

The thresholds are physical and were checked on the developers' recordings (every
real ECG, EEG and EMG channel passes; see the model card):

* ``FLAT_STD``: a window whose standard deviation is below 1e-13 (0.1 pV in volts)
  is flat; a channel is flat when half its windows are.
* ``HELD_FRACTION``: when half of the samples repeat the previous one exactly, the
  channel holds levels (a trigger, status or digital line); real channels repeat at
  most 27 % (quantised EMG at rest).
* ``LEVEL_FRACTION``: when 99.5 % of a window's samples fall in the 8 fullest of 200
  equal bins across its range (the median over windows), the channel jumps between a
  few levels with some noise (a noisy trigger); the highest real channel reached
  97 % (sparse EMG bursts).
* ``MIN_FAST_FRACTION``: the fraction of the power between 1 Hz and
  ``min(60 Hz, Nyquist)`` that lies above 10 Hz (after removing each window's linear
  trend); below 0.2 % the channel is a slow sensor.
* ``TONE_FRACTION``: the fraction of that power within 1 Hz of the spectral peak;
  above 80 % the channel is a tone.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

FLAT_STD = 1e-13
HELD_FRACTION = 0.5
LEVEL_FRACTION = 0.995
MIN_FAST_FRACTION = 0.002
TONE_FRACTION = 0.8
#: Band of the spectral checks: 1 Hz to min(BAND_TOP, Nyquist); "fast" above FAST_FROM.
BAND_TOP = 60.0
FAST_FROM = 10.0


def spectral_fractions(windows, sfreq):
    """Median fast fraction and tone fraction of a channel's windows.

    Parameters
    ----------
    windows : numpy.ndarray, shape (n_windows, n_samples)
        The channel's windows at its own sampling rate.
    sfreq : float
        That rate.

    Returns
    -------
    fast, tone : float
        See the module's notes; ``nan`` when the band is empty (``sfreq < 2 Hz``).
    """
    nperseg = int(min(windows.shape[1], round(2 * sfreq)))  # 0.5 Hz resolution
    freqs, psd = welch(windows, fs=sfreq, nperseg=nperseg, detrend="linear", axis=-1)
    top = min(BAND_TOP, sfreq / 2)
    band = (freqs >= 1.0) & (freqs <= top)
    if band.sum() < 3:
        return np.nan, np.nan
    power = psd[:, band]
    total = power.sum(axis=1)
    total[total <= 0] = np.nan
    fast = power[:, freqs[band] > FAST_FROM].sum(axis=1) / total
    peak = freqs[band][np.argmax(power, axis=1)]
    near = np.abs(freqs[band][None, :] - peak[:, None]) <= 1.0
    tone = (power * near).sum(axis=1) / total
    return float(np.nanmedian(fast)), float(np.nanmedian(tone))


def held_fraction(windows):
    """Fraction of the samples equal to the one before."""
    return float((np.diff(windows, axis=1) == 0).mean())


def level_fraction(windows, n_bins=200, n_levels=8):
    """Median over windows of the share of samples in the ``n_levels`` fullest bins."""
    shares = []
    for w in windows:
        counts, _ = np.histogram(w, n_bins)
        shares.append(np.sort(counts)[-n_levels:].sum() / counts.sum())
    return float(np.median(shares))


def check_channel(windows, sfreq):
    """Why a channel is not a biosignal the model knows, or ``""``.

    Parameters
    ----------
    windows : numpy.ndarray, shape (n_windows, n_samples)
        The channel's finite windows at its own sampling rate.
    sfreq : float
        That rate.

    Returns
    -------
    reason : str
        Empty when the channel passes every check.
    stats : dict
        ``flat_fraction``, ``held_fraction``, ``level_fraction``, ``fast_fraction``,
        ``tone_fraction`` (``nan`` where a check was not reached).
    """
    stats = dict(
        flat_fraction=np.nan,
        held_fraction=np.nan,
        level_fraction=np.nan,
        fast_fraction=np.nan,
        tone_fraction=np.nan,
    )
    if len(windows) == 0:
        return "no finite segment", stats
    std = windows.std(axis=1)
    stats["flat_fraction"] = float((std <= FLAT_STD).mean())
    if stats["flat_fraction"] >= 0.5:
        return "flat", stats
    stats["held_fraction"] = held_fraction(windows)
    if stats["held_fraction"] >= HELD_FRACTION:
        return "holds levels (a trigger, status or digital channel)", stats
    fast, tone = spectral_fractions(windows, sfreq)
    stats.update(fast_fraction=fast, tone_fraction=tone)
    if not np.isfinite(fast):
        return f"sampled too slowly ({sfreq:g} Hz)", stats
    if fast < MIN_FAST_FRACTION:
        return "nothing above 10 Hz (a slow sensor or drift)", stats
    if tone > TONE_FRACTION:
        return "a single tone (a sine, or mains hum from an open input)", stats
    stats["level_fraction"] = level_fraction(windows)
    if stats["level_fraction"] >= LEVEL_FRACTION:
        return "jumps between a few levels (a noisy trigger or status channel)", stats
    return "", stats
