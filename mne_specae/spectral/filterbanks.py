"""Frequency rows of the spectrograms: the band checked against the Nyquist frequency,
scaling of the FFT bins, linear crops, log and mel bands (HTK mel scale, triangular
filters, averaged or summed)."""

from __future__ import annotations

import numpy as np

from ..utils._checks import check_int, check_number


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
