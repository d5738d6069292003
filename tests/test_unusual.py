"""annotate_unusual: segments a calibrated model reconstructs badly, as annotations."""

import copy
import warnings

import mne
import numpy as np
import pytest

from mne_specae import make_segments, presets
from mne_specae.estimator.calibration import calibrate
from mne_specae.estimator.specae import SpecAE
from mne_specae.pretrained.unusual import annotate_unusual

#: training recordings of the small model: 40 s of 2 subjects per type
TRAIN = [
    "ecg/mitdb/100",
    "ecg/mitdb/113",
    "eeg/eegmat/Subject00_1",
    "eeg/eegmat/Subject02_1",
    "emg/uci_lower_limb/4Amar",
    "emg/uci_lower_limb/5Amar",
]


@pytest.fixture(scope="module")
def model(raw_by_name, one_thread):
    """A small SpecAE (the recommended input stage with per-frequency dataset statistics,
    8 filters) trained and calibrated on 8 segments of each training recording: about
    2 s on 2 CPU cores. Dataset statistics keep each band's level, so broadband noise
    bursts stand out; with each image z-scored (the defaults) they need not."""
    epochs = [
        make_segments(
            raw_by_name[n].copy().crop(0, 40), picks=["Fz", "Pz"] if n.startswith("eeg") else None
        )
        for n in TRAIN
    ]
    est = SpecAE(
        **{**presets.QUICK, "normalize": "dataset", "filters": 8, "max_epochs": 3},
        device="cpu",
        random_state=0,
    ).fit(epochs)
    calibrate(est, epochs, verbose=False)
    return est


def _ecg(raw_by_name, tmin=0.0, tmax=60.0):
    """A private copy of 60 s of a real two-lead ECG (MIT-BIH 106, not trained on)."""
    return raw_by_name["ecg/mitdb/106"].copy().crop(tmin, tmax, include_tmax=False)


def _inject(raw, start, kind, picks=None, length=5.0):
    """Put an artefact into ``raw`` (in place) from ``start`` s after its first sample."""
    sfreq = raw.info["sfreq"]
    a, b = int(round(start * sfreq)), int(round((start + length) * sfreq))
    idx = mne.pick_channels(raw.ch_names, picks) if picks else np.arange(len(raw.ch_names))
    data = raw._data
    if kind == "flat":
        data[idx, a:b] = 0.0
    elif kind == "noise":  # broadband noise 50 times the channel's spread
        rng = np.random.default_rng(0)
        scale = 50 * data[idx].std(axis=1, keepdims=True)
        data[idx, a:b] = scale * rng.standard_normal((len(idx), b - a))
    return raw


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_injected_artefact_is_annotated(model, raw_by_name, kind):
    raw = _inject(_ecg(raw_by_name), 20.0, kind)
    before, annot_before = raw.get_data(), raw.annotations.copy()
    annot = annotate_unusual(raw, model=model)
    # the caller's Raw is not changed
    np.testing.assert_array_equal(raw.get_data(), before)
    assert len(raw.annotations) == len(annot_before) == 0 and raw.info["bads"] == []
    assert isinstance(annot, mne.Annotations) and annot.orig_time is None
    # the artefact's segment and no clean one (12 segments of 5 s)
    assert len(annot) == 1
    np.testing.assert_allclose(annot.onset, [20.0], atol=2e-3)
    np.testing.assert_allclose(annot.duration, [5.0], atol=2e-3)
    assert list(annot.description) == ["BAD_specae"]
    assert "MLII" in annot.ch_names[0] and set(annot.ch_names[0]) <= {"MLII", "V1"}
    if kind == "flat":
        assert list(annot.ch_names[0]) == ["MLII", "V1"]
    # clean: nothing flagged
    assert len(annotate_unusual(_ecg(raw_by_name), model=model)) == 0


def test_annotations_line_up_after_crop_and_reject(model, raw_by_name):
    """A measurement date, a crop at a non-round time (first_samp > 0, a 360 -> 512 Hz
    grid that does not line up), an existing annotation: the flagged span is the
    artefact's segment, and make_segments then drops exactly that segment."""
    raw = raw_by_name["ecg/mitdb/106"].copy().set_meas_date(1e9).crop(7.3, 67.3, include_tmax=False)
    assert raw.first_samp > 0
    raw.set_annotations(
        mne.Annotations([raw.first_time + 51.0], [0.1], ["mark"], orig_time=raw.info["meas_date"])
    )
    _inject(raw, 35.0, "flat", picks=["V1"])
    annot, scores = annotate_unusual(raw, model=model, description="BAD_odd", return_scores=True)
    assert annot.orig_time == raw.info["meas_date"]
    np.testing.assert_allclose(annot.onset, [raw.first_time + 35.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["V1"]]
    assert len(scores) == 2 * 12 and scores["unusual"].sum() == 1
    flagged = scores[scores["unusual"]].iloc[0]
    assert flagged["channel"] == "V1" and flagged["signal_type"] == "ecg"
    assert flagged["z"] > 5 and abs(flagged["onset"] - annot.onset[0]) < 2e-3

    marked = raw.copy().set_annotations(raw.annotations + annot)
    times = marked.annotations.onset[marked.annotations.description == "BAD_odd"]
    np.testing.assert_allclose(times - marked.first_time, [35.0], atol=2e-3)
    epochs = make_segments(marked, reject_by_annotation=True)
    kept = np.round(epochs.metadata["onset"].to_numpy() - marked.first_time).astype(int)
    assert list(kept) == [t for t in range(0, 60, 5) if t != 35]
    # ... and at the recording's own rate too
    events = mne.make_fixed_length_events(marked, duration=5.0, first_samp=True)
    native = mne.Epochs(
        marked,
        events,
        tmin=0,
        tmax=5.0 - 1 / 360,
        baseline=None,
        reject_by_annotation=True,
        preload=True,
        verbose=False,
    )
    assert len(native) == 11 and native.drop_log[7] == ("BAD_odd",)


def test_mixed_types_and_picks(model, raw_by_name, caplog):
    """EEG and ECG of one eegmat file, each against its own reference."""
    eeg = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["Fz", "Pz", "Cz"])
    ecg = raw_by_name["ecg/eegmat/Subject00_1"].copy()
    raw = eeg.add_channels([ecg]).crop(60.0, 120.0, include_tmax=False)
    raw.set_annotations(None)
    raw.info["bads"] = ["Cz"]
    _inject(raw, 10.0, "flat", picks=["ECG"])
    with caplog.at_level("INFO", logger="mne"):
        annot, scores = annotate_unusual(raw, model=model, return_scores=True, verbose=True)
    assert set(scores["channel"]) == {"Fz", "Pz", "ECG"}  # the bad channel is left out
    assert dict(scores.groupby("channel")["signal_type"].first()) == {
        "Fz": "eeg",
        "Pz": "eeg",
        "ECG": "ecg",
    }
    np.testing.assert_allclose(annot.onset, [raw.first_time + 10.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["ECG"]]
    assert "1 of 12 segment(s) of 1 ecg channel(s) unusual" in caplog.text
    assert "0 of 12 segment(s) of 2 eeg channel(s) unusual" in caplog.text
    # named picks score a bad channel too; one type only
    _, scores = annotate_unusual(raw, model=model, picks=["Cz"], return_scores=True)
    assert set(scores["channel"]) == {"Cz"}
    # a lower threshold flags more; signal_type scores every channel against one reference
    _, as_ecg = annotate_unusual(
        raw, model=model, picks="eeg", signal_type="ecg", return_scores=True
    )
    assert set(as_ecg["signal_type"]) == {"ecg"}
    low = annotate_unusual(raw, model=model, threshold=1e-3, bad_channel_fraction=1.0)
    assert len(low) >= len(annot)


def test_misc_channel_needs_signal_type(model, raw_by_name):
    raw = _ecg(raw_by_name)
    raw.set_channel_types({"V1": "misc"}, on_unit_change="ignore")
    with pytest.raises(
        ValueError,
        match=r"no error reference for 'misc'.*knows \['ecg', "
        r"'eeg', 'emg'\]",
    ):
        annotate_unusual(raw, model=model, picks=["V1"])
    _inject(raw, 5.0, "flat", picks=["V1"])
    annot = annotate_unusual(raw, model=model, picks=["V1"], signal_type="ecg")
    np.testing.assert_allclose(annot.onset, [5.0], atol=2e-3)


def test_default_model_is_the_pretrained_one(model, raw_by_name, monkeypatch):
    import mne_specae.pretrained.loading

    calls = []

    def fake_load_pretrained(*args, **kwargs):
        calls.append(1)
        return model

    monkeypatch.setattr(mne_specae.pretrained.loading, "load_pretrained", fake_load_pretrained)
    annot = annotate_unusual(_inject(_ecg(raw_by_name), 0.0, "flat"))
    assert calls == [1] and len(annot) == 1


def test_nan_channels(model, raw_by_name, caplog):
    raw = _inject(_ecg(raw_by_name), 40.0, "flat", picks=["MLII"])
    raw._data[0, 3600:3700] = np.nan  # a gap at 10 s: that segment is not scored
    raw._data[1] = np.nan  # V1: no finite sample
    with (
        pytest.warns(RuntimeWarning, match=r"Skipping channel\(s\) \['V1'\]"),
        caplog.at_level("INFO", logger="mne"),
    ):
        annot, scores = annotate_unusual(raw, model=model, return_scores=True, verbose=True)
    assert set(scores["channel"]) == {"MLII"}
    assert sorted(scores["onset"]) == list(range(0, 60, 5))
    scored = scores[scores["z"].notna()]
    assert sorted(scored["onset"]) == [t for t in range(0, 60, 5) if t != 10]
    assert list(scores.loc[scores["nonfinite"], "onset"]) == [10]
    assert "1 of 11 segment(s) of 1 ecg channel(s) unusual" in caplog.text
    assert "1 channel-segment(s) with NaN/Inf not scored (MLII: 1)" in caplog.text
    np.testing.assert_allclose(annot.onset, [40.0], atol=2e-3)
    raw._data[0] = np.nan
    with (
        pytest.warns(RuntimeWarning, match="Skipping"),
        pytest.raises(ValueError, match="no finite sample: nothing to score"),
    ):
        annotate_unusual(raw, model=model)


def test_errors(model, raw_by_name):
    raw = _ecg(raw_by_name)
    bare = copy.copy(model)
    bare.calibration_ = None
    with pytest.raises(
        ValueError,
        match=r"calibrate\(model, training_epochs\).*"
        r"load_pretrained\(\)",
    ):
        annotate_unusual(raw, model=bare)
    del bare.calibration_
    with pytest.raises(ValueError, match="no calibration"):
        annotate_unusual(raw, model=bare)
    # a calibration without an EMG reference
    partial = copy.copy(model)
    partial.calibration_ = copy.copy(model.calibration_)
    partial.calibration_.error_reference = {
        k: v for k, v in model.calibration_.error_reference.items() if k != "emg"
    }
    emg = raw_by_name["emg/uci_lower_limb/3Amar"].copy()
    with pytest.raises(ValueError, match=r"'emg'.*knows \['ecg', 'eeg'\]"):
        annotate_unusual(emg, model=partial)
    with pytest.raises(ValueError, match=r"'emg'.*knows \['ecg', 'eeg'\]"):
        annotate_unusual(raw, model=partial, signal_type="emg")
    with pytest.raises(ValueError, match="shorter than one segment"):
        annotate_unusual(raw.copy().crop(0, 3.0), model=model)
    for bad in (0, -1.0, np.inf):
        with pytest.raises(ValueError, match="threshold"):
            annotate_unusual(raw, model=model, threshold=bad)
    with pytest.raises(TypeError, match="threshold"):
        annotate_unusual(raw, model=model, threshold="5")
    with pytest.raises(ValueError, match="signal_type"):
        annotate_unusual(raw, model=model, signal_type="meg")
    with pytest.raises(TypeError, match="description"):
        annotate_unusual(raw, model=model, description=None)
    with pytest.raises(TypeError, match="raw"):
        annotate_unusual(make_segments(raw), model=model)
    with pytest.raises(TypeError, match="model"):
        annotate_unusual(raw, model=3)
    with pytest.raises(
        FileNotFoundError, match="no such model file, and not the name of a pretrained encoder"
    ):
        annotate_unusual(raw, model="biosignal")
    with pytest.raises(ValueError, match="No channel"):
        annotate_unusual(raw, model=model, picks="eeg")


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_the_pretrained_model_flags_flat_and_noisy_segments(raw_by_name, kind):
    from mne_specae import load_pretrained

    raw = _inject(_ecg(raw_by_name), 20.0, kind, picks=["V1"])
    annot, scores = annotate_unusual(raw, model=load_pretrained(verbose=False), return_scores=True)
    np.testing.assert_allclose(annot.onset, [20.0], atol=2e-3)
    assert [list(ch) for ch in annot.ch_names] == [["V1"]]
    hit = scores[(scores["channel"] == "V1") & np.isclose(scores["onset"], 20.0)]
    assert bool(hit["flat"].item()) == (kind == "flat")
    assert hit["z"].item() == (np.inf if kind == "flat" else pytest.approx(hit["z"].item()))
    assert hit["z"].item() > 5.0
    clean = scores[~np.isclose(scores["onset"], 20.0) | (scores["channel"] != "V1")]
    assert (clean["z"] < 5.0).all() and not clean["flat"].any()


def _segment_slice(raw, start, length=5.0):
    sfreq = raw.info["sfreq"]
    return slice(int(round(start * sfreq)), int(round((start + length) * sfreq)))


def test_flat_at_a_nonzero_level_is_flagged_at_the_recording_rate(model, raw_by_name):
    """ECG at 360 Hz held at a non-zero level: resampling to 512 Hz leaves a ripple far
    above 1e-13, so the flat check runs on the original samples."""
    raw = _ecg(raw_by_name)
    assert raw.info["sfreq"] == 360.0
    for start, level in zip((5.0, 20.0, 35.0, 50.0), (1e-3, -2e-3, 0.5e-3, 3e-3)):
        raw._data[1, _segment_slice(raw, start)] = level  # V1 held
    annot, scores = annotate_unusual(raw, model=model, return_scores=True)
    np.testing.assert_allclose(annot.onset, [5.0, 20.0, 35.0, 50.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["V1"]] * 4
    v1 = scores[scores["channel"] == "V1"].set_index("onset")
    assert v1["flat"].sum() == 4 and np.isinf(v1.loc[v1["flat"], "z"]).all()
    assert not scores.loc[scores["channel"] == "MLII", "flat"].any()


@pytest.mark.parametrize("sfreq", [500.0, 512.0])
def test_a_clipped_segment_is_flagged_whatever_the_rate(model, raw_by_name, sfreq):
    """99.5 % of one segment's samples at the rails of a clipped amplifier: flagged at
    500 Hz (the eegmat rate) as at 512 Hz."""
    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["Fz", "Pz"])
    raw.crop(60.0, 120.0, include_tmax=False).set_annotations(None)
    if sfreq != raw.info["sfreq"]:
        raw.resample(sfreq, verbose=False)
    span = _segment_slice(raw, 25.0)
    x = 1000 * raw._data[0, span]
    limit = np.quantile(np.abs(x), 0.004)
    raw._data[0, span] = np.clip(x, -limit, limit)
    assert np.mean(np.abs(raw._data[0, span]) == limit) >= 0.995
    annot, scores = annotate_unusual(raw, model=model, return_scores=True)
    np.testing.assert_allclose(annot.onset - raw.first_time, [25.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["Fz"]]
    assert scores["flat"].sum() == 1


def test_a_lead_with_nan_in_every_segment_leaves_the_others_scored(model, raw_by_name, caplog):
    """V1 has a short NaN gap in every segment: MLII is still scored (its flat segment
    annotated), V1 is reported as not scored, in the log and in the scores."""
    raw = _inject(_ecg(raw_by_name), 40.0, "flat", picks=["MLII"])
    for start in range(0, 60, 5):
        raw._data[1, int((start + 2.0) * 360) : int((start + 2.0) * 360) + 20] = np.nan
    before = raw.get_data()
    with (
        pytest.warns(RuntimeWarning, match=r"V1.*NaN/Inf in every segment"),
        caplog.at_level("INFO", logger="mne"),
    ):
        annot, scores = annotate_unusual(raw, model=model, return_scores=True, verbose=True)
    np.testing.assert_array_equal(raw.get_data(), before)
    np.testing.assert_allclose(annot.onset, [40.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["MLII"]]
    mlii, v1 = (scores[scores["channel"] == ch] for ch in ("MLII", "V1"))
    assert len(mlii) == len(v1) == 12
    assert not mlii["nonfinite"].any() and np.isfinite(mlii["z"]).sum() == 11
    assert v1["nonfinite"].all() and v1["z"].isna().all() and not v1["unusual"].any()
    assert "12 channel-segment(s) with NaN/Inf not scored (V1: 12)" in caplog.text


def test_a_channel_deviating_throughout_is_a_bad_channel_candidate(model, raw_by_name):
    """One EEG channel is noise for the whole recording: it is returned as a
    bad-channel candidate (for info["bads"]) instead of annotating every segment for
    every channel; a short artefact of a good channel is still annotated."""
    eeg = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["Fz", "Pz", "Cz"])
    eeg.crop(60.0, 120.0, include_tmax=False)
    data = eeg.get_data()
    rng = np.random.default_rng(1)
    data[2] = 50 * data[2].std() * rng.standard_normal(data.shape[1])  # Cz: noise
    span = _segment_slice(eeg, 10.0)
    data[0, span] = 50 * data[0].std() * rng.standard_normal(span.stop - span.start)
    raw = mne.io.RawArray(data, eeg.info, verbose=False)
    with pytest.warns(
        RuntimeWarning,
        match=r"bad-channel candidate.*\['Cz'\].*"
        r"info\['bads'\]",
    ):
        annot, scores, bads = annotate_unusual(
            raw, model=model, return_scores=True, return_bads=True
        )
    assert bads == ["Cz"]
    np.testing.assert_allclose(annot.onset, [10.0], atol=2e-3)
    assert [list(c) for c in annot.ch_names] == [["Fz"]]
    cz = scores[scores["channel"] == "Cz"]
    assert cz["unusual"].mean() > 0.5 and cz["bad_channel"].all()
    assert not scores.loc[scores["channel"] != "Cz", "bad_channel"].any()
    # marked bad, the channel is left out and the clean segments are kept
    raw.info["bads"] += bads
    marked = raw.copy().set_annotations(raw.annotations + annot)
    assert len(make_segments(marked)) == 11
    # bad_channel_fraction=1 turns the candidates off: every segment is annotated
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        many, scores = annotate_unusual(
            raw, model=model, picks=["Fz", "Pz", "Cz"], bad_channel_fraction=1.0, return_scores=True
        )
    assert not any("candidate" in str(w.message) for w in record)
    assert not scores["bad_channel"].any()
    assert len(many) == scores.loc[scores["unusual"], "onset"].nunique() >= 11
    assert all("Cz" in chs for chs in many.ch_names)
    for bad in (0.0, 1.5, "half"):
        with pytest.raises((ValueError, TypeError), match="bad_channel_fraction"):
            annotate_unusual(raw, model=model, bad_channel_fraction=bad)


def test_readme_idiom_keeps_existing_annotations_without_meas_date(model, raw_by_name):
    """raw.set_annotations(raw.annotations + annotate_unusual(raw)) on a cropped Raw
    (first_samp > 0) without a measurement date: the old annotation stays where it
    was and the new one lands on its segment."""
    raw = _ecg(raw_by_name, 10.0, 70.0)
    raw.set_meas_date(None)
    assert raw.first_samp > 0 and raw.info["meas_date"] is None
    raw.set_annotations(mne.Annotations([12.0], [0.5], ["BAD_old"]))
    _inject(raw, 30.0, "flat", picks=["V1"])
    old = raw.annotations.onset.copy()
    raw.set_annotations(raw.annotations + annotate_unusual(raw, model=model))
    descriptions = list(raw.annotations.description)
    assert sorted(descriptions) == ["BAD_old", "BAD_specae"]
    onsets = dict(zip(descriptions, raw.annotations.onset - raw.first_time))
    np.testing.assert_allclose(raw.annotations.onset[descriptions.index("BAD_old")], old)
    assert onsets["BAD_old"] == pytest.approx(12.0)
    assert onsets["BAD_specae"] == pytest.approx(30.0, abs=2e-3)
    epochs = make_segments(raw, reject_by_annotation=True)
    kept = np.round(epochs.metadata["onset"].to_numpy() - raw.first_time).astype(int)
    assert list(kept) == [t for t in range(0, 60, 5) if t not in (10, 30)]


def test_a_non_finite_error_reference_is_refused(model, raw_by_name):
    """A damaged calibration (NaN reference) would give NaN scores and no annotation
    at all: refused with the type and the fix."""
    damaged = copy.copy(model)
    damaged.calibration_ = copy.copy(model.calibration_)
    damaged.calibration_.error_reference = dict(
        model.calibration_.error_reference, ecg=(float("nan"), 0.1)
    )
    with pytest.raises(
        ValueError,
        match=r"error reference for 'ecg' is not finite.*"
        r"calibrate",
    ):
        annotate_unusual(_inject(_ecg(raw_by_name), 20.0, "flat"), model=damaged)
    assert damaged.calibration_.nonfinite_fields() == ["error_reference['ecg']"]
