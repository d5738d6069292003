"""One home for each job (issue 19): the picks resolver, the NaN bridge, the channels
with no finite sample, the atomic writer, the name of a Raw, evenly spaced indices.
Each was two to four implementations; these tests pin the behaviour kept."""

import os

import mne
import numpy as np
import pytest
from mne.utils import catch_logging

from mne_specae.segments import raw_name
from mne_specae.utils._files import file_stem, save_atomic, write_atomic
from mne_specae.utils._picks import pick_channels
from mne_specae.utils._signals import bridge_nonfinite, evenly_spaced, no_finite_channels


@pytest.fixture
def info():
    names = ["ECG", "Fz", "Cz", "EMG", "EOG", "STI", "MEG1"]
    types = ["ecg", "eeg", "eeg", "emg", "eog", "stim", "mag"]
    info = mne.create_info(names, 256.0, types)
    info["bads"] = ["Cz"]
    return info


def _names(info, idx):
    return [info["ch_names"][i] for i in idx]


def test_pick_channels_defaults(info):
    # segments, the estimator, unusual: ECG, EEG and EMG that are not bad
    assert _names(info, pick_channels(info, None)) == ["ECG", "Fz", "EMG"]
    # spectrograms: also MNE's data channels (here a magnetometer), never EOG or stim
    idx = pick_channels(info, None, default="data", with_ref_meg=False)
    assert _names(info, idx) == ["ECG", "Fz", "EMG", "MEG1"]
    # channel types (picks="all" there): every channel that is not bad
    all_good = ["ECG", "Fz", "EMG", "EOG", "STI", "MEG1"]
    assert _names(info, pick_channels(info, "all", default="all")) == all_good
    # picks=None there: MNE's own None (what identify_channel_types always did)
    assert _names(info, pick_channels(info, None, default="all")) == ["Fz", "MEG1"]
    assert pick_channels(info, None).dtype.kind == "i"


def test_pick_channels_bads_follow_mne(info):
    assert _names(info, pick_channels(info, "eeg")) == ["Fz"]  # type picks: bads out
    assert _names(info, pick_channels(info, ["Cz", "Fz"])) == ["Cz", "Fz"]  # named: kept
    with catch_logging(verbose=True) as log:
        pick_channels(info, "eeg", log_bads=True)
    assert "Left out 1 bad channel(s): ['Cz']" in log.getvalue()
    with catch_logging(verbose=True) as log:
        pick_channels(info, "eeg")
    assert "Left out" not in log.getvalue()


def test_pick_channels_errors_name_picks_types_and_bads(info):
    only_bad = info.copy()
    only_bad["bads"] = ["Fz", "Cz"]
    with pytest.raises(
        ValueError, match=r"No channel for picks='eeg' that is not bad.*bads: \['Fz', 'Cz'\]"
    ):
        pick_channels(only_bad, "eeg")
    with pytest.raises(ValueError, match=r"No channel for picks=\['nope'\] that is not bad: "):
        pick_channels(info, ["nope"])  # MNE's reason follows
    stim = mne.create_info(["STI", "EOG"], 256.0, ["stim", "eog"])
    with pytest.raises(ValueError, match=r"No ECG, EEG or EMG channel that is not bad"):
        pick_channels(stim, None)
    with pytest.raises(
        ValueError, match=r"No ECG, EEG, EMG or other data channel .*types: \['eog', 'stim'\]"
    ):
        pick_channels(stim, None, default="data")


def test_bridge_nonfinite():
    x = np.array([[np.nan, 1.0, np.inf, 3.0, np.nan], [1.0, 2.0, 3.0, 4.0, 5.0]])
    out = bridge_nonfinite(x)
    # linear across the gap, held at the ends; finite rows unchanged; input untouched
    np.testing.assert_array_equal(out, [[1.0, 1.0, 2.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    assert np.isnan(x[0, 0]) and out.dtype == np.float64
    # a row without a finite sample becomes zeros (make_segments refuses it before)
    np.testing.assert_array_equal(bridge_nonfinite(np.full((1, 3), np.nan)), np.zeros((1, 3)))
    finite = np.ones((2, 4), np.float32)
    assert bridge_nonfinite(finite) is finite  # nothing to bridge: no copy
    np.testing.assert_array_equal(bridge_nonfinite([np.nan, 2.0, np.nan]), [2.0, 2.0, 2.0])


def test_no_finite_channels():
    data = np.array([[np.nan, np.inf], [np.nan, 1.0], [0.0, 0.0]])
    assert no_finite_channels(["a", "b", "c"], data) == ["a"]


@pytest.mark.parametrize(
    "n, k, expected",
    [(5, 10, [0, 1, 2, 3, 4]), (10, 3, [0, 4, 9]), (10, 10, list(range(10))), (0, 3, [])],
)
def test_evenly_spaced(n, k, expected):
    idx = evenly_spaced(n, k)
    assert idx.tolist() == expected and idx.dtype == np.int64
    if n:  # the old twins: np.unique(np.linspace(0, n - 1, k).round().astype(int))
        old = np.unique(np.linspace(0, n - 1, k).round().astype(int))
        assert idx.tolist() == old.tolist()


def test_raw_name_and_file_stem(tmp_path):
    raw = mne.io.RawArray(np.zeros((1, 256)), mne.create_info(["ECG"], 256.0, "ecg"))
    assert raw_name(raw) == "unknown" and raw_name(raw, "Raw") == "Raw"
    fname = tmp_path / "rest_raw.fif"
    raw.save(fname, verbose=False)
    assert raw_name(mne.io.read_raw_fif(fname, verbose=False)) == "rest_raw"
    raw.info["description"] = "s1/rest"
    assert raw_name(raw) == "s1/rest"
    assert file_stem("a/b/rec.edf") == "rec" and file_stem("x.fif.gz") == "x"


def test_write_atomic_text_bytes_and_failures(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    assert write_atomic(path, lambda fid: fid.write("a,b\r\n1,2\n")) == path
    assert path.read_bytes() == b"a,b\r\n1,2\n"  # text written as is (newline="")
    write_atomic(tmp_path / "x.bin", lambda fid: fid.write(b"\x00\x01"), mode="wb")
    assert (tmp_path / "x.bin").read_bytes() == b"\x00\x01"

    def boom(fid):
        fid.write("half")
        raise KeyError("not an OSError")

    with pytest.raises(KeyError):  # any failure: the temporary file is removed
        write_atomic(path, boom)
    assert path.read_bytes() == b"a,b\r\n1,2\n" and sorted(os.listdir(tmp_path)) == [
        "table.csv",
        "x.bin",
    ]

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match=r"Could not write .*table\.csv: No space left.*\(kept\)"):
        write_atomic(path, lambda fid: fid.write("new"), note="kept")
    monkeypatch.undo()
    assert path.read_bytes() == b"a,b\r\n1,2\n"
    assert sorted(os.listdir(tmp_path)) == ["table.csv", "x.bin"]
    # save_atomic is the same writer with torch.save (and creates its folder)
    save_atomic({"w": 1}, tmp_path / "sub" / "m.pt")
    assert os.listdir(tmp_path / "sub") == ["m.pt"]
