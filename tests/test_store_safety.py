"""Segment stores that are damaged, tampered with, rewritten or half-written: every
case is refused with an error naming the file, never read or overwritten silently."""

import json
import os
import shutil

import mne
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mne_specae import prepare_segments, read_segments


@pytest.fixture(scope="module")
def small_store(data_path, tmp_path_factory):
    """A real store of two files: BioSPPy ECG (1 channel) and a UCI EMG file (4
    channels), 3 shards' worth of checks in seconds."""
    files = [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/uci_lower_limb/3Apie.txt"]
    return prepare_segments(files, tmp_path_factory.mktemp("safety") / "store", verbose=False)


@pytest.fixture
def store_copy(small_store, tmp_path):
    """A private copy of the small store (to damage)."""
    path = tmp_path / "deep" / "store"
    shutil.copytree(small_store.path, path)
    return path


def _edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _shard(path, k=0):
    return json.loads((path / "manifest.json").read_text())["shards"][k]


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_a_shard_outside_the_store_is_refused(store_copy, tmp_path, where):
    key = _shard(store_copy)["key"]
    victim = tmp_path / "victim"
    shutil.copy(store_copy / "shards" / f"{key}.npy", tmp_path / "victim.npy")
    shutil.copy(store_copy / "shards" / f"{key}.parquet", tmp_path / "victim.parquet")
    before = (tmp_path / "victim.parquet").read_bytes()
    evil = "../../../victim" if where == "relative" else str(victim)

    def change(m):
        m["shards"][0]["key"] = evil

    _edit_manifest(store_copy, change)
    with pytest.raises(ValueError, match=r"manifest.json.*shard key .*victim.*outside"):
        read_segments(store_copy)
    assert (tmp_path / "victim.parquet").read_bytes() == before


def test_a_table_name_outside_the_store_is_refused(store_copy):
    def change(m):
        m["shards"][0]["table"] = "../manifest.json"

    _edit_manifest(store_copy, change)
    with pytest.raises(ValueError, match=r"table .*manifest.json.*outside|table .*not a"):
        read_segments(store_copy)


def test_counts_sfreq_and_shapes_are_checked_against_the_shards(store_copy, small_store):
    first, second = _shard(store_copy, 0), _shard(store_copy, 1)
    # an undercounted shard: its rows would shift the next shard's metadata
    _edit_manifest(store_copy, lambda m: m["shards"][0].update(n_items=first["n_items"] - 1))
    store = read_segments(store_copy)
    with pytest.raises(
        ValueError,
        match=rf"{first['key']}.npy.*{first['n_items']} items.*"
        rf"manifest says {first['n_items'] - 1}",
    ):
        store[:]
    with pytest.raises(
        ValueError,
        match=rf"{first['key']}.parquet.*{first['n_items']} rows.*"
        rf"manifest says {first['n_items'] - 1}",
    ):
        store.metadata
    # a changed rate: the shards hold 5 s at 512 Hz
    _edit_manifest(store_copy, lambda m: m["shards"][0].update(n_items=first["n_items"]))
    _edit_manifest(store_copy, lambda m: m.update(sfreq=256.0))
    with pytest.raises(ValueError, match=r"sfreq 256.*512"):
        read_segments(store_copy)
    _edit_manifest(
        store_copy, lambda m: m.update(sfreq=256.0, settings=dict(m["settings"], sfreq=256.0))
    )
    with pytest.raises(ValueError, match=r"n_times 2560.*5 s at 256 Hz"):
        read_segments(store_copy)
    _edit_manifest(
        store_copy, lambda m: m.update(sfreq=512.0, settings=dict(m["settings"], sfreq=512.0))
    )
    for bad, what in ((-3, "n_items"), ("7", "n_items")):
        saved = _edit_manifest(store_copy, lambda m: m["shards"][1].update(n_items=bad))
        with pytest.raises(ValueError, match=what):
            read_segments(store_copy)
        saved["shards"][1]["n_items"] = second["n_items"]
        (store_copy / "manifest.json").write_text(json.dumps(saved))
    np.testing.assert_array_equal(read_segments(store_copy)[:], small_store[:])


def test_a_damaged_shard_or_table_names_the_file(store_copy):
    shard = _shard(store_copy, 1)
    npy = store_copy / "shards" / f"{shard['key']}.npy"
    table = store_copy / "shards" / f"{shard['key']}.parquet"
    data = npy.read_bytes()
    npy.write_bytes(data[: len(data) - 100])  # truncated
    with pytest.raises(ValueError, match=rf"{shard['key']}.npy.*(truncated|short)"):
        read_segments(store_copy)[:]
    npy.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=rf"{shard['key']}.npy.*not a valid"):
        read_segments(store_copy)[-1]
    npy.write_bytes(data)
    whole = pq.read_table(table)
    pq.write_table(whole.slice(0, whole.num_rows - 2), table)  # two rows missing
    with pytest.raises(ValueError, match=rf"{shard['key']}.parquet.*{shard['n_items'] - 2} rows"):
        read_segments(store_copy).metadata
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match=rf"{shard['key']}.parquet.*cannot be read"):
        read_segments(store_copy).metadata
    table.write_bytes(b'a,"b\n1,2\n')  # not Parquet at all
    with pytest.raises(ValueError, match=rf"{shard['key']}.parquet.*cannot be read"):
        read_segments(store_copy).metadata


def test_to_epochs_keeps_every_channels_item_columns(store_copy):
    store = read_segments(store_copy)
    n = len(store)
    store.write_columns(
        pd.DataFrame({"score": np.arange(n) * 1.5, "tag": [f"i{k}" for k in range(n)]})
    )
    (emg,) = store.to_epochs("signal_type == 'emg'")
    md = store.metadata
    rows = md[md["signal_type"] == "emg"]
    assert emg.ch_names == ["RF", "BF", "VM", "ST"]
    for j, ch in enumerate(emg.ch_names):
        np.testing.assert_array_equal(emg.metadata[f"score_{ch}"], rows["score"].to_numpy()[j::4])
        assert list(emg.metadata[f"tag_{ch}"]) == list(rows["tag"].to_numpy()[j::4])
    assert "score" not in emg.metadata and "tag" not in emg.metadata
    # segment columns stay single
    assert {"subject", "recording", "onset", "signal_type", "sfreq_orig", "source"} <= set(
        emg.metadata.columns
    )


def test_write_columns_is_all_or_nothing(store_copy, monkeypatch):
    store = read_segments(store_copy)
    n = len(store)
    store.write_columns(pd.DataFrame({"specae_000": np.full(n, 1.0)}), written_by="model A")
    before = read_segments(store_copy).metadata
    real = os.replace
    calls = []

    def failing(src, dst):
        if str(dst).endswith(".parquet"):
            calls.append(dst)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match=r"Could not write .*\.parquet: No space left"):
        store.write_columns(pd.DataFrame({"specae_000": np.full(n, 2.0)}), written_by="model B")
    monkeypatch.setattr(os, "replace", real)
    after = read_segments(store_copy)
    pd.testing.assert_frame_equal(after.metadata, before)  # model A everywhere, no mix
    assert after.manifest["tables"]["written_by"] == "model A"
    assert not [p.name for p in (store_copy / "shards").iterdir() if ".tmp" in p.name]
    n_files = len(list((store_copy / "shards").iterdir()))
    assert n_files == 2 * len(after.files)  # no orphaned table of model B
    store.write_columns(pd.DataFrame({"specae_000": np.full(n, 2.0)}), written_by="model B")
    again = read_segments(store_copy)
    assert (again.metadata["specae_000"] == 2.0).all()
    assert again.manifest["tables"]["written_by"] == "model B"
    assert len(list((store_copy / "shards").iterdir())) == n_files  # old tables removed


def test_a_table_that_does_not_match_the_manifest_is_detected(store_copy):
    store = read_segments(store_copy)
    store.write_columns(pd.DataFrame({"specae_000": np.zeros(len(store))}))
    table = store_copy / "shards" / store.manifest["shards"][1]["table"]
    pq.write_table(pq.read_table(table).drop(["specae_000"]), table)
    with pytest.raises(ValueError, match=r"columns .*do not match the manifest"):
        read_segments(store_copy).metadata


def test_text_and_numbers_come_back_exactly(data_path, tmp_path):
    store = prepare_segments(
        data_path / "ecg/biosppy/ecg.txt",
        tmp_path / "store",
        metadata={"code": "007", "flag": "True", "amount": "1e3", "n": 3, "ok": True, "w": 0.1},
        verbose=False,
    )
    md = read_segments(store.path).metadata
    assert list(md["code"]) == ["007"] * 3 and list(md["flag"]) == ["True"] * 3
    assert list(md["amount"]) == ["1e3"] * 3
    assert md["n"].dtype == np.int64 and md["ok"].dtype == bool and md["w"].dtype == float
    n = len(store)
    exact = np.array([0.1 + 0.2, 1 / 3, np.pi * 1e-300])[:n]
    store.write_columns(
        pd.DataFrame(
            {
                "label": ["007", "True", "1e3"][:n],
                "x": exact,
                "k": np.arange(n) * 10**15,
                "b": [True, False, True][:n],
                "none": [" 01", "NA", "null"][:n],
            }
        )
    )
    md = read_segments(store.path).metadata
    assert list(md["label"]) == ["007", "True", "1e3"][:n]
    assert list(md["none"]) == [" 01", "NA", "null"][:n]
    np.testing.assert_array_equal(md["x"].to_numpy(), exact)
    assert md["k"].dtype == np.int64 and list(md["k"]) == list(np.arange(n) * 10**15)
    assert md["b"].dtype == bool and list(md["b"]) == [True, False, True][:n]


def _two_type_raw():
    rng = np.random.default_rng(0)
    info = mne.create_info(["EEG1", "EEG2", "ECG"], 256.0, ["eeg", "eeg", "ecg"])
    raw = mne.io.RawArray(rng.standard_normal((3, 256 * 12)) * 1e-5, info, verbose=False)
    raw.info["description"] = "two-types"
    return raw


def test_a_store_rewritten_while_open_is_detected(tmp_path):
    raw = _two_type_raw()
    path = tmp_path / "store"
    prepare_segments(raw, path, picks="ecg", verbose=False)
    opened = read_segments(path)
    labels = opened.metadata["signal_type"]
    assert set(labels) == {"ecg"}
    prepare_segments(raw, path, picks="eeg", overwrite=True, verbose=False)
    with pytest.raises(RuntimeError, match="rewritten since it was opened; open it again"):
        opened[0]
    with pytest.raises(RuntimeError, match="rewritten since it was opened"):
        opened.write_columns(pd.DataFrame({"x": np.zeros(len(opened))}))
    fresh = read_segments(path)
    assert set(fresh.metadata["signal_type"]) == {"eeg"}
    # continuing a store (new files added) is not a rewrite
    other = _two_type_raw()
    other.info["description"] = "another"
    other._data *= 2
    prepare_segments([raw, other], path, picks="eeg", verbose=False)
    np.testing.assert_array_equal(fresh[: len(fresh)], read_segments(path)[: len(fresh)])


def test_a_store_prepared_again_with_the_same_content_is_detected(tmp_path):
    """Issue 18 leftover: overwrite=True with identical content gave the same manifest
    (same shard keys and checksums), so a reader that had it open read on."""
    raw = _two_type_raw()
    path = tmp_path / "store"
    prepare_segments(raw, path, picks="ecg", verbose=False)
    opened = read_segments(path)
    first = opened.manifest["generation"]
    assert isinstance(first, str) and len(first) >= 16
    opened.metadata  # noqa: B018 (read once)
    prepare_segments(raw, path, picks="ecg", overwrite=True, verbose=False)
    again = read_segments(path)
    assert again.manifest["generation"] != first
    assert [s["key"] for s in again.manifest["shards"]] == [
        s["key"] for s in opened.manifest["shards"]
    ]
    with pytest.raises(RuntimeError, match="rewritten since it was opened"):
        opened[0]
    with pytest.raises(RuntimeError, match="rewritten since it was opened"):
        opened.write_columns(pd.DataFrame({"x": np.zeros(len(opened))}))
    # continuing the store keeps its generation
    other = _two_type_raw()
    other.info["description"] = "another"
    other._data *= 2
    prepare_segments([raw, other], path, picks="ecg", verbose=False)
    assert read_segments(path).manifest["generation"] == again.manifest["generation"]
    again[0]  # not a rewrite


def test_write_columns_takes_the_store_lock(store_copy):
    """Issue 18 leftover: add_embeddings (write_columns) and a preparation both rewrite
    manifest.json; they take the same lock, and the error names the other pid."""
    import subprocess
    import sys

    from mne_specae.stores._writing import StoreLock

    store = read_segments(store_copy)
    table = pd.DataFrame({"specae_000": np.ones(len(store))})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (store_copy / "prepare.lock").write_text(f"{other.pid}\n")
        with pytest.raises(
            RuntimeError, match=rf"another process \(pid {other.pid}\) is preparing this store"
        ):
            store.write_columns(table)
        assert "specae_000" not in read_segments(store_copy).metadata
        # a lock held by a write of columns: a preparation is refused, and says so
        (store_copy / "prepare.lock").write_text(f"{other.pid} writing columns into\n")
        with pytest.raises(
            RuntimeError,
            match=rf"another process \(pid {other.pid}\) is writing columns into this store",
        ):
            with StoreLock(store_copy, "preparing"):  # what prepare_segments takes
                pass
    finally:
        other.kill()
        other.wait()
    store.write_columns(table)  # the holder is gone: stale lock taken over, released
    assert (read_segments(store_copy).metadata["specae_000"] == 1.0).all()
    assert not (store_copy / "prepare.lock").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fds through /proc")
def test_shards_are_synced_by_the_caller_before_their_commit(data_path, tmp_path, monkeypatch):
    """Workers write shard files without waiting for the disk; the calling process
    syncs each shard's files (and their folder) before the manifest that commits
    them. Before: every fsync in the worker, two per file, while its core idled."""
    from mne_specae.stores import _shards

    events = []
    fsync = os.fsync

    def recording_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    segment_and_write = _shards._segment_and_write

    def worker(*args, **kwargs):
        events.append(("worker starts", None))
        out = segment_and_write(*args, **kwargs)
        events.append(("worker ends", None))
        return out

    monkeypatch.setattr(_shards, "_segment_and_write", worker)
    files = [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg_1.txt"]
    store = prepare_segments(files, tmp_path / "store", progress=False, verbose="error")
    assert len(store) == 15
    synced = [path for kind, path in events if kind == "fsync"]
    in_worker = False
    for kind, path in events:  # no fsync between a worker's start and end
        in_worker = {"worker starts": True, "worker ends": False}.get(kind, in_worker)
        assert not (in_worker and kind == "fsync"), path
    for shard in store.manifest["shards"]:
        for suffix in (".npy", ".parquet"):
            name = str(tmp_path / "store" / "shards" / f"{shard['key']}{suffix}")
            assert name in synced
            # then committed: a manifest written after it
            assert any("manifest.json" in p for p in synced[synced.index(name) :])
