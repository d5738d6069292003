"""BIDS datasets through mne-bids: channels.tsv types and bads, events.tsv annotations,
entities as metadata columns; file-name parsing when mne-bids is absent."""

import pickle

import numpy as np
import pandas as pd
import pytest

from mne_specae import prepare_segments
from mne_specae.stores import _bids

mne_bids = pytest.importorskip("mne_bids")
from _bids_tree import SUBJECTS, bids_path, write_curated_tree  # noqa: E402

pytest.importorskip("edfio")  # write_raw_bids(format="EDF")


@pytest.fixture(scope="module")
def bids_root(data_path, tmp_path_factory):
    """A BIDS tree of eegmat Subject00_1 and Subject01_1 (30 s each, channels typed as
    the package's EDF reader types them: 20 EEG, one ECG), written with mne-bids; then
    edited as a curator would: Fp1 of sub-00 marked bad, A2-A1 of sub-01 typed MISC in
    channels.tsv, a BAD_ artefact at 1-3 s in sub-00's events.tsv."""
    return write_curated_tree(tmp_path_factory.mktemp("bids") / "ds", data_path, 30.0)


def _types(root, sub):
    table = pd.read_csv(bids_path(root, sub, "channels", ".tsv").fpath, sep="\t")
    return dict(zip(table["name"], table["type"].str.lower()))


def test_bids_root_through_mne_bids(bids_root, tmp_path):
    store = prepare_segments(bids_root, tmp_path / "store", verbose=False)
    md = store.metadata
    assert store.manifest["skipped"] == []
    assert sorted(set(md["recording"])) == [
        f"sub-{s}/ses-1/eeg/sub-{s}_ses-1_task-arith_acq-a_run-1_eeg-{kind}"
        for s in SUBJECTS
        for kind in ("ecg", "eeg")
    ]  # derivatives/ left out
    # entities are columns (strings, as in the file names), the subject is sub-<label>
    assert sorted(set(md["subject"])) == ["sub-00", "sub-01"]
    for column, value in dict(session="1", task="arith", run="1", acquisition="a").items():
        assert set(md[column].astype(str)) == {value}, column
    # channels.tsv: bads left out, types followed
    by_subject = {s: md[md["subject"] == f"sub-{s}"] for s in SUBJECTS}
    assert "Fp1" not in set(by_subject["00"]["channel"])
    assert "Fp1" in set(by_subject["01"]["channel"])
    assert "A2-A1" not in set(by_subject["01"]["channel"])  # MISC: not a signal type
    assert set(by_subject["00"].loc[by_subject["00"]["channel"] == "A2-A1", "signal_type"]) == {
        "eeg"
    }
    for sub, rows in by_subject.items():
        types = _types(bids_root, sub)
        assert all(types[ch] == kind for ch, kind in zip(rows["channel"], rows["signal_type"]))
    # events.tsv: the BAD_ artefact at 1-3 s leaves sub-00's first segment out
    assert 0.0 not in set(by_subject["00"]["onset"])
    assert 0.0 in set(by_subject["01"]["onset"])


def test_without_mne_bids_the_file_names_are_parsed(bids_root, tmp_path, monkeypatch):
    with_bids = prepare_segments(bids_root, tmp_path / "bids", verbose=False)
    monkeypatch.setattr(_bids, "mne_bids_module", lambda: None)
    # ECG: typed EEG by the EDF reader (no "ECG " prefix in the file), corrected by name
    with pytest.warns(RuntimeWarning, match=r"corrected after the channel name: ECG"):
        plain = prepare_segments(bids_root, tmp_path / "plain", verbose=False)
    md, ref = plain.metadata, with_bids.metadata
    # the derivative is read too; sidecars are not: Fp1 and A2-A1 kept, no BAD_ event
    assert any("derivatives" in s for s in md["source"])
    md = md[~md["source"].str.contains("derivatives")]
    assert {"Fp1", "A2-A1"} <= set(md.loc[md["subject"] == "sub-00", "channel"])
    assert "A2-A1" in set(md.loc[md["subject"] == "sub-01", "channel"])
    assert 0.0 in set(md.loc[md["subject"] == "sub-00", "onset"])
    # the same entity columns either way; the same samples where both keep an item
    assert list(md.columns) == list(ref.columns)
    keys = ["subject", "recording", "onset", "channel"]
    both = ref.reset_index().merge(md.reset_index(), on=keys, suffixes=("", "_plain"))
    assert len(both) == len(ref)
    for column in ("signal_type", "session", "task", "run", "acquisition", "source"):
        assert (both[column].astype(str) == both[f"{column}_plain"].astype(str)).all()
    np.testing.assert_array_equal(
        with_bids[both["index"].to_numpy()], plain[both["index_plain"].to_numpy()]
    )


def test_folders_and_files_inside_a_bids_dataset(bids_root, tmp_path):
    edf = bids_path(bids_root, "01", "eeg", ".edf").fpath
    found = _bids.find_bids_recordings(bids_root / "sub-01")
    assert list(found) == [bids_root / "sub-01" / edf.relative_to(bids_root / "sub-01")]
    assert list(_bids.find_bids_recordings(edf)) == [edf]
    assert _bids.find_bids_recordings(tmp_path) is None  # not BIDS
    assert _bids.bids_root_of(edf) == bids_root.absolute()
    # a BIDSPath crosses to worker processes
    path = found[next(iter(found))]
    assert pickle.loads(pickle.dumps(path)).fpath == path.fpath
    store = prepare_segments([edf], tmp_path / "store", verbose=False)
    assert "A2-A1" not in set(store.metadata["channel"])  # read through mne-bids
    assert set(store.metadata["recording"]) == {
        "sub-01_ses-1_task-arith_acq-a_run-1_eeg-ecg",
        "sub-01_ses-1_task-arith_acq-a_run-1_eeg-eeg",
    }


def test_caller_channel_types_win_over_channels_tsv(bids_root):
    path = bids_path(bids_root, "01", "eeg", ".edf")
    raw = _bids.read_bids_raw(path)
    assert raw.get_channel_types(["A2-A1", "ECG"]) == ["misc", "ecg"]
    raw = _bids.read_bids_raw(path, channel_types={"A2-A1": "eeg"})
    assert raw.get_channel_types(["A2-A1"]) == ["eeg"]
    with pytest.raises(ValueError, match=r"no channel\(s\) \['X'\]"):
        _bids.read_bids_raw(path, channel_types={"X": "eeg"})
