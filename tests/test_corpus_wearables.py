"""The corpus's wearable sources: the Non-EEG dataset (WFDB at 8 Hz) and FLIRT's Empatica
E4 recording (one CSV per stream), from files written here with known content."""

import numpy as np
import pytest
from wfdb_files import write_wfdb

from mne_specae.datasets import corpus_channel_kinds, corpus_files
from mne_specae.datasets._corpus_fixtures import read_e4_csv
from mne_specae.datasets._corpus_readers import NOMINAL_SCALE, read_wfdb_multirate
from mne_specae.datasets._corpus_sources import CORPUS_SOURCES, select_paths


def test_select_paths_noneeg_and_flirt_raw_streams_only():
    """The Non-EEG dataset's accelerometer/temperature/EDA records (never its 1 Hz SpO2
    and heart-rate records, nor its code); the E4's raw streams (never its derived HR
    and IBI files)."""
    paths = [
        "nonEEGdataset/Subject1_AccTempEDA.hea",
        "nonEEGdataset/Subject1_AccTempEDA.dat",
        "nonEEGdataset/Subject1_AccTempEDA.atr",
        "nonEEGdataset/Subject1_SpO2HR.hea",
        "nonEEGdataset/Subject1_SpO2HR.dat",
        "nonEEGdataset/Code_Convert_NN_Classification/NN_full.m",
    ]
    rows = select_paths("noneeg", paths)
    assert [(r["relpath"], r["subject"], r["format"]) for r in rows] == [
        ("noneeg/Subject1_AccTempEDA.dat", "Subject1", "companion"),
        ("noneeg/Subject1_AccTempEDA.hea", "Subject1", "wfdb_multirate"),
    ]
    empatica = "test/wearable-data/empatica/"
    names = ["ACC", "BVP", "EDA", "HR", "IBI", "TEMP", "tags", "info"]
    rows = select_paths("flirt_e4", [empatica + f"{n}.csv" for n in names])
    assert [r["relpath"] for r in rows] == [
        f"flirt_e4/{n}.csv" for n in ("ACC", "BVP", "EDA", "TEMP")
    ]
    assert {r["format"] for r in rows} == {"e4_csv"}
    table = corpus_files(["noneeg", "flirt_e4"])
    assert table.groupby("source").size().to_dict() == {"flirt_e4": 4, "noneeg": 40}
    assert not table["path"].str.contains("SpO2|HR.csv|IBI").any()
    assert CORPUS_SOURCES["noneeg"].licence == "ODC-By-1.0"
    assert CORPUS_SOURCES["flirt_e4"].licence == "MIT"


def test_read_noneeg_record_types_kinds_and_units(tmp_path):
    """A record laid out as the Non-EEG dataset's: accelerometer axes ``misc``
    (accelerometer), ``temp`` a ``temperature`` in degrees Celsius as recorded (MNE's
    unit), ``EDA`` ``gsr`` at the nominal scale (its unit is "NU")."""
    n = 8 * 60
    t = np.arange(n) / 8.0
    sigs = [np.sin(t), np.cos(t), 0.5 * np.ones(n), 31.0 + 0.2 * (t > 30), 1.0 + 0.1 * t / 60]
    names = ["ax", "ay", "az", "temp", "EDA"]
    hea = write_wfdb(tmp_path, "Subject1_AccTempEDA", 8, names, ["NU"] * 3 + ["degC", "NU"], sigs)
    (raw,) = read_wfdb_multirate(hea, subject="noneeg-Subject1", recording="noneeg/Subject1")
    assert raw.info["sfreq"] == 8.0 and raw.ch_names == names
    assert raw.get_channel_types() == ["misc"] * 3 + ["temperature", "gsr"]
    assert list(corpus_channel_kinds(raw).values()) == ["accelerometer"] * 3 + [
        "temperature",
        "eda",
    ]
    data = raw.get_data()
    np.testing.assert_allclose(data[3], sigs[3], atol=0.01)  # degrees Celsius, unscaled
    np.testing.assert_allclose(data[4], sigs[4] * NOMINAL_SCALE, atol=1e-8)
    np.testing.assert_allclose(data[0], sigs[0] * NOMINAL_SCALE, atol=1e-8)


def _e4(folder, name, rate, samples, start=1560279825.0):
    samples = np.atleast_2d(np.asarray(samples, float).T).T
    width = samples.shape[1]
    lines = [", ".join([f"{start:.6f}"] * width), ", ".join([f"{rate:.6f}"] * width)]
    lines += [",".join(f"{v:g}" for v in row) for row in samples]
    path = folder / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_e4_csv_each_stream_at_its_rate(tmp_path):
    rng = np.random.default_rng(3)
    eda = 0.05 + rng.random(400) * 0.05
    raw = read_e4_csv(_e4(tmp_path, "EDA", 4, eda), subject="e4", recording="flirt_e4/EDA")
    assert raw.info["sfreq"] == 4.0 and raw.ch_names == ["EDA"]
    assert raw.get_channel_types() == ["gsr"] and corpus_channel_kinds(raw) == {"EDA": "eda"}
    np.testing.assert_allclose(raw.get_data()[0], eda * 1e-6, rtol=1e-5)  # uS -> S
    assert raw.info["meas_date"].timestamp() == pytest.approx(1560279825.0)
    assert raw.info["description"] == "flirt_e4/EDA"
    temp = read_e4_csv(_e4(tmp_path, "TEMP", 4, 32.0 + rng.random(200)))
    assert temp.get_channel_types() == ["temperature"]
    assert 32.0 <= temp.get_data().min() and temp.get_data().max() <= 33.0  # degrees C
    acc = rng.integers(-64, 64, (320, 3))
    raw = read_e4_csv(_e4(tmp_path, "ACC", 32, acc))
    assert raw.info["sfreq"] == 32.0 and raw.ch_names == ["ACC_X", "ACC_Y", "ACC_Z"]
    assert set(corpus_channel_kinds(raw).values()) == {"accelerometer"}
    np.testing.assert_allclose(raw.get_data(), acc.T * NOMINAL_SCALE)
    bvp = read_e4_csv(_e4(tmp_path, "BVP", 64, rng.normal(0, 50, 640)))
    assert (bvp.info["sfreq"], bvp.get_channel_types()) == (64.0, ["bio"])
    assert corpus_channel_kinds(bvp) == {"BVP": "ppg"}


def test_read_e4_csv_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"HR.csv: not one of the E4's raw signals"):
        read_e4_csv(_e4(tmp_path, "HR", 1, np.ones(10)))
    with pytest.raises(
        ValueError, match=r"ACC.csv: expected a start time, a rate and samples in 3"
    ):
        read_e4_csv(_e4(tmp_path, "ACC", 32, np.ones(10)))
    with pytest.raises(ValueError, match=r"EDA.csv: the second row must be the rate in Hz, got 0"):
        read_e4_csv(_e4(tmp_path, "EDA", 0, np.ones(10)))
