"""Samples read from a segment store, checked for NaN/Inf where they are read.

Training from memory checks every sample once (``as_waveform_tensor``) and then runs
the input stage without its per-batch check (a host sync per batch on a GPU). A store
is never in memory as a whole, so :class:`CheckedStoreItems` checks each batch as it
is read, on the host (in the reader thread of
:class:`~mne_specae.streaming.StreamSource`, while the device trains): one pass over
a batch the host has just read, no sync with the device.
"""

from __future__ import annotations

import numpy as np
import torch

from .streaming import StoreItems


class CheckedStoreItems(StoreItems):
    """:class:`~mne_specae.streaming.StoreItems` whose reads refuse NaN/Inf samples.

    Parameters
    ----------
    items : StoreItems
        The items (a store and the store rows they are).
    """

    def __init__(self, items):
        super().__init__(items.store, items.index)

    def __getitem__(self, key):
        x = super().__getitem__(key)
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        self._check(x.numpy(), np.atleast_1d(self.index[key]))
        return x

    def read_into(self, idx, out):
        x = super().read_into(idx, out)
        self._check(out, self.index[idx.cpu().numpy()])
        return x

    def subset(self, idx):
        return CheckedStoreItems(super().subset(idx))

    def _check(self, rows, store_rows):
        if np.isfinite(rows.sum(dtype=np.float64)):  # NaN/Inf make the sum NaN/Inf
            return
        bad = ~np.isfinite(rows).all(axis=1)
        if not bad.any():
            return
        found = np.sort(store_rows[bad])
        listed = ", ".join(str(k) for k in found[:10]) + (", ..." if len(found) > 10 else "")
        raise ValueError(
            f"The store {self.store.path} holds NaN/Inf samples in item(s) [{listed}] "
            f"({len(found)} of the {len(rows)} item(s) just read): its shard files changed "
            "or were damaged after preparation (prepare_segments writes only finite "
            "segments). Prepare the store again (prepare_segments(..., overwrite=True))."
        )


def checked(data):
    """``data`` with its store reads checked (a tensor: as it is, checked already)."""
    if isinstance(data, StoreItems) and not isinstance(data, CheckedStoreItems):
        return CheckedStoreItems(data)
    return data
