"""Segments on disk: :class:`SegmentStore` and :func:`read_segments`.

A store is a folder written by :func:`~mne_specae.prepare_segments`::

    store/
      manifest.json        settings, package versions, one entry per committed file
      shards/<key>.npy     float32 waveforms, one row per item (a channel of a segment)
      shards/<key>.parquet the items' metadata, one row per item (same order); after
                           write_columns: <key>.<version>.parquet, named in the
                           manifest (older stores: .csv, still read)

Only what ``manifest.json`` lists exists for a reader: a shard is written under a
temporary name, renamed, and then committed by rewriting the manifest (itself
written to a temporary file and renamed), so a crash leaves nothing half-visible.
Nothing the manifest says is trusted: file names must stay inside ``shards/``, and
counts, rate and length are checked against the shard files before they are read
(:mod:`mne_specae._store_manifest`). A store rewritten by another process while
open is detected at the next read. Metadata keep their types (text stays text), are
read by column or by row group (:meth:`SegmentStore.read_columns`,
:meth:`SegmentStore.iter_columns`; exported with :meth:`SegmentStore.to_csv`), and
:meth:`SegmentStore.write_columns` streams every shard's new table, then commits them
all at once (:mod:`mne_specae.stores._table_writes`).
The waveforms are plain ``.npy`` files: a store opens without loading anything, and a
random batch reads only its rows, with ``os.preadv`` into the batch (seek and
``readinto`` on systems without it, :mod:`mne_specae.stores._reads`), so the
process's memory does not grow with what it has read (the operating system's page
cache keeps what is read often). ``.npy`` was chosen over Zarr v3 by measurement
(``benchmarks/bench_store_format.py``: on the same items, random batches read 50 to
340 times faster from the shards than from any chunking of Zarr, compressed or not;
zstd saved 9 % of the size; doc/stores.rst, "On disk"); ``benchmarks/bench_store.py``
measures the read paths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mne.utils import logger

from ..utils._files import file_sha256
from ._epochs import epochs_of
from ._manifest import (  # noqa: F401 (importable here)
    MANIFEST,
    STORE_FORMAT,
    STORE_VERSION,
    StoreChangedError,
    changed_error,
    check_shard_array,
    manifest_stamp,
    read_manifest,
    shard_file,
    still_the_same,
    view_of,
)
from ._reads import READERS, OpenShards, plan_reads, read_mode
from ._remote import is_url
from ._remote_store import RemoteStoreMixin
from ._store_tables import StoreTables
from ._tables import ITEM_COLUMNS, TEXT_COLUMNS, segment_columns

__all__ = [
    "ITEM_COLUMNS",
    "TEXT_COLUMNS",
    "SegmentStore",
    "StoreChangedError",
    "read_manifest",
    "read_segments",
]


class SegmentStore(StoreTables):
    """Segments on disk, read lazily (see :func:`read_segments`).

    Items are channels of segments (the unit a :class:`~mne_specae.SpecAE` with
    ``channel_mode="separate"`` trains on), numbered ``0 .. len(store) - 1`` in the
    order of :attr:`metadata`.

    Attributes
    ----------
    path : pathlib.Path
        The store folder.
    sfreq : float
        Sampling rate of the segments (Hz).
    n_times : int
        Samples per segment.
    manifest : dict
        Settings, versions, and the committed files.
    remote : bool
        Whether the store is read from a URL (``read_segments("s3://...")``).
    """

    remote = False

    def __new__(cls, path=None, storage_options=None, cache=None, cache_size=None):
        if cls is SegmentStore and is_url(path):  # a URL: read through fsspec
            cls = RemoteSegmentStore
        return super().__new__(cls)

    def __init__(self, path, storage_options=None, cache=None, cache_size=None):
        if cache is not None:
            logger.info(f"{path} is a local store: read in place (cache={cache!r} unused).")
        self.path = Path(path)
        self._stamp = manifest_stamp(self.path / MANIFEST)  # before reading: a change
        self.manifest = read_manifest(self.path)  # in between is seen later
        self._open_manifest()

    def _open_manifest(self):
        """The state read from ``self.manifest`` (local and remote stores alike)."""
        self._view = view_of(self.manifest)
        self.sfreq = float(self.manifest["sfreq"])
        self.n_times = int(self.manifest["n_times"])
        self._shards = list(self.manifest["shards"])
        counts = np.array([s["n_items"] for s in self._shards], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        self._arrays = {}
        self._readers = OpenShards()  # at most _reads.MAX_OPEN files open
        self._offsets_bytes = {}
        self._metadata = None

    def __len__(self):
        return int(self._offsets[-1])

    def __repr__(self):
        return (
            f"<SegmentStore | {len(self)} items from {len(self._shards)} file(s), "
            f"{self.n_times} samples at {self.sfreq:g} Hz, {self.path}>"
        )

    @property
    def duration(self):
        """Segment length in seconds."""
        return self.n_times / self.sfreq

    @property
    def files(self):
        """The committed source files (or Raw descriptions), in order."""
        return [s["source"] for s in self._shards]

    def _check_current(self):
        """Raise :class:`StoreChangedError` when the store was rewritten since it was
        opened (one ``stat`` of the manifest when it was not)."""
        stamp = manifest_stamp(self.path / MANIFEST)
        if stamp == self._stamp:
            return
        try:
            current = None if stamp is None else read_manifest(self.path)
        except (OSError, ValueError):
            current = None
        if current is None or not still_the_same(self._view, current):
            raise changed_error(self.path)
        self._stamp = stamp
        if self._metadata is None:  # tables another process wrote since: read those
            now = {s["key"]: s for s in current["shards"]}
            self._shards = [now[s["key"]] for s in self._shards]
            self.manifest = dict(current, shards=list(self._shards))

    def _file(self, shard):
        return shard_file(self.path, f"{self._shards[shard]['key']}.npy", self.path / MANIFEST)

    def _array(self, shard):
        """A read-only memory map of a shard (for :meth:`memmap`)."""
        if shard not in self._arrays:
            self._layout(shard)
            self._arrays[shard] = np.load(self._file(shard), mmap_mode="r")
        return self._arrays[shard]

    def _layout(self, shard):
        """Byte offset of a shard's first row, after checking its ``.npy`` header and
        size against the manifest."""
        if shard not in self._offsets_bytes:
            self._offsets_bytes[shard] = check_shard_array(
                self._file(shard), self._shards[shard]["n_items"], self.n_times
            )
        return self._offsets_bytes[shard]

    def shard_sha256(self):
        """The sha256 of each shard's waveform file, in manifest order (their headers
        and sizes checked first; one pass over the store)."""

        self._check_current()
        return [
            file_sha256(self._file(k))
            for k in range(len(self._shards))
            if self._layout(k) is not None
        ]

    def memmap(self, shard):
        """The waveforms of one committed file as a read-only :func:`numpy.memmap`."""
        return self._array(shard)

    def __getitem__(self, key):
        """Waveforms of items: an int gives ``(n_times,)``, a slice, a list, an array of
        ints or a boolean mask gives ``(n, n_times)`` float32 (read from disk)."""
        n = len(self)
        if isinstance(key, (int, np.integer)):
            if not -n <= key < n:
                raise IndexError(f"item {key} out of range for a store of {n} items")
            return self._rows(np.array([key % n]))[0]
        if isinstance(key, slice):
            return self._rows(np.arange(n)[key])
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"a boolean mask must have {n} values, got {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise IndexError(
                "index a store with an int, a slice, integer indices or a boolean mask"
            )
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"indices out of range for a store of {n} items")
        return self._rows(idx % n if len(idx) else idx)

    def read_into(self, idx, out):
        """Read the items ``idx`` (ints, in range) into ``out``, a C-contiguous float32
        array of shape ``(len(idx), n_times)`` (a reused buffer: no allocation)."""
        idx = np.asarray(idx, dtype=np.int64)
        if (
            out.shape != (len(idx), self.n_times)
            or out.dtype != np.float32
            or not out.flags.c_contiguous
        ):
            raise ValueError(
                f"out must be a C-contiguous float32 array of shape {(len(idx), self.n_times)}."
            )
        return self._rows(idx, out)

    def _rows(self, idx, out=None):
        """Rows read straight into the output, in file order, one read per run of
        consecutive rows (``os.preadv``, or seek and ``readinto`` where the system lacks
        it: :mod:`mne_specae.stores._reads`): no memory map, so the process's resident
        memory does not grow with the rows read (the operating system's page cache
        keeps what is read often)."""
        if out is None:
            out = np.empty((len(idx), self.n_times), dtype=np.float32)
        if not len(idx):
            return out
        self._check_current()
        row_bytes = self.n_times * 4
        shard = np.searchsorted(self._offsets, idx, side="right") - 1
        local = idx - self._offsets[shard]
        self._read_calls(plan_reads(shard, local, row_bytes), memoryview(out).cast("B"), row_bytes)
        return out

    def _read_calls(self, calls, view, row_bytes):
        """The calls of :func:`~mne_specae.stores._reads.plan_reads` read into ``view``
        (the batch's bytes), one shard file held at a time (a shard's calls follow
        each other: file order)."""
        mode = read_mode()
        i, n = 0, len(calls)
        while i < n:
            s = calls[i][0]
            j = i + 1
            while j < n and calls[j][0] == s:
                j += 1
            first = self._layout(s)
            with self._reader(s, mode) as reader:
                for _, row, spans in calls[i:j]:
                    if len(spans) == 1:  # the usual case: a row, or rows in batch order
                        pos, k = spans[0]
                        buffers = [view[pos * row_bytes : (pos + k) * row_bytes]]
                        expected = k * row_bytes
                    else:
                        buffers = [view[p * row_bytes : (p + k) * row_bytes] for p, k in spans]
                        expected = sum(map(len, buffers))
                    if reader.read(buffers, first + row * row_bytes) != expected:
                        raise ValueError(
                            f"{self._file(s)}: shorter than its manifest says (it "
                            "was truncated while open); the store is damaged."
                        )
            i = j

    def _reader(self, shard, mode):
        """The open shard file, read the ``mode`` way, while in use (a context
        manager; opened, or reopened the other way, when needed; at most
        ``_reads.MAX_OPEN`` files open, the least recently used idle one closed)."""
        return self._readers.use(shard, mode, lambda m: READERS[m](self._file(shard)))

    def close(self):
        """Close the open shard files (reopened when read again)."""
        self._readers.close()
        self._arrays.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __getstate__(self):  # open files do not cross processes
        state = dict(self.__dict__)
        state.update(_readers=OpenShards(), _arrays={})
        return state

    def to_epochs(self, query=None):
        """A subset as MNE Epochs, one per recording and signal type.

        Parameters
        ----------
        query : str | None
            A :meth:`pandas.DataFrame.query` on :attr:`metadata`, e.g.
            ``"signal_type == 'ecg' and subject == 'mitdb-100'"``; ``None``: all.

        Returns
        -------
        epochs : list of mne.EpochsArray
            Channels in store order; ``metadata`` one row per segment: the segment
            columns (the built-in ones but ``channel``, the BIDS entities, the
            ``metadata`` of :func:`~mne_specae.prepare_segments`) once, and every
            other column (per-item columns such as each channel's embedding and
            reconstruction error) once per channel, as ``<column>_<channel>``, e.g.
            ``specae_000_Fp1``. A segment some of whose channels the query left out
            keeps the channels it has, only when every segment of that recording has
            the same ones (else an error names the recording).
        """
        md = self.metadata
        chosen = md.query(query) if query else md
        if len(chosen) == 0:
            raise ValueError(f"No item matches {query!r}.")
        out = [
            epochs_of(items, self, segment_columns(self.manifest))
            for _, items in chosen.groupby(["recording", "signal_type"], sort=False)
        ]
        logger.info(f"{len(chosen)} item(s) as {len(out)} Epochs")
        return out


class RemoteSegmentStore(RemoteStoreMixin, SegmentStore):
    """A :class:`SegmentStore` read from a URL (:mod:`mne_specae.stores._remote_store`)."""


def read_segments(path, storage_options=None, cache=None, cache_size=None):
    """Open a segment store written by :func:`~mne_specae.prepare_segments`.

    Nothing is loaded: the metadata are read on first use, the waveforms row by row
    as they are indexed. The manifest is checked first (every file it names inside
    the store, counts, rate and length), each shard's header and size before its
    first read.

    Parameters
    ----------
    path : path-like | str
        The store folder, or its URL (``s3://bucket/store/``, any protocol
        :mod:`fsspec` reaches; the ``remote`` extra): the manifest is read once,
        rows by ranged reads (one per run of consecutive rows), tables by their
        Parquet footers and chosen columns; ``write_columns`` uploads new tables and
        commits them with one PUT of the manifest (no memory map).
    storage_options : dict | None
        For a URL: passed to :func:`fsspec.core.url_to_fs` (credentials,
        ``client_kwargs={"endpoint_url": ...}``).
    cache : path-like | None
        For a URL: a local folder where each shard file is downloaded whole at its
        first read, then read locally (as fast as a local store: use it to train
        several epochs from object storage). Copies are named by URL, shard and the
        object's ETag, written atomically, and may be shared by processes and runs;
        the manifest and tables are always read from the store. ``None`` (default):
        nothing is written to disk, every batch is read by ranged requests.
    cache_size : int | str | None
        Most bytes of shards kept in ``cache`` (e.g. ``"50GB"``); shards beyond it
        are read by ranged requests. ``None``: as many as its disk holds, keeping
        1 GiB free. Nothing is evicted.

    Returns
    -------
    store : SegmentStore
    """
    return SegmentStore(path, storage_options=storage_options, cache=cache, cache_size=cache_size)
