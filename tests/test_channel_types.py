"""Channel types from the signal (mne_specae.identify_channel_types), pretrained model."""

import warnings

import mne
import numpy as np
import pytest
from tiny import TINY, without_type_head

from mne_specae import SpecAE, identify_channel_types, load_pretrained, make_segments

RECORDINGS = (
    "ecg/mitdb/100",
    "eeg/eegmat/Subject00_1",
    "emg/uci_lower_limb/3Amar",
    "ecg/biosppy/ecg",
    "emg/biosppy/emg",
)


@pytest.fixture(scope="module")
def model():
    return load_pretrained(verbose=False)


def _as_misc(raw):
    raw = raw.copy()
    with warnings.catch_warnings():  # "The unit ... has changed from V to NA": intended
        warnings.simplefilter("ignore", RuntimeWarning)
        raw.set_channel_types({ch: "misc" for ch in raw.ch_names}, verbose=False)
    return raw


@pytest.mark.parametrize("name", RECORDINGS)
def test_real_channels_typed_misc_are_all_identified(raw_by_name, model, name):
    raw = raw_by_name[name]
    truth = dict(zip(raw.ch_names, raw.get_channel_types()))
    scrambled = _as_misc(raw)
    before = scrambled.get_data()
    table = identify_channel_types(scrambled, model=model, max_segments=12, verbose=False)
    assert list(table.index) == raw.ch_names
    assert (table["type"] == "misc").all()
    assert table["predicted"].to_dict() == truth
    assert (table["probability"] >= 0.7).all() and (table["reason"] == "").all()
    assert ((table["n_segments"] >= 1) & (table["n_segments"] <= 12)).all()
    assert set(table["second"]) <= {"ecg", "eeg", "emg"}
    assert (table["second"] != table["predicted"]).all()
    # the caller's Raw is unchanged: data and types
    np.testing.assert_array_equal(scrambled.get_data(), before)
    assert set(scrambled.get_channel_types()) == {"misc"}
    # the documented one-liner fixes the types
    with warnings.catch_warnings():  # MNE: "The unit ... has changed from NA to V"
        warnings.simplefilter("ignore", RuntimeWarning)
        fixed = scrambled.copy().set_channel_types(
            table.query("predicted != 'unknown'")["predicted"].to_dict(), verbose=False
        )
    assert fixed.get_channel_types() == raw.get_channel_types()


def _synthetic(sfreq=500.0, seconds=30.0):
    t = np.arange(int(sfreq * seconds)) / sfreq
    rng = np.random.default_rng(0)
    step = np.where((t % 2.0) < 0.1, 5.0, 0.0)
    data = {
        "flat": np.zeros_like(t),
        "offset": np.full_like(t, 1e-3),
        "trigger": step,
        "noisy_trigger": step + rng.normal(0, 1e-3, t.size),
        "sine_10": 2e-5 * np.sin(2 * np.pi * 10 * t),
        "mains_50": 1e-4 * np.sin(2 * np.pi * 50 * t),
        "drift": 1e-4 * np.sin(2 * np.pi * 0.05 * t),
    }
    info = mne.create_info(list(data), sfreq, ["eeg"] * len(data))
    return mne.io.RawArray(np.array(list(data.values())), info, verbose=False)


@pytest.fixture(scope="module")
def no_type_head(model):
    return without_type_head(model)


def test_flat_tone_and_slow_channels_are_unknown_triggers_stim(no_type_head):
    """A model without a type head: flat, tonal and slow channels are 'unknown',
    trigger lines 'stim' (by the rules, before the model), ch_type ready for MNE."""
    table = identify_channel_types(_synthetic(), model=no_type_head, verbose=False)
    stim = ["trigger", "noisy_trigger"]
    assert (table.loc[stim, "predicted"] == "stim").all(), table[["predicted", "reason"]]
    assert (table.loc[stim, "kind"] == "trigger").all()
    others = table.drop(index=stim)
    assert (others["predicted"] == "unknown").all(), others[["predicted", "reason"]]
    assert table["ch_type"].to_dict() == dict.fromkeys(others.index, "eeg") | dict.fromkeys(
        stim, "stim"
    )
    reasons = table["reason"].to_dict()
    assert reasons["flat"] == reasons["offset"] == "flat"
    assert "trigger" in reasons["trigger"] and "trigger" in reasons["noisy_trigger"]
    assert "tone" in reasons["sine_10"] and "tone" in reasons["mains_50"]
    assert "slow" in reasons["drift"]
    assert table["probability"].isna().all()  # the model was not asked


def test_shipped_type_head_names_a_slow_drift(model):
    """The shipped model has a type head: a slow drift is a physiological kind (EDA-like)
    or unknown, never a biopotential; the rules still decide the rest."""
    assert model.calibration_.type_head is not None
    table = identify_channel_types(_synthetic(), model=model, verbose=False)
    assert table.loc["drift", "predicted"] in ("gsr", "unknown")
    if table.loc["drift", "predicted"] == "gsr":
        assert table.loc["drift", "kind"] == "eda"
        assert table.loc["drift", "ch_type"] == "gsr"
    rules = table.drop(index="drift")
    assert rules["predicted"].to_dict() == {
        "flat": "unknown",
        "offset": "unknown",
        "trigger": "stim",
        "noisy_trigger": "stim",
        "sine_10": "unknown",
        "mains_50": "unknown",
    }


def test_nan_channel_bad_annotations_and_bads(raw_by_name, model):
    raw = _as_misc(raw_by_name["ecg/mitdb/100"]).crop(0, 60)
    raw.load_data()
    raw._data[1] = np.nan
    raw.set_annotations(mne.Annotations([0.0], [20.0], ["BAD_motion"]))
    table = identify_channel_types(raw, model=model, verbose=False)
    assert table.loc["MLII", "predicted"] == "ecg"
    assert table.loc["MLII", "n_segments"] == 8  # 12 windows, 4 touch the BAD span
    assert table.loc["V5", "predicted"] == "unknown"
    assert table.loc["V5", "reason"] == "no finite segment"
    raw.info["bads"] = ["V5"]
    assert list(identify_channel_types(raw, model=model, verbose=False).index) == ["MLII"]
    named = identify_channel_types(raw, picks=["MLII", "V5"], model=model, verbose=False)
    assert list(named.index) == ["MLII", "V5"]


def test_epochs_are_identified_like_the_raw(raw_by_name, model):
    raw = _as_misc(raw_by_name["emg/uci_lower_limb/3Amar"])
    epochs = mne.make_fixed_length_epochs(raw, duration=10.0, preload=True, verbose=False)
    table = identify_channel_types(epochs, model=model, verbose=False)
    assert (table["predicted"] == "emg").all()
    assert (table["n_segments"] == min(30, 2 * len(epochs))).all()


def test_short_recordings_give_unknown_with_a_warning(model):
    raw = mne.io.RawArray(
        np.random.default_rng(0).normal(size=(2, 10)) * 1e-5,
        mne.create_info(2, 500.0, "eeg"),
        verbose=False,
    )
    with pytest.warns(RuntimeWarning, match="shorter .* than one 5 s window"):
        table = identify_channel_types(raw, model=model, verbose=False)
    assert (table["predicted"] == "unknown").all()
    assert (table["n_segments"] == 0).all()


def test_low_sampling_rates_are_warned_about(raw_by_name, model):
    raw = _as_misc(raw_by_name["eeg/eegmat/Subject00_1"]).pick(["Fp1", "Cz"])
    raw.load_data().resample(100.0, method="polyphase", verbose=False)
    with pytest.warns(
        RuntimeWarning, match="Sampled at 100 Hz, a channel holds nothing above 50 Hz"
    ):
        identify_channel_types(raw, model=model, max_segments=4, verbose=False)


def test_many_channels_stay_bounded(model):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(256, 256 * 60)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(256, 256.0, "eeg"), verbose=False)
    table = identify_channel_types(raw, model=model, max_segments=2, verbose=False)
    assert len(table) == 256
    assert (table["n_segments"] == 2).all()


def test_models_without_a_head_and_bad_arguments_are_refused(raw_by_name, model):
    raw = raw_by_name["ecg/mitdb/100"]
    ep = make_segments(raw, verbose=False)[:4]
    plain = SpecAE(**dict(TINY, max_epochs=1), verbose=False).fit(ep)
    with pytest.raises(ValueError, match="no signal-type head.*calibrate"):
        identify_channel_types(raw, model=plain, verbose=False)
    with pytest.raises(TypeError, match="inst must be"):
        identify_channel_types(raw.get_data(), model=model)
    with pytest.raises(ValueError, match="min_probability"):
        identify_channel_types(raw, model=model, min_probability=1.5)
    with pytest.raises(TypeError, match="max_segments"):
        identify_channel_types(raw, model=model, max_segments=2.5)


def test_models_given_as_files_and_files_of_another_kind(raw_by_name, model, tmp_path):
    import torch

    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 30)
    fname = model.save(tmp_path / "pretrained.specae")
    table = identify_channel_types(raw, model=fname, verbose=False)
    assert (table["predicted"] == "ecg").all()
    other = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not an mne-specae model file"):
        identify_channel_types(raw, model=other, verbose=False)
    with pytest.raises(TypeError, match="a fitted SpecAE, a pretrained name"):
        identify_channel_types(raw, model=42, verbose=False)
    by_name = identify_channel_types(raw, model="biosignals", verbose=False)
    assert by_name["probability"].tolist() == table["probability"].tolist()


def test_non_finite_calibration_thresholds_warn_and_give_unknown(model, raw_by_name, tmp_path):
    """A model file whose OOD thresholds are NaN: loading warns loudly, and the channels
    the encoder's head judges come out 'unknown' with a reason (a NaN comparison is
    False: white noise came out 'emg'; white noise is now 'unknown' by the rules, so a
    real EEG recording is judged here)."""
    import copy

    from mne_specae import SpecAE

    damaged = copy.copy(model)
    damaged.calibration_ = copy.copy(model.calibration_)
    damaged.calibration_.max_distance = float("nan")
    damaged.calibration_.max_error_z = float("nan")
    fname = damaged.save(tmp_path / "nan.specae")
    with pytest.warns(
        RuntimeWarning,
        match=r"non-finite.*max_distance, max_error_z.*"
        r"calibrate",
    ):
        loaded = SpecAE.load(fname)
    assert np.isnan(loaded.calibration_.max_distance)
    noise = _as_misc(raw_by_name["eeg/eegmat/Subject00_1"]).pick(["Fp1", "Cz"])
    table = identify_channel_types(noise, model=loaded, max_segments=4, verbose=False)
    assert (table["predicted"] == "unknown").all(), table[["predicted", "reason"]]
    assert table["reason"].str.contains("not finite").all()
    assert table["reason"].str.contains("max_distance").all()
    # with finite thresholds that reason never appears
    good = identify_channel_types(noise, model=model, max_segments=4, verbose=False)
    assert not good["reason"].str.contains("not finite").any()
    assert (good["predicted"] == "eeg").all()
