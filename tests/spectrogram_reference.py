"""Independent references for the spectrogram tests (imported by test_spectrogram.py,
test_filterbanks.py and test_tfr.py; not collected: no ``test_`` prefix).

:func:`scipy.signal.spectrogram` for the power, librosa's ``power_to_db`` definition,
torchaudio's ``melscale_fbanks`` triangles and the bilinear and antialiased resizes
written out in numpy.
"""

import mne
import numpy as np
import scipy.signal
import torch

from mne_specae import make_segments

SFREQ = 512.0
N_TIMES = 2560  # 5 s segments at 512 Hz
RECORDINGS = {
    "ecg": "ecg/mitdb/100",
    "eeg": "eeg/eegmat/Subject00_1",
    "emg": "emg/uci_lower_limb/3Amar",
}


def load_segments(raw_by_name):
    """Real 5 s segments at 512 Hz, float64 (n_segments, n_channels, 2560), by type."""
    return {
        kind: make_segments(raw_by_name[name].copy().crop(0, 30)).get_data()
        for kind, name in RECORDINGS.items()
    }


def load_ecg_epochs(raw_by_name):
    """60 s of MIT-BIH record 100 (MLII, V5): 12 segments, the third dropped (BAD)."""
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 60)
    raw.set_annotations(mne.Annotations([12.0], [1.0], ["BAD_noise"]))
    return make_segments(raw)


def _t(x):
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)


def scipy_power(
    x, n_fft=256, hop=32, win_length=None, window="hann", center=False, scaling="density"
):
    """scipy.signal.spectrogram with the module's framing: (f, t, power (..., F, T)).

    ``center=True``: scipy on the signal reflect-padded by ``n_fft // 2`` each side.
    torch.stft centres a shorter window in its ``n_fft`` frame, so for
    ``win_length < n_fft`` scipy runs on the signal shifted by ``(n_fft - win) // 2``.
    """
    win_length = n_fft if win_length is None else win_length
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        x = np.pad(x, pad, mode="reflect")
    left = (n_fft - win_length) // 2
    return scipy.signal.spectrogram(
        x[..., left:],
        SFREQ,
        window=window,
        nperseg=win_length,
        noverlap=win_length - hop,
        nfft=n_fft,
        detrend=False,
        scaling=scaling,
        mode="psd",
    )


def assert_rel_close(actual, expected, rtol=1e-4):
    """|actual - expected| <= rtol * max|expected|, per item (leading axes but 2)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    axes = (-2, -1)
    err = np.abs(actual - expected).max(axis=axes)
    scale = np.abs(expected).max(axis=axes)
    assert (scale > 0).all()
    worst = float((err / scale).max())
    assert worst <= rtol, f"max error {worst:.2e} of the peak (rtol {rtol:.0e})"


def power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0):
    """librosa.power_to_db, as documented, for one item."""
    log_spec = 10.0 * np.log10(np.maximum(amin, power))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def htk_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, float) / 700.0)


def htk_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, float) / 2595.0) - 1.0)


def torchaudio_triangles(all_freqs, f_pts):
    """torchaudio.functional.melscale_fbanks(norm=None) body: (n_bins, n_filters)."""
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down_slopes = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up_slopes = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down_slopes, up_slopes))


def bilinear_align_corners(img, height, width):
    """Bilinear resize of the last two axes with align_corners=True, in numpy."""
    rows = np.linspace(0, img.shape[-2] - 1, height)
    cols = np.linspace(0, img.shape[-1] - 1, width)
    flat = img.reshape(-1, *img.shape[-2:])
    tmp = np.stack([[np.interp(cols, np.arange(img.shape[-1]), r) for r in im] for im in flat])
    out = np.stack(
        [
            np.stack([np.interp(rows, np.arange(img.shape[-2]), c) for c in im.T], axis=1)
            for im in tmp
        ]
    )
    return out.reshape(*img.shape[:-2], height, width)


def antialias_matrix(n_in, n_out):
    """(n_out, n_in) weights of an antialiased shrink, PIL's way: output ``i`` is centred
    at ``(i + 0.5) * s - 0.5`` (``s = n_in / n_out``), triangle of half-width ``s``,
    truncated at the edges, each row normalised to sum 1."""
    s = n_in / n_out
    centres = (np.arange(n_out) + 0.5) * s - 0.5
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centres[:, None]) / s)
    return w / w.sum(axis=1, keepdims=True)


def antialias_shrink(img, height, width):
    """Antialiased shrink of the last two axes (each must shrink), in numpy float64."""
    rows = antialias_matrix(img.shape[-2], height)
    cols = antialias_matrix(img.shape[-1], width)
    return np.einsum("hf,...ft,wt->...hw", rows, np.asarray(img, np.float64), cols)
