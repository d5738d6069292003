"""Reconstructions of a fitted SpecAE as MNE objects (time-frequency or Epochs)."""

from __future__ import annotations

import mne
import numpy as np
import torch

from . import _runner as inference
from ._items import as_epochs_list


def reconstruct(est, X, *, return_input=False):
    """See :meth:`mne_specae.SpecAE.reconstruct`."""
    epochs_list = as_epochs_list(X)
    if epochs_list is None:
        raise TypeError(
            "reconstruct takes mne.Epochs or a list of them (arrays have "
            "no channel info to build MNE objects from)."
        )
    if est.model == "2d" and (est.channel_mode != "separate" or est.output == "complex"):
        raise ValueError(
            "reconstruct needs channel_mode='separate' and a real output (one image per channel)."
        )
    data = est._check_data(epochs_list)
    items, _ = data.items(True)
    pairs = inference.run_batches(
        est.model_,
        est.input_stage_,
        items,
        lambda model, images: torch.stack([images, model(images)]),
        device=est.device,
        batch_size=est.batch_size_inference,
        recordings=est._recordings(data),
    )
    inputs, recon = torch.cat(pairs, dim=1).numpy()  # each (n_items, 1, *spatial)
    results = ([], [])
    row = 0
    for ep, idx in zip(epochs_list, data.picks):
        n = len(ep) * len(idx)
        for arr, out in ((recon, results[0]), (inputs, results[1])):
            block = arr[row : row + n].reshape(len(ep), len(idx), *arr.shape[2:])
            out.append(_as_mne(est, ep, idx, block))
        row += n
    single = isinstance(X, mne.BaseEpochs)
    recon_out = results[0][0] if single else results[0]
    input_out = results[1][0] if single else results[1]
    return (recon_out, input_out) if return_input else recon_out


def _as_mne(est, epochs, picks, block):
    from mne.time_frequency import EpochsTFRArray

    common = dict(
        events=epochs.events.copy(),
        event_id=dict(epochs.event_id),
        selection=epochs.selection.copy(),
        drop_log=epochs.drop_log,
        metadata=None if epochs.metadata is None else epochs.metadata.copy(),
    )
    info = mne.pick_info(epochs.info, picks)
    if est.model == "1d":
        return mne.EpochsArray(block, info, tmin=epochs.tmin, verbose=False, **common)
    stage = est.input_stage_
    freqs, times = stage.image_freqs(), stage.image_times(est.n_times_, tmin=epochs.tmin)
    return EpochsTFRArray(info, block.astype(np.float32), times, freqs, method="stft", **common)
