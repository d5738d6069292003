"""Remote sources and stores through fsspec, against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import _s3
import numpy as np
import pandas as pd
import pytest

import mne_specae as msa

moto_server, s3 = _s3.moto_server, _s3.s3  # the fixtures

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
