"""Channel types from the signal itself: :func:`identify_channel_types`.

Every reader types channels by their names, and EDF files often arrive with every
channel typed EEG. Here each channel is judged from its samples, in the steps of
:mod:`._type_decide`: rules at the channel's own rate (flat, tones -> ``"unknown"``;
triggers -> ``"stim"``; rectified envelopes -> ``"misc"``), a channel-type head on rate-aware, scale-free features
(:mod:`._type_features`, long windows at the channel's own rate: respiration, PPG,
EDA or temperature at 4 Hz are normal), and, for biopotentials, the encoder's own
head (ECG, EEG, EMG: windows resampled to the model's rate and embedded). A channel
is ``"unknown"`` when a rule says so, when a head is not sure, or when the channel
lies beyond what the model saw.
"""

from __future__ import annotations

from numbers import Integral

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose, warn

from ..utils._checks import check_fraction, check_int
from ..utils._picks import pick_channels
from ._signal_checks import check_channel
from ._type_context import recording_context, with_context
from ._type_decide import UNKNOWN, encoder_verdict, feature_verdict, head_for, white_noise
from ._type_features import window_features
from ._type_guards import (
    declared_eog,
    eog_guard,
    name_guard,
    pulse_guard,
    rate_guard,
    slow_guard,
    smooth_guard,
    warn_low_rate,
)
from ._type_windows import at_rate, epochs_windows, feature_windows, raw_windows, sampled_rate
from .loading import resolve_model

#: Long feature windows per channel: this fraction of ``max_segments`` (at least 1).
FEATURE_WINDOW_SHARE = 3

COLUMNS = (
    "type",
    "predicted",
    "kind",
    "ch_type",
    "probability",
    "second",
    "second_probability",
    "n_segments",
    "sfreq",
    "reason",
    "distance",
    "error_z",
    "feature_distance",
    "type_probability",
)


def _row(name, ch_type, n_segments, reason, **extra):
    row = dict(
        channel=name,
        type=ch_type,
        predicted=UNKNOWN,
        kind="",
        probability=np.nan,
        second="",
        second_probability=np.nan,
        n_segments=int(n_segments),
        sfreq=np.nan,
        reason=reason,
        distance=np.nan,
        error_z=np.nan,
        feature_distance=np.nan,
        type_probability=np.nan,
    )
    row.update(extra)
    return row


def collect_channels(inst, idx, model, max_segments, *, slow_ok, augment=None, teach=False):
    """What the decision needs of each channel, before any head is asked.

    Returns
    -------
    channels : list of dict
        ``name``, ``type``, ``n`` (windows used), ``reason`` and ``stats`` of the
        rules, ``stim``, ``features`` (finite long windows, ``(n, N_FEATURES)``) and
        ``median`` (their median), ``seconds`` (the length of those windows),
        ``items`` (the windows at the model's rate).
    duration : float
        The model's window (s); ``channels`` is empty when the data are shorter.

    ``augment(windows, sfreq, band_top, context)``, if given, returns a dict of extra
    feature rows of a channel's long windows (for fitting a head: other rates, shorter
    windows, drifts; ``_type_data.training_augment``), kept in the channel's dict. With ``teach``, the features of rectified envelopes are computed
    too (the rule decides them, but they are training rows of a type head).
    """
    names = [inst.ch_names[i] for i in idx]
    types = inst.get_channel_types(picks=idx)
    sfreq, target = float(inst.info["sfreq"]), float(model.sfreq_)
    # the recording's own low-pass filter: the features leave the bands above it out
    lowpass = inst.info["lowpass"] if inst.info["lowpass"] < sfreq / 2 else None
    duration = model.n_times_ / target
    reader = raw_windows if isinstance(inst, mne.io.BaseRaw) else epochs_windows
    orig, res = reader(inst, idx, duration, target, max_segments)
    if not orig:
        return [], duration
    orig, res = np.stack(orig), np.stack(res)  # (n_windows, n_ch, n)
    n_long = max(1, -(-max_segments // FEATURE_WINDOW_SHARE))
    long = feature_windows(inst, idx, n_long, duration)
    peers, sparse = recording_context(long, sfreq, teach)  # the channels picked together
    out = []
    for c, (name, ch_type) in enumerate(zip(names, types)):
        ok = np.isfinite(orig[:, c]).all(axis=1)
        usable = np.isfinite(long[:, c]).all(axis=1)
        fine, context = long[:, c][usable], peers[:, c][usable]
        # a channel upsampled or held when read is judged at the rate it was sampled at
        rate, held = sampled_rate(fine if len(fine) else orig[ok, c], sfreq)
        if held:  # the samples as they were taken, rules and all
            checked, _ = at_rate(orig[ok, c], sfreq, rate, held=True)
            reason, stats = check_channel(checked, rate, slow_ok=slow_ok)
        else:
            reason, stats = check_channel(orig[ok, c], sfreq, slow_ok=slow_ok, band_top=rate / 2)
        fine, rate = at_rate(fine, sfreq, rate, held=held)
        stim, envelope = stats.pop("stim"), stats.pop("envelope")
        info = dict(name=name, type=ch_type, n=int(ok.sum()), reason=reason, stats=stats)
        info["sfreq"] = rate  # (the head that decides, the rate guard, training rows)
        info.update(stim=stim, envelope=envelope, features=None, median=None, items=None)
        info["seconds"] = long.shape[-1] / sfreq if len(long) else 0.0  # feature windows
        if not reason or (envelope and teach):  # an envelope still teaches a type head
            if len(fine):
                info["features"] = window_features(fine, rate, lowpass, context)
                if augment is not None:
                    info.update(augment(fine, rate, lowpass, context))
                with np.errstate(all="ignore"), _quiet():
                    info["median"] = np.nanmedian(info["features"], axis=0)
                    if teach:  # with its peers in a sparse montage, for the channel head
                        info["median_sparse"] = with_context(info["median"], sparse[:, c][usable])
        if not reason:
            info["items"] = res[ok, c]
        out.append(info)
    return out, duration


class _quiet:
    """Silence numpy's "All-NaN slice" warnings (a feature missing at this rate)."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def embed_channels(model, channels):
    """Embed the windows of the given channels in one pass: ``(features, errors,
    owners)``, ``owners`` the position of each item's channel in ``channels``."""
    items = [ch["items"] for ch in channels]
    X = np.concatenate(items).astype(np.float32)[:, np.newaxis]
    embedded = model.embed_items(X, recon_error=True)
    owners = np.concatenate([np.full(len(x), k) for k, x in enumerate(items)])
    return embedded.features, embedded.errors, owners


def rule_answer(ch):
    """``(predicted, kind)`` of a channel the rules decided."""
    if ch["stim"]:
        return "stim", "trigger"
    if ch.get("envelope"):
        return "misc", "envelope"
    return UNKNOWN, ""


def decide_channels(channels, calibration, embed, min_probability):
    """Rows of the table from :func:`collect_channels` (see :mod:`._type_decide`).

    ``embed(list_of_channels)`` returns ``(features, errors, owners)`` of the
    encoder for the channels that need it (called once, or not at all)."""
    rows, pending = [], []
    for ch in channels:
        head = head_for(calibration, ch.get("sfreq"))
        stats = ch["stats"]
        if ch["reason"]:
            predicted, kind = rule_answer(ch)
            rows.append(
                _row(ch["name"], ch["type"], ch["n"], ch["reason"], predicted=predicted, kind=kind)
                | stats
            )
            continue
        noise = white_noise(ch["median"])
        if noise:
            rows.append(_row(ch["name"], ch["type"], ch["n"], noise) | stats)
            continue
        verdict = None
        if head is not None:
            if ch["features"] is None:
                verdict = dict(route="final", reason="no finite window for the signal features")
            else:
                verdict = feature_verdict(head, ch["features"], min_probability)
        row = _row(ch["name"], ch["type"], ch["n"], "") | stats
        if verdict is not None:
            row.update({k: v for k, v in verdict.items() if k in COLUMNS})
            slow_guard(row, ch.get("seconds", np.inf))
            pulse_guard(row, ch["median"])
        if verdict is None or verdict["route"] == "encoder":
            pending.append((len(rows), ch, verdict))
        rows.append(row)
    if pending:
        feats, errors, owners = embed([ch for _, ch, _ in pending])
        for k, (r, ch, verdict) in enumerate(pending):
            sel = owners == k
            types = None if verdict is None else verdict["types"]
            rows[r].update(
                encoder_verdict(calibration, feats[sel], errors[sel], min_probability, ch["median"])
            )
            eog_guard(rows[r], types, ch["median"], declared_eog(ch["name"], ch["type"]))
            smooth_guard(rows[r], types, ch["median"])
            rate_guard(rows[r], ch.get("sfreq"))
    for row, ch in zip(rows, channels):
        name_guard(row, ch["name"])
        row["sfreq"] = ch["sfreq"]
        row["ch_type"] = row["predicted"] if row["predicted"] != UNKNOWN else row["type"]
    return rows


@verbose
def identify_channel_types(
    inst, *, picks="all", model=None, max_segments=30, min_probability=0.7, verbose=None
):
    """Name each channel's MNE type from its signal, whatever its type now.

    The current channel types are ignored. The steps (details in
    :mod:`mne_specae.pretrained._type_decide`, the guards in
    :mod:`mne_specae.pretrained._type_guards`):

    Each channel is judged at the rate it was sampled at (column ``sfreq``): the
    recording's; for a channel that holds nothing above some frequency (a slow
    channel of a multi-rate file, upsampled when read: MNE's EDF reader does this by
    FFT), twice that frequency (the rules look at the samples as they are, within
    that band, and the heads at the windows resampled down to it on a copy); for a
    channel whose every sample is repeated ``k`` times (a stream forward-filled to a
    common rate), the recording's rate over ``k``, from every ``k``-th sample.

    1. **Rules**, on up to ``max_segments`` windows of the model's length at the
       channel's own rate (evenly spread; windows touching ``BAD`` annotations or NaN
       samples are left out): a flat channel, a single tone -> ``"unknown"``; a channel
       holding or jumping between a few levels (a trigger, status or marker line) ->
       ``"stim"``; a rectified envelope (never negative, resting at zero with bursts
       upward, not a pulse: an EMG envelope or RMS trace) -> ``"misc"``, kind
       ``"envelope"``.
    2. **The channel-type head** of the model (``model.calibration_.type_head``, see
       :func:`~mne_specae.calibrate_types`), on rate-aware, scale-free features of
       long windows (30 s) at the channel's own rate: ``"eog"``, ``"resp"``,
       ``"bio"`` (PPG, arterial pressure: see ``kind``), ``"gsr"`` (EDA),
       ``"temperature"``, ``"misc"`` (motion, processed signals), ``"unknown"`` (an
       unconnected input), or a biopotential. Low sampling rates (PPG at 64 Hz, EDA
       at 4 Hz) take this path as they are; below 37.5 Hz the low-rate head
       (``calibration_.low_rate_head``) decides, which learnt every type but the
       biopotentials and EOG at 32-4 Hz. A ``"bio"`` answer that does not beat at
       heart lags or has more fast power than a pulse, and a ``"resp"``, ``"gsr"`` or
       ``"temperature"`` answer on less than 20 s of signal, are ``"unknown"``.
    3. **The encoder's heads** (``model.calibration_``) tell ``"ecg"``, ``"eeg"`` and
       ``"emg"`` apart: the windows are resampled to the model's rate on a copy and
       embedded; the channel head (``calibration_.channel_head``) decides from their
       mean embedding and the channel's signal features (a model without one
       averages its items' probabilities). An ``"eeg"`` that may be EOG (blinks and
       saccades, no alpha or beta), or whose channel the recording declares EOG (its
       type, or "EOG" in its name), is ``"unknown"``, and so is an ``"ecg"``,
       ``"eeg"`` or ``"emg"`` too smooth for a biopotential (less than 1 %% of the
       power in 1.5-40 Hz above 10 Hz: a pulse, pressure or breathing wave), an
       ``"eeg"`` that beats like a heart, and an answer at a rate too low to carry
       its signal (below 37.5 Hz: no band above 10 Hz is left).

    A model without a type head (files written before it) goes from step 1 to
    step 3: slow channels are then ``"unknown"``. The object you pass is never
    changed. Fix the types in one line (``on_unit_change="ignore"``: MNE would
    otherwise warn that the units of the changed channels change, e.g. V to NA)::

        table = identify_channel_types(raw)
        raw.set_channel_types(table["ch_type"].to_dict(), on_unit_change="ignore")

    Parameters
    ----------
    inst : mne.io.Raw | mne.Epochs
        The recording. Epochs longer than a window give several windows each; shorter
        ones none.
    picks : str | list | slice
        Channels to identify (MNE's picks; ``"all"``: every channel, whatever its
        type). Bad channels are left out unless named. The channels picked together
        are each other's context (how strongly each moves with the others: an EEG
        electrode moves with its neighbours); one channel picked alone has none.
    model : SpecAE | str | path-like | None
        A fitted model with a ``calibration_`` (see :func:`~mne_specae.calibrate` and
        :func:`~mne_specae.calibrate_types`), its ``.specae`` file, or the name of a
        pretrained one; ``None``: :func:`~mne_specae.load_pretrained`
        (``"biosignals"``).
    max_segments : int
        At most this many model windows per channel, and a third as many 30 s feature
        windows (memory and time stay bounded on long recordings and many channels).
    min_probability : float
        Below this probability of the best type (or family) the channel is
        ``"unknown"``.
    %(verbose)s

    Returns
    -------
    table : pandas.DataFrame
        One row per channel, indexed by name: ``type`` (current), ``predicted`` (an
        MNE type or ``"unknown"``), ``kind`` (what kind of that type, e.g. ``"ppg"``
        or ``"abp"`` for ``"bio"``, ``"trigger"`` for ``"stim"``; empty when the head
        has none), ``ch_type`` (``predicted``, or the current type where
        ``"unknown"``: ready for :meth:`mne.io.Raw.set_channel_types`),
        ``probability`` (of the answer: the encoder's head's for ECG, EEG and EMG, the
        type head's otherwise; ``nan`` where a rule decided), ``second`` and
        ``second_probability`` (the runner-up of the same head), ``n_segments``
        (model windows used), ``sfreq`` (the rate the channel was judged at, Hz),
        ``reason`` (why ``"unknown"``, or the rule that named
        a ``"stim"`` or an envelope ``"misc"``; else empty), ``distance`` and ``error_z`` (how far
        the channel lies from the encoder's training data, see
        :class:`~mne_specae.Calibration`), ``feature_distance`` (the same for the type
        head's features), ``type_probability`` (the type head's probability of the
        answer's family, the biopotentials together for ECG, EEG and EMG; ``nan``
        without a type head), and the statistics of the rules (``flat_fraction``,
        ``held_fraction``, ``level_fraction``, ``fast_fraction``, ``tone_fraction``,
        and the envelope check's ``floor``, ``rest`` and ``periodic``).

    Notes
    -----
    ``"unknown"`` is given to channels shorter than one window, flat or tonal
    channels (before a model is asked), when the best type's probability is below
    ``min_probability``, when the distance or the error exceed the thresholds
    calibrated on the training channels, and to every channel the encoder's head
    judged when its calibration holds NaN or Inf values (a damaged model file:
    loading it warns; see :meth:`Calibration.nonfinite_fields
    <mne_specae.Calibration.nonfinite_fields>`). An ``"ecg"``, ``"eeg"`` or
    ``"emg"`` answer also becomes ``"unknown"`` when the channel lacks what such a
    signal must show (the guards of :mod:`mne_specae.pretrained._type_guards`), and
    when its name says another sensor (``"Pleth"``, ``"acc_x"``, ``"Resp"``: the
    name never decides a type on its own, but it stops a contradicting ``"ecg"``,
    ``"eeg"``, ``"emg"`` or ``"eog"``). The
    model card reports how often this is right on sources the heads never saw.
    """
    _validate_type(inst, (mne.io.BaseRaw, mne.BaseEpochs), "inst", "mne.io.Raw or mne.Epochs")
    model = resolve_model(model)
    calibration = getattr(model, "calibration_", None)
    if calibration is None:
        raise ValueError(
            "This model has no signal-type head (calibration_). Fit one with "
            "mne_specae.calibrate(model, labelled_epochs), or use "
            "model=None for the pretrained encoder."
        )
    if isinstance(max_segments, bool) or not isinstance(max_segments, Integral):
        raise TypeError(f"max_segments must be an int, got {max_segments!r}.")
    max_segments = check_int(max_segments, "max_segments")
    min_probability = check_fraction(min_probability, "min_probability")
    idx = pick_channels(inst.info, picks, default="all", log_bads=True)
    head = getattr(calibration, "type_head", None)
    channels, duration = collect_channels(inst, idx, model, max_segments, slow_ok=head is not None)
    sfreq = inst.info["sfreq"]
    if not channels:
        length = inst.n_times if isinstance(inst, mne.io.BaseRaw) else len(inst.times)
        warn(
            f"The data are shorter ({length / sfreq:.3g} s) than one {duration:g} s "
            "window: no channel can be identified."
        )
        rows = [
            _row(inst.ch_names[i], t, 0, f"shorter than one {duration:g} s window", sfreq=sfreq)
            for i, t in zip(idx, inst.get_channel_types(picks=idx))
        ]
        for row in rows:
            row["ch_type"] = row["type"]
        return _table(rows)

    def embed(chs):
        warn_low_rate(chs, model, head is not None)
        return embed_channels(model, chs)

    lower = [f"{ch['name']} ({ch['sfreq']:g} Hz)" for ch in channels if ch["sfreq"] < sfreq]
    if lower:
        logger.info(
            f"{len(lower)} channel(s) hold nothing above half a lower rate (upsampled when "
            f"read?) and are judged at it: {', '.join(lower)}"
        )
    table = _table(decide_channels(channels, calibration, embed, min_probability))
    counts = table["predicted"].value_counts().to_dict()
    logger.info(f"Identified {len(table)} channel(s): {counts}")
    return table


def _table(rows):
    table = pd.DataFrame(rows).set_index("channel")
    table.index.name = "channel"
    front = [c for c in COLUMNS if c in table]
    return table[front + [c for c in table if c not in front]]
