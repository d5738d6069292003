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
"""

from __future__ import annotations

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
