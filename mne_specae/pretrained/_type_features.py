"""Rate-aware, scale-free features of one channel for the channel-type head.

A mistyped channel's units are unknown (a PPG typed EEG is read in volts, an EDA in
microsiemens typed misc has no unit at all), and its sampling rate may be anything
from 4 Hz (a wristband's EDA or temperature) to several kHz. Every feature here is
therefore computed **at the channel's own rate** on long windows
(:data:`FEATURE_SECONDS`), and none depends on the amplitude:

* relative ``log10`` band powers in fixed bands (:data:`BANDS`, 0.05 to 250 Hz); a
  band above 0.8 x Nyquist is missing (``nan``): the head imputes the training mean
  there, so the sampling rate itself is no feature (no "4 Hz = EDA" shortcut); so is
  a band above the recording's declared low-pass filter (``info["lowpass"]``);
* the spectral slope (log-log), the normalised spectral entropy, the dominant
  frequency, the spectral edge (90 % of the power) and the mean frequency (Hjorth
  mobility) over the band every rate above 8 Hz shares (0.05-3.2 Hz and up to 40 Hz);
* the regularity of periodicities: autocorrelation peaks of the signal smoothed to
  about 16 Hz at heart lags (0.7-3 Hz) and breathing lags (0.1-0.7 Hz), and of the
  envelope of its fast part (above 8 Hz) at heart lags;
* the shape of the waveform: skewness, ``log10`` kurtosis, of the signal and of its
  derivative, sign asymmetry of its extremes, smoothness (the standard deviation of
  the smoothed derivative over that of the signal), the share of a linear trend;
* held samples (exact repeats: quantised sensors, digital lines);
* flatness: the spread of the power density over the bands (white noise: 0);
* the same band powers, slope and entropy from 1.5 Hz up, relative to the power there
  (drifts below do not move them), and the dominance of the power below 1.5 Hz;
* the variability of the RMS envelope over 0.25 s blocks, relative to that of white
  noise (bursts of EMG, blinks; a stationary noise: about 0);
* the window's offset over its standard deviation (``log10``) and its share of
  positive samples: scale-free, but not offset-free, so only the low-rate head reads
  them (:data:`LOW_RATE_ONLY`);
* last, what the other channels of the recording say (:mod:`._type_context`: how
  strongly the channel moves with its peers), given by the caller.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

from ._type_context import CONTEXT_NAMES

#: Length (s) of the windows the features are computed on: slow signals (breathing,
#: EDA) need several cycles.
FEATURE_SECONDS = 30.0
#: Fixed frequency bands (Hz) of the relative band powers.
BANDS = (
    (0.05, 0.15),
    (0.15, 0.4),
    (0.4, 0.8),
    (0.8, 1.5),
    (1.5, 3.0),
    (3.0, 6.0),
    (6.0, 10.0),
    (10.0, 15.0),
    (15.0, 25.0),
    (25.0, 40.0),
    (40.0, 70.0),
    (70.0, 120.0),
    (120.0, 250.0),
)
#: A band counts when its top is below this fraction of the Nyquist frequency.
NYQUIST_USE = 0.8
#: Lags (s) of the heart (0.7-3 Hz) and breathing (0.1-0.7 Hz) periodicities.
HEART_LAGS = (1 / 3.0, 1 / 0.7)
BREATH_LAGS = (1 / 0.7, 1 / 0.1)
#: Rate (Hz) the signal is block-averaged to for the shape and periodicity features.
SMOOTH_RATE = 16.0
#: Spectral shape features use the band up to this frequency (or the usable Nyquist).
SHAPE_TOP = 40.0
#: Blocks (s) of the RMS envelope whose variability is ``envelope_cv``.
ENVELOPE_SECONDS = 0.25

FEATURE_NAMES = [f"logrel_{lo:g}_{hi:g}" for lo, hi in BANDS] + [
    "slope",
    "entropy",
    "log_dominant",
    "log_edge90",
    "log_mobility",
    "acf_heart",
    "acf_breath",
    "acf_envelope",
    "skew",
    "log_kurtosis",
    "skew_diff",
    "log_kurtosis_diff",
    "asymmetry",
    "smoothness",
    "trend_share",
    "held",
    "flatness",
]
#: Bands from HIGH_FROM Hz, relative to the power above it: the shape of the fast
#: part whatever the drifts below (DC-coupled EEG, a moving electrode).
HIGH_FROM = 1.5
HIGH_BANDS = tuple(band for band in BANDS if band[0] >= HIGH_FROM)
FEATURE_NAMES += [f"logrel_high_{lo:g}_{hi:g}" for lo, hi in HIGH_BANDS] + [
    "low_dominance",
    "slope_high",
    "entropy_high",
    "envelope_cv",
    "log_level",
    "positive_share",
]
FEATURE_NAMES += list(CONTEXT_NAMES)
N_FEATURES = len(FEATURE_NAMES)
#: Columns computed from the channel alone (the context columns follow).
N_OWN = N_FEATURES - len(CONTEXT_NAMES)
#: Features only the low-rate head reads (below ``_type_decide.LOW_RATE``: wrist and
#: body sensors): a window's offset over its standard deviation and its share of
#: positive samples. A slow sensor's offset is physical (a skin temperature in degrees,
#: a conductance, gravity on an accelerometer's axis); an electrode's is its
#: amplifier's, and taught to the type head and the channel head they named DC-coupled
#: EEG EOG and 35 of eegmat's EEG channels ``unknown`` (leave one source out).
LOW_RATE_ONLY = ("log_level", "positive_share")


def _block_mean(x, q):
    """Block averages of ``q`` samples along the last axis (a crude low-pass)."""
    if q <= 1:
        return x
    n = x.shape[-1] // q * q
    return x[..., :n].reshape(*x.shape[:-1], -1, q).mean(axis=-1)


def _acf(x):
    """Normalised autocorrelation of each row (FFT, zero-padded), lags 0..n-1."""
    x = x - x.mean(axis=-1, keepdims=True)
    n = x.shape[-1]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size, axis=-1)
    ac = np.fft.irfft(spec * spec.conj(), size, axis=-1)[..., :n]
    zero = ac[..., :1]
    zero[zero <= 0] = np.inf
    return ac / zero


def _peak_in(ac, rate, lags):
    """Highest local maximum of each row of ``ac`` at lags within ``lags`` (s), after
    the first zero crossing; 0 where there is none."""
    lo, hi = int(np.floor(lags[0] * rate)), int(np.ceil(lags[1] * rate))
    out = np.zeros(len(ac))
    n = ac.shape[-1]
    hi = min(hi, n - 2)
    if hi <= max(lo, 1):
        return np.full(len(ac), np.nan)
    for r, row in enumerate(ac):
        below = np.flatnonzero(row < 0)
        start = max(lo, int(below[0]) if below.size else n)
        seg = row[start - 1 : hi + 2] if start <= hi else np.empty(0)
        if seg.size < 3:
            continue
        mid = seg[1:-1]
        peaks = mid[(mid >= seg[:-2]) & (mid >= seg[2:])]
        if peaks.size:
            out[r] = max(float(peaks.max()), 0.0)
    return out


def heart_periodicity(windows, sfreq):
    """Median over windows of ``acf_heart``: the autocorrelation peak at heart lags
    (0.33-1.4 s) of the signal smoothed to about 16 Hz."""
    x = np.asarray(windows, np.float64)
    q = max(1, int(sfreq // SMOOTH_RATE))
    peaks = _peak_in(_acf(_block_mean(x, q)), sfreq / q, HEART_LAGS)
    return float(np.nanmedian(peaks)) if np.isfinite(peaks).any() else np.nan


def _moments(x):
    x = x - x.mean(axis=-1, keepdims=True)
    x2 = x * x
    m2 = x2.mean(axis=-1)
    m2[m2 <= 0] = np.nan
    skew = np.einsum("ij,ij->i", x2, x) / x.shape[-1] / m2**1.5
    kurt = np.einsum("ij,ij->i", x2, x2) / x.shape[-1] / m2**2
    return skew, np.log10(np.maximum(kurt, 1e-3))


def window_features(windows, sfreq, band_top=None, context=None):
    """Features of a channel's windows, at the channel's own rate.

    Parameters
    ----------
    windows : numpy.ndarray, shape (n_windows, n_samples)
        Finite windows of one channel (or of several: each row on its own).
    sfreq : float
        Their sampling rate.
    band_top : float | None
        The recording's own low-pass filter (Hz, ``info["lowpass"]``): bands above it
        are missing as those above 0.8 x Nyquist are (what a filter removed says
        nothing of the signal: a clinical EEG filtered at 45 Hz is not "an EEG without
        gamma"). ``None``: none.
    context : numpy.ndarray, shape (n_windows, len(CONTEXT_NAMES)) | None
        The channel's peer features in the same windows
        (:func:`._type_context.peer_correlations`); ``None``: ``nan``.

    Returns
    -------
    features : numpy.ndarray, shape (n_windows, N_FEATURES)
        In the order of :data:`FEATURE_NAMES`; ``nan`` where a feature does not
        exist at this rate (a band above Nyquist) or for this window.
    """
    x = np.asarray(windows, np.float64)
    if x.ndim != 2:
        raise ValueError(f"windows must be 2D (n_windows, n_samples), got {x.shape}.")
    n_win, n = x.shape
    out = np.full((n_win, N_FEATURES), np.nan)
    if context is not None:
        out[:, N_OWN:] = np.asarray(context, np.float64).reshape(n_win, -1)
    if n_win == 0 or n < 8:
        return out
    level = _level(x)
    x = x - x.mean(axis=1, keepdims=True)
    nyq = sfreq / 2
    nperseg = int(min(n, round(16 * sfreq)))
    freqs, psd = welch(x, fs=sfreq, nperseg=nperseg, detrend="constant", axis=-1)
    usable_top = NYQUIST_USE * nyq
    if band_top is not None and np.isfinite(band_top) and band_top > 0:
        usable_top = min(usable_top, float(band_top))
    in_range = (freqs >= BANDS[0][0]) & (freqs <= usable_top)
    total = psd[:, in_range].sum(axis=1)
    total[total <= 0] = np.nan
    for b, (lo, hi) in enumerate(BANDS):
        if hi > usable_top:
            continue
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            out[:, b] = np.log10(psd[:, sel].sum(axis=1) / total + 1e-6)
    col = len(BANDS)
    top = min(SHAPE_TOP, usable_top)
    shape = (freqs >= BANDS[0][0]) & (freqs <= top)
    if shape.sum() >= 4:
        f, p = freqs[shape], psd[:, shape]
        ptot = p.sum(axis=1, keepdims=True)
        ptot[ptot <= 0] = np.nan
        rel = p / ptot
        logf = np.log10(f)
        logp = np.log10(p + 1e-30)
        lf = logf - logf.mean()
        out[:, col] = (logp - logp.mean(axis=1, keepdims=True)) @ lf / (lf @ lf)
        ent = -(rel * np.log(rel + 1e-30)).sum(axis=1) / np.log(len(f))
        out[:, col + 1] = ent
        out[:, col + 2] = logf[np.argmax(p, axis=1)]
        cum = np.cumsum(rel, axis=1)
        out[:, col + 3] = logf[np.minimum((cum < 0.9).sum(axis=1), len(f) - 1)]
        out[:, col + 4] = 0.5 * np.log10((rel * f**2).sum(axis=1) + 1e-30)
    col += 5
    q = max(1, int(sfreq // SMOOTH_RATE))
    slow = _block_mean(x, q)
    rate = sfreq / q
    ac = _acf(slow)
    out[:, col] = _peak_in(ac, rate, HEART_LAGS)
    out[:, col + 1] = _peak_in(ac, rate, BREATH_LAGS)
    if nyq >= 20:  # the envelope of the fast part (above about 8 Hz)
        qf = max(1, int(sfreq // 16))
        smooth = np.repeat(_block_mean(x, qf), qf, axis=1)
        fast = np.abs(x[:, : smooth.shape[1]] - smooth)
        env = _block_mean(fast, qf)
        out[:, col + 2] = _peak_in(_acf(env), sfreq / qf, HEART_LAGS)
    col += 3
    out[:, col], out[:, col + 1] = _moments(x)
    d = np.diff(slow, axis=1)
    if d.shape[1] >= 4:
        out[:, col + 2], out[:, col + 3] = _moments(d)
    p1, p50, p99 = np.percentile(x, [1, 50, 99], axis=1)
    up, down = p99 - p50, p50 - p1
    out[:, col + 4] = np.log10((up + 1e-30) / (down + 1e-30)).clip(-3, 3)
    sd = slow.std(axis=1)
    sd[sd <= 0] = np.nan
    if d.shape[1] >= 2:
        out[:, col + 5] = np.log10(d.std(axis=1) / sd + 1e-6)
    t = np.linspace(-1, 1, n)
    slope = x @ t / (t @ t)
    var = x.var(axis=1)
    var[var <= 0] = np.nan
    out[:, col + 6] = (slope**2 * (t @ t) / n) / var
    out[:, col + 7] = (np.diff(x, axis=1) == 0).mean(axis=1)
    out[:, col + 8] = _flatness(out[:, : len(BANDS)])
    col += 9
    high = (freqs >= HIGH_FROM) & (freqs <= usable_top)
    p_high = psd[:, high].sum(axis=1)
    p_high[p_high <= 0] = np.nan
    for b, (lo, hi) in enumerate(HIGH_BANDS):
        sel = (freqs >= lo) & (freqs < hi)
        if hi <= usable_top and sel.any():
            out[:, col + b] = np.log10(psd[:, sel].sum(axis=1) / p_high + 1e-6)
    col += len(HIGH_BANDS)
    if high.any():
        low = psd[:, in_range & (freqs < HIGH_FROM)].sum(axis=1)
        out[:, col] = np.log10((low + 1e-30) / p_high).clip(-6, 6)
    band = high & (freqs <= SHAPE_TOP)
    if band.sum() >= 4:
        f, p = freqs[band], psd[:, band]
        logf = np.log10(f)
        lf = logf - logf.mean()
        logp = np.log10(p + 1e-30)
        out[:, col + 1] = (logp - logp.mean(axis=1, keepdims=True)) @ lf / (lf @ lf)
        rel = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
        out[:, col + 2] = -(rel * np.log(rel + 1e-30)).sum(axis=1) / np.log(len(f))
    block = max(2, int(round(ENVELOPE_SECONDS * sfreq)))
    if n // block >= 4:
        rms = np.sqrt(_block_mean(x * x, block))
        mean = rms.mean(axis=1)
        mean[mean <= 0] = np.nan
        # relative to a Gaussian noise's (about 1 / sqrt(2 x block)): 0 for white noise
        out[:, col + 3] = np.log10(rms.std(axis=1) / mean + 1e-6) + 0.5 * np.log10(2 * block)
    out[:, col + 4 : col + 6] = level
    return out


def _level(x):
    """``(n_windows, 2)``: the ``log10`` of each window's offset over its standard
    deviation (clipped to -3..4) and the share of its samples above zero."""
    mean, sd = x.mean(axis=1), x.std(axis=1)
    sd[sd <= 0] = np.nan
    ratio = np.log10(np.abs(mean) / sd + 1e-3).clip(-3, 4)
    return np.stack([ratio, (x > 0).mean(axis=1)], axis=1)


def _flatness(logrel):
    """Spread (standard deviation) of the ``log10`` power density over the bands
    from 0.4 Hz that exist at this rate: about 0 for white noise."""
    widths = np.array([hi - lo for lo, hi in BANDS])
    keep = np.array([lo >= 0.4 for lo, _ in BANDS]) & np.isfinite(logrel).all(axis=0)
    if keep.sum() < 3:
        return np.full(len(logrel), np.nan)
    density = logrel[:, keep] - np.log10(widths[keep])
    return density.std(axis=1)


def band_share(median_features, lo, hi):
    """Share of the power (relative band powers) between ``lo`` and ``hi`` Hz."""
    total = 0.0
    for blo, bhi in BANDS:
        value = median_features[FEATURE_NAMES.index(f"logrel_{blo:g}_{bhi:g}")]
        if blo >= lo and bhi <= hi and np.isfinite(value):
            total += 10.0**value
    return total


def high_share(median_features, lo, hi):
    """Share of the power in 1.5-40 Hz that lies between ``lo`` and ``hi`` Hz (the
    bands from ``HIGH_FROM`` up, relative to the power there: no drift below moves
    them); ``nan`` when no band is left at this rate."""
    part = total = 0.0
    for blo, bhi in HIGH_BANDS:
        value = median_features[FEATURE_NAMES.index(f"logrel_high_{blo:g}_{bhi:g}")]
        if bhi > SHAPE_TOP or not np.isfinite(value):
            continue
        total += 10.0**value
        if blo >= lo and bhi <= hi:
            part += 10.0**value
    return part / total if total > 0 else np.nan
