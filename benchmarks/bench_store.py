"""Benchmark: segment stores -- preparation throughput and read throughput.

Preparation: :func:`mne_specae.prepare_segments` on the recording files of the
developers' data (the sample set by default, ``--extended`` for the extended set too),
with ``n_jobs=1``, ``n_jobs=2`` and on a Dask ``LocalCluster`` of two worker processes
(where dask.distributed is installed), each into a fresh store, the three alternating
``--prepare-repeats`` times, every process warmed first the same way
(``store_preparation.py``); the median seconds and items/s (an item is one channel of
one 5 s segment at 512 Hz), the ratios, and a check that the stores hold the same
items. The BioSPPy EEG text files need their ADC resolution, which a file alone does
not give: they are skipped and counted, as a user would see.

Reads: random batches of ``--batch-size`` items (sorted indices, as a shuffled
training epoch reads them) with ``store[idx]`` (what training uses), once with each
read path -- ``os.preadv`` and the portable one (seek and readinto, what Windows uses;
forced with ``MNE_SPECAE_STORE_READS=portable``) -- and through memory maps, against
the same items in one in-memory numpy array (the reference), after a warm-up; and
sequential batches with each path. Items/s and the ratio to the in-memory reference.

Open time: ``read_segments(path)`` (the manifest read and checked; nothing else is
loaded), median of 5, on the prepared store and on a store of ``--open-items`` items
(the prepared files repeated, as for training; default 1,000,000), with the first
random batch read from it (each shard file is opened and checked at its first read).

Tables (``--tables``, default 1,000,000 items; ``--tables-only`` for this part
alone): two stores of that many items (the prepared files repeated, waveforms
hard-linked, each copy its own recording and subject), one with Parquet tables
(what ``prepare_segments`` writes), one with the CSV tables of earlier versions; a
64-float embedding added to each (Parquet: ``write_columns`` streamed from blocks of
65,536 rows; CSV: the previous ``write_columns``, from one DataFrame as
``add_embeddings`` made it), then the open time, one column read and every column
read, each in a fresh process; seconds, peak RSS growth, tables' size on disk, and
the Parquet / CSV ratios.

Training (``--training 20000,100000,500000``): :meth:`SpecAE.fit` on stores of those
sizes (the prepared files repeated: waveform files linked, each copy its own recording
and subject), each fit in a fresh process, against the same data as in-memory Epochs
(up to ``--in-memory-up-to`` items) and from a copy of the store on a loopback S3
server, by ranged reads and through a shard cache (``--no-remote``: not those),
alternating, ``--repeats`` times each (single runs on a shared 2-core machine vary by
10-20 %); the median items/s of the training epoch and the largest growth of the peak
resident memory from before the data were opened (``store_training.py``).

    python benchmarks/bench_store.py [--extended] [--batch-size 64] [--batches 400]
                                     [--open-items 1000000] [--training 20000,100000]
                                     [--tables 1000000] [--tables-only]

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

sys.path.insert(0, str(Path(__file__).parent))

from store_helpers import repeat_store, tables  # noqa: E402
from store_preparation import preparation, time_prepare  # noqa: E402
from store_training import training  # noqa: E402


def recording_files(extended):
    from mne_specae.datasets import get_data_path
    from mne_specae.datasets.registry import EXTENDED_RECORDINGS, SAMPLE_RECORDINGS

    recordings = SAMPLE_RECORDINGS + (EXTENDED_RECORDINGS if extended else ())
    folder = get_data_path()
    return list(dict.fromkeys(folder / r.files[0].relpath for r in recordings))


def time_reads(read, n, batch_size, n_batches, rng):
    batches = [np.sort(rng.choice(n, batch_size, replace=False)) for _ in range(n_batches)]
    for idx in batches[: max(1, n_batches // 10)]:  # warm-up
        read(idx)
    t0 = time.perf_counter()
    for idx in batches:
        read(idx)
    return n_batches * batch_size / (time.perf_counter() - t0)


# ----------------------------------------------------------------- open
def time_open(path, repeats=5):
    """Median seconds of ``read_segments(path)``."""
    from mne_specae import read_segments

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        read_segments(path)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def open_time(base, n_items, tmp, batch_size):
    from mne_specae import read_segments

    print("\nOpen time: read_segments(path), median of 5")
    print(f"  {len(base):8d} items, {len(base.files):6d} shard(s): {time_open(base.path):.4f} s")
    if not n_items:
        return
    path = tmp / "open"
    t0 = time.perf_counter()
    actual = repeat_store(base, n_items, path, distinct=False)
    built = time.perf_counter() - t0
    store = read_segments(path)
    seconds = time_open(path)
    idx = np.sort(np.random.default_rng(0).choice(len(store), batch_size, replace=False))
    t0 = time.perf_counter()
    store[idx]
    first = time.perf_counter() - t0
    print(
        f"  {actual:8d} items, {len(store.files):6d} shard(s): {seconds:.4f} s (goal < 1 s); "
        f"first random batch of {batch_size}: {first:.4f} s (store linked in {built:.0f} s)"
    )
    store.close()
    shutil.rmtree(path)


# ----------------------------------------------------------------- tables
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extended", action="store_true")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument(
        "--open-items",
        type=int,
        default=1_000_000,
        help="items of the repeated store whose open time is measured (0: none)",
    )
    parser.add_argument(
        "--tables",
        type=int,
        default=1_000_000,
        help="items of the stores on which Parquet and CSV tables are compared (0: none)",
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="prepare the store once (n_jobs=2) and measure the tables only",
    )
    parser.add_argument(
        "--training",
        default="",
        help="store sizes (items, comma-separated) to train on, e.g. "
        "20000,100000,500000 (default: no training part)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="fits per size and mode (alternating; the median is shown)",
    )
    parser.add_argument(
        "--prepare-repeats",
        type=int,
        default=3,
        help="rounds of the preparation part (n_jobs=1, n_jobs=2, cluster alternating)",
    )
    parser.add_argument(
        "--train-epochs",
        type=int,
        default=1,
        help="epochs of each training fit (> 1: later epochs reported apart)",
    )
    parser.add_argument(
        "--no-remote",
        action="store_true",
        help="train from the local store and in memory only (no loopback S3 server)",
    )
    parser.add_argument(
        "--in-memory-up-to",
        type=int,
        default=100_000,
        help="also train in memory for sizes up to this",
    )
    args = parser.parse_args(argv)
    import mne

    import mne_specae

    print(
        f"mne-specae {mne_specae.__version__}, mne {mne.__version__}, numpy "
        f"{np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU "
        f"core(s), {platform.machine()}"
    )
    files = recording_files(args.extended)
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    try:
        if args.tables_only:
            store, seconds = time_prepare(files, tmp / "jobs2", 2)
            print(
                f"\nPrepared {len(files)} files with n_jobs=2: {len(store)} items in {seconds:.0f} s"
            )
            if args.tables:
                tables(store, args.tables, tmp)
            return 0
        store = preparation(files, tmp, args.prepare_repeats)
        n = len(store)
        in_memory = store[:]
        rng = np.random.default_rng(0)
        print(
            f"\nReads: batches of {args.batch_size} of {n} items "
            f"({in_memory.nbytes / 1e6:.0f} MB), {args.batches} batches"
        )
        from mne_specae import read_segments
        from mne_specae.stores._reads import ENV_VAR

        mem = time_reads(lambda idx: in_memory[idx], n, args.batch_size, args.batches, rng)
        print(f"  random, in memory (reference): {mem:10.0f} items/s")
        before = os.environ.get(ENV_VAR)
        paths = {"preadv": "auto", "portable": "portable"} if hasattr(os, "preadv") else {}
        for name, setting in (paths or {"portable": "auto"}).items():
            os.environ[ENV_VAR] = setting
            opened = read_segments(store.path)
            disk = time_reads(opened.__getitem__, n, args.batch_size, args.batches, rng)
            seq = np.arange(n)
            t0 = time.perf_counter()
            for start in range(0, n, args.batch_size):
                opened[seq[start : start + args.batch_size]]
            seq_rate = n / (time.perf_counter() - t0)
            label = f"store[idx] ({name})"
            print(
                f"  {'random, ' + label:33s}: {disk:10.0f} items/s ({disk / mem:.2f}x the reference)"
            )
            print(f"  {'sequential, ' + label:33s}: {seq_rate:10.0f} items/s")
            opened.close()
        if before is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = before
        offsets = store._offsets

        def via_memmap(idx):
            shard = np.searchsorted(offsets, idx, side="right") - 1
            return [store.memmap(s)[idx[shard == s] - offsets[s]] for s in np.unique(shard)]

        mapped = time_reads(via_memmap, n, args.batch_size, args.batches, rng)
        print(
            f"  random, memory maps          : {mapped:10.0f} items/s "
            f"({mapped / mem:.2f}x; the mapped pages count in the process's memory)"
        )
        open_time(store, args.open_items, tmp, args.batch_size)
        if args.tables:
            tables(store, args.tables, tmp)
        if args.training:
            sizes = [int(v) for v in args.training.split(",")]
            memory_sizes = [v for v in sizes if v <= args.in_memory_up_to]
            training(
                store,
                sizes,
                memory_sizes,
                tmp,
                args.repeats,
                remote=not args.no_remote,
                epochs=args.train_epochs,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
