"""Benchmark: training throughput (items/s) and peak memory of the training engine.

One item is one channel of one real 5 s segment at 512 Hz (2560 samples) from the
bundled sample recordings (:func:`mne_specae.datasets.load_sample` +
:func:`mne_specae.make_segments`: ECG, EEG and EMG), repeated to reach ``--n-items``.
Two ways of training :class:`mne_specae.models.ConvAutoencoder2d` (the study's network
by default: 4 x [Conv 3x3 64, ReLU, MaxPool 2], mirrored decoder) with Adam and MSE,
measured in the same run:

(1) ``plain``: the fp32 eager loop a user would write: the spectrogram images are
    precomputed once into one tensor (on the device when they fit in 40 % of its free
    memory, else in host memory; not timed), then each step takes a random batch of
    them (no DataLoader), ``model(x)``, ``mse_loss``, ``backward``, ``step``;
(2) ``engine``: :func:`mne_specae.training.train_autoencoder` with the
    :class:`mne_specae.Spectrogram` input stage, which computes the images from the
    waveforms on the device at every step (``precision="auto"``: bf16 autocast and
    channels-last on CUDA, fp32 on the CPU), ``val_fraction=0``.

Sizes: ``study`` = ``Spectrogram(512, n_fft=128, hop_length=40, fmax=60, output="db",
normalize="item", resize=(480, 640))`` (the study's 480 x 640 input; the latent is
64 x 30 x 40), ``default`` = the same with ``resize=(32, 64)`` (``--default-resize``).

Both methods run a warm-up (``--warmup-steps`` batches on a throwaway copy of the
model, not timed) first, then train the same initial weights; timings
synchronise CUDA. Samples/s counts training items over the time of the training
epochs. Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the
growth of the peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``)
over the process's size before the images/waveforms and model were set up. Each
(size, method) runs in its own fresh process (``spawn``) so that peaks do not carry
over from one measurement to the next.

Run: ``make bench``, or ``python benchmarks/bench_training.py [--device cuda]
[--n-items 4096] [--batch-size 64] [--epochs 2] [--size both]`` with
``MNE_SPECAE_DATA`` pointing at the recordings. Targets on one H100: >= 2,500
items/s at 480 x 640 with the study's network, and engine/plain >= 3.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path


import numpy as np
import torch

SFREQ = 512.0
SECONDS_PER_RECORDING = 120.0  # at most this much of each recording (enough variety)


# ------------------------------------------------------------------------ data
def real_items(n_items):
    """(n_items, 2560) float32: channels of 5 s segments of all sample recordings."""
    import mne

    from mne_specae import make_segments
    from mne_specae.datasets import load_sample

    mne.set_log_level("ERROR")
    rows = []
    for raws in load_sample(download=False, verbose=False).values():
        for raw in raws:
            length = raw.n_times / raw.info["sfreq"]
            if length < 5.0:
                continue
            if length > SECONDS_PER_RECORDING:
                raw = raw.copy().crop(0.0, SECONDS_PER_RECORDING)
            data = make_segments(raw, verbose=False).get_data()
            rows.append(data.reshape(-1, data.shape[-1]).astype(np.float32))
    items = np.concatenate(rows)
    rng = np.random.default_rng(0)
    items = items[rng.permutation(len(items))]
    reps = -(-n_items // len(items))
    return np.ascontiguousarray(np.tile(items, (reps, 1))[:n_items]), len(items)


def make_spectrogram(resize):
    from mne_specae import Spectrogram

    return Spectrogram(SFREQ, n_fft=128, hop_length=40, fmax=60.0, output="db",
                       normalize="item", resize=resize)


# -------------------------------------------------------------------- measures
def _rss_peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _rss_now_bytes():
    try:
        with open("/proc/self/statm") as fid:
            return int(fid.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _rss_peak_bytes()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _memory_start(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    return _rss_now_bytes()


def _memory_peak(device, start):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)  # absolute: all tensors it held
    return max(0, _rss_peak_bytes() - start)


def run_plain(waves, device, resize, batch_size, epochs, filters, warmup_steps):
    """fp32 eager loop on precomputed images; returns (samples/s, peak bytes, loss, where)."""
    from mne_specae.models import ConvAutoencoder2d

    start = _memory_start(device)
    spec = make_spectrogram(resize).to(device)
    n = len(waves)
    torch.manual_seed(0)
    model = ConvAutoencoder2d(filters=filters).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # precompute the images once (a user's "dataset"), in chunks; not timed
    shape = spec.image_shape(waves.shape[-1])
    nbytes = n * int(np.prod(shape)) * 4
    where = "device"
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if nbytes > 0.4 * free:
            where = "host (pinned)"
    store_device = device if where == "device" else torch.device("cpu")
    images = torch.empty((n, *shape), dtype=torch.float32, device=store_device,
                         pin_memory=where.startswith("host") and device.type == "cuda")
    with torch.no_grad():
        for i in range(0, n, 256):
            chunk = torch.as_tensor(waves[i : i + 256]).to(device)
            images[i : i + 256] = spec.to_images(chunk).to(store_device)
    if device.type == "cpu":
        where = "host"

    def step(idx, model=model, opt=opt):
        x = images[idx].to(device, non_blocking=True)
        out = model(x)
        loss = torch.nn.functional.mse_loss(out, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    gen = torch.Generator().manual_seed(0)
    if warmup_steps:  # on a throwaway copy: the timed run starts from the same weights
        spare = copy.deepcopy(model)
        spare_opt = torch.optim.Adam(spare.parameters(), lr=1e-3)
        for _ in range(warmup_steps):
            step(torch.randint(n, (batch_size,), generator=gen), spare, spare_opt)
        del spare, spare_opt
    _sync(device)
    t0 = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros((), dtype=torch.float64, device=device)  # no sync per step
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            total += step(idx).double() * len(idx)
            seen += len(idx)
    _sync(device)
    seconds = time.perf_counter() - t0
    return dict(samples_per_s=seen / seconds, peak=_memory_peak(device, start),
                loss=float(total) / n, where=f"fp32, images on {where}", seconds=seconds)


def run_engine(waves, device, resize, batch_size, epochs, filters, warmup_steps, compile):
    from mne_specae.models import ConvAutoencoder2d
    from mne_specae.training import train_autoencoder

    start = _memory_start(device)
    spec = make_spectrogram(resize)
    torch.manual_seed(0)
    model = ConvAutoencoder2d(filters=filters)
    common = dict(input_stage=spec, val_fraction=0.0, batch_size=batch_size, lr=1e-3,
                  device=device, progress=False, verbose="error", compile=compile)
    if warmup_steps:
        n_warm = max(2, min(len(waves), warmup_steps * batch_size))
        # on a throwaway copy: the timed run starts from the same weights as "plain"
        train_autoencoder(copy.deepcopy(model), waves[:n_warm], max_epochs=1, patience=1,
                          **common)
    _sync(device)
    t0 = time.perf_counter()
    history = train_autoencoder(model, waves, max_epochs=epochs, patience=epochs + 1,
                                **common)
    _sync(device)
    wall = time.perf_counter() - t0
    seen = sum(e["samples_per_s"] * e["seconds"] for e in history.epochs)
    seconds = sum(e["seconds"] for e in history.epochs)
    if device.type == "cuda":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        notes = f"{precision} autocast, channels_last, waveforms on device"
    else:
        notes = "fp32"
    return dict(samples_per_s=seen / seconds, peak=_memory_peak(device, start),
                loss=history.epochs[-1]["train_loss"], seconds=seconds,
                where=f"{notes}; whole call {wall:.2f} s")


def _child(queue, method, data_file, device, resize, args):
    try:
        if args["threads"]:
            torch.set_num_threads(args["threads"])
        import mne_specae.models  # noqa: F401  (imported before the memory baseline)
        import mne_specae.training  # noqa: F401

        waves = np.load(data_file)[: args["n_items"]].copy()  # writable, contiguous
        device = torch.device(device)
        kwargs = dict(batch_size=args["batch_size"], epochs=args["epochs"],
                      filters=args["filters"], warmup_steps=args["warmup_steps"])
        if method == "plain":
            result = run_plain(waves, device, resize, **kwargs)
        else:
            result = run_engine(waves, device, resize, compile=args["compile"], **kwargs)
        queue.put(("ok", result))
    except BaseException as err:  # report, do not hang the parent
        import traceback

        queue.put(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))


def measure(method, data_file, device, resize, args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, method, data_file, str(device), resize,
                                            args))
    proc.start()
    status, result = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{method} at {resize} failed:\n{result}")
    return result


# ------------------------------------------------------------------------ main
def _device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fid:
            for line in fid:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _size(text):
    height, width = (int(v) for v in text.lower().split("x"))
    return (height, width)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--n-items", type=int, default=4096,
                        help="training items (channel-segments) per epoch")
    parser.add_argument("--n-items-study", type=int, default=None,
                        help="items for the 480x640 case (default: --n-items)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", choices=("study", "default", "both"), default="both")
    parser.add_argument("--default-resize", type=_size, default=(32, 64),
                        help="HEIGHTxWIDTH of the small default case (default 32x64)")
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: torch's default)")
    parser.add_argument("--compile", action="store_true",
                        help="train_autoencoder(compile=True) for the engine")
    args = parser.parse_args(argv)

    from mne_specae import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = {"study": [(480, 640)], "default": [args.default_resize],
             "both": [(480, 640), args.default_resize]}[args.size]
    n_study = args.n_items_study or args.n_items
    n_max = max(args.n_items, n_study if (480, 640) in sizes else 0)

    print(f"torch {torch.__version__}, Python {platform.python_version()}, "
          f"{_device_name(device)} ({device})")
    print("memory: " + ("torch.cuda.max_memory_allocated (all tensors held during the run)"
                        if device.type == "cuda" else
                        "growth of the peak RSS (resource.getrusage) over the start of "
                        "the measurement"))
    t0 = time.perf_counter()
    waves, n_unique = real_items(n_max)
    print(f"items: {n_max} channel-segments of 5 s at 512 Hz ({n_unique} distinct, "
          f"repeated), read in {time.perf_counter() - t0:.1f} s; batch {args.batch_size}, "
          f"{args.epochs} epoch(s), filters {args.filters}")

    header = (f"{'size':>8} {'method':>7} {'items':>6} {'samples/s':>10} {'peak MiB':>9} "
              f"{'loss':>7}  notes (loss: mean over the last epoch)")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "waves.npy"
        np.save(data_file, waves)
        del waves
        for resize in sizes:
            n = n_study if resize == (480, 640) else args.n_items
            opts = dict(vars(args), n_items=n)
            results = {}
            for method in ("plain", "engine"):
                res = measure(method, str(data_file), device, resize, opts)
                results[method] = res
                print(f"{resize[0]:>4}x{resize[1]:<3} {method:>7} {n:>6} "
                      f"{res['samples_per_s']:>10.1f} {res['peak'] / 2**20:>9.1f} "
                      f"{res['loss']:>7.4f}  {res['where']}", flush=True)
            ratio = results["engine"]["samples_per_s"] / results["plain"]["samples_per_s"]
            print(f"{resize[0]:>4}x{resize[1]:<3}  engine/plain = {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
