"""compute_spectrogram: MNE objects in and out, picks, devices, on the real recordings."""

import mne
import numpy as np
import pytest
import scipy.signal
import torch
from spectrogram_reference import (
    N_TIMES,
    SFREQ,
    _t,
    assert_rel_close,
    htk_hz,
    htk_mel,
    load_ecg_epochs,
    load_segments,
    scipy_power,
)

from mne_specae import Spectrogram, compute_spectrogram, griffin_lim, resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def segments(raw_by_name):
    """Real 5 s segments at 512 Hz, float64 (n_segments, n_channels, 2560), by type."""
    return load_segments(raw_by_name)


@pytest.fixture(scope="module")
def ecg_epochs(raw_by_name):
    """60 s of MIT-BIH record 100 (MLII, V5): 12 segments, the third dropped (BAD)."""
    return load_ecg_epochs(raw_by_name)


# ------------------------------------------------------------ 10. compute_spectrogram
def test_compute_spectrogram_epochs_tfr(ecg_epochs):
    epochs = ecg_epochs
    assert len(epochs) == 11 and epochs.drop_log[2] == ("BAD_noise",)
    tfr = compute_spectrogram(epochs, n_fft=256, hop_length=64, output="db", device="cpu")
    assert isinstance(tfr, mne.time_frequency.EpochsTFRArray)
    assert tfr.data.dtype == np.float32
    assert tfr.data.shape == (11, 2, 129, 41)
    assert tfr.method == "stft"
    np.testing.assert_allclose(tfr.freqs, np.arange(129) * 2.0)
    np.testing.assert_allclose(tfr.times, np.arange(41) * 64 / SFREQ, atol=1e-9)
    assert tfr.ch_names == ["MLII", "V5"] == epochs.ch_names
    assert tfr.get_channel_types() == ["ecg", "ecg"]
    np.testing.assert_array_equal(tfr.events, epochs.events)
    assert tfr.event_id == epochs.event_id == {"ecg": 1}
    assert tfr.metadata.equals(epochs.metadata)
    assert tfr.drop_log == epochs.drop_log
    np.testing.assert_array_equal(tfr.selection, epochs.selection)
    # values: scipy power in dB (10 log10, ref 1 V^2/Hz), bins within 60 dB of the peak
    x = epochs.get_data()
    _, _, p = scipy_power(x, hop=64, center=True)
    expected = 10 * np.log10(np.maximum(p, 1e-30))
    strong = expected >= expected.max(axis=(-2, -1), keepdims=True) - 60
    np.testing.assert_allclose(tfr.data[strong], expected[strong], atol=0.01)
    # MNE's own tools work on it
    avg = tfr.average()
    assert isinstance(avg, mne.time_frequency.AverageTFR)
    np.testing.assert_allclose(avg.data, tfr.data.mean(axis=0), rtol=1e-5)
    later = tfr["onset > 10"]
    np.testing.assert_allclose(later.metadata.onset, np.arange(15.0, 60.0, 5.0))
    np.testing.assert_array_equal(later.data, tfr.data[2:])


@pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")  # MNE + pandas 3.1
def test_compute_spectrogram_plot_and_save(ecg_epochs, tmp_path):
    import matplotlib.pyplot as plt

    tfr = compute_spectrogram(
        ecg_epochs, n_fft=256, hop_length=64, output="power", fmax=60.0, device="cpu"
    )
    figs = tfr[0].plot(picks=[0], dB=True, show=False)
    assert isinstance(figs, list) and len(figs) == 1
    assert all(isinstance(fig, plt.Figure) for fig in figs)
    figs += tfr.average().plot(picks="all", show=False)
    assert len(figs) == 3
    for fig in figs:
        plt.close(fig)
    fname = tmp_path / "ecg-tfr.h5"
    tfr.save(fname)
    back = mne.time_frequency.read_tfrs(fname)
    assert isinstance(back, mne.time_frequency.EpochsTFR)
    np.testing.assert_array_equal(back.data, tfr.data)
    np.testing.assert_allclose(back.freqs, tfr.freqs)
    np.testing.assert_allclose(back.times, tfr.times)
    assert back.metadata.equals(tfr.metadata)
    assert back.method == "stft" and back.drop_log == tfr.drop_log
    assert len(back["onset > 10"]) == 9


def test_compute_spectrogram_complex_and_picks(ecg_epochs):
    power = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, device="cpu")
    cplx = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, output="complex", device="cpu")
    assert cplx.data.dtype == np.complex64 and cplx.data.shape == power.data.shape
    np.testing.assert_allclose(
        np.abs(cplx.data) ** 2, power.data, rtol=1e-4, atol=1e-6 * power.data.max()
    )
    v5 = compute_spectrogram(ecg_epochs, picks=["V5"], n_fft=256, hop_length=64, device="cpu")
    assert v5.ch_names == ["V5"]
    np.testing.assert_array_equal(v5.data[:, 0], power.data[:, 1])
    # batches of any size give the same numbers
    small = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, batch_size=3, device="cpu")
    np.testing.assert_array_equal(small.data, power.data)


def test_compute_spectrogram_default_picks_and_tmin(raw_by_name):
    ecg = raw_by_name["ecg/mitdb/100"].get_data(start=0, stop=360 * 20)
    emg = raw_by_name["emg/uci_lower_limb/3Amar"].copy().crop(0, 19.999).resample(360.0)
    emg = emg.get_data()[:2, : ecg.shape[1]]
    info = mne.create_info(
        ["MLII", "V5", "RF", "BF", "STI", "MISC"],
        360.0,
        ["ecg", "ecg", "emg", "emg", "stim", "misc"],
    )
    data = np.concatenate([ecg, emg, np.zeros((1, ecg.shape[1])), ecg[:1]])
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.info["bads"] = ["V5"]
    events = mne.make_fixed_length_events(raw, duration=4.0)[1:]
    epochs = mne.Epochs(
        raw, events, tmin=-0.5, tmax=2.5, baseline=None, preload=True, verbose=False
    )
    tfr = compute_spectrogram(epochs, n_fft=128, hop_length=36, device="cpu")
    assert tfr.ch_names == ["MLII", "RF", "BF"]  # ECG and EMG, not bad, stim or misc
    n_times = len(epochs.times)  # 1081
    n_frames = 1 + n_times // 36
    np.testing.assert_allclose(tfr.times, -0.5 + np.arange(n_frames) * 36 / 360.0, atol=1e-9)
    np.testing.assert_allclose(tfr.freqs, np.arange(65) * 360.0 / 128)
    _, _, p = scipy.signal.spectrogram(
        np.pad(epochs.get_data(picks=["RF"])[:, 0], [(0, 0), (64, 64)], mode="reflect"),
        360.0,
        window="hann",
        nperseg=128,
        noverlap=128 - 36,
        detrend=False,
    )
    assert_rel_close(tfr.data[:, 1], p[..., :n_frames])
    with_bad = compute_spectrogram(epochs, picks=["V5", "MISC"], n_fft=128, device="cpu")
    assert with_bad.ch_names == ["V5", "MISC"]


def test_compute_spectrogram_picks_follow_mne_rules():
    """Default picks: ECG, EEG, EMG and MNE's data channels that are not bad; no EOG,
    stim or misc. Type picks leave out bad channels, as MNE's compute_tfr; named
    channels are kept even when bad. Each channel carries its own tone, so the rows
    are checked to be the channels they are named after.

    The code before took EOG by default (Fz, Pz, EOG, ECG, EMG) and kept the bad Cz in
    picks="eeg" (Fz, Cz, Pz).
    """
    names = ["Fz", "Cz", "Pz", "EOG", "STI", "ECG", "EMG", "MISC"]
    types = ["eeg", "eeg", "eeg", "eog", "stim", "ecg", "emg", "misc"]
    sfreq, n_times = 256.0, 1280
    tones = dict(zip(names, 8.0 + 12.0 * np.arange(len(names))))  # Hz, on the bins
    t = np.arange(n_times) / sfreq
    data = np.stack([1e-5 * np.sin(2 * np.pi * tones[name] * t) for name in names])
    info = mne.create_info(names, sfreq, types)
    info["bads"] = ["Cz"]
    epochs = mne.EpochsArray(np.stack([data, 2 * data]), info, verbose=False)

    def chosen(inst=epochs, **kwargs):
        tfr = compute_spectrogram(inst, n_fft=256, hop_length=64, device="cpu", **kwargs)
        spectrum = tfr.data.mean(axis=-1) if tfr.data.ndim == 3 else tfr.data.mean(axis=(0, -1))
        peaks = tfr.freqs[spectrum.argmax(axis=-1)]
        np.testing.assert_allclose(peaks, [tones[name] for name in tfr.ch_names])
        return tfr.ch_names

    assert chosen() == ["Fz", "Pz", "ECG", "EMG"]
    raw = mne.io.RawArray(data, info, verbose=False)
    assert chosen(raw) == ["Fz", "Pz", "ECG", "EMG"]
    assert chosen(picks="eeg") == ["Fz", "Pz"]
    assert chosen(picks=["eeg", "eog"]) == ["Fz", "Pz", "EOG"]
    assert chosen(picks="data") == ["Fz", "Pz"]
    assert chosen(picks="all") == ["Fz", "Pz", "EOG", "STI", "ECG", "EMG", "MISC"]
    assert chosen(picks=["Cz", "EOG", "Fz"]) == ["Cz", "EOG", "Fz"]
    assert chosen(picks=[1, 6]) == ["Cz", "EMG"]
    # the same channels as MNE's own time-frequency transform
    for picks in ("eeg", ["Cz", "Fz"]):
        mne_tfr = epochs.compute_tfr("morlet", freqs=[40.0], n_cycles=3, picks=picks, verbose=False)
        assert chosen(picks=picks) == mne_tfr.ch_names
    # nothing left: the error names the channel types and the bad ones
    only_bad = mne.EpochsArray(
        data[None, [1, 3, 4]],
        mne.create_info(["Cz", "EOG", "STI"], sfreq, ["eeg", "eog", "stim"]),
        verbose=False,
    )
    only_bad.info["bads"] = ["Cz"]
    with pytest.raises(
        ValueError,
        match=r"No ECG, EEG, EMG or other data channel that "
        r"is not bad \(channel types: \['eeg', 'eog', "
        r"'stim'\], bads: \['Cz'\]\).*pass picks",
    ):
        compute_spectrogram(only_bad, device="cpu")


def test_compute_spectrogram_raw(raw_by_name):
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 20)
    tfr = compute_spectrogram(raw, n_fft=256, hop_length=90, center=False, device="cpu")
    assert isinstance(tfr, mne.time_frequency.RawTFRArray)
    assert tfr.data.dtype == np.float32 and tfr.method == "stft"
    f, t, p = scipy.signal.spectrogram(
        raw.get_data(), 360.0, window="hann", nperseg=256, noverlap=256 - 90, detrend=False
    )
    assert tfr.data.shape == p.shape
    assert_rel_close(tfr.data, p)
    np.testing.assert_allclose(tfr.freqs, f)
    np.testing.assert_allclose(tfr.times, t, atol=1e-9)
    assert tfr.ch_names == ["MLII", "V5"]


def test_compute_spectrogram_resize_and_mel(ecg_epochs):
    """freqs and times say where the resized rows and columns lie: an enlarged axis keeps
    its first and last values (align_corners=True), a shrunk axis is averaged, each
    sample at the centre of the n / size samples it covers (the code before gave the
    align_corners values, np.linspace(0, 256, 60), for the shrunk rows too)."""
    tfr = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, resize=(60, 90), device="cpu")
    assert tfr.data.shape == (11, 2, 60, 90)
    np.testing.assert_allclose(tfr.freqs, 2.0 * ((np.arange(60) + 0.5) * 129 / 60 - 0.5))
    np.testing.assert_allclose(tfr.times, np.linspace(0, 40 * 64 / SFREQ, 90), atol=1e-9)
    mel = compute_spectrogram(
        ecg_epochs,
        n_fft=256,
        hop_length=64,
        freq_scale="mel",
        n_freqs=40,
        fmin=1.0,
        fmax=100.0,
        output="db",
        device="cpu",
    )
    assert mel.data.shape == (11, 2, 40, 41)
    np.testing.assert_allclose(
        mel.freqs, htk_hz(np.linspace(htk_mel(1.0), htk_mel(100.0), 42))[1:-1]
    )
    both = compute_spectrogram(
        ecg_epochs,
        n_fft=256,
        hop_length=64,
        freq_scale="mel",
        n_freqs=40,
        fmin=1.0,
        fmax=100.0,
        resize=(80, 20),
        device="cpu",
    )
    assert both.data.shape == (11, 2, 80, 20) and len(both.freqs) == 80
    assert both.freqs[0] == pytest.approx(mel.freqs[0]) and both.freqs[-1] == pytest.approx(
        mel.freqs[-1]
    )
    np.testing.assert_allclose(
        both.freqs, np.interp(np.linspace(0, 39, 80), np.arange(40), mel.freqs)
    )
    frames = (np.arange(20) + 0.5) * 41 / 20 - 0.5
    np.testing.assert_allclose(both.times, frames * 64 / SFREQ, atol=1e-9)


def test_compute_spectrogram_bad_input(ecg_epochs):
    with pytest.raises(TypeError, match="takes mne.Epochs or mne.io.Raw, got ndarray"):
        compute_spectrogram(ecg_epochs.get_data())
    with pytest.raises(ValueError, match="channel_mode must be 'separate'"):
        compute_spectrogram(ecg_epochs, channel_mode="planes")
    with pytest.raises(ValueError, match="channel_mode must be 'separate'"):
        compute_spectrogram(ecg_epochs, channel_mode="stack")
    with pytest.raises(TypeError, match=r"sfreq comes from inst.info\['sfreq'\]"):
        compute_spectrogram(ecg_epochs, sfreq=512.0)
    with pytest.raises(ValueError, match=r"n_fft \(4096\) is longer than the segment"):
        compute_spectrogram(ecg_epochs, n_fft=4096, device="cpu")
    with pytest.raises(ValueError, match="fmax=300 Hz is above the Nyquist"):
        compute_spectrogram(ecg_epochs, fmax=300.0, device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_resolve_device_without_cuda(sine_raw):
    with pytest.raises(RuntimeError, match=r"device='cuda' but PyTorch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="sees no CUDA GPU"):
        compute_spectrogram(sine_raw(10.0, 512.0, 10.0), device="cuda:0")
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(
        TypeError, match="device must be an instance of str or torch.device, got <class 'int'>"
    ):
        resolve_device(0)


@pytest.mark.gpu
@needs_cuda
def test_cuda_compute_spectrogram_inverse_griffin_lim_and_fit(ecg_epochs, segments):
    cpu = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, output="db", device="cpu")
    gpu = compute_spectrogram(ecg_epochs, n_fft=256, hop_length=64, output="db", device="cuda")
    assert gpu.data.dtype == np.float32
    strong = cpu.data >= cpu.data.max(axis=(-2, -1), keepdims=True) - 60
    np.testing.assert_allclose(gpu.data[strong], cpu.data[strong], atol=0.02)
    np.testing.assert_allclose(gpu.times, cpu.times)
    assert gpu.metadata.equals(cpu.metadata)
    assert resolve_device("auto").type == "cuda"
    x = segments["ecg"][2]
    sg = Spectrogram(SFREQ, n_fft=256, hop_length=32, output="complex").to("cuda")
    y = sg.inverse(sg(_t(x).cuda()), N_TIMES)
    assert y.device.type == "cuda"
    y = y.cpu().numpy()
    assert 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2)) >= 60
    sgp = Spectrogram(SFREQ, n_fft=256, hop_length=32).to("cuda")
    _, conv_gpu = griffin_lim(
        sgp(_t(x[0]).cuda()), sgp, N_TIMES, n_iter=100, return_convergence=True
    )
    assert conv_gpu[-1] < 0.35 and conv_gpu[-1] < conv_gpu[4] < conv_gpu[0]
    waves = segments["eeg"][:, :4].reshape(-1, N_TIMES)
    kw = dict(n_fft=256, hop_length=32, output="db", top_db=80.0, normalize="dataset")
    on_gpu = Spectrogram(SFREQ, **kw).to("cuda").fit_normalization(waves, batch_size=5)
    on_cpu = Spectrogram(SFREQ, **kw).fit_normalization(waves, batch_size=5)
    assert on_gpu.norm_mean.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.norm_mean.cpu().numpy(), on_cpu.norm_mean.numpy(), atol=0.05)
    np.testing.assert_allclose(
        on_gpu.norm_std.cpu().numpy(), on_cpu.norm_std.numpy(), rtol=1e-2, atol=1e-3
    )
    images = on_gpu(_t(waves).cuda())
    assert images.device.type == "cuda"
    torch.testing.assert_close(images.cpu(), on_cpu(_t(waves)), rtol=0, atol=0.02)
