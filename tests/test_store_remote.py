"""Remote sources and stores through fsspec, against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import pickle

import _s3
import numpy as np
import pandas as pd
import pytest

import mne_specae as msa
from mne_specae.stores._reads import plan_reads

moto_server, s3, uploaded_store = _s3.moto_server, _s3.s3, _s3.uploaded_store

#: Columns that name where a file was read from (a path here, a URL there).
_PATH_COLUMNS = ["source"]


def _upload_sources(data_path, s3):
    """Two eegmat EDF files and an MIT-BIH record (header, signal, annotations)
    into ``<bucket>/recordings/``, laid out as in a local folder; that folder."""
    files = {
        "eeg/Subject00_1.edf": data_path / "eeg/eegmat/Subject00_1.edf",
        "eeg/Subject00_2.edf": data_path / "eeg/eegmat/Subject00_2.edf",
    }
    for ext in ("hea", "dat", "atr"):
        files[f"ecg/100.{ext}"] = data_path / f"ecg/mitdb/100.{ext}"
    for name, local in files.items():
        s3.fs.put_file(str(local), f"{s3.bucket}/recordings/{name}")
    return files


def _local_copy(files, folder):
    for name, local in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(local.read_bytes())
    return folder


@pytest.fixture
def remote_sources(data_path, s3, tmp_path):
    files = _upload_sources(data_path, s3)
    return _local_copy(files, tmp_path / "recordings")


@pytest.mark.slow  # over 10 s on 2 cores
def test_a_store_prepared_from_a_url_equals_one_from_the_local_folder(
    remote_sources, s3, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(cache))
    kw = dict(duration=5.0, sfreq=128.0, progress=False)
    local = msa.prepare_segments(remote_sources, tmp_path / "local", **kw)
    remote = msa.prepare_segments(
        f"{s3.bucket}/recordings/",
        tmp_path / "remote",
        storage_options=s3.storage_options,
        n_jobs=2,
        **kw,
    )
    assert len(local) == len(remote) > 0
    assert set(remote.metadata["recording"]) == {
        "ecg/100",
        "eeg/Subject00_1-ecg",
        "eeg/Subject00_1-eeg",
        "eeg/Subject00_2-ecg",
        "eeg/Subject00_2-eeg",
    }
    pd.testing.assert_frame_equal(
        local.metadata.drop(columns=_PATH_COLUMNS), remote.metadata.drop(columns=_PATH_COLUMNS)
    )
    assert set(remote.metadata["source"]) == {
        f"{s3.bucket}/recordings/ecg/100.hea",
        f"{s3.bucket}/recordings/eeg/Subject00_1.edf",
        f"{s3.bucket}/recordings/eeg/Subject00_2.edf",
    }
    np.testing.assert_array_equal(local[:], remote[:])  # bit for bit
    assert local[:].dtype == np.float32
    assert cache.is_dir() and not any(cache.iterdir())  # every copy removed

    # run again: every file already there (its identity from the listing), nothing redone
    again = msa.prepare_segments(
        f"{s3.bucket}/recordings/", tmp_path / "remote", storage_options=s3.storage_options, **kw
    )
    assert again.manifest["shards"] == remote.manifest["shards"]
    assert not any(cache.iterdir())


def test_one_remote_file_and_a_wfdb_record_by_its_signal_file(remote_sources, s3, tmp_path):
    kw = dict(duration=5.0, sfreq=128.0, progress=False, storage_options=s3.storage_options)
    store = msa.prepare_segments(
        [f"{s3.bucket}/recordings/ecg/100.dat", f"{s3.bucket}/recordings/eeg/Subject00_2.edf"],
        tmp_path / "store",
        **kw,
    )
    assert set(store.metadata["recording"]) == {"100", "Subject00_2-ecg", "Subject00_2-eeg"}
    local = msa.prepare_segments(
        [remote_sources / "ecg/100.hea", remote_sources / "eeg/Subject00_2.edf"],
        tmp_path / "local",
        duration=5.0,
        sfreq=128.0,
        progress=False,
    )
    np.testing.assert_array_equal(local[:], store[:])


def test_a_missing_url_or_bucket_gives_a_clear_error(remote_sources, s3, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file or folder: s3://.*/nothing"):
        msa.prepare_segments(
            f"{s3.bucket}/nothing/",
            tmp_path / "a",
            storage_options=s3.storage_options,
            progress=False,
        )
    # (moto does not check credentials: a bucket that is not there stands for a
    # store that cannot be listed)
    with pytest.raises(OSError, match="s3://no-such-bucket-r1/recordings"):
        msa.prepare_segments(
            "s3://no-such-bucket-r1/recordings/",
            tmp_path / "b",
            storage_options=s3.storage_options,
            progress=False,
        )
    with pytest.raises(TypeError, match="storage_options"):
        msa.prepare_segments(
            f"{s3.bucket}/recordings/", tmp_path / "c", storage_options="key=1", progress=False
        )


def test_a_store_read_from_a_url_equals_the_local_store(uploaded_store, s3):
    local, url = uploaded_store
    remote = msa.read_segments(url + "/", storage_options=s3.storage_options)
    assert type(remote).__name__ == "RemoteSegmentStore"
    assert isinstance(remote, msa.SegmentStore)
    assert len(remote) == len(local) and remote.manifest == local.manifest
    assert (remote.sfreq, remote.n_times) == (local.sfreq, local.n_times)
    pd.testing.assert_frame_equal(remote.metadata, local.metadata)
    pd.testing.assert_frame_equal(
        remote.read_columns(["channel", "signal_type"]),
        local.read_columns(["channel", "signal_type"]),
    )
    assert remote.columns == local.columns
    n = len(local)
    idx = np.array([n - 1, 0, 1, 2, 5, n // 2, n // 2 + 1, 3])  # across both shards
    np.testing.assert_array_equal(remote[idx], local[idx])
    np.testing.assert_array_equal(remote[7], local[7])
    out = np.zeros((len(idx), local.n_times), np.float32)
    assert remote.read_into(idx, out) is out
    np.testing.assert_array_equal(out, local[idx])
    np.testing.assert_array_equal(remote[:], local[:])
    assert remote.shard_sha256() == local.shard_sha256()
    for a, b in zip(
        remote.to_epochs("signal_type == 'ecg'"), local.to_epochs("signal_type == 'ecg'")
    ):
        np.testing.assert_array_equal(a.get_data(), b.get_data())
        assert a.ch_names == b.ch_names
    copy = pickle.loads(pickle.dumps(remote))  # as worker processes get it
    assert type(copy) is type(remote)
    np.testing.assert_array_equal(copy[idx], local[idx])
    # the same through the class; no memory map (columns: test_store_remote_columns)
    same = msa.SegmentStore(url, storage_options=s3.storage_options)
    np.testing.assert_array_equal(same[idx], local[idx])
    with pytest.raises(ValueError, match="no memory map"):
        same.memmap(0)


def test_a_batch_is_one_concurrent_request_of_its_runs(uploaded_store, s3, monkeypatch):
    """A remote batch sends all its ranged GETs at once (``cat_ranges``: concurrent on
    s3fs), never one ``cat_file`` per run; a short answer is named as damage."""
    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options)
    n = len(local)
    idx = np.array([n - 1, 0, 1, 2, 5, n // 2, n // 2 + 1, 3])  # runs over 2 shards
    shard = np.searchsorted(remote._offsets, idx, side="right") - 1
    runs = plan_reads(shard, idx - remote._offsets[shard], remote.n_times * 4)
    assert len(runs) >= 4 and len(set(shard)) == 2
    remote[idx]  # the headers are read once, before counting
    fs = remote._fs
    calls = []
    cat_ranges = fs.cat_ranges

    def counted(paths, starts, ends, **kwargs):
        calls.append(len(paths))
        return cat_ranges(paths, starts, ends, **kwargs)

    def refused(*args, **kwargs):
        raise AssertionError("a run read with its own cat_file")

    monkeypatch.setattr(fs, "cat_ranges", counted)
    monkeypatch.setattr(fs, "cat_file", refused)
    np.testing.assert_array_equal(remote[idx], local[idx])
    assert calls == [len(runs)]

    def short(paths, starts, ends, **kwargs):
        return [b[:-4] for b in cat_ranges(paths, starts, ends, **kwargs)]

    monkeypatch.setattr(fs, "cat_ranges", short)
    with pytest.raises(ValueError, match="shorter than its manifest says"):
        remote[idx]


def test_a_store_url_that_is_no_store_is_named(s3):
    with pytest.raises(FileNotFoundError, match=r"s3://.*/nothing is not a segment store"):
        msa.read_segments(f"{s3.bucket}/nothing", storage_options=s3.storage_options)


@pytest.mark.slow  # over 10 s on 2 cores
def test_training_from_a_remote_store_gives_the_weights_of_the_local_one(
    uploaded_store, s3, isolated_torch_rng
):
    local, url = uploaded_store
    _s3.assert_trains_like(local, msa.read_segments(url, storage_options=s3.storage_options))


@pytest.mark.slow  # over 10 s on 2 cores
def test_a_store_written_to_a_url_killed_and_resumed_equals_an_uninterrupted_one(
    data_path, s3, tmp_path, monkeypatch
):
    from mne_specae.stores import _commits

    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(tmp_path / "cache"))
    files = [
        data_path / "ecg/mitdb/100.hea",
        data_path / "eeg/eegmat/Subject00_2.edf",
        data_path / "ecg/mitdb/106.hea",
    ]
    kw = dict(sfreq=128.0, progress=False, storage_options=s3.storage_options)
    whole = msa.prepare_segments(files, f"{s3.bucket}/whole", **kw)
    assert type(whole).__name__ == "RemoteSegmentStore" and len(whole.manifest["shards"]) == 3

    upload = _commits.RemoteTarget.upload_shard
    calls = []

    def fail_at_the_second(self, folder, key):
        calls.append(key)
        if len(calls) == 2:  # the second shard's upload: killed mid-run
            raise KeyboardInterrupt
        return upload(self, folder, key)

    monkeypatch.setattr(_commits.RemoteTarget, "upload_shard", fail_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        msa.prepare_segments(files, f"{s3.bucket}/resumed", **kw)
    partial = msa.read_segments(f"{s3.bucket}/resumed", storage_options=s3.storage_options)
    assert len(partial.manifest["shards"]) == 1  # what was committed, and only that
    assert not s3.fs.exists(f"{s3.bucket}/resumed/prepare.lock")  # released
    monkeypatch.setattr(_commits.RemoteTarget, "upload_shard", upload)
    resumed = msa.prepare_segments(files, f"{s3.bucket}/resumed", **kw)
    assert _s3.stored_objects(s3, f"{s3.bucket}/resumed") == _s3.stored_objects(
        s3, f"{s3.bucket}/whole"
    )
    np.testing.assert_array_equal(resumed[:], whole[:])
    pd.testing.assert_frame_equal(resumed.metadata, whole.metadata)
    assert not any((tmp_path / "cache").iterdir())  # no staging left


def test_a_second_writer_of_a_remote_store_is_refused(data_path, s3, tmp_path):
    s3.fs.pipe_file(f"{s3.bucket}/busy/prepare.lock", b"another writer")
    with pytest.raises(RuntimeError, match=r"Another process is writing the store .*busy"):
        msa.prepare_segments(
            data_path / "ecg/mitdb/100.hea",
            f"{s3.bucket}/busy",
            progress=False,
            storage_options=s3.storage_options,
        )
    assert s3.fs.cat_file(f"{s3.bucket}/busy/prepare.lock") == b"another writer"


def test_a_remote_file_gone_before_it_is_read_is_skipped_with_its_reason(
    remote_sources, s3, tmp_path, monkeypatch
):
    from mne_specae.stores import _remote, preparation

    gone = f"{s3.bucket}/recordings/eeg/Subject00_1.edf"

    def listed_then_removed(url, storage_options=None):
        found = _remote.find_remote_recordings(url, storage_options)
        s3.fs.rm_file(gone)  # removed between the listing and the worker's copy
        return found

    monkeypatch.setattr(preparation, "find_remote_recordings", listed_then_removed)
    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(tmp_path / "cache"))
    with pytest.warns(RuntimeWarning, match="Skipped"):
        store = msa.prepare_segments(
            f"{s3.bucket}/recordings/eeg/",
            tmp_path / "store",
            sfreq=128.0,
            progress=False,
            storage_options=s3.storage_options,
        )
    assert set(store.metadata["recording"]) == {"Subject00_2-ecg", "Subject00_2-eeg"}
    [skipped] = store.manifest["skipped"]
    assert skipped["source"] == gone and "No such file or folder" in skipped["reason"]
    assert not any((tmp_path / "cache").iterdir())
