"""From recordings to a segment store: :func:`prepare_segments`.

Each source (a file, every recording of a folder, a BIDS root, or a Raw) goes through
:func:`~mne_specae.make_segments` (same rules: bad channels, ``BAD_*`` annotations,
NaN gaps) in a worker; the worker writes its items to a shard under a temporary name
and renames it, and the calling process commits the shard to the manifest (rewritten
atomically) as results arrive, in the order of the sources. So:

* a crash loses at most the files being worked on, and leaves nothing half-visible;
* running again skips every file already committed (same path and sha256) and
  continues: nothing is duplicated, and the result equals an uninterrupted run;
* ``n_jobs=1`` and ``n_jobs=2`` give the same store, item for item;
* a file committed before whose content changed (same path, another sha256) has its
  old items replaced by the new ones (logged);
* one process writes a store at a time (its ``prepare.lock`` holds the pid), be it a
  preparation or ``add_embeddings``; a killed preparation leaves no worker running
  (workers end when their parent dies);
* a store prepared again with ``overwrite=True`` gets a new ``generation`` id, so a
  reader that had it open sees the change even when the content is the same;
* a file that cannot be read is logged with its reason, counted and skipped
  (``strict=True``: an error).

Workers run through :mod:`joblib` with MNE's ``n_jobs`` convention, so any joblib
backend runs them (Ray's ``register_ray()``, ...). Inside
``joblib.parallel_config(backend="dask")`` the files go to that Dask cluster, every
file submitted at once (:mod:`mne_specae.stores._dispatch` says why): the workers write shards,
the calling process alone writes the manifest. On several machines the store folder
(and the sources) must be on a file system that every worker and the caller see at
the same path; a shard that the caller cannot see is an error, not a commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import uuid
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose, warn

from .._version import __version__
from ..segments import check_segment_settings
from ..utils._logs import reemit_warnings
from ._bids import find_bids_recordings
from ._commits import RemoteTarget, check_shard, commit, drop_changed
from ._discovery import Skipped, find_recordings, recording_names, subject_of
from ._dispatch import run_calls
from ._manifest import MANIFEST, STORE_FORMAT, STORE_VERSION
from ._remote import RemoteFile, find_remote_recordings, is_url
from ._shards import prepare_one, source_id
from ._writing import LOCK, StoreLock, malloc_hint, parent_token, sigterm_stops_workers
from .store import SegmentStore


def _pyarrow_version():
    import pyarrow

    return pyarrow.__version__


def _settings(duration, sfreq, picks, subject, metadata):
    return dict(
        duration=float(duration),
        sfreq=float(sfreq),
        picks=list(picks) if isinstance(picks, (list, tuple)) else picks,
        subject_pattern=subject,
        metadata=metadata,
    )


def _open_folder(path, settings, overwrite, target=None):
    """Create the store folder, or check that an existing store has our settings."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder.")
    manifest_file = path / MANIFEST
    if (
        path.is_dir()
        and any(p.name != LOCK for p in path.iterdir())
        and not manifest_file.is_file()
    ):
        raise FileExistsError(
            f"{path} is a folder that is not a segment store; choose an empty or new folder."
        )
    if manifest_file.is_file() and overwrite:
        shutil.rmtree(path / "shards", ignore_errors=True)
        manifest_file.unlink()
    (path / "shards").mkdir(parents=True, exist_ok=True)
    n_times = int(round(settings["duration"] * settings["sfreq"]))
    if manifest_file.is_file():
        manifest = json.loads(manifest_file.read_text())
        old = manifest.get("settings", {})
        differ = [f"{k}: {old.get(k)!r} -> {v!r}" for k, v in settings.items() if old.get(k) != v]
        if differ:
            raise ValueError(
                f"The store {path} was prepared with other settings ("
                f"{'; '.join(differ)}). Use another folder, or "
                "overwrite=True (--overwrite) to start it again."
            )
        # its new shards' tables are Parquet
        manifest["version"] = max(manifest.get("version", 1), STORE_VERSION)
        return manifest

    manifest = dict(
        format=STORE_FORMAT,
        version=STORE_VERSION,
        # a new store (also one prepared again with overwrite=True, whatever its
        # content) is another generation: a reader that had the old one open sees it
        generation=uuid.uuid4().hex,
        sfreq=settings["sfreq"],
        n_times=n_times,
        settings=settings,
        shards=[],
        versions={
            "mne_specae": __version__,
            "mne": mne.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "pyarrow": _pyarrow_version(),
            "python": platform.python_version(),
        },
    )
    commit(path, manifest, target)
    return manifest


@verbose
def prepare_segments(
    sources,
    path,
    *,
    duration=5.0,
    sfreq=512.0,
    picks=None,
    n_jobs=1,
    subject=None,
    metadata=None,
    overwrite=False,
    strict=False,
    progress=True,
    storage_options=None,
    stale_lock=900.0,
    verbose=None,
):
    """Cut recordings into segments and write them to a store on disk.

    Parameters
    ----------
    sources : path-like | mne.io.Raw | list
        Files (any format the package reads), folders (every recording inside,
        recursively), Raw objects, or a list of them. In a BIDS dataset (a folder
        with ``dataset_description.json``, a folder or file inside it) with mne-bids
        installed, the recordings are those mne-bids finds under ``sub-*``, read
        with :func:`mne_bids.read_raw_bids`: channel types and bad channels from
        ``channels.tsv`` (types not corrected after the names), annotations from
        ``events.tsv``; without mne-bids the files are read as in any folder. Either
        way the ``sub-`` entity is the subject and the ``ses-``, ``task-``, ``run-``,
        ``acq-`` entities become metadata columns.
        A file's ``recording`` is its path relative to the folder named, without
        extensions (``s1/rest_raw`` for ``<folder>/s1/rest_raw.fif``), or, for a file
        named directly, its file name without extensions (two such files with one
        name: their paths from their common folder); with several signal types,
        ``-<type>`` is added. A URL (``s3://bucket/recordings/``, any protocol
        :mod:`fsspec` reaches) names a remote file or folder, searched with the
        rules of a local one (a BIDS dataset too: each recording copied with its
        sidecars, the tree mirrored, read with :func:`mne_bids.read_raw_bids`): each
        worker copies a file and its companions (a WFDB record's ``.dat``) to a
        folder of its own under the local cache (``MNE_SPECAE_REMOTE_CACHE``, else
        the system's temporary folder) just long enough to read it, then removes
        that folder; recording
        names are paths relative to the URL, the ``source`` column is the file's
        URL. A Raw's is its ``info["description"]``, else its file's
        name without extensions (:func:`~mne_specae.segments.raw_name`).
    path : path-like
        The store folder (created; an existing store with the same settings is
        continued, one with other settings refused). A file committed earlier whose
        content changed has its items replaced. One process at a time: a second one
        is refused while the first runs (the folder's ``prepare.lock``). A URL
        (``s3://bucket/store/``) writes the store to object storage: each shard is
        staged in the local cache, uploaded, then committed by one PUT of the
        manifest; the lock is an object created by a conditional PUT (see
        :mod:`mne_specae.stores._commits`).
    duration, sfreq : float
        Segment length (s) and rate (Hz), as :func:`~mne_specae.make_segments`;
        checked before any file is read.
    picks : str | list | None
        Channels of every file (names or types); ``None``: every ECG, EEG and EMG
        channel that is not bad.
    n_jobs : int | None
        Files segmented in parallel (joblib, MNE's convention: ``-1`` all cores).
        Inside ``joblib.parallel_config(backend="dask")``, any value but ``1`` (which
        runs in this process) submits every file to the Dask cluster at once, and its
        scheduler spreads them over all its workers (``-1`` says so best).
    subject : str | None
        A regular expression whose group ``subject`` (or first group) in the file
        name is the subject, e.g. ``r"(Subject\\d+)"``; ``None``: the BIDS ``sub-``
        entity, else what the reader says (the record or file name).
    metadata : dict | None
        Extra columns with one value for every item.
    overwrite : bool
        Delete an existing store at ``path`` first.
    strict : bool
        Stop at the first file that cannot be read, instead of skipping it.
    progress : bool
        Show a progress bar (:mod:`tqdm`, on stderr) while files are prepared; it is
        shown only when ``progress`` is ``True`` and the log level shows warnings
        (not with ``verbose="error"``). ``False`` hides the bar and keeps the log,
        the "Skipped ..." warnings included.
    storage_options : dict | None
        Passed to :func:`fsspec.core.url_to_fs` for the URLs of ``sources`` and
        ``path``:
        credentials, ``client_kwargs={"endpoint_url": ...}`` for an S3-compatible
        server, ... (needs the ``remote`` extra: ``pip install mne-specae[remote]``).
    stale_lock : float
        For a store at a URL: seconds after which its lock object, which the writer
        refreshes at each commit, is stale (a killed writer's) and taken over with a
        warning; a fresher lock is refused, naming its holder. ``0`` takes over any
        lock (only when its holder is known to be gone).
    %(verbose)s

    Returns
    -------
    store : SegmentStore
        Also readable later with :func:`~mne_specae.read_segments`. Files skipped in
        this run are in ``store.manifest["skipped"]`` with their reasons.
    """
    duration, sfreq, _ = check_segment_settings(duration, sfreq)  # once, before any file
    _validate_type(metadata, (dict, None), "metadata")
    sources = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not sources:
        raise ValueError("sources is empty: give files, folders or Raw objects.")
    _validate_type(storage_options, (dict, None), "storage_options")
    files, paths, bids, remote = [], [], {}, {}
    for src in sources:
        if isinstance(src, mne.io.BaseRaw):
            files.append(src)
        elif is_url(src):
            found = find_remote_recordings(src, storage_options)
            remote.update(found)
            files += list(found)
        else:
            _validate_type(src, (str, os.PathLike), "sources", "path-like or mne.io.Raw")
            paths.append(src)
            found = find_bids_recordings(src)  # None: not BIDS, or no mne-bids
            files += find_recordings([src]) if found is None else list(found)
            bids.update(found or {})
    names = recording_names(
        [f for f in files if not isinstance(f, (mne.io.BaseRaw, RemoteFile))], paths
    )
    names.update(remote)
    if subject is not None:
        for f in names:  # a pattern that matches nothing is an error before any work
            subject_of(getattr(f, "url", f), subject)
    settings = _settings(duration, sfreq, picks, subject, metadata)
    try:
        json.dumps(settings)
    except TypeError as err:
        raise TypeError(
            f"metadata and picks must be plain values (written to the store's manifest): {err}"
        ) from err
    _validate_type(stale_lock, "numeric", "stale_lock")
    target = RemoteTarget(path, storage_options, stale_lock) if is_url(path) else None
    folder = Path(path) if target is None else target.staging  # a URL: staged here
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} exists and is not a folder.")
    folder.mkdir(parents=True, exist_ok=True)
    with target or contextlib.nullcontext(), StoreLock(folder), sigterm_stops_workers():
        if target is not None:
            target.pull(overwrite)
        manifest = _open_folder(folder, settings, overwrite, target)
        store = _prepare(
            files, names, folder, manifest, settings, n_jobs, strict, bids, progress, target
        )
    return store if target is None else SegmentStore(path, storage_options)


def _prepare(files, names, folder, manifest, settings, n_jobs, strict, bids, progress, target):
    """The work of :func:`prepare_segments`, once the store is open and locked."""
    from tqdm.auto import tqdm

    done = {(s["source"], s["checksum"]) for s in manifest["shards"]}
    todo, n_done, rank = [], 0, {}
    for src in files:
        ident = source_id(src)
        if ident in rank:  # the same file twice: once
            continue
        rank[ident] = len(rank)
        if ident in done:
            n_done += 1
            continue
        key = hashlib.sha256("\0".join(ident).encode()).hexdigest()[:20]
        todo.append((src, ident, key))
    drop_changed(manifest, rank, folder, target)
    logger.info(
        f"prepare_segments: {len(files)} source(s), {n_done} already in {folder}, "
        f"{len(todo)} to prepare with n_jobs={n_jobs}"
    )
    skipped = Skipped()
    # Results are committed as they complete (workers never wait for a slow file),
    # and the manifest is kept in the order of this call's sources, so the store does
    # not depend on n_jobs, on completion order, or on where an earlier run stopped.
    parent = parent_token()  # workers end when this process dies
    results = run_calls(
        prepare_one,
        (
            (
                k,
                src,
                ident[0],
                None if isinstance(src, mne.io.BaseRaw) else names[src],
                key,
                folder,
                settings,
                logger.level,
                parent,
                None if isinstance(src, mne.io.BaseRaw) else bids.get(src),
            )
            for k, (src, ident, key) in enumerate(todo)
        ),
        n_jobs,
        parent,
    )
    bar = tqdm(
        results,
        total=len(todo),
        unit="file",
        desc="Preparing",
        disable=not progress or logger.level > 30 or not todo,
    )  # shown unless progress=False or verbose="error"
    n_items, mallocs = 0, set()
    try:
        for k, status, value, caught, malloc in bar:
            reemit_warnings(caught)  # formatted as the caller formats warnings
            mallocs.add(malloc)
            src, ident, key = todo[k]
            if status != "ok":
                skipped.add(ident[0], value, strict=strict)
                continue
            check_shard(folder, key, ident[0])
            manifest["shards"].append(
                dict(
                    key=key,
                    source=ident[0],
                    checksum=ident[1],
                    n_items=int(value),
                    table=f"{key}.parquet",
                )
            )
            manifest["shards"].sort(key=lambda s: rank.get((s["source"], s["checksum"]), -1))
            commit(folder, manifest, target, key)
            n_items += int(value)
    finally:  # an error or SIGTERM: joblib stops its workers; on Dask, files not yet
        # started are cancelled (running ones finish their shard, never committed)
        results.close()
    if hint := malloc_hint(mallocs):
        logger.debug(hint)
    manifest["skipped"] = [dict(source=str(p), reason=r) for p, r in skipped.files]
    commit(folder, manifest, target)
    store = SegmentStore(folder)
    message = (
        f"prepare_segments: {len(todo) - len(skipped.files)} file(s) added "
        f"({n_items} items), {n_done} already there, {len(skipped.files)} "
        f"skipped; the store holds {len(store)} items"
    )
    if skipped.files:
        warn(message + ". " + skipped.summary())
    else:
        logger.info(message)
    return store
