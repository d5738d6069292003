"""The data, input stages, FLOP counts and memory measures of ``bench_training.py``
(re-exported there): real sample items, the study's and a small input stage, the
network's FLOPs per item, device peaks, and RSS / CUDA memory peaks."""

from __future__ import annotations

import os
import resource

import numpy as np
import torch

SFREQ = 512.0
SECONDS_PER_RECORDING = 120.0  # at most this much of each recording (enough variety)
STUDY_SIZE = (480, 640)
#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets;
#: the first name that occurs in ``torch.cuda.get_device_name`` wins.
PEAK_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,
    "A100": 312.0,
}


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


def make_spectrogram(size):
    """The input stage of a size: ``"native"`` or a ``(height, width)`` resize."""
    from mne_specae import Spectrogram, presets

    if size == "native":
        keys = (
            "n_fft",
            "hop_length",
            "win_length",
            "window",
            "fmin",
            "fmax",
            "freq_scale",
            "n_freqs",
            "output",
            "top_db",
            "detrend",
            "normalize",
            "resize",
        )
        return Spectrogram(SFREQ, **{k: presets.STUDY[k] for k in keys})
    return Spectrogram(
        SFREQ, n_fft=128, hop_length=40, fmax=60.0, output="db", normalize="item", resize=size
    )


def size_name(size):
    return "native" if size == "native" else f"{size[0]}x{size[1]}"


def network_flops(filters, image_shape):
    """FLOPs of one training step's convolutions per item (forward and backward),
    counted on the meta device (nothing is computed)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mne_specae.nn.models import ConvAutoencoder2d

    with torch.device("meta"):
        model = ConvAutoencoder2d(filters=filters)
        x = torch.empty((2, *image_shape))
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.mse_loss(model(x), x).backward()
    return counter.get_total_flops() / 2


def peak_tflops(device):
    """The device's dense bf16 peak (TFLOP/s), or None (CPU, unknown GPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def engine_settings(device):
    """What ``precision="auto"`` and ``channels_last="auto"`` mean on ``device``."""
    from mne_specae.utils._devices import use_bf16, use_channels_last

    return use_bf16("auto", device), use_channels_last("auto", device)


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
