"""Fitting the channel-type heads.

* :func:`collect_type_data`: what :func:`~mne_specae.identify_channel_types` sees of
  labelled recordings (the rules, the rate-aware features of each channel and the
  encoder's embeddings), computed once;
* :func:`calibrate_types`: fit a :class:`~mne_specae.estimator._type_head.TypeHead`
  on them and attach it to ``model.calibration_``;
* :func:`fit_type_head`, :func:`fit_channel_head`: the heads themselves, which
  :func:`~._type_evaluation.evaluate_types` also fits once per held-out source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mne.utils import logger, verbose

from ..estimator._type_head import TypeHead
from ..estimator.calibration import fit_calibration
from ..utils._signals import evenly_spaced
from ._type_channels import _quiet
from ._type_data import TypeData, below_low_rate, collect_type_data, training_rows  # noqa: F401 (collect_type_data and TypeData: this module's face)
from ._type_decide import BIOPOTENTIALS, CHANNEL_FEATURES, channel_vector
from ._type_features import FEATURE_NAMES, LOW_RATE_ONLY, N_OWN

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
    # and the offsets (LOW_RATE_ONLY) the low-rate head only
    names = [n for n in FEATURE_NAMES[:N_OWN] if low_rate or n not in LOW_RATE_ONLY]
    X = X[:, [FEATURE_NAMES.index(n) for n in names]]
    return TypeHead.fit(X, list(y), list(ids), list(srcs), feature_names=names, C=C)


#: Items per channel the encoder's head the encoder's heads are (re)fitted on.
MAX_ITEMS_PER_CHANNEL = 6


#: Rows per channel of the channel head besides its own: means of random halves of its
#: items (more rows from few channels; the same statistic as at prediction).
HALVES = 4


def _block_medians(ch):
    """The medians of each block of a channel's ECG/EEG/EMG-only rows
    (``features_biopotential``: its 5 s windows, then its windows and their shorter
    windows under a drift, :func:`._type_augment.biopotential_features`), a block
    being as many rows as its own windows; none in data collected without them.

    The encoder's windows are high-passed (:func:`._type_windows.without_drift`), but
    the channel head also reads the rate-aware features, which a drift moves: taught
    only undrifted channels, it called eegmat's EEG under a wander 100 times its size
    "not sure" between EEG and ECG, and leg EMG under a settling transient ECG."""
    extra, n = ch.get("features_biopotential"), len(ch["features"])
    if extra is None or not n or not len(extra) or len(extra) % n:
        return []
    with np.errstate(all="ignore"), _quiet():
        return list(np.nanmedian(extra.reshape(-1, n, extra.shape[1]), axis=1))


def fit_channel_head(data, *, C=1.0):
    """The channel-level ECG/EEG/EMG head (a :class:`TypeHead` on :func:`channel_vector`)
    on the biopotential channels of ``data`` that reached the heads; ``None`` with fewer
    than two of the three types. One row per channel and ``HALVES`` more (means of
    random halves of its items), and one per block of its 5 s and drifted windows
    (:func:`_block_medians`); every type weighs the same, and within a type every
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
        for med in _block_medians(ch):  # its 5 s windows, and its windows under drifts
            rows.append(channel_vector(emb, med))
        X += rows
        y += [row["true_type"]] * len(rows)
        ids += [f"{row['recording']}:{row['channel']}"] * len(rows)
        srcs += [row["source"]] * len(rows)
    if len(set(y)) < 2:
        return None
    names = [f"embedding_{k}" for k in range(X[0].shape[1] - len(CHANNEL_FEATURES))]
    X, names = np.concatenate(X), names + list(CHANNEL_FEATURES)
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
