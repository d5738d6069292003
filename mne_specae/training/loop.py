"""The training engine: device, mixed precision, early stopping, checkpoints, DDP.

All waveforms live in one float32 tensor (4 bytes a sample). A batch is an index
slice of it, gathered on the device (or in pinned host memory and copied
asynchronously when the tensor does not fit there); the input stage (the
:class:`~mne_specae.Spectrogram`, or :class:`~mne_specae.input_stages.WaveformInput`
for the 1-D model) turns it into the model's input on the device. Nothing on the hot
path loops over items in Python, and no spectrogram image is ever stored. The items of
a segment store (:class:`~mne_specae.streaming.StoreItems`) stand in for the tensor:
their batches are read from disk a few ahead (:mod:`mne_specae.streaming`).

A step never makes the host wait for the device: each epoch's order goes to the
device once; the per-batch losses stay there (float32) and are read once per epoch
(summed in float64 on the host: MPS has no float64), where a NaN/Inf loss is noticed.

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
from mne.utils import logger, verbose

from ..nn.corruption import epoch_corruption
from ..utils._devices import cpu_threads, cudnn_autotune, resolve_device
from ..utils._docs import fill_doc
from ._batches import (
    EpochLosses,
    as_waveform_tensor,
    batch_slices,
    broadcast_buffers,
    distributed_context,
    epoch_items,
    epoch_order,
    sum_over_ranks,
    timed_batches,
)
from ._run import Run
from ._store_checks import checked
from .checkpoints import (
    CHECKPOINT_FORMAT,
    check_absent,
    make_fingerprint,
    read_checkpoint,
    recordings_digest,
    restore_run,
    tensor_indices,
)
from .options import check_arguments, check_spectrum_weight, use_drop_last
from .splits import split_items
from .streaming import StoreItems

__all__ = ["CHECKPOINT_FORMAT", "train_autoencoder"]

_SHOW_EVERY = 20  # batches between updates of the progress bar's running loss


#: The call's options that a checkpoint's fingerprint records (beside the model, the
#: input stage, the data, the split, the recordings and ``drop_last``).
_FINGERPRINTED = (
    "optimizer lr weight_decay scheduler loss spectrum_weight patience min_delta "
    "mask_fraction noise_std band_limit batch_size val_fraction max_epochs seed"
).split()


def _train_epoch(run, epoch, train_idx):
    """One pass over the training items: (mean loss, items, seconds, out of time),
    over all processes; the loss is NaN/Inf when a batch's loss was. The host never
    waits for the device during the pass: the order goes to the device once, and the
    losses are read once, at the end (where NaN/Inf is noticed). When ``max_time`` is
    spent (checked after each batch), the pass ends there: the items so far count."""
    from tqdm.auto import tqdm

    run.model.train()
    mine, n_items = epoch_items(
        epoch_order(train_idx, run.kw["seed"], epoch),
        run.rank,
        run.world,
        run.per_rank,
        run.drop_last,
    )
    batches, sizes = batch_slices(run.source.indices(mine), run.per_rank)
    losses = EpochLosses(sizes, run.device)
    corruption = epoch_corruption(run.kw, epoch, run.rank, run.device)
    t0 = time.perf_counter()
    bar = tqdm(
        total=len(batches),
        desc=f"epoch {epoch}/{run.kw['max_epochs']}",
        leave=False,
        disable=not run.show,
        unit="batch",
    )
    waited = [0.0]
    for b, x in enumerate(timed_batches(run.source.iterate(batches), waited)):
        loss = run.forward_loss(run.net, x, corruption, batches[b])
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        losses.add(b, loss)
        if run.budget.spent(last=b == len(batches) - 1):
            n_items = sum(sizes[: b + 1]) * run.world  # every process: as many batches
            break
        if run.show and b % _SHOW_EVERY == _SHOW_EVERY - 1:
            running = losses.running(b)  # may lag: never waits for the device
            if running is not None:
                bar.set_postfix(loss=f"{running:.4g}")
        bar.update(1)
    else:
        b = None
    bar.close()
    total = sum_over_ranks(run.world, run.device, losses.total())  # NaN on any rank: NaN
    return total / n_items, n_items, time.perf_counter() - t0, waited[0], b is not None


def _evaluate(run, val_idx):
    """Mean loss over the validation items (all processes), through the plain
    module: no DDP wrapper, no compiled graph (the last batch may be smaller)."""
    run.model.eval()
    broadcast_buffers(run.model, run.world)  # as DDP's forward would
    batches, sizes = batch_slices(run.source.indices(val_idx[run.rank :: run.world]), run.per_rank)
    losses = EpochLosses(sizes, run.device)
    with torch.no_grad():
        for b, x in enumerate(run.source.iterate(batches)):
            losses.add(b, run.forward_loss(run.model, x, index=batches[b]))
    return sum_over_ranks(run.world, run.device, losses.total()) / len(val_idx)


def _run_epochs(run):
    """Train from the epoch after ``run.epoch`` until a stop (nothing if it ended)."""
    val_idx = run.val_idx
    if run.history.stop_reason:
        return
    for epoch in range(run.epoch + 1, run.kw["max_epochs"] + 1):
        train_loss, n_items, seconds, waited, out_of_time = _train_epoch(run, epoch, run.train_idx)
        if not math.isfinite(train_loss):
            run.stop_nonfinite(epoch, "training")
            return
        val_loss = _evaluate(run, val_idx) if len(val_idx) else math.nan
        run.history.epochs.append(
            dict(
                epoch=epoch,
                train_loss=train_loss,
                val_loss=val_loss,
                seconds=seconds,
                samples_per_s=n_items / seconds,
                lr=run.opt.param_groups[0]["lr"],
                input_seconds=waited,
            )
        )
        if run.is_main:
            logger.info(
                f"epoch {epoch}/{run.kw['max_epochs']}: train {train_loss:.4g}, val "
                f"{val_loss:.4g}, {seconds:.1f} s, {n_items / seconds:.0f} items/s"
            )
        if len(val_idx) and not math.isfinite(val_loss):
            run.stop_nonfinite(epoch, "validation")
            return
        run.end_epoch(epoch, val_loss if len(val_idx) else train_loss, out_of_time)
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
    recordings=None,
    val_fraction=0.2,
    max_epochs=50,
    batch_size=64,
    lr=1e-3,
    weight_decay=0.0,
    optimizer="adam",
    loss="mse",
    spectrum_weight=0.0,
    scheduler=None,
    patience=5,
    min_delta=0.0,
    mask_fraction=0.0,
    noise_std=0.0,
    band_limit=0.0,
    device="auto",
    precision="auto",
    channels_last="auto",
    compile=False,
    drop_last="auto",
    data_on_device="auto",
    seed=0,
    max_time=None,
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
    waveforms : torch.Tensor | numpy.ndarray | StoreItems, shape (n_items, [n_channels,] n_times)
        All training items in one array (converted once to float32), or the items of
        a segment store (:class:`~mne_specae.streaming.StoreItems`), read from disk a
        few batches ahead (host memory stays bounded).
    input_stage : torch.nn.Module | None
        Turns a waveform batch into the model input on the device: a
        :class:`~mne_specae.Spectrogram` (its ``to_images``) or
        :class:`~mne_specae.input_stages.WaveformInput`. Not trained. When it
        ``needs_fitting`` (``normalize="dataset"``), its statistics are fitted here on
        the training items only (never the validation items), on the device. With
        ``normalize="recording"`` each item is standardised with the statistics of
        all the items (training and validation) of its label in ``recordings``,
        computed here and dropped at the end (never saved).
    groups : array-like | None
        Group of each item (subject, else recording): the validation split keeps
        whole groups on one side. ``None``: a random split of items.
    recordings : array-like of str | None
        The recording and channel of each item (one label per item), for an input
        stage with ``normalize="recording"`` (required there, unused otherwise).
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
    %(spectrum_weight)s
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
    %(band_limit)s
    %(device)s
    %(precision)s
    %(channels_last)s
    %(compile)s
    %(drop_last)s
    data_on_device : ``"auto"`` | bool
        Keep the whole waveform tensor on the GPU (``"auto"``: when it takes less than
        a quarter of the free memory), else in pinned host memory with asynchronous
        copies of each batch.
    seed : int
        Seed of the split, of each epoch's order and corruptions (the model's initial
        weights are set by whoever built it: seed torch before).
    %(max_time)s
    checkpoint : path-like | None
        Checkpoint file, rewritten atomically after every epoch (weights, optimizer,
        scheduler, input stage statistics, best weights, history, split) with a
        fingerprint of the run: model and input stage (classes and settings),
        optimizer, lr, weight decay, scheduler, loss, spectrum_weight, patience,
        min_delta, mask_fraction, noise_std, band_limit, batch_size, drop_last,
        val_fraction, max_epochs, seed, the split, and the data's shape, dtype and
        checksum (device, precision, memory format, compile, progress and max_time
        are not part of it).
    resume : bool
        ``False``: refuse to start when ``checkpoint`` exists (a
        :class:`FileExistsError`, raised before any work: delete the file or choose
        another path), so two runs never share weights through one file. ``True``:
        start afresh when the file does not exist yet, else continue the run it
        records after checking the fingerprint; any difference is a
        :class:`ValueError` that names every differing entry (checkpoint -> this
        call). On CPU a resumed run equals an uninterrupted one. A run that ended
        (``max_epochs``, early stopping or a NaN/Inf loss) is not trained further: its
        result is returned; one stopped by ``max_time`` continues, with the budget
        of this call.
    progress : bool
        Show a tqdm progress bar per epoch (log level INFO or more verbose) with the
        running loss, which on a GPU may lag a few batches (it is never waited for).
    %(verbose)s

    Returns
    -------
    history : History
        Per-epoch losses, time, throughput; the best epoch and why training stopped.

    Notes
    -----
    A NaN or Inf training or validation loss stops training at the end of its epoch
    (losses stay on the device until then: a step never waits for them): the best
    weights so far are restored (and checkpointed, ``stop_reason="nonfinite_loss"``)
    and a warning says so; before any epoch finished with a finite loss, a
    :class:`FloatingPointError` is raised. The waveforms are checked for NaN/Inf once
    (a store's as each batch is read, on the host), so the input stage's per-batch
    ``check_finite`` is off during the call; on CUDA,
    ``torch.backends.cudnn.benchmark`` is on. Both are restored afterwards.
    """
    kw = {k: v for k, v in locals().items() if k not in ("model", "waveforms", "verbose")}
    started = time.perf_counter()  # max_time counts from here
    check_arguments(kw)
    kw["spectrum_weight"] = check_spectrum_weight(spectrum_weight, getattr(model, "dim", 2))
    path = None if checkpoint is None else Path(checkpoint)
    if not resume:
        check_absent(path)  # before any work
    # every sample is checked for NaN/Inf: in memory here, from a store as it is read
    data = (
        checked(waveforms) if isinstance(waveforms, StoreItems) else as_waveform_tensor(waveforms)
    )
    if data.shape[0] < 2:
        raise ValueError(f"Need at least 2 items to train, got {data.shape[0]}.")
    if getattr(input_stage, "needs_item_index", False) and recordings is None:
        raise ValueError(
            "The input stage normalises per recording (normalize='recording'): give the "
            "recording (and channel) of each item, recordings=[...], one label per item."
        )
    labels, train_idx, val_idx = split_items(groups, data.shape[0], val_fraction, seed)
    train_idx, val_idx = tensor_indices(train_idx), tensor_indices(val_idx)
    fingerprint = (
        None
        if path is None
        else make_fingerprint(
            model,
            input_stage,
            data,
            train_idx,
            val_idx,
            **{k: kw[k] for k in _FINGERPRINTED},
            **({} if recordings is None else {"recordings": recordings_digest(recordings)}),
            drop_last=use_drop_last(drop_last, compile),
        )
    )
    saved = read_checkpoint(path, fingerprint) if resume and path.is_file() else None
    rank, world, dev, owns_group = distributed_context(resolve_device(device))
    checks_finite = getattr(input_stage, "check_finite", False) is True
    try:
        if checks_finite:
            input_stage.check_finite = False  # the data's own check sees every sample
        with cudnn_autotune(dev), cpu_threads(dev):  # threads for a busy CPU
            run = _train(
                model,
                data,
                kw,
                (rank, world, dev),
                (train_idx, val_idx),
                (path, fingerprint),
                saved,
                labels,
                started,
            )
    finally:
        if checks_finite:
            input_stage.check_finite = True
        if getattr(input_stage, "needs_item_index", False):
            input_stage.clear_recordings()  # the data's statistics: never kept
        if owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
    model.eval()
    return run.history


def _train(model, data, kw, context, split, checkpoint, saved, labels, started):
    """Set up the run, restore it or start it, train it; the model keeps the best weights."""
    run = Run(model, data, kw, context, split, checkpoint, started)
    (train_idx, val_idx), path = split, checkpoint[0]
    if getattr(run.stage, "needs_item_index", False):  # normalize="recording"
        run.stage.fit_recordings(data, kw["recordings"], batch_size=max(run.per_rank, 64))
    if saved is not None:
        restore_run(run, saved)
    else:
        if kw["resume"] and run.is_main:
            logger.info(f"No checkpoint at {path} yet: training from the start")
        run.fit_input_stage(train_idx)
    if kw["groups"] is not None and len(val_idx) and run.is_main:
        logger.info(
            f"Validation: {len(val_idx)} items of "
            f"{len(np.unique(labels[val_idx]))} group(s); training: "
            f"{len(train_idx)} items of {len(np.unique(labels[train_idx]))} "
            "group(s)"
        )
    _run_epochs(run)
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    if run.channels_last and run.cpu_last:  # chosen here for speed: the usual layout back
        model.to(memory_format=torch.contiguous_format)
    return run
