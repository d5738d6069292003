"""The pretraining corpus as a segment store: :func:`prepare_corpus`.

Each recording of :func:`~mne_specae.datasets.read_corpus` is split into one Raw per
MNE channel type (one Epochs holds one type), every channel of every type is
segmented by :func:`~mne_specae.prepare_segments` (``picks="all"``), and the store's
metadata gets, per item, the channel's ``kind`` and the corpus ``dataset`` (the
source key); ``signal_type`` is the true MNE type, ``subject`` is
``<dataset>-<subject>``. An evenly spread subset capped per dataset is marked in the
``balanced`` column, so that no source dominates a training run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mne.utils import logger, verbose

from ..datasets.corpus import corpus_channel_kinds, read_corpus
from ..datasets.corpus import get_corpus_path as _corpus_path
from .preparation import prepare_segments
from .store import SegmentStore


def _by_type(raw):
    """One Raw per MNE channel type, named ``<recording>-<type>``, with the kinds."""
    kinds = corpus_channel_kinds(raw)
    types = raw.get_channel_types()
    out = []
    for ch_type in dict.fromkeys(types):
        part = raw.copy().pick([ch for ch, t in zip(raw.ch_names, types) if t == ch_type])
        with part.info._unlock():
            part.info["description"] = f"{raw.info['description']}-{ch_type}"
        out.append((part, {ch: kinds[ch] for ch in part.ch_names}))
    return out


def balanced_subset(metadata, max_per_source, *, column="dataset"):
    """Choose items so that each dataset has at most ``max_per_source``, spread evenly.

    Parameters
    ----------
    metadata : pandas.DataFrame
        A store's metadata (store order: recording by recording, time within each),
        with ``column``, ``signal_type`` and ``kind``.
    max_per_source : int | None
        The cap; ``None`` keeps everything.
    column : str
        The column naming the dataset.

    Returns
    -------
    keep : numpy.ndarray of bool
        Per item. A dataset over the cap keeps, of each of its (``signal_type``,
        ``kind``) groups, first up to a floor of ``max_per_source // (2 * n_groups)``
        items (so rare types, EOG or markers, are not thinned out by common ones), then
        shares the rest of the cap among the groups in proportion to what they have
        left. Within a group, items at evenly spaced positions of the store order are
        kept, so every recording and every part of it contributes.
    """
    keep = np.ones(len(metadata), bool)
    if max_per_source is None:
        return keep
    for _, rows in metadata.groupby(column, sort=False).indices.items():
        if len(rows) <= max_per_source:
            continue
        sub = metadata.iloc[rows]
        groups = list(sub.groupby(["signal_type", "kind"], sort=False).indices.values())
        sizes = np.array([len(g) for g in groups])
        first = np.minimum(sizes, max_per_source // (2 * len(groups)))
        rest = sizes - first
        share = (max_per_source - first.sum()) * rest / max(rest.sum(), 1)
        take = np.minimum(sizes, first + np.floor(share).astype(int))
        keep[rows] = False
        for idx, n in zip(groups, take):
            if n:
                chosen = np.unique(np.linspace(0, len(idx) - 1, n).round().astype(int))
                keep[rows[idx[chosen]]] = True
    return keep


def mark_balanced(store, max_per_source):
    """(Re)write the store's ``balanced`` column with another cap (:func:`balanced_subset`).

    Parameters
    ----------
    store : mne_specae.SegmentStore
        A store of :func:`prepare_corpus`.
    max_per_source : int | None
        The cap.

    Returns
    -------
    store : mne_specae.SegmentStore
    """
    table = pd.DataFrame({"balanced": balanced_subset(store.metadata, max_per_source)})
    store.write_columns(table, written_by=f"mark_balanced(max_per_source={max_per_source})")
    return store


def item_spread(store, *, chunk=4096):
    """Compute each item's standard deviation: ``0`` or a tiny value for a constant
    segment (a marker channel between events, a lead off, a saturated input; note that
    polyphase upsampling turns a constant into a small ripple, about 3e-4 of its level
    at 125 -> 512 Hz).

    Parameters
    ----------
    store : mne_specae.SegmentStore
        The store.
    chunk : int
        Items read at a time.

    Returns
    -------
    std : numpy.ndarray
        One value per item, in store order.
    """
    out = np.empty(len(store), np.float32)
    for start in range(0, len(store), chunk):
        rows = np.arange(start, min(start + chunk, len(store)))
        out[rows] = np.asarray(store[rows], dtype=np.float64).std(axis=1)
    return out


def source_fractions(metadata, max_per_source, *, column="dataset"):
    """Compute the fraction of each dataset's items that a cap keeps.

    Parameters
    ----------
    metadata : pandas.DataFrame
        The metadata of a store of the whole corpus (:func:`prepare_corpus`).
    max_per_source : int
        The cap.
    column : str
        The column naming the dataset.

    Returns
    -------
    fractions : dict
        ``{dataset: max_per_source / n_items}`` for the datasets over the cap, for
        ``prepare_corpus(fractions=...)``.
    """
    counts = metadata.groupby(column).size()
    return {str(k): max_per_source / n for k, n in counts.items() if n > max_per_source}


def _central(raw, fraction, duration):
    """The central ``fraction`` of a recording, in whole segments (at least one)."""
    if fraction >= 1:
        return raw
    sfreq = raw.info["sfreq"]
    length = raw.n_times / sfreq
    keep = max(1, int(round(np.floor(length / duration) * fraction))) * duration
    start = np.floor((length - keep) / 2 * sfreq) / sfreq
    return raw.copy().crop(start, start + keep, include_tmax=False)


@verbose
def prepare_corpus(
    path,
    *,
    corpus=None,
    sources=None,
    duration=5.0,
    sfreq=512.0,
    max_per_source=None,
    fractions=None,
    batch=64,
    overwrite=False,
    verbose=None,
):
    """Segment the pretraining corpus into a store for training.

    Parameters
    ----------
    path : path-like
        The store folder (an existing store with the same settings is continued).
    corpus : path-like | None
        The corpus folder (:func:`~mne_specae.datasets.get_corpus_path`).
    sources : str | list of str | None
        Only these corpus sources.
    duration, sfreq : float
        Segment length (s) and rate (Hz).
    max_per_source : int | None
        Cap of the ``balanced`` column: at most this many items per dataset marked
        ``True``, evenly spread (:func:`balanced_subset`); ``None`` marks all.
    fractions : dict | None
        ``{dataset: fraction}``: each recording of these datasets is cropped to its
        central ``fraction`` (whole segments, at least one), so that a smaller store
        keeps every recording and subject (:func:`source_fractions` computes them from
        a store prepared in full: ``SpecAE.fit(store)`` trains on every item of a
        store, so a training subset is a store of its own). ``None``: everything.
    batch : int
        Recordings read (and held in memory) per call of
        :func:`~mne_specae.prepare_segments`.
    overwrite : bool
        Start the store again.
    %(verbose)s

    Returns
    -------
    store : mne_specae.SegmentStore
        Metadata columns: the built-in ones (``signal_type`` the MNE type, ``subject``,
        ``recording`` ``<dataset>/<file>-<type>``, ``channel``, ``onset``,
        ``sfreq_orig``, ``source``) and ``kind``, ``dataset``, ``item_std`` (each
        item's standard deviation, :func:`item_spread`: constant segments, such as
        markers between events or leads off, have ``0`` or a tiny value) and
        ``balanced``.
    """
    folder = _corpus_path(corpus)
    kinds, parts, first = {}, [], True

    def flush():
        nonlocal first, parts
        if parts:
            prepare_segments(
                parts,
                path,
                duration=duration,
                sfreq=sfreq,
                picks="all",
                overwrite=overwrite and first,
                progress=False,
                verbose="warning",
            )
            first, parts = False, []

    n_rec = 0
    for raw in read_corpus(folder, sources=sources, verbose="error"):
        n_rec += 1
        if raw.n_times / raw.info["sfreq"] < duration:
            logger.info(f"{raw.info['description']}: shorter than {duration:g} s, left out")
            continue
        dataset = raw.info["description"].split("/", 1)[0]
        raw = _central(raw, (fractions or {}).get(dataset, 1.0), duration)
        for part, part_kinds in _by_type(raw):
            for ch, kind in part_kinds.items():
                kinds[(part.info["description"], ch)] = kind
            parts.append(part)
        if len(parts) >= batch:
            flush()
            logger.info(f"prepare_corpus: {n_rec} recording(s) done")
    flush()
    store = SegmentStore(path)
    md = store.metadata
    key = list(zip(md["source"], md["channel"]))
    table = pd.DataFrame(
        {
            "kind": [kinds.get(k, "unknown") for k in key],
            "dataset": md["source"].str.split("/", n=1).str[0].to_numpy(),
            "item_std": item_spread(store),
        }
    )
    store.write_columns(table, written_by="mne_specae.stores.corpus.prepare_corpus")
    mark_balanced(store, max_per_source)
    logger.info(f"prepare_corpus: {len(store)} item(s) from {n_rec} recording(s) in {path}")
    return store
