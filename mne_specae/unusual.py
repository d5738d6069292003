"""Segments a model finds unusual, as MNE annotations.

:func:`annotate_unusual` cuts a recording into the model's segments, reconstructs
every channel of every segment and compares the reconstruction error with what the
model made of its training data (``model.calibration_``, see
:func:`~mne_specae.calibrate`). Segments the model reconstructs far worse than
anything typical of their signal type (a flat line, clipping, broadband noise, a
loose electrode) come back as ``BAD_*`` :class:`mne.Annotations`, which MNE's
epoching, plotting and :func:`~mne_specae.make_segments` honour.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .calibration import channel_items
from .checks import check_positive
from .items import resolve_picks
from .segments import SIGNAL_TYPES, make_segments
from .signal_checks import FLAT_STD, HELD_FRACTION

#: Inset (s) of each annotation from its segment's edges: keeps floating-point
#: rounding from making a span touch a neighbouring segment.
_EDGE = 1e-6


def _check_model(model):
    """The model (the shipped one for ``None``, or read from its file) and its
    calibration."""
    from .channel_types import resolve_model
    from .pretrained import load_pretrained

    model = resolve_model(model, load_pretrained)
    calibration = getattr(model, "calibration_", None)
    if calibration is None:
        raise ValueError(
            "This model has no calibration (model.calibration_): annotate_unusual needs "
            "the reconstruction errors of its training data. Call "
            "mne_specae.calibrate(model, training_epochs) first, or use the shipped "
            "model, mne_specae.load_pretrained()."
        )
    return model, calibration


def _channel_groups(raw, picks, signal_type, calibration):
    """``{mne_type: [channel names]}`` of the picked channels, checked against the
    calibration's references; channels with no finite sample are left out."""
    idx = resolve_picks(raw.info, picks)
    names = [raw.ch_names[i] for i in idx]
    types = raw.get_channel_types(picks=idx)
    known = sorted(calibration.error_reference)
    groups = {}
    for name, kind in zip(names, types):
        groups.setdefault(kind, []).append(name)
    for kind, chs in groups.items():
        reference = signal_type or kind
        if reference not in calibration.error_reference:
            raise ValueError(
                f"The model's calibration has no error reference for {reference!r} "
                f"(channels {chs}); it knows {known}. Pick channels of those types, or "
                "set signal_type=... to score them against one of them."
            )
    dead = [ch for ch, row in zip(names, raw.get_data(picks=names))
            if not np.isfinite(row).any()]
    if dead:
        warn(f"Skipping channel(s) {dead}: no finite sample (NaN/Inf throughout).")
        groups = {k: [c for c in chs if c not in dead] for k, chs in groups.items()}
        groups = {k: chs for k, chs in groups.items() if chs}
        if not groups:
            raise ValueError(f"Every picked channel ({names}) holds no finite sample: "
                             "nothing to score.")
    return groups


def _score_type(raw, model, calibration, kind, names, reference, duration):
    """Robust z-scores of one channel type: a DataFrame with one row per segment and
    channel (``onset`` on the model's resampled time axis, as make_segments gives)."""
    epochs = make_segments(raw, duration=duration, sfreq=model.sfreq_, picks=names,
                           reject_by_annotation=False, verbose="warning")
    epochs.info["bads"] = []  # named bad channels are scored like the others
    if kind not in SIGNAL_TYPES:  # e.g. misc channels scored with signal_type=...
        epochs.set_channel_types(dict.fromkeys(epochs.ch_names, reference),
                                 on_unit_change="ignore")
    _, errors, channels = channel_items(model, epochs)
    n_epochs = len(epochs)
    order = list(channels[: len(channels) // n_epochs])
    missing = [ch for ch in names if ch not in order]
    if missing:
        raise ValueError(f"The model does not take channel(s) {missing} (its picks="
                         f"{model.picks!r}); annotate_unusual scores every picked channel.")
    z = calibration.error_z(errors, reference).reshape(n_epochs, len(order))
    # A channel-segment that is flat for half its length is easy to reconstruct (a
    # near-constant image) but no signal: unusual whatever its error.
    steps = np.abs(np.diff(epochs.get_data(picks=order), axis=-1))
    flat = (steps <= FLAT_STD).mean(axis=-1) >= HELD_FRACTION
    z[flat] = np.inf
    onsets = epochs.metadata["onset"].to_numpy()
    return pd.DataFrame({
        "onset": np.repeat(onsets, len(order)),
        "channel": np.tile(order, n_epochs),
        "ch_type": kind,
        "signal_type": reference,
        "z": z.ravel(),
        "flat": flat.ravel(),
    })


@verbose
def annotate_unusual(raw, *, model=None, picks=None, threshold=5.0, description="BAD_specae",
                     signal_type=None, return_scores=False, verbose=None):
    """Annotate the segments of a recording that a model finds unusual.

    The recording (a copy: ``raw`` is never changed) is cut into the model's segments
    (its length ``model.n_times_ / model.sfreq_`` and rate ``model.sfreq_``, with
    :func:`~mne_specae.make_segments`, one channel type at a time, existing ``BAD_*``
    spans included). Each channel of each segment is reconstructed, and its
    reconstruction error becomes a **robust z-score**: ``(log10(error) - median) /
    spread``, where the median and the spread (``1.4826 * MAD``) are those of the
    ``log10`` errors of the model's training items of the same signal type
    (``model.calibration_.error_reference``). A segment is unusual when the z-score
    of any picked channel exceeds ``threshold``. A channel that is flat for at least
    half of a segment (consecutive samples within 1e-13, see
    :mod:`mne_specae.signal_checks`) makes it unusual too (its score is ``inf``): a
    near-constant image is easy to reconstruct.

    Parameters
    ----------
    raw : mne.io.Raw
        The recording; ECG, EEG and EMG channels may be mixed.
    model : SpecAE | str | path-like | None
        A fitted, calibrated model (``model.calibration_``, see
        :func:`~mne_specae.calibrate`), its ``.specae`` file, or the name of a
        pretrained one; ``None``: the shipped model, :func:`~mne_specae.load_pretrained`.
    picks : str | list | None
        Channels to score (names, types or indices, MNE's rules); ``None``: every ECG,
        EEG and EMG channel not marked bad. Bad channels are scored only when named.
    threshold : float
        Robust z-score of the ``log10`` reconstruction error above which a channel
        makes its segment unusual (> 0). The default, 5, flags errors five spreads
        above the training median (were the training errors log-normal, about 3 in
        10 million training items would exceed it).
    description : str
        Description of the annotations. Keep the ``"BAD"`` prefix for MNE (and
        ``make_segments``) to reject the segments.
    signal_type : ``"ecg"`` | ``"eeg"`` | ``"emg"`` | None
        Score every channel against the references of this type; ``None``: each
        channel's own MNE type.
    return_scores : bool
        Also return the z-score of every channel of every segment.
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per unusual segment (consecutive unusual segments are **not**
        merged, so each annotation names the channels of its own segment in
        ``ch_names``). Onsets follow MNE's convention for ``raw``: with a measurement
        date, seconds since it (``orig_time=raw.info["meas_date"]``, so that
        ``raw.set_annotations(raw.annotations + annotations)`` lines up, also after
        cropping); without one, seconds since the first sample (``orig_time=None``:
        use ``raw.set_annotations(annotations)``). Each lasts one segment; where
        resampling shifted the segment grid by a fraction of a sample, the span is
        the part the segment covers at both rates (at most one sample shorter), so
        that it touches no neighbouring segment.
    scores : pandas.DataFrame
        Only with ``return_scores=True``: one row per segment and channel, with
        columns ``onset`` (s, in the frame of ``annotations``), ``channel``,
        ``ch_type``, ``signal_type`` (the reference used), ``z``, ``flat`` and
        ``unusual``.

    Notes
    -----
    Channels with no finite sample are skipped with a warning. Segments that contain
    NaN or Inf samples are not scored (``make_segments`` drops them), so they are not
    annotated. The number of unusual segments of each channel type is logged.
    """
    _validate_type(raw, BaseRaw, "raw", "mne.io.Raw")
    threshold = check_positive(threshold, "threshold")
    _validate_type(description, str, "description")
    if signal_type is not None:
        _check_option("signal_type", signal_type, SIGNAL_TYPES)
    _validate_type(return_scores, bool, "return_scores")
    model, calibration = _check_model(model)
    duration = model.n_times_ / model.sfreq_
    groups = _channel_groups(raw, picks, signal_type, calibration)

    tables = []
    for kind, names in groups.items():
        reference = signal_type or kind
        table = _score_type(raw, model, calibration, kind, names, reference, duration)
        n_seg = table["onset"].nunique()
        n_bad = table.loc[table["z"] > threshold, "onset"].nunique()
        n_nonfinite = int(raw.n_times / raw.info["sfreq"] // duration) - n_seg
        skipped = f"; {n_nonfinite} with NaN/Inf not scored" if n_nonfinite > 0 else ""
        logger.info(f"annotate_unusual: {n_bad} of {n_seg} segment(s) of {len(names)} "
                    f"{kind} channel(s) unusual (robust z > {threshold:g}, "
                    f"{reference} reference){skipped}")
        tables.append(table)
    scores = pd.concat(tables, ignore_index=True)
    scores["unusual"] = scores["z"] > threshold

    # segment k starts k * duration after the first sample at the recording's rate,
    # and delta later at the model's (make_segments rounded the first sample)
    first_time = raw.first_time
    k = np.round((scores["onset"].to_numpy() - first_time) / duration)
    delta = float(np.median(scores["onset"].to_numpy() - first_time - k * duration))
    offset = first_time if raw.info["meas_date"] is not None else 0.0
    scores["onset"] = k * duration + offset
    start = max(delta, 0.0) + _EDGE
    length = duration - abs(delta) - 2 * _EDGE

    flagged = scores[scores["unusual"]]
    order = {ch: i for i, ch in enumerate(raw.ch_names)}
    onsets, ch_names = [], []
    for onset, rows in flagged.groupby("onset", sort=True):
        onsets.append(onset + start)
        ch_names.append(sorted(set(rows["channel"]), key=order.get))
    annotations = mne.Annotations(
        onset=onsets, duration=[length] * len(onsets), description=[description] * len(onsets),
        orig_time=raw.info["meas_date"], ch_names=ch_names if onsets else None)
    if return_scores:
        return annotations, scores
    return annotations
