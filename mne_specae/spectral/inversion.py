"""From spectrograms back to waveforms: the exact inverse STFT and Griffin-Lim."""

from __future__ import annotations

import math

import torch

from ..utils._checks import check_int


def _full_complex(sg, z):
    """Scaled complex planes (..., 2, F, T) -> unscaled full-band STFT (B, n_bins, T)."""
    z = torch.as_tensor(z, dtype=torch.float32, device=sg.window.device)
    if z.ndim < 3 or z.shape[-3] != 2:
        raise ValueError(
            f"Expected complex planes (..., 2, n_freqs, n_frames), got shape {tuple(z.shape)}."
        )
    spec = torch.complex(z[..., 0, :, :], z[..., 1, :, :])
    lo, hi = sg._bins
    lead = spec.shape[:-2]
    spec = spec.reshape(-1, *spec.shape[-2:]) / sg.bin_scale[lo:hi, None]
    full = spec.new_zeros((spec.shape[0], sg.n_fft // 2 + 1, spec.shape[-1]))
    full[:, lo:hi] = spec
    return full, lead


def inverse_stft(sg, z, length):
    """Waveforms from the complex output of ``sg`` (see :meth:`Spectrogram.inverse`)."""
    if sg.output != "complex" or sg.resize is not None or sg.normalize is not None:
        raise ValueError(
            "inverse needs output='complex' without resize or normalize; "
            "use griffin_lim for magnitude or power spectrograms."
        )
    full, lead = _full_complex(sg, z)
    x = torch.istft(
        full,
        n_fft=sg.n_fft,
        hop_length=sg.hop_length,
        win_length=sg.win_length,
        window=sg.window,
        center=sg.center,
        length=length,
    )
    return x.reshape(*lead, length)


def griffin_lim(
    spec, spectrogram, length, *, n_iter=64, momentum=0.99, seed=0, return_convergence=False
):
    """Waveforms whose spectrogram magnitude matches ``spec`` (fast Griffin-Lim).

    Alternating projections with momentum (Perraudin et al., 2013), all in torch, on
    the device of ``spectrogram``.

    Parameters
    ----------
    spec : torch.Tensor, shape (..., n_freqs, n_frames)
        A power, magnitude or dB spectrogram produced by ``spectrogram`` (linear
        frequency axis, no resize, no normalisation).
    spectrogram : Spectrogram
        The module that produced ``spec`` (its output kind says how to read it).
    length : int
        Samples per waveform.
    n_iter : int
        Iterations.
    momentum : float
        Momentum in ``[0, 1)``; 0 gives the classic algorithm.
    seed : int
        Seed of the random initial phases.
    return_convergence : bool
        Also return the spectral convergence
        ``||S - |STFT(x)| ||_F / ||S||_F`` after each iteration.

    Returns
    -------
    x : torch.Tensor, shape (..., length)
    convergence : list of float
        Only with ``return_convergence=True``.
    """
    sg = spectrogram
    if sg.freq_scale != "linear" or sg.resize is not None or sg.normalize is not None:
        raise ValueError(
            "griffin_lim needs a linear frequency axis without resize or "
            "normalisation (those are not invertible)."
        )
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
    check_int(n_iter, "n_iter")
    spec = torch.as_tensor(spec, dtype=torch.float32, device=sg.window.device)
    if sg.output == "power":
        mag = spec.clamp_min(0).sqrt()
    elif sg.output == "magnitude":
        mag = spec
    elif sg.output == "db":
        mag = 10.0 ** ((spec + 10.0 * math.log10(sg.ref)) / 20.0)
    else:
        raise ValueError(
            "griffin_lim takes power, magnitude or dB spectrograms; invert "
            "complex ones exactly with Spectrogram.inverse."
        )
    lead = mag.shape[:-2]
    mag = mag.reshape(-1, *mag.shape[-2:])
    lo, hi = sg._bins
    scale = sg.bin_scale[lo:hi, None]
    target = mag / scale  # magnitude of the unscaled STFT
    full = torch.zeros(
        (target.shape[0], sg.n_fft // 2 + 1, target.shape[-1]),
        dtype=torch.complex64,
        device=target.device,
    )
    stft_kw = dict(
        n_fft=sg.n_fft,
        hop_length=sg.hop_length,
        win_length=sg.win_length,
        window=sg.window,
        center=sg.center,
    )
    gen = torch.Generator(device="cpu").manual_seed(seed)
    phase = torch.rand(target.shape, generator=gen).to(target.device) * 2 * math.pi
    angles = torch.polar(torch.ones_like(target), phase)
    previous = torch.zeros_like(angles)
    norm = torch.linalg.vector_norm(target, dim=(-2, -1)).clamp_min(1e-30)
    history = []
    for _ in range(n_iter):
        full[:, lo:hi] = target * angles
        x = torch.istft(full, length=length, **stft_kw)
        rebuilt = torch.stft(x, return_complex=True, pad_mode=sg.pad_mode, **stft_kw)[:, lo:hi]
        if return_convergence:
            err = torch.linalg.vector_norm(rebuilt.abs() - target, dim=(-2, -1)) / norm
            history.append(float(err.mean()))
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        angles = accelerated / accelerated.abs().clamp_min(1e-16)
        previous = rebuilt
    full[:, lo:hi] = target * angles
    x = torch.istft(full, length=length, **stft_kw).reshape(*lead, length)
    return (x, history) if return_convergence else x
