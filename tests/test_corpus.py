"""The pretraining corpus: its table (well formed, no reserved record), its readers on
small files of each format written here with known content, build_corpus from a git
repository made here, read_corpus / corpus_summary / prepare_corpus on a tiny corpus.
None of it needs the corpus; the corpus-scale check runs when MNE_SPECAE_CORPUS is set."""

import hashlib
import os
import re
import subprocess
from urllib.parse import quote

import mne
import numpy as np
import pandas as pd
import pytest
from wfdb_files import write_wfdb

from mne_specae.datasets import (
    build_corpus,
    corpus_channel_kinds,
    corpus_files,
    corpus_summary,
    get_corpus_path,
    read_corpus,
)
from mne_specae.datasets import corpus as corpus_mod
from mne_specae.datasets._corpus_fixtures import (
    GLITCH_LIMIT,
    read_biosppy_signal,
    read_eye_state_arff,
    read_mne_fixture,
    read_neurokit_csv,
    read_ny_npz,
)
from mne_specae.datasets._corpus_readers import (
    NOMINAL_SCALE,
    read_cinc2015,
    read_muse_csv,
    read_myo_txt,
    read_uci_gestures,
    read_unibo_mat,
    read_wfdb_multirate,
)
from mne_specae.datasets._corpus_sources import CORPUS_SOURCES, is_reserved, select_paths
from mne_specae.datasets.corpus import READERS, TABLE_COLUMNS

# The reserved records of shared/data/corpus/README.md, written out again here (not
# taken from the package), so that a bug in the package's rule cannot hide one.
_RESERVED = [
    re.compile(r"(^|/)v\d{3}[sl]\b"),  # CinC 2015 records starting with v (v102s too)
    re.compile(r"(^|/)a103l\b"),
    re.compile(r"(^|/)(223|232)\.(hea|dat|atr)$"),  # MIT-BIH 223, 232
    re.compile(r"s0010_re"),  # PTB
    re.compile(r"(^|/)S\d{3}R\d{2}|eegmmidb|test_edf_overlapping_annotations"),
    re.compile(r"emgdb|emg_(healthy|myopathy|neuropathy)", re.I),
    re.compile(r"biosignalsnotebooks|stress.?predict|yasa", re.I),
    re.compile(r"(^|[/_-])in[-_]?ear", re.I),
    # eegmat subjects other than 00-19 (its files: Subject20_1.edf, Subject20_2.edf; the
    # Non-EEG dataset's Subject20_AccTempEDA is another database)
    re.compile(r"Subject(2\d|3\d)_[12]\b"),
]


def _reserved_hits(table):
    return [
        f"{row.source}: {text}"
        for row in table.itertuples()
        for text in (row.path, row.relpath, row.subject)
        if any(p.search(text) for p in _RESERVED)
    ]


def test_table_well_formed():
    table = corpus_files()
    assert tuple(table.columns) == TABLE_COLUMNS
    assert set(table["source"]) == set(CORPUS_SOURCES)
    assert table["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert table["commit"].str.fullmatch(r"[0-9a-f]{40}").all()
    assert (table["licence"].str.len() > 0).all()
    assert (table["bytes"] > 0).all()
    assert table["relpath"].is_unique
    assert (table["relpath"].str.split("/").str[0] == table["source"]).all()
    for row in table.itertuples():
        src = CORPUS_SOURCES[row.source]
        assert (row.repo, row.commit, row.licence) == (src.repo, src.commit, src.licence)
        assert row.url == f"https://raw.githubusercontent.com/{row.repo}/{row.commit}/" + quote(
            row.path
        )
    assert set(table["format"]) <= set(READERS) | {"companion"}
    # every companion file belongs to a recording read through its primary file
    companions = table[table["format"] == "companion"]
    primaries = table[table["format"] != "companion"]
    assert set(zip(companions["source"], companions["subject"])) <= set(
        zip(primaries["source"], primaries["subject"])
    )
    # at least 10 recordings from each ECG, EEG, EMG source
    counts = primaries.groupby("source").size()
    for source in ("cinc2015", "muse", "myo", "uci_gestures", "unibo_inail"):
        assert counts[source] >= 10


def test_table_has_no_reserved_record():
    table = corpus_files()
    assert _reserved_hits(table) == []
    cinc = table[table["source"] == "cinc2015"]
    assert cinc["subject"].str[0].isin(list("abft")).all()
    assert "a103l" not in set(cinc["subject"])
    assert not {"223", "232"} & set(table[table["source"] == "mitdb_more"]["subject"])
    # and the check itself catches one
    bad = pd.concat([table.head(1).assign(path="x/v131l.mat", relpath="cinc2015/v131l.mat")])
    assert len(_reserved_hits(bad)) == 2


@pytest.mark.parametrize(
    "path, reserved",
    [
        ("Documents/UBC/2018/ELEC422/entry/v102s.hea", True),
        ("Documents/UBC/2018/ELEC422/entry/v131l.mat", True),
        ("cinc2015/a103l.mat", True),
        ("mitdb_more/223.dat", True),
        ("sample-data/s0010_re.dat", True),
        ("eegmmidb/S001/S001R01.edf", True),
        ("EDF/test_edf_overlapping_annotations.edf", True),
        ("cinc2015/a104s.hea", False),
        ("myo/right_hand/12345-1/0.txt", False),
        ("notes/linear_model.txt", False),
    ],
)
def test_is_reserved(path, reserved):
    assert is_reserved(path) is reserved


def test_select_paths_leaves_reserved_out():
    root = "Documents/UBC/2018/ELEC422/entry/"
    paths = [root + f for f in ("a103l.hea", "a103l.mat", "v100s.hea", "a104s.hea", "a104s.mat")]
    rows = select_paths("cinc2015", paths + [root + "README.txt"])
    assert [r["relpath"] for r in rows] == ["cinc2015/a104s.hea", "cinc2015/a104s.mat"]
    assert [r["format"] for r in rows] == ["wfdb_mat", "companion"]
    assert select_paths("mitdb_more", ["223.hea", "104.hea", "104.dat"])[0]["subject"] == "104"
    assert len(select_paths("mitdb_more", ["223.hea", "223.dat", "232.hea"])) == 0


def test_select_paths_neurokit_csv_only():
    """NeuroKit's examples: the five CSVs of EOG and bio signals; never a pickle, nor the
    EEG text file of undocumented origin, nor the ECG-only files."""
    paths = [
        "data/eog_100hz.csv",
        "data/bio_resting_5min_100hz.csv",
        "data/eeg_1min_200hz.pickle",
        "data/eeg.txt",
        "data/ecg_1000hz.csv",
        "data/eog_100hz.pickle",
        "docs/data/eog_100hz.csv",
    ]
    rows = select_paths("neurokit", paths)
    assert [(r["relpath"], r["subject"], r["format"]) for r in rows] == [
        ("neurokit/bio_resting_5min_100hz.csv", "bio_resting_5min_100hz", "neurokit_csv"),
        ("neurokit/eog_100hz.csv", "eog_100hz", "neurokit_csv"),
    ]
    table = corpus_files("neurokit")
    assert not table["path"].str.endswith(".pickle").any()
    assert set(table["format"]) == {"neurokit_csv"} and len(table) == 5


def test_select_paths_bi2012_and_eye_state():
    """Eegle.jl: the P300 session (data and header), never its docs' files; the ARFF of
    the UCI Eye State copy only (its URL quoted: the name has spaces)."""
    paths = [
        "data_examples/P300/subject_01_session_01.npz",
        "data_examples/P300/subject_01_session_01.yml",
        "data_examples/MI/subject_01_session_01.yml",
        "docs/src/documents/Example Data.md",
    ]
    rows = select_paths("bi2012", paths)
    assert [(r["relpath"], r["subject"], r["format"]) for r in rows] == [
        ("bi2012/subject_01_session_01.npz", "subject_01_session_01", "ny_npz"),
        ("bi2012/subject_01_session_01.yml", "subject_01_session_01", "companion"),
    ]
    rows = select_paths("uci_eye_state", ["EEG Eye State.arff", "cmc.csv", "wdbc.csv"])
    assert [(r["relpath"], r["format"]) for r in rows] == [
        ("uci_eye_state/eeg_eye_state.arff", "eye_state_arff")
    ]
    table = corpus_files(["bi2012", "uci_eye_state"])
    assert len(table) == 3 and set(table["licence"]) == {"CC-BY-4.0"}
    url = table.loc[table["source"] == "uci_eye_state", "url"].item()
    assert url.endswith("/EEG%20Eye%20State.arff")


_NY_YML = """acquisition:
  ground: FZ
  hardware: NeXus-32 EEG
  samplingrate: 128
  sensors:
  - F7
  - Cz
  - O2
  sensortype: Ag/AgCl Wet electrodes
stim:
  nclasses: 2
"""


def test_read_ny_npz(tmp_path):
    rng = np.random.default_rng(3)
    n = 1280
    eeg = rng.normal(0, 8.0, (n, 3)).astype(np.float32)  # microvolts
    eeg[5, 1] = 2.0e5  # amplifier settling at the start
    extra = -eeg.sum(axis=1, keepdims=True)  # a 4th column, named by no sensor
    stim = np.zeros(n, np.int16)
    stim[[100, 700]] = [1, 2]
    fname = tmp_path / "subject_01_session_01.npz"
    np.savez(fname, data=np.hstack([eeg, extra]), stim=stim)
    (tmp_path / "subject_01_session_01.yml").write_text(_NY_YML)
    raw = read_ny_npz(fname, subject="bi2012-s1", recording="bi2012/s1")
    assert raw.info["sfreq"] == 128.0 and raw.n_times == n
    assert raw.ch_names == ["F7", "Cz", "O2", "STI"]
    assert raw.get_channel_types() == ["eeg", "eeg", "eeg", "stim"]
    assert corpus_channel_kinds(raw) == {"F7": "eeg", "Cz": "eeg", "O2": "eeg", "STI": "trigger"}
    data = raw.get_data()
    assert np.isnan(data[:3, 5]).all() and np.isfinite(np.delete(data, 5, axis=1)).all()
    np.testing.assert_allclose(np.delete(data[:3], 5, axis=1), np.delete(eeg.T, 5, axis=1) * 1e-6)
    np.testing.assert_array_equal(data[3], stim)  # event codes unscaled, never NaN
    assert raw.info["subject_info"]["his_id"] == "bi2012-s1"
    assert READERS["ny_npz"] is read_ny_npz
    # a header naming more sensors than the data has; no header; no stim
    (tmp_path / "subject_01_session_01.yml").write_text(
        _NY_YML.replace("  - O2\n", "  - O2\n  - A\n  - B\n")
    )
    with pytest.raises(ValueError, match="do not match the 5 sensors"):
        read_ny_npz(fname)
    (tmp_path / "subject_01_session_01.yml").unlink()
    with pytest.raises(FileNotFoundError, match="NY header subject_01_session_01.yml is missing"):
        read_ny_npz(fname)
    np.savez(tmp_path / "x.npz", data=eeg)
    (tmp_path / "x.yml").write_text(_NY_YML)
    with pytest.raises(ValueError, match=r"no \['stim'\]"):
        read_ny_npz(tmp_path / "x.npz")
    (tmp_path / "x.yml").write_text("acquisition:\n  samplingrate: 128\n")
    with pytest.raises(ValueError, match="not an NY header"):
        read_ny_npz(tmp_path / "x.npz")


def test_read_eye_state_arff(tmp_path):
    rng = np.random.default_rng(5)
    n = 640
    values = 4200 + rng.normal(0, 15, (n, 3)).round(2)  # microvolts with the DC offset
    values[200, 2] = 715897.0  # an acquisition glitch
    label = (np.arange(n) > 300).astype(int)
    head = "@RELATION EEG_DATA\n\n" + "".join(
        f"@ATTRIBUTE {c} NUMERIC\n" for c in ("AF3", "O1", "AF4")
    )
    body = "\n".join(",".join([*(f"{v:g}" for v in row), str(k)]) for row, k in zip(values, label))
    fname = tmp_path / "eeg_eye_state.arff"
    fname.write_text(head + "@ATTRIBUTE eyeDetection {0,1}\n\n@DATA\n" + body + "\n")
    raw = read_eye_state_arff(fname, subject="eye", recording="uci_eye_state/x")
    assert raw.info["sfreq"] == 128.0 and raw.n_times == n
    assert raw.ch_names == ["AF3", "O1", "AF4"]  # the eye-state label is not a channel
    assert raw.get_channel_types() == ["eeg"] * 3
    data = raw.get_data()
    assert np.isnan(data[:, 200]).all() and np.isfinite(np.delete(data, 200, axis=1)).all()
    np.testing.assert_allclose(
        np.delete(data, 200, axis=1), np.delete(values.T, 200, axis=1) * 1e-6
    )
    assert GLITCH_LIMIT == 1e-3 and READERS["eye_state_arff"] is read_eye_state_arff
    (tmp_path / "bad.arff").write_text("AF3,O1\n1,2\n")
    with pytest.raises(ValueError, match="not an ARFF file"):
        read_eye_state_arff(tmp_path / "bad.arff")
    fname.write_text(head + "@DATA\n1,2\n")
    with pytest.raises(ValueError, match="2 columns for 3 attributes"):
        read_eye_state_arff(fname)


def test_corpus_files_sources_and_path(monkeypatch, tmp_path):
    assert set(corpus_files("myo")["source"]) == {"myo"}
    with pytest.raises(ValueError, match="Unknown corpus source"):
        corpus_files(["nope"])
    monkeypatch.setenv("MNE_SPECAE_CORPUS", str(tmp_path))
    assert get_corpus_path() == tmp_path.resolve()
    assert get_corpus_path(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.delenv("MNE_SPECAE_CORPUS")
    assert get_corpus_path().parts[-2:] == ("mne_specae_data", "corpus")


# --- readers, each on a small file of its format with known content -----------------


def test_read_muse_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 256 * 12
    stamps = 1000.0 + np.arange(n) / 256.0
    jitter = np.round(stamps + rng.uniform(-0.002, 0.002, n), 3)  # ms stamps, jittered
    eeg = rng.normal(0, 10, (n, 5)).round(3)
    marker = np.zeros(n, int)
    marker[[100, 900]] = [1, 2]
    table = pd.DataFrame(eeg, columns=["TP9", "AF7", "AF8", "TP10", "Right AUX"])
    table.insert(0, "timestamps", jitter)
    table["Marker0"] = marker
    # a pause of 20 s after the first 50 samples: only the longest stretch is read
    table.loc[:49, "timestamps"] -= 20.0
    fname = tmp_path / "rec.csv"
    table.to_csv(fname, index=False)
    raw = read_muse_csv(fname, subject="s1", recording="muse/rec")
    assert raw.info["sfreq"] == 256.0
    assert raw.ch_names == ["TP9", "AF7", "AF8", "TP10", "Right AUX", "Marker0"]
    assert raw.get_channel_types() == ["eeg"] * 4 + ["misc", "stim"]
    kinds = corpus_channel_kinds(raw)
    assert kinds["Right AUX"] == "unconnected" and kinds["Marker0"] == "marker"
    assert raw.n_times == n - 50
    np.testing.assert_allclose(raw.get_data()[:5].T, eeg[50:] * 1e-6)
    np.testing.assert_array_equal(raw.get_data()[5], marker[50:])
    assert raw.info["description"] == "muse/rec"
    assert raw.info["subject_info"]["his_id"] == "s1"
    with pytest.raises(ValueError, match="not a Muse CSV"):
        table.drop(columns="AF7").to_csv(tmp_path / "bad.csv", index=False)
        read_muse_csv(tmp_path / "bad.csv")


def test_read_myo_txt_malformed_row(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.integers(-128, 128, (1000, 8))
    lines = [",".join(map(str, row)) + ",3" for row in values]
    lines[500] = "1,2,3"  # a logger glitch
    fname = tmp_path / "3.txt"
    fname.write_text("\n".join(lines))
    raw = read_myo_txt(fname)
    assert raw.info["sfreq"] == 200.0 and raw.n_times == 1000
    assert set(raw.get_channel_types()) == {"emg"}
    assert set(corpus_channel_kinds(raw).values()) == {"emg"}
    data = raw.get_data()
    assert np.isnan(data[:, 500]).all() and np.isfinite(np.delete(data, 500, axis=1)).all()
    np.testing.assert_allclose(data[:, :500], values[:500].T * NOMINAL_SCALE)


def test_read_uci_gestures_repeats_to_200hz(tmp_path):
    """1 kHz rows, each true sample held for 5 rows -> the samples at 200 Hz."""
    rng = np.random.default_rng(2)
    samples = rng.integers(-128, 128, (400, 8)) * 1e-5  # Myo counts / 1e5
    rows = np.repeat(samples, 5, axis=0)
    times = np.arange(1, len(rows) + 1)
    table = pd.DataFrame(rows, columns=[f"channel{k}" for k in range(1, 9)])
    table.insert(0, "time", times)
    table["class"] = 0
    table = table.drop(index=[7, 8, 1003])  # rows the logger skipped: held values
    fname = tmp_path / "1_raw_data_13-12_22.03.16.txt"
    table.to_csv(fname, sep="\t", index=False)
    raw = read_uci_gestures(fname)
    assert raw.info["sfreq"] == 200.0
    assert raw.n_times == 400
    np.testing.assert_allclose(raw.get_data(), samples.T / 1e-5 * NOMINAL_SCALE)
    assert raw.get_channel_types() == ["emg"] * 8


def test_read_unibo_mat_v5_and_v73(tmp_path):
    import h5py
    import scipy.io

    emg = np.abs(np.random.default_rng(3).normal(0, 100, (2000, 4))).astype(np.float32)
    scipy.io.savemat(tmp_path / "u5.mat", {"emg": emg, "label": np.zeros((2000, 1))})
    v73 = tmp_path / "u73.mat"
    with h5py.File(v73, "w", userblock_size=512) as f:
        f["emg"] = emg.T  # MATLAB stores arrays column-major: transposed in HDF5
    with open(v73, "r+b") as fid:  # the MAT 7.3 header scipy recognises
        fid.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(v73)
    for fname in (tmp_path / "u5.mat", v73):
        raw = read_unibo_mat(fname)
        assert raw.info["sfreq"] == 500.0
        assert raw.get_channel_types() == ["misc"] * 4
        assert set(corpus_channel_kinds(raw).values()) == {"emg_envelope"}
        np.testing.assert_allclose(raw.get_data(), emg.T * NOMINAL_SCALE, rtol=1e-6)


def test_read_cinc2015_types_and_units(tmp_path):
    t = np.arange(2500) / 250.0
    sigs = [np.sin(2 * np.pi * t), 0.5 + 0.1 * t / 10, 80 + np.sin(t), np.cos(t)]
    hea = write_wfdb(
        tmp_path, "a999s", 250, ["II", "PLETH", "ABP", "RESP"], ["mV", "NU", "mmHg", "NU"], sigs
    )
    raw = read_cinc2015(hea, subject="cinc2015-a999s", recording="cinc2015/a999s")
    assert raw.get_channel_types() == ["ecg", "bio", "bio", "resp"]
    assert list(corpus_channel_kinds(raw).values()) == ["ecg", "ppg", "abp", "respiration"]
    data = raw.get_data()
    np.testing.assert_allclose(data[0], sigs[0] * 1e-3, atol=1e-5)  # mV -> V
    np.testing.assert_allclose(data[2], sigs[2] * NOMINAL_SCALE, atol=1e-8)  # mmHg, nominal
    assert raw.info["description"] == "cinc2015/a999s"


def test_read_wfdb_multirate_split_per_rate(tmp_path):
    ecg = np.sin(np.arange(2000) / 7.0)
    abp = 90 + np.arange(1000) / 100.0
    resp = np.cos(np.arange(500) / 20.0)
    hea = write_wfdb(
        tmp_path,
        "mixed",
        50,
        ["II", "ABP", "Resp"],
        ["mV", "mmHg", "Ohm"],
        [ecg, abp, resp],
        [4, 2, 1],
    )
    raws = read_wfdb_multirate(hea, subject="x", recording="wfdb_samples/mixed")
    assert [r.info["sfreq"] for r in raws] == [200.0, 100.0, 50.0]
    assert [r.info["description"] for r in raws] == [
        "wfdb_samples/mixed-200hz",
        "wfdb_samples/mixed-100hz",
        "wfdb_samples/mixed-50hz",
    ]
    assert [r.get_channel_types() for r in raws] == [["ecg"], ["bio"], ["resp"]]
    assert corpus_channel_kinds(raws[1]) == {"ABP": "abp"}
    np.testing.assert_allclose(raws[0].get_data()[0], ecg * 1e-3, atol=1e-5)
    np.testing.assert_allclose(raws[1].get_data()[0], abp * NOMINAL_SCALE, atol=1e-8)


def test_read_biosppy_signal(tmp_path):
    acc = np.random.default_rng(4).normal(0, 1, (300, 3)).round(4)
    header = "# Simple Text Format\n# Sampling Rate (Hz):= 100.00\n# Resolution:= 0\n"
    header += "# Units:= m/s^2\n# Labels:= acc_x\tacc_y\tacc_z\n"
    (tmp_path / "acc.txt").write_text(header + "\n".join("\t".join(map(str, r)) for r in acc))
    raw = read_biosppy_signal(tmp_path / "acc.txt")
    assert raw.ch_names == ["acc_x", "acc_y", "acc_z"]
    assert raw.get_channel_types() == ["misc"] * 3
    assert set(corpus_channel_kinds(raw).values()) == {"accelerometer"}
    np.testing.assert_allclose(raw.get_data(), acc.T * NOMINAL_SCALE)
    counts = np.arange(1000, 1500)
    header = (
        "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n# Labels:= EDA\n"
    )
    (tmp_path / "eda.txt").write_text(header + "\n".join(map(str, counts)))
    raw = read_biosppy_signal(tmp_path / "eda.txt")
    assert raw.get_channel_types() == ["gsr"] and corpus_channel_kinds(raw) == {"EDA": "eda"}
    np.testing.assert_allclose(raw.get_data()[0], (counts - 2048) * NOMINAL_SCALE)
    with pytest.raises(ValueError, match="not one of the BioSPPy"):
        read_biosppy_signal(tmp_path / "ecg.txt")


def test_read_neurokit_csv(tmp_path):
    rng = np.random.default_rng(7)
    n = 500
    cols = {
        "ECG": rng.normal(0, 0.5, n).round(6),  # mV
        "EDA": (10 + rng.random(n)).round(6),  # microsiemens
        "Photosensor": np.repeat([5.0, 0.0, 5.0, 0.0, 5.0], n // 5),
        "RSP": rng.normal(1, 0.2, n).round(6),
        "PPG": rng.normal(0, 0.1, n).round(6),
    }
    table = pd.DataFrame(cols)
    fname = tmp_path / "bio_eventrelated_100hz.csv"
    table.to_csv(fname, index=False)
    raw = read_neurokit_csv(fname, subject="neurokit-x", recording="neurokit/x")
    assert raw.info["sfreq"] == 100.0 and raw.n_times == n
    assert raw.ch_names == list(cols)
    assert raw.get_channel_types() == ["ecg", "gsr", "stim", "resp", "bio"]
    assert corpus_channel_kinds(raw) == {
        "ECG": "ecg",
        "EDA": "eda",
        "Photosensor": "photosensor",
        "RSP": "respiration",
        "PPG": "ppg",
    }
    data = raw.get_data()
    np.testing.assert_allclose(data[0], cols["ECG"] * 1e-3)
    np.testing.assert_allclose(data[1], cols["EDA"] * 1e-6)
    np.testing.assert_array_equal(data[2], cols["Photosensor"])
    np.testing.assert_allclose(data[3], cols["RSP"] * NOMINAL_SCALE)
    np.testing.assert_allclose(data[4], cols["PPG"] * NOMINAL_SCALE)
    assert raw.info["subject_info"]["his_id"] == "neurokit-x"
    # EOG in volts, the rate from the name (200 Hz); an empty cell is NaN, kept in place
    eog = rng.normal(-5e-3, 1e-4, (400, 2))
    lines = ["hEOG,vEOG"] + [f"{a:.17g},{b:.17g}" for a, b in eog]
    lines[11] = f"{eog[10, 0]:.17g},"
    (tmp_path / "eog_200hz.csv").write_text("\n".join(lines) + "\n")
    raw = read_neurokit_csv(tmp_path / "eog_200hz.csv")
    assert raw.info["sfreq"] == 200.0 and raw.get_channel_types() == ["eog", "eog"]
    data = raw.get_data()
    assert np.isnan(data[1, 10]) and np.isfinite(data).sum() == 799
    np.testing.assert_array_equal(data[:, :10], eog[:10].T)
    # the rate given, a file name without one, a column of unknown signal
    table.to_csv(tmp_path / "recording.csv", index=False)
    assert read_neurokit_csv(tmp_path / "recording.csv", sfreq=250).info["sfreq"] == 250.0
    with pytest.raises(ValueError, match="no sampling rate in the file name"):
        read_neurokit_csv(tmp_path / "recording.csv")
    table.assign(Temp=1.0).to_csv(tmp_path / "x_100hz.csv", index=False)
    with pytest.raises(ValueError, match=r"\['Temp'\] of unknown signal"):
        read_neurokit_csv(tmp_path / "x_100hz.csv")
    (tmp_path / "y_100hz.csv").write_text("ECG,RSP\n")
    with pytest.raises(ValueError, match="no sample"):
        read_neurokit_csv(tmp_path / "y_100hz.csv")
    assert READERS["neurokit_csv"] is read_neurokit_csv


def test_read_mne_fixture_retypes(tmp_path):
    names = ["EMG", "EOG", "ECG", "acc1", "C3", "Trigger"]
    info = mne.create_info(names, 125.0, ["eeg"] * 5 + ["stim"])
    data = np.random.default_rng(5).normal(0, 1e-5, (6, 1250))
    data[2] = 0.0
    fname = tmp_path / "multiple_annotation_chans.fif"  # the fixture's name: its rules
    mne.io.RawArray(data, info, verbose=False).save(fname, verbose="error")
    raw = read_mne_fixture(fname, subject="mne_testing-x", recording="mne_testing/x")
    assert dict(zip(raw.ch_names, raw.get_channel_types())) == {
        "EMG": "emg",
        "EOG": "eog",
        "ECG": "misc",
        "acc1": "misc",
        "C3": "eeg",
        "Trigger": "stim",
    }
    kinds = corpus_channel_kinds(raw)
    assert (kinds["ECG"], kinds["acc1"], kinds["Trigger"]) == ("flat", "accelerometer", "trigger")
    np.testing.assert_allclose(raw.get_data()[:2], data[:2])


def test_read_mne_fixture_eeglab_eog_and_biosemi_inputs(tmp_path):
    """EEGLAB/test_raw (EEGLAB's sample data, channels renamed): its 2nd and 6th channels
    are EOG1 and EOG2 (EEGLAB/test_chans.locs), the others EEG; EDF/test_reduced's
    external and "Ergo" inputs (unknown signals) are left out."""
    names = [f"EEG {k:03d}" for k in range(8)]
    info = mne.create_info(names, 128.0, "eeg")
    data = np.random.default_rng(6).normal(0, 1e-5, (8, 1280))
    mne.io.RawArray(data, info, verbose=False).save(tmp_path / "test_raw.fif", verbose="error")
    raw = read_mne_fixture(tmp_path / "test_raw.fif")
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert [ch for ch, t in types.items() if t == "eog"] == ["EEG 001", "EEG 005"]
    assert corpus_channel_kinds(raw)["EEG 005"] == "eog"
    assert corpus_channel_kinds(raw)["EEG 004"] == "eeg"
    np.testing.assert_allclose(raw.get_data(), data)
    info = mne.create_info(
        ["A1", "H16", "I5", "Ergo-Left", "Status"], 512.0, ["eeg"] * 4 + ["stim"]
    )
    data = np.random.default_rng(8).normal(0, 1e-5, (5, 2560))
    fname = tmp_path / "test_reduced.fif"
    mne.io.RawArray(data, info, verbose=False).save(fname, verbose="error")
    raw = read_mne_fixture(fname)
    assert dict(zip(raw.ch_names, raw.get_channel_types())) == {
        "A1": "eeg",
        "H16": "eeg",
        "Status": "stim",
    }


def test_corpus_channel_kinds_defaults_and_picks():
    info = mne.create_info(["a", "b", "c"], 100.0, ["resp", "gsr", "stim"])
    raw = mne.io.RawArray(np.zeros((3, 10)), info, verbose=False)
    assert corpus_channel_kinds(raw) == {"a": "respiration", "b": "eda", "c": "marker"}
    from mne_specae.datasets._corpus_readers import set_kinds

    set_kinds(raw, {"a": "bcg"})
    assert corpus_channel_kinds(raw.copy().pick(["a", "c"])) == {"a": "bcg", "c": "marker"}


# --- build_corpus from a git repository made here --------------------------------------


def _git(*args, cwd):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()


@pytest.fixture
def tiny_mirror(tmp_path, monkeypatch):
    """A mirror folder with one repository (owner/name) holding a Myo file and a BioSPPy
    file, and a corpus table pointing at them."""
    repo = tmp_path / "mirror" / "owner+name" / "repo"
    repo.mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    values = np.arange(-100, 100).reshape(25, 8) % 120
    myo = "\n".join(",".join(map(str, r)) + ",0" for r in np.tile(values, (480, 1)))  # 60 s
    (repo / "d").mkdir()
    (repo / "d" / "0.txt").write_text(myo)
    eda = "# Simple Text Format\n# Sampling Rate (Hz):= 100.00\n# Resolution:= 12\n# Labels:= EDA\n"
    eda += "\n".join(str(2048 + k % 50) for k in range(1200))
    (repo / "eda.txt").write_text(eda)
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "data", cwd=repo)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    rows = []
    for source, subject, relpath, path, fmt in (
        ("myo", "12345", "myo/right_hand/12345-1/0.txt", "d/0.txt", "myo_txt"),
        ("biosppy", "eda", "biosppy/eda.txt", "eda.txt", "biosppy_txt"),
    ):
        content = (repo / path).read_bytes()
        rows.append(
            dict(
                source=source,
                subject=subject,
                relpath=relpath,
                repo="owner/name",
                commit=commit,
                path=path,
                url=f"https://raw.githubusercontent.com/owner/name/{commit}/{path}",
                sha256=hashlib.sha256(content).hexdigest(),
                bytes=len(content),
                licence="MIT",
                format=fmt,
            )
        )
    table = pd.DataFrame(rows)
    monkeypatch.setattr(corpus_mod, "corpus_files", lambda sources=None: table.copy())
    return tmp_path / "mirror", table


def test_build_corpus_from_mirror(tiny_mirror, tmp_path):
    mirror, table = tiny_mirror
    out = build_corpus(tmp_path / "corpus", mirror=mirror, verbose="error")
    for row in table.itertuples():
        assert hashlib.sha256((out / row.relpath).read_bytes()).hexdigest() == row.sha256
    # resumable: a good file is kept as it is (not written again)
    target = out / table.loc[0, "relpath"]
    stamp = target.stat().st_mtime_ns
    os.utime(target, ns=(stamp - 10**9, stamp - 10**9))
    build_corpus(out, mirror=mirror, verbose="error")
    assert target.stat().st_mtime_ns == stamp - 10**9
    # a damaged file is fetched again
    target.write_text("damaged")
    build_corpus(out, mirror=mirror, verbose="error")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == table.loc[0, "sha256"]


def test_build_corpus_refuses_wrong_sha256(tiny_mirror, tmp_path, monkeypatch):
    mirror, table = tiny_mirror
    table.loc[1, "sha256"] = "0" * 64
    monkeypatch.setattr(corpus_mod, "corpus_files", lambda sources=None: table.copy())
    out = tmp_path / "corpus"
    with pytest.raises(
        OSError, match=r"(?s)1 of 2 corpus file.*biosppy/eda.txt.*does not match its sha256"
    ):
        build_corpus(out, mirror=mirror, verbose="error")
    assert not (out / "biosppy" / "eda.txt").exists()
    assert not list((out / "biosppy").glob("*.part"))  # no partial file left
    assert (out / table.loc[0, "relpath"]).is_file()  # the good file is in place


def test_build_corpus_missing_mirror_and_blob(tiny_mirror, tmp_path, monkeypatch):
    mirror, table = tiny_mirror
    with pytest.raises(OSError, match="2 of 2 .*\n.*No git mirror of owner/name"):
        build_corpus(tmp_path / "c", mirror=tmp_path / "elsewhere", verbose="error")
    table.loc[0, "path"] = "d/absent.txt"
    monkeypatch.setattr(corpus_mod, "corpus_files", lambda sources=None: table.copy())
    with pytest.raises(OSError, match="absent.txt .* is not in the mirror"):
        build_corpus(tmp_path / "c", mirror=mirror, verbose="error")


def test_read_corpus_summary_and_store(tiny_mirror, tmp_path):
    from mne_specae.stores.corpus import balanced_subset, prepare_corpus, source_fractions

    mirror, table = tiny_mirror
    out = tmp_path / "corpus"
    with pytest.raises(FileNotFoundError, match="build_corpus"):
        next(read_corpus(out))
    build_corpus(out, mirror=mirror, verbose="error")
    raws = list(read_corpus(out))
    assert [r.info["description"] for r in raws] == ["myo/right_hand/12345-1/0", "biosppy/eda"]
    assert [r.info["subject_info"]["his_id"] for r in raws] == ["myo-12345", "biosppy-eda"]
    assert raws[1].get_channel_types() == ["gsr"]
    summary = corpus_summary(out)
    assert list(summary["source"]) == ["biosppy", "myo"]
    np.testing.assert_allclose(summary["hours"], [12.0 / 3600, 8 * 60.0 / 3600])
    assert list(summary["licence"]) == ["BSD-3-Clause", "MIT"]

    store = prepare_corpus(tmp_path / "store", corpus=out, max_per_source=4, verbose="error")
    md = store.metadata
    counts = md.groupby(["dataset", "signal_type", "kind"]).size().to_dict()
    assert counts == {("biosppy", "gsr", "eda"): 2, ("myo", "emg", "emg"): 96}
    assert md["subject"].tolist()[0] == "myo-12345"
    x = np.asarray(store[np.arange(len(store))], dtype=np.float64)
    np.testing.assert_allclose(md["item_std"], x.std(axis=1), rtol=1e-5)
    assert md.groupby("dataset")["balanced"].sum().to_dict() == {"biosppy": 2, "myo": 4}
    keep = balanced_subset(md, 3)
    assert md[keep].groupby("dataset").size().to_dict() == {"biosppy": 2, "myo": 3}

    # a smaller store: myo cropped to the central quarter of each recording
    fractions = source_fractions(md, 24)
    assert fractions == {"myo": 0.25}
    small = prepare_corpus(tmp_path / "small", corpus=out, fractions=fractions, verbose="error")
    small_md = small.metadata
    assert small_md.groupby("dataset").size().to_dict() == {"biosppy": 2, "myo": 24}
    onsets = sorted(set(small_md[small_md["dataset"] == "myo"]["onset"]))
    np.testing.assert_allclose(onsets, [22.5, 27.5, 32.5])  # 3 of 12 segments, centred
    full = md[md["dataset"] == "myo"].set_index(["onset", "channel"]).index
    rows = np.flatnonzero(full.isin(list(zip(small_md["onset"], small_md["channel"]))))
    assert len(rows) == 0  # the full store's segments start at 0, 5, ...: other cuts


@pytest.mark.skipif(
    not os.environ.get("MNE_SPECAE_CORPUS"), reason="MNE_SPECAE_CORPUS is not set (no corpus)"
)
def test_corpus_on_disk():
    """Every file of the table is in the corpus folder; the first recording of each
    source reads with the expected types."""
    folder = get_corpus_path()
    table = corpus_files()
    missing = [p for p in table["relpath"] if not (folder / p).is_file()]
    assert missing == []
    expected = {
        "cinc2015": {"ecg"},
        "muse": {"eeg", "misc", "stim"},
        "myo": {"emg"},
        "uci_gestures": {"emg"},
        "mitdb_more": {"ecg"},
        "unibo_inail": {"misc"},
        "biosppy": {"misc"},
        "neurokit": {"ecg", "gsr", "resp", "stim"},
        "bi2012": {"eeg", "stim"},
        "uci_eye_state": {"eeg"},
    }
    for source, types in expected.items():
        raw = next(read_corpus(folder, sources=source))
        assert types <= set(raw.get_channel_types()), source


def test_read_raw_reads_muse_and_uci_gestures(tmp_path):
    """read_raw dispatches the corpus's Muse CSV and UCI gesture text; other text stays
    an error as before."""
    from mne_specae.datasets import read_raw

    stamps = np.arange(256 * 6) / 256.0
    table = pd.DataFrame({"timestamps": stamps})
    for ch in ("TP9", "AF7", "AF8", "TP10", "Right AUX"):
        table[ch] = np.sin(stamps * 7)
    table["Marker0"] = 0
    table.to_csv(tmp_path / "m.csv", index=False)
    raw = read_raw(tmp_path / "m.csv")
    assert raw.info["sfreq"] == 256.0 and raw.get_channel_types()[:4] == ["eeg"] * 4
    rows = pd.DataFrame(np.ones((50, 8)) * 1e-5, columns=[f"channel{k}" for k in range(1, 9)])
    rows.insert(0, "time", np.arange(50))
    rows["class"] = 0
    rows.to_csv(tmp_path / "g.txt", sep="\t", index=False)
    raw = read_raw(tmp_path / "g.txt")
    assert raw.info["sfreq"] == 200.0 and raw.n_times == 10
    (tmp_path / "other.txt").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="unknown text format"):
        read_raw(tmp_path / "other.txt")


def test_balanced_subset_floor_and_even_spread():
    from mne_specae.stores.corpus import balanced_subset

    md = pd.DataFrame(
        {
            "dataset": ["a"] * 1010 + ["b"] * 50,
            "signal_type": ["ecg"] * 1000 + ["eog"] * 10 + ["emg"] * 50,
            "kind": ["ecg"] * 1000 + ["eog"] * 10 + ["emg"] * 50,
        }
    )
    keep = balanced_subset(md, 100)
    counts = md[keep].groupby(["dataset", "signal_type"]).size().to_dict()
    # the rare EOG kept whole (under the floor of 100 // 4 = 25), ECG gets the rest;
    # dataset b is under the cap
    assert counts == {("a", "ecg"): 90, ("a", "eog"): 10, ("b", "emg"): 50}
    kept = np.flatnonzero(keep[:1000])
    assert kept[0] == 0 and kept[-1] == 999  # spread over the whole group
    assert np.ptp(np.diff(kept)) <= 1
    assert balanced_subset(md, None).all()


def test_build_corpus_by_download(tiny_mirror, tmp_path, monkeypatch):
    """Without a mirror, files come from their URLs (here a server on 127.0.0.1),
    checked against their sha256 in the same way."""
    import http.server
    import threading
    from functools import partial

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    mirror, table = tiny_mirror
    repo = mirror / "owner+name" / "repo"
    handler = partial(Quiet, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.delenv("MNE_SPECAE_MIRROR", raising=False)
        table["url"] = base + table["path"]
        monkeypatch.setattr(corpus_mod, "corpus_files", lambda sources=None: table.copy())
        out = build_corpus(tmp_path / "dl", verbose="error")
        for row in table.itertuples():
            assert (out / row.relpath).read_bytes() == (repo / row.path).read_bytes()
        table.loc[1, "sha256"] = "f" * 64
        out2 = tmp_path / "dl2"
        with pytest.raises(OSError, match="(?s)1 of 2 .*biosppy/eda.txt.*checksum"):
            build_corpus(out2, verbose="error")
        assert not (out2 / "biosppy" / "eda.txt").exists()
    finally:
        server.shutdown()
        server.server_close()
