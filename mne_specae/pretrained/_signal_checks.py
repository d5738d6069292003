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
  is flat; a channel is flat when half its windows are, all at one level (flat
  windows at several levels are a coarse slow sensor: the wrist temperature of the
  Non-EEG dataset moves in 0.2 degree steps and holds each for seconds).
* ``HELD_FRACTION``: when half of the samples repeat the previous one exactly, the
  channel holds levels (a trigger, status or digital line); real channels repeat at
  most 27 % (quantised EMG at rest).
* ``LEVEL_FRACTION``: when 99.5 % of a window's samples fall in the 8 fullest of 200
  equal bins across its range (the median over windows), and fewer than
  ``NOISY_HELD`` (10 %) of its samples repeat the one before (noise, not a coarse
  converter), the channel jumps between a few levels with some noise (a noisy
  trigger); the highest real channel reached 97 % (sparse EMG bursts).
* ``MIN_FAST_FRACTION``: the fraction of the power between 1 Hz and
  ``min(60 Hz, Nyquist)`` that lies above 10 Hz (after removing each window's linear
  trend); below 0.2 % the channel is a slow sensor.
* ``TONE_FRACTION``: the fraction of that power within 1 Hz of the spectral peak;
  above 80 % the channel is a tone.

**A rectified envelope** (an EMG envelope, an RMS or a power trace: a *processed*
signal, MNE type ``misc``, kind ``"envelope"``) is never negative and rests at zero
part of the time (the muscle at rest), with bursts upward. Of the samples of the
windows looked at, pooled, exact zeros left out (a pulse oximeter's dropouts, a
clipped converter):

* ``ENVELOPE_NEGATIVE``: at most 0.1 % are negative;
* ``ENVELOPE_FLOOR``: the 0.5th percentile lies within 0.3 standard deviations of
  zero (``floor``: the UniBo EMG envelopes 0.002-0.16, moving-RMS envelopes of the
  sample's gait EMG 0.09-0.16 where the muscle rests in each stride; an unsigned
  PPG, a pressure or a temperature sits far above zero, a signed biopotential far
  below);
* ``ENVELOPE_REST``: the median lies within 1.5 standard deviations of that floor
  (``rest``: the UniBo envelopes 0.04-0.71, the gait envelopes 0.5-1.2; a
  respiration belt or a pulse oscillates about its mean, 2.2-3.1 in the corpus);
* ``ENVELOPE_PERIODIC``: and it is no pulse wave whose troughs touch zero (a PPG
  scaled to 0-1): its smoothed autocorrelation peak at heart lags (``periodic``, as
  the feature ``acf_heart``) stays below 0.7 (synthetic PPG and pressure 0.75-0.83;
  the UniBo envelopes 0.00, the gait envelopes, beating with the stride, 0.45-0.57).

A muscle that never rests gives an envelope far above zero: it is left to the head.
Other traces with a floor at zero meet the checks too, and are ``misc`` as well: two
of twelve knee goniometers of the developers' UCI recordings (a knee angle resting
near zero, flexing upward) come out ``misc`` with kind ``"envelope"`` (the kind is
wrong there, the MNE type right).
In the corpus (``benchmarks/bench_types_corpus.py``) the rule names 159 of UniBo's
160 envelopes and one other channel: the 125 Hz "EMG" of an MNE BDF fixture, which
is itself non-negative (99.5 % of its samples at or above zero: a rectified EMG).
A trigger resting at zero meets the checks too, which is why the trigger checks come
first.

Which of these are ``stim`` (a stimulus, trigger, status or event channel) rather than
``"unknown"``: a channel holding levels whose values are few and far apart, and one
jumping between a few levels with noise. Holding levels is not enough: a slow sensor
read through a coarse converter (a skin temperature in steps of 0.01 °C at 4 Hz)
repeats most samples too, but it moves between **neighbouring** levels and has many
of them; a trigger jumps across its range, and rests at one level most of the time:

* ``STIM_MAX_LEVELS``: a stimulus channel has at most 64 distinct values over the
  windows looked at;
* ``STIM_BASELINE``: and rests at its most common value at least half the time with
  its excursions on one side of it (``STIM_ONE_SIDED``: 95 % of them; a quantised
  EMG at rest also rests at one value, but swings both ways), or ``STIM_JUMPS``: at
  least half of its changes skip a level (a status code), or it has at most two
  values.

With a channel-type head (``slow_ok=True``), slow channels and quantised slow
sensors are left to the head (they are respiration, EDA, temperature, motion), and a
channel is a tone only when most of its power lies above 1 Hz (a breathing wave is
nearly a sine at 0.25 Hz; the share is of each whole window's power, so the slow part
of an EOG or an EDA with mains hum counts) and the band from 1 Hz to Nyquist is at
least 5 Hz wide;
below 4 Hz (a walk, a pulse: nearly periodic) the tone must hold 95 % of the power.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

from ._type_features import heart_periodicity

FLAT_STD = 1e-13
HELD_FRACTION = 0.5
LEVEL_FRACTION = 0.995
MIN_FAST_FRACTION = 0.002
TONE_FRACTION = 0.8
STIM_MAX_LEVELS = 64
STIM_BASELINE = 0.5
STIM_JUMPS = 0.5
STIM_ONE_SIDED = 0.95
#: The few-levels check needs a noisy channel: fewer repeated samples than this.
NOISY_HELD = 0.1
#: With ``slow_ok``, the tone check needs this share of the power above 1 Hz.
TONE_BAND_SHARE = 0.5
#: With ``slow_ok``, the tone check needs a band (1 Hz to Nyquist) this wide (Hz): at
#: 4 Hz every peak is "within 1 Hz" of the whole band.
TONE_MIN_BAND = 5.0
#: With ``slow_ok``, a peak below ``SLOW_TONE_BELOW`` Hz is a tone only when this pure.
SLOW_TONE_BELOW = 4.0
SLOW_TONE_FRACTION = 0.95
#: A rectified envelope: see the notes.
ENVELOPE_NEGATIVE = 0.001
ENVELOPE_FLOOR = 0.3
ENVELOPE_REST = 1.5
ENVELOPE_PERIODIC = 0.7
#: Reasons of the stimulus channels (``predicted == "stim"``).
HELD_STIM = "holds levels (a trigger, status or digital channel)"
LEVELS_STIM = "jumps between a few levels (a noisy trigger or status channel)"
#: Reason of a rectified envelope (``predicted == "misc"``, kind ``"envelope"``).
ENVELOPE = (
    "a rectified envelope: never negative, resting at zero with bursts upward "
    "(a processed signal such as an EMG envelope, or another trace with a floor at "
    "zero such as a joint angle)"
)
#: Band of the spectral checks: 1 Hz to min(BAND_TOP, Nyquist); "fast" above FAST_FROM.
BAND_TOP = 60.0
FAST_FROM = 10.0


def linear_detrend(x):
    """``x`` less its least-squares line along the last axis (scipy's ``"linear"``
    detrend in closed form: the same result, without a least-squares solver per
    segment)."""
    n = x.shape[-1]
    t = np.arange(n) - (n - 1) / 2
    denom = float(t @ t) or 1.0
    slope = (x * t).sum(axis=-1, keepdims=True) / denom
    return x - x.mean(axis=-1, keepdims=True) - slope * t


def spectral_fractions(windows, sfreq, *, band_share=False):
    """Median fast fraction and tone fraction of a channel's windows.

    Parameters
    ----------
    windows : numpy.ndarray, shape (n_windows, n_samples)
        The channel's windows at its own sampling rate.
    sfreq : float
        That rate.
    band_share : bool
        Also return the median share of the power (above 0 Hz) that lies in the band.

    Returns
    -------
    fast, tone : float
        See the module's notes; ``nan`` when the band is empty (``sfreq < 2 Hz``).
    share, peak : float
        Only with ``band_share=True``: the share, and the median frequency of the
        spectral peak in the band.
    """
    nperseg = int(min(windows.shape[1], round(2 * sfreq)))  # 0.5 Hz resolution
    freqs, psd = welch(windows, fs=sfreq, nperseg=nperseg, detrend=linear_detrend, axis=-1)
    top = min(BAND_TOP, sfreq / 2)
    band = (freqs >= 1.0) & (freqs <= top)
    if band.sum() < 3:
        return (np.nan, np.nan) + ((np.nan, np.nan) if band_share else ())
    power = psd[:, band]
    total = power.sum(axis=1)
    total[total <= 0] = np.nan
    fast = power[:, freqs[band] > FAST_FROM].sum(axis=1) / total
    peak = freqs[band][np.argmax(power, axis=1)]
    near = np.abs(freqs[band][None, :] - peak[:, None]) <= 1.0
    tone = (power * near).sum(axis=1) / total
    out = (float(np.nanmedian(fast)), float(np.nanmedian(tone)))
    if band_share:
        every = psd[:, freqs > 0].sum(axis=1)
        every[every <= 0] = np.nan
        out += (float(np.nanmedian(total / every)), float(np.median(peak)))
    return out


def _share_above_1hz(windows, sfreq):
    """Median share of each window's power (its mean removed, nothing else) above 1 Hz."""
    freqs, psd = welch(windows, fs=sfreq, nperseg=windows.shape[1], detrend="constant", axis=-1)
    every = psd[:, freqs > 0].sum(axis=1)
    every[every <= 0] = np.nan
    return float(np.nanmedian(psd[:, freqs >= 1.0].sum(axis=1) / every))


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


def stim_levels(windows):
    """Whether held levels are those of a stimulus channel (see the module's notes).

    Returns
    -------
    is_stim : bool
    stats : dict
        ``n_levels`` (distinct values), ``baseline`` (share of the most common
        value), ``jumps`` (share of the changes that skip a level), ``one_sided``
        (the largest share of the other samples on one side of the most common
        value).
    """
    values, inverse, counts = np.unique(windows, return_inverse=True, return_counts=True)
    n_levels = len(values)
    stats = dict(n_levels=n_levels, baseline=float(counts.max() / counts.sum()), jumps=np.nan)
    if n_levels > STIM_MAX_LEVELS:
        return False, stats
    codes = inverse.reshape(windows.shape)
    steps = np.abs(np.diff(codes, axis=1))
    changes = steps[steps > 0]
    stats["jumps"] = float((changes > 1).mean()) if changes.size else 0.0
    mode = int(np.argmax(counts))
    away = codes[codes != mode]
    above = float((away > mode).mean()) if away.size else 1.0
    stats["one_sided"] = max(above, 1.0 - above)
    is_stim = (
        n_levels <= 2
        or stats["jumps"] >= STIM_JUMPS
        or (stats["baseline"] >= STIM_BASELINE and stats["one_sided"] >= STIM_ONE_SIDED)
    )
    return bool(is_stim), stats


def envelope_stats(windows):
    """``(negative, floor, rest)`` of a channel's pooled windows, exact zeros left out
    (see the notes): the share of negative samples, the 0.5th percentile and the
    median's height above it, both in standard deviations."""
    values = np.asarray(windows, np.float64).ravel()
    values = values[values != 0]
    std = values.std() if values.size else 0.0
    if not std > 0:
        return np.nan, np.nan, np.nan
    low, median = np.percentile(values, [0.5, 50.0])
    return float((values < 0).mean()), float(low / std), float((median - low) / std)


def is_envelope(negative, floor, rest):
    """Whether :func:`envelope_stats` are those of a rectified envelope."""
    return bool(
        negative <= ENVELOPE_NEGATIVE and 0.0 <= floor < ENVELOPE_FLOOR and rest < ENVELOPE_REST
    )


def check_channel(windows, sfreq, *, slow_ok=False, band_top=None):
    """Why a channel is not a biosignal the model knows, or ``""``.

    Parameters
    ----------
    windows : numpy.ndarray, shape (n_windows, n_samples)
        The channel's finite windows at its own sampling rate.
    sfreq : float
        That rate.
    slow_ok : bool
        Leave slow channels (and quantised slow sensors) to a channel-type head
        instead of calling them ``"unknown"``; see the module's notes.
    band_top : float | None
        The top of the channel's band (Hz): half the rate it was sampled at, when a
        reader upsampled it; ``None``: ``sfreq / 2``. A tone needs a band of 5 Hz above
        1 Hz (a pulse sampled at 4 Hz is nearly a sine, at any rate it is read at).

    Returns
    -------
    reason : str
        Empty when the channel passes every check.
    stats : dict
        ``flat_fraction``, ``held_fraction``, ``level_fraction``, ``fast_fraction``,
        ``tone_fraction``, ``floor``, ``rest``, ``periodic`` (``nan`` where a check was not
        reached), ``stim``: whether the reason says a stimulus channel
        (``HELD_STIM``, ``LEVELS_STIM``), and ``envelope``: whether it says a
        rectified envelope (``ENVELOPE``).
    """
    stats = dict(
        flat_fraction=np.nan,
        held_fraction=np.nan,
        level_fraction=np.nan,
        fast_fraction=np.nan,
        tone_fraction=np.nan,
        floor=np.nan,
        rest=np.nan,
        periodic=np.nan,
        stim=False,
        envelope=False,
    )
    if len(windows) == 0:
        return "no finite segment", stats
    flat = windows.std(axis=1) <= FLAT_STD
    stats["flat_fraction"] = float(flat.mean())
    # flat windows at different levels are a coarse slow sensor (a temperature in
    # 0.2 degree steps, constant over seconds), not a dead input
    if stats["flat_fraction"] >= 0.5 and np.ptp(windows[flat, 0]) <= FLAT_STD:
        return "flat", stats
    stats["held_fraction"] = held_fraction(windows)
    if stats["held_fraction"] >= HELD_FRACTION:
        is_stim, _ = stim_levels(windows)
        if is_stim:
            stats["stim"] = True
            return HELD_STIM, stats
        if not slow_ok:
            return "holds levels, moving between neighbouring ones (a quantised slow sensor)", stats
    fast, tone, share, peak = spectral_fractions(windows, sfreq, band_share=True)
    stats.update(fast_fraction=fast, tone_fraction=tone)
    if not slow_ok:
        if not np.isfinite(fast):
            return f"sampled too slowly ({sfreq:g} Hz)", stats
        if fast < MIN_FAST_FRACTION:
            return "nothing above 10 Hz (a slow sensor or drift)", stats
    top = sfreq / 2 if band_top is None else min(band_top, sfreq / 2)
    wide = top - 1.0 >= TONE_MIN_BAND  # "within 1 Hz of the peak" means something
    # a walk or a pulse is nearly periodic at 1-3 Hz: a low peak must be purer
    purity = TONE_FRACTION if not slow_ok or peak >= SLOW_TONE_BELOW else SLOW_TONE_FRACTION
    if tone > purity and slow_ok and share >= TONE_BAND_SHARE and wide:
        # the slow part counts too (the linear detrend above removes it from each
        # 2 s segment): an EOG or an EDA with mains hum is no tone
        share = _share_above_1hz(windows, sfreq)
    if tone > purity and (not slow_ok or (share >= TONE_BAND_SHARE and wide)):
        return "a single tone (a sine, or mains hum from an open input)", stats
    stats["level_fraction"] = level_fraction(windows)
    # few levels with noise; a quantised sensor (repeated samples) has few levels
    # in a short window without being a trigger
    if stats["level_fraction"] >= LEVEL_FRACTION and stats["held_fraction"] < NOISY_HELD:
        stats["stim"] = True
        return LEVELS_STIM, stats
    negative, stats["floor"], stats["rest"] = envelope_stats(windows)
    if is_envelope(negative, stats["floor"], stats["rest"]):
        stats["periodic"] = heart_periodicity(windows, sfreq)
        if not stats["periodic"] >= ENVELOPE_PERIODIC:  # nan (too short): no beat seen
            stats["envelope"] = True
            return ENVELOPE, stats
    return "", stats
