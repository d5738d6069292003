"""Channel types from the signal itself: :func:`identify_channel_types`.

Every reader types channels by their names, and EDF files often arrive with every
channel typed EEG. A model trained on ECG, EEG and EMG can tell them apart from the
waveform. Here each channel is cut into windows at its own rate, the windows are
checked for what no biosignal looks like (:mod:`~mne_specae.signal_checks`),
resampled to the model's rate, embedded, and classified by the model's
:class:`~mne_specae.Calibration` head; the probabilities of a channel's
windows are averaged. A channel is ``"unknown"`` when a check fails, when the head is
not sure, or when the channel lies beyond what the model saw.
"""

from __future__ import annotations

from numbers import Integral

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose, warn

from ..utils._checks import check_fraction, check_int
from ..utils._picks import pick_channels
from ..utils._signals import bridge_nonfinite, evenly_spaced
from ._signal_checks import check_channel
from .loading import resolve_model

UNKNOWN = "unknown"
#: Seconds read on each side of a window before resampling (the filter's edge).
MARGIN_SECONDS = 0.5


def _resample(x, sfreq, target):
    if sfreq == target:
        return x
    return mne.filter.resample(x, up=target, down=sfreq, method="polyphase", axis=-1, verbose=False)


def _raw_windows(raw, idx, duration, target, max_segments):
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


def _epochs_windows(epochs, idx, duration, target, max_segments):
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


def _row(name, ch_type, n_segments, reason, classes, proba=None, **extra):
    row = dict(
        channel=name,
        type=ch_type,
        predicted=UNKNOWN,
        probability=np.nan,
        second="",
        second_probability=np.nan,
        n_segments=int(n_segments),
        reason=reason,
        distance=np.nan,
        error_z=np.nan,
    )
    if proba is not None:
        order = np.argsort(proba)[::-1]
        row.update(
            predicted=classes[order[0]],
            probability=float(proba[order[0]]),
            second=classes[order[1]],
            second_probability=float(proba[order[1]]),
        )
    row.update(extra)
    return row


@verbose
def identify_channel_types(
    inst, *, picks="all", model=None, max_segments=30, min_probability=0.7, verbose=None
):
    """Tell ECG, EEG and EMG channels apart from their signals, whatever their type.

    The current channel types are ignored. Each channel is cut into windows of the
    model's length (up to ``max_segments``, evenly spread over the recording;
    windows touching ``BAD`` annotations or NaN samples are left out), the windows
    are checked for what no biosignal looks like (flat, steps, nothing above 10 Hz,
    a single tone; see :mod:`mne_specae.signal_checks`), resampled to the model's
    rate on a copy, embedded, and classified by the model's signal-type head; a
    channel's probabilities are the mean over its windows. The object you pass is
    never changed. Fix the types in one line::

        df = identify_channel_types(raw)
        raw.set_channel_types(df.query("predicted != 'unknown'")["predicted"].to_dict())

    Parameters
    ----------
    inst : mne.io.Raw | mne.Epochs
        The recording. Epochs longer than a window give several windows each; shorter
        ones none.
    picks : str | list | slice
        Channels to identify (MNE's picks; ``"all"``: every channel, whatever its
        type). Bad channels are left out unless named.
    model : SpecAE | str | path-like | None
        A fitted model with a ``calibration_`` (see :func:`~mne_specae.calibrate`), its
        ``.specae`` file, or the name of a pretrained one; ``None``:
        :func:`~mne_specae.load_pretrained` (``"biosignals"``).
    max_segments : int
        At most this many windows per channel (memory and time stay bounded on long
        recordings and many channels).
    min_probability : float
        Below this mean probability of the best class the channel is ``"unknown"``.
    %(verbose)s

    Returns
    -------
    table : pandas.DataFrame
        One row per channel, indexed by name: ``type`` (current), ``predicted``
        (``"ecg"``, ``"eeg"``, ``"emg"`` or ``"unknown"``), ``probability`` (of the
        best class), ``second`` and ``second_probability`` (the runner-up),
        ``n_segments`` (windows used), ``reason`` (why ``"unknown"``, else empty),
        ``distance`` and ``error_z`` (how far the channel lies from the training
        data: median embedding distance to the nearest type, and the robust z-score
        of the median reconstruction error; see
        :class:`~mne_specae.Calibration`).

    Notes
    -----
    ``"unknown"`` is given to channels shorter than one window, flat, step-like,
    slow or tonal channels (before the model is asked), when the best class's
    probability is below ``min_probability``, and when the distance or the error
    exceeds the thresholds calibrated on the training channels, and to every channel
    the model judged when its calibration holds NaN or Inf values (a damaged model
    file: loading it warns; see :meth:`Calibration.nonfinite_fields
    <mne_specae.Calibration.nonfinite_fields>`). The model card
    reports how often this is right on sources the head never saw.
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
    names = [inst.ch_names[i] for i in idx]
    types = inst.get_channel_types(picks=idx)
    sfreq, target = float(inst.info["sfreq"]), float(model.sfreq_)
    duration = model.n_times_ / target
    classes = calibration.classes
    fmax = getattr(model.input_stage_, "fmax", None)
    if fmax is not None and sfreq / 2 < fmax:
        warn(
            f"The data are sampled at {sfreq:g} Hz: nothing above {sfreq / 2:g} Hz, but "
            f"the model's input reaches {fmax:g} Hz and it was trained on recordings that "
            "have that band (EMG has most of its power above 20 Hz). The predictions are "
            "less reliable; check them."
        )
    reader = _raw_windows if isinstance(inst, mne.io.BaseRaw) else _epochs_windows
    orig, res = reader(inst, idx, duration, target, max_segments)
    if not orig:
        length = inst.n_times if isinstance(inst, mne.io.BaseRaw) else len(inst.times)
        warn(
            f"The data are shorter ({length / sfreq:.3g} s) than one {duration:g} s "
            "window: no channel can be identified."
        )
        return _table(
            [
                _row(n, t, 0, f"shorter than one {duration:g} s window", classes)
                for n, t in zip(names, types)
            ]
        )
    orig, res = np.stack(orig), np.stack(res)  # (n_windows, n_ch, n)
    rows, items, owners = [], [], []
    for c, (name, ch_type) in enumerate(zip(names, types)):
        ok = np.isfinite(orig[:, c]).all(axis=1)
        reason, stats = check_channel(orig[ok, c], sfreq)
        rows.append(dict(name=name, type=ch_type, n=int(ok.sum()), reason=reason, stats=stats))
        if not reason:
            items.append(res[ok, c])
            owners.append(np.full(int(ok.sum()), c))
    embedded = None
    if items:  # one channel of one window per item, at the model's rate
        X = np.concatenate(items).astype(np.float32)[:, np.newaxis]
        embedded = model.embed_items(X, recon_error=True)
        owners = np.concatenate(owners)
    broken = calibration.nonfinite_fields()
    out = []
    for c, info in enumerate(rows):
        if info["reason"]:
            out.append(
                _row(
                    info["name"], info["type"], info["n"], info["reason"], classes, **info["stats"]
                )
            )
            continue
        sel = owners == c
        feats, errors = embedded.features[sel], embedded.errors[sel]
        proba = calibration.predict_proba(feats).mean(axis=0)
        row = _row(info["name"], info["type"], info["n"], "", classes, proba, **info["stats"])
        row["distance"] = float(np.median(calibration.distance(feats)))
        row["error_z"] = float(np.median(calibration.error_z(errors, row["predicted"])))
        judged = [row[key] for key in ("probability", "distance", "error_z")]
        if broken or not np.isfinite(judged).all():
            row["reason"] = (
                "the model's calibration is damaged: "
                + (
                    f"{', '.join(broken)} not finite"
                    if broken
                    else "its scores of this channel are not finite"
                )
                + "; recalibrate it with mne_specae.calibrate"
            )
        elif row["probability"] < min_probability:
            row["reason"] = (
                f"not sure: {row['predicted']} {row['probability']:.2f}, "
                f"{row['second']} {row['second_probability']:.2f}"
            )
        elif row["distance"] > calibration.max_distance:
            row["reason"] = (
                f"unlike the training data (embedding distance "
                f"{row['distance']:.2f} > {calibration.max_distance:.2f})"
            )
        elif row["error_z"] > calibration.max_error_z:
            row["reason"] = (
                f"unlike the training data (reconstruction error z "
                f"{row['error_z']:.1f} > {calibration.max_error_z:.1f})"
            )
        if row["reason"]:
            row["predicted"] = UNKNOWN
        out.append(row)
    table = _table(out)
    counts = table["predicted"].value_counts().to_dict()
    logger.info(f"Identified {len(table)} channel(s): {counts}")
    return table


def _table(rows):
    table = pd.DataFrame(rows).set_index("channel")
    table.index.name = "channel"
    return table
