"""BIDS datasets through mne-bids: channels.tsv types and bads, events.tsv annotations,
entities as metadata columns; file-name parsing when mne-bids is absent."""

import pickle

import numpy as np
import pandas as pd
import pytest

from mne_specae import prepare_segments
from mne_specae.stores import _bids

mne_bids = pytest.importorskip("mne_bids")
pytest.importorskip("edfio")  # write_raw_bids(format="EDF")

SUBJECTS = ("00", "01")
ENTITIES = dict(session="1", task="arith", run=1, acquisition="a", datatype="eeg")


def _path(root, sub, suffix, extension):
    return mne_bids.BIDSPath(subject=sub, root=root, suffix=suffix, extension=extension, **ENTITIES)


@pytest.fixture(scope="module")
def bids_root(data_path, tmp_path_factory):
    """A BIDS tree of eegmat Subject00_1 and Subject01_1 (30 s each, channels typed as
    the package's EDF reader types them: 20 EEG, one ECG), written with mne-bids; then
    edited as a curator would: Fp1 of sub-00 marked bad, A2-A1 of sub-01 typed MISC in
    channels.tsv, a BAD_ artefact at 1-3 s in sub-00's events.tsv."""
    from mne_specae.datasets import read_raw

    root = tmp_path_factory.mktemp("bids") / "ds"
    for sub in SUBJECTS:
        raw = read_raw(data_path / f"eeg/eegmat/Subject{sub}_1.edf", verbose=False)
        raw.crop(0, 30.0, include_tmax=False)
        raw.info["line_freq"] = 50.0
        bids_path = mne_bids.BIDSPath(subject=sub, root=root, **ENTITIES)
        mne_bids.write_raw_bids(
            raw, bids_path, allow_preload=True, format="EDF", overwrite=True, verbose=False
        )
    mne_bids.mark_channels(
        _path(root, "00", "eeg", ".edf"), ch_names=["Fp1"], status="bad", verbose=False
    )
    channels = _path(root, "01", "channels", ".tsv").fpath
    table = pd.read_csv(channels, sep="\t", keep_default_na=False)
    table.loc[table["name"] == "A2-A1", "type"] = "MISC"
    table.to_csv(channels, sep="\t", index=False)
    events = _path(root, "00", "events", ".tsv").fpath
    table = pd.read_csv(events, sep="\t", keep_default_na=False)
    row = dict.fromkeys(table.columns, "n/a")
    row.update(onset=1.0, duration=2.0, trial_type="BAD_artefact", sample=500)
    pd.concat([table, pd.DataFrame([row])]).to_csv(events, sep="\t", index=False)
    # a derivative is not a recording of the dataset
    derivative = root / "derivatives" / "clean" / "sub-00" / "eeg"
    derivative.mkdir(parents=True)
    edf = _path(root, "00", "eeg", ".edf").fpath
    (derivative / edf.name).write_bytes(edf.read_bytes())
    return root


def _types(root, sub):
    table = pd.read_csv(_path(root, sub, "channels", ".tsv").fpath, sep="\t")
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
    edf = _path(bids_root, "01", "eeg", ".edf").fpath
    found = _bids.find_bids_recordings(bids_root / "sub-01")
    assert list(found) == [bids_root / "sub-01" / edf.relative_to(bids_root / "sub-01")]
    assert list(_bids.find_bids_recordings(edf)) == [edf]
    assert _bids.find_bids_recordings(tmp_path) is None  # not BIDS
    assert _bids.bids_root_of(edf) == bids_root.absolute()
    # a BIDSPath crosses to worker processes
    bids_path = found[next(iter(found))]
    assert pickle.loads(pickle.dumps(bids_path)).fpath == bids_path.fpath
    store = prepare_segments([edf], tmp_path / "store", verbose=False)
    assert "A2-A1" not in set(store.metadata["channel"])  # read through mne-bids
    assert set(store.metadata["recording"]) == {
        "sub-01_ses-1_task-arith_acq-a_run-1_eeg-ecg",
        "sub-01_ses-1_task-arith_acq-a_run-1_eeg-eeg",
    }


def test_caller_channel_types_win_over_channels_tsv(bids_root):
    bids_path = _path(bids_root, "01", "eeg", ".edf")
    raw = _bids.read_bids_raw(bids_path)
    assert raw.get_channel_types(["A2-A1", "ECG"]) == ["misc", "ecg"]
    raw = _bids.read_bids_raw(bids_path, channel_types={"A2-A1": "eeg"})
    assert raw.get_channel_types(["A2-A1"]) == ["eeg"]
    with pytest.raises(ValueError, match=r"no channel\(s\) \['X'\]"):
        _bids.read_bids_raw(bids_path, channel_types={"X": "eeg"})
