"""One training run in this process: its state, set-up (device, DDP, compile) and end of epoch."""

from __future__ import annotations

import torch
from mne.utils import logger, warn

from ..utils._devices import use_bf16, use_channels_last
from ._budget import Budget
from .checkpoints import cpu_state, save_run
from .history import History
from .options import check_enough_items, make_loss, make_optimizer, make_scheduler, use_drop_last
from .streaming import make_source


def _model_input(stage, x, index=None):
    if stage is None:
        return x
    if getattr(stage, "needs_item_index", False):  # normalize="recording"
        return stage.to_images(x, index=index)
    return stage.to_images(x) if hasattr(stage, "to_images") else stage(x)


def _is_last(model):
    """Whether the model's 4-D weights are channels-last already (set by its owner)."""
    weights = [p for p in model.parameters() if p.ndim == 4 and p.shape[1] > 1]
    return bool(weights) and all(
        not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last)
        for p in weights
    )


class Run:
    """One training run in this process: the model on its device, the optimiser, the
    batches, and where the run stands (history, best weights, epochs without gain)."""

    def __init__(self, model, data, kw, context, split, checkpoint, started=None):
        self.rank, self.world, self.device = context
        self.is_main = self.rank == 0
        self.train_idx, self.val_idx = split
        self.path, self.fingerprint = checkpoint
        self.model, self.stage, self.kw = model, kw["input_stage"], kw
        self.per_rank = max(1, kw["batch_size"] // self.world)
        self.drop_last = use_drop_last(kw["drop_last"], kw["compile"])
        check_enough_items(len(self.train_idx), self.per_rank * self.world, self.drop_last)
        self.bf16 = use_bf16(kw["precision"], self.device)
        # "auto" on the CPU too while training: oneDNN's convolutions and their
        # gradients run about 1.7 x faster channels-last (benchmarks/bench_train_step.py)
        self.cpu_last = (  # given back in the layout it came in (see loop._train)
            kw["channels_last"] == "auto" and self.device.type == "cpu" and not _is_last(model)
        )
        self.channels_last = (
            use_channels_last(kw["channels_last"], self.device) or self.cpu_last
        ) and getattr(model, "dim", 2) == 2
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.stage is not None:
            self.stage.to(self.device).eval()
        self.net = model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if kw["compile"]:
            self.net = torch.compile(self.net)
        self.opt = make_optimizer(kw["optimizer"], model.parameters(), kw["lr"], kw["weight_decay"])
        self.sched = make_scheduler(kw["scheduler"], self.opt, kw["max_epochs"], kw["patience"])
        self.loss_fn = make_loss(kw["loss"], kw["spectrum_weight"])
        if self.world > 1 and kw["batch_size"] % self.world and self.is_main:
            logger.info(
                f"batch_size {kw['batch_size']} does not divide into {self.world} "
                f"processes: {self.per_rank} items per process, "
                f"{self.per_rank * self.world} per step"
            )
        self.source = make_source(data, self.device, kw["data_on_device"])
        self.show = kw["progress"] and self.is_main and logger.level <= 20
        self.history, self.best_state, self.bad_epochs, self.epoch = History(), None, 0, 0
        self.budget = Budget(kw.get("max_time"), self.rank, self.world, self.device, started)

    # ------------------------------------------------------------- start
    def fit_input_stage(self, train_idx):
        """Fit the input stage's statistics on the training items, on the device."""
        if self.stage is None or not getattr(self.stage, "needs_fitting", False):
            return
        self.stage.fit_normalization(self.source.rows(train_idx), batch_size=max(self.per_rank, 64))
        if self.is_main:
            logger.info(f"Input stage normalisation fitted on the {len(train_idx)} training items")

    # ---------------------------------------------------------- one batch
    def forward_loss(self, net, x, corruption=None, index=None):
        """The loss of one batch through ``net`` (the target: the clean input stage
        output; ``index``: the batch's item indices, for ``normalize="recording"``)."""
        with torch.no_grad():
            target = _model_input(self.stage, x, index)
            if self.channels_last and target.ndim == 4:
                target = target.contiguous(memory_format=torch.channels_last)
            seen = target if corruption is None else corruption(target)  # loss vs clean target
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = net(seen)
        return self.loss_fn(out.float(), target)

    # ---------------------------------------------------------- end of epoch
    def end_epoch(self, epoch, monitored, out_of_time=False):
        """Keep the best weights, step the schedule, decide whether to stop, save
        (``out_of_time``: ``max_time`` was spent during this epoch)."""
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
        elif out_of_time:
            self.history.stop_reason = "max_time"
        save_run(self, epoch)
        if self.history.stop_reason == "early_stopping" and self.is_main:
            logger.info(f"Early stopping: no improvement for {self.kw['patience']} epochs")
        elif self.history.stop_reason == "max_time" and self.is_main:
            logger.info(
                f"Time budget spent (max_time={self.kw['max_time']:g} s, "
                f"{self.budget.elapsed():.1f} s) in epoch {epoch}: training stopped, the "
                f"weights of epoch {self.history.best_epoch} are kept"
            )

    def stop_nonfinite(self, epoch, which):
        """A NaN/Inf loss: restore the best weights, record it, warn (or raise)."""
        if self.best_state is None:
            hint = (
                "lower lr, check the input scaling (normalize='item'), or use precision='fp32'."
                if which == "training"
                else "the training loss was finite, so check the validation recordings "
                "(flat or clipped segments, other units), the input scaling "
                "(normalize='item'), or use precision='fp32'."
            )
            raise FloatingPointError(
                f"The {which} loss became NaN/Inf in epoch {epoch}, "
                f"before any epoch finished with a finite loss: {hint}"
            )
        self.model.load_state_dict(self.best_state)
        self.history.stop_reason = "nonfinite_loss"  # before the checkpoint records it
        save_run(self, epoch)
        warn(
            f"The {which} loss became NaN/Inf in epoch {epoch}: training stopped and the "
            f"weights of epoch {self.history.best_epoch} (loss "
            f"{self.history.best_loss:.4g}) were restored."
        )
