"""Benchmark: segment stores -- preparation throughput and read throughput.

Preparation: :func:`mne_specae.prepare_segments` on the recording files of the
developers' data (the sample set by default, ``--extended`` for the extended set too),
with ``n_jobs=1`` and ``n_jobs=2``, each into a fresh store; files/s, items/s (an item
is one channel of one 5 s segment at 512 Hz) and the ratio, and a check that both
stores hold the same items. The BioSPPy EEG text files need their ADC resolution,
which a file alone does not give: they are skipped and counted, as a user would see.

Reads: random batches of ``--batch-size`` items (sorted indices, as a shuffled
training epoch reads them) with ``store[idx]`` (``os.pread``, what training uses) and
through memory maps, against the same items in one in-memory numpy array (the
reference), after a warm-up; and sequential batches. Items/s and the ratio to the
in-memory reference.

    python benchmarks/bench_store.py [--extended] [--batch-size 64] [--batches 400]

Prints the machine, the versions and every figure; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def recording_files(extended):
    from mne_specae.datasets import get_data_path
    from mne_specae.datasets.registry import EXTENDED_RECORDINGS, SAMPLE_RECORDINGS

    recordings = SAMPLE_RECORDINGS + (EXTENDED_RECORDINGS if extended else ())
    folder = get_data_path()
    return list(dict.fromkeys(folder / r.files[0].relpath for r in recordings))


def _import_package():
    import mne_specae.preparation  # noqa: F401

    return os.getpid()


def warm_workers(n_jobs):
    """Start joblib's worker processes and import the package in them (seconds).

    joblib keeps them for the next call, as it does on a long run or a cluster."""
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    Parallel(n_jobs=n_jobs)(delayed(_import_package)() for _ in range(4 * n_jobs))
    return time.perf_counter() - t0


def time_prepare(files, folder, n_jobs):
    from mne_specae import prepare_segments

    t0 = time.perf_counter()
    store = prepare_segments(files, folder, n_jobs=n_jobs, verbose="error")
    return store, time.perf_counter() - t0


def time_reads(read, n, batch_size, n_batches, rng):
    batches = [np.sort(rng.choice(n, batch_size, replace=False)) for _ in range(n_batches)]
    for idx in batches[: max(1, n_batches // 10)]:  # warm-up
        read(idx)
    t0 = time.perf_counter()
    for idx in batches:
        read(idx)
    return n_batches * batch_size / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extended", action="store_true")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=400)
    args = parser.parse_args(argv)
    import mne

    import mne_specae

    print(f"mne-specae {mne_specae.__version__}, mne {mne.__version__}, numpy "
          f"{np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU "
          f"core(s), {platform.machine()}")
    files = recording_files(args.extended)
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    try:
        print(f"\nPreparation: {len(files)} files")
        results = {}
        print(f"  starting 2 worker processes and importing the package in them: "
              f"{warm_workers(2):.1f} s (once per run; not in the times below)")
        for n_jobs in (1, 2):
            store, seconds = time_prepare(files, tmp / f"jobs{n_jobs}", n_jobs)
            results[n_jobs] = (store, seconds)
            skipped = len(store.manifest["skipped"])
            print(f"  n_jobs={n_jobs}: {seconds:6.1f} s, "
                  f"{(len(files) - skipped) / seconds:5.2f} files/s, "
                  f"{len(store) / seconds:7.0f} items/s ({len(store)} items, {skipped} "
                  "file(s) skipped)")
        a, b = results[1][0], results[2][0]
        same = len(a) == len(b) and a.metadata.equals(b.metadata)
        print(f"  n_jobs=2 / n_jobs=1: {results[1][1] / results[2][1]:.2f}x "
              f"(goal >= 1.7x); same items: {same}")

        store = a
        n = len(store)
        in_memory = store[:]
        rng = np.random.default_rng(0)
        print(f"\nReads: batches of {args.batch_size} of {n} items "
              f"({in_memory.nbytes / 1e6:.0f} MB), {args.batches} batches")
        mem = time_reads(lambda idx: in_memory[idx], n, args.batch_size, args.batches, rng)
        disk = time_reads(lambda idx: store[idx], n, args.batch_size, args.batches, rng)
        offsets = store._offsets

        def via_memmap(idx):
            shard = np.searchsorted(offsets, idx, side="right") - 1
            return [store.memmap(s)[idx[shard == s] - offsets[s]] for s in np.unique(shard)]

        mapped = time_reads(via_memmap, n, args.batch_size, args.batches, rng)
        print(f"  random, in memory (reference): {mem:10.0f} items/s")
        print(f"  random, store[idx] (pread)   : {disk:10.0f} items/s "
              f"({disk / mem:.2f}x the reference)")
        print(f"  random, memory maps          : {mapped:10.0f} items/s "
              f"({mapped / mem:.2f}x; the mapped pages count in the process's memory)")
        seq = np.arange(n)
        t0 = time.perf_counter()
        for start in range(0, n, args.batch_size):
            store[seq[start : start + args.batch_size]]
        print(f"  sequential, store            : {n / (time.perf_counter() - t0):10.0f} "
              "items/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
