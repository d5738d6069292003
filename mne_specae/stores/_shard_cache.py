"""A local disk cache of a remote store's shard files (``read_segments(url, cache=...)``).

Random batches from object storage cost one ranged GET per item: a few hundred items
a second from a single server, far below what training consumes. With a cache, the
first read of a shard downloads the whole file (one large GET) into a local folder;
every later read of that shard is a local positional read, as for a local store.

- **What is cached**: shard waveform files only (the manifest and the tables are
  always read from the store, so a new commit is seen). A cached copy is named by
  the store URL, the shard key and the remote object's ETag (or size and
  modification time where the file system has no ETag): a shard rewritten under the
  same key, or another store at the same URL, is another file.
- **Safe to share**: between processes (torchrun ranks, DataLoader workers) and runs;
  a download goes to a temporary name and is renamed into place when complete and
  checked (size and ``.npy`` header), so no reader sees a partial file.
- **Downloaded ahead**: training asks for the shards of a whole epoch, in the order
  it first needs them, when the epoch starts; :data:`DOWNLOADS` of them download at
  once in background threads while the first batches wait only for their own.
- **Bounded**: at most ``cache_size`` bytes of shards in the folder, and never less
  than :data:`KEEP_FREE` bytes left free on its disk. A shard that does not fit is
  read by ranged GETs instead (said once in the log). Nothing is evicted: removing
  the folder (or files in it) between runs is safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

from mne.utils import logger

#: Bytes left free on the cache's disk whatever ``cache_size`` says.
KEEP_FREE = 1 << 30

#: Shards downloaded at once when an epoch's shards are asked for ahead.
DOWNLOADS = 8

#: Seconds between two counts of the cache folder's bytes (``cache_size``).
RECOUNT = 10.0


def parse_size(size):
    """``None``, a number of bytes, or a string such as ``"20GB"``/``"500 MiB"``, as an
    int (``None``: no limit)."""
    if size is None:
        return None
    if isinstance(size, str):
        text = size.strip().upper().replace(" ", "").removesuffix("B").removesuffix("I")
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
        factor = units.get(text[-1:], 1)
        try:
            value = float(text[:-1] if text[-1:] in units else text) * factor
        except ValueError:
            value = -1
    else:
        value = size
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"cache_size must be a number of bytes or a size such as '20GB', got {size!r}."
        )
    return int(value)


class ShardCache:
    """Whole shard files of one remote store, in a local folder.

    Parameters
    ----------
    folder : path-like
        The cache folder (created if needed; may be shared by several stores).
    max_bytes : int | None
        Most bytes of cached shards in the folder (``None``: as many as the disk
        allows, keeping :data:`KEEP_FREE` free).
    url : str
        The store's URL (part of each cached file's name).
    """

    def __init__(self, folder, max_bytes, url):
        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(
                f"cache={str(folder)!r}: cannot create the cache folder ({err}); pass a "
                "writable folder, or cache=None to read by ranged requests."
            ) from err
        self.max_bytes = max_bytes
        self.url = url
        self._lock = threading.Lock()
        self._shard_locks = {}  # local name -> the lock of its download
        self._reserved = 0  # bytes of the downloads under way
        self._counted = None  # [when, bytes]: the last count of the folder
        self._told = False
        self.downloads = 0

    def __getstate__(self):  # a lock does not cross processes
        state = dict(self.__dict__)
        state.update(_lock=None, _shard_locks={}, _reserved=0, _counted=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state, _lock=threading.Lock())

    def name(self, key, stamp):
        """Where the shard ``key`` whose remote object is ``stamp`` is cached."""
        digest = hashlib.sha256(f"{self.url}\0{key}\0{stamp}".encode()).hexdigest()
        return self.folder / f"{digest[:32]}.npy"

    def used(self):
        """Bytes of complete cached shards in the folder."""
        return sum(p.stat().st_size for p in self.folder.glob("*.npy") if p.is_file())

    def _room(self, size):
        free = shutil.disk_usage(self.folder).free
        if free - size < KEEP_FREE:
            return False
        if self.max_bytes is None:
            return True
        return self._used_now() + self._reserved + size <= self.max_bytes

    def _used_now(self):
        """:meth:`used`, counted again at most every :data:`RECOUNT` seconds (in
        between: the last count plus this process's downloads since), so that an
        epoch's thousands of downloads do not list the folder once each."""
        now = time.monotonic()
        if self._counted is None or now - self._counted[0] > RECOUNT:
            self._counted = [now, self.used()]
        return self._counted[1]

    def fetch(self, fs, remote, local, size, check):
        """The local copy of ``remote`` (``size`` bytes) at ``local``, downloaded if
        needed and ``check(path)``-ed; ``None`` when it does not fit. Several shards
        download at once (threads); a shard's second reader waits for its download."""
        if local.is_file() and local.stat().st_size == size:
            return local
        with self._lock:
            shard_lock = self._shard_locks.setdefault(local, threading.Lock())
        with shard_lock:  # one download per shard in this process
            if local.is_file() and local.stat().st_size == size:
                return local
            with self._lock:
                room = self._room(size)
                if room:
                    self._reserved += size
                elif not self._told:
                    logger.info(
                        f"Shard cache {self.folder} is full (cache_size "
                        f"{self.max_bytes} bytes, or less than {KEEP_FREE >> 20} MiB free "
                        "on its disk): other shards are read by ranged requests."
                    )
                    self._told = True
            if not room:
                return None
            part = local.with_name(f"{local.stem}.{os.getpid()}.{threading.get_ident()}.part")
            try:
                fs.get_file(remote, str(part))
                if part.stat().st_size != size:
                    raise ValueError(
                        f"{fs.unstrip_protocol(remote)}: the download holds "
                        f"{part.stat().st_size} bytes, the store says {size}; the store "
                        "is damaged or changed while read."
                    )
                check(part)
                os.replace(part, local)
            finally:
                part.unlink(missing_ok=True)
                with self._lock:
                    self._reserved -= size
            with self._lock:
                self.downloads += 1
                if self._counted is not None:
                    self._counted[1] += size
            return local
