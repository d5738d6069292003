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

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..segments import SIGNAL_TYPES, make_segments
from ..utils._checks import check_positive
from ..utils._picks import pick_channels
from ..utils._signals import no_finite_channels
from ._unusual_checks import (
    annotations_for,
    bad_channel_candidates,
    check_bad_channel_fraction,
    original_checks,
)
from .loading import resolve_model

#: Inset (s) of each annotation from its segment's edges: keeps floating-point
#: rounding from making a span touch a neighbouring segment.
_EDGE = 1e-6


def _check_model(model):
    """The model (the shipped one for ``None``, or read from its file) and its
    calibration."""
    model = resolve_model(model)
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
    idx = pick_channels(raw.info, picks)
    names = [raw.ch_names[i] for i in idx]
    types = raw.get_channel_types(picks=idx)
    known = sorted(calibration.error_reference)
    groups = {}
    for name, kind in zip(names, types):
        groups.setdefault(kind, []).append(name)
    uncovered = {k: chs for k, chs in groups.items() if (signal_type or k) not in known}
    if uncovered and len(uncovered) == len(groups):
        kind, chs = next(iter(uncovered.items()))
        raise ValueError(
            f"The model's calibration has no error reference for {signal_type or kind!r} "
            f"(channels {chs}); it knows {known}. Pick channels of those types, or "
            "set signal_type=... to score them against one of them."
        )
    if uncovered:  # other MNE types (eog, resp, bio, stim, ...) picked with them
        n = sum(len(chs) for chs in uncovered.values())
        listed = "; ".join(f"{k}: {', '.join(chs)}" for k, chs in uncovered.items())
        warn(
            f"annotate_unusual: {n} picked channel(s) not scored: the model has error "
            f"references for {known} only ({listed}). Set signal_type=... to score them "
            "against one of those."
        )
        groups = {k: chs for k, chs in groups.items() if k not in uncovered}
    elif picks is None:
        _log_unpicked(raw, names)
    for kind, chs in groups.items():
        reference = signal_type or kind
        if not np.isfinite(calibration.error_reference[reference]).all():
            raise ValueError(
                f"The model's error reference for {reference!r} is not finite "
                f"({calibration.error_reference[reference]}): a damaged calibration "
                f"cannot score channels {chs}. Recalibrate the model with "
                "mne_specae.calibrate(model, training_epochs)."
            )
    dead = no_finite_channels(names, raw.get_data(picks=names))
    if dead:
        warn(f"Skipping channel(s) {dead}: no finite sample (NaN/Inf throughout).")
        groups = {k: [c for c in chs if c not in dead] for k, chs in groups.items()}
        groups = {k: chs for k, chs in groups.items() if chs}
        if not groups:
            raise ValueError(
                f"Every picked channel ({names}) holds no finite sample: nothing to score."
            )
    return groups


def _log_unpicked(raw, names):
    """Log the channels ``picks=None`` left out (other types, bad): counted, not silent."""
    left = {}
    for name, kind in zip(raw.ch_names, raw.get_channel_types()):
        if name not in names:
            left.setdefault("bad" if name in raw.info["bads"] else kind, []).append(name)
    if left:
        listed = "; ".join(
            f"{k}: {len(chs)} ({', '.join(chs[:5])}" + (", ...)" if len(chs) > 5 else ")")
            for k, chs in left.items()
        )
        logger.info(
            f"annotate_unusual: {sum(map(len, left.values()))} channel(s) not scored "
            f"(picks=None scores ECG, EEG and EMG channels not marked bad): {listed}"
        )


def _score_group(raw, model, calibration, kind, names, reference, duration):
    """Robust z-scores of channels of one type scored together: ``(k, z, delta)``,
    the segment index of each epoch, ``z`` of shape ``(n_epochs, len(names))`` and
    the offset of the model-rate grid from ``k * duration`` (s)."""
    epochs = make_segments(
        raw,
        duration=duration,
        sfreq=model.sfreq_,
        picks=names,
        reject_by_annotation=False,
        verbose="warning",
    )
    epochs.info["bads"] = []  # named bad channels are scored like the others
    if kind not in SIGNAL_TYPES:  # e.g. misc channels scored with signal_type=...
        epochs.set_channel_types(dict.fromkeys(epochs.ch_names, reference), on_unit_change="ignore")
    embedded = model.embed_items(epochs, recon_error=True)
    errors, channels = embedded.errors, embedded.ch_names
    n_epochs = len(epochs)
    order = list(channels[: len(channels) // n_epochs])
    missing = [ch for ch in names if ch not in order]
    if missing:
        raise ValueError(
            f"The model does not take channel(s) {missing} (its picks="
            f"{model.picks!r}); annotate_unusual scores every picked channel."
        )
    z = calibration.error_z(errors, reference).reshape(n_epochs, len(order))
    z = z[:, [order.index(ch) for ch in names]]
    since_first = epochs.metadata["onset"].to_numpy() - raw.first_time
    k = np.round(since_first / duration).astype(int)
    return k, z, since_first - k * duration


def _score_type(raw, model, calibration, kind, names, reference, duration):
    """Robust z-scores of one channel type: a DataFrame with one row per segment and
    channel (``k``: the segment's index), and the grid offsets of the scored groups.

    Channels are scored together when their segments with NaN/Inf samples are the
    same (make_segments drops a segment where any picked channel has one), so a lead
    with a gap in every segment leaves the others scored; its rows keep ``z`` NaN.
    """
    held, nonfinite = original_checks(raw, names, duration)
    n_seg = len(held)
    z = np.full((n_seg, len(names)), np.nan)
    patterns, deltas = {}, []
    for c in range(len(names)):
        if not nonfinite[:, c].all():
            patterns.setdefault(nonfinite[:, c].tobytes(), []).append(c)
    for cols in patterns.values():
        k, zz, delta = _score_group(
            raw, model, calibration, kind, [names[c] for c in cols], reference, duration
        )
        inside = (k >= 0) & (k < n_seg)
        z[np.ix_(k[inside], cols)] = zz[inside]
        deltas.append(delta)
    # A channel-segment whose samples hold a level for half its length (flat, or
    # clipped at the rails) is easy to reconstruct (a near-constant image) but no
    # signal: unusual whatever its error. Checked at the recording's own rate.
    z[held & ~nonfinite] = np.inf
    table = pd.DataFrame(
        {
            "k": np.repeat(np.arange(n_seg), len(names)),
            "channel": np.tile(names, n_seg),
            "ch_type": kind,
            "signal_type": reference,
            "z": z.ravel(),
            "flat": held.ravel(),
            "nonfinite": nonfinite.ravel(),
        }
    )
    return table, deltas


def _log_type(table, kind, n_names, threshold, reference):
    """Log the counts of one channel type; warn about leads never scored."""
    scored = table[table["z"].notna()]
    n_seg = scored["k"].nunique()
    n_bad = table.loc[table["annotated"], "k"].nunique()
    unscored = table[table["z"].isna()]
    skipped = ""
    if len(unscored):
        per_channel = unscored.groupby("channel", sort=False).size()
        skipped = (
            f"; {len(unscored)} channel-segment(s) with NaN/Inf not scored ("
            + ", ".join(f"{ch}: {n}" for ch, n in per_channel.items())
            + ")"
        )
        n_total = table["k"].nunique()
        never = [ch for ch, n in per_channel.items() if n == n_total]
        if never:
            warn(
                f"annotate_unusual: channel(s) {never} have NaN/Inf in every segment: "
                "not scored (their rows in the scores have z NaN, nonfinite True). "
                "Interpolate the gaps, or mark them bad."
            )
    logger.info(
        f"annotate_unusual: {n_bad} of {n_seg} segment(s) of {n_names} "
        f"{kind} channel(s) unusual (robust z > {threshold:g}, "
        f"{reference} reference){skipped}"
    )


@verbose
def annotate_unusual(
    raw,
    *,
    model=None,
    picks=None,
    threshold=5.0,
    description="BAD_specae",
    signal_type=None,
    bad_channel_fraction=0.5,
    return_scores=False,
    return_bads=False,
    verbose=None,
):
    """Annotate the segments of a recording that a model finds unusual.

    The recording (a copy: ``raw`` is never changed) is cut into the model's segments
    (its length ``model.n_times_ / model.sfreq_`` and rate ``model.sfreq_``, with
    :func:`~mne_specae.make_segments`, one channel type at a time, existing ``BAD_*``
    spans included). Each channel of each segment is reconstructed, and its
    reconstruction error becomes a **robust z-score**: ``(log10(error) - median) /
    spread``, where the median and the spread (``1.4826 * MAD``) are those of the
    ``log10`` errors of the model's training items of the same signal type
    (``model.calibration_.error_reference``). A channel-segment is unusual when its
    z-score exceeds ``threshold``. A channel that holds a level for at least half of
    a segment (consecutive samples within 1e-13 of each other: flat at any level, or
    clipped at the rails; checked on the recording's own samples, before any
    resampling, see :mod:`mne_specae.signal_checks`) is unusual there too (its score
    is ``inf``): a near-constant image is easy to reconstruct.

    A channel that is unusual in more than ``bad_channel_fraction`` of its scored
    segments deviates for the whole recording (e.g. a muscle-contaminated temporal
    electrode, a loose lead): it is a **bad-channel candidate**, reported with a
    warning (and returned with ``return_bads=True``) for ``raw.info["bads"]``, and its
    segments are not annotated. Annotations are left to short, local deviations.

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
        EEG and EMG channel not marked bad (the others are counted in the log). Bad
        channels are scored only when named. Picked channels of a type the model has
        no error reference for (EOG, respiration, PPG, stimulus channels, ...: see
        :func:`~mne_specae.identify_channel_types`) are left out with a warning that
        names them, unless ``signal_type`` is set; when no picked channel has a
        reference, it is an error.
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
    bad_channel_fraction : float
        In ``(0, 1]``. A channel unusual in more than this fraction of its scored
        segments is a bad-channel candidate instead of a source of annotations. The
        default, 0.5: a channel unusual in most of the recording. ``1`` turns the
        candidates off (every unusual segment is annotated).
    return_scores : bool
        Also return the z-score of every channel of every segment.
    return_bads : bool
        Also return the bad-channel candidates.
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per unusual segment (consecutive unusual segments are **not**
        merged, so each annotation names the channels of its own segment in
        ``ch_names``; bad-channel candidates are not named). Onsets follow MNE's
        convention for ``raw``: with a measurement date, seconds since it
        (``orig_time=raw.info["meas_date"]``); without one, seconds since the first
        sample (``orig_time=None``). Either way
        ``raw.set_annotations(raw.annotations + annotations)`` keeps the existing
        annotations where they were and lines the new ones up, also after cropping
        (without a measurement date and with ``first_samp > 0``, MNE stores
        ``raw.annotations`` from sample 0 but reads ``orig_time=None`` onsets from the
        first sample; the returned object, added to ``raw.annotations``, gives the
        sum in the first-sample convention). Each lasts one segment; where resampling
        shifted the segment grid by a fraction of a sample, the span is the part the
        segment covers at both rates (at most one sample shorter), so that it touches
        no neighbouring segment.
    scores : pandas.DataFrame
        Only with ``return_scores=True``: one row per segment and channel, with
        columns ``onset`` (s, in the frame of ``annotations``), ``channel``,
        ``ch_type``, ``signal_type`` (the reference used), ``z`` (NaN where the
        segment was not scored), ``flat`` (holds a level), ``nonfinite`` (has
        NaN/Inf samples), ``unusual`` (``z > threshold``) and ``bad_channel`` (the
        channel is a bad-channel candidate: its unusual rows are not annotated).
    bads : list of str
        Only with ``return_bads=True``: the bad-channel candidates, e.g. for
        ``raw.info["bads"] += bads``.

    Notes
    -----
    Channels with no finite sample are skipped with a warning. A segment in which a
    channel has NaN or Inf samples is not scored for that channel (its row has ``z``
    NaN and ``nonfinite`` True, and it is not annotated); the other channels are
    scored as usual, and a channel with NaN/Inf in every segment is named in a
    warning. The number of unusual and of unscored segments of each channel type is
    logged.
    """
    _validate_type(raw, BaseRaw, "raw", "mne.io.Raw")
    threshold = check_positive(threshold, "threshold")
    _validate_type(description, str, "description")
    if signal_type is not None:
        _check_option("signal_type", signal_type, SIGNAL_TYPES)
    bad_channel_fraction = check_bad_channel_fraction(bad_channel_fraction)
    _validate_type(return_scores, bool, "return_scores")
    _validate_type(return_bads, bool, "return_bads")
    model, calibration = _check_model(model)
    duration = model.n_times_ / model.sfreq_
    length = raw.n_times / raw.info["sfreq"]
    if length < duration:
        raise ValueError(
            f"The recording is {length:.3f} s long, shorter than one segment "
            f"of the model ({duration:g} s): nothing to score."
        )
    groups = _channel_groups(raw, picks, signal_type, calibration)

    tables, deltas = [], []
    for kind, names in groups.items():
        table, delta = _score_type(
            raw, model, calibration, kind, names, signal_type or kind, duration
        )
        tables.append(table)
        deltas.extend(delta)
    scores = pd.concat(tables, ignore_index=True)
    scores["unusual"] = scores["z"] > threshold
    bads, share = bad_channel_candidates(scores, bad_channel_fraction)
    scores["bad_channel"] = scores["channel"].isin(bads)
    scores["annotated"] = scores["unusual"] & ~scores["bad_channel"]
    for table, (kind, names) in zip(
        (scores[scores["ch_type"] == kind] for kind in groups), groups.items()
    ):
        _log_type(table, kind, len(names), threshold, signal_type or kind)
    if bads:
        shares = ", ".join(f"{ch}: {share[ch]:.0%}" for ch in bads)
        warn(
            f"annotate_unusual: bad-channel candidate(s) {bads}: unusual in most "
            f"segments ({shares} > bad_channel_fraction={bad_channel_fraction:g}), so "
            "their segments are not annotated. Check them and mark them bad: "
            f"raw.info['bads'] += {bads}"
        )

    # segment k starts k * duration after the first sample at the recording's rate,
    # and delta later at the model's (make_segments rounded the first sample)
    delta = float(np.median(np.concatenate(deltas))) if deltas else 0.0
    offset = raw.first_time if raw.info["meas_date"] is not None else 0.0
    scores.insert(0, "onset", scores.pop("k") * duration + offset)
    start = max(delta, 0.0) + _EDGE
    length = duration - abs(delta) - 2 * _EDGE

    flagged = scores[scores.pop("annotated")]
    order = {ch: i for i, ch in enumerate(raw.ch_names)}
    onsets, ch_names = [], []
    for onset, rows in flagged.groupby("onset", sort=True):
        onsets.append(onset + start)
        ch_names.append(sorted(set(rows["channel"]), key=order.get))
    annotations = annotations_for(raw, onsets, [length] * len(onsets), description, ch_names)
    out = (annotations,) + ((scores,) if return_scores else ()) + ((bads,) if return_bads else ())
    return out[0] if len(out) == 1 else out
