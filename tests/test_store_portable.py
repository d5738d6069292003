"""A store read where ``os.preadv`` is missing (Windows, some macOS Pythons): the
portable reader (seek and readinto), forced here, gives the same rows and the same
training as ``os.preadv`` (mne_specae.stores._reads)."""

import os
import pickle
import shutil
import threading

import numpy as np
import pytest
from tiny import TINY_ONE_EPOCH, assert_same_weights, weights_of

from mne_specae import SpecAE, prepare_segments, read_segments
from mne_specae.stores import _reads
from mne_specae.stores._reads import ENV_VAR, plan_reads, read_mode

needs_preadv = pytest.mark.skipif(not hasattr(os, "preadv"), reason="no os.preadv here")


@pytest.fixture(scope="module")
def store(data_path, tmp_path_factory):
    """Real segments of three files (three shards): BioSPPy ECG and EMG, a UCI EMG."""
    files = [
        data_path / "ecg/biosppy/ecg.txt",
        data_path / "emg/biosppy/emg.txt",
        data_path / "emg/uci_lower_limb/3Apie.txt",
    ]
    return prepare_segments(files, tmp_path_factory.mktemp("s") / "store", verbose=False)


@pytest.fixture
def no_preadv(monkeypatch):
    """This process as on Windows: ``os`` without ``preadv``."""
    monkeypatch.delattr(os, "preadv", raising=False)


def _on_disk(store):
    """The store's rows read independently of both readers (numpy's .npy reader)."""
    return np.concatenate([np.load(store._file(k)) for k in range(len(store.files))])


def _keys(n, rng):
    mask = rng.random(n) < 0.3
    return [
        rng.integers(0, n, 64),  # random, with repeats
        np.sort(rng.choice(n, n // 2, replace=False)),  # as a training batch reads them
        rng.permutation(n),  # every row, out of order, across all shards
        slice(None),
        slice(3, n - 2, 3),
        slice(None, None, -1),
        mask,
        [n - 1, 0, -1, 5, 5, 6, 7],
        np.array([], dtype=int),
        7,
        -1,
    ]


def _read_all(store, keys):
    return [store[key] for key in keys]


def test_the_reader_is_chosen_automatically_or_forced(monkeypatch):
    assert read_mode({}) == ("preadv" if hasattr(os, "preadv") else "portable")
    assert read_mode({ENV_VAR: "auto"}) == read_mode({ENV_VAR: ""}) == read_mode({})
    assert read_mode({ENV_VAR: " Portable "}) == "portable"
    with pytest.raises(ValueError, match=f"{ENV_VAR}='mmap' is not a setting"):
        read_mode({ENV_VAR: "mmap"})
    monkeypatch.delattr(os, "preadv", raising=False)
    assert read_mode({}) == read_mode({ENV_VAR: "auto"}) == "portable"


@needs_preadv
def test_portable_reads_give_the_rows_of_preadv_bit_for_bit(store, monkeypatch):
    assert len(store.files) == 3
    n = len(store)
    keys = _keys(n, np.random.default_rng(0))
    fast = read_segments(store.path)
    with_preadv = _read_all(fast, keys)
    assert {r.mode for r in fast._readers.values()} == {"preadv"}
    reference = _on_disk(store)
    for key, rows in zip(keys, with_preadv):
        np.testing.assert_array_equal(rows, reference[key])
    # forced by the environment, then as on a system without os.preadv; the same
    # store object switches reader (its open files are reopened the portable way)
    monkeypatch.setenv(ENV_VAR, "portable")
    for rows, again in zip(with_preadv, _read_all(fast, keys)):
        assert rows.dtype == again.dtype == np.float32
        assert rows.tobytes() == again.tobytes()
    assert {r.mode for r in fast._readers.values()} == {"portable"}
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.delattr(os, "preadv")
    portable = read_segments(store.path)
    for rows, again in zip(with_preadv, _read_all(portable, keys)):
        assert rows.tobytes() == again.tobytes()
    out = np.full((5, store.n_times), np.nan, dtype=np.float32)
    idx = np.array([n - 1, 2, 2, 0, n // 2])
    assert portable.read_into(idx, out) is out
    assert out.tobytes() == reference[idx].tobytes()
    # what a worker process gets: the store without its open files (nor their locks)
    copy = pickle.loads(pickle.dumps(portable))
    assert not copy._readers and copy[idx].tobytes() == reference[idx].tobytes()
    portable.close()
    assert not portable._readers


def test_reads_are_grouped_into_runs_of_consecutive_rows(monkeypatch):
    shard = np.array([1, 0, 0, 0, 1, 0, 0])
    local = np.array([0, 4, 2, 3, 1, 3, 9])
    # file order: (0,2)@2 (0,3)@3 (0,3)@5 (0,4)@1 (0,9)@6 | (1,0)@0 (1,1)@4
    assert plan_reads(shard, local, row_bytes=40) == [
        (0, 2, [[2, 2]]),  # rows 2, 3 into positions 2, 3
        (0, 3, [[5, 1], [1, 1]]),  # a repeated row starts a new call: rows 3, 4
        (0, 9, [[6, 1]]),
        (1, 0, [[0, 1], [4, 1]]),
    ]
    everything = np.arange(10)
    assert plan_reads(np.zeros(10, int), everything, row_bytes=40) == [(0, 0, [[0, 10]])]
    monkeypatch.setattr(_reads, "_CALL_ROWS", 4)  # calls are cut to their size
    assert plan_reads(np.zeros(10, int), everything, row_bytes=40) == [
        (0, 0, [[0, 4]]),
        (0, 4, [[4, 4]]),
        (0, 8, [[8, 2]]),
    ]
    monkeypatch.setattr(_reads, "_CALL_BYTES", 80)
    assert [call[1] for call in plan_reads(np.zeros(5, int), everything[:5], 40)] == [0, 2, 4]
    assert plan_reads(np.array([], int), np.array([], int), 40) == []


def test_small_calls_read_the_same_rows(store, monkeypatch):
    """Runs cut into many calls (a long read of a big store) join up exactly."""
    reference = _on_disk(store)
    monkeypatch.setattr(_reads, "_CALL_ROWS", 3)
    perm = np.random.default_rng(1).permutation(len(store))
    for mode in ("auto", "portable"):
        monkeypatch.setenv(ENV_VAR, mode)
        fresh = read_segments(store.path)
        assert fresh[:].tobytes() == reference.tobytes()
        assert fresh[perm].tobytes() == reference[perm].tobytes()


def test_portable_reads_from_several_threads_at_once(store, no_preadv):
    """The read-ahead thread and its caller share the open files: a lock per file."""
    reference = _on_disk(store)
    shared = read_segments(store.path)
    shared[0]  # the files opened before the threads start
    rng = np.random.default_rng(2)
    batches = [rng.integers(0, len(store), 32) for _ in range(200)]
    wrong = []

    def read(part):
        for idx in part:
            if shared[idx].tobytes() != reference[idx].tobytes():
                wrong.append(idx)

    threads = [threading.Thread(target=read, args=(batches[k::3],)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong


@pytest.mark.parametrize("mode", ["auto", "portable"])
def test_a_shard_truncated_while_open_is_named(store, tmp_path, monkeypatch, mode):
    monkeypatch.setenv(ENV_VAR, mode)
    path = tmp_path / "copy"
    shutil.copytree(store.path, path)
    opened = read_segments(path)
    last = len(opened) - 1
    opened[last]  # header and size checked, file open
    fname = opened._file(len(opened.files) - 1)
    with open(fname, "r+b") as fid:
        fid.truncate(os.path.getsize(fname) - 10)
    with pytest.raises(ValueError, match="shorter than its manifest says"):
        opened[[0, last]]


def test_one_epoch_from_the_store_trains_the_same_weights_both_ways(store, one_thread, monkeypatch):
    settings = dict(TINY_ONE_EPOCH, verbose=False)
    monkeypatch.setenv(ENV_VAR, "auto")
    first = SpecAE(**settings).fit(read_segments(store.path))
    monkeypatch.setenv(ENV_VAR, "portable")
    monkeypatch.delattr(os, "preadv", raising=False)
    second = SpecAE(**settings).fit(read_segments(store.path))
    assert_same_weights(weights_of(first.model_), weights_of(second.model_))
    np.testing.assert_array_equal(
        first.history_.to_frame()["val_loss"], second.history_.to_frame()["val_loss"]
    )


class _Counted:
    """Shard readers that count the files open at once (the most, too)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.most = self.opened = 0

    def wrap(self, cls):
        counter = self

        class Counted(cls):
            def __init__(self, fname):
                super().__init__(fname)
                with counter.lock:
                    counter.now += 1
                    counter.opened += 1
                    counter.most = max(counter.most, counter.now)

            def close(self):
                super().close()
                with counter.lock:
                    counter.now -= 1

        return Counted


def _fds():
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


@pytest.mark.parametrize("mode", ["auto", "portable"])
def test_a_store_of_more_shards_than_files_open_at_once(store, monkeypatch, mode):
    """At most MAX_OPEN shard files open (macOS: 256 files a process by default): the
    least recently used idle one is closed, and reopened when read again; the same
    rows, bit for bit, from one thread or two at once."""
    assert len(store.files) >= 3
    monkeypatch.setattr(_reads, "MAX_OPEN", 2)
    monkeypatch.setenv(ENV_VAR, mode)
    counted = _Counted()
    for name, cls in list(_reads.READERS.items()):
        monkeypatch.setitem(_reads.READERS, name, counted.wrap(cls))
    reference = _on_disk(store)
    n = len(store)
    keys = _keys(n, np.random.default_rng(3))
    capped = read_segments(store.path)
    before = _fds()
    for key in keys:
        assert capped[key].tobytes() == reference[key].tobytes()
        assert len(capped._readers) == capped._readers.n_open <= 2
        if before is not None:
            assert _fds() <= before + 2
    assert counted.most == 2 and counted.opened > 3  # closed and reopened
    assert {r.mode for r in capped._readers.values()} == {read_mode()}

    rng = np.random.default_rng(4)
    batches = [rng.integers(0, n, 32) for _ in range(150)]
    wrong, most = [], []

    def read(part):
        for idx in part:
            if capped[idx].tobytes() != reference[idx].tobytes():
                wrong.append(idx)
            most.append(capped._readers.n_open)

    threads = [threading.Thread(target=read, args=(batches[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong and len(most) == len(batches)
    assert max(most) <= 2 and counted.most == 2
    capped.close()
    assert not capped._readers and counted.now == 0


def test_a_thread_waits_for_a_file_when_all_open_ones_are_in_use(monkeypatch):
    """A file is never closed under a thread reading it: with one file allowed, a
    second shard waits until the first is released."""
    monkeypatch.setattr(_reads, "MAX_OPEN", 1)
    closed = []

    class Fake:
        mode = "preadv"

        def __init__(self, key):
            self.key = key

        def close(self):
            closed.append(self.key)

    shards = _reads.OpenShards()
    got = threading.Event()

    def other():
        with shards.use(1, "preadv", lambda m: Fake(1)):
            got.set()

    with shards.use(0, "preadv", lambda m: Fake(0)) as first:
        thread = threading.Thread(target=other)
        thread.start()
        assert not got.wait(0.3)  # waiting: file 0 is in use
        assert not closed and shards.n_open == 1 and first.key == 0
    thread.join(5)
    assert got.is_set() and closed == [0] and shards.n_open == 1
    shards.close()
    assert closed == [0, 1] and shards.n_open == 0 == len(shards)


def test_a_store_keeps_open_a_quarter_of_the_files_the_process_may_open(monkeypatch):
    """Every shard of a store of ~100 shards stays open on Linux (before: 64 at most,
    so random batches of a 20,000-item store closed and reopened files all along);
    still 64 under macOS's 256, and at most 1024."""
    import resource

    from mne_specae.stores import _reads

    for soft, expected in ((256, 64), (1024, 256), (20_000, 1024), (100, 64)):
        monkeypatch.setattr(resource, "getrlimit", lambda which, s=soft: (s, s))
        assert _reads._max_open() == expected
    monkeypatch.setattr(
        resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    )
    assert _reads._max_open() == 1024
