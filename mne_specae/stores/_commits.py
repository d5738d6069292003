"""Committing shards to a store: on a local folder, and on object storage.

A preparation's workers write each shard to a local folder (temporary name, then
renamed); the calling process checks it is there and commits it by rewriting the
manifest. For a store at a URL (:class:`RemoteTarget`) the local folder is a staging
folder: a committed shard's files are uploaded first, then the manifest is written
by one PUT (the commit: on S3 and its kin one object's PUT is atomic, a reader sees
the old manifest or the new one, never a part), then the staged files are removed.

Why that suffices without an atomic rename: a shard's key is a hash of its source's
name and checksum, and preparation is deterministic, so an upload that a crash left
uncommitted holds the bytes a rerun writes again under the same name; a reader never
reads it (only what the manifest lists exists). Two writers at once are refused by
the lock object ``prepare.lock``, created by a conditional PUT (``If-None-Match:
*``): exactly one creation succeeds. The lock records its holder (host, pid, a
unique token, when taken) and is refreshed while it works (a heartbeat); a lock not
refreshed for ``stale_lock`` seconds (a killed writer) is taken over with a warning,
a fresh one refused naming its holder (:mod:`~mne_specae.stores._remote_lock`). A
writer checks it still holds the lock before each commit. If a server ignores the
conditions and two writers raced anyway, each manifest PUT is still whole: the last
one wins, and a rerun adds what it lacks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mne.utils import logger

from ..utils._files import fsync_files
from ._manifest import MANIFEST, write_manifest
from ._remote import CACHE_ENV, url_fs
from ._remote_lock import LOCK, STALE_LOCK, RemoteLock
from ._table_writes import write_atomic_table

_SHARD_SUFFIXES = (".npy", ".parquet")


def drop_changed(manifest, rank, folder, target=None):
    """Remove from the manifest (then from disk) the shards of sources of this run
    whose content changed since they were committed (same name, another checksum)."""
    names = {name for name, _ in rank}
    changed = [
        s
        for s in manifest["shards"]
        if s["source"] in names and (s["source"], s["checksum"]) not in rank
    ]
    if not changed:
        return
    manifest["shards"] = [s for s in manifest["shards"] if s not in changed]
    commit(folder, manifest, target)
    for shard in changed:
        logger.info(
            f"prepare_segments: {shard['source']} changed since it was prepared "
            f"(sha256 {shard['checksum'][:12]}...): its {shard['n_items']} old "
            "item(s) are replaced"
        )
        for name in {f"{shard['key']}{x}" for x in (".npy", ".csv", ".parquet")} | {
            shard.get("table", ".npy")
        }:  # the waveforms and every table of the shard (CSV tables: an older store)
            (folder / "shards" / name).unlink(missing_ok=True)
            if target is not None:
                target.remove(f"shards/{name}")


def check_shard(folder, key, source):
    """The shard files a worker reported written are visible here (not the case when
    workers on other machines write to a disk of their own), then made durable
    (workers write them unsynced: the disk waits here, not in a worker)."""
    files = [folder / "shards" / f"{key}{suffix}" for suffix in _SHARD_SUFFIXES]
    missing = [f"shards/{f.name}" for f in files if not f.is_file()]
    if missing:
        raise RuntimeError(
            f"A worker reported {source} written to {folder}, but this process does not "
            f"see {', '.join(missing)}: on a cluster, the store must be on a file system "
            "shared by every worker and the calling process, at the same path."
        )
    fsync_files(files)


def commit(folder, manifest, target=None, key=None):
    """Write the manifest (locally; for a remote store, the shard ``key``'s files
    uploaded first, then the manifest: the commit)."""
    if target is not None:
        target.lock.refresh()  # the heartbeat (and: still ours) before anything is sent
    if target is not None and key is not None:
        target.upload_shard(folder, key)
    write_manifest(folder / MANIFEST, manifest)
    if target is not None:
        target.publish(manifest)


class RemoteTarget:
    """A store written to a URL from a local staging folder (a context manager:
    holds the store's lock object, removes the staging folder on exit).

    ``stale_lock``: seconds after which a lock object that was not refreshed is
    taken over (``0``: any lock; see :class:`~mne_specae.stores._remote_lock.RemoteLock`).
    """

    def __init__(self, url, storage_options=None, stale_lock=STALE_LOCK, doing="preparing"):
        self.url = str(url).rstrip("/")
        self.fs, root = url_fs(self.url, storage_options)
        self.root = root.rstrip("/")
        self.lock = RemoteLock(self.fs, self._path(LOCK), self.url, stale_lock, doing)
        cache = os.environ.get(CACHE_ENV) or tempfile.gettempdir()
        Path(cache).mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix="mne-specae-store-", dir=cache))

    def _path(self, name):
        return f"{self.root}/{name}"

    def __enter__(self):
        try:
            self.lock.acquire()
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.lock.release()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)

    def pull(self, overwrite):
        """The remote manifest into the staging folder (to continue the store);
        ``overwrite``: the remote store removed first (its manifest first)."""
        manifest = self._path(MANIFEST)
        exists = self.fs.exists(manifest)
        if not exists and any(not p.endswith(f"/{LOCK}") for p in self.fs.find(self.root)):
            raise FileExistsError(
                f"{self.url} holds objects but no segment store; choose an empty or new prefix."
            )
        if exists and overwrite:
            self.fs.rm_file(manifest)  # the store is gone for readers from here on
            if self.fs.exists(self._path("shards")):
                self.fs.rm(self._path("shards"), recursive=True)
        elif exists:
            (self.staging / MANIFEST).write_bytes(self.fs.cat_file(manifest))

    def upload_shard(self, folder, key):
        """A shard's files uploaded (under their final names), then removed here."""
        for suffix in _SHARD_SUFFIXES:
            local = folder / "shards" / f"{key}{suffix}"
            self.fs.put_file(str(local), self._path(f"shards/{key}{suffix}"))
            local.unlink()

    def write_table(self, name, batches):
        """A new metadata table ``shards/<name>`` (Arrow ``batches``): written to the
        staging folder, uploaded under its final name (not yet in the manifest, so no
        reader sees it), removed here (:func:`~._table_writes.write_tables`)."""
        local = self.staging / "shards" / name
        local.parent.mkdir(exist_ok=True)
        write_atomic_table(local, batches)
        self.lock.refresh()  # still ours (and the heartbeat) before anything is sent
        try:
            self.fs.put_file(str(local), self._path(f"shards/{name}"))
        finally:
            local.unlink()

    def publish(self, manifest):
        """The manifest, one PUT: the commit (after checking the lock is still ours)."""
        self.lock.refresh()
        self.fs.pipe_file(self._path(MANIFEST), json.dumps(manifest, indent=1).encode())

    def remove(self, name):
        try:
            self.fs.rm_file(self._path(name))
        except FileNotFoundError:
            pass
