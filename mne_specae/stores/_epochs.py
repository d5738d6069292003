"""A store's items as MNE Epochs (:meth:`~mne_specae.SegmentStore.to_epochs`): one
Epochs per recording and signal type, metadata once per segment or per channel."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd


def epochs_of(items, store, per_segment):
    """The Epochs of one recording's chosen items (one signal type): their waveforms
    read from ``store``; the metadata of :func:`epochs_metadata`."""
    recording, kind = items["recording"].iloc[0], items["signal_type"].iloc[0]
    items = items.sort_values("onset", kind="stable")
    channels = list(dict.fromkeys(items["channel"]))
    per_onset = items.groupby("onset", sort=True)["channel"].apply(tuple)
    if any(tuple(c) != tuple(channels) for c in per_onset):
        raise ValueError(
            f"{recording}: the chosen items do not hold the same "
            "channels for every segment; choose whole segments."
        )
    onsets = per_onset.index.to_numpy()
    data = store[items.index.to_numpy()].reshape(len(onsets), len(channels), store.n_times)
    info = mne.create_info(channels, store.sfreq, kind)
    events = np.column_stack(
        [
            np.round(onsets * store.sfreq).astype(int),
            np.zeros(len(onsets), int),
            np.ones(len(onsets), int),
        ]
    )
    return mne.EpochsArray(
        data.astype(np.float64),
        info,
        events=events,
        event_id={kind: 1},
        metadata=epochs_metadata(items, channels, per_segment),
        verbose=False,
    )


def epochs_metadata(items, channels, per_segment):
    """The metadata of one recording's Epochs from its items (sorted by onset, each
    segment's channels in ``channels`` order): one column per segment column, and one
    column ``<column>_<channel>`` per channel for every other column (e.g. each
    channel's embedding ``specae_000_Fp1`` and error ``specae_recon_error_Fp1``)."""
    n_channels = len(channels)
    first = items.iloc[::n_channels]
    meta = first[[c for c in items.columns if c in per_segment]].reset_index(drop=True)
    spread = {}
    for column in items.columns:
        if column in per_segment or column == "channel":
            continue
        values = items[column].to_numpy().reshape(-1, n_channels)
        for j, channel in enumerate(channels):
            spread[f"{column}_{channel}"] = values[:, j]
    return pd.concat([meta, pd.DataFrame(spread)], axis=1) if spread else meta
