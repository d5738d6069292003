"""Labelled channels as :func:`~mne_specae.identify_channel_types` sees them, for
fitting and evaluating the channel-type head (:mod:`._type_fit`): the labels, which
rows each head learns from (the extra rows themselves: :mod:`._type_augment`) and
:func:`collect_type_data`.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..utils._checks import check_int
from ..utils._picks import pick_channels
from ._type_augment import AUGMENT_RATES, LOW_ONLY_RATES, training_augment
from ._type_channels import collect_channels, embed_channels
from ._type_decide import BIOPOTENTIALS, LOW_RATE, NO_SIGNAL_KINDS, UNKNOWN

#: MNE types a type head can learn (stim is the rules' business).
HEAD_TYPES = ("ecg", "eeg", "emg", "eog", "resp", "bio", "gsr", "temperature", "misc", UNKNOWN)


def channel_label(ch_type, kind):
    """The head's label of a channel of MNE type ``ch_type`` and ``kind``: ``"ecg"``,
    ``"bio/ppg"``, ``"unknown/unconnected"`` (a no-signal kind, whatever the type), or
    ``""`` for channels the head does not learn (``stim``)."""
    kind = str(kind or "").strip().lower().replace("/", "_")
    if kind in NO_SIGNAL_KINDS:
        return f"{UNKNOWN}/{kind}"
    if ch_type not in HEAD_TYPES or ch_type == UNKNOWN:
        return ""
    if ch_type in BIOPOTENTIALS or not kind or kind == ch_type:
        return ch_type
    return f"{ch_type}/{kind}"


class TypeData:
    """Labelled channels as :func:`~mne_specae.identify_channel_types` sees them.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per channel: ``source``, ``recording``, ``channel``, ``true_type``,
        ``kind``, ``label`` (see :func:`channel_label`), ``sfreq``, ``rule`` (the
        rules' reason, empty when the channel reached the heads), ``stim``,
        ``n_windows`` (feature windows), ``n_items`` (embedded windows).
    channels : list of dict
        What the decision needs of each row (features, embeddings).
    """

    def __init__(self, table, channels):
        self.table = table.reset_index(drop=True)
        self.channels = list(channels)

    def __len__(self):
        return len(self.channels)

    def __repr__(self):
        counts = self.table["label"].replace("", "(rules)").value_counts().to_dict()
        return (
            f"<TypeData | {len(self)} channels of {self.table['source'].nunique()} "
            f"source(s): {counts}>"
        )

    def __add__(self, other):
        return TypeData(pd.concat([self.table, other.table]), self.channels + other.channels)

    def subset(self, mask):
        mask = np.asarray(mask, bool)
        return TypeData(self.table[mask], [c for c, m in zip(self.channels, mask) if m])


def _per_inst(value, n, name):
    if value is None:
        return [None] * n
    if isinstance(value, (dict, str)):
        value = [value]
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{name} must have one entry per recording ({n}), got {len(value)}.")
    return value


#: The lowest rate the type head learns rows at (a channel's own rows included).
TYPE_HEAD_MIN_RATE = min(r for r in AUGMENT_RATES if r not in LOW_ONLY_RATES)
#: Types the low-rate head (channels below ``_type_decide.LOW_RATE``) does not learn:
#: they need a higher rate.
FAST_TYPES = ("ecg", "eeg", "emg", "eog")


def below_low_rate(ch):
    """Whether a collected channel was judged below ``LOW_RATE`` (its own rate, or the
    one it was sampled at before a reader upsampled it): an ECG, EEG, EMG or EOG
    channel so slow teaches neither the type head nor the ECG/EEG/EMG heads (the low-
    rate head and the rate guard decide such channels)."""
    return ch.get("sfreq") is not None and ch["sfreq"] < LOW_RATE


def training_rows(ch, ch_type, *, low_rate=False):
    """A channel's training rows for the type head: its own feature windows and its
    augmented rows but those at ``LOW_ONLY_RATES`` (every row in data collected before
    the rates were kept; none of a biopotential or EOG judged below ``LOW_RATE``, none
    of any channel judged below ``TYPE_HEAD_MIN_RATE``); with
    ``low_rate``, for the low-rate head: its rows below
    ``LOW_RATE`` (none for ``FAST_TYPES``)."""
    feats, extra = ch["features"], ch.get("features_aug")
    sfreq, rates = ch.get("sfreq"), ch.get("rates_aug")
    if extra is None:
        extra, rates = feats[:0], np.empty(0)
    if not low_rate and (
        (ch_type in FAST_TYPES and below_low_rate(ch))
        or (sfreq is not None and sfreq < TYPE_HEAD_MIN_RATE)
    ):
        # no ECG, EEG, EMG or EOG below LOW_RATE (the rate guard), and no channel below
        # the rates the type head learns at: taught the 4 and 8 Hz wrist sensors of the
        # wearable sources (every band above 3.2 Hz missing, imputed), the type head
        # called most of UCI's gesture EMG temperature
        return feats[:0]
    if low_rate:
        if ch_type in FAST_TYPES or rates is None or sfreq is None:
            return feats[:0]
        own = feats if sfreq < LOW_RATE else feats[:0]
        return np.concatenate([own, extra[np.asarray(rates) < LOW_RATE]])
    if rates is not None and len(extra):
        rates = np.asarray(rates)
        extra = extra[~np.isin(rates, LOW_ONLY_RATES) | (rates == sfreq)]
    own = ch.get("features_biopotential")
    if ch_type in BIOPOTENTIALS and own is not None and len(own):
        extra = np.concatenate([extra, own])
    return np.concatenate([feats, extra]) if len(extra) else feats


@verbose
def collect_type_data(
    model,
    insts,
    *,
    types=None,
    kinds=None,
    sources=None,
    max_segments=30,
    augment=True,
    verbose=None,
):
    """Features, rules and embeddings of labelled channels, for fitting and evaluating.

    Parameters
    ----------
    model : SpecAE
        The encoder (its ``calibration_`` is not needed here).
    insts : mne.io.Raw | mne.Epochs | list
        Recordings whose channel types are the truth (``stim`` channels included:
        they test the rules; ``"misc"`` with a kind for motion or processed signals).
    types : list of dict | None
        Per recording, ``{channel: MNE type}`` overriding the file's types.
    kinds : list of dict | None
        Per recording, ``{channel: kind}`` (``"ppg"``, ``"abp"``, ``"accelerometer"``,
        ``"emg_envelope"``, ``"unconnected"``...). A no-signal kind
        (``"unconnected"``, ``"noise"``, ``"open"``) teaches ``"unknown"``.
    sources : list of str | None
        Per recording, its source (the unit held out by :func:`evaluate_types`);
        default: ``raw.info["description"]`` or ``"recording<k>"``.
    max_segments : int
        As in :func:`~mne_specae.identify_channel_types`.
    augment : bool
        Also compute each channel's features at lower rates (250, 100, 32, 25, 16 and
        4 Hz, where its rate is at least 1.5 times higher) and on 10 s windows, as
        extra training rows of the type head (250-32 Hz) and of the low-rate head
        (below 37.5 Hz; never used to evaluate the channel itself).
    %(verbose)s

    Returns
    -------
    data : TypeData
        Add two with ``+``.
    """
    if isinstance(insts, (mne.io.BaseRaw, mne.BaseEpochs)):
        insts = [insts]
    insts = list(insts)
    for k, inst in enumerate(insts):
        _validate_type(inst, (mne.io.BaseRaw, mne.BaseEpochs), f"insts[{k}]", "Raw or Epochs")
    max_segments = check_int(max_segments, "max_segments")
    types, kinds = _per_inst(types, len(insts), "types"), _per_inst(kinds, len(insts), "kinds")
    sources = _per_inst(sources, len(insts), "sources")
    rows, channels = [], []
    for k, inst in enumerate(insts):
        idx = pick_channels(inst.info, "all", default="all")
        recording = inst.info.get("description") or f"recording{k}"
        source = sources[k] or recording
        chs, _ = collect_channels(
            inst,
            idx,
            model,
            max_segments,
            slow_ok=True,
            augment=training_augment if augment else None,
            teach=True,
        )
        reached = [c for c in chs if not c["reason"]]
        if reached:
            feats, errors, owners = embed_channels(model, reached)
            for j, c in enumerate(reached):
                c["emb"], c["err"] = feats[owners == j], errors[owners == j]
        for c in chs:
            true = (types[k] or {}).get(c["name"], c["type"])
            kind = (kinds[k] or {}).get(c["name"], "") or ""
            c["items"] = None  # the embeddings are kept, not the windows
            rows.append(
                dict(
                    source=str(source),
                    recording=str(recording),
                    channel=c["name"],
                    true_type=true,
                    kind=str(kind),
                    label=channel_label(true, kind),
                    sfreq=float(inst.info["sfreq"]),
                    rule=c["reason"],
                    stim=bool(c["stim"]),
                    n_windows=0 if c["features"] is None else len(c["features"]),
                    n_items=len(c.get("emb", ())),
                )
            )
            channels.append(c)
        logger.info(f"collect_type_data: {recording} ({source}): {len(chs)} channel(s)")
    return TypeData(pd.DataFrame(rows), channels)
