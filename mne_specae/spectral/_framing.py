"""Where the pixels of a spectrogram lie: STFT framing and window, frames, image shapes,
and the resizing of rows and columns (antialiased when shrinking)."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from ..utils._checks import check_int, check_number, check_positive


def framing(sfreq, n_fft, hop_length, win_length, window_seconds, overlap_seconds):
    """``(n_fft, win_length, hop_length)`` in samples, checked, from the arguments of
    :class:`~mne_specae.Spectrogram` (``window_seconds``/``overlap_seconds`` win)."""
    if window_seconds is not None:
        window_seconds = check_positive(window_seconds, "window_seconds")
        win_length = max(2, int(round(window_seconds * sfreq)))
        overlap = check_number(
            0.0 if overlap_seconds is None else overlap_seconds, "overlap_seconds", minimum=0
        )
        if overlap >= window_seconds:
            raise ValueError(
                f"overlap_seconds must be >= 0 and < window_seconds "
                f"({window_seconds}), got {overlap_seconds!r}."
            )
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
    out = F.interpolate(
        x.reshape(-1, 1, *shape[-2:]),
        size=target,
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    return out.reshape(*shape[:-2], *target)


def enlarge(x, size):
    """Bilinear enlarging (``align_corners=True``) of the last two axes to ``size``
    (every axis must already be at most its target)."""
    shape = x.shape
    if tuple(shape[-2:]) == tuple(size):
        return x
    out = F.interpolate(
        x.reshape(-1, 1, *shape[-2:]), size=tuple(size), mode="bilinear", align_corners=True
    )
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
            raise ValueError(
                "Rows stacked from several channels and resized together "
                "have no one frequency axis; use channel_mode='separate' "
                "or 'planes', or resize=None."
            )
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
