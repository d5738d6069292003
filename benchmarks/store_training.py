"""The training part of ``bench_store.py``: :meth:`SpecAE.fit` on the same items held
in memory, streamed from a local store, and streamed from a copy of that store on a
loopback S3 server (moto, its own process) read by ranged requests and through a
local shard cache (``read_segments(url, cache=...)``); each fit in a fresh process,
the modes alternating (ranged reads in the first round only: minutes a fit), the median
items/s of the training epoch and the largest growth of the peak resident memory from
before the data were opened; then the throughputs again with every mode in one process
(a warm-up fit, then rounds alternating: fresh processes vary by 20 % or more here)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np
from moto_helpers import s3_options, start_moto, upload
from store_helpers import in_fresh_process, peak_rss, repeat_store, reset_peak_rss

TRAIN_SETTINGS = dict(
    filters=8,
    val_fraction=0.05,
    normalize="item",
    batch_size=64,
    device="cpu",
    random_state=0,
    verbose="error",
)

#: Modes, as printed, and their goal as a ratio to in-memory training.
MODES = {"in memory": None, "local store": 0.95, "S3, ranged reads": 0.8, "S3, shard cache": 0.8}


def _fit_child(queue, path, mode, options, epochs=1):
    """Fit in a fresh process: items/s and the growth of the peak resident memory."""
    import mne_specae
    from mne_specae import SpecAE, presets

    torch_threads = os.environ.get("BENCH_THREADS")
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    before = reset_peak_rss()
    cache = tempfile.mkdtemp(prefix="bench_cache_") if mode == "S3, shard cache" else None
    try:
        store = mne_specae.read_segments(path, storage_options=options, cache=cache)
        data = store.to_epochs() if mode == "in memory" else store
        est = SpecAE(**dict(presets.QUICK, **dict(TRAIN_SETTINGS, max_epochs=epochs)))
        t0 = time.perf_counter()
        est.fit(data)
        seconds = time.perf_counter() - t0
    finally:
        if cache is not None:
            shutil.rmtree(cache)
    queue.put(
        dict(
            items=len(store),
            seconds=seconds,
            items_per_s=float(est.history_.to_frame()["samples_per_s"].iloc[0]),
            later_per_s=[float(v) for v in est.history_.to_frame()["samples_per_s"].iloc[1:]],
            rss_growth_mb=peak_rss() - before,
        )
    )


def _alternating_child(queue, where, rounds):
    """In one process: a warm-up fit in memory, then ``rounds`` rounds of one fit per
    mode (``where``: mode -> (path, storage options)), alternating; items/s of each
    fit's first epoch, per mode. Fresh processes vary by 20 % or more from one to the
    next on this machine (in memory: 2,340-3,349 items/s); here every mode runs in the
    same process, on the same warmed allocator and threads. The shard cache is one
    folder for the process: its first fit downloads, the later ones read locally."""
    import mne_specae
    from mne_specae import SpecAE, presets

    cache = tempfile.mkdtemp(prefix="bench_cache_")
    try:
        data = {}
        for mode, (path, options) in where.items():
            store = mne_specae.read_segments(
                path, storage_options=options, cache=cache if mode == "S3, shard cache" else None
            )
            data[mode] = store.to_epochs() if mode == "in memory" else store
        settings = dict(presets.QUICK, **dict(TRAIN_SETTINGS, max_epochs=1))
        SpecAE(**settings).fit(data["in memory"])
        rates = {mode: [] for mode in data}
        for _ in range(rounds):
            for mode, items in data.items():
                est = SpecAE(**settings).fit(items)
                rates[mode].append(float(est.history_.to_frame()["samples_per_s"].iloc[0]))
    finally:
        shutil.rmtree(cache)
    queue.put(rates)


def _alternating(where, actual, rounds):
    """Print the in-one-process figures (:func:`_alternating_child`)."""
    chosen = {m: where[m] for m in ("in memory", "local store", "S3, shard cache") if m in where}
    if "in memory" not in chosen or len(chosen) < 2:
        return
    rates = in_fresh_process(_alternating_child, chosen, rounds)
    speed = {mode: float(np.median(v)) for mode, v in rates.items()}
    print(
        f"  in one process, after a warm-up fit, {rounds} rounds alternating (one epoch a "
        "fit; the shard cache downloads in its first fit only):"
    )
    for mode, values in rates.items():
        ratio = "" if mode == "in memory" else f", {speed[mode] / speed['in memory']:.2f}x"
        goal = "" if MODES[mode] is None else f" (goal >= {MODES[mode]}x)"
        print(
            f"  {actual:7d} items, {mode:17s}: {speed[mode]:6.0f} items/s (runs: "
            f"{', '.join(f'{v:.0f}' for v in values)}){ratio}{goal}"
        )


def training(base, sizes, memory_sizes, tmp, repeats, remote=True, epochs=1):
    """Print the training figures for stores of ``sizes`` items (``base`` repeated);
    with ``epochs`` > 1, the first epoch and the later ones apart (ranged reads: one
    epoch)."""
    print(
        f"\nTraining from a store vs in memory (QUICK preset, {TRAIN_SETTINGS}, "
        f"max_epochs={epochs}), each "
        f"fit in a fresh process, the modes alternating, median of {repeats}; peak RSS "
        "growth from before the data were opened; the S3 store is a copy on moto's "
        "server on 127.0.0.1 (its own process; the shard cache is a fresh folder in each "
        "fit, so its downloads count):"
    )
    moto, url = start_moto() if remote else (None, "object storage not asked for")
    if moto is None:
        print(f"  ({url})")
    try:
        for n in sizes:
            path = tmp / f"store{n}"
            actual = repeat_store(base, n, path)
            where = {"local store": (str(path), None)}
            if n in memory_sizes:
                where["in memory"] = (str(path), None)
            if moto is not None:
                import boto3

                options = s3_options(url)
                boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(
                    Bucket=f"bench{n}"
                )
                seconds = upload(path, f"bench{n}/store", options)
                print(f"  {actual:7d} items uploaded to the S3 server in {seconds:.0f} s")
                for mode in ("S3, ranged reads", "S3, shard cache"):
                    where[mode] = (f"s3://bench{n}/store", options)
            modes = [m for m in MODES if m in where]
            runs = {mode: [] for mode in modes}
            for r in range(repeats):
                for mode in modes:
                    if mode == "S3, ranged reads" and r:
                        continue  # minutes a fit, and no goal: once
                    n_epochs = 1 if mode == "S3, ranged reads" else epochs
                    runs[mode].append(
                        in_fresh_process(_fit_child, where[mode][0], mode, where[mode][1], n_epochs)
                    )
            speed = {}
            for mode in modes:
                rates = [r["items_per_s"] for r in runs[mode]]
                speed[mode] = float(np.median(rates))
                rss = max(r["rss_growth_mb"] for r in runs[mode])
                print(
                    f"  {actual:7d} items, {mode:17s}: {speed[mode]:6.0f} items/s (runs: "
                    f"{', '.join(f'{v:.0f}' for v in rates)}), peak RSS +{rss:5.0f} MB"
                )
            later = {
                mode: float(np.median([v for r in runs[mode] for v in r["later_per_s"]]))
                for mode in modes
                if any(r["later_per_s"] for r in runs[mode])
            }
            for mode, value in later.items():
                print(f"  {actual:7d} items, {mode:17s}: {value:6.0f} items/s in epochs 2-{epochs}")
            if "in memory" in speed:
                for mode in modes[1:]:
                    text = (
                        f"  {actual:7d} items, {mode} / in memory: first epoch "
                        f"{speed[mode] / speed['in memory']:.2f}x"
                    )
                    if mode in later and "in memory" in later:
                        text += f", epochs 2-{epochs} {later[mode] / later['in memory']:.2f}x"
                    print(f"{text} (goal >= {MODES[mode]}x)")
            if n in memory_sizes:
                _alternating(where, actual, max(repeats, 3))
            shutil.rmtree(path)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
