"""The preparation part of ``bench_store.py``: :func:`~mne_specae.prepare_segments` of
the same files with ``n_jobs=1``, ``n_jobs=2`` (joblib's loky workers) and on a Dask
``LocalCluster`` of two single-thread worker processes (joblib's dask backend, as the
docs show; with Dask's defaults, with workers started without
``MALLOC_TRIM_THRESHOLD_``, and with Dask's event-loop check every second instead of
every 20 ms, as the stores page recommends on machines with few cores), each into a fresh store, alternating ``repeats`` times;
the median of each and the ratios to ``n_jobs=1``. One cluster is open at a time,
its rounds alternating with ``n_jobs=1`` (its start not counted): one cluster kept
open beside the other slowed that one's rounds by 20-30 % on 2 cores.

Every process that prepares is warmed first, the same way (not counted): this one, each
loky worker and each Dask worker prepares one file of each format into a throwaway
folder (imports, readers, resampling code), as on a long run or a cluster that keeps
its workers. Single runs on a 2-core machine vary by 10-20 %: read the medians.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import numpy as np


def warm_files(files):
    """One file of each format among ``files`` (by suffix: WFDB, EDF, text, ...)."""
    by_suffix = {}
    for f in files:
        by_suffix.setdefault(Path(f).suffix, f)
    return list(by_suffix.values())


def warm_prepare(files):
    """A preparation of ``files`` into a throwaway folder in this process
    (``n_jobs=1``); this process's pid."""
    from mne_specae import prepare_segments

    with tempfile.TemporaryDirectory(prefix="bench_warm_") as folder:
        prepare_segments(files, Path(folder) / "store", n_jobs=1, progress=False, verbose="error")
    return os.getpid()


def warm_workers(n_jobs, files):
    """Start joblib's worker processes (with the options
    :func:`~mne_specae.prepare_segments` gives them, so joblib reuses them) and warm
    them and this process with :func:`warm_prepare`; seconds."""
    from joblib import Parallel, delayed

    from mne_specae.stores._writing import parent_token, worker_options

    t0 = time.perf_counter()
    warm_prepare(files)
    pids = Parallel(n_jobs=n_jobs, **worker_options(parent_token()))(
        delayed(warm_prepare)(files) for _ in range(4 * n_jobs)
    )
    if len(set(pids)) < n_jobs:
        print(f"  (only {len(set(pids))} of {n_jobs} workers were warmed)")
    return time.perf_counter() - t0


def time_prepare(files, folder, n_jobs):
    """``(store, seconds)`` of one preparation into ``folder``."""
    from mne_specae import prepare_segments

    t0 = time.perf_counter()
    store = prepare_segments(files, folder, n_jobs=n_jobs, verbose="error")
    return store, time.perf_counter() - t0


def _cluster(stack, n_workers, warm, trim=True, tick=None):
    """A warmed Dask ``LocalCluster`` kept open by ``stack``: ``(client, seconds to
    start and warm)``, or ``(None, why)`` without dask.distributed. ``trim=False``:
    its workers start without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, which turns
    off glibc's adaptive mmap threshold (every array over 128 KiB mapped and zeroed
    afresh, then unmapped). ``tick``: Dask's ``distributed.admin.tick.interval`` for
    the cluster (``None``: Dask's 20 ms); every server checks its event loop that often.

    Dask's nannies write their ``pre-spawn-environ`` into this process's
    ``os.environ`` before spawning a worker, and take a variable found there over the
    configuration: so every process started later (a second cluster, loky workers)
    would inherit it. This process's environment is restored after the start."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        return None, f"no dask.distributed ({err})"
    before = dict(os.environ)
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    if not trim:
        environ["MALLOC_TRIM_THRESHOLD_"] = None  # None: not set (Dask's own rule)
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    config = {"distributed.nanny.pre-spawn-environ": environ}
    if tick is not None:
        config["distributed.admin.tick.interval"] = tick
    t0 = time.perf_counter()
    try:
        with dask.config.set(config):
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            )
    finally:
        os.environ.clear()
        os.environ.update(before)
    client = stack.enter_context(Client(cluster, set_as_default=False))
    trims = set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())
    if trims != ({"65536"} if trim else {None}):
        raise RuntimeError(f"the workers' MALLOC_TRIM_THRESHOLD_ is {trims}, not as asked")
    ticks = set(client.run(_tick).values())
    if ticks != {tick or dask.config.get("distributed.admin.tick.interval")}:
        raise RuntimeError(f"the workers' tick interval is {ticks}, not {tick}")
    client.run(warm_prepare, list(warm))
    return client, time.perf_counter() - t0


def _tick():
    import dask

    return dask.config.get("distributed.admin.tick.interval")


def _no_dask():
    """Why no ``LocalCluster`` can run here, or ``None``."""
    try:
        import dask  # noqa: F401
        from dask.distributed import LocalCluster  # noqa: F401
    except ImportError as err:
        return f"no dask.distributed ({err})"
    return None


def _on(client):
    """Preparation through joblib's dask backend on ``client``'s cluster."""

    def run(files, folder):
        import joblib

        with joblib.parallel_config(backend="dask", client=client):
            return time_prepare(files, folder, -1)

    return run


def preparation(files, tmp, repeats=3):
    """Print the preparation figures; the ``n_jobs=1`` store of the last round."""
    warm = warm_files(files)
    print(
        f"\nPreparation: {len(files)} files, {repeats} rounds (n_jobs=1, n_jobs=2, a "
        "2-worker LocalCluster with Dask's defaults, one whose workers start without "
        "MALLOC_TRIM_THRESHOLD_, one with distributed.admin.tick.interval 1s), alternating "
        "with n_jobs=1; one cluster open at a time"
    )
    print(
        f"  starting 2 loky workers and warming them and this process (a preparation of "
        f"{len(warm)} files, one of each format): {warm_workers(2, warm):.1f} s (not counted)"
    )
    clusters = {
        "LocalCluster": {},
        "LocalCluster, no trim": {"trim": False},
        "LocalCluster, tick 1s": {"tick": "1s"},
    }
    if (why := _no_dask()) is not None:
        print(f"  the LocalClusters left out: {why}")
        clusters = {}
    # blocks: no cluster open (n_jobs=1, n_jobs=2), then each cluster alone beside
    # n_jobs=1: an idle cluster (its scheduler and nannies run in this process) slowed
    # the other's rounds by 20-30 % when both were kept open, and a cluster started
    # afresh for each round runs its first call cold
    times, stores = {}, {}
    for block in [None, *clusters]:
        with ExitStack() as stack:
            modes = {"n_jobs=1": partial(time_prepare, n_jobs=1)}
            if block is None:
                modes["n_jobs=2"] = partial(time_prepare, n_jobs=2)
            else:
                client, start = _cluster(stack, 2, warm, **clusters[block])
                modes[block] = _on(client)
                modes[block](warm, tmp / "warm-dask")  # joblib's dask backend, once
                shutil.rmtree(tmp / "warm-dask")
                print(f"  starting a 2-worker {block} and warming it: {start:.1f} s (not counted)")
            for r in range(repeats):
                for mode, run in modes.items():
                    folder = tmp / f"prepare-{block}-{mode}-{r}".replace(" ", "_")
                    stores[block, mode], seconds = run(files, folder)
                    times.setdefault((block, mode), []).append(seconds)
                    if r < repeats - 1:
                        shutil.rmtree(folder)
    base = stores[None, "n_jobs=1"]
    skipped = len(base.manifest["skipped"])
    median = {key: float(np.median(v)) for key, v in times.items()}
    for (block, mode), values in times.items():
        store = stores[block, mode]
        same = len(store) == len(base) and store.metadata.equals(base.metadata)
        where = "no cluster open" if block is None else f"{block} open"
        print(
            f"  {mode:21s} ({where}): median {median[block, mode]:5.1f} s (runs: "
            f"{', '.join(f'{v:.1f}' for v in values)}), "
            f"{len(store) / median[block, mode]:6.0f} items/s ({len(store)} items, "
            f"{skipped} file(s) skipped); same items as n_jobs=1: {same}"
        )
    goals = {(None, "n_jobs=2"): 1.8} | {(c, c): 1.6 for c in clusters}
    for (block, mode), goal in goals.items():
        ref = times[block, "n_jobs=1"]
        ratios = [a / b for a, b in zip(ref, times[block, mode])]
        print(
            f"  {mode} / n_jobs=1: {np.median(ref) / median[block, mode]:.2f}x of the "
            f"medians (goal >= {goal}x; per round: {', '.join(f'{v:.2f}' for v in ratios)})"
        )
    return base
