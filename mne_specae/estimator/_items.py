"""What a model sees of Epochs and arrays: channels picked the MNE way, and items.

:class:`ItemSet` turns the input of :class:`~mne_specae.SpecAE` (one Epochs, a list of
them, or an array ``(n_epochs, n_channels, n_times)``) into one float32 tensor of
items (one channel of one segment each, or one segment in the planes and stack
modes), with the epoch each item belongs to and the group (subject) of each epoch.
Channels are chosen once, by :func:`~mne_specae.utils._picks.pick_channels`, with MNE's rules: bad channels
are left out of type picks, non-signal channels never enter by default.
"""

from __future__ import annotations

import mne
import numpy as np
import torch
from mne.utils import _validate_type, logger

from ..stores.store import SegmentStore
from ..training.streaming import StoreItemSet
from ..utils._checks import check_positive
from ..utils._picks import pick_channels


def as_epochs_list(X):
    """``[X]`` for one Epochs, the list for a list of Epochs, else ``None``."""
    if isinstance(X, mne.BaseEpochs):
        return [X]
    if isinstance(X, (list, tuple)) and len(X) and all(isinstance(e, mne.BaseEpochs) for e in X):
        return list(X)
    return None


def item_set(X, sfreq=None, picks=None, ch_names=None):
    """:class:`ItemSet` of an input, or, for a :class:`~mne_specae.SegmentStore`, its
    lazy counterpart (:class:`~mne_specae.streaming.StoreItemSet`)."""

    if isinstance(X, SegmentStore):
        return StoreItemSet(X, picks)
    return ItemSet(X, sfreq, picks, ch_names=ch_names)


class ItemSet:
    """The items of one input, as a model sees them.

    Parameters
    ----------
    X : mne.Epochs | list of mne.Epochs | array, shape (n_epochs, n_channels, n_times)
        The input.
    sfreq : float | None
        Sampling rate of an array input.
    picks : str | list | slice | None
        Channels of Epochs (see :func:`~mne_specae.utils._picks.pick_channels`);
        arrays take all channels.
    ch_names : list of str | None
        Take exactly these channels, in this order, from every Epochs (the planes and
        stack modes at transform time); ``picks`` is then not used.
    """

    def __init__(self, X, sfreq=None, picks=None, ch_names=None):
        self.epochs = as_epochs_list(X)
        if self.epochs is not None:
            self._from_epochs(picks, ch_names)
        else:
            self._from_array(X, sfreq, picks)

    def _from_epochs(self, picks, ch_names):
        epochs = self.epochs
        rates = {float(e.info["sfreq"]) for e in epochs}
        lengths = {len(e.times) for e in epochs}
        if len(rates) > 1 or len(lengths) > 1:
            raise ValueError(
                f"All Epochs must share one sampling rate and segment length; got "
                f"{sorted(rates)} Hz and {sorted(lengths)} samples. Cut them with the "
                "same make_segments(raw, duration=..., sfreq=...)."
            )
        self.sfreq = rates.pop()
        self.n_times = lengths.pop()
        self.picks = [self._pick(ep, picks, ch_names) for ep in epochs]
        self.ch_names = [[ep.ch_names[i] for i in idx] for ep, idx in zip(epochs, self.picks)]
        self.n_channels = [len(idx) for idx in self.picks]
        self.n_epochs = [len(e) for e in epochs]
        if sum(self.n_epochs) == 0:
            raise ValueError("The Epochs hold no epoch.")
        for ep in epochs:
            if np.iscomplexobj(getattr(ep, "_data", None)):
                raise TypeError("The Epochs hold complex data; SpecAE takes real waveforms.")

    @staticmethod
    def _pick(epochs, picks, ch_names):
        if ch_names is None:
            return pick_channels(epochs.info, picks)
        missing = [ch for ch in ch_names if ch not in epochs.ch_names]
        if missing:
            raise ValueError(
                f"This model takes the channels {ch_names} (in that order); the Epochs "
                f"lack {missing}. Rename or add them, or train with channel_mode='separate'."
            )
        bads = [ch for ch in ch_names if ch in epochs.info["bads"]]
        if bads:
            logger.info(f"Using channels marked bad, which the model needs: {bads}")
        return np.array([epochs.ch_names.index(ch) for ch in ch_names], dtype=int)

    def _from_array(self, X, sfreq, picks):
        if isinstance(X, (list, tuple)) and len(X) == 0:
            raise ValueError("X is an empty list.")
        _validate_type(
            X,
            (np.ndarray, torch.Tensor),
            "X",
            "mne.Epochs, a list of Epochs, or an array (n_epochs, n_channels, n_times)",
        )
        if X.ndim != 3:
            raise ValueError(
                f"An array X must be (n_epochs, n_channels, n_times), got shape {tuple(X.shape)}."
            )
        if X.is_complex() if isinstance(X, torch.Tensor) else np.iscomplexobj(X):
            raise TypeError(
                f"X holds complex values (dtype {X.dtype}); SpecAE takes real waveforms."
            )
        if sfreq is None:
            raise ValueError("X is an array: set SpecAE(sfreq=...) to its sampling rate.")
        if picks is not None:
            raise ValueError(
                "picks selects channels of Epochs by name or type; an array "
                "has neither: index it instead (X[:, channels])."
            )
        if len(X) == 0:
            raise ValueError("X holds no epoch.")
        self.array = X
        self.sfreq = check_positive(sfreq, "sfreq")
        self.n_times = X.shape[-1]
        self.n_channels = [X.shape[1]]
        self.n_epochs = [X.shape[0]]
        self.picks = [np.arange(X.shape[1])]
        self.ch_names = [[f"ch{i}" for i in range(X.shape[1])]]

    # ------------------------------------------------------------------ content
    def blocks(self):
        """Yield float32 arrays ``(n_epochs, n_channels, n_times)``, one per Epochs."""
        if self.epochs is None:
            data = self.array
            data = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data
            yield np.asarray(data, dtype=np.float32)
            return
        for ep, idx in zip(self.epochs, self.picks):
            yield ep.get_data(picks=idx).astype(np.float32)

    def items(self, separate):
        """All waveforms as one float32 tensor of items, and each item's epoch index.

        ``separate``: one item per channel of each epoch ``(n_items, n_times)``; else
        one per epoch ``(n_epochs, n_channels, n_times)`` (equal channel counts).
        """
        if not separate and len(set(self.n_channels)) > 1:
            raise ValueError(
                f"channel_mode 'planes' and 'stack' need the same channels in every "
                f"Epochs; got {sorted(set(self.n_channels))} channels. Use "
                "channel_mode='separate'."
            )
        per_epoch = self.n_channels if separate else [1] * len(self.n_channels)
        n_items = sum(e * c for e, c in zip(self.n_epochs, per_epoch))
        shape = (n_items, self.n_times) if separate else (n_items, self.n_channels[0], self.n_times)
        items = torch.empty(shape, dtype=torch.float32)
        owner = np.empty(n_items, dtype=np.int64)
        row = epoch0 = 0
        for block in self.blocks():
            n_ep, n_ch = block.shape[:2]
            flat = block.reshape(-1, self.n_times) if separate else block
            items[row : row + len(flat)] = torch.from_numpy(flat)
            owner[row : row + len(flat)] = epoch0 + np.repeat(
                np.arange(n_ep), n_ch if separate else 1
            )
            row += len(flat)
            epoch0 += n_ep
        if row != n_items:  # a reader returned other channels than were counted
            raise RuntimeError(f"Internal error: {row} items filled of {n_items}.")
        if not bool(torch.isfinite(items).all()):
            raise ValueError("The data hold NaN/Inf samples; make_segments drops such segments.")
        return items, owner

    def recordings(self, separate):
        """The recording (and, for one-channel items, the channel) of each item: the
        labels of ``normalize="recording"``.

        The recording of an epoch is the ``recording`` metadata column of its Epochs
        (as :func:`~mne_specae.make_segments` writes it); an Epochs without that
        column is one recording; an array is one recording. ``separate``: one item
        per channel, labelled by recording and channel; else one item per epoch (its
        channels are planes or rows, each with its own statistics).
        """
        labels = []
        for k, (n_ep, names) in enumerate(zip(self.n_epochs, self.ch_names)):
            md = None if self.epochs is None else self.epochs[k].metadata
            if md is not None and "recording" in md:
                rec = np.char.add("recording:", md["recording"].astype(str).to_numpy().astype(str))
            else:
                rec = np.full(n_ep, "array" if self.epochs is None else f"epochs:{k}")
            if separate:
                rec = np.char.add(np.repeat(rec.astype(str), len(names)), "\x1f")
                rec = np.char.add(rec, np.tile(np.asarray(names, dtype=str), n_ep))
            labels.append(rec.astype(str))
        return np.concatenate(labels)

    def groups(self, groups=None):
        """Group of each epoch for the validation split.

        ``groups`` given: checked (one label per epoch). Else for Epochs the
        ``subject`` metadata column (else ``recording``, else one group per Epochs);
        for arrays each epoch is its own group, so the channels of one epoch are
        never on both sides.
        """
        n = sum(self.n_epochs)
        if groups is not None:
            groups = np.asarray(groups)
            if groups.ndim != 1 or len(groups) != n:
                raise ValueError(
                    f"groups must hold one label per epoch: {n} epochs, got "
                    f"{groups.shape[0] if groups.ndim else 'a scalar'} "
                    f"label(s) (shape {groups.shape})."
                )
            return groups
        if self.epochs is None:
            return np.arange(n)
        labels = []
        for k, ep in enumerate(self.epochs):
            md = ep.metadata
            if md is not None and "subject" in md and not (md["subject"] == "unknown").all():
                labels.append(md["subject"].astype(str).to_numpy())
            elif md is not None and "recording" in md:
                labels.append(md["recording"].astype(str).to_numpy())
            else:
                labels.append(np.full(len(ep), f"epochs-{k}"))
        return np.concatenate(labels)

    def lowest_nyquist(self):
        """Half the lowest original sampling rate (``sfreq_orig`` metadata), or None."""
        if self.epochs is None:
            return None
        rates = [
            e.metadata["sfreq_orig"].min()
            for e in self.epochs
            if e.metadata is not None and "sfreq_orig" in e.metadata
        ]
        return min(rates) / 2 if rates else None
