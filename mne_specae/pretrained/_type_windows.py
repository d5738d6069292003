"""Windows of a recording for :func:`~mne_specae.identify_channel_types`.

* the model's windows: each channel at its own rate (for the checks) and resampled
  to the model's (for the encoder), up to ``max_segments``, evenly spread;
* the long windows of the rate-aware features (:data:`FEATURE_SECONDS`), at the
  channel's own rate only.

Windows a channel cannot use (NaN samples, ``BAD`` annotations) are NaN rows.
"""

from __future__ import annotations

import mne
import numpy as np

from ..utils._signals import bridge_nonfinite, evenly_spaced
from ._type_features import FEATURE_SECONDS

#: Seconds read on each side of a window before resampling (the filter's edge).
MARGIN_SECONDS = 0.5


def _resample(x, sfreq, target):
    if sfreq == target:
        return x
    return mne.filter.resample(x, up=target, down=sfreq, method="polyphase", axis=-1, verbose=False)


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
