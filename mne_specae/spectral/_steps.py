"""Steps of :class:`~mne_specae.Spectrogram` kept apart from its module: checking the
waveforms, detrending them and checking the images (:meth:`Spectrogram.forward`)."""

from __future__ import annotations

import math

import torch


def check_waveforms(x, channel_mode):
    """Refuse what is not a real tensor of waveforms ``(..., [n_channels,] n_times)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"Spectrogram expects a torch.Tensor, got {type(x).__name__}; "
            "use torch.as_tensor(array)."
        )
    min_ndim = 1 if channel_mode == "separate" else 2
    if x.ndim < min_ndim:
        raise ValueError(
            f"Expected a tensor of shape {'(..., n_times)' if min_ndim == 1 else '(..., n_channels, n_times)'}"
            f" for channel_mode={channel_mode!r}, got shape {tuple(x.shape)}."
        )
    if x.is_complex() or not (
        x.is_floating_point() or x.dtype in (torch.int16, torch.int32, torch.int64)
    ):
        raise TypeError(f"Spectrogram expects real samples, got dtype {x.dtype}.")


def check_finite_input(x):
    """Refuse NaN/Inf samples: one reduction, as a NaN/Inf sample makes the sum NaN/Inf
    (counted only then, which also clears a sum that overflowed on finite samples)."""
    if not math.isfinite(float(x.detach().sum())):
        n_bad = int((~torch.isfinite(x)).sum())
        if n_bad:
            raise ValueError(
                f"The input holds {n_bad} NaN/Inf sample(s); clean them first "
                "(make_segments drops segments that hold any)."
            )


def detrend_waveforms(x, kind):
    """Remove the mean (``"constant"``) or the least-squares line (``"linear"``) of each
    waveform along the last axis (float32, any leading shape)."""
    mean = x.mean(dim=-1, keepdim=True)
    if kind == "constant":
        return x - mean
    n = x.shape[-1]
    t = torch.arange(n, dtype=x.dtype, device=x.device) - (n - 1) / 2
    slope = (x * t).sum(dim=-1, keepdim=True) / t.square().sum().clamp_min(1e-12)
    return x - mean - slope * t


def check_output(out, given):
    """Refuse an image that overflowed float32 on finite samples (one reduction; the
    values are counted only when its sum is not finite)."""
    if math.isfinite(float(out.detach().sum())) or bool(torch.isfinite(out).all()):
        return
    peak = float(given.detach().abs().amax())
    raise ValueError(
        f"The input's largest sample is {peak:.3g}: its spectrogram overflowed float32 "
        "(NaN/Inf values; float32 holds up to 3.4e38, and the power squares the "
        "amplitude). Scale the data first: physiological signals in volts are below 1, "
        "so samples this large are usually in the wrong unit or damaged."
    )
