"""make_segments: Raw -> segment Epochs."""

import mne
import numpy as np
import pytest
from mne.utils import catch_logging

from mne_specae import make_segments, select_evenly


def _peak_frequency(epochs):
    data = epochs.get_data()[0, 0]
    spectrum = np.abs(np.fft.rfft(data * np.hanning(data.size)))
    freqs = np.fft.rfftfreq(data.size, 1 / epochs.info["sfreq"])
    return freqs[np.argmax(spectrum)]


@pytest.mark.parametrize("sfreq_in, freq", [(360.0, 10.0), (1000.0, 40.0), (125.0, 7.0)])
def test_resampling_keeps_a_sine_at_its_frequency(sfreq_in, freq, sine_raw):
    raw = sine_raw(freq, sfreq_in, 30.0, amplitude=1e-3)
    epochs = make_segments(raw)
    assert epochs.info["sfreq"] == 512.0
    assert epochs.get_data().shape == (6, 1, 2560)
    assert _peak_frequency(epochs) == pytest.approx(freq, abs=0.2)  # 0.2 Hz bins
    # the amplitude survives resampling (middle segment: no edge effects)
    middle = epochs.get_data()[3, 0]
    assert np.abs(middle).max() == pytest.approx(1e-3, rel=0.01)
    expected = 1e-3 * np.sin(2 * np.pi * freq * (15.0 + np.arange(2560) / 512.0))
    np.testing.assert_allclose(middle, expected, atol=2e-5)


def test_resampling_keeps_exact_timing_whatever_the_length(sine_raw, monkeypatch):
    """A recording whose length is no multiple of the rates' ratio (360 -> 512 Hz:
    64/45) is resampled with the rates' ratio, not the lengths' (before: 30738/21613
    here, and the timing off by half a sample at the end: the last segment's sine off
    by 6 % of its amplitude; for a 30-min MIT-BIH record, 231111/162500 and a
    4.6-million-tap filter); the samples left out after the last segment are counted
    in the log."""
    from mne.io import RawArray
    from scipy import signal

    factors = []
    resample_poly = signal.resample_poly

    def spy(x, up, down, *args, **kwargs):
        factors.append((up, down))
        return resample_poly(x, up, down, *args, **kwargs)

    monkeypatch.setattr(signal, "resample_poly", spy)
    sfreq_in, freq, n = 360.0, 10.0, 60 * 360 + 13  # 60 s and 13 samples
    t = np.arange(n) / sfreq_in
    info = mne.create_info(["ECG"], sfreq_in, "ecg")
    raw = RawArray(1e-3 * np.sin(2 * np.pi * freq * t)[np.newaxis], info, verbose=False)
    with catch_logging(verbose="info") as log:
        epochs = make_segments(raw, verbose="info")
    assert factors == [(64, 45)]
    assert raw.n_times == n  # the caller's Raw is not cropped
    assert len(epochs) == 12
    last = epochs.get_data()[-1, 0]
    expected = 1e-3 * np.sin(2 * np.pi * freq * (55.0 + np.arange(2560) / 512.0))
    np.testing.assert_allclose(last[:2000], expected[:2000], atol=2e-5)  # filter edge aside
    text = log.getvalue()
    assert "the last 13 sample(s) after the last segment left out" in text
    assert "ratio 64/45" in text
    # with an overlap whose last segment would end in those samples: nothing left out
    raw = RawArray(np.zeros((1, 5 * 360 + 30)) + 1e-6, info, verbose=False)
    with catch_logging(verbose="info") as log:
        epochs = make_segments(raw, duration=5.0, overlap=4.95, verbose="info")
    assert len(epochs) == 2  # 0-5 s and 0.05-5.05 s (the recording is 5.083 s)
    assert "left out" not in log.getvalue()


def test_metadata_columns_and_values(sine_raw):
    raw = sine_raw(10.0, 256.0, 23.0, ch_type="emg", n_channels=3)
    raw.info["subject_info"] = {"his_id": "s01"}
    raw.info["description"] = "session-a"
    epochs = make_segments(raw, metadata={"condition": "rest", "trial": 3})
    meta = epochs.metadata
    assert list(meta.columns) == [
        "signal_type",
        "subject",
        "recording",
        "onset",
        "sfreq_orig",
        "condition",
        "trial",
    ]
    assert len(meta) == 4  # floor(23 / 5)
    assert (meta.signal_type == "emg").all() and (meta.subject == "s01").all()
    assert (meta.recording == "session-a").all() and (meta.condition == "rest").all()
    np.testing.assert_allclose(meta.onset, [0.0, 5.0, 10.0, 15.0])
    assert (meta.sfreq_orig == 256.0).all() and (meta.trial == 3).all()
    assert epochs.event_id == {"emg": 1}
    assert epochs.ch_names == ["EMG00", "EMG01", "EMG02"]
    assert epochs.get_data().dtype == np.float64
    # explicit arguments win over the Raw's info
    other = make_segments(raw, subject="s02", recording="r9")
    assert set(other.metadata.subject) == {"s02"} and set(other.metadata.recording) == {"r9"}


def test_overlap_and_duration(sine_raw):
    raw = sine_raw(5.0, 512.0, 20.0)
    epochs = make_segments(raw, duration=4.0, overlap=2.0)
    np.testing.assert_allclose(epochs.metadata.onset, np.arange(0, 17, 2.0))
    assert epochs.get_data().shape[-1] == 2048


def test_onset_is_time_in_the_original_recording(sine_raw):
    raw = sine_raw(5.0, 500.0, 60.0)
    raw.crop(tmin=12.0)
    epochs = make_segments(raw)
    np.testing.assert_allclose(epochs.metadata.onset[:3], [12.0, 17.0, 22.0])


def test_callers_raw_is_unchanged(sine_raw):
    raw = sine_raw(10.0, 360.0, 31.0, ch_type="eeg", amplitude=20e-6, n_channels=2)
    raw._data[0, 1000:1010] = np.nan
    raw.info["bads"] = ["EEG01"]
    raw.set_annotations(mne.Annotations([20.0], [1.0], ["BAD_motion"]))
    before = raw.get_data().copy()
    info_before = raw.info.copy()
    make_segments(raw)
    after = raw.get_data()
    np.testing.assert_array_equal(np.isnan(after), np.isnan(before))
    np.testing.assert_array_equal(after[np.isfinite(after)], before[np.isfinite(before)])
    assert raw.info["sfreq"] == 360.0 and raw.n_times == before.shape[1]
    assert raw.info["bads"] == info_before["bads"] and len(raw.annotations) == 1
    assert raw.ch_names == info_before["ch_names"]


def test_default_picks_include_ecg_and_emg_and_skip_bads(sine_raw):
    info = mne.create_info(["ECG", "stim"], 512.0, ["ecg", "stim"])
    raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(2, 512 * 11)), info)
    assert make_segments(raw).ch_names == ["ECG"]
    emg = sine_raw(30.0, 1000.0, 10.0, ch_type="emg", n_channels=3)
    emg.info["bads"] = ["EMG01"]
    with catch_logging(verbose=True) as log:
        epochs = make_segments(emg, verbose=True)
    assert epochs.ch_names == ["EMG00", "EMG02"]
    assert "Left out 1 bad channel(s): ['EMG01']" in log.getvalue()
    # a bad channel named explicitly is kept
    assert make_segments(emg, picks=["EMG01"]).ch_names == ["EMG01"]


def test_bad_annotations_drop_segments(sine_raw):
    raw = sine_raw(10.0, 512.0, 30.0, ch_type="eeg", amplitude=2e-5)
    raw.set_annotations(mne.Annotations([7.0], [2.0], ["BAD_blink"]))
    epochs = make_segments(raw)
    np.testing.assert_allclose(epochs.metadata.onset, [0.0, 10.0, 15.0, 20.0, 25.0])
    assert epochs.drop_log[1] == ("BAD_blink",)
    kept = make_segments(raw, reject_by_annotation=False)
    assert len(kept) == 6


def test_nonfinite_segments_are_dropped_and_counted(sine_raw):
    raw = sine_raw(10.0, 360.0, 30.0)
    raw._data[0, 3700:3710] = np.nan  # 10.28 s .. 10.31 s -> third segment
    raw._data[0, 9000] = np.inf  # 25.0 s -> sixth segment
    with catch_logging(verbose=True) as log:
        epochs = make_segments(raw, verbose=True)
    np.testing.assert_allclose(epochs.metadata.onset, [0.0, 5.0, 15.0, 20.0])
    assert epochs.drop_log[2] == ("NONFINITE",) and epochs.drop_log[5] == ("NONFINITE",)
    assert np.isfinite(epochs.get_data()).all()
    text = log.getvalue()
    assert "11 NaN/Inf sample(s) in 2 run(s)" in text
    assert "dropped 2 segment(s) with NaN/Inf" in text
    # the kept segments equal the clean signal: the bridge did not leak into them
    clean = make_segments(sine_raw(10.0, 360.0, 30.0))
    np.testing.assert_allclose(epochs.get_data()[0], clean.get_data()[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"11 NaN/Inf sample\(s\) .* first at 10\.278 s"):
        make_segments(raw, on_nonfinite="raise")


def test_all_segments_dropped_is_an_error(sine_raw):
    raw = sine_raw(10.0, 512.0, 8.0)
    raw.set_annotations(mne.Annotations([0.0], [8.0], ["BAD_all"]))
    with pytest.raises(ValueError, match="all 1 segments were dropped"):
        make_segments(raw)


def test_mixed_types_error_says_how_to_pick(raw_by_name, data_path):
    raw = mne.io.read_raw_edf(
        data_path / "eeg/eegmat/Subject00_2.edf", infer_types=True, preload=True
    )
    raw.drop_channels(["A2-A1"])
    with pytest.raises(ValueError, match=r"mixes signal types \(ecg: 1 channel\(s\), eeg: 19"):
        make_segments(raw)
    eeg = make_segments(raw, picks="eeg")
    ecg = make_segments(raw, picks="ecg")
    assert len(eeg.ch_names) == 19 and ecg.ch_names == ["ECG"]
    assert len(eeg) == len(ecg) == 12
    assert set(eeg.metadata.recording) == {"Subject00_2"}


def test_real_recordings(raw_by_name):
    ecg = make_segments(raw_by_name["ecg/mitdb/100"])
    assert len(ecg) == 361 and ecg.ch_names == ["MLII", "V5"]
    assert set(ecg.metadata.subject) == {"mitdb-100"}
    eeg = make_segments(raw_by_name["eeg/eegmat/Subject01_1"], metadata={"condition": "rest"})
    assert eeg.get_data().shape == (36, 19, 2560)
    assert 5e-6 < np.percentile(np.abs(eeg.get_data()), 99) < 100e-6
    emg = make_segments(raw_by_name["emg/uci_lower_limb/9Nmar"])  # 5.343 s: one segment
    assert len(emg) == 1 and emg.metadata.sfreq_orig[0] == 1000.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"duration": 0}, ValueError, "duration must be a positive number"),
        ({"duration": -5.0}, ValueError, "duration must be a positive number"),
        ({"sfreq": 0.0}, ValueError, "sfreq must be a positive number"),
        ({"sfreq": "512"}, TypeError, "sfreq must be an instance of number"),
        ({"overlap": 5.0}, ValueError, "overlap must be >= 0 and shorter than duration"),
        ({"on_nonfinite": "ignore"}, ValueError, "Invalid value for the 'on_nonfinite'"),
        (
            {"metadata": {"subject": "S1"}},
            ValueError,
            r"metadata names built-in column\(s\) \['subject'\].*Use subject=\.\.\.",
        ),
        ({"metadata": {"onset": 0.0, "x": 1}}, ValueError, r"built-in column\(s\) \['onset'\]"),
        (
            {"metadata": {"label": [1, 2, 3]}},
            ValueError,
            r"metadata\['label'\] has 3 values for 2 segments \(0 dropped\)",
        ),
        (
            {"metadata": {"label": np.zeros((2, 2))}},
            ValueError,
            r"metadata\['label'\] must be a constant or one value per segment",
        ),
        ({"duration": 12.0}, ValueError, r"10\.000 s long, shorter than one segment of 12 s"),
        ({"picks": "eeg"}, ValueError, "No channel for picks='eeg' that is not bad"),
        ({"metadata": [1, 2]}, TypeError, "metadata must be an instance of dict"),
        # segments shorter than one sample (MNE: "Event time samples were not unique")
        (
            {"duration": 1e-3},
            ValueError,
            r"duration \* sfreq = 0\.512 samples: a segment .* at least one sample",
        ),
        (
            {"duration": 1.0, "overlap": 0.999},
            ValueError,
            r"\(duration - overlap\) \* sfreq = 0\.512 samples",
        ),
    ],
)
def test_bad_input(kwargs, error, match, sine_raw):
    raw = sine_raw(10.0, 512.0, 10.0)
    with pytest.raises(error, match=match):
        make_segments(raw, **kwargs)


def test_metadata_per_segment_values(sine_raw):
    epochs = make_segments(sine_raw(10.0, 512.0, 10.0), metadata={"label": ["a", "b"], "k": 3})
    assert list(epochs.metadata["label"]) == ["a", "b"]
    assert list(epochs.metadata["k"]) == [3, 3]
    assert list(epochs.metadata["subject"]) == ["unknown"] * 2  # not overwritten


def test_channel_nan_throughout_is_named(sine_raw):
    raw = sine_raw(10.0, 512.0, 20.0, ch_type="eeg", n_channels=3)
    raw._data[1] = np.nan
    raw._data[2, 100:200] = np.nan  # a gap, which alone would just drop a segment
    with pytest.raises(
        ValueError,
        match=r"Channel\(s\) \['EEG01'\] hold no finite sample.*"
        r"raw.info\['bads'\] \+= \['EEG01'\]",
    ):
        make_segments(raw)
    raw.info["bads"] = ["EEG01"]
    epochs = make_segments(raw)
    assert epochs.ch_names == ["EEG00", "EEG02"] and len(epochs) == 3  # first segment dropped


def test_not_a_raw(sine_raw):
    with pytest.raises(TypeError, match="raw must be an instance of mne.io.Raw"):
        make_segments(np.zeros((1, 5000)))
    epochs = make_segments(sine_raw(10.0, 512.0, 10.0))
    with pytest.raises(TypeError, match="got Epochs"):
        make_segments(epochs)


def test_no_signal_channel():
    info = mne.create_info(["STI"], 512.0, ["stim"])
    raw = mne.io.RawArray(np.zeros((1, 5120)), info)
    with pytest.raises(ValueError, match="No ECG, EEG or EMG channel"):
        make_segments(raw)


def test_select_evenly(raw_by_name):
    epochs = make_segments(raw_by_name["eeg/eegmat/Subject00_2"])  # 12 segments, 19 ch
    subset = select_evenly(epochs, 4, 3)
    np.testing.assert_allclose(subset.metadata.onset, [0.0, 20.0, 35.0, 55.0])
    assert subset.ch_names == ["Fp1", "C4", "Pz"]  # first, middle, last of 19
    np.testing.assert_array_equal(subset.get_data(picks="Pz")[1], epochs.get_data(picks="Pz")[4])
    assert len(epochs) == 12 and len(epochs.ch_names) == 19  # input unchanged
    same = select_evenly(epochs)
    assert same is not epochs and len(same) == 12 and len(same.ch_names) == 19
    assert len(select_evenly(epochs, max_segments=50)) == 12
    with pytest.raises(TypeError, match="mne.Epochs"):
        select_evenly(epochs.get_data(), 2)
