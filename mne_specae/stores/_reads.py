"""Rows of a store's shard files read into one batch buffer (private helpers of
:mod:`mne_specae.stores.store`).

Two readers, the same bytes into the same buffer:

- ``"preadv"``: positional reads straight into the batch with ``os.preadv`` (Linux, the
  BSDs, macOS builds of Python that have it); nothing shared between threads;
- ``"portable"``: an unbuffered file object per shard, ``seek`` then ``readinto`` the
  batch (any operating system: Windows has no ``os.preadv``); a lock per shard file,
  since a read-ahead thread and its caller may read the same store at once.

The reader is chosen at each read: ``"preadv"`` where :mod:`os` has it, else
``"portable"``. The environment variable ``MNE_SPECAE_STORE_READS=portable`` forces the
portable reader where ``os.preadv`` exists (meant for tests and benchmarks: the path
Windows takes, on any machine); ``auto`` or unset is the default.

Either way a batch is read in file order (shard, then row), one call per run of
consecutive rows of a shard (at most :data:`_CALL_ROWS` rows and :data:`_CALL_BYTES`
bytes per call), each run scattered into the batch's rows where they go.

A store keeps its shard files open between reads, but at most :data:`MAX_OPEN` of
them (:class:`OpenShards`, least recently used closed first, reopened when read
again): a store of more shards than the process may open files (``ulimit -n``;
256 by default on macOS) reads as any other. A file is closed only while no thread
reads it (the portable reader's lock is the file's own, so it stays correct).
"""

from __future__ import annotations

import collections
import functools
import os
import threading

import numpy as np

#: The environment variable that forces the portable reader (``portable``).
ENV_VAR = "MNE_SPECAE_STORE_READS"
_SETTINGS = ("auto", "portable")
#: Bytes and rows (buffers: under every system's IOV_MAX) read by one call at most.
_CALL_BYTES = 1 << 24
_CALL_ROWS = 1024


def _max_open(floor=64, ceiling=1024):
    """A quarter of the files this process may open (``ulimit -n``: 256 on macOS,
    1024 on many Linux systems), between ``floor`` and ``ceiling``."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # Windows: no resource module
        return floor
    if soft == resource.RLIM_INFINITY:
        return ceiling
    return int(min(ceiling, max(floor, soft // 4)))


#: Shard files a store keeps open at most (each read by one thread at a time per
#: batch run; a thread that needs one more while all are in use waits for one):
#: every shard of a store of up to this many, so random batches do not close and
#: reopen files (a 20,000-item store has about 100 shards; with 64 open at most,
#: reopening was a third of its read time).
MAX_OPEN = _max_open()


def read_mode(environ=None):
    """The reader in use: ``"preadv"`` or ``"portable"`` (see the module's notes)."""
    environ = os.environ if environ is None else environ
    setting = environ.get(ENV_VAR, "").strip().lower() or "auto"
    if setting not in _SETTINGS:
        raise ValueError(
            f"{ENV_VAR}={environ[ENV_VAR]!r} is not a setting: 'auto' (os.preadv where the "
            "system has it, else portable reads) or 'portable' (seek and readinto on "
            "any system)."
        )
    return "preadv" if setting == "auto" and hasattr(os, "preadv") else "portable"


def plan_reads(shard, local, row_bytes):
    """The read calls of a batch, in file order: a list of ``(shard, first row,
    spans)``, where ``spans`` are ``[batch position, n_rows]``: consecutive rows of the
    file go to consecutive positions of the batch from ``batch position`` on.

    ``shard`` and ``local`` (int arrays of the same length): each batch position's
    shard and row in that shard. A repeated row is read once per position.
    """
    order = np.lexsort((local, shard))  # file order: shard, then row
    cap = max(1, min(_CALL_ROWS, _CALL_BYTES // row_bytes))
    calls = []
    last, n_rows, spans = (-1, -2, -2), 0, []  # one loop over the rows (a batch: tens)
    for pos, s, row in zip(order.tolist(), shard[order].tolist(), local[order].tolist()):
        if s == last[0] and row == last[1] + 1 and n_rows < cap:
            n_rows += 1
            if pos == last[2] + 1:
                spans[-1][1] += 1
            else:
                spans.append([pos, 1])
        else:
            spans = [[pos, 1]]
            calls.append((s, row, spans))
            n_rows = 1
        last = (s, row, pos)
    return calls


class PreadvShard:
    """A shard file read with ``os.preadv`` (positional: no lock needed)."""

    mode = "preadv"

    def __init__(self, fname):
        self.fd = os.open(fname, os.O_RDONLY)
        #: ``read(buffers, offset)``: read the file from byte ``offset`` on into
        #: ``buffers`` (byte memoryviews, filled in order); the number of bytes read.
        self.read = functools.partial(os.preadv, self.fd)

    def close(self):
        os.close(self.fd)


class PortableShard:
    """A shard file read with ``seek`` and ``readinto`` (any system), under a lock."""

    mode = "portable"

    def __init__(self, fname):
        self.file = open(fname, "rb", buffering=0)  # binary: no newline translation
        self.lock = threading.Lock()

    def read(self, buffers, offset):
        """As ``PreadvShard.read`` (short reads continued; ``0``: end of file)."""
        got = 0
        with self.lock:
            self.file.seek(offset)
            for buf in buffers:
                filled = 0
                while filled < len(buf):
                    n = self.file.readinto(buf[filled:])
                    if not n:
                        return got + filled
                    filled += n
                got += filled
        return got

    def close(self):
        self.file.close()


READERS = {"preadv": PreadvShard, "portable": PortableShard}


class _Entry:
    __slots__ = ("reader", "users", "retired")

    def __init__(self, reader):
        self.reader, self.users, self.retired = reader, 0, False


class _Using:
    """:meth:`OpenShards.use`: the file acquired on entering, released on leaving."""

    __slots__ = ("shards", "key", "mode", "opener", "entry")

    def __init__(self, shards, key, mode, opener):
        self.shards, self.key, self.mode, self.opener = shards, key, mode, opener

    def __enter__(self):
        self.entry = self.shards._acquire(self.key, self.mode, self.opener)
        return self.entry.reader

    def __exit__(self, *exc):
        self.shards._release(self.entry)


class OpenShards:
    """A store's open shard files: at most :data:`MAX_OPEN` (read at each open, so a
    test may lower it), the least recently used idle one closed to open another.

    Thread-safe: :meth:`use` counts the threads reading a file, and a file is closed
    only when none is (evicted, or reopened another way when the reader changes); a
    thread that needs a file while all open ones are in use waits until one is
    released. A thread holds one file at a time (:meth:`use` one run of rows, or a
    shard's runs, then the next), so waiting cannot deadlock.
    """

    def __init__(self):
        self._open = collections.OrderedDict()  # key -> _Entry, least recent first
        self._n_open = 0  # files open: those above, and closed ones still being read
        self._cond = threading.Condition()
        self._waiting = 0  # threads waiting for a file (woken only when there are)

    def __len__(self):
        return len(self._open)

    def __reduce__(self):  # open files do not cross processes: none in a copy
        return OpenShards, ()

    def values(self):
        """The open readers (a snapshot)."""
        with self._cond:
            return [entry.reader for entry in self._open.values()]

    @property
    def n_open(self):
        """Files open now (never more than :data:`MAX_OPEN`)."""
        return self._n_open

    def use(self, key, mode, opener):
        """The reader of shard ``key`` read the ``mode`` way, open while in use
        (``opener(mode)`` opens it when it is not): a context manager (a class, not
        a generator: it is entered tens of times a batch)."""
        return _Using(self, key, mode, opener)

    def _acquire(self, key, mode, opener):
        with self._cond:
            while True:
                entry = self._open.get(key)
                if entry is not None and entry.reader.mode != mode and not entry.users:
                    self._close(self._open.pop(key))  # reopened the other way
                    entry = None
                if entry is not None:
                    if entry.reader.mode == mode:
                        break
                elif self._make_room():
                    entry = self._open[key] = _Entry(opener(mode))
                    self._n_open += 1
                    break
                self._waiting += 1  # every open file in use (or this one, the other way)
                try:
                    self._cond.wait()
                finally:
                    self._waiting -= 1
            self._open.move_to_end(key)
            entry.users += 1
            return entry

    def _make_room(self):
        """Close idle files, least recently used first, until one more may open;
        ``False`` when all are in use."""
        cap = max(1, MAX_OPEN)
        idle = (key for key, entry in self._open.items() if not entry.users)
        while self._n_open >= cap:
            key = next(idle, None)
            if key is None:
                return False
            self._close(self._open.pop(key))
            idle = (key for key, entry in self._open.items() if not entry.users)
        return True

    def _close(self, entry):
        entry.reader.close()
        self._n_open -= 1
        if self._waiting:
            self._cond.notify_all()

    def _release(self, entry):
        with self._cond:
            entry.users -= 1
            if not entry.users:
                if entry.retired:
                    self._close(entry)
                elif self._waiting:
                    self._cond.notify_all()

    def close(self):
        """Close every file (one another thread still reads: when it is done)."""
        with self._cond:
            for entry in self._open.values():
                if entry.users:
                    entry.retired = True
                else:
                    self._close(entry)
            self._open.clear()
