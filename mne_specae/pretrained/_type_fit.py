"""Fitting and evaluating the channel-type head.

* :func:`collect_type_data`: what :func:`~mne_specae.identify_channel_types` sees of
  labelled recordings (the rules, the rate-aware features of each channel and the
  encoder's embeddings), computed once;
* :func:`calibrate_types`: fit a :class:`~mne_specae.estimator._type_head.TypeHead`
  on them and attach it to ``model.calibration_``;
* :func:`evaluate_types`: leave one source out: for each source, the heads are
  fitted again without it and its channels are identified as
  :func:`~mne_specae.identify_channel_types` would; a confusion matrix per type, the
  unknown rate.
"""

from __future__ import annotations

import copy

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..estimator._type_head import TypeHead
from ..estimator.calibration import fit_calibration
from ..utils._checks import check_int
from ..utils._picks import pick_channels
from ..utils._signals import evenly_spaced
from ._type_decide import BIOPOTENTIALS, NO_SIGNAL_KINDS, UNKNOWN, feature_verdict
from ._type_features import FEATURE_NAMES, window_features
from .channel_types import collect_channels, decide_channels, embed_channels

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


#: Rates (Hz) each training channel is also seen at (when its own rate is at least
#: 1.5 times higher), and the length (s) of the shorter windows it is also cut into:
#: the head learns that an EMG at 200 Hz or a 10 s EEG recording is still EMG or EEG.
AUGMENT_RATES = (250.0, 100.0, 32.0)
AUGMENT_SECONDS = 10.0


def augment_features(windows, sfreq):
    """Feature rows of ``windows`` at lower rates and on shorter windows (see
    ``AUGMENT_RATES``, ``AUGMENT_SECONDS``); ``(0, N_FEATURES)`` when none applies."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    rows = []
    for rate in AUGMENT_RATES:
        if sfreq >= 1.5 * rate:
            frac = Fraction(rate / sfreq).limit_denominator(1000)
            low = resample_poly(windows, frac.numerator, frac.denominator, axis=-1)
            rows.append(window_features(low, sfreq * frac.numerator / frac.denominator))
    n = int(round(AUGMENT_SECONDS * sfreq))
    if windows.shape[1] >= 2 * n:
        rows.append(window_features(windows[:, :n], sfreq))
    return np.concatenate(rows) if rows else np.empty((0, len(FEATURE_NAMES)))


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
        Also compute each channel's features at lower rates (250, 100 and 32 Hz, where
        its rate is at least 1.5 times higher) and on 10 s windows, as extra training
        rows of the type head (never used to evaluate the channel itself).
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
            augment=augment_features if augment else None,
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


def fit_type_head(data, *, C=1.0):
    """A :class:`TypeHead` on the labelled channels of ``data`` that reached the heads."""
    X, y, ids, srcs = [], [], [], []
    for (_, row), ch in zip(data.table.iterrows(), data.channels):
        if not row["label"] or row["rule"] or ch["features"] is None:
            continue
        feats = ch["features"]
        if ch.get("features_aug") is not None and len(ch["features_aug"]):
            feats = np.concatenate([feats, ch["features_aug"]])
        n = len(feats)
        X.append(feats)
        y += [row["label"]] * n
        ids += [f"{row['recording']}:{row['channel']}"] * n
        srcs += [row["source"]] * n
    if not X:
        raise ValueError("No labelled channel reached the heads: nothing to fit.")
    return TypeHead.fit(np.concatenate(X), y, ids, srcs, feature_names=list(FEATURE_NAMES), C=C)


#: Items per channel the encoder's head is refitted on in :func:`evaluate_types`.
MAX_ITEMS_PER_CHANNEL = 6


def _encoder_calibration(data, C):
    """The encoder's ECG/EEG/EMG head fitted on the cached embeddings of ``data`` (at
    most ``MAX_ITEMS_PER_CHANNEL`` evenly spread items per channel)."""
    X, err, y, ids = [], [], [], []
    for (_, row), ch in zip(data.table.iterrows(), data.channels):
        if row["true_type"] in BIOPOTENTIALS and ch.get("emb") is not None and len(ch["emb"]):
            keep = evenly_spaced(len(ch["emb"]), MAX_ITEMS_PER_CHANNEL)
            X.append(ch["emb"][keep])
            err.append(ch["err"][keep])
            y += [row["true_type"]] * len(keep)
            ids += [f"{row['recording']}:{row['channel']}"] * len(keep)
    if len(set(y)) < 2:
        return None
    return fit_calibration(np.concatenate(X), np.concatenate(err), np.array(y), np.array(ids), C=C)


@verbose
def calibrate_types(
    model, insts, *, types=None, kinds=None, sources=None, max_segments=30, C=1.0, verbose=None
):
    """Fit the channel-type head of a calibrated model on labelled recordings.

    Call it after :func:`~mne_specae.calibrate` (which fits the encoder's ECG/EEG/EMG
    head and would drop a type head fitted before). The head is stored in
    ``model.calibration_.type_head`` and saved with the model (plain numbers: files
    read with ``weights_only=True``).

    Parameters
    ----------
    model : SpecAE
        A calibrated model (``model.calibration_``).
    insts : mne.io.Raw | mne.Epochs | list | TypeData
        Labelled recordings (see :func:`collect_type_data`), or what it returned.
    types, kinds, sources, max_segments
        See :func:`collect_type_data` (ignored for a ``TypeData``).
    C : float
        Inverse regularisation strength of the logistic regression.
    %(verbose)s

    Returns
    -------
    head : TypeHead
    """
    if getattr(model, "calibration_", None) is None:
        raise ValueError(
            "calibrate_types needs a calibrated model: call "
            "mne_specae.calibrate(model, labelled_epochs) first."
        )
    data = insts
    if not isinstance(data, TypeData):
        data = collect_type_data(
            model, insts, types=types, kinds=kinds, sources=sources, max_segments=max_segments
        )
    head = fit_type_head(data, C=C)
    model.calibration_.type_head = head
    logger.info(f"calibrate_types: {head!r}, channels per label {head.n_channels}")
    return head


def _confusion(pred):
    return pd.crosstab(pred["true_type"], pred["predicted"]).rename_axis(
        index="true", columns="predicted"
    )


@verbose
def evaluate_types(model, data, *, C=1.0, min_probability=0.7, refit_encoder=True, verbose=None):
    """Leave-one-source-out evaluation of channel-type identification.

    For each source of ``data``, the type head (and with ``refit_encoder`` the
    encoder's ECG/EEG/EMG head) is fitted on the other sources, and the source's
    channels are decided as :func:`~mne_specae.identify_channel_types` would.

    Parameters
    ----------
    model : SpecAE
        The encoder the data were collected with (its ``calibration_`` is used when
        ``refit_encoder=False`` or a fold lacks two biopotential types).
    data : TypeData
        From :func:`collect_type_data`.
    C : float
        As in :func:`calibrate_types`.
    min_probability : float
        As in :func:`~mne_specae.identify_channel_types`.
    refit_encoder : bool
        Refit the encoder's head without the held-out source too.
    %(verbose)s

    Returns
    -------
    result : dict
        ``predictions`` (one row per channel: ``source``, ``recording``, ``channel``,
        ``true_type``, ``kind``, ``predicted``, ``predicted_kind``, ``probability``,
        ``reason``, ``family``), ``confusion`` (true MNE type x predicted, counts,
        every source), ``per_source`` (``{source: confusion}``), ``summary`` (per true
        type: ``n``, ``right``, ``unknown``, ``wrong`` as fractions, and the most common
        wrong answer), ``family`` (the type head alone, per true type: how often its
        most probable family is right, the biopotentials counting as one; channels the
        rules decided left out) and ``balanced_accuracy`` (over ECG, EEG and EMG channels;
        ``unknown`` counts as wrong).
    """
    _validate_type(data, TypeData, "data", "TypeData (collect_type_data)")
    base = getattr(model, "calibration_", None)
    out = []
    for source in sorted(data.table["source"].unique()):
        held = (data.table["source"] == source).to_numpy()
        train = data.subset(~held)
        try:
            head = fit_type_head(train, C=C)
        except ValueError as err:
            logger.info(f"evaluate_types: {source}: no type head ({err})")
            head = None
        cal = _encoder_calibration(train, C) if refit_encoder else None
        cal = copy.copy(cal if cal is not None else base)
        if cal is None:
            raise ValueError("No encoder head: calibrate the model, or give two biopotentials.")
        cal.type_head = head
        test = data.subset(held)

        def cached(chs):
            feats = np.concatenate([c["emb"] for c in chs])
            errors = np.concatenate([c["err"] for c in chs])
            owners = np.concatenate([np.full(len(c["emb"]), k) for k, c in enumerate(chs)])
            return feats, errors, owners

        families = []
        for ch in test.channels:  # the type head's family, for its own score
            if head is None or ch["reason"] or ch["features"] is None:
                families.append("")
            else:
                families.append(feature_verdict(head, ch["features"], min_probability)["family"])
        rows = decide_channels(test.channels, cal, cached, min_probability)
        for (_, truth), row, family in zip(test.table.iterrows(), rows, families):
            out.append(
                dict(
                    source=truth["source"],
                    recording=truth["recording"],
                    channel=truth["channel"],
                    true_type=truth["true_type"],
                    kind=truth["kind"],
                    predicted=row["predicted"],
                    predicted_kind=row.get("kind", ""),
                    family=family,
                    probability=row["probability"],
                    reason=row["reason"],
                )
            )
        logger.info(f"evaluate_types: held out {source} ({held.sum()} channels)")
    pred = pd.DataFrame(out)
    # a no-signal kind is right when it comes out unknown
    truth = np.where(pred["kind"].str.lower().isin(NO_SIGNAL_KINDS), UNKNOWN, pred["true_type"])
    pred["true_type"] = truth
    summary = []
    for t, grp in pred.groupby("true_type"):
        wrong = grp[(grp["predicted"] != t) & (grp["predicted"] != UNKNOWN)]
        summary.append(
            dict(
                true_type=t,
                n=len(grp),
                right=float((grp["predicted"] == t).mean()),
                unknown=float((grp["predicted"] == UNKNOWN).mean()) if t != UNKNOWN else 0.0,
                wrong=float(len(wrong) / len(grp)),
                wrong_as=wrong["predicted"].value_counts().idxmax() if len(wrong) else "",
            )
        )
    summary = pd.DataFrame(summary).set_index("true_type")
    bio = summary.loc[summary.index.isin(BIOPOTENTIALS), "right"]
    # the type head alone: the right family (biopotential, or the channel's own type)
    judged = pred[pred["family"] != ""]
    want = np.where(judged["true_type"].isin(BIOPOTENTIALS), "biopotential", judged["true_type"])
    family = (
        judged.assign(right=judged["family"].to_numpy() == want)
        .groupby("true_type")["right"]
        .agg(["size", "mean"])
        .rename(columns={"size": "n", "mean": "right"})
    )
    return dict(
        family=family,
        predictions=pred,
        confusion=_confusion(pred),
        per_source={s: _confusion(g) for s, g in pred.groupby("source")},
        summary=summary,
        balanced_accuracy=float(bio.mean()) if len(bio) else float("nan"),
    )
