"""Raw -> segment Epochs: the study's first step (resample to 512 Hz, cut 5 s segments)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from numbers import Real

import mne
import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _check_option, _validate_type, logger, use_log_level, verbose

from .utils._checks import check_positive
from .utils._files import file_stem
from .utils._picks import SIGNAL_TYPES as SIGNAL_TYPES  # the public constant
from .utils._picks import pick_channels
from .utils._signals import bridge_nonfinite, evenly_spaced, no_finite_channels

#: The metadata columns make_segments fills itself.
BUILTIN_COLUMNS = ("signal_type", "subject", "recording", "onset", "sfreq_orig")

_ON_NONFINITE = ("drop", "raise")


def check_segment_settings(duration, sfreq, overlap=0.0):
    """Check a segment length, rate and overlap once, before any recording is read.

    Returns ``(duration, sfreq, overlap)`` as floats. Refused: non-positive or
    non-finite values, an overlap outside ``[0, duration)``, and segments (or steps
    between them) shorter than one sample at ``sfreq``.
    """
    duration = check_positive(duration, "duration")
    sfreq = check_positive(sfreq, "sfreq")
    _validate_type(overlap, Real, "overlap", "number")
    if not 0 <= overlap < duration:
        raise ValueError(
            f"overlap must be >= 0 and shorter than duration ({duration} s), got {overlap}."
        )
    step = (duration - float(overlap)) * sfreq
    if step < 1:
        what = "duration * sfreq" if not overlap else "(duration - overlap) * sfreq"
        raise ValueError(
            f"{what} = {step:g} samples: a segment (and the step from one segment to "
            f"the next) must hold at least one sample at {sfreq:g} Hz. Use a longer "
            f"duration (at least {1 / sfreq + overlap:g} s) or a higher sfreq."
        )
    return duration, sfreq, float(overlap)


def _check_metadata(metadata):
    """The caller's extra columns: no built-in name; constants or 1-D sequences."""
    _validate_type(metadata, (dict, None), "metadata", "dict or None")
    metadata = dict(metadata or {})
    clash = [key for key in metadata if key in BUILTIN_COLUMNS]
    if clash:
        raise ValueError(
            f"metadata names built-in column(s) {clash}, which make_segments fills itself "
            f"({', '.join(BUILTIN_COLUMNS)}). Use subject=... / recording=... for those, "
            "or rename your column."
        )
    for key, value in metadata.items():
        if not np.isscalar(value) and value is not None and np.ndim(value) != 1:
            raise ValueError(
                f"metadata[{key!r}] must be a constant or one value per "
                f"segment, got an array of shape {np.shape(value)}."
            )
    return metadata


def _metadata_table(columns, metadata, n_segments, n_dropped):
    table = pd.DataFrame(columns)
    for key, value in metadata.items():
        if not np.isscalar(value) and value is not None and len(value) != n_segments:
            raise ValueError(
                f"metadata[{key!r}] has {len(value)} values for {n_segments} segments "
                f"({n_dropped} dropped); give a constant, or one value per kept segment "
                "(or add the column to epochs.metadata afterwards)."
            )
        table[key] = value
    return table


def _check_all_nonfinite_channels(raw):
    """Name the channels that hold no finite sample at all."""
    dead = no_finite_channels(raw.ch_names, raw.get_data())
    if dead:
        raise ValueError(
            f"Channel(s) {dead} hold no finite sample (NaN/Inf throughout): nothing to "
            f"segment. Mark them bad (raw.info['bads'] += {dead}) or drop them."
        )


def _subject_of(raw):
    info = raw.info.get("subject_info") or {}
    for key in ("his_id", "id"):
        if info.get(key) not in (None, ""):
            return str(info[key])
    return "unknown"


def raw_name(raw, default="unknown"):
    """The name of a Raw, the package's one rule: ``info["description"]``, else its
    file's name without extensions (:func:`~mne_specae.utils._files.file_stem`), else
    ``default``."""
    if raw.info.get("description"):
        return str(raw.info["description"])
    filenames = [f for f in (raw.filenames or ()) if f is not None]
    return file_stem(filenames[0]) if filenames else default


def _pick_signal(raw, picks):
    """Copy the Raw with the chosen channels only (:func:`~mne_specae.utils._picks.
    pick_channels`: bads excluded unless named; the ones left out logged)."""
    return raw.copy().pick(pick_channels(raw.info, picks, log_bads=True))


def _check_one_type(raw):
    types = raw.get_channel_types()
    unique = sorted(set(types))
    if len(unique) > 1:
        counts = ", ".join(f"{t}: {types.count(t)} channel(s)" for t in unique)
        example = ", ".join(repr(t) for t in unique)
        raise ValueError(
            f"This Raw mixes signal types ({counts}); one Epochs holds one signal type. "
            f"Pick one with picks='{unique[0]}', or segment each type: "
            f"[make_segments(raw, picks=t) for t in ({example})]."
        )
    return unique[0]


def _nonfinite_spans(raw):
    """Return the number of NaN/Inf samples and (onset, offset) times in s of their runs."""
    finite = np.isfinite(raw.get_data())
    n_bad = int(finite.size - finite.sum())
    bad = ~finite.all(axis=0)
    del finite
    if not n_bad:
        return 0, []
    edges = np.flatnonzero(np.diff(np.r_[0, bad.astype(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    times = raw.times
    dt = 1.0 / raw.info["sfreq"]
    spans = [(times[a], times[b - 1] + dt) for a, b in zip(starts, stops)]
    return n_bad, spans


def _crop_for_polyphase(raw, sfreq, duration, overlap, recording):
    """Leave out the last few samples of ``raw`` (in place) so that its length is a
    multiple of the rates' reduced denominator, when no segment is lost by it.

    MNE's polyphase resampling takes its up/down factors from the lengths before and
    after (``n_out / n_in`` reduced): a 30-min MIT-BIH record of 650,000 samples at
    360 Hz gives 231111/162500 and a low-pass filter of 4.6 million taps (0.7 s a
    record, and a timing off by a fraction of a sample), where the rates' own ratio
    is 64/45 (1,281 taps). At a multiple of 45 samples the two agree. The samples
    left out come after the last segment (never in one); counted in the log.
    """
    sfreq_orig = raw.info["sfreq"]
    ratio = Fraction(sfreq).limit_denominator(10_000) / Fraction(sfreq_orig).limit_denominator(
        10_000
    )
    n = raw.n_times
    keep = n - n % ratio.denominator
    if keep == n or keep <= 0:
        return

    def n_segments(n_samples):
        return int(np.floor((n_samples / sfreq_orig - duration) / (duration - overlap) + 1e-9))

    if n_segments(keep) != n_segments(n):
        return  # a segment would be lost: MNE's ratio of lengths it is
    raw.crop(tmin=0.0, tmax=raw.times[keep - 1], include_tmax=True, verbose=False)
    logger.info(
        f"{recording}: the last {n - keep} sample(s) after the last segment left out, "
        f"so that resampling {sfreq_orig:g} -> {sfreq:g} Hz uses the ratio "
        f"{ratio.numerator}/{ratio.denominator}"
    )


@verbose
def make_segments(
    raw,
    duration=5.0,
    sfreq=512.0,
    *,
    picks=None,
    overlap=0.0,
    reject_by_annotation=True,
    on_nonfinite="drop",
    metadata=None,
    subject=None,
    recording=None,
    resample_method="polyphase",
    verbose=None,
):
    """Cut a recording into fixed-length segments at a common sampling rate.

    The study's first step: resample to 512 Hz, cut 5 s segments. Works on a copy
    (the Raw you pass is never changed), resamples with :meth:`mne.io.Raw.resample`,
    cuts with fixed-length events, and preloads.

    Parameters
    ----------
    raw : mne.io.Raw
        A continuous recording of one signal type (ECG, EEG or EMG); ``info["bads"]``
        and ``BAD_*`` annotations are honoured.
    duration : float
        Segment length in seconds (the study: 5 s).
    sfreq : float
        Sampling rate of the segments in Hz (the study: 512 Hz). Recordings at
        another rate are resampled (up or down); a recording sampled below
        ``2 * fmax`` has nothing above its own Nyquist frequency, which the
        ``sfreq_orig`` metadata column lets you check.
    picks : str | list | None
        Channels to keep (names, types or indices, as in MNE). ``None`` keeps every
        ECG, EEG and EMG channel that is not marked bad. Bad channels are left out
        unless named explicitly.
    overlap : float
        Overlap of consecutive segments in seconds, ``0 <= overlap < duration``.
    reject_by_annotation : bool
        Drop segments that overlap a ``BAD_*`` annotation (MNE's rule).
    on_nonfinite : ``"drop"`` | ``"raise"``
        What to do with segments that contain NaN or Inf samples (real WFDB
        recordings have gaps): drop them (default; the number is logged and each is
        marked ``"NONFINITE"`` in ``epochs.drop_log``) or raise an error.
    metadata : dict | None
        Extra columns, e.g. ``{"condition": "rest"}``: a constant for every segment,
        or a sequence of one value per kept segment. Built-in column names (see
        ``Returns``) are refused.
    subject, recording : str | None
        Values of the ``subject`` and ``recording`` columns. By default
        ``raw.info["subject_info"]["his_id"]`` (else ``["id"]``, else ``"unknown"``)
        and ``raw.info["description"]`` (else the file name, else ``"unknown"``).
    resample_method : ``"polyphase"`` | ``"fft"``
        Passed to :meth:`mne.io.Raw.resample`. Polyphase (default) keeps timing: with
        MNE 1.13 the FFT method shifted a 1000 -> 512 Hz sine by half an output
        sample (0.98 ms), polyphase matched it to within 0.05 %% of its amplitude.
        With polyphase, the few samples after the last segment that would make MNE
        take its up/down factors from the recording's length instead of the rates
        (a huge filter and a fraction of a sample of drift: 360 -> 512 Hz on a
        30-min record, 231111/162500 instead of 64/45) are left out first, unless a
        segment would be lost; the log counts them.
    %(verbose)s

    Returns
    -------
    epochs : mne.Epochs
        Preloaded segments of ``round(duration * sfreq)`` samples each, with
        ``event_id = {signal_type: 1}`` and ``epochs.metadata`` columns
        ``signal_type`` (the channel type), ``subject``, ``recording``, ``onset``
        (start of the segment in seconds, on MNE's time axis of the recording:
        ``events[:, 0] / sfreq``, so it stays right after cropping),
        ``sfreq_orig`` (the recording's sampling rate), plus ``metadata``.

    Notes
    -----
    Before resampling, NaN/Inf samples are bridged by linear interpolation in the
    private copy (so that the resampling filter does not spread them); every
    segment that touched one is then dropped, or the call raises, as
    ``on_nonfinite`` says. No sample of ``raw`` is changed.
    """
    if isinstance(raw, mne.BaseEpochs):
        raise TypeError(
            "make_segments cuts a continuous mne.io.Raw, but got Epochs. Epochs are "
            "already segments: pass them to compute_spectrogram or SpecAE directly."
        )
    _validate_type(raw, BaseRaw, "raw", "mne.io.Raw")
    duration, sfreq, overlap = check_segment_settings(duration, sfreq, overlap)
    _check_option("on_nonfinite", on_nonfinite, _ON_NONFINITE)
    metadata = _check_metadata(metadata)

    sfreq_orig = float(raw.info["sfreq"])
    length = raw.n_times / sfreq_orig
    if length < duration:
        raise ValueError(
            f"The recording is {length:.3f} s long, shorter than one segment of "
            f"{duration:g} s. Use a shorter duration or a longer recording."
        )
    subject = _subject_of(raw) if subject is None else str(subject)
    recording = raw_name(raw) if recording is None else str(recording)

    picked = _pick_signal(raw, picks)
    signal_type = _check_one_type(picked)
    picked.load_data(verbose=False)
    n_bad, spans = _nonfinite_spans(picked)
    if spans:
        _check_all_nonfinite_channels(picked)
        if on_nonfinite == "raise":
            raise ValueError(
                f"{recording}: {n_bad} NaN/Inf sample(s) in {len(spans)} run(s), the "
                f"first at {spans[0][0]:.3f} s. Clean or interpolate them first, or use "
                "on_nonfinite='drop' to drop the segments that contain them."
            )
        logger.info(f"{recording}: {n_bad} NaN/Inf sample(s) in {len(spans)} run(s)")
        picked.apply_function(bridge_nonfinite, picks="all", channel_wise=False, verbose=False)

    if sfreq != sfreq_orig:
        if sfreq > sfreq_orig:
            logger.info(
                f"{recording}: upsampling {sfreq_orig:g} Hz -> {sfreq:g} Hz; there is no "
                f"content above {sfreq_orig / 2:g} Hz"
            )
        if resample_method == "polyphase":
            _crop_for_polyphase(picked, sfreq, duration, overlap, recording)
        picked.resample(sfreq, method=resample_method, verbose=False)

    events = mne.make_fixed_length_events(
        picked, id=1, duration=duration, overlap=overlap, first_samp=True
    )
    n_times = int(round(duration * sfreq))
    with warnings.catch_warnings():  # "All epochs were dropped": raised on below
        warnings.filterwarnings("ignore", message="All epochs were dropped")
        epochs = mne.Epochs(
            picked,
            events,
            event_id={signal_type: 1},
            tmin=0.0,
            tmax=(n_times - 1) / sfreq,
            baseline=None,
            reject_by_annotation=reject_by_annotation,
            preload=True,
            verbose=False,
        )
    n_events = len(events)
    n_annot = n_events - len(epochs)
    if spans:
        starts = (epochs.events[:, 0] - picked.first_samp) / sfreq
        hit = np.zeros(len(epochs), bool)
        for onset, offset in spans:
            hit |= (starts < offset) & (starts + duration > onset)
        if hit.any():
            epochs.drop(np.flatnonzero(hit), reason="NONFINITE", verbose=False)
            logger.info(f"{recording}: dropped {int(hit.sum())} segment(s) with NaN/Inf")
    if n_annot:
        logger.info(f"{recording}: dropped {n_annot} segment(s) overlapping BAD annotations")
    if len(epochs) == 0:
        raise ValueError(
            f"{recording}: all {n_events} segments were dropped (NaN/Inf samples or BAD "
            "annotations); see the log. Nothing is left to analyse."
        )

    table = _metadata_table(
        {
            "signal_type": signal_type,
            "subject": subject,
            "recording": recording,
            "onset": epochs.events[:, 0] / sfreq,
            "sfreq_orig": sfreq_orig,
        },
        metadata,
        len(epochs),
        n_events - len(epochs),
    )
    with use_log_level("warning"):  # MNE logs every metadata assignment
        epochs.metadata = table
    logger.info(
        f"{recording}: {len(epochs)} segment(s) of {duration:g} s at {sfreq:g} Hz, "
        f"{len(epochs.ch_names)} {signal_type} channel(s)"
    )
    return epochs


def select_evenly(epochs, max_segments=None, max_channels=None):
    """At most ``max_segments`` segments and ``max_channels`` channels, evenly spread.

    Handy for balanced, quick subsets: every recording contributes segments from its
    whole length, and multi-channel recordings a spread of their channels (e.g. 19 EEG
    channels -> 4 over the montage's order).

    Parameters
    ----------
    epochs : mne.Epochs
        Segments.
    max_segments : int | None
        Keep at most this many segments, at evenly spaced indices (first and last
        included); ``None`` keeps all.
    max_channels : int | None
        Keep at most this many channels, evenly spaced in ``epochs.ch_names``.

    Returns
    -------
    epochs : mne.Epochs
        A new instance (the input is not changed); its metadata and drop log follow
        MNE's indexing.
    """
    _validate_type(epochs, mne.BaseEpochs, "epochs", "mne.Epochs")
    out = epochs.copy()
    if max_segments is not None and len(out) > max_segments:
        out = out[evenly_spaced(len(out), max_segments)]
    if max_channels is not None and len(out.ch_names) > max_channels:
        out.pick([out.ch_names[k] for k in evenly_spaced(len(out.ch_names), max_channels)])
    return out
