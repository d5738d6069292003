"""A training time budget (``max_time``): when the run stops, and how every process agrees.

The clock starts when :func:`~mne_specae.training.train_autoencoder` is called (for a
resumed run: when it is resumed). It is read on the host between batches (a
``time.perf_counter`` call, never a device sync). In one process the decision is
immediate. Under torchrun the main process decides, and the decision reaches the other
processes by one tiny broadcast every :data:`SYNC_EVERY` batches and at the end of each
epoch: every process counts the same batches, so they all take part in the same
broadcasts and stop after the same batch. On CUDA that broadcast is the only device
sync it adds, once every :data:`SYNC_EVERY` steps.
"""

from __future__ import annotations

import time

import torch

#: Batches between two broadcasts of the main process's decision (torchrun only).
SYNC_EVERY = 25


class Budget:
    """Whether a run's ``max_time`` is spent, the same answer in every process.

    Parameters
    ----------
    max_time : float | None
        Seconds; ``None``: no budget (:meth:`spent` is always False, nothing is read).
    rank, world : int
        This process and the number of processes.
    device : torch.device
        Where the broadcast tensor lives (the process group's device).
    start : float | None
        ``time.perf_counter()`` when the budget started (default: now).
    """

    def __init__(self, max_time, rank=0, world=1, device=None, start=None):
        self.max_time = None if max_time is None else float(max_time)
        self.rank, self.world, self.device = rank, world, device
        self.start = time.perf_counter() if start is None else start
        self._batches = 0  # batches seen, counted alike in every process

    def elapsed(self):
        """Seconds since the budget started."""
        return time.perf_counter() - self.start

    def _local(self):
        return self.max_time is not None and self.elapsed() >= self.max_time

    def spent(self, last=False):
        """Called after each training batch (``last``: the epoch's last one): True when
        the run must stop now. In every process the same value, after the same batch."""
        if self.max_time is None:
            return False
        self._batches += 1
        if self.world == 1:
            return self._local()
        if not (last or self._batches % SYNC_EVERY == 0):
            return False
        import torch.distributed as dist

        flag = torch.tensor([int(self.rank == 0 and self._local())], device=self.device)
        dist.broadcast(flag, 0)
        return bool(flag.item())
