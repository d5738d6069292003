"""glibc's allocator while the package computes: warmed once, lifted where fixed.

glibc serves an allocation above its mmap threshold (128 KiB when a process starts)
with a fresh memory mapping: each of its pages is faulted in when first written and
the mapping is returned to the system at ``free``. The threshold rises to the size of
the first such block that is freed (up to 32 MiB), after which blocks up to that size
come from the heap and are reused. A process that has not freed a large block yet
pays page faults on every activation of every training step: training straight from
a segment store in a fresh process had 0.35-2.2 million minor page faults in two
epochs of 20,000 items (QUICK preset, 2 CPU cores) against 0.27 million when the
same process had first loaded the items into memory, and 0.03 million after one
block of 16 MiB was allocated and freed; it ran 7-17 % slower (medians of 4
fresh processes each: epoch 2 and epoch 1).

:func:`warm_allocator` does that once per process, before the package runs torch on
the CPU (:func:`~mne_specae.utils._threads.cpu_threads`). The warm-up itself changes
no setting of the allocator: it is what any large temporary array does. At most 32
MiB of freed heap is then kept for reuse (glibc's trim threshold becomes twice the
block). Nothing on other C libraries.

Where ``MALLOC_TRIM_THRESHOLD_`` is set (Dask gives ``65536`` to every worker, and to
the process that starts a ``LocalCluster``, whose later children inherit it), glibc
never adapts its thresholds and the warm-up changes nothing: every array over 128
KiB is mapped, zeroed and unmapped afresh, and freed heap above 64 KiB goes back to
the system at once. A 2-worker ``LocalCluster`` prepared the extended set in 5.46 s
instead of 4.60 s with this module's lift, and a fit from a store in a process
started with the setting ran at 1,110 items/s instead of 2,234 (2 CPU cores,
``benchmarks/bench_malloc.py``). :func:`glibc_thresholds` therefore sets both
thresholds (``mallopt``) to what glibc's own dynamic rule reaches (32 MiB mapped, 64
MiB kept) while the package works; once the process has been idle for :data:`IDLE`
seconds it puts them back as the variable set them and returns the freed memory
(``malloc_trim``), which is what the setting is for. Only where the process started
with the variable (``/proc/<pid>/environ``: glibc reads it once, at start); a user's
own ``MALLOC_MMAP_THRESHOLD_`` is left alone. ``MNE_SPECAE_MALLOC=off`` turns both
steps off (``benchmarks/bench_malloc.py`` measures with and without them).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import threading

#: Bytes of the block (below glibc's largest dynamic threshold, 32 MiB).
BLOCK = 16 << 20

_done = threading.Event()

#: ``mallopt`` parameters (glibc's ``malloc.h``).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: glibc's mmap threshold when a process starts, kept fixed once a variable is set.
MMAP_DEFAULT = 128 << 10
#: What glibc's dynamic rule reaches at most on 64-bit: blocks up to 32 MiB from the
#: heap, freed heap kept up to twice that.
MMAP_LIFTED, TRIM_LIFTED = 32 << 20, 64 << 20
#: The variable that fixes glibc's thresholds (Dask's ``pre-spawn-environ``).
TRIM_VAR = "MALLOC_TRIM_THRESHOLD_"
#: ``off`` turns both of the package's allocator steps off (read at each call).
ENV_VAR = "MNE_SPECAE_MALLOC"


def _off():
    return os.environ.get(ENV_VAR, "").strip().lower() == "off"


#: Seconds without a block before the thresholds are put back: a worker's next file
#: comes within milliseconds, and putting them back returns the heap (faulted in
#: again by the next file: 40,000 faults a worker for the 35 sample files when put
#: back after each file, 1,000-24,000 when kept, 140,000 never lifted).
IDLE = 1.0


class _Lifted:
    lock = threading.Lock()
    depth = 0  # blocks running now (threads of one process share the allocator)
    trim = None  # the trim threshold to put back; None: not lifted
    timer = None  # the pending put-back


def warm_allocator():
    """Allocate and free one :data:`BLOCK`-byte block, once per process, on glibc."""
    if _done.is_set() or _off():
        return
    _done.set()
    if platform.libc_ver()[0] != "glibc":
        return
    import numpy as np

    block = np.empty(BLOCK, dtype=np.uint8)  # mapped, not written: no page is touched
    del block


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library's handle (``None`` off glibc), opened once."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:  # pragma: no cover - no symbols of the running process
        return None


def _start_environ():
    """The environment the process started with, which glibc read (``os.environ``
    changes later, e.g. Dask's nanny writing its settings into the process that
    starts a ``LocalCluster``, do not change glibc's thresholds); ``{}`` where
    ``/proc`` does not say."""
    try:
        with open(f"/proc/{os.getpid()}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


@functools.lru_cache(maxsize=1)
def _set_trim():
    """The trim threshold the process started with, or ``None`` when there is nothing
    to lift: not set, not a number, or the user also fixed the mmap threshold (read
    once: a forked child shares its parent's start and its allocator)."""
    start = _start_environ()
    if "MALLOC_MMAP_THRESHOLD_" in start:
        return None
    try:
        return int(start[TRIM_VAR])
    except (KeyError, ValueError):
        return None


@contextlib.contextmanager
def glibc_thresholds():
    """Run the block with glibc's thresholds lifted where ``MALLOC_TRIM_THRESHOLD_``
    fixed them (module docstring); yields whether it did.

    Nested and concurrent blocks share one lift. :data:`IDLE` seconds after the last
    block ends, the thresholds are put back as the variable had left them (``mallopt``:
    the mmap threshold to glibc's 128 KiB, the trim threshold to the variable's
    value) and the freed memory is returned to the system (``malloc_trim``).
    """
    trim, libc = (None if _off() else _set_trim()), None
    if trim is not None:
        libc = _glibc()
    if libc is None:
        yield False
        return
    with _Lifted.lock:
        if _Lifted.timer is not None:
            _Lifted.timer.cancel()
            _Lifted.timer = None
        if _Lifted.trim is None:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_LIFTED)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_LIFTED)
            _Lifted.trim = trim
        _Lifted.depth += 1
    try:
        yield True
    finally:
        with _Lifted.lock:
            _Lifted.depth -= 1
            if _Lifted.depth == 0:
                _Lifted.timer = threading.Timer(IDLE, _put_back, args=(libc,))
                _Lifted.timer.daemon = True
                _Lifted.timer.start()


def _put_back(libc):
    with _Lifted.lock:
        if _Lifted.depth or _Lifted.trim is None:  # a block began meanwhile
            return
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_DEFAULT)
        libc.mallopt(M_TRIM_THRESHOLD, _Lifted.trim)
        libc.malloc_trim(0)
        _Lifted.trim = _Lifted.timer = None
