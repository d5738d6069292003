"""Helpers of :func:`~mne_specae.annotate_unusual` that need no model.

* the segment grid of a recording at its own rate (segment ``k`` starts
  ``k * duration`` seconds after the first sample, as in
  :func:`~mne_specae.make_segments`);
* per channel and segment, on the **original samples** (before any resampling, which
  turns a held level into a ripple far above ``FLAT_STD``): whether the segment holds
  a level (flat or clipped) and whether it has NaN/Inf samples;
* bad-channel candidates: channels that deviate in most of their segments;
* the returned annotations when ``meas_date`` is None and ``first_samp > 0``.
"""

from __future__ import annotations

import mne
import numpy as np

from ..utils._checks import check_number
from ._signal_checks import FLAT_STD, HELD_FRACTION


def segment_bounds(raw, duration):
    """Start and stop samples (from the first sample) of each whole segment."""
    sfreq = float(raw.info["sfreq"])
    n_segments = int(np.floor(raw.n_times / (duration * sfreq) + 1e-9))
    k = np.arange(n_segments + 1)
    edges = np.round(k * duration * sfreq).astype(int)
    return edges[:-1], edges[1:]


def original_checks(raw, names, duration):
    """Per segment and channel, from the samples at the recording's own rate.

    Returns
    -------
    held : numpy.ndarray of bool, shape (n_segments, n_channels)
        At least ``HELD_FRACTION`` of the segment's consecutive samples differ by at
        most ``FLAT_STD`` (flat at any level, or clipped at the rails).
    nonfinite : numpy.ndarray of bool, shape (n_segments, n_channels)
        The segment has a NaN or Inf sample.
    """
    starts, stops = segment_bounds(raw, duration)
    held = np.zeros((len(starts), len(names)), bool)
    nonfinite = np.zeros_like(held)
    data = raw.get_data(picks=names)  # one read (a file-backed Raw is read once)
    for c, row in enumerate(data):
        bad = np.r_[0, np.cumsum(~np.isfinite(row))]
        with np.errstate(invalid="ignore"):
            still = np.abs(np.diff(row)) <= FLAT_STD  # NaN steps are not still
        still = np.r_[0, np.cumsum(still)]
        n_steps = np.maximum(stops - starts - 1, 1)
        held[:, c] = (still[stops - 1] - still[starts]) / n_steps >= HELD_FRACTION
        nonfinite[:, c] = bad[stops] - bad[starts] > 0
    return held, nonfinite


def check_bad_channel_fraction(value):
    """``bad_channel_fraction`` as a float in ``(0, 1]``."""
    value = check_number(value, "bad_channel_fraction")
    if not 0 < value <= 1:
        raise ValueError(
            f"bad_channel_fraction must be in (0, 1] (1 turns bad-channel "
            f"candidates off), got {value:g}."
        )
    return value


def bad_channel_candidates(scores, fraction):
    """Channels whose share of unusual segments (of those scored) exceeds
    ``fraction``, in the order of ``scores``; and that share per channel."""
    scored = scores[scores["z"].notna()]
    share = scored.groupby("channel", sort=False)["unusual"].mean()
    return [ch for ch, s in share.items() if s > fraction], share


class _AnnotationsOfRaw(mne.Annotations):
    """Annotations (``orig_time=None``, onsets from the first sample) of a Raw without
    measurement date whose first sample is not 0.

    MNE keeps such a Raw's ``raw.annotations`` with onsets from sample 0 (that is,
    ``first_time`` later) but reads ``orig_time=None`` onsets from the first sample in
    ``set_annotations``: ``raw.set_annotations(raw.annotations + annot)`` would move
    the existing annotations by ``first_time``. Added to that very ``raw.annotations``
    object, these annotations give the sum in the first-sample convention, so the
    idiom keeps every annotation where it was.
    """

    _raw_annotations = None
    _raw_first_time = 0.0

    def __radd__(self, other):
        if other is not self._raw_annotations or other.orig_time is not None:
            return NotImplemented
        out = mne.Annotations(
            other.onset - self._raw_first_time,
            other.duration,
            other.description,
            orig_time=None,
            ch_names=other.ch_names,
            extras=other.extras,
        )
        out += mne.Annotations(
            self.onset, self.duration, self.description, orig_time=None, ch_names=self.ch_names
        )
        return out


def annotations_for(raw, onsets, durations, description, ch_names):
    """The returned Annotations, in the frame of ``raw`` (see annotate_unusual)."""
    kwargs = dict(
        onset=onsets,
        duration=durations,
        description=[description] * len(onsets),
        orig_time=raw.info["meas_date"],
        ch_names=ch_names if onsets else None,
    )
    if raw.info["meas_date"] is not None or raw.first_samp == 0:
        return mne.Annotations(**kwargs)
    annotations = _AnnotationsOfRaw(**kwargs)
    annotations._raw_annotations = raw.annotations
    annotations._raw_first_time = float(raw.first_time)
    return annotations
