"""A remote store read through a local shard cache (``read_segments(url, cache=...)``),
against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import pickle

import _s3
import numpy as np
import pytest

import mne_specae as msa
from mne_specae.stores._shard_cache import parse_size

moto_server, s3, uploaded_store = _s3.moto_server, _s3.s3, _s3.uploaded_store


def _count_requests(store, monkeypatch):
    """Ranged batch reads and whole-file downloads of ``store``'s file system."""
    fs, counts = store._fs, {"cat_ranges": 0, "get_file": 0}
    for name in counts:
        original = getattr(fs, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(fs, name, counted)
    return counts


def test_a_cached_remote_store_downloads_each_shard_once(uploaded_store, s3, tmp_path, monkeypatch):
    local, url = uploaded_store
    cache = tmp_path / "cache"
    remote = msa.read_segments(url, storage_options=s3.storage_options, cache=cache)
    counts = _count_requests(remote, monkeypatch)
    n = len(local)
    idx = np.array([n - 1, 0, 1, 2, 5, n // 2, n // 2 + 1, 3])  # across both shards
    np.testing.assert_array_equal(remote[idx], local[idx])
    assert counts == {"cat_ranges": 0, "get_file": 2}  # the two shards, whole
    assert sorted(p.stat().st_size for p in cache.glob("*.npy")) == sorted(
        p.stat().st_size for p in (local.path / "shards").glob("*.npy")
    )
    assert not list(cache.glob("*.part"))  # no partial download left
    rng = np.random.default_rng(0)
    for _ in range(5):  # later batches: local reads only
        batch = np.sort(rng.choice(n, 16, replace=False))
        np.testing.assert_array_equal(remote[batch], local[batch])
    np.testing.assert_array_equal(remote[:], local[:])
    assert counts == {"cat_ranges": 0, "get_file": 2}
    assert remote.shard_sha256() == local.shard_sha256()  # from the copies
    assert counts["get_file"] == 2
    # another reader (a process, a later run) finds the copies
    again = msa.read_segments(url, storage_options=s3.storage_options, cache=cache)
    counts = _count_requests(again, monkeypatch)
    np.testing.assert_array_equal(again[idx], local[idx])
    assert counts == {"cat_ranges": 0, "get_file": 0}
    copy = pickle.loads(pickle.dumps(again))  # as worker processes get it
    np.testing.assert_array_equal(copy[idx], local[idx])


def test_a_shard_rewritten_under_its_key_is_not_read_from_a_stale_copy(
    uploaded_store, s3, tmp_path
):
    local, url = uploaded_store
    cache = tmp_path / "cache"
    first = msa.read_segments(url, storage_options=s3.storage_options, cache=cache)
    np.testing.assert_array_equal(first[[0]], local[[0]])
    # the same shard key, other samples (same size and header): another object
    key = local.manifest["shards"][0]["key"]  # item 0's shard
    data = np.load(local.path / "shards" / f"{key}.npy")
    changed = tmp_path / "changed.npy"
    np.save(changed, data + 1)
    s3.fs.put_file(str(changed), f"{url}/shards/{key}.npy")
    second = msa.read_segments(url, storage_options=s3.storage_options, cache=cache)
    np.testing.assert_array_equal(second[[0]], local[[0]] + 1)
    assert len(list(cache.glob("*.npy"))) == 2  # the old copy and the new one


def test_shards_beyond_cache_size_are_read_by_ranges(uploaded_store, s3, tmp_path, caplog):
    local, url = uploaded_store
    cache = tmp_path / "cache"
    sizes = sorted(p.stat().st_size for p in (local.path / "shards").glob("*.npy"))
    remote = msa.read_segments(
        url, storage_options=s3.storage_options, cache=cache, cache_size=sizes[-1]
    )
    with caplog.at_level("INFO", logger="mne"):
        np.testing.assert_array_equal(remote[:], local[:])
    assert len(list(cache.glob("*.npy"))) == 1  # one shard fits, the other does not
    assert "is full" in caplog.text and caplog.text.count("is full") == 1
    tiny = msa.read_segments(
        url, storage_options=s3.storage_options, cache=tmp_path / "t", cache_size="1 KB"
    )
    np.testing.assert_array_equal(tiny[:], local[:])
    assert not list((tmp_path / "t").glob("*.npy"))


def test_cache_settings_are_checked(uploaded_store, s3, tmp_path, caplog):
    local, url = uploaded_store
    assert parse_size("20GB") == 20 << 30
    assert parse_size("500 MiB") == 500 << 20
    assert parse_size(1024) == 1024 and parse_size(None) is None
    for bad in ("lots", -1, "5 XB", True):
        with pytest.raises(ValueError, match="cache_size must be a number of bytes"):
            msa.read_segments(
                url, storage_options=s3.storage_options, cache=tmp_path, cache_size=bad
            )
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot create the cache folder"):
        msa.read_segments(url, storage_options=s3.storage_options, cache=blocker / "sub")
    with caplog.at_level("INFO", logger="mne"):  # a local store is read in place
        same = msa.read_segments(local.path, cache=tmp_path / "unused")
    assert "cache=" in caplog.text and "unused" in caplog.text
    np.testing.assert_array_equal(same[:3], local[:3])
    assert not (tmp_path / "unused").exists()


@pytest.mark.slow  # over 10 s on 2 cores
def test_training_from_a_cached_remote_store_gives_the_weights_of_the_local_one(
    uploaded_store, s3, tmp_path, isolated_torch_rng
):
    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options, cache=tmp_path / "c")
    _s3.assert_trains_like(local, remote)
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2


def test_readers_downloading_the_same_shard_at_once_share_one_copy(
    uploaded_store, s3, tmp_path, monkeypatch
):
    """Two readers (as two torchrun ranks on one node) fetch the same shards at the
    same moment: each gets the right rows, one complete copy per shard stays, no
    partial file is left or read."""
    import threading

    local, url = uploaded_store
    cache = tmp_path / "cache"
    readers = [
        msa.read_segments(url, storage_options=s3.storage_options, cache=cache) for _ in range(2)
    ]
    both_in = threading.Barrier(2)
    for store in readers:
        original = store._fs.get_file

        def slow(*args, _original=original, **kwargs):
            both_in.wait(timeout=30)  # both downloads of a shard under way together
            return _original(*args, **kwargs)

        monkeypatch.setattr(store._fs, "get_file", slow)
    results, errors = [None, None], []

    def read(k):
        try:
            results[k] = readers[k][:]
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=read, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for got in results:
        np.testing.assert_array_equal(got, local[:])
    assert len(list(cache.glob("*.npy"))) == 2 and not list(cache.glob("*.part"))


def test_an_epoch_downloads_its_shards_ahead_at_once_in_the_order_it_needs_them(
    uploaded_store, s3, tmp_path, monkeypatch
):
    """Training asks for an epoch's shards when it begins: they download together in
    background threads, first needed first, and each read waits for its own shard
    only; the shards' sizes and ETags come from one listing and their headers from
    the copies (no HEAD or header GET per shard); a failed download is raised where
    its shard is read. Before: one shard at a time, when a batch first touched it,
    three requests each (81 shards in a row before the first batch of a 20,000-item
    store)."""
    import threading

    import torch

    from mne_specae.training.streaming import StoreItems

    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options, cache=tmp_path / "c")
    n_first = local.manifest["shards"][0]["n_items"]
    both_in, threads = threading.Barrier(2), []
    original = remote._fs.get_file

    def together(*args, **kwargs):  # both shards' downloads under way at the same time
        threads.append(threading.current_thread().name)
        both_in.wait(timeout=30)
        return original(*args, **kwargs)

    monkeypatch.setattr(remote._fs, "get_file", together)
    asked = []  # requests about single shard objects other than their download
    for name in ("info", "cat_file"):
        method = getattr(remote._fs, name)

        def counted(path, *args, _name=name, _method=method, **kwargs):
            if "/shards/" in str(path):
                asked.append(_name)
            return _method(path, *args, **kwargs)

        monkeypatch.setattr(remote._fs, name, counted)
    items = StoreItems(remote)
    batches = [torch.tensor([n_first + 1, 2]), torch.tensor([0, n_first])]  # shard 1 first
    assert items.download_ahead(batches)  # the reads wait on downloads
    assert list(remote._pending) == [1, 0]
    for idx in batches:
        np.testing.assert_array_equal(remote[idx.numpy()], local[idx.numpy()])
    assert len(threads) == 2 and all(t.startswith("mne-specae-download") for t in threads)
    assert asked == []  # sizes and ETags from one listing, headers from the copies
    assert not items.download_ahead(batches)  # all cached: local reads, nothing to do
    assert not remote._pending and len(threads) == 2
    assert msa.read_segments(url, storage_options=s3.storage_options).remote
    assert StoreItems(msa.read_segments(url, storage_options=s3.storage_options)).download_ahead(
        batches
    )  # no cache: ranged GETs
    pickle.loads(pickle.dumps(remote))  # no thread crosses to a worker process
    remote.close()

    failing = msa.read_segments(url, storage_options=s3.storage_options, cache=tmp_path / "d")

    def broken(*args, **kwargs):
        raise OSError("connection reset")

    monkeypatch.setattr(failing._fs, "get_file", broken)
    StoreItems(failing).download_ahead(batches)
    with pytest.raises(OSError, match="connection reset"):
        failing[[0]]


def test_embedding_a_cached_remote_store_downloads_its_shards_ahead(
    uploaded_store, s3, tmp_path, monkeypatch
):
    """``embed`` (``mne-specae embed URL --cache``) asks for every shard at once too:
    both download in background threads, and the embeddings equal the local store's."""
    import threading

    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options, cache=tmp_path / "c")
    threads, original = [], remote._fs.get_file

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(remote._fs, "get_file", recorded)
    est = msa.SpecAE(
        max_epochs=1, filters=4, n_layers=2, resize=(16, 16), device="cpu", random_state=0
    ).fit(local)
    np.testing.assert_array_equal(est.embed(remote)[0], est.embed(local)[0])
    assert len(threads) == 2 and all(t.startswith("mne-specae-download") for t in threads)


def test_a_bounded_cache_counts_its_folder_once_for_many_downloads(tmp_path):
    """With ``cache_size``, the cache's bytes are counted from the folder at most every
    RECOUNT seconds, and the downloads since added (before: a listing of the folder
    for every download, thousands in an epoch of a big store), and the bound holds."""
    from mne_specae.stores._shard_cache import ShardCache

    class Files:  # what fetch asks of a file system
        def get_file(self, remote, local):
            with open(local, "wb") as fid:
                fid.write(b"x" * 100)

    cache = ShardCache(tmp_path / "c", 100 * 30, "s3://b/store")
    counts = []
    original = cache.used
    cache.used = lambda: counts.append(1) or original()
    got = [
        cache.fetch(Files(), f"k{k}", cache.name(f"k{k}", "e"), 100, lambda p: None)
        for k in range(40)
    ]
    assert sum(g is not None for g in got) == 30  # the bound: 30 of 100 bytes
    assert got[29] is not None and got[30] is None
    assert len(counts) == 1
    assert original() == 3000
