"""The decision of :func:`~mne_specae.identify_channel_types` for one channel.

Hierarchical, in three steps (each can end in ``"unknown"`` with a reason):

1. **Rules** (:mod:`._signal_checks`, before any model): flat, a tone, no finite
   window -> ``"unknown"``; held or few levels of a trigger -> ``"stim"``; a
   rectified envelope -> ``"misc"`` (kind ``"envelope"``); white
   noise (a power density flat across the bands, ``NOISE_FLATNESS``: 0.05-0.13 for
   white noise, 0.18-0.24 for the unconnected AUX input of Muse headbands, at least
   0.31 for every real ECG, EEG and EMG channel of the developers' recordings, but
   down to 0.09 for forearm EMG at 200 Hz; so also a steady, Gaussian amplitude) ->
   ``"unknown"``. The threshold was 0.2 until the corpus evaluation showed 27 of
   Muse's 40 unconnected inputs called ``emg``; at 0.25 (chosen on that evaluation)
   18 more are ``unknown``, and one Myo EMG channel at rest.
2. **The channel-type head** (``calibration.type_head``, rate-aware features at the
   channel's own rate; below ``LOW_RATE`` the low-rate head,
   ``calibration.low_rate_head``, which knows no biopotential): which MNE type; ECG,
   EEG and EMG together are one family, the biopotentials. A channel far from every label the head knows is ``"unknown"``.
3. **The encoder's heads** (:class:`~mne_specae.Calibration`: its channel head on the
   channel's mean embedding and median signal features, else its items' head) tell
   ECG, EEG and EMG apart inside the biopotential family (sent there when it is the type head's most
   probable family with at least ``FAMILY_MAJORITY``, or when no other type is sure
   and the biopotentials have at least ``FAMILY_FLOOR``), as before the type head
   existed: ``min_probability`` on its probabilities, and its own
   out-of-distribution thresholds (distance, reconstruction error). A model file without a type head goes
   straight here (slow channels are then ``"unknown"`` by the rules).

The guards applied after an answer (EOG, smoothness, pulse, length) are in
:mod:`._type_guards`.
"""

from __future__ import annotations

import numpy as np

from ..estimator._type_head import label_kind, label_type
from ._type_features import FEATURE_NAMES, LOW_RATE_ONLY, N_FEATURES

UNKNOWN = "unknown"
BIOPOTENTIALS = ("ecg", "eeg", "emg")
#: Kinds of a label that mean "no signal here" (an unconnected input): ``unknown``.
NO_SIGNAL_KINDS = ("unconnected", "noise", "open", "flat")
#: Below this spread of the log power density over the bands (``flatness``), a
#: channel is white noise: an unconnected input or an amplifier's own noise.
NOISE_FLATNESS = 0.25
#: ... and its amplitude steady (``envelope_cv``, the RMS envelope's variability
#: relative to white noise's, below this: white noise about 0, forearm EMG at 200 Hz
#: from 0.04 up) and Gaussian (``log10`` kurtosis within this of ``log10(3)``).
NOISE_ENVELOPE_CV = 0.15
NOISE_KURTOSIS = 0.05
#: Kinds that only the rules name (a rectified envelope, ``_signal_checks.ENVELOPE``):
#: a type head learns them beside the other labels (a slow, non-negative signal is
#: then not pushed onto EOG or EDA), but never answers them; a channel that reaches
#: the head failed the rule's amplitude checks, so it is no rectified envelope.
RULE_KINDS = ("emg_envelope", "envelope")
#: The type head sends a channel to the encoder's head when the biopotentials are its
#: most probable family with at least this probability; the encoder's head then
#: applies ``min_probability`` and its own out-of-distribution thresholds.
FAMILY_MAJORITY = 0.5
#: When no other type reaches ``min_probability``, the encoder's head is asked too if
#: the biopotentials have at least this probability (its thresholds and the EOG guard
#: still apply): a type head unsure about a new source does not hide a known ECG.
FAMILY_FLOOR = 0.2
#: Channels sampled below this rate (Hz) are decided by the low-rate head (when the
#: calibration has one): ECG and EEG show above 10 Hz, which the features count from
#: 37.5 Hz (the 10-15 Hz band below 0.8 x Nyquist), so it learns no biopotential and no
#: EOG, and names what a wearable records that slowly (PPG, motion, breathing, EDA,
#: temperature) from rows at 32, 25, 16 and 4 Hz.
LOW_RATE = 37.5


def head_for(calibration, sfreq):
    """The type head that decides a channel sampled at ``sfreq`` Hz (``None``: none)."""
    low = getattr(calibration, "low_rate_head", None)
    if low is not None and sfreq is not None and sfreq < LOW_RATE:
        return low
    return getattr(calibration, "type_head", None)


def white_noise(median_features):
    """The reason a channel is white noise, or ``""`` (see ``NOISE_FLATNESS``)."""
    if median_features is None:
        return ""
    flat, cv, kurt = (
        median_features[FEATURE_NAMES.index(name)]
        for name in ("flatness", "envelope_cv", "log_kurtosis")
    )
    if (
        np.isfinite([flat, cv, kurt]).all()
        and flat < NOISE_FLATNESS
        and cv < NOISE_ENVELOPE_CV
        and abs(kurt - np.log10(3.0)) < NOISE_KURTOSIS
    ):
        return (
            f"white noise (an unconnected input or amplifier noise: power density flat "
            f"within {flat:.2f} log10 units, a steady Gaussian amplitude)"
        )
    return ""


#: The rate-aware features the channel head reads (:func:`channel_vector`).
CHANNEL_FEATURES = [n for n in FEATURE_NAMES if n not in LOW_RATE_ONLY]
CHANNEL_COLUMNS = [FEATURE_NAMES.index(n) for n in CHANNEL_FEATURES]


def head_columns(head, features):
    """The columns of ``features`` (rows of :data:`FEATURE_NAMES`) the head was fitted
    on, by name (a head saved before some features existed, or one that leaves some
    out); ``features`` as they are when the head names others."""
    features = np.asarray(features, np.float64)
    names = list(head.feature_names)
    if features.shape[-1] != N_FEATURES or not set(names) <= set(FEATURE_NAMES):
        return features
    return features[:, [FEATURE_NAMES.index(n) for n in names]]


def type_probabilities(head, features):
    """``(labels, types)``: mean label probabilities over windows, and those summed
    per MNE type (labels of a no-signal kind count as ``"unknown"``; labels of a kind
    the rules decide, ``RULE_KINDS``, are left out and the rest renormalised)."""
    proba = head.predict_proba(head_columns(head, features)).mean(axis=0)
    labels = {lab: p for lab, p in zip(head.labels, proba) if label_kind(lab) not in RULE_KINDS}
    total = sum(labels.values())
    if total > 0:
        labels = {lab: p / total for lab, p in labels.items()}
    types = {}
    for label, p in labels.items():
        kind = UNKNOWN if label_kind(label) in NO_SIGNAL_KINDS else label_type(label)
        types[kind] = types.get(kind, 0.0) + float(p)
    return labels, types


def _ranked(proba):
    order = sorted(proba, key=proba.get, reverse=True)
    second = order[1] if len(order) > 1 else ""
    return order[0], second


def _describe(proba, k=3):
    order = sorted(proba, key=proba.get, reverse=True)[:k]
    return ", ".join(f"{t} {proba[t]:.2f}" for t in order)


def feature_verdict(head, features, min_probability):
    """Step 2 for one channel: a dict of the row's fields, with ``route`` ``"encoder"``
    (a biopotential: step 3 decides) or ``"final"``."""
    features = head_columns(head, features)
    labels, types = type_probabilities(head, features)
    distance = float(np.median(head.distance(features)))
    families = {t: p for t, p in types.items() if t not in BIOPOTENTIALS}
    families["biopotential"] = sum(types.get(t, 0.0) for t in BIOPOTENTIALS)
    best, _ = _ranked(families)
    out = dict(types=types, labels=labels, feature_distance=distance, route="final", family=best)
    first, second = _ranked(types)
    out.update(
        predicted=UNKNOWN,
        probability=types[first],
        second=second,
        second_probability=types.get(second, np.nan),
    )
    if distance > head.max_distance:
        out["reason"] = (
            f"unlike the training data (signal features: distance {distance:.2f} > "
            f"{head.max_distance:.2f})"
        )
    elif (best == "biopotential" and families[best] >= FAMILY_MAJORITY) or (
        families[best] < min_probability and families["biopotential"] >= FAMILY_FLOOR
    ):
        out["route"] = "encoder"  # its own thresholds check it is a known biopotential
        out["reason"] = ""
        out["type_probability"] = families["biopotential"]
    elif families[best] < min_probability or best == "biopotential":
        out["reason"] = f"not sure: {_describe(families)}"
    elif best == UNKNOWN:
        out["reason"] = f"looks like an unconnected input or noise ({families[best]:.2f})"
        out["kind"] = max(
            (label for label in labels if label_kind(label) in NO_SIGNAL_KINDS),
            key=labels.get,
            default="",
        ).partition("/")[2]
    else:
        mine = [label for label in labels if label_type(label) == best]
        out.update(
            predicted=best,
            probability=families[best],
            type_probability=families[best],
            kind=label_kind(max(mine, key=labels.get)),
            reason="",
        )
        out["second"], out["second_probability"] = max(
            ((t, p) for t, p in types.items() if t != best), key=lambda tp: tp[1]
        )
    return out


def channel_vector(emb, median):
    """The channel head's input: a channel's mean embedding, then its median rate-aware
    features but :data:`~._type_features.LOW_RATE_ONLY` (:data:`CHANNEL_FEATURES`; NaN
    where missing at its rate: imputed by the head), shape ``(1, n)``."""
    mean = np.asarray(emb, np.float64).mean(axis=0)
    median = np.asarray(median, np.float64)[CHANNEL_COLUMNS]
    return np.concatenate([mean, median])[np.newaxis]


def encoder_verdict(calibration, feats, errors, min_probability, median=None):
    """Step 3 for one channel: ECG, EEG or EMG from the encoder's items
    (``feats``, ``errors``), with the encoder's probabilities and thresholds. With a
    ``channel_head`` in the calibration and the channel's ``median`` rate-aware
    features, the probabilities are the channel head's (the items' mean embedding with
    the channel's features)."""
    head = getattr(calibration, "channel_head", None)
    if head is not None and median is not None and len(feats):
        joint = dict(zip(head.labels, head.predict_proba(channel_vector(feats, median))[0]))
    else:
        joint = dict(zip(calibration.classes, calibration.predict_proba(feats).mean(axis=0)))
    joint = {t: float(p) for t, p in joint.items()}
    first, second = _ranked(joint)
    row = dict(
        predicted=first,
        probability=joint[first],
        second=second,
        second_probability=joint.get(second, np.nan),
        reason="",
    )
    row["distance"] = float(np.median(calibration.distance(feats)))
    row["error_z"] = (
        float(np.median(calibration.error_z(errors, first)))
        if first in calibration.error_reference
        else np.nan
    )
    broken = calibration.nonfinite_fields()
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
        row["reason"] = f"not sure: {_describe(joint, 2)}"
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
    return row
