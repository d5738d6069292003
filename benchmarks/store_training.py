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
    mode (``where``: mode -> (path, storage options)), alternating, two epochs a fit;
    per mode and round, the items/s and the seconds spent waiting for batches
    (``input_seconds``) of each epoch. Fresh processes vary by 20 % or more from one
    to the next on this machine, and so do fits in one process over minutes; the
    ratios are taken within each round (the fits next to each other). The S3 store
    gets a fresh shard cache in every round: its first epoch downloads."""
    import mne_specae
    from mne_specae import SpecAE, presets

    settings = dict(presets.QUICK, **dict(TRAIN_SETTINGS, max_epochs=2, val_fraction=0.0))
    memory = mne_specae.read_segments(where["in memory"][0]).to_epochs()
    SpecAE(**settings).fit(memory)
    out = {mode: [] for mode in where}
    for _ in range(rounds):
        for mode, (path, options) in where.items():
            cache = tempfile.mkdtemp(prefix="bench_cache_") if mode == "S3, shard cache" else None
            try:
                data = (
                    memory
                    if mode == "in memory"
                    else mne_specae.read_segments(path, storage_options=options, cache=cache)
                )
                frame = SpecAE(**settings).fit(data).history_.to_frame()
            finally:
                if cache is not None:
                    shutil.rmtree(cache)
            out[mode].append(
                [
                    (float(r.samples_per_s), float(r.input_seconds / r.seconds))
                    for r in frame.itertuples()
                ]
            )
    queue.put(out)


def _alternating(where, actual, rounds):
    """Print the in-one-process figures (:func:`_alternating_child`)."""
    chosen = {m: where[m] for m in ("in memory", "local store", "S3, shard cache") if m in where}
    if "in memory" not in chosen or len(chosen) < 2:
        return
    runs = in_fresh_process(_alternating_child, chosen, rounds)
    print(
        f"  in one process, after a warm-up fit, {rounds} rounds alternating (two epochs a "
        "fit; the shard cache a fresh folder in each round, so the S3 store's first "
        "epoch downloads); ratio: the median over rounds of the mode's items/s over "
        "the in-memory fit's of the same round; waiting: the share of the epoch spent "
        "waiting for batches:"
    )
    for epoch in (0, 1):
        for mode, per_round in runs.items():
            rates = [r[epoch][0] for r in per_round]
            waits = [r[epoch][1] for r in per_round]
            text = (
                f"  {actual:7d} items, {mode:17s}, epoch {epoch + 1}: "
                f"{np.median(rates):6.0f} items/s, waiting {100 * np.median(waits):4.1f} %"
            )
            if mode != "in memory":
                ratios = [a[epoch][0] / m[epoch][0] for a, m in zip(per_round, runs["in memory"])]
                text += (
                    f", {np.median(ratios):.2f}x (rounds: "
                    f"{', '.join(f'{v:.2f}' for v in ratios)}; goal >= {MODES[mode]}x)"
                )
            print(text)


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
                _alternating(where, actual, max(2 * repeats, 6))
            shutil.rmtree(path)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
