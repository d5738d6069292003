"""A BIDS tree on object storage read through mne-bids, as a local one is: channel
types and bads from channels.tsv, entities as columns, events.tsv annotations, the
sidecar line frequency; against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import _s3
import numpy as np
import pandas as pd
import pytest
from mne.utils import catch_logging, use_log_level
from tiny import TINY_ONE_EPOCH, assert_same_weights, weights_of

import mne_specae as msa
from mne_specae.stores import _bids, _remote_bids
from mne_specae.stores._remote import find_remote_recordings

mne_bids = pytest.importorskip("mne_bids")
from _bids_tree import SUBJECTS, bids_path, write_curated_tree  # noqa: E402

pytest.importorskip("edfio")  # write_raw_bids(format="EDF")

moto_server, s3 = _s3.moto_server, _s3.s3  # the fixtures

KW = dict(duration=5.0, sfreq=128.0, progress=False)


@pytest.fixture(scope="module")
def bids_root(data_path, tmp_path_factory):
    """A BIDS tree of eegmat Subject00_1 and Subject01_1 (15 s each), written with
    mne-bids (line frequency 50 Hz), then curated: Fp1 of sub-00 bad, A2-A1 of sub-01
    typed MISC, a BAD_ artefact at 1-3 s in sub-00's events.tsv; a derivative."""
    return write_curated_tree(tmp_path_factory.mktemp("bids") / "ds", data_path, 15.0)


@pytest.fixture
def bids_url(bids_root, s3):
    """The BIDS tree uploaded to ``<bucket>/ds`` (file for file); its URL."""
    for local in sorted(p for p in bids_root.rglob("*") if p.is_file()):
        s3.fs.put_file(str(local), f"{s3.bucket}/ds/{local.relative_to(bids_root).as_posix()}")
    return f"{s3.bucket}/ds"


def _edf_url(url, sub):
    return f"{url}/sub-{sub}/ses-1/eeg/sub-{sub}_ses-1_task-arith_acq-a_run-1_eeg.edf"


def test_a_bids_tree_at_a_url_is_read_as_the_local_tree(
    bids_root, bids_url, s3, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(cache))
    local = msa.prepare_segments(bids_root, tmp_path / "local", **KW)
    opts = dict(storage_options=s3.storage_options, **KW)
    remote = msa.prepare_segments(bids_url + "/", tmp_path / "remote", n_jobs=2, **opts)
    on_s3 = msa.prepare_segments(bids_url, f"{s3.bucket}/store", **opts)
    md = remote.metadata
    # what channels.tsv and events.tsv say, as from the local tree
    sub00, sub01 = (md[md["subject"] == f"sub-{s}"] for s in SUBJECTS)
    assert "Fp1" not in set(sub00["channel"]) and "Fp1" in set(sub01["channel"])
    assert "A2-A1" not in set(sub01["channel"]) and "A2-A1" in set(sub00["channel"])
    assert 0.0 not in set(sub00["onset"]) and 0.0 in set(sub01["onset"])
    for column, value in dict(session="1", task="arith", run="1", acquisition="a").items():
        assert set(md[column].astype(str)) == {value}, column
    assert sorted(set(md["recording"])) == [
        f"sub-{s}/ses-1/eeg/sub-{s}_ses-1_task-arith_acq-a_run-1_eeg-{kind}"
        for s in SUBJECTS
        for kind in ("ecg", "eeg")
    ]  # derivatives/ left out
    assert set(md["source"]) == {_edf_url(bids_url, s) for s in SUBJECTS}
    for store in (remote, on_s3):
        pd.testing.assert_frame_equal(
            local.metadata.drop(columns="source"), store.metadata.drop(columns="source")
        )
        pd.testing.assert_series_equal(remote.metadata["source"], store.metadata["source"])
        np.testing.assert_array_equal(local[:], store[:])
    assert [s["checksum"][:5] for s in remote.manifest["shards"]] == ["etag:"] * 2
    assert cache.is_dir() and not any(cache.iterdir())  # every copy removed
    # run again: the identity from the listing, nothing redone
    again = msa.prepare_segments(bids_url, tmp_path / "remote", **opts)
    assert again.manifest["shards"] == remote.manifest["shards"]


def test_one_epoch_from_the_s3_store_trains_the_weights_of_the_local_one(
    bids_root, bids_url, s3, tmp_path, one_thread, isolated_torch_rng
):
    opts = dict(storage_options=s3.storage_options, **KW)
    local = msa.prepare_segments(bids_root, tmp_path / "local", **KW)
    msa.prepare_segments(bids_url, f"{s3.bucket}/store", **opts)
    remote = msa.read_segments(f"{s3.bucket}/store", storage_options=s3.storage_options)
    weights = [
        weights_of(msa.SpecAE(**TINY_ONE_EPOCH).fit(store, init=None).model_)
        for store in (local, remote)
    ]
    assert_same_weights(*weights)


def test_a_folder_or_a_file_inside_a_remote_bids_tree(bids_root, bids_url, s3, tmp_path):
    opts = dict(storage_options=s3.storage_options, **KW)
    sub01 = msa.prepare_segments(f"{bids_url}/sub-01", tmp_path / "folder", **opts)
    assert set(sub01.metadata["recording"]) == {
        f"ses-1/eeg/sub-01_ses-1_task-arith_acq-a_run-1_eeg-{kind}" for kind in ("ecg", "eeg")
    }  # named from the URL given, as a plain folder
    assert "A2-A1" not in set(sub01.metadata["channel"])  # through mne-bids
    one = msa.prepare_segments(_edf_url(bids_url, "00"), tmp_path / "file", **opts)
    assert set(one.metadata["recording"]) == {
        f"sub-00_ses-1_task-arith_acq-a_run-1_eeg-{kind}" for kind in ("ecg", "eeg")
    }
    assert "Fp1" not in set(one.metadata["channel"])
    assert 0.0 not in set(one.metadata["onset"])
    local = msa.prepare_segments(
        [bids_path(bids_root, "00", "eeg", ".edf").fpath], tmp_path / "local", **KW
    )
    pd.testing.assert_frame_equal(
        local.metadata.drop(columns="source"), one.metadata.drop(columns="source")
    )


def test_a_worker_mirrors_the_recording_and_its_sidecars(bids_url, s3, tmp_path):
    found = find_remote_recordings(bids_url, s3.storage_options, cache=tmp_path)
    remote = next(f for f in found if f.url.endswith(_edf_url(bids_url, "01")))
    stem = "sub-01_ses-1_task-arith_acq-a_run-1"
    with remote.fetched() as local:
        root = local.parents[3]
        bids_path = remote.bids_path_at(local)
        assert bids_path.fpath == local and bids_path.root == root
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        raw = _bids.read_bids_raw(bids_path)
    assert files == [
        "dataset_description.json",
        "participants.json",
        "participants.tsv",
        "sub-01/ses-1/eeg/" + stem + "_channels.tsv",
        "sub-01/ses-1/eeg/" + stem + "_eeg.edf",
        "sub-01/ses-1/eeg/" + stem + "_eeg.json",
        "sub-01/ses-1/eeg/" + stem + "_events.json",
        "sub-01/ses-1/eeg/" + stem + "_events.tsv",
        "sub-01/ses-1/sub-01_ses-1_scans.tsv",
    ]  # nothing of sub-00, no derivative, no README
    assert raw.info["line_freq"] == 50.0  # the sidecar's
    assert raw.get_channel_types(["A2-A1"]) == ["misc"]
    assert not root.exists()  # removed on exit
    with pytest.raises(RuntimeError, match="boom"), remote.fetched() as local:
        root = local.parents[3]
        raise RuntimeError("boom")
    assert not root.exists() and not any(tmp_path.iterdir())  # also after an error


def test_without_mne_bids_a_remote_tree_is_a_plain_folder(bids_url, s3, monkeypatch):
    monkeypatch.setattr(_bids, "mne_bids_module", lambda: None)
    with use_log_level("info"), catch_logging() as log:
        found = find_remote_recordings(bids_url, s3.storage_options)
    assert f"{bids_url} is a BIDS dataset, but mne-bids is not installed" in log.getvalue()
    assert len(found) == 3  # the derivative too
    assert all(f.bids_path_at("x") is None for f in found)


def test_the_sidecars_copied_with_a_recording_follow_the_inheritance_principle():
    rec = "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_eeg.vhdr"
    files = [
        rec,
        "README",
        "dataset_description.json",
        "participants.tsv",
        "task-rest_eeg.json",  # inherited from the root
        "task-other_eeg.json",  # another task's
        "sub-01/sub-01_sessions.tsv",
        "sub-01/ses-1/sub-01_ses-1_scans.tsv",
        "sub-01/ses-1/sub-01_ses-1_notes.txt",  # not a sidecar
        "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_eeg.eeg",
        "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_eeg.vmrk",
        "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_channels.tsv",
        "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-2_channels.tsv",  # run 2's
        "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_channels.tsv",  # every run's
        "sub-01/ses-1/eeg/sub-01_ses-1_space-CapTrak_electrodes.tsv",  # space: not binding
        "sub-01/ses-1/eeg/sub-01_ses-1_acq-x_space-CapTrak_electrodes.tsv",  # acq x only
        "sub-01/ses-2/eeg/sub-01_ses-2_task-rest_run-1_channels.tsv",  # another session
        "sub-02/sub-02_sessions.tsv",
        "derivatives/dataset_description.json",
    ]
    assert _remote_bids._companions(rec, _remote_bids.by_folder(files)) == sorted(
        [
            "dataset_description.json",
            "participants.tsv",
            "task-rest_eeg.json",
            "sub-01/sub-01_sessions.tsv",
            "sub-01/ses-1/sub-01_ses-1_scans.tsv",
            "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_eeg.eeg",
            "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_eeg.vmrk",
            "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_run-1_channels.tsv",
            "sub-01/ses-1/eeg/sub-01_ses-1_task-rest_channels.tsv",
            "sub-01/ses-1/eeg/sub-01_ses-1_space-CapTrak_electrodes.tsv",
        ]
    )
