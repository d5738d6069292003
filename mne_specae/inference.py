"""A trained autoencoder applied to items: batches on the device, pooling, per-epoch rows."""

from __future__ import annotations

import numpy as np
import torch

from .devices import resolve_device

POOLINGS = ("mean", "max", "meanmax", "multiscale")
CHANNEL_AGGREGATIONS = ("mean", "concat")


def run_batches(model, stage, items, fn, *, device, batch_size):
    """Apply ``fn(model, images)`` to items in batches on the device; CPU tensors out.

    The model and the input stage go to the device for the call and back to the CPU
    afterwards (also when ``fn`` fails).
    """
    device = resolve_device(device)
    model.to(device)
    stage.to(device)
    outs = []
    try:
        with torch.no_grad():
            for start in range(0, len(items), batch_size):
                x = items[start : start + batch_size].to(device)
                outs.append(fn(model, stage.to_images(x)).float().cpu())
    finally:
        model.cpu()
        stage.cpu()
    return outs


def pool(z, mode):
    """Pool a latent ``(batch, filters, *spatial)`` over space (a dense code passes)."""
    if z.ndim == 2:  # dense bottleneck
        return z
    dims = tuple(range(2, z.ndim))
    if mode in ("mean", "multiscale"):
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
    return model.filters[-1] * (2 if pooling == "meanmax" else 1)


def encode_items(model, stage, items, *, pooling, with_error, device, batch_size):
    """Pooled features of every item (and its reconstruction error, last column)."""

    def fn(model, images):
        if pooling == "multiscale" and model.to_code is None:
            blocks = model.encode_blocks(images)
            z = blocks[-1]
            features = torch.cat([pool(b, pooling) for b in blocks], dim=1)
        else:
            z = model.encode(images)
            features = pool(z, pooling)
        if not with_error:
            return features
        rec = model.decode(z, output_size=tuple(images.shape[2:]))
        error = (rec.float() - images).square().flatten(1).mean(1, keepdim=True)
        return torch.cat([features, error], dim=1)

    outs = run_batches(model, stage, items, fn, device=device, batch_size=batch_size)
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
        raise ValueError("channel_agg='concat' needs the same number of channels in "
                         f"every Epochs, got {sorted(counts)}.")
    return np.concatenate([b.reshape(len(b), -1) for b in blocks]).astype(np.float32)
