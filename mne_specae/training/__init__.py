"""The training engine: the loop (:func:`train_autoencoder`), its options, batches,
checkpoints, history, train/validation splits and streaming from segment stores."""

from .history import History
from .loop import train_autoencoder
from .splits import split_by_group

__all__ = ["History", "split_by_group", "train_autoencoder"]
