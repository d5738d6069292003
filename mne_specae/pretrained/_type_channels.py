"""What :func:`~.channel_types.identify_channel_types` sees of each channel, and its
decision, for the public function and for fitting and evaluating the heads
(:mod:`._type_data`, :mod:`._type_evaluation`):

* :func:`collect_channels`: each channel's windows, the rules' verdict and
  statistics, its rate-aware features with its peers' context, and the windows the
  encoder embeds;
* :func:`decide_channels`: the rows of the table, in the steps of
  :mod:`._type_decide` and the guards of :mod:`._type_guards`.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from ._signal_checks import check_channel
from ._type_context import recording_context, with_context
from ._type_decide import UNKNOWN, encoder_verdict, feature_verdict, head_for, white_noise
from ._type_eog import declared_eog, eog_guard
from ._type_features import window_features
from ._type_guards import name_guard, pulse_guard, rate_guard, slow_guard, smooth_guard
from ._type_windows import (
    at_rate,
    epochs_windows,
    feature_windows,
    raw_windows,
    sampled_rate,
    without_drift,
)

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
    windows, drifts; ``_type_augment.training_augment``), kept in the channel's dict. With ``teach``, the features of rectified envelopes are computed
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
    orig = np.stack(orig)  # (n_windows, n_ch, n)
    res = without_drift(np.stack(res), target)  # as the encoder sees them
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


def _table(rows):
    table = pd.DataFrame(rows).set_index("channel")
    table.index.name = "channel"
    front = [c for c in COLUMNS if c in table]
    return table[front + [c for c in table if c not in front]]
