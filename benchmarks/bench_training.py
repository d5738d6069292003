"""Benchmark: training throughput (items/s, TFLOP/s) and peak memory of the engine.

One item is one channel of one real 5 s segment at 512 Hz (2560 samples) from the
bundled sample recordings (:func:`mne_specae.datasets.load_sample` +
:func:`mne_specae.make_segments`: ECG, EEG and EMG), repeated to reach ``--n-items``.
Two ways of training :class:`mne_specae.nn.models.ConvAutoencoder2d` (the study's network
by default: 4 x [Conv 3x3 64, ReLU, MaxPool 2], mirrored decoder) with Adam and MSE,
measured in the same run, at the same precision and memory format (a fair race):

(1) ``plain``: the eager loop a user would write: the spectrogram images are
    precomputed once into one tensor (on the device when they fit in 40 % of its free
    memory, else in host memory; not timed), then each step takes a random batch of
    them (no DataLoader), ``model(x)``, ``mse_loss``, ``backward``, ``step``, with
    the engine's ``precision="auto"`` and ``channels_last="auto"`` (bf16 autocast and
    channels-last on CUDA, fp32 on the CPU) and cuDNN autotuning;
(2) ``engine``: :func:`mne_specae.training.loop.train_autoencoder` with the
    :class:`mne_specae.Spectrogram` input stage, which computes the images from the
    waveforms on the device at every step, ``val_fraction=0``.

Sizes: ``default`` = ``Spectrogram(512, n_fft=128, hop_length=40, fmax=60,
output="db", normalize="item", resize=(32, 64))`` (``--default-resize``); ``study`` =
the same resized to the study's 480 x 640 (interpolated from 16 x 65 STFT pixels);
``native`` = the study's 480 x 640 at native STFT resolution, the spectrogram of
:data:`mne_specae.presets.STUDY` (``n_fft=958``: 480 rows from 0 to 256 Hz; hop 4:
641 frames, resized to 640). The network and its latent (64 x 30 x 40) are the same
for ``study`` and ``native``; the STFT has 480 x 641 pixels instead of 16 x 65.

TFLOP/s: the network's FLOPs per item (forward and backward of the convolutions,
counted once with :class:`torch.utils.flop_counter.FlopCounterMode` on the meta
device; the STFT and the optimiser are not counted) times items/s; on CUDA also as a
fraction of the device's dense bf16 peak (:data:`PEAK_BF16_TFLOPS`, by device name;
"n/a" on the CPU and unknown GPUs).

Both methods run a warm-up (``--warmup-steps`` batches on a throwaway copy of the
model, not timed) first, then train the same initial weights; timings
synchronise CUDA. Items/s counts training items over the time of the training
epochs. Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the
growth of the peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``)
over the process's size before the images/waveforms and model were set up. Each
(size, method) runs in its own fresh process (``spawn``) so that peaks do not carry
over from one measurement to the next.

Run: ``make bench``, or ``python benchmarks/bench_training.py [--device cuda]
[--n-items 4096] [--batch-size 64] [--epochs 2] [--size all] [--compile]`` with
``MNE_SPECAE_DATA`` pointing at the recordings (``--size default`` on the CPU takes
about a minute). Targets on one H100: >= 2,500 items/s at 480 x 640 with the study's
network, and engine/plain >= 3.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch  # noqa: E402

# before torch: the package's thread policy (OMP_WAIT_POLICY=PASSIVE unless set, see
# doc/performance.rst "A busy machine"); MNE_SPECAE_THREADS=off measures torch's defaults
import mne_specae  # noqa: F401,E402

sys.path.insert(0, str(Path(__file__).parent))

from train_measures import (  # noqa: E402, F401 (re-exported)
    PEAK_BF16_TFLOPS,
    SECONDS_PER_RECORDING,
    SFREQ,
    STUDY_SIZE,
    _memory_peak,
    _memory_start,
    _rss_now_bytes,
    _rss_peak_bytes,
    _sync,
    engine_settings,
    make_spectrogram,
    network_flops,
    peak_tflops,
    real_items,
    size_name,
)


def run_plain(waves, device, size, batch_size, epochs, filters, warmup_steps):
    """The eager loop on precomputed images, at the engine's precision and memory
    format; returns (samples/s, peak bytes, loss, notes)."""
    from mne_specae.nn.models import ConvAutoencoder2d

    bf16, channels_last = engine_settings(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    start = _memory_start(device)
    spec = make_spectrogram(size).to(device)
    n = len(waves)
    torch.manual_seed(0)
    model = ConvAutoencoder2d(filters=filters).to(device, memory_format=memory_format)
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
    images = torch.empty(
        (n, *shape),
        dtype=torch.float32,
        device=store_device,
        pin_memory=where.startswith("host") and device.type == "cuda",
    )
    with torch.no_grad():
        for i in range(0, n, 256):
            chunk = torch.as_tensor(waves[i : i + 256]).to(device)
            images[i : i + 256] = spec.to_images(chunk).to(store_device)
    if device.type == "cpu":
        where = "host"

    def step(idx, model=model, opt=opt):
        x = images[idx].to(device, non_blocking=True).contiguous(memory_format=memory_format)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = torch.nn.functional.mse_loss(out.float(), x)
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
        total = torch.zeros((), dtype=torch.float32, device=device)  # no sync per step
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            total += step(idx) * len(idx)
            seen += len(idx)
    _sync(device)
    seconds = time.perf_counter() - t0
    notes = f"{_precision_notes(bf16, channels_last)}, images on {where}"
    return dict(
        samples_per_s=seen / seconds,
        peak=_memory_peak(device, start),
        loss=float(total) / n,
        where=notes,
        seconds=seconds,
    )


def _precision_notes(bf16, channels_last):
    return ("bf16 autocast" if bf16 else "fp32") + (", channels_last" if channels_last else "")


def run_engine(waves, device, size, batch_size, epochs, filters, warmup_steps, compile):
    from mne_specae.nn.models import ConvAutoencoder2d
    from mne_specae.training.loop import train_autoencoder

    start = _memory_start(device)
    spec = make_spectrogram(size)
    torch.manual_seed(0)
    model = ConvAutoencoder2d(filters=filters)
    common = dict(
        input_stage=spec,
        val_fraction=0.0,
        batch_size=batch_size,
        lr=1e-3,
        device=device,
        progress=False,
        verbose="error",
        compile=compile,
    )
    if warmup_steps:
        n_warm = max(batch_size, min(len(waves), warmup_steps * batch_size))
        # on a throwaway copy: the timed run starts from the same weights as "plain"
        train_autoencoder(copy.deepcopy(model), waves[:n_warm], max_epochs=1, patience=1, **common)
    _sync(device)
    t0 = time.perf_counter()
    history = train_autoencoder(model, waves, max_epochs=epochs, patience=epochs + 1, **common)
    _sync(device)
    wall = time.perf_counter() - t0
    seen = sum(e["samples_per_s"] * e["seconds"] for e in history.epochs)
    seconds = sum(e["seconds"] for e in history.epochs)
    notes = _precision_notes(*engine_settings(device))
    if device.type == "cuda":
        notes += ", waveforms on device"
    if compile:
        notes += ", compiled, full batches"
    return dict(
        samples_per_s=seen / seconds,
        peak=_memory_peak(device, start),
        loss=history.epochs[-1]["train_loss"],
        seconds=seconds,
        where=f"{notes}; whole call {wall:.2f} s",
    )


def _child(queue, method, data_file, device, size, args):
    try:
        if args["threads"]:
            torch.set_num_threads(args["threads"])
        torch.backends.cudnn.benchmark = True  # as the engine does on CUDA
        import mne_specae.nn.models  # noqa: F401  (imported before the memory baseline)
        import mne_specae.training.loop  # noqa: F401

        waves = np.load(data_file)[: args["n_items"]].copy()  # writable, contiguous
        device = torch.device(device)
        kwargs = dict(
            batch_size=args["batch_size"],
            epochs=args["epochs"],
            filters=args["filters"],
            warmup_steps=args["warmup_steps"],
        )
        if method == "plain":
            result = run_plain(waves, device, size, **kwargs)
        else:
            result = run_engine(waves, device, size, compile=args["compile"], **kwargs)
        queue.put(("ok", result))
    except BaseException as err:  # report, do not hang the parent
        import traceback

        queue.put(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))


def measure(method, data_file, device, size, args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, method, data_file, str(device), size, args))
    proc.start()
    status, result = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{method} at {size_name(size)} failed:\n{result}")
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
    parser.add_argument(
        "--n-items",
        type=int,
        default=None,
        help="training items (channel-segments) per epoch (default: 4096 on CUDA, 512 elsewhere)",
    )
    parser.add_argument(
        "--n-items-study",
        type=int,
        default=None,
        help="items for the 480x640 case (default: --n-items)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--size",
        choices=("default", "study", "native", "both", "all"),
        default="both",
        help="both: study and default; all: the three",
    )
    parser.add_argument(
        "--default-resize",
        type=_size,
        default=(32, 64),
        help="HEIGHTxWIDTH of the small default case (default 32x64)",
    )
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="train_autoencoder(compile=True) for the engine"
    )
    args = parser.parse_args(argv)

    from mne_specae import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    small = args.default_resize
    sizes = {
        "default": [small],
        "study": [STUDY_SIZE],
        "native": ["native"],
        "both": [STUDY_SIZE, small],
        "all": ["native", STUDY_SIZE, small],
    }[args.size]
    n_default = args.n_items or (4096 if device.type == "cuda" else 512)
    n_study = args.n_items_study or n_default
    n_max = max(n_study if size != small else n_default for size in sizes)
    peak = peak_tflops(device)

    print(
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{_device_name(device)} ({device})"
    )
    print(
        "memory: "
        + (
            "torch.cuda.max_memory_allocated (all tensors held during the run)"
            if device.type == "cuda"
            else "growth of the peak RSS (resource.getrusage) over the start of the measurement"
        )
    )
    print(
        "TFLOP/s: the network's convolutions, forward and backward (FlopCounterMode); "
        + (f"peak: {peak:g} TFLOP/s dense bf16" if peak else "peak: n/a")
    )
    t0 = time.perf_counter()
    waves, n_unique = real_items(n_max)
    print(
        f"items: {n_max} channel-segments of 5 s at 512 Hz ({n_unique} distinct, "
        f"repeated), read in {time.perf_counter() - t0:.1f} s; batch {args.batch_size}, "
        f"{args.epochs} epoch(s), filters {args.filters}"
    )

    header = (
        f"{'size':>8} {'method':>7} {'items':>6} {'items/s':>10} {'TFLOP/s':>8} "
        f"{'% peak':>7} {'peak MiB':>9} {'loss':>7}  notes (loss: mean over the "
        "last epoch)"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "waves.npy"
        np.save(data_file, waves)
        del waves
        for size in sizes:
            n = n_default if size == small else n_study
            flops = network_flops(args.filters, make_spectrogram(size).image_shape(2560))
            print(f"{size_name(size):>8}: {flops / 1e9:.3g} GFLOP per item and step")
            opts = dict(vars(args), n_items=n)
            results = {}
            for method in ("plain", "engine"):
                res = measure(method, str(data_file), device, size, opts)
                results[method] = res
                tflops = res["samples_per_s"] * flops / 1e12
                share = f"{100 * tflops / peak:>6.1f}%" if peak else f"{'n/a':>7}"
                print(
                    f"{size_name(size):>8} {method:>7} {n:>6} {res['samples_per_s']:>10.1f} "
                    f"{tflops:>8.3g} {share} {res['peak'] / 2**20:>9.1f} "
                    f"{res['loss']:>7.4f}  {res['where']}",
                    flush=True,
                )
            ratio = results["engine"]["samples_per_s"] / results["plain"]["samples_per_s"]
            print(f"{size_name(size):>8}  engine/plain = {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
