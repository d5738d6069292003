"""How batches reach the device and their losses come back: one waveform tensor,
index slices, per-batch losses on the device, torchrun processes.

All waveforms live in one float32 tensor (4 bytes a sample). A batch is an index
slice of it, gathered on the device (or gathered in pinned host memory and copied
asynchronously when the tensor does not fit there). Nothing here makes the host wait
for the device during an epoch: each epoch's order goes to the device once, and the
losses are read once at its end. Under ``torchrun --nproc_per_node N`` each process
takes every N-th item of each epoch's order.
"""

from __future__ import annotations

import os
import time

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
        raise ValueError(
            f"waveforms must be (n_items, n_times) or (n_items, n_channels, "
            f"n_times), got shape {tuple(data.shape)}."
        )
    if not bool(torch.isfinite(data).all()):
        raise ValueError("waveforms hold NaN/Inf samples; make_segments drops such segments.")
    return data.contiguous()


def epoch_order(train_idx, seed, epoch):
    """The seeded order of the training items in one epoch (its own generator)."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return train_idx[torch.randperm(len(train_idx), generator=gen)]


class BatchSource:
    """Index slices of one waveform tensor, delivered on the device without host syncs.

    Either the whole tensor is on the device (batches are gathered there, from indices
    moved to the device once per epoch by :meth:`indices`), or it stays in pinned host
    memory: each batch is gathered on the host into a fresh pinned buffer and copied
    asynchronously (PyTorch's caching host allocator reuses a buffer only after its
    copy has finished, so the host never waits for the device).
    """

    def __init__(self, data, device, on_device):
        self.device = device
        self.cuda = device.type == "cuda"
        if on_device == "auto":
            on_device = self._fits(data) if self.cuda else device.type != "cpu"
        self.pinned = self.cuda and not on_device
        self.data = data.pin_memory() if self.pinned else data.to(device)

    def _fits(self, data):
        free, _ = torch.cuda.mem_get_info(self.device)
        return data.numel() * data.element_size() < 0.25 * free

    def indices(self, order):
        """An epoch's indices where :meth:`get` gathers (one copy per epoch)."""
        if self.pinned or order.device == self.data.device:
            return order
        if self.cuda:
            return order.pin_memory().to(self.device, non_blocking=True)
        return order.to(self.data.device)

    def rows(self, idx):
        """The items ``idx`` as one tensor on the device (e.g. to fit statistics)."""
        return self.data.index_select(0, self.indices(idx))

    def iterate(self, batches):
        """The batches ``batches`` (from :meth:`indices`) on the device, in order."""
        for idx in batches:
            yield self.get(idx)

    def get(self, idx):
        """The items ``idx`` (best from :meth:`indices`) as a batch on the device."""
        if not self.pinned:
            return self.data.index_select(0, idx.to(self.data.device))
        buf = torch.empty((len(idx), *self.data.shape[1:]), dtype=self.data.dtype, pin_memory=True)
        torch.index_select(self.data, 0, idx, out=buf)  # idx on the host: indices()
        return buf.to(self.device, non_blocking=True)


def timed_batches(batches, waited):
    """The items of ``batches``, adding to ``waited[0]`` the seconds spent waiting for
    each (reading a store, gathering rows; on an accelerator, without waiting for
    the device)."""
    batches = iter(batches)
    while True:
        t0 = time.perf_counter()
        try:
            x = next(batches)
        except StopIteration:
            return
        finally:
            waited[0] += time.perf_counter() - t0
        yield x


class EpochLosses:
    """The per-batch losses of one pass, kept on the device and read once.

    Each batch's loss goes into a float32 slot on the device (no host sync); the host
    reads the slots once, at the end, and sums them in float64 weighted by the batch
    sizes (Apple's MPS has no float64). :meth:`running` gives a progress bar a mean
    that may lag, without waiting for the device.

    Parameters
    ----------
    sizes : array-like of int
        Items in each batch.
    device : torch.device
        Where the losses are computed.
    """

    def __init__(self, sizes, device):
        self.sizes = np.asarray(sizes, dtype=np.float64)
        self.device = device
        self.values = torch.zeros(len(self.sizes), dtype=torch.float32, device=device)
        self._host, self._pending, self._shown = None, None, None

    def add(self, b, loss):
        """Keep batch ``b``'s loss (a scalar tensor) on the device."""
        self.values[b] = loss.detach()

    def _mean(self, host, n):
        return float(host[:n].astype(np.float64) @ self.sizes[:n] / self.sizes[:n].sum())

    def total(self):
        """The size-weighted sum of the batch losses (the one read from the device)."""
        if not len(self.sizes):
            return 0.0
        return float(self.values.cpu().numpy().astype(np.float64) @ self.sizes)

    def running(self, b):
        """Mean loss per item of the batches up to ``b`` read so far, or None.

        On the CPU the values are there; on CUDA they arrive by an asynchronous copy
        into pinned memory, shown once it has finished (never waited for); other
        devices show nothing before :meth:`total`.
        """
        if self.device.type == "cpu":
            return self._mean(self.values.numpy(), b + 1)
        if self.device.type != "cuda":
            return None
        if self._pending is not None and self._pending[0].query():
            self._shown = self._mean(self._host.numpy(), self._pending[1])
            self._pending = None
        if self._pending is None:
            if self._host is None:
                self._host = torch.zeros(len(self.sizes), dtype=torch.float32, pin_memory=True)
            self._host[: b + 1].copy_(self.values[: b + 1], non_blocking=True)
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(self.device))
            self._pending = (event, b + 1)
        return self._shown


def epoch_items(order, rank, world, per_rank, drop_last):
    """This process's items of an epoch's ``order``, and the items of all processes.

    The items are dealt round-robin to the processes (every ``world``-th item), after
    dropping the last ``len(order) % world`` so that every process has as many. With
    ``drop_last`` only full steps of ``per_rank * world`` items are kept: every batch
    then has ``per_rank`` items (a fixed shape for compiled graphs).
    """
    step = per_rank * world
    n_items = len(order) // step * step if drop_last else len(order) - len(order) % world
    return order[:n_items][rank::world], n_items


def batch_slices(idx, batch_size):
    """Consecutive batches of ``idx`` (views: on ``idx``'s device) and their sizes."""
    batches = [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
    return batches, [len(b) for b in batches]


# -------------------------------------------------------------- distributed
def distributed_context(device):
    """(rank, world_size, device, initialised_here) for a torchrun launch."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device, False
    if device.type == "cuda":  # before the process group: NCCL binds to this GPU
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    initialised = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        initialised = True
    return dist.get_rank(), dist.get_world_size(), device, initialised


def sum_over_ranks(world, device, value):
    """A host float summed over the processes (reduced as float32 on the device)."""
    if world == 1:
        return value
    total = torch.tensor([value], dtype=torch.float32, device=device)
    return float(all_reduce_sum(total, world).cpu()[0])


def broadcast_buffers(module, world):
    """Rank 0's buffers (e.g. batch-norm statistics) on every process, as DDP's own
    forward does: for evaluation through the unwrapped module."""
    if world == 1:
        return
    import torch.distributed as dist

    for buffer in module.buffers():
        dist.broadcast(buffer, 0)


def all_reduce_sum(values, world):
    if world == 1:
        return values
    import torch.distributed as dist

    dist.all_reduce(values)
    return values
