"""Spectrograms: one torch module for CPU and GPU, and MNE time-frequency objects.

:class:`Spectrogram` is the single implementation: :func:`compute_spectrogram` uses it
to build the spectrograms users look at, and the training engine uses it as the
model's input stage, on the device, from the waveforms. No drift between the two.

Pipeline of :meth:`Spectrogram.forward`, in this order::

    waveform --torch.stft--> STFT --scale--> power (or complex) --crop / mel / log-->
    power | magnitude | dB | complex --channel mode--> --resize--> --normalise--> image
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from mne.utils import logger, verbose

OUTPUTS = ("power", "magnitude", "db", "complex")
FREQ_SCALES = ("linear", "log", "mel")
NORMALIZATIONS = (None, "item", "dataset")
CHANNEL_MODES = ("separate", "planes", "stack")
DETRENDS = (None, "constant", "linear")
SCALINGS = ("density", "spectrum")


def resolve_device(device="auto"):
    """Return a :class:`torch.device`: ``"auto"`` picks CUDA, then MPS, then the CPU.

    Parameters
    ----------
    device : str | torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, ...

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}.")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} but PyTorch sees no CUDA GPU here (torch "
            f"{torch.__version__}). Use device='auto' or 'cpu'."
        )
    return dev


def hz_to_mel(freqs):
    """Mel value of frequencies in Hz (HTK formula ``2595 log10(1 + f / 700)``)."""
    return 2595.0 * np.log10(1.0 + np.asarray(freqs, dtype=np.float64) / 700.0)


def mel_to_hz(mels):
    """Frequency in Hz of mel values (inverse of :func:`hz_to_mel`)."""
    return 700.0 * (10.0 ** (np.asarray(mels, dtype=np.float64) / 2595.0) - 1.0)


def triangular_filterbank(bin_freqs, edges):
    """Triangular filters on ``edges`` evaluated at the FFT bin frequencies.

    Filter ``k`` rises from ``edges[k]`` to 1 at ``edges[k + 1]`` and falls to 0 at
    ``edges[k + 2]`` (torchaudio's ``melscale_fbanks`` with ``norm=None``). A side
    narrower than the bin spacing is widened to the bin spacing, so a filter narrower
    than the bins gets linear interpolation weights at its centre instead of an empty
    or nearly empty row (filters whose sides span at least one bin are unchanged).

    Parameters
    ----------
    bin_freqs : array, shape (n_bins,)
        Frequencies of the FFT bins in Hz.
    edges : array, shape (n_filters + 2,)
        Increasing filter edges in Hz.

    Returns
    -------
    weights : array, shape (n_filters, n_bins)
    """
    bin_freqs = np.asarray(bin_freqs, np.float64)
    edges = np.asarray(edges, np.float64)
    spacing = float(bin_freqs[1] - bin_freqs[0])
    centre = edges[1:-1, None]
    lower = np.minimum(edges[:-2, None], centre - spacing)
    upper = np.maximum(edges[2:, None], centre + spacing)
    rising = (bin_freqs - lower) / (centre - lower)
    falling = (upper - bin_freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def _detrend(x, kind):
    """Remove the mean (``"constant"``) or the least-squares line (``"linear"``) of each
    waveform along the last axis (float32, any leading shape)."""
    mean = x.mean(dim=-1, keepdim=True)
    if kind == "constant":
        return x - mean
    n = x.shape[-1]
    t = torch.arange(n, dtype=x.dtype, device=x.device) - (n - 1) / 2
    slope = (x * t).sum(dim=-1, keepdim=True) / t.square().sum().clamp_min(1e-12)
    return x - mean - slope * t


class Spectrogram(torch.nn.Module):
    """Short-time Fourier spectrogram as a :class:`torch.nn.Module`.

    Takes waveforms ``(..., n_times)`` on any device and returns
    ``(..., n_freqs, n_frames)`` (``(..., 2, n_freqs, n_frames)`` for complex output,
    real and imaginary planes), computed with :func:`torch.stft` in float32.

    Parameters
    ----------
    sfreq : float
        Sampling rate of the waveforms in Hz.
    n_fft : int
        FFT length in samples (frequency resolution ``sfreq / n_fft``).
    hop_length : int | None
        Samples between frames; default ``win_length // 4``.
    win_length : int | None
        Window length in samples (``<= n_fft``; zero-padded to ``n_fft``); default
        ``n_fft``.
    window : str | tuple
        Window type, any name :func:`scipy.signal.get_window` knows (``"hann"``,
        ``"hamming"``, ``("tukey", 0.25)``, ``("kaiser", 8.0)``, ...), periodic.
    window_seconds, overlap_seconds : float | None
        Window length and overlap in seconds, as torch_ecg's ``window`` and
        ``overlap``; they set ``win_length`` and ``hop_length`` (and ``n_fft`` when it
        is shorter than the window).
    center : bool
        Pad ``n_fft // 2`` samples on each side (``pad_mode``) so that frame ``t`` is
        centred on sample ``t * hop_length``. Frame count:
        ``1 + n_times // hop_length`` (even ``n_fft``) when centred, else
        ``1 + (n_times - n_fft) // hop_length``; see :meth:`output_shape`.
    pad_mode : str
        Padding for ``center=True`` (``"reflect"``, ``"constant"``, ...).
    fmin, fmax : float | None
        Frequency range in Hz; ``fmax=None`` is the Nyquist frequency. For a linear
        axis the FFT bins in ``[fmin, fmax]`` are kept; for log and mel axes the
        filters span ``[fmin, fmax]``.
    freq_scale : ``"linear"`` | ``"log"`` | ``"mel"``
        Frequency axis. ``"mel"`` uses triangular filters equally spaced on the HTK
        mel scale (``m = 2595 log10(1 + f / 700)``), as torchaudio's
        ``melscale_fbanks(norm=None, mel_scale="htk")``; ``"log"`` the same filters
        with logarithmically spaced edges (``fmin=0`` starts at the first non-zero bin).
    n_freqs : int | None
        Number of log or mel bands (default 64). Not used for a linear axis (set
        ``n_fft``, ``fmin``, ``fmax`` or ``resize`` instead).
    output : ``"power"`` | ``"magnitude"`` | ``"db"`` | ``"complex"``
        Power, its square root, power in dB (``10 log10(max(power, amin) / ref)``,
        clipped at ``top_db`` below each item's peak, like librosa's
        ``power_to_db``), or the complex STFT as two real planes scaled so that
        ``real**2 + imag**2`` is the power.
    scaling : ``"density"`` | ``"spectrum"``
        Power spectral density (V²/Hz, as :func:`scipy.signal.spectrogram` and MNE's
        PSD) or power spectrum (V²), one-sided (non-DC, non-Nyquist bins doubled).
    top_db : float | None
        Dynamic range kept by ``output="db"``.
    amin : float
        Floor of the power before the logarithm (``output="db"``).
    ref : float
        Reference power of 0 dB.
    normalize : None | ``"item"`` | ``"dataset"``
        None; z-score of each item's image (mean 0, std 1); or fixed per-frequency
        statistics fitted on a dataset with :meth:`fit_normalization`.
    resize : tuple of int | None
        ``(height, width)`` of the output image, by bilinear interpolation of the
        numbers (``align_corners=True``: the first and last rows and columns keep
        their frequencies and times). The study used ``(480, 640)``.
    channel_mode : ``"separate"`` | ``"planes"`` | ``"stack"``
        For inputs ``(..., n_channels, n_times)``: one image per channel (default);
        channels as the planes of one image (complex: ``2 * n_channels`` planes); or
        channels stacked along the frequency axis, one tall image per segment.
    detrend : None | ``"constant"`` | ``"linear"``
        Remove each waveform's mean (``"constant"``) or least-squares line
        (``"linear"``) before the STFT. A DC offset (common in uncalibrated ADC
        recordings) otherwise leaks into the lowest bins through the window's main
        lobe and, with ``normalize="item"``, dominates the image. :meth:`inverse`
        does not restore what was removed.
    check_finite : bool
        Raise on NaN/Inf input (costs one reduction per call).

    Notes
    -----
    The frame times (centres of the window) are ``(t * hop_length + offset) / sfreq``
    with ``offset = (n_fft - win_length) // 2 + win_length / 2``, less ``n_fft // 2``
    when centred (:meth:`times`). With ``win_length == n_fft`` that is ``n_fft / 2``
    when not centred (scipy's times), and 0 when centred with an even ``n_fft``.
    """

    def __init__(
        self,
        sfreq,
        n_fft=256,
        hop_length=None,
        win_length=None,
        *,
        window="hann",
        window_seconds=None,
        overlap_seconds=None,
        center=True,
        pad_mode="reflect",
        fmin=0.0,
        fmax=None,
        freq_scale="linear",
        n_freqs=None,
        output="power",
        scaling="density",
        top_db=None,
        amin=1e-30,
        ref=1.0,
        normalize=None,
        resize=None,
        channel_mode="separate",
        detrend=None,
        check_finite=True,
    ):
        super().__init__()
        from scipy.signal import get_window

        if not isinstance(sfreq, Real) or not np.isfinite(sfreq) or sfreq <= 0:
            raise ValueError(f"sfreq must be a positive number, got {sfreq!r}.")
        self.sfreq = float(sfreq)
        if window_seconds is not None:
            if not isinstance(window_seconds, Real) or window_seconds <= 0:
                raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}.")
            win_length = max(2, int(round(window_seconds * self.sfreq)))
            overlap = 0.0 if overlap_seconds is None else overlap_seconds
            if not isinstance(overlap, Real) or not 0 <= overlap < window_seconds:
                raise ValueError(
                    f"overlap_seconds must be >= 0 and < window_seconds ({window_seconds}), "
                    f"got {overlap_seconds!r}."
                )
            hop_length = max(1, win_length - int(round(overlap * self.sfreq)))
            n_fft = max(n_fft, win_length)
        elif overlap_seconds is not None:
            raise ValueError("overlap_seconds needs window_seconds.")
        self.n_fft = _check_int(n_fft, "n_fft", 2)
        self.win_length = self.n_fft if win_length is None else _check_int(win_length, "win_length")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must be <= n_fft ({self.n_fft}).")
        if hop_length is None:
            hop_length = max(1, self.win_length // 4)
        self.hop_length = _check_int(hop_length, "hop_length")
        self.center = bool(center)
        self.pad_mode = pad_mode
        self.window_name = window
        try:
            win = get_window(window, self.win_length, fftbins=True)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"Unknown window {window!r} ({err}). Use a name scipy.signal.get_window "
                "knows, e.g. 'hann', 'hamming', 'blackman', ('tukey', 0.25)."
            ) from err
        self.register_buffer("window", torch.as_tensor(win, dtype=torch.float32), persistent=False)

        nyquist = self.sfreq / 2
        fmin = 0.0 if fmin is None else fmin
        fmax = nyquist if fmax is None else fmax
        for name, value in (("fmin", fmin), ("fmax", fmax)):
            if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
        if fmax > nyquist + 1e-9:
            raise ValueError(
                f"fmax={fmax:g} Hz is above the Nyquist frequency ({nyquist:g} Hz) of "
                f"sfreq={self.sfreq:g} Hz. Lower fmax, or resample to at least "
                f"{2 * fmax:g} Hz (make_segments(raw, sfreq=...))."
            )
        if fmin >= fmax:
            raise ValueError(f"fmin ({fmin:g} Hz) must be below fmax ({fmax:g} Hz).")
        self.fmin, self.fmax = float(fmin), float(fmax)
        self.freq_scale = _check_choice(freq_scale, "freq_scale", FREQ_SCALES)
        self.output = _check_choice(output, "output", OUTPUTS)
        self.scaling = _check_choice(scaling, "scaling", SCALINGS)
        self.normalize = _check_choice(normalize, "normalize", NORMALIZATIONS)
        self.channel_mode = _check_choice(channel_mode, "channel_mode", CHANNEL_MODES)
        self.detrend = _check_choice(detrend, "detrend", DETRENDS)
        self.top_db = None if top_db is None else float(top_db)
        if self.top_db is not None and self.top_db <= 0:
            raise ValueError(f"top_db must be > 0 or None, got {top_db}.")
        self.amin, self.ref = float(amin), float(ref)
        if self.amin <= 0 or self.ref <= 0:
            raise ValueError("amin and ref must be > 0.")
        self.check_finite = bool(check_finite)
        if self.output == "complex" and self.freq_scale != "linear":
            raise ValueError("output='complex' needs freq_scale='linear' (mel/log bands of "
                             "complex values have no meaning).")
        if resize is not None:
            if len(resize) != 2:
                raise ValueError(f"resize must be (height, width), got {resize!r}.")
            resize = (_check_int(resize[0], "resize height"), _check_int(resize[1], "resize width"))
        self.resize = resize

        bin_freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sfreq)
        win64 = np.asarray(win, np.float64)
        if self.scaling == "density":
            scale = 1.0 / (self.sfreq * np.sum(win64**2))
        else:
            scale = 1.0 / np.sum(win64) ** 2
        factor = np.full(bin_freqs.size, 2.0 * scale)
        factor[0] = scale
        if self.n_fft % 2 == 0:
            factor[-1] = scale
        # complex output is scaled by sqrt(factor): its squared modulus is the power
        self.register_buffer("bin_scale", torch.as_tensor(np.sqrt(factor), dtype=torch.float32),
                             persistent=False)

        if self.freq_scale == "linear":
            if n_freqs is not None:
                raise ValueError(
                    "n_freqs sets the number of log or mel bands; with freq_scale='linear' "
                    "the bins follow from n_fft, fmin and fmax (or use resize=(h, w))."
                )
            keep = np.flatnonzero((bin_freqs >= self.fmin - 1e-9) & (bin_freqs <= self.fmax + 1e-9))
            if keep.size == 0:
                raise ValueError(
                    f"No FFT bin between fmin={self.fmin:g} and fmax={self.fmax:g} Hz "
                    f"(bin spacing {bin_freqs[1]:g} Hz); widen the range or raise n_fft."
                )
            self._bins = (int(keep[0]), int(keep[-1]) + 1)
            self._freqs = bin_freqs[keep[0] : keep[-1] + 1]
            self.register_buffer("filterbank", torch.empty(0), persistent=False)
        else:
            self.n_freqs = 64 if n_freqs is None else _check_int(n_freqs, "n_freqs")
            if self.freq_scale == "mel":
                edges = mel_to_hz(np.linspace(hz_to_mel(self.fmin), hz_to_mel(self.fmax),
                                              self.n_freqs + 2))
            else:
                low = self.fmin if self.fmin > 0 else bin_freqs[1]
                edges = np.geomspace(low, self.fmax, self.n_freqs + 2)
            weights = triangular_filterbank(bin_freqs, edges)
            self._bins = (0, bin_freqs.size)
            self._freqs = edges[1:-1]
            self.register_buffer("filterbank", torch.as_tensor(weights, dtype=torch.float32),
                                 persistent=False)
        self.n_freqs = len(self._freqs)
        # dataset normalisation statistics (per image row), saved with the model
        self.register_buffer("norm_mean", torch.zeros(0))
        self.register_buffer("norm_std", torch.zeros(0))

    # ------------------------------------------------------------------ description
    def get_config(self):
        """Constructor arguments that rebuild this module (JSON-serialisable)."""
        window = list(self.window_name) if isinstance(self.window_name, tuple) else self.window_name
        return dict(
            sfreq=self.sfreq, n_fft=self.n_fft, hop_length=self.hop_length,
            win_length=self.win_length, window=window, center=self.center,
            pad_mode=self.pad_mode, fmin=self.fmin, fmax=self.fmax,
            freq_scale=self.freq_scale,
            n_freqs=None if self.freq_scale == "linear" else self.n_freqs,
            output=self.output, scaling=self.scaling, top_db=self.top_db, amin=self.amin,
            ref=self.ref, normalize=self.normalize,
            resize=None if self.resize is None else list(self.resize),
            channel_mode=self.channel_mode, detrend=self.detrend,
        )

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())

    def n_frames(self, n_times):
        """Number of STFT frames for ``n_times`` samples."""
        if self.center:
            padded = n_times + 2 * (self.n_fft // 2)
        else:
            padded = n_times
        return 1 + (padded - self.n_fft) // self.hop_length

    def output_shape(self, n_times, n_channels=None):
        """Shape of the output for one input of ``n_times`` samples.

        Parameters
        ----------
        n_times : int
            Samples per waveform.
        n_channels : int | None
            Channels per item (needed for ``channel_mode`` ``"planes"``/``"stack"``).

        Returns
        -------
        shape : tuple of int
            ``(n_freqs, n_frames)``, with a leading plane axis of 2 for complex output
            (separate and stack modes); ``(planes, height, width)`` in planes mode;
            ``(n_channels,) + ...`` is prepended for separate mode when ``n_channels``
            is given. The height and width are ``resize`` when set.
        """
        self._check_length(n_times)
        height, width = self.n_freqs, self.n_frames(n_times)
        if self.channel_mode == "stack":
            height *= self._need_channels(n_channels)
        if self.resize is not None:
            height, width = self.resize
        planes = 2 if self.output == "complex" else 1
        if self.channel_mode == "planes":
            return (planes * self._need_channels(n_channels), height, width)
        image = (height, width) if planes == 1 else (planes, height, width)
        if self.channel_mode == "separate" and n_channels is not None:
            return (n_channels, *image)
        return image

    def image_shape(self, n_times, n_channels=1):
        """``(planes, height, width)`` of the image one training item becomes."""
        shape = self.output_shape(n_times, None if self.channel_mode == "separate" else n_channels)
        return shape if len(shape) == 3 else (1, *shape)

    def _need_channels(self, n_channels):
        if n_channels is None:
            raise ValueError(f"channel_mode={self.channel_mode!r} needs n_channels.")
        return n_channels

    @property
    def freqs(self):
        """Frequencies (Hz) of the output rows, before ``resize`` and stacking."""
        return self._freqs.copy()

    def times(self, n_times, tmin=0.0):
        """Times (s) of the frame centres for ``n_times`` samples, before ``resize``."""
        offset = (self.n_fft - self.win_length) // 2 + self.win_length / 2
        offset -= self.n_fft // 2 if self.center else 0
        return tmin + (np.arange(self.n_frames(n_times)) * self.hop_length + offset) / self.sfreq

    def _check_length(self, n_times):
        if n_times < self.n_fft:
            raise ValueError(
                f"n_fft ({self.n_fft}) is longer than the segment ({n_times} samples); "
                "lower n_fft or use longer segments."
            )

    # -------------------------------------------------------------------- compute
    def _validate(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Spectrogram expects a torch.Tensor, got {type(x).__name__}; "
                            "use torch.as_tensor(array).")
        min_ndim = 1 if self.channel_mode == "separate" else 2
        if x.ndim < min_ndim:
            raise ValueError(
                f"Expected a tensor of shape {'(..., n_times)' if min_ndim == 1 else '(..., n_channels, n_times)'}"
                f" for channel_mode={self.channel_mode!r}, got shape {tuple(x.shape)}."
            )
        if x.is_complex() or not (x.is_floating_point() or x.dtype in (torch.int16, torch.int32, torch.int64)):
            raise TypeError(f"Spectrogram expects real samples, got dtype {x.dtype}.")
        self._check_length(x.shape[-1])
        # one reduction: a NaN/Inf sample makes the sum NaN/Inf (counted only then,
        # which also clears a sum that overflowed on finite samples)
        if self.check_finite and not math.isfinite(float(x.detach().sum())):
            n_bad = int((~torch.isfinite(x)).sum())
            if n_bad:
                raise ValueError(
                    f"The input holds {n_bad} NaN/Inf sample(s); clean them first "
                    "(make_segments drops segments that hold any)."
                )

    def _stft(self, flat):
        lo, hi = self._bins
        spec = torch.stft(
            flat,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return spec[:, lo:hi], self.bin_scale[lo:hi, None]

    def _spectral(self, flat):
        """(B, n_times) float32 -> (B, F, T) real, or (B, 2, F, T) for complex."""
        spec, scale = self._stft(flat)
        if self.output == "complex":
            spec = spec * scale
            return torch.view_as_real(spec).permute(0, 3, 1, 2).contiguous()
        # in place unless autograd needs the intermediates: on the CPU, fresh large
        # temporaries cost more than the arithmetic (page faults)
        inplace = not (torch.is_grad_enabled() and spec.requires_grad)
        if inplace:
            power = spec.real.square().addcmul_(spec.imag, spec.imag).mul_(scale.square())
        else:
            power = (spec.real.square() + spec.imag.square()) * scale.square()
        del spec
        if self.freq_scale != "linear":
            power = torch.matmul(self.filterbank, power)
        if self.output == "power":
            return power
        if self.output == "magnitude":
            return power.sqrt_() if inplace else power.sqrt()
        if inplace:
            power = power.clamp_min_(self.amin).log10_().mul_(10.0)
            return power.sub_(10.0 * math.log10(self.ref)) if self.ref != 1.0 else power
        return 10.0 * torch.log10(power.clamp_min(self.amin)) - 10.0 * math.log10(self.ref)

    def _image_ndim(self):
        if self.channel_mode == "planes" or self.output == "complex":
            return 3
        return 2

    def forward(self, x):
        """Compute the spectrograms of ``x`` (``(..., n_times)``), see the class doc."""
        self._validate(x)
        x = x.to(torch.float32)
        lead, n_times = x.shape[:-1], x.shape[-1]
        if self.detrend is not None:
            x = _detrend(x, self.detrend)
        out = self._spectral(x.reshape(-1, n_times))
        out = out.reshape(*lead, *out.shape[1:])
        if self.channel_mode == "planes":  # (..., C, [2], F, T) -> (..., C*[2], F, T)
            out = out.flatten(-4, -3) if self.output == "complex" else out
        elif self.channel_mode == "stack":  # (..., C, [2], F, T) -> (..., [2], C*F, T)
            if self.output == "complex":
                out = out.transpose(-4, -3)
            out = out.flatten(-3, -2)
        dims = tuple(range(-self._image_ndim(), 0))
        if self.output == "db" and self.top_db is not None:
            peak = out.amax(dim=dims, keepdim=True)
            out = torch.maximum(out, peak - self.top_db)
        if self.resize is not None and tuple(out.shape[-2:]) != self.resize:
            shape = out.shape
            out = F.interpolate(out.reshape(-1, 1, *shape[-2:]), size=self.resize,
                                mode="bilinear", align_corners=True)
            out = out.reshape(*shape[:-2], *self.resize)
        if self.normalize == "item":
            mean = out.mean(dim=dims, keepdim=True)
            std = out.std(dim=dims, keepdim=True, unbiased=False)
            out = (out - mean) / torch.where(std > 0, std, torch.ones_like(std))
        elif self.normalize == "dataset":
            if self.norm_mean.numel() == 0:
                raise RuntimeError("normalize='dataset' needs statistics: call "
                                   "fit_normalization(waveforms) first.")
            if self.norm_mean.shape[0] != out.shape[-2]:
                raise ValueError(
                    f"The dataset statistics were fitted for images of {self.norm_mean.shape[0]} "
                    f"rows, these have {out.shape[-2]}."
                )
            out = (out - self.norm_mean) / self.norm_std
        return out

    def to_images(self, x):
        """Waveform batch -> model input ``(batch, planes, height, width)``.

        ``x`` is ``(batch, n_times)`` in separate mode (one channel of one segment per
        item), ``(batch, n_channels, n_times)`` in planes and stack modes.
        """
        expected = 2 if self.channel_mode == "separate" else 3
        if x.ndim != expected:
            raise ValueError(
                f"to_images expects {expected}-D input for channel_mode="
                f"{self.channel_mode!r}, got shape {tuple(x.shape)}."
            )
        out = self(x)
        return out if out.ndim == 4 else out.unsqueeze(1)

    @torch.no_grad()
    def fit_normalization(self, waveforms, batch_size=256):
        """Fit per-row (frequency) mean and std of the images on a dataset.

        Parameters
        ----------
        waveforms : torch.Tensor | array, shape (n_items, [n_channels,] n_times)
            The training waveforms.
        batch_size : int
            Items per batch.

        Returns
        -------
        self : Spectrogram
        """
        waveforms = torch.as_tensor(waveforms)
        mode, self.normalize = self.normalize, None
        try:
            total = total_sq = None
            count = 0
            for start in range(0, waveforms.shape[0], batch_size):
                batch = waveforms[start : start + batch_size].to(self.window.device)
                img = self(batch)
                rows = img.transpose(-2, -1).reshape(-1, img.shape[-2]).double()
                s, s2 = rows.sum(0), rows.square().sum(0)
                total = s if total is None else total + s
                total_sq = s2 if total_sq is None else total_sq + s2
                count += rows.shape[0]
        finally:
            self.normalize = mode
        mean = total / count
        std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
        std = std.clamp_min(1e-6 * float(std.max()) + 1e-30)
        self.norm_mean = mean.float()[:, None].to(self.window.device)
        self.norm_std = std.float()[:, None].to(self.window.device)
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("norm_mean", "norm_std"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -------------------------------------------------------------- back to time
    def _full_complex(self, z):
        """Scaled complex planes (..., 2, F, T) -> unscaled full-band STFT (B, n_bins, T)."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.window.device)
        if z.shape[-3] != 2:
            raise ValueError(f"Expected complex planes (..., 2, n_freqs, n_frames), got "
                             f"shape {tuple(z.shape)}.")
        spec = torch.complex(z[..., 0, :, :], z[..., 1, :, :])
        lo, hi = self._bins
        lead = spec.shape[:-2]
        spec = spec.reshape(-1, *spec.shape[-2:]) / self.bin_scale[lo:hi, None]
        full = spec.new_zeros((spec.shape[0], self.n_fft // 2 + 1, spec.shape[-1]))
        full[:, lo:hi] = spec
        return full, lead

    def inverse(self, z, length):
        """Waveforms from complex output (``torch.istft``): the exact inverse.

        Parameters
        ----------
        z : torch.Tensor, shape (..., 2, n_freqs, n_frames)
            Output of this module with ``output="complex"``, no resize/normalisation.
            A cropped band (``fmin``/``fmax``) comes back band-limited.
        length : int
            Samples per waveform.

        Returns
        -------
        x : torch.Tensor, shape (..., length)
        """
        if self.output != "complex" or self.resize is not None or self.normalize is not None:
            raise ValueError("inverse needs output='complex' without resize or normalize; "
                             "use griffin_lim for magnitude or power spectrograms.")
        full, lead = self._full_complex(z)
        x = torch.istft(full, n_fft=self.n_fft, hop_length=self.hop_length,
                        win_length=self.win_length, window=self.window, center=self.center,
                        length=length)
        return x.reshape(*lead, length)


def griffin_lim(spec, spectrogram, length, *, n_iter=64, momentum=0.99, seed=0,
                return_convergence=False):
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
        raise ValueError("griffin_lim needs a linear frequency axis without resize or "
                         "normalisation (those are not invertible).")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
    _check_int(n_iter, "n_iter")
    spec = torch.as_tensor(spec, dtype=torch.float32, device=sg.window.device)
    if sg.output == "power":
        mag = spec.clamp_min(0).sqrt()
    elif sg.output == "magnitude":
        mag = spec
    elif sg.output == "db":
        mag = 10.0 ** ((spec + 10.0 * math.log10(sg.ref)) / 20.0)
    else:
        raise ValueError("griffin_lim takes power, magnitude or dB spectrograms; invert "
                         "complex ones exactly with Spectrogram.inverse.")
    lead = mag.shape[:-2]
    mag = mag.reshape(-1, *mag.shape[-2:])
    lo, hi = sg._bins
    scale = sg.bin_scale[lo:hi, None]
    target = mag / scale  # magnitude of the unscaled STFT
    full = torch.zeros((target.shape[0], sg.n_fft // 2 + 1, target.shape[-1]),
                       dtype=torch.complex64, device=target.device)
    stft_kw = dict(n_fft=sg.n_fft, hop_length=sg.hop_length, win_length=sg.win_length,
                   window=sg.window, center=sg.center)
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


@verbose
def compute_spectrogram(inst, *, picks=None, device="auto", batch_size=512, verbose=None,
                        **kwargs):
    """Spectrograms of Epochs or Raw as MNE time-frequency objects.

    Parameters
    ----------
    inst : mne.Epochs | mne.io.Raw
        The segments (e.g. from :func:`~mne_specae.make_segments`) or a recording.
    picks : str | list | None
        Channels, as in MNE; ``None`` takes every ECG, EEG, EMG and other data
        channel that is not marked bad.
    device : str | torch.device
        Where to compute: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``.
    batch_size : int
        Channel-segments per batch sent to the device.
    %(verbose)s
    **kwargs
        Options of :class:`Spectrogram` (``n_fft``, ``hop_length``, ``window``,
        ``fmin``, ``fmax``, ``freq_scale``, ``n_freqs``, ``output``, ``top_db``,
        ``normalize``, ``resize``, ...). ``sfreq`` comes from ``inst``; only
        ``channel_mode="separate"`` applies (MNE objects are per channel).

    Returns
    -------
    tfr : mne.time_frequency.EpochsTFRArray | mne.time_frequency.RawTFRArray
        float32 data ``(n_epochs, n_channels, n_freqs, n_frames)`` (complex64 for
        ``output="complex"``), ``method="stft"``, ``freqs`` (Hz; band centres for
        log/mel axes) and ``times`` (frame centres, in the time base of ``inst``).
        Epochs keep their info, events, event_id, metadata, selection and drop_log.
        Units: V²/Hz (``scaling="density"``), dB re 1 V²/Hz, V/sqrt(Hz).
    """
    import mne
    from mne.time_frequency import EpochsTFRArray, RawTFRArray

    if not isinstance(inst, (mne.BaseEpochs, mne.io.BaseRaw)):
        raise TypeError(
            f"compute_spectrogram takes mne.Epochs or mne.io.Raw, got {type(inst).__name__}. "
            "For arrays, use Spectrogram(sfreq)(torch.as_tensor(x))."
        )
    if kwargs.get("channel_mode", "separate") != "separate":
        raise ValueError("compute_spectrogram returns one spectrogram per channel: "
                         "channel_mode must be 'separate'.")
    if "sfreq" in kwargs:
        raise TypeError("sfreq comes from inst.info['sfreq']; do not pass it.")
    batch_size = _check_int(batch_size, "batch_size")
    sg = Spectrogram(inst.info["sfreq"], **kwargs)
    dev = resolve_device(device)
    sg.to(dev)
    idx = _signal_picks(inst.info, picks)
    info = mne.pick_info(inst.info, idx)
    n_times = len(inst.times)
    sg._check_length(n_times)
    shape = sg.output_shape(n_times, len(idx))
    complex_out = sg.output == "complex"
    freqs = sg.freqs
    times = sg.times(n_times, tmin=inst.times[0])
    if sg.resize is not None:
        freqs = np.interp(np.linspace(0, len(freqs) - 1, sg.resize[0]), np.arange(len(freqs)), freqs)
        times = np.interp(np.linspace(0, len(times) - 1, sg.resize[1]), np.arange(len(times)), times)
    dtype = np.complex64 if complex_out else np.float32

    def run(batch):  # numpy (..., n_times) -> numpy (..., F, T)
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(dev)
        with torch.no_grad():
            out = sg(x)
        if complex_out:
            out = torch.complex(out[..., 0, :, :], out[..., 1, :, :])
        return out.cpu().numpy()

    from tqdm.auto import tqdm

    if isinstance(inst, mne.io.BaseRaw):
        data = np.empty((len(idx), *shape[-2:]), dtype)
        for row, ch in enumerate(tqdm(idx, desc="Spectrogram", unit="channel",
                                      disable=len(idx) < 8 or logger.level > 20)):
            data[row] = run(inst.get_data(picks=[ch]))[0]
        return RawTFRArray(info, data, times, freqs, method="stft")

    n_epochs = len(inst)
    per_batch = max(1, batch_size // len(idx))
    data = np.empty((n_epochs, len(idx), *shape[-2:]), dtype)
    starts = range(0, n_epochs, per_batch)
    for start in tqdm(starts, desc="Spectrogram", unit="batch",
                      disable=len(starts) < 8 or logger.level > 20):
        stop = min(start + per_batch, n_epochs)
        data[start:stop] = run(inst.get_data(picks=idx, item=slice(start, stop)))
    logger.info(f"Spectrograms of {n_epochs} epochs x {len(idx)} channels: "
                f"{data.shape[-2]} freqs x {data.shape[-1]} frames ({sg.output}) on {dev}")
    return EpochsTFRArray(
        info, data, times, freqs, method="stft",
        events=inst.events.copy(), event_id=dict(inst.event_id),
        selection=inst.selection.copy(), drop_log=inst.drop_log,
        metadata=None if inst.metadata is None else inst.metadata.copy(),
    )


def _signal_picks(info, picks):
    """Indices of the channels to use: explicit picks, else signal channels not bad."""
    from mne._fiff.pick import _picks_to_idx

    if picks is None:
        import mne

        idx = mne.pick_types(info, meg=True, eeg=True, ecg=True, emg=True, seeg=True,
                             ecog=True, dbs=True, eog=True, exclude="bads")
        if len(idx) == 0:
            raise ValueError("No ECG, EEG, EMG or other data channel that is not bad; pass picks.")
        return idx
    return _picks_to_idx(info, picks, exclude=())
