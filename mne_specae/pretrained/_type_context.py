"""What a channel's neighbours in the same recording say of it: its peer correlations.

An EEG electrode is never alone: every electrode of a cap picks up the same brain
sources through the skull and shares its reference, so each EEG channel correlates
with several others (volume conduction). The leads of one ECG correlate too (one
heart, seen from several angles). A breathing belt, a pulse oximeter or a skin
conductance electrode has no such partner, and EMG electrodes on different muscles
share little. These features say how strongly a channel moves with the **other
channels picked with it** (:func:`~mne_specae.identify_channel_types` passes them
together), on the same long windows, in a band every biopotential has
(:data:`PEER_BAND`: slow drifts, common to every input of an amplifier, and mains hum
are left out):

* ``peer_r_max``: the largest absolute correlation with any other channel;
* ``peer_r_top3``: the mean of the three largest (a channel of a group, not of a pair).

A channel picked alone, or a window where no other channel is finite, has none
(``nan``: the head imputes the mean of its training channels).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

#: Band (Hz) of the correlations: above the drifts, well below mains hum (the filter,
#: of order ``PEER_ORDER`` and run both ways, takes 50 Hz down by about 70 dB); its top
#: is at most ``PEER_NYQUIST`` x the sampling rate.
PEER_BAND = (1.0, 30.0)
PEER_ORDER = 8
PEER_NYQUIST = 0.4
#: Names of the features, in order (the last columns of ``FEATURE_NAMES``).
CONTEXT_NAMES = ("peer_r_max", "peer_r_top3")
#: Peers of a channel in the sparse montage the channel head also learns from
#: (:func:`recording_context`).
SPARSE_PEERS = 3
#: Seconds left out at each end of a window (the band-pass filter's edges).
EDGE_SECONDS = 1.0
#: Peers averaged in ``peer_r_top3``.
TOP = 3


def peer_correlations(long, sfreq, n_peers=None, seed=0):
    """The peer features of every channel in every window.

    Parameters
    ----------
    long : numpy.ndarray, shape (n_windows, n_channels, n_samples)
        Windows of the channels, aligned in time (NaN rows: a channel unusable in
        that window).
    sfreq : float
        Their sampling rate.
    n_peers : int | None
        With an int, each channel's peers are that many other channels drawn at random
        (the same in every window; a sparse montage, as a 4-electrode headband has,
        for teaching a head); ``None``: all of them.
    seed : int
        The draw's seed.

    Returns
    -------
    context : numpy.ndarray, shape (n_windows, n_channels, len(CONTEXT_NAMES))
        ``nan`` where a channel has no finite peer with power in the band.
    """
    return _peer_features(long, sfreq, (n_peers,), seed)[0]


def recording_context(long, sfreq, teach=False):
    """``(peers, sparse)``: :func:`peer_correlations` of the channels of ``long`` with
    all their peers, and, with ``teach``, with ``SPARSE_PEERS`` drawn at random
    (``None`` without; both from one filtering): the channel head learns from both, so
    that the EEG of a 4-electrode headband, whose electrodes lie far apart, still reads
    as EEG (taught the dense caps alone, it called more of the Muse headband's EEG EMG
    or ECG)."""
    if not teach:
        return _peer_features(long, sfreq, (None,), 0)[0], None
    return tuple(_peer_features(long, sfreq, (None, SPARSE_PEERS), 0))


def _montage(n_ch, n_peers, seed):
    """Which channels each channel may take as peers, ``(n_ch, n_ch)`` booleans."""
    if n_peers is None or n_peers >= n_ch - 1:
        return np.ones((n_ch, n_ch), bool)
    rng = np.random.default_rng(seed)
    allowed = np.zeros((n_ch, n_ch), bool)
    for c in range(n_ch):
        others = np.delete(np.arange(n_ch), c)
        allowed[c, rng.choice(others, n_peers, replace=False)] = True
    return allowed


def _peer_features(long, sfreq, montages, seed):
    """:func:`peer_correlations` for each of ``montages`` (``n_peers`` values), the
    windows filtered and correlated once."""
    long = np.asarray(long, np.float64)
    n_win, n_ch, n = long.shape
    outs = [np.full((n_win, n_ch, len(CONTEXT_NAMES)), np.nan) for _ in montages]
    lo, hi = PEER_BAND[0], min(PEER_BAND[1], PEER_NYQUIST * float(sfreq))
    if n_ch < 2 or hi <= lo or n < 4 * sfreq / lo:  # (windows of a few cycles at least)
        return outs
    edge = min(int(round(EDGE_SECONDS * sfreq)), n // 4)
    alloweds = [_montage(n_ch, n_peers, seed) for n_peers in montages]
    sos = butter(PEER_ORDER, [lo, hi], btype="bandpass", fs=float(sfreq), output="sos")
    if n <= 3 * (2 * len(sos) + 1):  # shorter than the zero-phase filter's padding
        return outs  # (a 10 s window at 4 Hz: 40 samples)
    for w in range(n_win):
        ok = np.flatnonzero(np.isfinite(long[w]).all(axis=1))
        if len(ok) < 2:
            continue
        # zero-phase band-pass (a drift thousands of times the signal stays out), the
        # filter's edges left out
        x = sosfiltfilt(sos, long[w, ok] - long[w, ok].mean(axis=1, keepdims=True), axis=1)
        x = x[:, edge : n - edge]
        x = x - x.mean(axis=1, keepdims=True)
        cov = x @ x.T
        power = np.diag(cov).copy()
        power[power <= 1e-24 * max(power.max(), 1e-300)] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.abs(cov / np.sqrt(np.outer(power, power)))
        np.fill_diagonal(r, np.nan)
        for out, allowed in zip(outs, alloweds):
            peer = np.where(np.isfinite(r) & allowed[np.ix_(ok, ok)], r, -1.0)  # -1: none
            top = -np.sort(-peer, axis=1)[:, :TOP]
            valid = top >= 0
            has = valid[:, 0] & np.isfinite(power)
            with np.errstate(invalid="ignore"):
                mean = np.where(valid, top, 0.0).sum(axis=1) / valid.sum(axis=1)
            out[w, ok, 0] = np.where(has, top[:, 0], np.nan)
            out[w, ok, 1] = np.where(has, mean, np.nan)
    return [np.clip(out, 0.0, 1.0) for out in outs]


def with_context(median, context):
    """A channel's median features with the context columns replaced by the median of
    ``context`` (its windows' peer features in another montage)."""
    median = np.asarray(median, np.float64).copy()
    median[-len(CONTEXT_NAMES) :] = np.nanmedian(context, axis=0)  # (all-nan: nan)
    return median
