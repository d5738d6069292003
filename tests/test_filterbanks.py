"""Frequency axes (crops, mel and log bands, band modes) and resizing of the
spectrogram images, against independent references (spectrogram_reference.py) and
signals of known content (white noise, tones, an exponential ramp).
"""

import numpy as np
import pytest
import torch
from spectrogram_reference import (
    N_TIMES,
    SFREQ,
    _t,
    antialias_shrink,
    assert_rel_close,
    bilinear_align_corners,
    htk_hz,
    htk_mel,
    load_segments,
    power_to_db,
    scipy_power,
    torchaudio_triangles,
)

from mne_specae import Spectrogram


@pytest.fixture(scope="module")
def segments(raw_by_name):
    """Real 5 s segments at 512 Hz, float64 (n_segments, n_channels, 2560), by type."""
    return load_segments(raw_by_name)


# ---------------------------------------------------------------------- 4. fmin/fmax
@pytest.mark.parametrize("fmin, fmax", [(5.0, 40.0), (0.0, 100.0), (30.0, 256.0), (1.0, 3.0)])
@pytest.mark.parametrize("output", ["power", "db", "complex"])
def test_frequency_crop_keeps_rows(segments, fmin, fmax, output):
    x = _t(segments["emg"][0])
    full = Spectrogram(SFREQ, n_fft=256, hop_length=32, output=output)
    crop = Spectrogram(SFREQ, n_fft=256, hop_length=32, output=output, fmin=fmin, fmax=fmax)
    keep = (full.freqs >= fmin) & (full.freqs <= fmax)
    np.testing.assert_array_equal(crop.freqs, full.freqs[keep])
    assert crop.freqs.min() >= fmin and crop.freqs.max() <= fmax
    bins = np.arange(129) * 2.0  # 2 Hz bins
    assert len(crop.freqs) == np.sum((bins >= fmin) & (bins <= fmax))
    a, b = full(x).numpy(), crop(x).numpy()
    np.testing.assert_allclose(b, a[..., keep, :], rtol=1e-6, atol=0)


# ------------------------------------------------------------------------- 5. mel, log
@pytest.mark.parametrize("fmin, fmax, n_mels", [(0.0, 256.0, 64), (20.0, 200.0, 48)])
@pytest.mark.parametrize("band_mode", ["sum", "mean"])
def test_mel_equals_htk_triangles(segments, fmin, fmax, n_mels, band_mode):
    """``"sum"``: torchaudio's triangles (peak 1) as they are; ``"mean"``: the same
    triangles divided by their sums (a weighted average of the bins)."""
    x = np.concatenate([segments["ecg"][0], segments["eeg"][0, :2], segments["emg"][0, :2]])
    kw = dict(
        n_fft=256,
        hop_length=32,
        center=False,
        freq_scale="mel",
        fmin=fmin,
        fmax=fmax,
        n_freqs=n_mels,
        band_mode=band_mode,
    )
    sg = Spectrogram(SFREQ, **kw)
    bin_freqs = np.fft.rfftfreq(256, 1 / SFREQ)
    f_pts = htk_hz(np.linspace(htk_mel(fmin), htk_mel(fmax), n_mels + 2))
    # every triangle side spans at least one bin here: torchaudio's filters apply as is
    assert np.diff(f_pts).min() >= bin_freqs[1]
    fb = torchaudio_triangles(bin_freqs, f_pts)  # (n_bins, n_mels)
    if band_mode == "mean":
        assert fb.sum(axis=0).min() > 1.5  # the normalisation changes every filter
        fb = fb / fb.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(sg.filterbank.numpy(), fb.T, atol=1e-6)
    np.testing.assert_allclose(sg.freqs, f_pts[1:-1], rtol=1e-10)
    _, _, p = scipy_power(x)
    expected = np.einsum("fm,...ft->...mt", fb, p)
    out = sg(_t(x)).numpy()
    assert out.shape == (len(x), n_mels, 73)
    assert_rel_close(out, expected)
    # dB of the mel power, same filters
    db = Spectrogram(SFREQ, output="db", top_db=60.0, **kw)
    expected_db = np.stack([power_to_db(item, amin=1e-30, top_db=60.0) for item in expected])
    np.testing.assert_allclose(db(_t(x)).numpy(), expected_db, atol=0.01)


def test_mel_filterbank_equals_torchaudio():
    torchaudio = pytest.importorskip("torchaudio")
    for fmin, fmax, n_mels in [(0.0, 256.0, 64), (20.0, 200.0, 48)]:
        fb = (
            torchaudio.functional.melscale_fbanks(
                n_freqs=129,
                f_min=fmin,
                f_max=fmax,
                n_mels=n_mels,
                sample_rate=int(SFREQ),
                norm=None,
                mel_scale="htk",
            )
            .numpy()
            .T
        )
        for band_mode, expected in (("sum", fb), ("mean", fb / fb.sum(1, keepdims=True))):
            sg = Spectrogram(
                SFREQ,
                n_fft=256,
                freq_scale="mel",
                fmin=fmin,
                fmax=fmax,
                n_freqs=n_mels,
                band_mode=band_mode,
            )
            np.testing.assert_allclose(sg.filterbank.numpy(), expected, atol=1e-6)


def test_log_axis_triangles_and_interpolation(segments):
    """Log axis: geometric centres; bands narrower than the bins interpolate the power.

    The first bands of a 64-band axis from 2 Hz (first non-zero bin) are far narrower
    than the 2 Hz bins: each takes the linear interpolation of the power at its centre
    (weights sum to 1, a weighted average) in both band modes; bands whose sides span a
    bin or more are the plain triangles with ``band_mode="sum"`` (weighted sums, like
    the mel filters) and the triangles divided by their sums with ``"mean"``.
    """
    x = np.concatenate([segments["eeg"][0, :4], segments["ecg"][1]])
    kw = dict(n_fft=256, hop_length=32, center=False, freq_scale="log", n_freqs=64)
    sg = Spectrogram(SFREQ, band_mode="sum", **kw)
    mean = Spectrogram(SFREQ, **kw)  # the default
    assert mean.band_mode == "mean"
    edges = np.geomspace(2.0, 256.0, 66)
    np.testing.assert_allclose(sg.freqs, edges[1:-1], rtol=1e-10)
    np.testing.assert_array_equal(mean.freqs, sg.freqs)
    ratios = sg.freqs[1:] / sg.freqs[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    bin_freqs = np.fft.rfftfreq(256, 1 / SFREQ)
    spacing = bin_freqs[1]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    narrow = (centre - lower < spacing) & (upper - centre < spacing)
    wide = (centre - lower >= spacing) & (upper - centre >= spacing)
    assert narrow.sum() >= 20 and wide.sum() >= 20
    fb, fb_mean = sg.filterbank.numpy(), mean.filterbank.numpy()
    triangles = torchaudio_triangles(bin_freqs, edges).T
    np.testing.assert_allclose(fb[wide], triangles[wide], atol=1e-6)
    np.testing.assert_allclose(
        fb_mean[wide], triangles[wide] / triangles[wide].sum(axis=1, keepdims=True), atol=1e-6
    )
    hats = np.stack(
        [np.interp(bin_freqs, [c - spacing, c, c + spacing], [0, 1, 0]) for c in centre[narrow]]
    )
    np.testing.assert_allclose(fb[narrow], hats, atol=1e-6)
    np.testing.assert_allclose(fb_mean[narrow], hats, atol=1e-6)
    np.testing.assert_allclose(fb[narrow].sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(fb_mean.sum(axis=1), 1.0, atol=1e-6)
    # on the real signals
    _, _, p = scipy_power(x)
    out, out_mean = sg(_t(x)).numpy(), mean(_t(x)).numpy()
    interpolated = np.stack(
        [[np.interp(centre[narrow], bin_freqs, frame) for frame in item.T] for item in p]
    ).transpose(0, 2, 1)
    assert_rel_close(out[:, narrow], interpolated)
    assert_rel_close(out_mean[:, narrow], interpolated)
    assert_rel_close(out[:, wide], np.einsum("mf,...ft->...mt", triangles[wide], p))
    assert_rel_close(out_mean[:, wide], np.einsum("mf,...ft->...mt", fb_mean[wide], p))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(freq_scale="log"),
        dict(freq_scale="log", n_freqs=96, fmin=1.0, fmax=100.0),
        dict(freq_scale="mel", n_fft=64, n_freqs=64),
        dict(freq_scale="mel", n_fft=128, n_freqs=80, fmin=5.0),
    ],
)
@pytest.mark.parametrize("band_mode", ["sum", "mean"])
def test_no_empty_or_nearly_empty_band(segments, kwargs, band_mode):
    """Narrow bands get interpolation weights: no empty or nearly empty row, no dark
    stripes.

    Before the fix a band that caught one bin near its edge kept a tiny weight (0.003
    for the 12.9 Hz band of the default log axis), which showed as a 20 dB dark stripe
    in the log spectrograms of the EEG below. With ``band_mode="sum"`` every row sums
    to >= 1 and peaks above 0.5; with ``"mean"`` every row sums to 1 (an empty band
    would be 0 / 0).
    """
    kwargs = {"n_fft": 256, "hop_length": 32, "band_mode": band_mode, **kwargs}
    sg = Spectrogram(SFREQ, output="db", **kwargs)
    fb = sg.filterbank.numpy()
    assert fb.shape == (sg.n_freqs, kwargs["n_fft"] // 2 + 1)
    assert (fb >= 0).all()
    if band_mode == "sum":
        assert fb.max(axis=1).min() > 0.5
        assert fb.sum(axis=1).min() >= 1.0 - 1e-6
    else:
        np.testing.assert_allclose(fb.sum(axis=1), 1.0, atol=1e-6)
    # the average EEG spectrum on this axis has no band far below both neighbours
    spectrum = sg(_t(segments["eeg"][:2])).numpy().mean(axis=(0, 1, 3))
    dip = np.minimum(spectrum[:-2], spectrum[2:]) - spectrum[1:-1]
    assert dip.max() < 8.0, f"band {np.argmax(dip) + 1} is {dip.max():.1f} dB below both"


@pytest.mark.parametrize("freq_scale", ["log", "mel"])
def test_band_mode_mean_is_a_density_flat_for_white_noise(freq_scale):
    """White noise of variance sigma² has the one-sided density 2 sigma² / sfreq at
    every frequency. Bands that average the bins (``"mean"``, the default) read that
    density in every band; bands that sum them (``"sum"``) read the density times a
    number of bins that grows with the band's width.

    Measured (seed 0, 240 segments of 5 s, 32 bands 2-200 Hz): ``"mean"`` within
    0.07 dB of the density in every band (log and mel); ``"sum"`` (the only
    behaviour of the code before ``band_mode``) rises 10.9 dB across the log bands
    and reads 4.2 to 5.3 dB above the density on the mel bands.
    """
    rng = np.random.default_rng(0)
    sigma = 2e-5  # V
    x = torch.as_tensor(sigma * rng.standard_normal((240, N_TIMES)), dtype=torch.float32)
    density = 2 * sigma**2 / SFREQ
    kw = dict(n_fft=256, hop_length=64, freq_scale=freq_scale, fmin=2.0, fmax=200.0, n_freqs=32)
    level = {}
    for band_mode in ("mean", "sum"):
        sg = Spectrogram(SFREQ, band_mode=band_mode, **kw)
        power = sg(x).numpy().astype(np.float64).mean(axis=(0, 2))  # (n_bands,)
        assert power.shape == (32,)
        level[band_mode] = 10 * np.log10(power / density)  # dB re the density
    mean, summed = level["mean"], level["sum"]
    assert np.ptp(mean) < 0.5, f"'mean' bands span {np.ptp(mean):.2f} dB"
    assert np.abs(mean).max() < 0.2  # equals the density within 5 %
    assert summed.max() > 3.0  # summed bins read above the density
    if freq_scale == "log":
        assert summed[-4:].mean() - summed[:4].mean() > 8.0  # and rise with the width
    # spectrum scaling, "mean": V² per bin, the density times the window's bin width
    spectrum = Spectrogram(SFREQ, scaling="spectrum", **kw)(x).numpy().astype(np.float64)
    hann = np.hanning(257)[:-1]
    per_bin = density * SFREQ * np.sum(hann**2) / np.sum(hann) ** 2
    np.testing.assert_allclose(spectrum.mean(axis=(0, 2)), per_bin, rtol=0.05)


def test_band_mode_config_round_trip_and_legacy_files():
    """band_mode is in the config (model files rebuild it) and model files of format 1
    (written when bands were always sums) load with ``"sum"``."""
    from mne_specae.estimator._build import build_input_stage
    from mne_specae.estimator._model_file import _upgrade_from_v1

    sg = Spectrogram(SFREQ, freq_scale="log", n_freqs=16, band_mode="sum")
    config = sg.get_config()
    assert config["band_mode"] == "sum"
    clone = build_input_stage("Spectrogram", config)
    assert clone.band_mode == "sum"
    torch.testing.assert_close(clone.filterbank, sg.filterbank, rtol=0, atol=0)
    assert Spectrogram(SFREQ).get_config()["band_mode"] == "mean"
    old = {k: v for k, v in config.items() if k != "band_mode"}
    state = {"params": {"model": "2d"}, "fitted": {}, "input_stage_config": dict(old)}
    _upgrade_from_v1(state)
    assert state["input_stage_config"]["band_mode"] == "sum"
    assert build_input_stage("Spectrogram", state["input_stage_config"]).band_mode == "sum"
    with pytest.raises(ValueError, match="Invalid value for the 'band_mode' parameter"):
        Spectrogram(SFREQ, freq_scale="log", band_mode="max")


# ----------------------------------------------------------------------------- 7. resize
def test_resize_enlarging_matches_bilinear_align_corners(segments):
    x = _t(segments["ecg"][0])
    plain = Spectrogram(SFREQ, n_fft=256, hop_length=32, output="db")(x).numpy()
    sg = Spectrogram(SFREQ, n_fft=256, hop_length=32, output="db", resize=(200, 150))
    out = sg(x).numpy()
    assert out.shape == (2, 200, 150)
    for r, c in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        np.testing.assert_allclose(out[:, r, c], plain[:, r, c], rtol=1e-6)
    np.testing.assert_allclose(
        out, bilinear_align_corners(plain.astype(np.float64), 200, 150), atol=1e-3
    )
    np.testing.assert_allclose(sg.image_freqs(), np.linspace(0, 256, 200))
    np.testing.assert_allclose(sg.image_times(N_TIMES), np.linspace(0, 80 * 32 / SFREQ, 150))


def test_resize_shrinking_averages_the_power(segments):
    """Shrinking is an antialiased average of the power (triangles as wide as two output
    samples, normalised, PIL's centres), then dB; an axis that grows in the same resize
    is then interpolated bilinearly in dB. The code before averaged nothing: it sampled
    the dB image bilinearly (align_corners=True), 2.4 dB from this reference at the
    median, 109 dB at worst (a sampled deep notch)."""
    x = _t(segments["ecg"][0])
    kw = dict(n_fft=256, hop_length=32)
    power = Spectrogram(SFREQ, **kw)(x).numpy().astype(np.float64)  # (2, 129, 81)

    def db(p):
        return 10 * np.log10(np.maximum(p, 1e-30))

    small = Spectrogram(SFREQ, output="db", resize=(40, 30), **kw)(x).numpy()
    np.testing.assert_allclose(small, db(antialias_shrink(power, 40, 30)), atol=1e-3)
    mixed = Spectrogram(SFREQ, output="db", resize=(200, 30), **kw)(x).numpy()
    expected = bilinear_align_corners(db(antialias_shrink(power, 129, 30)), 200, 30)
    np.testing.assert_allclose(mixed, expected, atol=1e-3)
    # magnitude: the root of the average power (RMS), not the average magnitude
    mag = Spectrogram(SFREQ, output="magnitude", resize=(40, 30), **kw)(x).numpy()
    np.testing.assert_allclose(
        mag, np.sqrt(antialias_shrink(power, 40, 30)), rtol=1e-4, atol=1e-6 * mag.max()
    )


def test_shrinking_keeps_the_energy_of_a_tone_wherever_it_falls():
    """28 tones from 3 to 253 Hz, 513 rows (0.5 Hz bins) shrunk 8x to 64 rows.

    The energy of each frame (the sum over the rows, times 513 / 64 once shrunk) stays
    within 0.1 % for the tones inside the band and within 10 % for the two outermost
    (the truncated filters of the first and last rows weigh their few bins a little
    more); the resized peak keeps 12-27 % of the tone's peak (a spread of 2.2x). The code
    before sampled the rows: energy 4 % to 346 %, peak 0.9 % to 84 % (92x).
    """
    t = np.arange(N_TIMES) / SFREQ
    freqs = np.linspace(3.0, 253.0, 28) + 0.13
    x = _t(1e-3 * np.sin(2 * np.pi * freqs[:, None] * t))
    kw = dict(n_fft=1024, hop_length=256)
    plain = Spectrogram(SFREQ, **kw)(x).numpy().astype(np.float64)
    n_rows, n_frames = plain.shape[-2:]
    assert n_rows == 513
    sg = Spectrogram(SFREQ, resize=(64, n_frames), **kw)
    small = sg(x).numpy().astype(np.float64)
    assert small.shape == (28, 64, n_frames)
    energy = (small.sum(axis=-2) * n_rows / 64 / plain.sum(axis=-2)).mean(axis=-1)
    np.testing.assert_allclose(energy[1:-1], 1.0, atol=1e-3)
    np.testing.assert_allclose(energy, 1.0, atol=0.12)
    peak = (small.max(axis=-2) / plain.max(axis=-2)).mean(axis=-1)
    assert peak.max() / peak.min() < 2.6
    # each tone peaks in the resized row whose frequency is nearest to it
    rows = sg.image_freqs()
    assert rows.shape == (64,)
    spacing = 256.5 / 64  # Hz between resized rows (513 rows of 0.5 Hz)
    np.testing.assert_allclose(np.diff(rows), spacing, rtol=1e-9)
    np.testing.assert_allclose(rows[0], (spacing - 0.5) / 2, rtol=1e-9)  # 0.5 * s - 0.5 bins
    nearest = rows[small.mean(axis=-1).argmax(axis=-1)]
    assert np.abs(nearest - freqs).max() <= spacing / 2 + 1e-9
    # dB: the log of the averaged power
    db = Spectrogram(SFREQ, resize=(64, n_frames), output="db", **kw)(x).numpy()
    np.testing.assert_allclose(db, 10 * np.log10(np.maximum(small, 1e-30)), atol=1e-3)


def test_resize_keeps_a_linear_ramp_linear():
    """An exponentially growing sine has a dB spectrogram that is linear in time.

    x[n] = r**n sin(2 pi 64 n / 512) with hop 32: each frame is the previous one times
    r**32 (64 Hz * 32 / 512 Hz = 4 whole cycles per hop), so every row of the dB image
    rises by 20 log10(r**32) per frame, exactly. Enlarging (bilinear) must keep each
    row a straight line, with the slope scaled by (n_frames - 1) / (width - 1).
    Shrinking averages the power: the columns whose filters lie inside the image stay
    on the line, at the times :meth:`Spectrogram.image_times` gives (plus the small
    constant by which the average of an exponential exceeds its centre value).
    """
    n = np.arange(N_TIMES)
    r = 10 ** (40 / 20 / N_TIMES)  # +40 dB over the segment
    x = 1e-3 * r**n * np.sin(2 * np.pi * 64.0 * n / SFREQ)
    kwargs = dict(n_fft=256, hop_length=32, center=False, output="db", fmin=58.0, fmax=70.0)
    sg = Spectrogram(SFREQ, **kwargs)
    plain = sg(_t(x)).numpy().astype(np.float64)
    assert plain.shape == (7, 73)
    step = 20 * np.log10(r**32)
    np.testing.assert_allclose(np.diff(plain, axis=-1), step, atol=2e-3)
    out = Spectrogram(SFREQ, resize=(20, 150), **kwargs)(_t(x)).numpy().astype(np.float64)
    assert out.shape == (20, 150)
    np.testing.assert_allclose(np.diff(out, axis=-1), step * 72 / 149, atol=2e-3)
    np.testing.assert_allclose(out[[0, -1]][:, [0, -1]], plain[[0, -1]][:, [0, -1]], atol=1e-4)
    small = Spectrogram(SFREQ, resize=(20, 36), **kwargs)
    out = small(_t(x)).numpy().astype(np.float64)
    frames = (small.image_times(N_TIMES) - sg.times(N_TIMES)[0]) * SFREQ / 32
    np.testing.assert_allclose(frames, (np.arange(36) + 0.5) * 73 / 36 - 0.5, atol=1e-9)
    on_line = out[:, 1:-1] - step * frames[1:-1]  # each row's level at frame 0
    first = np.interp(np.linspace(0, 6, 20), np.arange(7), plain[:, 0])  # rows enlarged
    np.testing.assert_allclose(on_line - first[:, None], 0.02, atol=0.02)
