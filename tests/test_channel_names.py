"""What a channel's name says of a sensor, and the name guard of identify_channel_types."""

import pytest

from mne_specae import identify_channel_types, load_pretrained
from mne_specae.datasets.channels import sensor_from_name
from mne_specae.pretrained._type_guards import name_guard

#: Names of EDF+ sleep recordings, ICU monitors, wearables and EEG systems, and what
#: they say of a non-biopotential sensor.
NAMES = {
    "Pleth": ("bio", "ppg"),
    "PLETH": ("bio", "ppg"),
    "BVP": ("bio", "ppg"),
    "SpO2": ("bio", "spo2"),
    "ABP": ("bio", "pressure"),
    "ART": ("bio", "pressure"),
    "Resp oro-nasal": ("resp", ""),
    "RSP": ("resp", ""),
    "Thor": ("resp", ""),
    "Temp rectal": ("temperature", ""),
    "TEMP": ("temperature", ""),
    "EDA": ("gsr", "eda"),
    "GSR": ("gsr", "eda"),
    "acc_x": ("misc", "accelerometer"),
    "ACC1": ("misc", "accelerometer"),
    "AccelX": ("misc", "accelerometer"),
    "Gyro Z": ("misc", "gyroscope"),
    "BCG": ("misc", "bcg"),
    "PCG": ("misc", "pcg"),
    "Snore": ("misc", "sound"),
    "RF RMS": ("misc", "envelope"),
    "ENV1": ("misc", "envelope"),
    "Event marker": ("stim", ""),
    "STI 014": ("stim", ""),
    "Status": ("stim", ""),
    "PhotoSensor": ("stim", ""),
    "Marker0": ("stim", ""),
    # biopotentials, EOG, electrodes and names that say nothing
    "ECG pulse": None,
    "EEG Fpz-Cz": None,
    "EMG submental": None,
    "hEOG": None,
    "MLII": None,
    "aVF": None,
    "T7": None,
    "TP9": None,
    "Fp1": None,
    "Cz": None,
    "A1": None,
    "FT10": None,
    "LM": None,
    "RF": None,
    "Heart": None,
    "Right AUX": None,
    "X": None,
}


@pytest.fixture(scope="module")
def model():
    return load_pretrained(verbose=False)


@pytest.mark.parametrize("name", NAMES)
def test_sensor_from_name(name):
    assert sensor_from_name(name) == NAMES[name]


def test_a_channel_named_for_another_sensor_is_never_answered_a_biopotential(raw_by_name, model):
    """Real ECG and EEG (eegmat) are ``ecg`` and ``eeg`` under their own names; named
    "Pleth" and "acc_x" (an ICU monitor's or a wearable's names), the same signals are
    ``unknown`` with a reason naming both, and ``ch_type`` keeps the recording's type:
    a beating accelerometer or a BCG must not be typed ECG by ``--apply``."""
    kw = dict(model=model, max_segments=8, verbose=False)
    ecg = raw_by_name["ecg/eegmat/Subject00_1"].copy().crop(0, 60)
    eeg = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["O1", "Fp2"]).crop(0, 60)
    cases = []
    for raw, renames in ((ecg, {ecg.ch_names[0]: "Pleth"}), (eeg, {"O1": "acc_x", "Fp2": "T7"})):
        plain = identify_channel_types(raw, **kw)
        assert plain["predicted"].isin(["ecg", "eeg"]).all(), plain[["predicted", "reason"]]
        named = identify_channel_types(raw.copy().rename_channels(renames), **kw)
        cases += [(plain.loc[old], named.loc[new]) for old, new in renames.items()]
    (pleth_plain, pleth), (acc_plain, acc), (t7_plain, t7) = cases
    assert (pleth_plain["predicted"], acc_plain["predicted"]) == ("ecg", "eeg")
    assert t7["predicted"] == "eeg"  # an electrode's name says nothing
    for plain, row, said in (
        (pleth_plain, pleth, "'Pleth' says ppg (bio)"),
        (acc_plain, acc, "'acc_x' says accelerometer (misc)"),
    ):
        assert row["predicted"] == "unknown" and row["kind"] == "", row
        assert row["ch_type"] == plain["type"] == row["type"]
        assert row["reason"].startswith(f"the name {said}, the signal a biopotential")
        guess = f"{plain['predicted']} ({plain['probability']:.2f})"
        assert row["reason"].endswith(f"guess was {guess}")


def test_the_name_guard_leaves_other_answers():
    for answer in ("bio", "resp", "unknown", "stim"):
        row = dict(predicted=answer, kind="ppg", probability=0.9, reason="")
        assert name_guard(dict(row), "Pleth") == row
    row = dict(predicted="emg", kind="", probability=0.9, reason="")
    assert name_guard(dict(row), "EMG1") == row  # the name says EMG too
    assert name_guard(dict(row), "PCG")["reason"].startswith("the name 'PCG' says pcg (misc)")
    # an EOG answer too (an electrical potential): FLIRT's E4 "BVP" came out eog
    eog = name_guard(dict(row, predicted="eog"), "BVP")
    assert eog["predicted"] == "unknown" and eog["reason"].startswith("the name 'BVP' says ppg")
