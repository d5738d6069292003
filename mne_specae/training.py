"""The training engine: device, mixed precision, early stopping, checkpoints, DDP.

All waveforms live in one float32 tensor (4 bytes a sample). A batch is an index
slice of it, moved to the device (or sliced on the device when the whole tensor fits
there); the input stage (the :class:`~mne_specae.Spectrogram`, or
:class:`~mne_specae.input_stages.WaveformInput` for the 1-D model) turns it into the
model's input on the device. Nothing on the hot path loops over items in Python, and
no spectrogram image is ever stored.

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
from mne.utils import _check_option, logger, verbose, warn

from .batches import BatchSource, all_reduce_sum, distributed_context
from .devices import PRECISIONS, resolve_device, use_bf16, use_channels_last
from .history import History
from .io import load_safely, save_atomic
from .splits import split_by_group

CHECKPOINT_FORMAT = "mne-specae-checkpoint"


# ------------------------------------------------------------------ helpers
def _model_input(stage, x):
    if stage is None:
        return x
    if hasattr(stage, "to_images"):
        return stage.to_images(x)
    return stage(x)


def _make_optimizer(optimizer, params, lr, weight_decay):
    if callable(optimizer):
        return optimizer(params)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam', 'adamw' or a callable, got {optimizer!r}.")


def _make_scheduler(scheduler, optimizer, max_epochs, patience):
    if scheduler is None:
        return None
    if callable(scheduler):
        return scheduler(optimizer)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    if scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=max(1, patience // 2))
    raise ValueError(f"scheduler must be None, 'cosine', 'plateau' or a callable, got "
                     f"{scheduler!r}.")


def _make_loss(loss):
    if callable(loss):
        return loss
    if loss == "mse":
        return F.mse_loss
    if loss == "l1":
        return F.l1_loss
    raise ValueError(f"loss must be 'mse', 'l1' or a callable, got {loss!r}.")


def _cpu_state(module):
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _epoch_order(train_idx, seed, epoch):
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return train_idx[torch.randperm(len(train_idx), generator=gen)]


def _as_waveform_tensor(waveforms):
    data = torch.as_tensor(waveforms)
    if data.dtype != torch.float32:
        data = data.to(torch.float32)
    if data.ndim not in (2, 3):
        raise ValueError(f"waveforms must be (n_items, n_times) or (n_items, n_channels, "
                         f"n_times), got shape {tuple(data.shape)}.")
    if not bool(torch.isfinite(data).all()):
        raise ValueError("waveforms hold NaN/Inf samples; make_segments drops such segments.")
    return data.contiguous()


# --------------------------------------------------------------------- train
@verbose
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
        :class:`~mne_specae.input_stages.WaveformInput`. Not trained.
    groups : array-like | None
        Group of each item (subject, else recording): the validation split keeps
        whole groups on one side. ``None``: a random split of items.
    val_fraction : float
        Fraction of items held out for validation and early stopping (0: none; the
        training loss then decides).
    max_epochs : int
        Upper bound on passes over the training items.
    batch_size : int
        Items per optimisation step (in total, over all processes under torchrun).
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
    device : str | torch.device
        ``"auto"``: CUDA, then MPS, then CPU.
    precision : ``"auto"`` | ``"fp32"`` | ``"bf16"``
        ``"auto"`` uses bf16 autocast on CUDA GPUs that support it, fp32 elsewhere.
    channels_last : ``"auto"`` | bool
        Channels-last memory format for 2-D models (``"auto"``: on CUDA).
    compile : bool
        Run the model through :func:`torch.compile`.
    data_on_device : ``"auto"`` | bool
        Keep the whole waveform tensor on the GPU (``"auto"``: when it takes less than
        a quarter of the free memory), else in pinned host memory with asynchronous
        copies of each batch.
    seed : int
        Seed of the split and of each epoch's order (the model's initial weights are
        set by whoever built it: seed torch before).
    checkpoint : path-like | None
        Checkpoint file, rewritten atomically after every epoch (weights, optimizer,
        scheduler, best weights, history, split).
    resume : bool
        Continue from ``checkpoint`` when it exists; on CPU the result equals an
        uninterrupted run with the same settings (``max_epochs`` included: the cosine
        schedule depends on it). A run that ended by early stopping or a NaN/Inf loss
        is not trained further.
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
    A NaN or Inf training loss stops training: the best weights so far are restored
    (and checkpointed) and a warning says what happened; if it happens before any
    epoch finished, a :class:`FloatingPointError` is raised.
    """
    for name, value in (("max_epochs", max_epochs), ("batch_size", batch_size),
                        ("patience", patience)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    _check_option("precision", precision, PRECISIONS)
    if checkpoint is None and resume:
        raise ValueError("resume=True needs a checkpoint path.")
    data = _as_waveform_tensor(waveforms)
    n_items = data.shape[0]
    if n_items < 2:
        raise ValueError(f"Need at least 2 items to train, got {n_items}.")

    device = resolve_device(device)
    rank, world, device, initialised = distributed_context(device)
    is_main = rank == 0
    if groups is None:
        group_labels = np.arange(n_items)  # every item its own group: a random split
    else:
        group_labels = np.asarray(groups)
        if len(group_labels) != n_items:
            raise ValueError(f"groups has {len(group_labels)} labels for {n_items} items.")
    train_idx, val_idx = split_by_group(group_labels, val_fraction, seed)
    if groups is not None and len(val_idx) and is_main:
        logger.info(f"Validation: {len(val_idx)} items of {len(np.unique(group_labels[val_idx]))}"
                    f" group(s); training: {len(train_idx)} items of "
                    f"{len(np.unique(group_labels[train_idx]))} group(s)")
    train_idx = torch.as_tensor(train_idx, dtype=torch.long)
    val_idx = torch.as_tensor(val_idx, dtype=torch.long)

    bf16 = use_bf16(precision, device)
    channels_last = use_channels_last(channels_last, device)
    is_2d = getattr(model, "dim", 2) == 2
    model.to(device)
    if channels_last and is_2d:
        model.to(memory_format=torch.channels_last)
    if input_stage is not None:
        input_stage.to(device).eval()
    run_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        run_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if compile:
        run_model = torch.compile(run_model)
    opt = _make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, max_epochs, patience)
    loss_fn = _make_loss(loss)
    per_rank = max(1, batch_size // world)
    if world > 1 and batch_size % world and is_main:
        logger.info(f"batch_size {batch_size} does not divide into {world} processes: "
                    f"{per_rank} items per process, {per_rank * world} per step")
    source = BatchSource(data, device, per_rank, data_on_device)

    history = History()
    best_state = None
    bad_epochs = 0
    start_epoch = 1
    ckpt_path = None if checkpoint is None else Path(checkpoint)
    if resume and ckpt_path.is_file():
        state = load_safely(ckpt_path, what="checkpoint")
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{ckpt_path} is not an mne-specae training checkpoint.")
        if state["n_items"] != n_items or state["seed"] != seed:
            raise ValueError(
                f"{ckpt_path} was written for {state['n_items']} items and seed "
                f"{state['seed']}, not {n_items} items and seed {seed}: it belongs to "
                "another training run. Delete it or pass another checkpoint path."
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state["scheduler"] is not None:
            sched.load_state_dict(state["scheduler"])
        best_state = state["best_state"]
        bad_epochs = state["bad_epochs"]
        history = History.from_dict(state["history"])
        train_idx, val_idx = state["train_idx"], state["val_idx"]
        start_epoch = state["epoch"] + 1
        if history.stop_reason in ("early_stopping", "nonfinite_loss"):
            start_epoch = max_epochs + 1  # that run ended: nothing left to train
            logger.info(f"{ckpt_path}: that run already ended ({history.stop_reason})")
        else:
            logger.info(f"Resuming from {ckpt_path} after epoch {state['epoch']}")

    def write_checkpoint(epoch):
        if ckpt_path is None or not is_main:
            return
        save_atomic(dict(
            format=CHECKPOINT_FORMAT, epoch=epoch, n_items=n_items, seed=seed,
            model=_cpu_state(model), optimizer=opt.state_dict(),
            scheduler=None if sched is None else sched.state_dict(),
            best_state=best_state, bad_epochs=bad_epochs, history=history.to_dict(),
            train_idx=train_idx, val_idx=val_idx,
        ), ckpt_path)

    def forward_loss(x):
        with torch.no_grad():
            target = _model_input(input_stage, x)
        if channels_last and target.ndim == 4:
            target = target.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = run_model(target)
        return loss_fn(out.float(), target)

    def evaluate():
        model.eval()
        mine = val_idx[rank::world]
        total = torch.zeros(2, dtype=torch.float64, device=device)
        with torch.no_grad():
            for start in range(0, len(mine), per_rank):
                idx = mine[start : start + per_rank]
                total[0] += forward_loss(source.get(idx)).double() * len(idx)
                total[1] += len(idx)
        total = all_reduce_sum(total, world)
        return float(total[0] / total[1]) if total[1] > 0 else math.nan

    from tqdm.auto import tqdm

    show = progress and is_main and logger.level <= 20
    stop_reason = "max_epochs"
    if start_epoch > max_epochs:
        stop_reason = history.stop_reason or "max_epochs"
    try:
        for epoch in range(start_epoch, max_epochs + 1):
            model.train()
            order = _epoch_order(train_idx, seed, epoch)
            if world > 1:
                usable = len(order) - len(order) % world
                order = order[:usable][rank::world]
            n_batches = math.ceil(len(order) / per_rank)
            t0 = time.perf_counter()
            running = torch.zeros((), dtype=torch.float64, device=device)
            seen = 0
            nonfinite = False
            bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{max_epochs}", leave=False,
                       disable=not show, unit="batch")
            for b in range(n_batches):
                idx = order[b * per_rank : (b + 1) * per_rank]
                batch_loss = forward_loss(source.get(idx))
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                running += batch_loss.detach().double() * len(idx)
                seen += len(idx)
                if b % 20 == 19 or b == n_batches - 1:
                    value = float(running) / seen
                    # every process checks at the same batches, so all of them stop together
                    flag = torch.tensor([0.0 if math.isfinite(value) else 1.0], device=device)
                    if float(all_reduce_sum(flag, world)[0]) > 0:
                        nonfinite = True
                        break
                    bar.set_postfix(loss=f"{value:.4g}")
                bar.update(1)
            bar.close()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - t0
            totals = all_reduce_sum(
                torch.tensor([float(running), seen, float(nonfinite)], dtype=torch.float64,
                             device=device), world)
            if totals[2] > 0 or not math.isfinite(float(totals[0])):
                stop_reason = "nonfinite_loss"
                if best_state is None:
                    raise FloatingPointError(
                        f"The training loss became NaN/Inf in epoch {epoch}, before any epoch "
                        "finished: lower lr, check the input scaling (normalize='item'), "
                        "or use precision='fp32'."
                    )
                model.load_state_dict(best_state)
                history.stop_reason = stop_reason  # before the checkpoint records it
                write_checkpoint(epoch)
                warn(f"The training loss became NaN/Inf in epoch {epoch}: training stopped "
                     f"and the weights of epoch {history.best_epoch} (loss "
                     f"{history.best_loss:.4g}) were restored.")
                break
            train_loss = float(totals[0] / totals[1])
            val_loss = evaluate() if len(val_idx) else math.nan
            monitored = val_loss if len(val_idx) else train_loss
            record = dict(epoch=epoch, train_loss=train_loss, val_loss=val_loss,
                          seconds=seconds, samples_per_s=float(totals[1]) / seconds,
                          lr=opt.param_groups[0]["lr"])
            history.epochs.append(record)
            if monitored < history.best_loss - min_delta:
                history.best_loss, history.best_epoch = monitored, epoch
                best_state = _cpu_state(model)
                bad_epochs = 0
            else:
                bad_epochs += 1
            if sched is not None:
                if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    sched.step(monitored)
                else:
                    sched.step()
            if is_main:
                logger.info(
                    f"epoch {epoch}/{max_epochs}: train {train_loss:.4g}, val {val_loss:.4g}, "
                    f"{seconds:.1f} s, {record['samples_per_s']:.0f} items/s")
            stop = bad_epochs >= patience
            if stop:
                stop_reason = "early_stopping"
            history.stop_reason = stop_reason
            write_checkpoint(epoch)
            if stop:
                logger.info(f"Early stopping: no improvement for {patience} epochs")
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        history.stop_reason = stop_reason
    finally:
        if initialised:
            import torch.distributed as dist

            dist.destroy_process_group()
    model.eval()
    return history
