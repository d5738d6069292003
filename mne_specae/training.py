"""The training engine: device, mixed precision, early stopping, checkpoints, DDP.

All waveforms live in one float32 tensor (4 bytes a sample). A batch is an index
slice of it, moved to the device (or sliced on the device when the whole tensor fits
there); the input stage (the :class:`~mne_specae.Spectrogram`, or
:class:`~mne_specae.input_stages.WaveformInput` for the 1-D model) turns it into the
model's input on the device. Nothing on the hot path loops over items in Python, and
no spectrogram image is ever stored. Losses are kept per batch in float32 on the
device and summed in float64 on the host (Apple's MPS has no float64).

Under ``torchrun --nproc_per_node N`` the same call trains with
DistributedDataParallel: each process takes every N-th item of each epoch's
shuffled order, gradients are averaged, and only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .batches import (BatchSource, as_waveform_tensor, batch_slices, distributed_context,
                      epoch_order, sum_over_ranks)
from .checkpoints import (CHECKPOINT_FORMAT, check_absent, cpu_state, make_fingerprint,
                          read_checkpoint, restore_run, save_run, tensor_indices)
from .checks import check_int, check_number
from .corruption import check_corruption, epoch_corruption
from .devices import PRECISIONS, resolve_device, use_bf16, use_channels_last
from .docs import fill_doc
from .history import History
from .splits import split_items

__all__ = ["CHECKPOINT_FORMAT", "train_autoencoder"]

_CHECK_EVERY = 20  # batches between checks for a NaN/Inf training loss
_CHOICES = dict(optimizer=("adam", "adamw"), scheduler=(None, "cosine", "plateau"),
                loss=("mse", "l1"))


# ------------------------------------------------------------------ set-up
def _check_arguments(kw):
    for name in ("max_epochs", "batch_size", "patience"):
        check_int(kw[name], name)
    check_number(kw["lr"], "lr", minimum=0, strict=True)
    check_number(kw["weight_decay"], "weight_decay", minimum=0)
    check_number(kw["min_delta"], "min_delta", minimum=0)
    check_corruption(kw["mask_fraction"], kw["noise_std"])
    _check_option("precision", kw["precision"], PRECISIONS)
    for name, choices in _CHOICES.items():
        if not callable(kw[name]) and kw[name] not in choices:
            names = ", ".join(repr(c) for c in choices)
            raise ValueError(f"{name} must be {names} or a callable, got {kw[name]!r}.")
    _validate_type(kw["resume"], bool, "resume")
    if kw["checkpoint"] is None and kw["resume"]:
        raise ValueError("resume=True needs a checkpoint path.")


def _make_optimizer(optimizer, params, lr, weight_decay):
    if callable(optimizer):
        return optimizer(params)
    cls = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, weight_decay=weight_decay)


def _make_scheduler(scheduler, optimizer, max_epochs, patience):
    if scheduler is None or callable(scheduler):
        return scheduler if scheduler is None else scheduler(optimizer)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=max(1, patience // 2))


def _make_loss(loss):
    return loss if callable(loss) else {"mse": F.mse_loss, "l1": F.l1_loss}[loss]


def _model_input(stage, x):
    if stage is None:
        return x
    return stage.to_images(x) if hasattr(stage, "to_images") else stage(x)


# --------------------------------------------------------------------- run
class _Run:
    """One training run in this process: the model on its device, the optimiser, the
    batches, and where the run stands (history, best weights, epochs without gain)."""

    def __init__(self, model, data, kw, context, split, checkpoint):
        self.rank, self.world, self.device = context
        self.is_main = self.rank == 0
        self.train_idx, self.val_idx = split
        self.path, self.fingerprint = checkpoint
        self.model, self.stage, self.kw = model, kw["input_stage"], kw
        self.bf16 = use_bf16(kw["precision"], self.device)
        self.channels_last = (use_channels_last(kw["channels_last"], self.device)
                              and getattr(model, "dim", 2) == 2)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.stage is not None:
            self.stage.to(self.device).eval()
        self.net = model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if kw["compile"]:
            self.net = torch.compile(self.net)
        self.opt = _make_optimizer(kw["optimizer"], model.parameters(), kw["lr"],
                                   kw["weight_decay"])
        self.sched = _make_scheduler(kw["scheduler"], self.opt, kw["max_epochs"], kw["patience"])
        self.loss_fn = _make_loss(kw["loss"])
        self.per_rank = max(1, kw["batch_size"] // self.world)
        if self.world > 1 and kw["batch_size"] % self.world and self.is_main:
            logger.info(f"batch_size {kw['batch_size']} does not divide into {self.world} "
                        f"processes: {self.per_rank} items per process, "
                        f"{self.per_rank * self.world} per step")
        self.data = data
        self.source = BatchSource(data, self.device, self.per_rank, kw["data_on_device"])
        self.show = kw["progress"] and self.is_main and logger.level <= 20
        self.history, self.best_state, self.bad_epochs, self.epoch = History(), None, 0, 0

    # ------------------------------------------------------------- start
    def fit_input_stage(self, train_idx):
        """Fit the input stage's statistics on the training items, on the device."""
        if self.stage is None or not getattr(self.stage, "needs_fitting", False):
            return
        self.stage.fit_normalization(self.data.index_select(0, train_idx),
                                     batch_size=max(self.per_rank, 64))
        if self.is_main:
            logger.info(f"Input stage normalisation fitted on the {len(train_idx)} "
                        "training items")

    # ---------------------------------------------------------- one epoch
    def _forward_loss(self, x, corruption=None):
        with torch.no_grad():
            target = _model_input(self.stage, x)
            if self.channels_last and target.ndim == 4:
                target = target.contiguous(memory_format=torch.channels_last)
            seen = target if corruption is None else corruption(target)  # loss vs clean target
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.net(seen)
        return self.loss_fn(out.float(), target)

    def train_epoch(self, epoch, train_idx):
        """One pass over the training items: (mean loss, items, seconds), over all
        processes; the loss is NaN when a batch's loss was NaN/Inf."""
        from tqdm.auto import tqdm

        self.model.train()
        order = epoch_order(train_idx, self.kw["seed"], epoch)
        n_items = len(order) - len(order) % self.world
        batches, sizes, losses = batch_slices(order[:n_items][self.rank :: self.world],
                                              self.per_rank, self.device)
        total, checked = 0.0, 0
        corruption = epoch_corruption(self.kw, epoch, self.rank, self.device)
        t0 = time.perf_counter()
        bar = tqdm(total=len(batches), desc=f"epoch {epoch}/{self.kw['max_epochs']}",
                   leave=False, disable=not self.show, unit="batch")
        for b, idx in enumerate(batches):
            loss = self._forward_loss(self.source.get(idx), corruption)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            losses[b] = loss.detach()
            if b % _CHECK_EVERY == _CHECK_EVERY - 1 or b == len(batches) - 1:
                done = losses[checked : b + 1].cpu().numpy().astype(np.float64)
                total += float(done @ sizes[checked : b + 1])
                checked = b + 1
                # every process checks at the same batches, so all of them stop together
                bad = 0.0 if math.isfinite(total) else 1.0
                if sum_over_ranks(self.world, self.device, bad) > 0:
                    total = math.nan
                    break
                bar.set_postfix(loss=f"{total / sizes[:checked].sum():.4g}")
            bar.update(1)
        bar.close()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - t0
        if not math.isfinite(total):
            return math.nan, n_items, seconds
        return sum_over_ranks(self.world, self.device, total) / n_items, n_items, seconds

    def evaluate(self, val_idx):
        """Mean loss over the validation items (all processes)."""
        self.model.eval()
        batches, sizes, losses = batch_slices(val_idx[self.rank :: self.world], self.per_rank,
                                              self.device)
        with torch.no_grad():
            for b, idx in enumerate(batches):
                losses[b] = self._forward_loss(self.source.get(idx))
        total = float(losses.cpu().numpy().astype(np.float64) @ sizes)
        return sum_over_ranks(self.world, self.device, total) / len(val_idx)

    # ---------------------------------------------------------- end of epoch
    def end_epoch(self, epoch, monitored):
        """Keep the best weights, step the schedule, decide whether to stop, save."""
        if monitored < self.history.best_loss - self.kw["min_delta"]:
            self.history.best_loss, self.history.best_epoch = monitored, epoch
            self.best_state = cpu_state(self.model)
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step(monitored)
        elif self.sched is not None:
            self.sched.step()
        if self.bad_epochs >= self.kw["patience"]:
            self.history.stop_reason = "early_stopping"
        elif epoch == self.kw["max_epochs"]:
            self.history.stop_reason = "max_epochs"
        save_run(self, epoch)
        if self.history.stop_reason == "early_stopping" and self.is_main:
            logger.info(f"Early stopping: no improvement for {self.kw['patience']} epochs")

    def stop_nonfinite(self, epoch, which):
        """A NaN/Inf loss: restore the best weights, record it, warn (or raise)."""
        if self.best_state is None:
            hint = ("lower lr, check the input scaling (normalize='item'), or use "
                    "precision='fp32'." if which == "training" else
                    "the training loss was finite, so check the validation recordings "
                    "(flat or clipped segments, other units), the input scaling "
                    "(normalize='item'), or use precision='fp32'.")
            raise FloatingPointError(f"The {which} loss became NaN/Inf in epoch {epoch}, "
                                     f"before any epoch finished with a finite loss: {hint}")
        self.model.load_state_dict(self.best_state)
        self.history.stop_reason = "nonfinite_loss"  # before the checkpoint records it
        save_run(self, epoch)
        warn(f"The {which} loss became NaN/Inf in epoch {epoch}: training stopped and the "
             f"weights of epoch {self.history.best_epoch} (loss "
             f"{self.history.best_loss:.4g}) were restored.")


def _run_epochs(run):
    """Train from the epoch after ``run.epoch`` until a stop (nothing if it ended)."""
    train_idx, val_idx = run.train_idx, run.val_idx
    if run.history.stop_reason:
        return
    for epoch in range(run.epoch + 1, run.kw["max_epochs"] + 1):
        train_loss, n_items, seconds = run.train_epoch(epoch, train_idx)
        if not math.isfinite(train_loss):
            run.stop_nonfinite(epoch, "training")
            return
        val_loss = run.evaluate(val_idx) if len(val_idx) else math.nan
        run.history.epochs.append(dict(
            epoch=epoch, train_loss=train_loss, val_loss=val_loss, seconds=seconds,
            samples_per_s=n_items / seconds, lr=run.opt.param_groups[0]["lr"]))
        if run.is_main:
            logger.info(f"epoch {epoch}/{run.kw['max_epochs']}: train {train_loss:.4g}, val "
                        f"{val_loss:.4g}, {seconds:.1f} s, {n_items / seconds:.0f} items/s")
        if len(val_idx) and not math.isfinite(val_loss):
            run.stop_nonfinite(epoch, "validation")
            return
        run.end_epoch(epoch, val_loss if len(val_idx) else train_loss)
        if run.history.stop_reason:
            return


# --------------------------------------------------------------------- train
@verbose
@fill_doc
def train_autoencoder(
    model,
    waveforms,
    *,
    input_stage=None,
    groups=None,
    val_fraction=0.2,
    max_epochs=50,
    batch_size=64,
    lr=1e-3,
    weight_decay=0.0,
    optimizer="adam",
    loss="mse",
    scheduler=None,
    patience=5,
    min_delta=0.0,
    mask_fraction=0.0,
    noise_std=0.0,
    device="auto",
    precision="auto",
    channels_last="auto",
    compile=False,
    data_on_device="auto",
    seed=0,
    checkpoint=None,
    resume=False,
    progress=True,
    verbose=None,
):
    """Train an autoencoder to reconstruct its input stage's output.

    Parameters
    ----------
    model : torch.nn.Module
        E.g. :class:`~mne_specae.ConvAutoencoder2d`; trained in place, and left with
        the best weights.
    waveforms : torch.Tensor | numpy.ndarray, shape (n_items, [n_channels,] n_times)
        All training items in one array (converted once to float32).
    input_stage : torch.nn.Module | None
        Turns a waveform batch into the model input on the device: a
        :class:`~mne_specae.Spectrogram` (its ``to_images``) or
        :class:`~mne_specae.input_stages.WaveformInput`. Not trained. When it
        ``needs_fitting`` (``normalize="dataset"``), its statistics are fitted here on
        the training items only (never the validation items), on the device.
    groups : array-like | None
        Group of each item (subject, else recording): the validation split keeps
        whole groups on one side. ``None``: a random split of items.
    val_fraction : float
        Fraction of items held out for validation and early stopping (0: none; the
        training loss then decides).
    %(max_epochs)s
    %(batch_size)s
    lr, weight_decay : float
        Learning rate and weight decay of the optimizer.
    optimizer : ``"adam"`` | ``"adamw"`` | callable
        Adam (the study) or a function ``params -> torch.optim.Optimizer``.
    loss : ``"mse"`` | ``"l1"`` | callable
        MSE (the study) or a function ``(reconstruction, target) -> scalar tensor``.
    scheduler : None | ``"cosine"`` | ``"plateau"`` | callable
        Learning-rate schedule, stepped once per epoch (plateau: on the validation
        loss); a callable gets the optimizer and returns a scheduler.
    patience : int
        Epochs without improvement of more than ``min_delta`` before stopping; the
        best weights are restored.
    min_delta : float
        Smallest decrease of the loss that counts as an improvement.
    %(mask_fraction)s
    %(noise_std)s
    %(device)s
    %(precision)s
    channels_last : ``"auto"`` | bool
        Channels-last memory format for 2-D models (``"auto"``: on CUDA).
    compile : bool
        Run the model through :func:`torch.compile`.
    data_on_device : ``"auto"`` | bool
        Keep the whole waveform tensor on the GPU (``"auto"``: when it takes less than
        a quarter of the free memory), else in pinned host memory with asynchronous
        copies of each batch.
    seed : int
        Seed of the split, of each epoch's order and corruptions (the model's initial
        weights are set by whoever built it: seed torch before).
    checkpoint : path-like | None
        Checkpoint file, rewritten atomically after every epoch (weights, optimizer,
        scheduler, input stage statistics, best weights, history, split) with a
        fingerprint of the run: model and input stage (classes and settings),
        optimizer, lr, weight decay, scheduler, loss, patience, min_delta, mask_fraction,
        noise_std, batch_size, val_fraction, max_epochs, seed, the split, and the data's
        shape, dtype and checksum (device, precision and progress are not part of it).
    resume : bool
        ``False``: refuse to start when ``checkpoint`` exists (a
        :class:`FileExistsError`, raised before any work: delete the file or choose
        another path), so two runs never share weights through one file. ``True``:
        start afresh when the file does not exist yet, else continue the run it
        records after checking the fingerprint; any difference is a
        :class:`ValueError` that names every differing entry (checkpoint -> this
        call). On CPU a resumed run equals an uninterrupted one. A run that ended
        (``max_epochs``, early stopping or a NaN/Inf loss) is not trained further: its
        result is returned.
    progress : bool
        Show a tqdm progress bar per epoch with the running loss (when the log level
        is INFO or more verbose).
    %(verbose)s

    Returns
    -------
    history : History
        Per-epoch losses, time, throughput; the best epoch and why training stopped.

    Notes
    -----
    A NaN or Inf training or validation loss stops training: the best weights so far
    are restored (and checkpointed, with ``stop_reason="nonfinite_loss"``) and a
    warning says what happened; if it happens before any epoch finished with a finite
    loss, a :class:`FloatingPointError` is raised.
    """
    kw = {k: v for k, v in locals().items() if k not in ("model", "waveforms", "verbose")}
    _check_arguments(kw)
    path = None if checkpoint is None else Path(checkpoint)
    if not resume:
        check_absent(path)  # before any work
    data = as_waveform_tensor(waveforms)
    if data.shape[0] < 2:
        raise ValueError(f"Need at least 2 items to train, got {data.shape[0]}.")
    labels, train_idx, val_idx = split_items(groups, data.shape[0], val_fraction, seed)
    train_idx, val_idx = tensor_indices(train_idx), tensor_indices(val_idx)
    fingerprint = None if path is None else make_fingerprint(
        model, input_stage, data, train_idx, val_idx,
        **{k: kw[k] for k in ("optimizer", "lr", "weight_decay", "scheduler", "loss",
                              "patience", "min_delta", "mask_fraction", "noise_std",
                              "batch_size", "val_fraction", "max_epochs", "seed")})
    saved = read_checkpoint(path, fingerprint) if resume and path.is_file() else None
    rank, world, dev, owns_group = distributed_context(resolve_device(device))
    try:
        run = _Run(model, data, kw, (rank, world, dev), (train_idx, val_idx),
                   (path, fingerprint))
        if saved is not None:
            restore_run(run, saved)
        else:
            if resume and run.is_main:
                logger.info(f"No checkpoint at {path} yet: training from the start")
            run.fit_input_stage(train_idx)
        if groups is not None and len(val_idx) and run.is_main:
            logger.info(f"Validation: {len(val_idx)} items of "
                        f"{len(np.unique(labels[val_idx]))} group(s); training: "
                        f"{len(train_idx)} items of {len(np.unique(labels[train_idx]))} "
                        "group(s)")
        _run_epochs(run)
        if run.best_state is not None:
            model.load_state_dict(run.best_state)
    finally:
        if owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
    model.eval()
    return run.history
