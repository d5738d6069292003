"""Spectrograms as a torch module: the one STFT implementation of the package.

:class:`Spectrogram` builds the spectrograms users look at (:func:`compute_spectrogram`
wraps it into MNE objects) and is the 2-D model's input stage on the device, from the
waveforms: no drift between the two.

Pipeline of :meth:`Spectrogram.forward`, in this order::

    waveform --torch.stft--> STFT --scale--> power (or complex) --crop / mel / log-->
    --channel mode--> --shrink (antialiased, on the power)--> power | magnitude | dB
    | complex --top_db--> --enlarge (bilinear)--> --normalise--> image
"""

from __future__ import annotations

import math

import numpy as np
import torch
from mne.utils import _check_option

from ..nn.input_stages import DatasetStatistics, InputStage, fit_moments, standardize
from ..utils._checks import check_int, check_number, check_positive
from ..utils._docs import fill_doc
from ._framing import ImageAxes, enlarge, framing, shrink, window_array
from ._recording import RecordingStatistics
from ._steps import check_finite_input, check_output, check_waveforms, detrend_waveforms
from .filterbanks import check_band, frequency_axis, one_sided_scale
from .inversion import inverse_stft

OUTPUTS = ("power", "magnitude", "db", "complex")
FREQ_SCALES = ("linear", "log", "mel")
BAND_MODES = ("mean", "sum")
NORMALIZATIONS = (None, "item", "dataset", "recording")
CHANNEL_MODES = ("separate", "planes", "stack")
DETRENDS = (None, "constant", "linear")
SCALINGS = ("density", "spectrum")


@fill_doc
class Spectrogram(ImageAxes, DatasetStatistics, RecordingStatistics, InputStage):
    """Short-time Fourier spectrogram as a :class:`torch.nn.Module`.

    Takes waveforms ``(..., n_times)`` on any device and returns
    ``(..., n_freqs, n_frames)`` (``(..., 2, n_freqs, n_frames)`` for complex output,
    real and imaginary planes), computed with :func:`torch.stft` in float32.

    Parameters
    ----------
    sfreq : float
        Sampling rate of the waveforms in Hz.
    %(n_fft)s
    %(hop_length)s
    %(win_length)s
    %(window)s
    window_seconds : float | None
        Window length in seconds, as torch_ecg's ``window``; sets ``win_length``
        (and ``n_fft`` when it is shorter than the window).
    overlap_seconds : float | None
        Overlap of consecutive windows in seconds (needs ``window_seconds``); sets
        ``hop_length``.
    center : bool
        Pad ``n_fft // 2`` samples on each side (``pad_mode``) so that frame ``t`` is
        centred on sample ``t * hop_length``. Frame count:
        ``1 + n_times // hop_length`` (even ``n_fft``) when centred, else
        ``1 + (n_times - n_fft) // hop_length``; see :meth:`output_shape`.
    pad_mode : str
        Padding for ``center=True`` (``"reflect"``, ``"constant"``, ...).
    %(fmin)s
    %(fmax)s
    %(freq_scale)s
    %(n_freqs)s
    %(band_mode)s
    %(output)s
    %(scaling)s
    %(top_db)s
    amin : float
        Floor of the power before the logarithm (``output="db"``).
    ref : float
        Reference power of 0 dB.
    %(normalize)s
    %(resize)s
    %(channel_mode)s
    %(detrend)s
    check_finite : bool
        Raise on NaN/Inf input (costs one reduction per call).

    Notes
    -----
    The frame times (centres of the window) are ``(t * hop_length + offset) / sfreq``
    with ``offset = (n_fft - win_length) // 2 + win_length / 2``, less ``n_fft // 2``
    when centred (:meth:`times`). With ``win_length == n_fft`` that is ``n_fft / 2``
    when not centred (scipy's times), and 0 when centred with an even ``n_fft``.
    :meth:`inverse` does not restore what ``detrend`` removed.
    With ``normalize="recording"``, :meth:`fit_recordings` computes the statistics of
    the data to normalise (``with sg.recording_statistics(x, recordings):`` holds them
    for a block), and each call names its items: ``sg(x[i], index=i)``.

    ``resize`` treats each axis on its own. An axis that grows is interpolated
    bilinearly with ``align_corners=True`` (its first and last samples keep their
    frequencies and times). An axis that shrinks is antialiased: each output row
    (column) is the average of the ``n / size`` input rows it covers, through
    triangle filters normalised to sum 1 (``torch.nn.functional.interpolate(...,
    antialias=True, align_corners=False)``, as PIL), so that a tone or a beat keeps
    its energy (the sum over the rows times ``n / size``: within 0.1 %, up to 10 %
    more in the outermost rows, whose filters are truncated) wherever it falls,
    where sampling the rows kept 4 % to 350 % of it. Its first and last samples lie
    at the centre of the first and last ``n / size`` input samples, not on them:
    :meth:`image_freqs` and :meth:`image_times` give where every row and column lies.
    Shrinking averages the power, before ``output`` turns it into magnitude or dB
    and before ``top_db`` (the dB image is the log of the average power, which
    keeps energy, not the average of the dB values); enlarging interpolates the
    output values, after ``top_db``.
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
        band_mode="mean",
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
        self.sfreq = check_positive(sfreq, "sfreq")
        self.n_fft, self.win_length, self.hop_length = framing(
            self.sfreq, n_fft, hop_length, win_length, window_seconds, overlap_seconds
        )
        self.center = bool(center)
        self.pad_mode = pad_mode
        self.window_name = window
        self._window_np = window_array(window, self.win_length)
        self.register_buffer(
            "window", torch.as_tensor(self._window_np, dtype=torch.float32), persistent=False
        )
        self.freq_scale = _check_option("freq_scale", freq_scale, FREQ_SCALES)
        self.band_mode = _check_option("band_mode", band_mode, BAND_MODES)
        self.output = _check_option("output", output, OUTPUTS)
        self.scaling = _check_option("scaling", scaling, SCALINGS)
        self.normalize = _check_option("normalize", normalize, NORMALIZATIONS)
        self.channel_mode = _check_option("channel_mode", channel_mode, CHANNEL_MODES)
        self.detrend = _check_option("detrend", detrend, DETRENDS)
        self.top_db = check_number(top_db, "top_db", minimum=0, strict=True, allow_none=True)
        self.amin = check_positive(amin, "amin")
        self.ref = check_positive(ref, "ref")
        self.check_finite = bool(check_finite)
        if self.output == "complex" and self.freq_scale != "linear":
            raise ValueError(
                "output='complex' needs freq_scale='linear' (mel/log bands of "
                "complex values have no meaning)."
            )
        if resize is not None:
            if len(resize) != 2:
                raise ValueError(f"resize must be (height, width), got {resize!r}.")
            resize = (check_int(resize[0], "resize height"), check_int(resize[1], "resize width"))
        self.resize = resize
        self._set_frequency_axis(fmin, fmax, n_freqs)
        # dataset normalisation statistics (per image row), saved with the model
        self.register_buffer("norm_mean", torch.zeros(0))
        self.register_buffer("norm_std", torch.zeros(0))
        self._init_recording_tables()  # normalize="recording": the data's, never saved

    def _set_frequency_axis(self, fmin, fmax, n_freqs):
        self.fmin, self.fmax = check_band(self.sfreq, fmin, fmax)
        factor = one_sided_scale(self._window_np, self.sfreq, self.n_fft, self.scaling)
        # complex output is scaled by sqrt(factor): its squared modulus is the power
        self.register_buffer(
            "bin_scale", torch.as_tensor(np.sqrt(factor), dtype=torch.float32), persistent=False
        )
        self._bins, self._freqs, weights = frequency_axis(
            self.n_fft, self.sfreq, self.fmin, self.fmax, self.freq_scale, n_freqs, self.band_mode
        )
        self.register_buffer(
            "filterbank",
            torch.empty(0) if weights is None else torch.as_tensor(weights, dtype=torch.float32),
            persistent=False,
        )
        self.n_freqs = len(self._freqs)

    # ------------------------------------------------------------------ description
    def get_config(self):
        """Constructor arguments that rebuild this module (JSON-serialisable)."""
        window = list(self.window_name) if isinstance(self.window_name, tuple) else self.window_name
        return dict(
            sfreq=self.sfreq,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=window,
            center=self.center,
            pad_mode=self.pad_mode,
            fmin=self.fmin,
            fmax=self.fmax,
            freq_scale=self.freq_scale,
            n_freqs=None if self.freq_scale == "linear" else self.n_freqs,
            band_mode=self.band_mode,
            output=self.output,
            scaling=self.scaling,
            top_db=self.top_db,
            amin=self.amin,
            ref=self.ref,
            normalize=self.normalize,
            resize=None if self.resize is None else list(self.resize),
            channel_mode=self.channel_mode,
            detrend=self.detrend,
        )

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())

    # -------------------------------------------------------------------- compute
    def _validate(self, x):
        check_waveforms(x, self.channel_mode)
        self._check_length(x.shape[-1])
        if self.check_finite:
            check_finite_input(x)

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

    def _spectral(self, flat, inplace):
        """(B, n_times) float32 -> (B, F, T) power, or (B, 2, F, T) for complex."""
        spec, scale = self._stft(flat)
        if self.output == "complex":
            spec = spec * scale
            return torch.view_as_real(spec).permute(0, 3, 1, 2).contiguous()
        if inplace:
            power = spec.real.square().addcmul_(spec.imag, spec.imag).mul_(scale.square())
        else:
            power = (spec.real.square() + spec.imag.square()) * scale.square()
        del spec
        if self.freq_scale != "linear":
            power = torch.matmul(self.filterbank, power)
        return power

    def _from_power(self, power, inplace):
        """Power -> the ``output`` (power, magnitude or dB)."""
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

    def forward(self, x, *, index=None):
        """Compute the spectrograms of ``x`` (``(..., n_times)``), see the class doc.

        ``index`` (``normalize="recording"`` only): the index of each item of ``x`` in
        the data of :meth:`fit_recordings`, whose statistics standardise it.
        """
        self._validate(x)
        given, x = x, x.to(torch.float32)
        lead, n_times = x.shape[:-1], x.shape[-1]
        # in place unless autograd needs the intermediates: on the CPU, fresh large
        # temporaries cost more than the arithmetic (page faults)
        inplace = not (torch.is_grad_enabled() and x.requires_grad)
        if self.detrend is not None:
            x = detrend_waveforms(x, self.detrend)
        out = self._spectral(x.reshape(-1, n_times), inplace)
        out = out.reshape(*lead, *out.shape[1:])
        if self.channel_mode == "planes":  # (..., C, [2], F, T) -> (..., C*[2], F, T)
            out = out.flatten(-4, -3) if self.output == "complex" else out
        elif self.channel_mode == "stack":  # (..., C, [2], F, T) -> (..., [2], C*F, T)
            if self.output == "complex":
                out = out.transpose(-4, -3)
            out = out.flatten(-3, -2)
        if self.resize is not None:  # antialiased, on the power (see the Notes)
            out = shrink(out, self.resize)
        if self.output != "complex":
            out = self._from_power(out, inplace)
        dims = tuple(range(-self._image_ndim(), 0))
        if self.output == "db" and self.top_db is not None:
            peak = out.amax(dim=dims, keepdim=True)
            out = torch.maximum(out, peak - self.top_db)
        if self.resize is not None:
            out = enlarge(out, self.resize)
        if self.normalize == "item":
            out = standardize(out, dims)
        elif self.normalize == "dataset":
            self._check_fitted(
                out.shape[-2],
                f"The dataset statistics were fitted for images of {self.norm_mean.shape[0]} "
                f"rows, these have {out.shape[-2]}.",
            )
            out = (out - self.norm_mean) / self.norm_std
        elif self.normalize == "recording":
            out = self._normalize_by_recording(out, index)
        if self.check_finite:
            check_output(out, given)
        return out

    def to_images(self, x, index=None):
        """Waveform batch -> model input ``(batch, planes, height, width)``.

        ``x`` is ``(batch, n_times)`` in separate mode (one channel of one segment per
        item), ``(batch, n_channels, n_times)`` in planes and stack modes. ``index``:
        the items' indices for ``normalize="recording"`` (see :meth:`forward`).
        """
        expected = 2 if self.channel_mode == "separate" else 3
        if x.ndim != expected:
            raise ValueError(
                f"to_images expects {expected}-D input for channel_mode="
                f"{self.channel_mode!r}, got shape {tuple(x.shape)}."
            )
        out = self(x, index=index)
        return out if out.ndim == 4 else out.unsqueeze(1)

    def _fit_statistics(self, waveforms, batch_size):
        """Per-row (frequency) mean and std of the images (whatever ``normalize`` is)."""
        device = self.window.device

        def rows(batch):  # the image rows (frequencies) as features, on the device
            img = self(batch.to(device))
            return img.transpose(-2, -1).reshape(-1, img.shape[-2])

        mode, self.normalize = self.normalize, None  # fitted on the images before it
        try:
            mean, std = fit_moments(waveforms, batch_size, rows, dims=(0,))
        finally:
            self.normalize = mode
        std = np.maximum(std, 1e-6 * std.max() + 1e-30)
        self.norm_mean = torch.as_tensor(mean, dtype=torch.float32)[:, None].to(device)
        self.norm_std = torch.as_tensor(std, dtype=torch.float32)[:, None].to(device)

    # -------------------------------------------------------------- back to time
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

        return inverse_stft(self, z, length)
