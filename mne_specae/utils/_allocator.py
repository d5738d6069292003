"""glibc's allocator before torch computes on the CPU: one large block freed once.

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
the CPU (:func:`~mne_specae.utils._threads.cpu_threads`). It changes no setting of
the allocator (``mallopt``): it is what any large temporary array does, and where
``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` is set (Dask's workers) the
threshold stays as set. At most 32 MiB of freed heap is then kept for reuse (glibc's
trim threshold becomes twice the block). Nothing on other C libraries.
"""

from __future__ import annotations

import platform
import threading

#: Bytes of the block (below glibc's largest dynamic threshold, 32 MiB).
BLOCK = 16 << 20

_done = threading.Event()


def warm_allocator():
    """Allocate and free one :data:`BLOCK`-byte block, once per process, on glibc."""
    if _done.is_set():
        return
    _done.set()
    if platform.libc_ver()[0] != "glibc":
        return
    import numpy as np

    block = np.empty(BLOCK, dtype=np.uint8)  # mapped, not written: no page is touched
    del block
