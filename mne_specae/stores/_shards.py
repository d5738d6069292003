"""One source -> one shard: the work of a :func:`~mne_specae.prepare_segments` worker.

The source is segmented with :func:`~mne_specae.make_segments` (a file through
:func:`~mne_specae.stores._discovery.segments_of_file`), its items and metadata
written to ``shards/<key>.npy`` and ``.parquet`` atomically; the calling process
commits the shard to the manifest. Also the identity of a source (name, checksum).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..segments import make_segments
from ..utils._allocator import glibc_thresholds
from ..utils._files import file_sha256, write_atomic
from ..utils._logs import collect_warnings
from ._bids import entity_columns
from ._discovery import segments_of_file, signal_types
from ._parquet import SUFFIX, to_arrow, write_parquet
from ._remote import FetchError, RemoteFile
from ._tables import ITEM_COLUMNS
from ._writing import watch_parent, worker_malloc

_BIDS_ENTITIES = {"session": "ses", "task": "task", "run": "run", "acquisition": "acq"}
_READ_ERRORS = (ValueError, OSError, RuntimeError, KeyError, IndexError, TypeError)


def source_id(source):
    """``(name, checksum)`` of a file (its resolved path and sha256) or a Raw (its
    ``info["description"]``, else the path of its file, else ``"Raw"``; a hash of its
    data and channel names). The name identifies the source in the manifest (the
    ``source`` column), like a file's path; the recording name is another rule
    (:func:`~mne_specae.segments.raw_name`)."""
    if isinstance(source, mne.io.BaseRaw):
        digest = hashlib.sha256(np.ascontiguousarray(source.get_data()).tobytes())
        digest.update(repr(source.ch_names).encode())
        name = source.info.get("description") or source.filenames[0] or "Raw"
        return str(name), digest.hexdigest()
    if isinstance(source, RemoteFile):  # its URL; its identity from the listing
        return source.url, source.checksum
    return str(Path(source).resolve()), file_sha256(source)


def _bids_columns(path):
    """BIDS entities (session, task, run, acquisition) of a file name, if any."""
    out = {}
    for column, key in _BIDS_ENTITIES.items():
        match = re.search(rf"(?:^|_){key}-([A-Za-z0-9]+)", Path(path).name)
        if match:
            out[column] = match.group(1)
    return out


def _items_table(epochs_list, source, extra):
    """Waveforms ``(n_items, n_times)`` float32 and their metadata (item order:
    epoch-major, channel-minor, as a SpecAE sees them)."""
    blocks, tables = [], []
    for ep in epochs_list:
        data = ep.get_data(picks="all").astype(np.float32)
        n_ep, n_ch = data.shape[:2]
        blocks.append(data.reshape(n_ep * n_ch, -1))
        md = ep.metadata.loc[ep.metadata.index.repeat(n_ch)].reset_index(drop=True)
        md.insert(3, "channel", np.tile(ep.ch_names, n_ep))
        tables.append(md)
    table = pd.concat(tables, ignore_index=True)
    table["source"] = source
    for column, value in extra.items():
        if column in ITEM_COLUMNS:
            raise ValueError(f"metadata column {column!r} is built in; choose another name.")
        table[column] = value
    first = [c for c in ITEM_COLUMNS if c in table]
    return np.concatenate(blocks), table[first + [c for c in table if c not in first]]


def prepare_one(
    index, source, name, recording, key, folder, settings, log_level, parent, bids_path=None
):
    """Segment one source and write its shard (temporary name, then renamed), with the
    caller's log level (joblib's worker processes do not inherit it). A worker process
    ends when ``parent`` (the caller's ``parent_token()``) dies. ``bids_path``: the
    file's ``BIDSPath`` when mne-bids found it (read with ``read_raw_bids``).

    Returns ``(index, "ok", n_items, caught, malloc)``, ``(index, "empty", reason,
    caught, malloc)`` or ``(index, "failed", reason, caught, malloc)``, ``caught`` the
    warnings of the work, for the caller to re-emit (:mod:`mne_specae.logs`),
    ``malloc`` the worker's ``MALLOC_TRIM_THRESHOLD_`` (:func:`worker_malloc`) when
    glibc's thresholds were lifted from it while the file was prepared
    (:func:`~mne_specae.utils._allocator.glibc_thresholds`), else ``None``; never
    raises for a file that cannot be read.
    """
    watch_parent(parent)
    with glibc_thresholds() as lifted, mne.utils.use_log_level(log_level):
        result, caught = collect_warnings(
            _segment_and_write, source, name, recording, key, folder, settings, bids_path
        )
    return (index, *result, caught, worker_malloc(parent) if lifted else None)


def _segment_and_write(source, name, recording, key, folder, settings, bids_path=None):
    """The work of :func:`prepare_one`; ``name`` is the source's name in the manifest
    (and the ``source`` column), ``recording`` a file's recording name. Entity columns
    of a BIDS file: from its ``BIDSPath``, else parsed from its file name."""
    if isinstance(source, RemoteFile):  # read from a local copy, removed after
        try:
            with source.fetched() as local:  # a BIDS recording: read through mne-bids
                bids_path = source.bids_path_at(local)
                return _segment_and_write(local, name, recording, key, folder, settings, bids_path)
        except FetchError as err:  # not an error of the store's own writes
            return "failed", str(err).splitlines()[0]
    duration, sfreq = settings["duration"], settings["sfreq"]
    try:
        if isinstance(source, mne.io.BaseRaw):
            if settings["picks"] is None:  # a type whose channels are all bad: left out
                epochs_list = [
                    _raw_segments(source, duration, sfreq, kind) for kind in signal_types(source)
                ]
            else:
                epochs_list = [_raw_segments(source, duration, sfreq, settings["picks"])]
            extra = {}
        else:
            epochs_list = segments_of_file(
                Path(source),
                duration=duration,
                sfreq=sfreq,
                picks=settings["picks"],
                subject_pattern=settings["subject_pattern"],
                recording=recording,
                bids_path=bids_path,
            )
            extra = _bids_columns(source) if bids_path is None else entity_columns(bids_path)
    except _READ_ERRORS as err:
        return "failed", (str(err).splitlines()[0] if str(err) else type(err).__name__)
    epochs_list = [ep for ep in epochs_list if len(ep)]
    if not epochs_list:
        return "empty", "no ECG, EEG or EMG segment"
    extra.update(settings["metadata"] or {})
    data, table = _items_table(epochs_list, name, extra)
    shards = Path(folder) / "shards"
    # not synced here: the calling process syncs them before it commits them
    # (check_shard), so that a worker never waits for the disk
    write_atomic(shards / f"{key}.npy", lambda f: np.save(f, data), mode="wb", sync=False)
    write_atomic(
        shards / f"{key}{SUFFIX}",
        lambda f: write_parquet(f, [to_arrow(table)]),
        mode="wb",
        sync=False,
    )
    return "ok", len(data)


def _raw_segments(raw, duration, sfreq, picks):
    """:func:`~mne_specae.make_segments` of a Raw source, quietly."""

    return make_segments(raw, duration, sfreq, picks=picks, verbose=False)
