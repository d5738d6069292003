"""Steps of :class:`~mne_specae.Spectrogram` kept apart from its module: detrending
the waveforms and checking the images (:meth:`Spectrogram.forward`)."""

from __future__ import annotations

import math

import torch


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
