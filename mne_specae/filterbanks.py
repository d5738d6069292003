"""Axes of the spectrogram images: framing and window, scaling of the FFT bins, linear
crops, log and mel bands (HTK mel scale, triangular filters), and the resizing of the
rows and columns."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from .checks import check_int, check_number, check_positive


def framing(sfreq, n_fft, hop_length, win_length, window_seconds, overlap_seconds):
    """``(n_fft, win_length, hop_length)`` in samples, checked, from the arguments of
    :class:`~mne_specae.Spectrogram` (``window_seconds``/``overlap_seconds`` win)."""
    if window_seconds is not None:
        window_seconds = check_positive(window_seconds, "window_seconds")
        win_length = max(2, int(round(window_seconds * sfreq)))
        overlap = check_number(0.0 if overlap_seconds is None else overlap_seconds,
                               "overlap_seconds", minimum=0)
        if overlap >= window_seconds:
            raise ValueError(f"overlap_seconds must be >= 0 and < window_seconds "
                             f"({window_seconds}), got {overlap_seconds!r}.")
        hop_length = max(1, win_length - int(round(overlap * sfreq)))
        n_fft = max(n_fft, win_length)
    elif overlap_seconds is not None:
        raise ValueError("overlap_seconds needs window_seconds.")
    n_fft = check_int(n_fft, "n_fft", 2)
    win_length = n_fft if win_length is None else check_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft}).")
    if hop_length is None:
        hop_length = max(1, win_length // 4)
    return n_fft, win_length, check_int(hop_length, "hop_length")


def window_array(window, win_length):
    """The periodic window (float64) :func:`scipy.signal.get_window` makes of ``window``."""
    from scipy.signal import get_window

    try:
        return np.asarray(get_window(window, win_length, fftbins=True), np.float64)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"Unknown window {window!r} ({err}). Use a name scipy.signal.get_window "
            "knows, e.g. 'hann', 'hamming', 'blackman', ('tukey', 0.25)."
        ) from err


def check_band(sfreq, fmin, fmax):
    """``(fmin, fmax)`` as floats (``None``: 0 and the Nyquist frequency), checked."""
    nyquist = sfreq / 2
    fmin = check_number(0.0 if fmin is None else fmin, "fmin", minimum=0)
    fmax = check_number(nyquist if fmax is None else fmax, "fmax", minimum=0)
    if fmax > nyquist + 1e-9:
        raise ValueError(
            f"fmax={fmax:g} Hz is above the Nyquist frequency ({nyquist:g} Hz) of "
            f"sfreq={sfreq:g} Hz. Lower fmax, or resample to at least "
            f"{2 * fmax:g} Hz (make_segments(raw, sfreq=...))."
        )
    if fmin >= fmax:
        raise ValueError(f"fmin ({fmin:g} Hz) must be below fmax ({fmax:g} Hz).")
    return fmin, fmax


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


def band_filterbank(bin_freqs, fmin, fmax, n_bands, scale):
    """Triangular band filters on a log or mel axis between ``fmin`` and ``fmax``.

    Parameters
    ----------
    bin_freqs : array, shape (n_bins,)
        Frequencies of the FFT bins in Hz.
    fmin, fmax : float
        Range of the bands in Hz (a log axis starting at 0 starts at the first
        non-zero bin).
    n_bands : int
        Number of bands.
    scale : ``"log"`` | ``"mel"``
        Spacing of the band edges.

    Returns
    -------
    weights : array, shape (n_bands, n_bins)
        Unnormalised triangles (peak 1), see :func:`triangular_filterbank`.
    centres : array, shape (n_bands,)
        Band centres in Hz.
    """
    if scale == "mel":
        edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_bands + 2))
    else:
        low = fmin if fmin > 0 else bin_freqs[1]
        edges = np.geomspace(low, fmax, n_bands + 2)
    return triangular_filterbank(bin_freqs, edges), edges[1:-1]


def one_sided_scale(window, sfreq, n_fft, scaling):
    """Factor of each one-sided FFT bin's squared modulus that gives the power.

    ``"density"``: V²/Hz (``1 / (sfreq * sum(w**2))``), ``"spectrum"``: V²
    (``1 / sum(w)**2``); every bin but DC and Nyquist doubled, as
    :func:`scipy.signal.spectrogram`.
    """
    window = np.asarray(window, np.float64)
    scale = 1.0 / (sfreq * np.sum(window**2)) if scaling == "density" else 1.0 / np.sum(window) ** 2
    factor = np.full(n_fft // 2 + 1, 2.0 * scale)
    factor[0] = scale
    if n_fft % 2 == 0:
        factor[-1] = scale
    return factor


def frequency_axis(n_fft, sfreq, fmin, fmax, freq_scale, n_freqs, band_mode="mean"):
    """Rows of a spectrogram: which bins, at which frequencies, through which filters.

    ``band_mode="mean"`` divides each band filter by the sum of its weights (a
    weighted average of the bins), ``"sum"`` keeps the triangles of peak 1 (a
    weighted sum); see :class:`~mne_specae.Spectrogram`.

    Returns
    -------
    bins : tuple of int
        ``(first, stop)`` slice of the one-sided FFT bins used.
    freqs : array
        Frequency of each output row in Hz (band centres for log and mel axes).
    weights : array, shape (n_bands, n_bins) | None
        The band filters (``None`` for a linear axis).
    """
    bin_freqs = np.fft.rfftfreq(n_fft, 1.0 / sfreq)
    if freq_scale == "linear":
        if n_freqs is not None:
            raise ValueError(
                "n_freqs sets the number of log or mel bands; with freq_scale='linear' "
                "the bins follow from n_fft, fmin and fmax (or use resize=(h, w))."
            )
        keep = np.flatnonzero((bin_freqs >= fmin - 1e-9) & (bin_freqs <= fmax + 1e-9))
        if keep.size == 0:
            raise ValueError(
                f"No FFT bin between fmin={fmin:g} and fmax={fmax:g} Hz "
                f"(bin spacing {bin_freqs[1]:g} Hz); widen the range or raise n_fft."
            )
        return (int(keep[0]), int(keep[-1]) + 1), bin_freqs[keep[0] : keep[-1] + 1], None
    n_bands = 64 if n_freqs is None else check_int(n_freqs, "n_freqs")
    weights, centres = band_filterbank(bin_freqs, fmin, fmax, n_bands, freq_scale)
    if band_mode == "mean":
        weights = weights / weights.sum(axis=1, keepdims=True)
    return (0, bin_freqs.size), centres, weights


# ------------------------------------------------------------------------ resizing
def resize_positions(n_in, n_out):
    """Where the ``n_out`` resized samples of an axis of ``n_in`` samples lie, as
    fractional indices of the input axis.

    Enlarging (``n_out > n_in``) interpolates with ``align_corners=True``: the first
    and last samples stay at ``0`` and ``n_in - 1``. Shrinking (``n_out < n_in``)
    averages: sample ``i`` is centred on the ``n_in / n_out`` input samples it
    covers, at ``(i + 0.5) * n_in / n_out - 0.5`` (``align_corners=False``).
    """
    if n_out > n_in:
        return np.linspace(0.0, n_in - 1.0, n_out)
    return (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5


def resize_axis_values(values, n_out):
    """The values of an axis (frequencies, times) at :func:`resize_positions`."""
    values = np.asarray(values, np.float64)
    if n_out == len(values):
        return values.copy()
    return np.interp(resize_positions(len(values), n_out), np.arange(len(values)), values)


def shrink(x, size):
    """Antialiased shrinking of the last two axes to at most ``size`` (an axis that is
    not longer than its target is kept): triangle filters as wide as two output
    samples, centred as :func:`resize_positions` says, each normalised to sum 1
    (:func:`torch.nn.functional.interpolate`, bilinear, ``antialias=True``)."""
    shape = x.shape
    target = tuple(min(s, t) for s, t in zip(shape[-2:], size))
    if target == tuple(shape[-2:]):
        return x
    out = F.interpolate(x.reshape(-1, 1, *shape[-2:]), size=target, mode="bilinear",
                        align_corners=False, antialias=True)
    return out.reshape(*shape[:-2], *target)


def enlarge(x, size):
    """Bilinear enlarging (``align_corners=True``) of the last two axes to ``size``
    (every axis must already be at most its target)."""
    shape = x.shape
    if tuple(shape[-2:]) == tuple(size):
        return x
    out = F.interpolate(x.reshape(-1, 1, *shape[-2:]), size=tuple(size), mode="bilinear",
                        align_corners=True)
    return out.reshape(*shape[:-2], *size)


class ImageAxes:
    """Shapes and axes of the images of a :class:`~mne_specae.Spectrogram` (a mixin:
    it reads the module's framing, frequency rows, ``resize`` and ``channel_mode``)."""

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

    def image_freqs(self):
        """Frequencies (Hz) of the image rows, after ``resize``.

        Returns
        -------
        freqs : array, shape (height,)
            :attr:`freqs` when ``resize`` is not set (in stack mode: the rows of each
            channel); otherwise the frequency at which each resized row lies,
            interpolated between the rows' frequencies at :func:`resize_positions`
            (see the Notes of :class:`~mne_specae.Spectrogram`).
        """
        if self.resize is None:
            return self.freqs
        if self.channel_mode == "stack":
            raise ValueError("Rows stacked from several channels and resized together "
                             "have no one frequency axis; use channel_mode='separate' "
                             "or 'planes', or resize=None.")
        return resize_axis_values(self._freqs, self.resize[0])

    def image_times(self, n_times, tmin=0.0):
        """Times (s) of the image columns for ``n_times`` samples, after ``resize``.

        Parameters
        ----------
        n_times : int
            Samples per waveform.
        tmin : float
            Time of the first sample in s.

        Returns
        -------
        times : array, shape (width,)
            :meth:`times` when ``resize`` is not set; otherwise the time at which each
            resized column lies (see :meth:`image_freqs`).
        """
        times = self.times(n_times, tmin)
        return times if self.resize is None else resize_axis_values(times, self.resize[1])

    def _check_length(self, n_times):
        if n_times < self.n_fft:
            raise ValueError(
                f"n_fft ({self.n_fft}) is longer than the segment ({n_times} samples); "
                "lower n_fft or use longer segments."
            )
