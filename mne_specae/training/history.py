"""What happened during training, epoch by epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class History:
    """What happened during training, epoch by epoch.

    Attributes
    ----------
    epochs : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``seconds`` (of the
        training pass), ``samples_per_s`` (training items per second), ``lr``,
        ``input_seconds`` (the part of ``seconds`` spent waiting for batches: reading
        a store, gathering rows; near 0 when the input keeps up with the training;
        absent from model files written before it was recorded).
    best_epoch : int | None
        Epoch whose weights were kept (lowest validation loss, else training loss).
    best_loss : float
        Its loss.
    stop_reason : str
        ``"max_epochs"``, ``"early_stopping"``, ``"max_time"`` (the time budget was
        spent: the last epoch may be partial, its items are those trained) or
        ``"nonfinite_loss"`` (a NaN/Inf training or validation loss); ``""`` while the run has not ended (in a
        checkpoint of an interrupted run).
    """

    epochs: list = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf
    stop_reason: str = ""

    def to_frame(self):
        """The per-epoch records as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.epochs)

    def to_dict(self):
        """Plain-Python form (for model files)."""
        return dict(
            epochs=self.epochs,
            best_epoch=self.best_epoch,
            best_loss=self.best_loss,
            stop_reason=self.stop_reason,
        )

    @classmethod
    def from_dict(cls, state):
        """Inverse of :meth:`to_dict`."""
        return cls(
            list(state["epochs"]), state["best_epoch"], state["best_loss"], state["stop_reason"]
        )
