"""Leave-one-source-out evaluation of channel-type identification.

* :func:`evaluate_types`: for each source, the heads of :mod:`._type_fit` are fitted
  again without it and its channels are identified as
  :func:`~mne_specae.identify_channel_types` would (:func:`.channel_types.decide_channels`);
  a confusion matrix per type, the unknown rate, per-source and headline figures.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ._type_channels import decide_channels
from ._type_data import TypeData
from ._type_decide import BIOPOTENTIALS, NO_SIGNAL_KINDS, UNKNOWN, feature_verdict, head_for
from ._type_fit import _encoder_calibration, _low_rate_head, fit_channel_head, fit_type_head


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
