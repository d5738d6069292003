"""How batches reach the device: one waveform tensor, index slices, torchrun processes.

All waveforms live in one float32 tensor (4 bytes a sample). A batch is an index
slice of it, moved to the device (or sliced on the device when the whole tensor fits
there). Under ``torchrun --nproc_per_node N`` each process takes every N-th item of
each epoch's order.
"""

from __future__ import annotations

import os

import numpy as np
import torch


def as_waveform_tensor(waveforms):
    """All items as one contiguous float32 tensor, checked for shape and NaN/Inf."""
    if isinstance(waveforms, np.ndarray) and waveforms.dtype != np.float32:
        waveforms = waveforms.astype(np.float32)  # on the host: no float64 tensor
    data = torch.as_tensor(waveforms)
    if data.dtype != torch.float32:
        data = data.to(torch.float32)
    if data.ndim not in (2, 3):
        raise ValueError(f"waveforms must be (n_items, n_times) or (n_items, n_channels, "
                         f"n_times), got shape {tuple(data.shape)}.")
    if not bool(torch.isfinite(data).all()):
        raise ValueError("waveforms hold NaN/Inf samples; make_segments drops such segments.")
    return data.contiguous()


def epoch_order(train_idx, seed, epoch):
    """The seeded order of the training items in one epoch (its own generator)."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return train_idx[torch.randperm(len(train_idx), generator=gen)]


class BatchSource:
    """Index slices of one waveform tensor, delivered on the device."""

    def __init__(self, data, device, batch_size, on_device):
        self.device = device
        self.cuda = device.type == "cuda"
        if on_device == "auto":
            on_device = self._fits(data) if self.cuda else device.type != "cpu"
        if on_device or not self.cuda:
            self.data = data.to(device)
            self.staging = None
        else:  # pinned host tensor + two pinned staging buffers for async copies
            self.data = data.pin_memory()
            shape = (batch_size, *data.shape[1:])
            self.staging = [torch.empty(shape, dtype=data.dtype, pin_memory=True)
                            for _ in range(2)]
            self.copied = [None, None]
            self.turn = 0

    def _fits(self, data):
        free, _ = torch.cuda.mem_get_info(self.device)
        return data.numel() * data.element_size() < 0.25 * free

    def get(self, idx):
        if self.staging is None:
            return self.data.index_select(0, idx.to(self.data.device))
        slot = self.turn
        self.turn ^= 1
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()  # the buffer's last copy has finished
        buf = self.staging[slot][: len(idx)]
        torch.index_select(self.data, 0, idx, out=buf)
        out = buf.to(self.device, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self.copied[slot] = event
        return out


# -------------------------------------------------------------- distributed
def distributed_context(device):
    """(rank, world_size, device, initialised_here) for a torchrun launch."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device, False
    initialised = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
        initialised = True
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device, initialised


def batch_slices(order, batch_size, device):
    """Batches of ``order``, their sizes (float64, host) and one float32 loss slot per
    batch on the device (losses are summed in float64 on the host: MPS has none)."""
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    sizes = np.array([len(b) for b in batches], dtype=np.float64)
    return batches, sizes, torch.zeros(len(batches), dtype=torch.float32, device=device)


def sum_over_ranks(world, device, value):
    """A host float summed over the processes (reduced as float32 on the device)."""
    if world == 1:
        return value
    total = torch.tensor([value], dtype=torch.float32, device=device)
    return float(all_reduce_sum(total, world).cpu()[0])


def all_reduce_sum(values, world):
    if world == 1:
        return values
    import torch.distributed as dist

    dist.all_reduce(values)
    return values
