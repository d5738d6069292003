"""A segment store read from a URL (``s3://bucket/store/``, any :mod:`fsspec`
protocol): the file accesses of :class:`~mne_specae.SegmentStore`, remote.

- the manifest: one GET, checked as a local one (:func:`parse_manifest`); whether it
  changed (another writer): its ETag (or size and modification time), asked at most
  once every :data:`CHECK_EVERY` seconds, not at every batch;
- each shard's ``.npy`` header: its first bytes and its size, checked as a local one;
- rows: one ranged GET per run of consecutive rows of a shard (the plan of
  :func:`~mne_specae.stores._reads.plan_reads`), all the GETs of a batch sent at once
  (``fs.cat_ranges``: concurrent on asynchronous file systems such as s3fs, gcsfs,
  HTTP), the bytes copied into the batch;
- tables: Parquet footers and only the chosen column chunks, by ranged reads of a
  file object (pyarrow reads a Python file object).

With ``cache=FOLDER`` each shard file is downloaded whole at its first read and read
locally from then on (:mod:`mne_specae.stores._shard_cache`); without, nothing is
cached on disk. ``write_columns`` (``add_embeddings``) writes the new tables to a
staging folder, uploads them under new names and commits with one PUT of the
manifest, the store's lock object held (:class:`~mne_specae.stores._commits.RemoteTarget`).
Memory maps need a local store.
"""

from __future__ import annotations

import hashlib
import io
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from mne.utils import logger

from ..utils._files import file_sha256
from ._commits import RemoteTarget
from ._manifest import (
    MANIFEST,
    changed_error,
    check_shard_array,
    check_shard_header,
    parse_manifest,
    still_the_same,
)
from ._parquet import parquet_file
from ._reads import READERS
from ._remote import remote_error, url_fs
from ._shard_cache import DOWNLOADS, ShardCache, parse_size
from ._tables import TableFile, table_name

#: Seconds between two checks that a remote store's manifest did not change.
CHECK_EVERY = 1.0
_HEADER_BYTES = 4096


class RemoteTableFile(TableFile):
    """A shard's Parquet table read from the remote store."""

    def __init__(self, fs, remote, *args, **kwargs):
        self.fs, self.remote = fs, remote
        super().__init__(*args, **kwargs)
        self.path = fs.unstrip_protocol(remote)  # messages name the URL

    def _open(self):
        try:
            return parquet_file(self.fs.open(self.remote, "rb"))
        except FileNotFoundError:
            self._missing()
        except (ValueError, OSError) as err:
            self._unreadable(err)


def _stamp(info):
    return info.get("ETag") or info.get("etag") or (info.get("size"), str(info.get("mtime")))


class RemoteStoreMixin:
    """What differs in a store read from a URL (mixed into
    :class:`~mne_specae.stores.store.RemoteSegmentStore`)."""

    remote = True
    _pool = None  # the download threads, started at the first download ahead

    def __init__(self, path, storage_options=None, cache=None, cache_size=None):
        self.url = str(path).rstrip("/")
        max_bytes = parse_size(cache_size)
        self._cache = None if cache is None else ShardCache(cache, max_bytes, self.url)
        self.storage_options = storage_options
        self._fs, self._root = url_fs(self.url, storage_options)
        self._root = self._root.rstrip("/")
        self.path = Path(self._root)  # for the name checks of the manifest's entries
        self._manifest_path = f"{self._root}/{MANIFEST}"
        self.manifest, self._stamp = self._fetch_manifest()
        self._checked = time.monotonic()
        self._open_manifest()

    def _open_manifest(self):
        super()._open_manifest()
        self._remote_info = {}  # shard -> (size, stamp) of its remote object
        self._cached = {}  # shard -> its local copy, or None (read by ranges)
        self._pending = {}  # shard -> its download ahead (a future)

    def __getstate__(self):  # threads and futures do not cross processes
        state = super().__getstate__()
        state.update(_pool=None, _pending={})
        return state

    def close(self):
        """Close the open shard files and stop the downloads not yet begun."""
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._pending = {}

    def __repr__(self):
        return super().__repr__().replace(str(self.path), self.url)

    def _fetch_manifest(self):
        fname = f"{self.url}/{MANIFEST}"
        try:
            info = self._fs.info(self._manifest_path)
            text = self._fs.cat_file(self._manifest_path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{self.url} is not a segment store (no {MANIFEST}); create one with "
                "mne_specae.prepare_segments(sources, path)."
            ) from None
        except Exception as err:
            raise remote_error(fname, err) from err
        return parse_manifest(text, self.path, fname), _stamp(info)

    def _check_current(self):
        if time.monotonic() - self._checked < CHECK_EVERY:
            return
        try:
            current, stamp = self._fetch_manifest()
        except (OSError, ValueError):
            raise changed_error(self.url) from None
        self._checked = time.monotonic()
        if stamp == self._stamp:
            return
        if not still_the_same(self._view, current):
            raise changed_error(self.url)
        self._stamp = stamp
        if self._metadata is None:
            now = {s["key"]: s for s in current["shards"]}
            self._shards = [now[s["key"]] for s in self._shards]
            self.manifest = dict(current, shards=list(self._shards))

    def _check_tables(self):
        # tables are read seldom (not at every batch): the manifest is asked every
        # time, so that tables replaced by another writer's columns are not missed
        self._checked = float("-inf")
        self._check_current()

    def _file(self, shard):
        return f"{self._root}/shards/{self._shards[shard]['key']}.npy"

    def _layout(self, shard):
        if shard not in self._offsets_bytes:
            fname = self._file(shard)
            url = self._fs.unstrip_protocol(fname)
            try:
                info = self._fs.info(fname)
                size = int(info["size"])
                head = self._fs.cat_file(fname, start=0, end=min(_HEADER_BYTES, size))
            except FileNotFoundError:
                raise ValueError(
                    f"{url}: the shard file is missing; the store is damaged."
                ) from None
            self._offsets_bytes[shard] = check_shard_header(
                url, io.BytesIO(head), size, self._shards[shard]["n_items"], self.n_times
            )
            self._remote_info[shard] = (size, _stamp(info))
        return self._offsets_bytes[shard]

    def _cached_copy(self, shard):
        """The local copy of a shard (downloaded at first use, or waited for when it
        is being downloaded ahead), or ``None`` without a cache or when it does not
        fit in the cache."""
        if self._cache is None:
            return None
        if shard not in self._cached:
            pending = self._pending.pop(shard, None)
            if pending is not None:
                pending.result()  # its error, if any, is raised here
            if shard not in self._cached:
                self._cached[shard] = self._download(shard)
        return self._cached[shard]

    def _download(self, shard):
        """The shard's local copy (downloaded if needed; its layout read from the
        copy), or ``None`` when the cache has no room for it."""
        if shard not in self._remote_info:
            self._layout(shard)  # its size and stamp, asked for alone
        size, stamp = self._remote_info[shard]
        n_items = self._shards[shard]["n_items"]

        def check(path):
            return check_shard_array(path, n_items, self.n_times)

        path = self._cache.fetch(
            self._fs,
            self._file(shard),
            self._cache.name(self._shards[shard]["key"], stamp),
            size,
            check,
        )
        if path is not None and shard not in self._offsets_bytes:
            self._offsets_bytes[shard] = check(path)  # no request for its header
        return path

    def _list_shards(self):
        """The size and stamp of every shard object from one listing of ``shards/``
        (one request, where asking each shard costs two); left to each shard when
        the listing fails."""
        try:
            listing = self._fs.ls(f"{self._root}/shards", detail=True, refresh=True)
        except Exception as err:  # asked shard by shard instead
            logger.debug(f"{self.url}: listing the shards failed ({err})")
            return
        by_name = {str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]: entry for entry in listing}
        for k, shard in enumerate(self._shards):
            entry = by_name.get(f"{shard['key']}.npy")
            if entry is not None and k not in self._remote_info:
                self._remote_info[k] = (int(entry["size"]), _stamp(entry))

    def _download_ahead(self, rows):
        """Start downloading the shards of the items ``rows`` that are not cached yet,
        in the order ``rows`` first needs them, :data:`DOWNLOADS` at once in
        background threads (training asks for an epoch's rows when it begins); a read
        of a shard then waits for its own download only. Nothing without a cache.
        Whether any read of ``rows`` waits on the network (a download, a ranged
        GET)."""
        if self._cache is None:
            return True
        if not len(rows):
            return False
        shards = np.searchsorted(self._offsets, np.asarray(rows, np.int64), side="right") - 1
        _, first = np.unique(shards, return_index=True)
        needed = [int(k) for k in shards[np.sort(first)]]  # in order of first use
        todo = [k for k in needed if k not in self._cached and k not in self._pending]
        if sum(k not in self._remote_info for k in todo) > 1:
            self._list_shards()
        if todo and self._pool is None:
            self._pool = ThreadPoolExecutor(DOWNLOADS, thread_name_prefix="mne-specae-download")
        for k in todo:
            self._pending[k] = self._pool.submit(self._download_into_cache, k)
        # None: a shard the cache had no room for, read by ranged GETs
        return any(self._cached.get(k) is None for k in needed)

    def _download_into_cache(self, shard):
        self._cached[shard] = self._download(shard)

    def _reader(self, shard, mode):  # a cached shard, read as a local one
        path = self._cached[shard]
        return self._readers.use(shard, mode, lambda m: READERS[m](path))

    def _read_calls(self, calls, view, row_bytes):
        """Cached shards' runs read locally; the others' ranged GETs in one
        ``cat_ranges`` (concurrent where the file system is asynchronous), each run's
        bytes copied to its rows."""
        if self._cache is not None:
            local = [c for c in calls if self._cached_copy(c[0]) is not None]
            if local:
                super()._read_calls(local, view, row_bytes)  # SegmentStore's
                calls = [c for c in calls if self._cached[c[0]] is None]
            if not calls:
                return
        paths, starts, ends = [], [], []
        for s, row, spans in calls:
            start = self._layout(s) + row * row_bytes
            paths.append(self._file(s))
            starts.append(start)
            ends.append(start + sum(k for _, k in spans) * row_bytes)
        try:
            blobs = self._fs.cat_ranges(paths, starts, ends, on_error="raise")
        except FileNotFoundError as err:
            raise ValueError(
                f"{self.url}: a shard file is missing ({err}); the store is damaged."
            ) from err
        for (s, _, spans), data, start, end in zip(calls, blobs, starts, ends):
            if len(data) != end - start:
                raise ValueError(
                    f"{self._fs.unstrip_protocol(self._file(s))}: shorter than its manifest "
                    "says (it was truncated); the store is damaged."
                )
            got = 0
            for pos, k in spans:
                view[pos * row_bytes : (pos + k) * row_bytes] = data[got : got + k * row_bytes]
                got += k * row_bytes

    def _array(self, shard):
        raise ValueError(
            f"{self.url} is read from a URL: no memory map (read rows with store[idx] "
            "or read_into)."
        )

    def shard_sha256(self):
        self._check_current()
        out = []
        for k in range(len(self._shards)):
            self._layout(k)
            if self._cached_copy(k) is not None:
                out.append(file_sha256(self._cached[k]))
                continue
            digest = hashlib.sha256()
            with self._fs.open(self._file(k), "rb") as fid:
                for block in iter(lambda: fid.read(1 << 22), b""):
                    digest.update(block)
            out.append(digest.hexdigest())
        return out

    def _table_file(self, shard, head=True, manifest=None):
        remote = f"{self._root}/shards/{table_name(shard)}"
        manifest = self.manifest if manifest is None else manifest
        return RemoteTableFile(self._fs, remote, self.path, shard, manifest, self.url, head=head)

    @contextmanager
    def _writing_columns(self):
        """``write_columns`` at a URL: the store's lock object held, the new tables
        written to a staging folder and uploaded, the manifest PUT the commit
        (:class:`~mne_specae.stores._commits.RemoteTarget`)."""
        with RemoteTarget(self.url, self.storage_options, doing="writing columns into") as target:
            yield self._fetch_manifest()[0], target

    def _new_stamp(self):
        self._checked = time.monotonic()
        return _stamp(self._fs.info(self._manifest_path))
