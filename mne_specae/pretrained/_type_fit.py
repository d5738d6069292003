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

import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..estimator._type_head import TypeHead
from ..estimator.calibration import fit_calibration
from ..utils._signals import evenly_spaced
from ._type_data import (  # noqa: F401 (collect_type_data and TypeData: this module's face)
    AUGMENT_RATES,
    AUGMENT_SECONDS,
    TypeData,
    augment_features,
    below_low_rate,
    channel_label,
    collect_type_data,
    training_rows,
)
from ._type_decide import (
    BIOPOTENTIALS,
    NO_SIGNAL_KINDS,
    UNKNOWN,
    channel_vector,
    feature_verdict,
    head_for,
)
from ._type_features import FEATURE_NAMES, N_OWN
from .channel_types import _quiet, decide_channels

#: A label of fewer channels than this is not learned: one phonocardiogram taught a
#: head to call a whole EMG database ``misc/pcg``.
MIN_LABEL_CHANNELS = 3


def fit_type_head(data, *, C=1.0, low_rate=False):
    """A :class:`TypeHead` on the labelled channels of ``data`` that reached the heads,
    and the rectified envelopes the rules decided (their labels are learned beside the
    others, and never answered: see ``RULE_KINDS``); with ``low_rate``, the low-rate
    head, on their rows below ``LOW_RATE`` (see ``training_rows``)."""
    X, y, ids, srcs = [], [], [], []
    for (_, row), ch in zip(data.table.iterrows(), data.channels):
        decided = row["rule"] and not ch.get("envelope")
        if not row["label"] or decided or ch["features"] is None:
            continue
        feats = training_rows(ch, row["true_type"], low_rate=low_rate)
        n = len(feats)
        X.append(feats)
        y += [row["label"]] * n
        ids += [f"{row['recording']}:{row['channel']}"] * n
        srcs += [row["source"]] * n
    if not X:
        raise ValueError("No labelled channel reached the heads: nothing to fit.")
    X, y, ids, srcs = np.concatenate(X), np.asarray(y), np.asarray(ids), np.asarray(srcs)
    support = pd.Series(ids).groupby(y).nunique()
    thin = sorted(support.index[support < MIN_LABEL_CHANNELS])
    if thin:
        logger.info(
            f"fit_type_head: left out label(s) with fewer than {MIN_LABEL_CHANNELS} "
            f"channels: {', '.join(f'{lab} ({support[lab]})' for lab in thin)}"
        )
        keep = ~np.isin(y, thin)
        X, y, ids, srcs = X[keep], y[keep], ids[keep], srcs[keep]
    if len(set(y)) < 2:
        raise ValueError(f"Fewer than two labels to tell apart ({sorted(set(y))}): no head.")
    # the peer features serve the channel head only (type heads taught them named Brain
    # Invaders' EEG "unconnected", more accelerometers and pulse waves unknown)
    return TypeHead.fit(
        X[:, :N_OWN], list(y), list(ids), list(srcs), feature_names=FEATURE_NAMES[:N_OWN], C=C
    )


#: Items per channel the encoder's head the encoder's heads are (re)fitted on.
MAX_ITEMS_PER_CHANNEL = 6


#: Rows per channel of the channel head besides its own: means of random halves of its
#: items (more rows from few channels; the same statistic as at prediction).
HALVES = 4


def fit_channel_head(data, *, C=1.0):
    """The channel-level ECG/EEG/EMG head (a :class:`TypeHead` on :func:`channel_vector`)
    on the biopotential channels of ``data`` that reached the heads; ``None`` with fewer
    than two of the three types. One row per channel and ``HALVES`` more (means of
    random halves of its items); every type weighs the same, and within a type every
    row (a source of two channels weighs what its two channels do, not as much as a
    source of 300: few channels of an odd source do not define the type)."""
    X, y, ids, srcs = [], [], [], []
    for (_, row), ch in zip(data.table.iterrows(), data.channels):
        emb, feats = ch.get("emb"), ch["features"]
        if row["true_type"] not in BIOPOTENTIALS or row["rule"] or feats is None:
            continue
        if below_low_rate(ch):
            continue
        if emb is None or not len(emb):
            continue
        with np.errstate(all="ignore"), _quiet():
            median = np.nanmedian(feats, axis=0)
        rows = []
        for med in (median, ch.get("median_sparse")):  # with all its peers, and few
            if med is None:
                continue
            rows.append(channel_vector(emb, med))  # the channel, and means of half its items
            rng = np.random.default_rng(len(y))
            for _ in range(HALVES if len(emb) > 3 else 0):
                half = rng.choice(len(emb), (len(emb) + 1) // 2, replace=False)
                rows.append(channel_vector(emb[half], med))
        X += rows
        y += [row["true_type"]] * len(rows)
        ids += [f"{row['recording']}:{row['channel']}"] * len(rows)
        srcs += [row["source"]] * len(rows)
    if len(set(y)) < 2:
        return None
    names = [f"embedding_{k}" for k in range(X[0].shape[1] - len(FEATURE_NAMES))]
    X, names = np.concatenate(X), names + list(FEATURE_NAMES)
    return TypeHead.fit(X, y, ids, srcs, feature_names=names, C=C, by_source=False)


def _encoder_calibration(data, C):
    """The encoder's ECG/EEG/EMG head fitted on the cached embeddings of ``data`` (at
    most ``MAX_ITEMS_PER_CHANNEL`` evenly spread items per channel)."""
    X, err, y, ids = [], [], [], []
    for (_, row), ch in zip(data.table.iterrows(), data.channels):
        if below_low_rate(ch):
            continue
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
    ``model.calibration_.type_head``, with the channel head
    (``calibration_.channel_head``: ECG, EEG or EMG of a whole channel) and, when the
    data teach two labels or more below 37.5 Hz (``collect_type_data(...,
    augment=True)``), the low-rate head (``calibration_.low_rate_head``: channels
    sampled below 37.5 Hz), all saved with the model (plain numbers: files read with
    ``weights_only=True``).

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
    model.calibration_.channel_head = fit_channel_head(data, C=C)
    model.calibration_.low_rate_head = _low_rate_head(data, C)
    logger.info(f"calibrate_types: {head!r}, channels per label {head.n_channels}")
    return head


def _low_rate_head(data, C):
    """The low-rate head, or ``None`` when ``data`` teach fewer than two labels below
    ``LOW_RATE`` (data collected without ``augment``, or before the rates were kept):
    the type head then decides slow channels too."""
    try:
        return fit_type_head(data, C=C, low_rate=True)
    except ValueError as err:
        logger.info(f"no low-rate head: {err}")
        return None


def _confusion(pred):
    return pd.crosstab(pred["true_type"], pred["predicted"]).rename_axis(
        index="true", columns="predicted"
    )


@verbose
def evaluate_types(
    model, data, *, C=1.0, min_probability=0.7, refit_encoder=True, test_data=None, verbose=None
):
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
    test_data : TypeData | None
        The channels to decide for each held-out source (default: ``data``'s own),
        e.g. the same recordings resampled to a wearable's rate
        (:func:`collect_type_data` of ``raw.copy().resample(64)``): the heads are
        fitted on ``data`` without that source, and ``test_data``'s channels of that
        source are decided. Sources only in ``test_data`` are not decided.
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
        rules decided left out), ``balanced_accuracy`` (over ECG, EEG and EMG channels;
        ``unknown`` counts as wrong) and ``balanced_accuracy_by_source`` (the same
        with each source weighted equally within a type: a source with hundreds of
        channels does not decide a type's recall alone), ``other_types`` (the
        channels of the other physiological types: ``n``, ``called_biopotential``
        (how many came out ``ecg``, ``eeg`` or ``emg``), ``named`` (the share named
        their own type) and ``named_by_source``), ``by_source`` (per source and
        true type: ``n``, ``right``, ``unknown``) and ``headline`` (these figures in
        one line).
    """
    _validate_type(data, TypeData, "data", "TypeData (collect_type_data)")
    if test_data is None:
        test_data = data
    _validate_type(test_data, TypeData, "test_data", "TypeData (collect_type_data)")
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
        if refit_encoder:
            cal.channel_head = fit_channel_head(train, C=C)
        cal.low_rate_head = _low_rate_head(train, C)
        test = test_data.subset((test_data.table["source"] == source).to_numpy())
        # each channel with its rate (data collected before it was kept lack it; the
        # caller's data are not changed)
        channels = [
            dict(ch, sfreq=ch.get("sfreq", float(sfreq)))
            for ch, sfreq in zip(test.channels, test.table["sfreq"])
        ]

        def cached(chs):
            feats = np.concatenate([c["emb"] for c in chs])
            errors = np.concatenate([c["err"] for c in chs])
            owners = np.concatenate([np.full(len(c["emb"]), k) for k, c in enumerate(chs)])
            return feats, errors, owners

        families = []
        for ch in channels:  # the type head's family, for its own score
            ch_head = head_for(cal, ch["sfreq"])
            if ch_head is None or ch["reason"] or ch["features"] is None:
                families.append("")
            else:
                families.append(feature_verdict(ch_head, ch["features"], min_probability)["family"])
        rows = decide_channels(channels, cal, cached, min_probability)
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
        logger.info(f"evaluate_types: held out {source} ({len(test)} channels)")
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
    by_source = (
        pred.assign(right=pred["predicted"] == pred["true_type"])
        .assign(unknown=pred["predicted"] == UNKNOWN)
        .groupby(["source", "true_type"])
        .agg(n=("right", "size"), right=("right", "mean"), unknown=("unknown", "mean"))
    )
    # each source weighted equally within a biopotential type
    per_type = by_source["right"].groupby(level="true_type").mean()
    per_type = per_type[per_type.index.isin(BIOPOTENTIALS)]
    # the type head alone: the right family (biopotential, or the channel's own type)
    judged = pred[pred["family"] != ""]
    want = np.where(judged["true_type"].isin(BIOPOTENTIALS), "biopotential", judged["true_type"])
    family = (
        judged.assign(right=judged["family"].to_numpy() == want)
        .groupby("true_type")["right"]
        .agg(["size", "mean"])
        .rename(columns={"size": "n", "mean": "right"})
    )
    result = dict(
        family=family,
        predictions=pred,
        confusion=_confusion(pred),
        per_source={s: _confusion(g) for s, g in pred.groupby("source")},
        summary=summary,
        balanced_accuracy=float(bio.mean()) if len(bio) else float("nan"),
        balanced_accuracy_by_source=float(per_type.mean()) if len(per_type) else float("nan"),
        other_types=_other_types(pred),
        by_source=by_source,
    )
    result["headline"] = describe_types(result)
    return result


def _other_types(pred):
    """How the channels of the other physiological types fared (not ECG/EEG/EMG, not
    stim, not a no-signal input)."""
    others = pred[~pred["true_type"].isin((*BIOPOTENTIALS, UNKNOWN, "stim"))]
    named = others["predicted"] == others["true_type"]
    return dict(
        n=len(others),
        called_biopotential=int(others["predicted"].isin(BIOPOTENTIALS).sum()),
        named=float(named.mean()) if len(others) else float("nan"),
        named_by_source=float(named.groupby(others["source"]).mean().mean())
        if len(others)
        else float("nan"),
    )


def describe_types(result):
    """One line of :func:`evaluate_types`'s headline figures."""
    other = result["other_types"]
    return (
        f"ECG/EEG/EMG balanced accuracy {result['balanced_accuracy']:.3f} (each source "
        f"weighted equally: {result['balanced_accuracy_by_source']:.3f}); other channels "
        f"called ecg/eeg/emg: {other['called_biopotential']} of {other['n']}; their "
        f"specific type named: {other['named']:.3f} (each source weighted equally: "
        f"{other['named_by_source']:.3f})"
    )
