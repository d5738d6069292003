"""A trained autoencoder applied to items: batches on the device, pooling, per-epoch
rows (what :class:`~mne_specae.estimator._inference.EncoderMethods` and the
reconstructions run)."""

from __future__ import annotations

import numpy as np
import torch

from ..utils._devices import cpu_threads, resolve_device, use_bf16, use_channels_last

FEATURE_PREFIX = "specae_"

POOLINGS = ("mean", "max", "meanmax", "multiscale", "multiscale_bands")
#: Frequency bands per block of ``pooling="multiscale_bands"`` (equal shares of rows).
N_BANDS = 4
CHANNEL_AGGREGATIONS = ("mean", "concat")


def run_batches(
    model,
    stage,
    items,
    fn,
    *,
    device,
    batch_size,
    precision="fp32",
    channels_last=False,
    recordings=None,
):
    """Apply ``fn(model, images)`` to items in batches on the device; CPU tensors out.

    The model and the input stage go to the device for the call and back to the CPU
    afterwards (also when ``fn`` fails). On CUDA, ``precision`` and ``channels_last``
    mean what they mean in training (bf16 autocast, channels-last images and weights
    for a 2-D model), so a model is evaluated as it was trained; elsewhere they change
    nothing (fp32, the default layout). Outputs come back as float32. With
    ``normalize="recording"`` the stage's statistics are computed on ``items`` first,
    per label of ``recordings`` (one per item), and dropped afterwards.
    """
    by_recording = getattr(stage, "needs_item_index", False)
    if by_recording and recordings is None:
        raise ValueError(
            "normalize='recording': the recording of each item is needed (recordings=...)."
        )
    device = resolve_device(device)
    cuda = device.type == "cuda"
    bf16 = cuda and use_bf16(precision, device)
    last = cuda and use_channels_last(channels_last, device) and getattr(model, "dim", 2) == 2
    model.to(device)
    stage.to(device)
    if last:
        model.to(memory_format=torch.channels_last)
    outs = []
    try:
        if by_recording:  # on the device, in float32, before any autocast
            with cpu_threads(device):
                stage.fit_recordings(items, recordings, batch_size)
        with (
            torch.no_grad(),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16),
            cpu_threads(device),
        ):
            if hasattr(items, "download_ahead"):  # a cached store at a URL: all at once
                items.download_ahead([torch.arange(len(items))])
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size].to(device)
                if by_recording:
                    index = torch.arange(start, start + len(batch), device=device)
                    images = stage.to_images(batch, index=index)
                else:
                    images = stage.to_images(batch)
                if last and images.ndim == 4:
                    images = images.contiguous(memory_format=torch.channels_last)
                outs.append(fn(model, images).float().cpu())
    finally:
        if by_recording:
            stage.clear_recordings()
        model.cpu()
        stage.cpu()
    return outs


def pool(z, mode):
    """Pool a latent ``(batch, filters, *spatial)`` over space (a dense code passes)."""
    if z.ndim == 2:  # dense bottleneck
        return z
    dims = tuple(range(2, z.ndim))
    if mode == "multiscale_bands" and z.ndim == 4:  # over time, then into N_BANDS bands
        return torch.nn.functional.adaptive_avg_pool1d(z.mean(3), N_BANDS).flatten(1)
    if mode in ("mean", "multiscale", "multiscale_bands"):
        return z.mean(dims)
    if mode == "max":
        return z.amax(dims)
    return torch.cat([z.mean(dims), z.amax(dims)], dim=1)


def n_pooled_features(model, pooling, bottleneck):
    """Features per item that :func:`encode_items` gives."""
    if bottleneck is not None:
        return bottleneck
    if pooling == "multiscale":
        return sum(model.filters)
    if pooling == "multiscale_bands":
        return sum(model.filters) * (N_BANDS if getattr(model, "dim", 2) == 2 else 1)
    return model.filters[-1] * (2 if pooling == "meanmax" else 1)


def encode_items(
    model,
    stage,
    items,
    *,
    pooling,
    with_error,
    device,
    batch_size,
    precision="fp32",
    channels_last=False,
    recordings=None,
):
    """Pooled features of every item (and its reconstruction error, last column);
    ``precision``, ``channels_last`` and ``recordings`` as for :func:`run_batches`."""

    def fn(model, images):
        if pooling in ("multiscale", "multiscale_bands") and model.to_code is None:
            blocks = model.encode_blocks(images)
            z = blocks[-1]
            features = torch.cat([pool(b, pooling) for b in blocks], dim=1)
        else:
            z = model.encode(images)
            features = pool(z, pooling)
        if not with_error:
            return features
        rec = model.decode(z, output_size=tuple(images.shape[2:]))
        error = (rec.float() - images.float()).square().flatten(1).mean(1, keepdim=True)
        return torch.cat([features.float(), error], dim=1)

    outs = run_batches(
        model,
        stage,
        items,
        fn,
        device=device,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
        recordings=recordings,
    )
    return torch.cat(outs).numpy()


def per_epoch(values, n_epochs, n_channels):
    """``(n_items, ...)`` -> one ``(n_epochs, n_channels, ...)`` array per Epochs.

    ``n_channels`` holds the items per epoch of each Epochs (1 in the planes and
    stack modes).
    """
    out, row = [], 0
    for n_ep, k in zip(n_epochs, n_channels):
        out.append(values[row : row + n_ep * k].reshape(n_ep, k, *values.shape[1:]))
        row += n_ep * k
    return out


def aggregate(blocks, channel_agg):
    """Per-epoch rows from per-channel features: their mean, or concatenated."""
    if channel_agg == "mean":
        return np.concatenate([b.mean(axis=1) for b in blocks]).astype(np.float32)
    counts = {b.shape[1] for b in blocks}
    if len(counts) > 1:
        raise ValueError(
            "channel_agg='concat' needs the same number of channels in "
            f"every Epochs, got {sorted(counts)}."
        )
    return np.concatenate([b.reshape(len(b), -1) for b in blocks]).astype(np.float32)
