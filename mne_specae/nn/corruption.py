"""Corrupted copies of model inputs, for the denoising (masked-spectrogram) objective.

During training the model may see a corrupted copy of its input and learn to
reconstruct the clean one. A spectrogram is not a photo: its axes are frequency and
time, so there are no flips, rotations or crops. :func:`corrupt` hides stripes of
time frames and of frequency rows (SpecAugment's masks), adds Gaussian noise and
band-limits items at a random frequency (as a source sampled at twice that rate
looks), per batch, on the device, from a :class:`torch.Generator` of its own (seeded
by :func:`epoch_corruption` from the run's seed, the epoch and the process), so a
run is reproducible and torch's global random state is never touched.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..utils._checks import check_fraction, check_number

__all__ = ["corrupt"]

_N_STRIPES = 2  # contiguous stripes per axis


def check_corruption(mask_fraction, noise_std, band_limit=0.0):
    """``(mask_fraction, noise_std, band_limit)`` as floats, checked: ``[0, 1)``,
    ``>= 0`` and ``[0, 1]``."""
    return (
        check_fraction(mask_fraction, "mask_fraction"),
        check_number(noise_std, "noise_std", minimum=0),
        check_fraction(band_limit, "band_limit", closed=True),
    )


def epoch_corruption(kw, epoch, rank, device):
    """The corruption of one epoch's training batches, ``x -> corrupt(x, ...)``.

    ``None`` when ``kw["mask_fraction"]``, ``kw["noise_std"]`` and ``kw["band_limit"]``
    are 0 (nothing is drawn: training is exactly that without corruption). Its
    generator is seeded from ``kw["seed"]``, the epoch and the process rank, on
    ``device``: a resumed run draws exactly the corruptions of an uninterrupted one.
    """
    if not (kw["mask_fraction"] or kw["noise_std"] or kw["band_limit"]):
        return None
    state = np.random.SeedSequence([int(kw["seed"]), int(epoch), int(rank), 0x5EC])
    seed = int(state.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    generator = torch.Generator(device=device).manual_seed(seed)
    return functools.partial(
        corrupt,
        mask_fraction=kw["mask_fraction"],
        noise_std=kw["noise_std"],
        band_limit=kw["band_limit"],
        generator=generator,
    )


def _stripes(n_items, length, fraction, generator, device):
    """``(n_items, length)`` bool: per item, :data:`_N_STRIPES` non-overlapping stripes
    of random positions and widths that hide ``round(fraction * length)`` positions."""
    hidden = int(fraction * length + 0.5)
    if hidden == 0:
        return torch.zeros(n_items, length, dtype=torch.bool, device=device)
    draws = torch.rand(n_items, 2 * _N_STRIPES - 1, generator=generator, device=device)
    # widths: `hidden` cut at one uniform point; gaps before and between the stripes:
    # the `length - hidden` visible positions cut at two sorted uniform points
    first = (draws[:, 0] * (hidden + 1)).long().clamp(max=hidden)
    widths = torch.stack([first, hidden - first], dim=1)
    cuts = (draws[:, 1:] * (length - hidden + 1)).long().clamp(max=length - hidden)
    cuts = cuts.sort(dim=1).values
    starts = torch.stack([cuts[:, 0], cuts[:, 1] + widths[:, 0]], dim=1)
    pos = torch.arange(length, device=device).view(1, 1, length)
    inside = (pos >= starts.unsqueeze(-1)) & (pos < (starts + widths).unsqueeze(-1))
    return inside.any(dim=1)


def _band_limited(x, fraction, generator):
    """``x`` (a new tensor) with a random ``fraction`` of its items band-limited.

    Each chosen item keeps the frequencies below a cut drawn uniformly in the upper
    half of its frequency axis (image rows; a waveform's FFT bins up to Nyquist); an
    image's rows from the cut up take each plane's lowest value (where ``top_db`` puts
    a band without power, as above a slower source's Nyquist frequency), a
    waveform's bins from the cut up are zeroed. Each item keeps its mean and standard
    deviation (with ``normalize="item"``: exactly the z-scoring a band-limited
    recording gets).
    """
    n_items = x.shape[0]
    chosen = torch.rand(n_items, generator=generator, device=x.device) < fraction
    image = x.ndim == 4
    n_bins = x.shape[-2] if image else x.shape[-1] // 2 + 1
    low = n_bins // 2
    cuts = low + (torch.rand(n_items, generator=generator, device=x.device) * (n_bins - low))
    cuts = cuts.long().clamp(max=n_bins - 1)
    idx = chosen.nonzero().flatten()
    if idx.numel() == 0:
        return x.clone()
    part = x[idx].float()
    bins = torch.arange(n_bins, device=x.device)
    above = bins.view(1, -1) >= cuts[idx].view(-1, 1)  # (n_chosen, n_bins)
    dims = tuple(range(1, x.ndim))
    mean, std = part.mean(dim=dims, keepdim=True), part.std(dim=dims, keepdim=True)
    if image:
        floor = part.amin(dim=(2, 3), keepdim=True).expand_as(part)
        part = torch.where(above.view(len(idx), 1, n_bins, 1), floor, part)
    else:
        spectrum = torch.fft.rfft(part, dim=-1)
        spectrum = spectrum.masked_fill(above.view(len(idx), 1, n_bins), 0)
        part = torch.fft.irfft(spectrum, n=x.shape[-1], dim=-1)
    new_std = part.std(dim=dims, keepdim=True)
    scale = torch.where(new_std > 0, std / new_std.clamp_min(1e-12), torch.ones_like(std))
    part = (part - part.mean(dim=dims, keepdim=True)) * scale + mean
    out = x.clone()
    out[idx] = part.to(x.dtype)
    return out


def corrupt(x, *, mask_fraction=0.0, noise_std=0.0, band_limit=0.0, generator=None):
    """A corrupted copy of a batch of model inputs (``x`` itself is left unchanged).

    Parameters
    ----------
    x : torch.Tensor, shape (n_items, n_planes, n_freqs, n_frames) | (n_items, n_channels, n_times)
        Model inputs: spectrogram images (2-D model) or waveforms (1-D model),
        normalised (e.g. z-scored per item).
    mask_fraction : float
        In ``[0, 1)``. Per item, ``round(mask_fraction * n_frames)`` time frames are
        hidden, as 2 contiguous stripes of random positions and widths (the widths
        sum to that number; stripes never overlap, and may touch), and likewise
        ``round(mask_fraction * n_freqs)`` frequency rows of an image (the same
        frames and rows in every plane). 1-D inputs get time stripes only. Hidden
        values are set to 0, which is each item's mean after the per-item
        normalisation (``normalize="item"``; with other normalisations 0 is just a
        constant). On an image the hidden area is ``1 - (1 - mask_fraction)**2``
        of it (rows and frames together).
    noise_std : float
        Standard deviation of additive Gaussian noise (in the units of ``x``: of its
        standard deviation when ``x`` is z-scored), added before masking, so hidden
        values are exactly 0.
    band_limit : float
        In ``[0, 1]``: the chance that an item is band-limited, first, at a frequency
        drawn uniformly in the upper half of its frequency axis (rows of an image,
        0 Hz to Nyquist of a waveform). An image's rows from there up take each
        plane's lowest value (the floor of a dB spectrogram where there is no power,
        as above the Nyquist frequency of a slower source: a hard edge, where real
        filters roll off over a few rows); a waveform loses those frequencies (FFT).
        The item keeps its mean and standard deviation, so with ``normalize="item"``
        it is what a recording band-limited there would give. So the band that a
        source's sampling rate or filters leave empty stops telling sources apart.
    generator : torch.Generator | None
        Source of the randomness, on ``x``'s device (``None``: torch's global
        generator).

    Returns
    -------
    corrupted : torch.Tensor
        A new tensor, of ``x``'s shape, dtype and device.
    """
    mask_fraction, noise_std, band_limit = check_corruption(mask_fraction, noise_std, band_limit)
    if x.ndim not in (3, 4):
        raise ValueError(
            "x must be (n_items, n_planes, n_freqs, n_frames) or (n_items, "
            f"n_channels, n_times), got shape {tuple(x.shape)}."
        )
    out = _band_limited(x, band_limit, generator) if band_limit else x.clone()
    if noise_std:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        out = out.add_(noise, alpha=noise_std)
    if mask_fraction:
        n_items = x.shape[0]
        hidden = _stripes(n_items, x.shape[-1], mask_fraction, generator, x.device)
        hidden = hidden.view(n_items, *([1] * (x.ndim - 2)), x.shape[-1])
        if x.ndim == 4:
            rows = _stripes(n_items, x.shape[-2], mask_fraction, generator, x.device)
            hidden = hidden | rows.view(n_items, 1, x.shape[-2], 1)
        out = out.masked_fill_(hidden, 0.0)
    return out
