"""glibc's allocator warmed before torch runs on the CPU (mne_specae.utils._allocator)."""

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the mmap threshold is glibc's"
)

_CHILD = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "warm":
    from mne_specae.utils._threads import cpu_threads
    with cpu_threads("cpu"):
        pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # a training step's activations: blocks made, written, all freed
    blocks = [np.ones(1 << 19, dtype=np.float32) for _ in range(8)]  # 8 x 2 MiB
    del blocks
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""


def _faults(mode):
    env = dict(os.environ)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(name, None)  # glibc's defaults, as in a user's fresh process
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_cpu_block_stops_a_page_fault_per_page_of_every_large_array():
    """In a fresh process, glibc trims the heap above twice the largest block freed so
    far (here 4 MiB), so the 16 MiB a step frees are returned and faulted in again at
    the next step (about 4,096 faults a step); after the package's first CPU block
    (16 MiB allocated and freed: trimming above 32 MiB) they stay for reuse. Before:
    training straight from a store had up to 2.2 million minor faults in two epochs."""
    cold, warm = _faults("cold"), _faults("warm")
    assert cold > 50 * 2000
    assert warm < cold / 10
