"""The lock object of a store written to object storage: who holds it, a heartbeat,
stale locks taken over, fresh ones refused (moto's S3 server on 127.0.0.1; each test
failed before the lock recorded its holder)."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta, timezone

import _s3
import numpy as np
import pandas as pd
import pytest

import mne_specae as msa

moto_server, s3 = _s3.moto_server, _s3.s3  # the fixtures


@pytest.fixture
def files(data_path):
    """Two short recordings (BioSPPy ECG 15 s, EMG 63.9 s): two shards."""
    return [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg_1.txt"]


def _kw(s3):
    return dict(sfreq=128.0, progress=False, storage_options=s3.storage_options)


def _lock_record(age_s, host="gone-host", pid=4242):
    """A lock as a writer on another machine leaves it, last refreshed ``age_s`` ago."""
    refreshed = datetime.now(timezone.utc) - timedelta(seconds=age_s)
    return json.dumps(
        dict(
            host=host,
            pid=pid,
            token="f" * 32,
            doing="preparing",
            taken=(refreshed - timedelta(seconds=30)).isoformat(timespec="seconds"),
            refreshed=refreshed.isoformat(timespec="seconds"),
        )
    ).encode()


def test_a_stale_lock_of_a_killed_writer_is_taken_over(files, s3, tmp_path, monkeypatch):
    """Before: refused until a person removed the object by hand."""
    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(tmp_path / "cache"))
    whole = msa.prepare_segments(files, f"{s3.bucket}/whole", **_kw(s3))
    lock = f"{s3.bucket}/taken/prepare.lock"
    s3.fs.pipe_file(lock, _lock_record(age_s=3600))  # killed an hour ago
    with pytest.warns(RuntimeWarning, match=r"taking over the lock of pid 4242 on gone-host"):
        store = msa.prepare_segments(files, f"{s3.bucket}/taken", **_kw(s3))
    assert not s3.fs.exists(lock)  # removed at the end of the run
    assert _s3.stored_objects(s3, f"{s3.bucket}/taken") == _s3.stored_objects(
        s3, f"{s3.bucket}/whole"
    )
    assert len(store) == len(whole) == 3 + 12
    np.testing.assert_array_equal(store[:], whole[:])
    pd.testing.assert_frame_equal(store.metadata, whole.metadata)
    assert not any((tmp_path / "cache").iterdir())
    # a shorter threshold: a lock 10 minutes old is stale too
    s3.fs.pipe_file(lock, _lock_record(age_s=600))
    with pytest.warns(RuntimeWarning, match=r"not refreshed for over 300 s"):
        msa.prepare_segments(files, f"{s3.bucket}/taken", stale_lock=300, **_kw(s3))
    assert not s3.fs.exists(lock)


def test_a_fresh_lock_is_refused_naming_its_holder(files, s3):
    """Before: "Another process is writing the store" without the holder or a way on."""
    lock = f"{s3.bucket}/busy/prepare.lock"
    record = _lock_record(age_s=20, host="busy-host", pid=77)
    s3.fs.pipe_file(lock, record)
    with pytest.raises(RuntimeError, match=r"Another process is writing the store") as info:
        msa.prepare_segments(files, f"{s3.bucket}/busy", **_kw(s3))
    message = str(info.value)
    assert "held by pid 77 on busy-host" in message
    assert "last refreshed" in message and "s ago" in message
    assert "900 s (stale_lock)" in message and "stale_lock=0" in message
    assert s3.fs.cat_file(lock) == record  # left alone
    assert not s3.fs.exists(f"{s3.bucket}/busy/manifest.json")
    # breaking it on purpose (the holder is known to be gone)
    with pytest.warns(RuntimeWarning, match=r"taking over the lock of pid 77 on busy-host"):
        store = msa.prepare_segments(files, f"{s3.bucket}/busy", stale_lock=0, **_kw(s3))
    assert len(store) == 15 and not s3.fs.exists(lock)
    with pytest.raises(ValueError, match="stale_lock must be a number of seconds >= 0"):
        msa.prepare_segments(files, f"{s3.bucket}/busy", stale_lock=-1, **_kw(s3))
    with pytest.raises(TypeError, match="stale_lock"):
        msa.prepare_segments(files, f"{s3.bucket}/busy", stale_lock="1", **_kw(s3))


def test_the_lock_names_its_holder_and_is_refreshed_at_each_commit(files, s3, monkeypatch):
    """Before: the lock held ``<hex> pid N`` and was never rewritten."""
    from mne_specae.stores import _commits, _remote_lock

    monkeypatch.setattr(_remote_lock, "HEARTBEAT", 0.0)  # refresh at every commit
    lock = f"{s3.bucket}/store/prepare.lock"
    seen = []
    upload = _commits.RemoteTarget.upload_shard

    def look_at_the_lock(self, folder, key):
        seen.append(json.loads(s3.fs.cat_file(lock)))
        return upload(self, folder, key)

    monkeypatch.setattr(_commits.RemoteTarget, "upload_shard", look_at_the_lock)
    msa.prepare_segments(files, f"{s3.bucket}/store", **_kw(s3))
    assert len(seen) == 2  # one per shard
    for holder in seen:
        assert holder["host"] == socket.gethostname() and holder["pid"] == os.getpid()
        assert holder["doing"] == "preparing" and len(holder["token"]) == 32
    assert seen[0]["token"] == seen[1]["token"] and seen[0]["taken"] == seen[1]["taken"]
    stamps = [datetime.fromisoformat(h["refreshed"]) for h in seen]
    assert stamps[0] <= stamps[1]
    assert abs((datetime.now(timezone.utc) - stamps[1]).total_seconds()) < 60
    assert not s3.fs.exists(lock)


def test_a_writer_whose_lock_was_taken_over_stops_before_its_next_commit(files, s3, monkeypatch):
    """Before: both writers went on committing."""
    from mne_specae.stores import _commits, _remote_lock

    monkeypatch.setattr(_remote_lock, "HEARTBEAT", 0.0)
    lock = f"{s3.bucket}/store/prepare.lock"
    upload = _commits.RemoteTarget.upload_shard
    other = _lock_record(age_s=0, host="other-host", pid=99)

    def taken_over(self, folder, key):
        s3.fs.pipe_file(lock, other)  # another writer broke our lock (stale_lock=0)
        return upload(self, folder, key)

    monkeypatch.setattr(_commits.RemoteTarget, "upload_shard", taken_over)
    with pytest.raises(_remote_lock.LockLostError, match=r"taken over by pid 99 on other-host"):
        msa.prepare_segments(files, f"{s3.bucket}/store", **_kw(s3))
    assert s3.fs.cat_file(lock) == other  # the other writer's lock stays
    # the shard uploaded meanwhile is not committed: the lock is checked again just
    # before the manifest's PUT (before: committed after the takeover)
    manifest = f"{s3.bucket}/store/manifest.json"
    assert not s3.fs.exists(manifest) or json.loads(s3.fs.cat_file(manifest))["shards"] == []


def test_the_lock_is_refreshed_between_commits_by_a_thread(s3, monkeypatch):
    """A long file between two commits does not let a live writer's lock go stale."""
    import time

    from mne_specae.stores import _remote_lock

    monkeypatch.setattr(_remote_lock, "HEARTBEAT", 0.0)  # beats every second (the floor)
    path = f"{s3.bucket}/store/prepare.lock"
    lock = _remote_lock.RemoteLock(s3.fs, path, f"{s3.bucket}/store").acquire()
    first = json.loads(s3.fs.cat_file(path))
    time.sleep(2.5)
    later = json.loads(s3.fs.cat_file(path))
    assert later["token"] == first["token"] and later["taken"] == first["taken"]
    assert later["refreshed"] > first["refreshed"]  # ISO stamps in UTC: in time order
    lock.release()
    assert not s3.fs.exists(path) and not lock._beat.is_alive()


def test_the_lock_on_a_file_system_without_conditional_writes(tmp_path):
    """fsspec's memory file system (no ETag, no If-Match): refused while fresh, taken
    over when stale, a takeover by another writer seen at the next refresh."""
    import fsspec

    from mne_specae.stores._remote_lock import LockLostError, RemoteLock

    fs = fsspec.filesystem("memory")
    path = f"/s1-lock-{tmp_path.name}/prepare.lock"
    first = RemoteLock(fs, path, "memory://store").acquire()
    with pytest.raises(RuntimeError, match=r"is held by pid \d+ on "):
        RemoteLock(fs, path, "memory://store").acquire()
    with pytest.warns(RuntimeWarning, match="as asked \\(stale_lock=0\\)"):
        second = RemoteLock(fs, path, "memory://store", stale_after=0).acquire()
    with pytest.raises(LockLostError, match="taken over by pid"):
        first.refresh(force=True)
    first.release()
    assert fs.exists(path)  # the second writer's lock stays
    second.refresh(force=True)
    second.release()
    assert not fs.exists(path)
    fs.pipe_file(path, _lock_record(age_s=1200))
    with pytest.warns(RuntimeWarning, match="not refreshed for over 900 s"):
        RemoteLock(fs, path, "memory://store").acquire().release()
    assert not fs.exists(path)
