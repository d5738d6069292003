"""Per-recording normalisation (``normalize="recording"``): each image standardised
with the per-row mean and std of all the images of its own recording and channel.

A frozen encoder's features of biosignals are dominated by who and what was recorded
(the subject, the amplifier's gain, the recording's average spectrum) more than by
what changes within a recording. Removing, per recording and channel, the average
spectrum and its spread over the segments keeps the differences between segments of
one recording (a segment with more power stays above the others) and removes what
they share (a channel's gain, its recording's spectrum).

The statistics belong to the data, not to the model: they are computed on the data
being normalised, with one pass over its items (batch by batch: memory bounded by a
batch and one row of statistics per recording and channel), held by the input stage
for the duration of one call (:meth:`RecordingStatistics.recording_statistics`), and
never saved with a model. Each item is then looked up by its index in that data, so
the training engine and the inference runner give the stage the indices of each
batch (``to_images(x, index=...)``).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from mne.utils import logger

#: Items a recording and channel needs for its own statistics; fewer: the item is
#: standardised on its own (as ``normalize="item"``).
MIN_ITEMS = 2


def recording_codes(recordings, n_items):
    """Integer codes ``(n_items,)`` and the number of distinct labels of ``recordings``."""
    labels = np.asarray(recordings)
    if labels.ndim != 1 or len(labels) != n_items:
        raise ValueError(
            f"recordings must hold one label per item: {n_items} items, got "
            f"{labels.shape[0] if labels.ndim else 'a scalar'} label(s) (shape {labels.shape})."
        )
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    return codes, int(codes.max()) + 1 if len(codes) else 0


class RecordingStatistics:
    """Mixin of :class:`~mne_specae.Spectrogram` for ``normalize="recording"``: the
    per-recording tables (non-persistent buffers ``rec_item``, ``rec_mean``,
    ``rec_std``, on the module's device) and their use."""

    def _init_recording_tables(self):
        for name in ("rec_item", "rec_mean", "rec_std"):
            self.register_buffer(name, torch.zeros(0), persistent=False)

    @property
    def needs_item_index(self):
        """Whether each batch must come with the indices of its items (``to_images(x,
        index=...)``): with ``normalize="recording"``."""
        return self.normalize == "recording"

    @torch.no_grad()
    def fit_recordings(self, waveforms, recordings, batch_size=256):
        """Compute the per-recording statistics of ``waveforms`` (one pass, batch by
        batch, on the module's device) and hold them until :meth:`clear_recordings`.

        Parameters
        ----------
        waveforms : torch.Tensor | array | StoreItems, shape (n_items, [n_channels,] n_times)
            The items that will be normalised; item ``i`` is ``index=i`` afterwards.
        recordings : array-like of str, shape (n_items,)
            The recording (and, for one-channel items, the channel) of each item: items
            with the same label share statistics.
        batch_size : int
            Items per batch.

        Returns
        -------
        self
        """
        if not hasattr(waveforms, "shape") or isinstance(waveforms, np.ndarray):
            waveforms = torch.as_tensor(waveforms)
        n_items = waveforms.shape[0]
        if n_items == 0:
            raise ValueError("normalize='recording' needs at least one item.")
        codes, n_groups = recording_codes(recordings, n_items)
        device = self.window.device
        count = np.zeros(n_groups)  # frames per group
        items_in = np.bincount(codes, minlength=n_groups)
        mean = m2 = None
        mode, self.normalize = self.normalize, None  # the images before normalisation
        try:
            for start in range(0, n_items, batch_size):
                img = self(waveforms[start : start + batch_size].to(device))
                rows_shape = tuple(img.shape[1:-1])  # one item's image less its time axis
                img = img.reshape(img.shape[0], -1, img.shape[-1]).float()  # (B, rows, T)
                k = img.shape[-1]
                row_mean = img.mean(-1)
                row_m2 = (img - row_mean[..., None]).square().sum(-1)
                row_mean = row_mean.cpu().numpy().astype(np.float64)
                row_m2 = row_m2.cpu().numpy().astype(np.float64)
                if mean is None:
                    mean = np.zeros((n_groups, row_mean.shape[1]))
                    m2 = np.zeros_like(mean)
                # this batch's moments per group present (items of k frames each) ...
                here, local = np.unique(codes[start : start + len(row_mean)], return_inverse=True)
                local = local.reshape(-1)
                n_b = np.bincount(local) * float(k)
                mean_b = np.zeros((len(here), row_mean.shape[1]))
                np.add.at(mean_b, local, row_mean * k)
                mean_b /= n_b[:, None]
                m2_b = np.zeros_like(mean_b)
                np.add.at(m2_b, local, row_m2 + k * (row_mean - mean_b[local]) ** 2)
                # ... merged into the running ones of those groups (Chan et al.)
                n_a, total = count[here], count[here] + n_b
                delta = mean_b - mean[here]
                mean[here] += delta * (n_b / total)[:, None]
                m2[here] += m2_b + delta**2 * (n_a * n_b / total)[:, None]
                count[here] = total
        finally:
            self.normalize = mode
        std = np.sqrt(np.maximum(m2 / count[:, None], 0.0))
        std = np.maximum(std, 1e-6 * std.max(axis=1, keepdims=True) + 1e-30)
        single = items_in < MIN_ITEMS
        if single.any():  # one item: its whole image's mean and std (normalize="item")
            k = count[single] / items_in[single]
            whole = mean[single].mean(axis=1, keepdims=True)
            spread = m2[single].sum(axis=1, keepdims=True) + k[:, None] * (
                (mean[single] - whole) ** 2
            ).sum(axis=1, keepdims=True)
            whole_std = np.sqrt(spread / (k[:, None] * mean.shape[1]))
            mean[single] = whole
            std[single] = np.where(whole_std > 0, whole_std, 1.0)
            logger.info(
                f"normalize='recording': {int(single.sum())} of {n_groups} recording(s) "
                f"and channel(s) have a single item, standardised on its own "
                "(as normalize='item')"
            )
        logger.info(
            f"normalize='recording': statistics of {n_groups} recording(s) and channel(s) "
            f"over {n_items} items"
        )
        self.rec_item = torch.as_tensor(codes, device=device)
        self.rec_mean = torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(
            n_groups, *rows_shape, 1
        )
        self.rec_std = torch.as_tensor(std, dtype=torch.float32, device=device).reshape(
            n_groups, *rows_shape, 1
        )
        return self

    def clear_recordings(self):
        """Drop the statistics of :meth:`fit_recordings` (they belong to the data)."""
        device = self.window.device
        self.rec_item = torch.zeros(0, device=device)
        self.rec_mean = torch.zeros(0, device=device)
        self.rec_std = torch.zeros(0, device=device)

    @contextmanager
    def recording_statistics(self, waveforms, recordings, batch_size=256):
        """:meth:`fit_recordings` for the block, :meth:`clear_recordings` after it
        (nothing happens unless ``normalize="recording"``)."""
        if not self.needs_item_index:
            yield self
            return
        self.fit_recordings(waveforms, recordings, batch_size)
        try:
            yield self
        finally:
            self.clear_recordings()

    def _normalize_by_recording(self, out, index):
        """``out`` ``(B, ..., rows, T)`` standardised with the statistics of each item's
        recording (``index``: the items' indices in the data of :meth:`fit_recordings`)."""
        if self.rec_item.numel() == 0:
            raise RuntimeError(
                "normalize='recording' standardises each image with the statistics of "
                "its recording, and none were computed: call fit_recordings(waveforms, "
                "recordings) (SpecAE, train_autoencoder(recordings=...) and the "
                "estimator's methods do it for their data)."
            )
        if index is None:
            raise ValueError(
                "normalize='recording' needs the index of each item in the data whose "
                "statistics were computed: call to_images(x, index=...)."
            )
        index = torch.as_tensor(index).to(self.rec_item.device, non_blocking=True)
        if index.shape != (out.shape[0],):
            raise ValueError(
                f"index must hold one item index per image: {out.shape[0]} images, got "
                f"shape {tuple(index.shape)}."
            )
        groups = self.rec_item[index]
        mean, std = self.rec_mean[groups], self.rec_std[groups]
        return (out - mean.to(out.device)) / std.to(out.device)


@torch.no_grad()
def images_of(stage, items, recordings=None, batch_size=256):
    """All the model inputs of ``items`` through ``stage`` (``to_images``), batch by
    batch; with ``normalize="recording"`` standardised with the statistics of
    ``recordings`` (one label per item) computed on these items.

    Parameters
    ----------
    stage : InputStage
        E.g. a :class:`~mne_specae.Spectrogram`.
    items : torch.Tensor, shape (n_items, [n_channels,] n_times)
        The waveforms.
    recordings : array-like of str | None
        The recording (and channel) of each item; needed by a stage with
        ``normalize="recording"`` only.
    batch_size : int
        Items per batch.

    Returns
    -------
    images : torch.Tensor, shape (n_items, planes, *spatial)
    """
    if not getattr(stage, "needs_item_index", False):
        return torch.cat(
            [stage.to_images(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
        )
    if recordings is None:
        raise ValueError(
            "normalize='recording': the recording of each item is needed (recordings=...)."
        )
    with stage.recording_statistics(items, recordings, batch_size):
        return torch.cat(
            [
                stage.to_images(
                    items[i : i + batch_size],
                    index=torch.arange(i, min(i + batch_size, len(items))),
                )
                for i in range(0, len(items), batch_size)
            ]
        )
