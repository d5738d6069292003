"""Training and embedding from a segment store (mne_specae.training.streaming)."""

import os
import threading
import time

import numpy as np
import pytest
import torch

from mne_specae import SpecAE, add_embeddings, prepare_segments, presets, read_segments
from mne_specae.training.streaming import PREFETCH, StoreItems, StreamSource

SETTINGS = dict(presets.QUICK, filters=8, max_epochs=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def store(data_path, tmp_path_factory):
    """Real segments on disk: BioSPPy ECG and EMG, two UCI EMG files (75 items)."""
    files = [
        data_path / "ecg/biosppy/ecg.txt",
        data_path / "emg/biosppy/emg.txt",
        data_path / "emg/biosppy/emg_1.txt",
        data_path / "emg/uci_lower_limb/3Apie.txt",
        data_path / "emg/uci_lower_limb/4Asen.txt",
    ]
    return prepare_segments(files, tmp_path_factory.mktemp("s") / "store", verbose=False)


def _weights(est):
    return {k: v.clone() for k, v in est.model_.state_dict().items()}


@pytest.mark.parametrize("normalize", ["item", "dataset"])
def test_a_store_trains_to_the_same_weights_as_the_same_data_in_memory(store, normalize):
    settings = dict(SETTINGS, normalize=normalize)
    from_store = SpecAE(**settings, verbose=False).fit(store)
    in_memory = SpecAE(**settings, verbose=False).fit(store.to_epochs())
    a, b = _weights(from_store), _weights(in_memory)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    np.testing.assert_allclose(
        from_store.history_.to_frame()["val_loss"],
        in_memory.history_.to_frame()["val_loss"],
        rtol=1e-5,
    )
    if normalize == "item":  # same batches, same order: bit for bit
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_embeddings_of_a_store_are_those_of_each_channel(store, tmp_path):
    est = SpecAE(**SETTINGS, verbose=False).fit(store)
    emb, err = est.embed(store)
    assert emb.shape == (len(store), est.n_features_out_) and err.shape == (len(store),)
    per_channel = np.concatenate(
        [est.encode(ep).reshape(-1, est.n_features_out_) for ep in store.to_epochs()]
    )
    np.testing.assert_allclose(emb, per_channel, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(est.transform(store), emb)
    # into the store's metadata, on disk; a narrower model leaves no stale column
    add_embeddings(store, est)
    opened = read_segments(store.path)
    assert opened.manifest["tables"]["written_by"].startswith("SpecAE ")
    md = opened.metadata
    assert f"specae_{est.n_features_out_ - 1:03d}" in md and "specae_recon_error" in md
    np.testing.assert_allclose(md["specae_000"], emb[:, 0], rtol=1e-6)
    narrow = SpecAE(**dict(SETTINGS, filters=4, max_epochs=1), verbose=False).fit(store)
    add_embeddings(store, narrow, recon_error=False)
    md = read_segments(store.path).metadata
    assert sum(c.startswith("specae_") for c in md.columns) == narrow.n_features_out_
    assert {"subject", "recording", "channel"} <= set(md.columns)


def test_the_reader_stays_a_few_batches_ahead(store):
    reads = []

    class Counting(StoreItems):
        def read_into(self, idx, out):
            reads.append(time.perf_counter())
            return super().read_into(idx, out)

    source = StreamSource(Counting(store), torch.device("cpu"), prefetch=PREFETCH)
    batches = [torch.arange(k * 3, k * 3 + 3) for k in range(20)]
    consumed = 0
    seen = []
    for k, x in enumerate(source.iterate(batches)):
        np.testing.assert_array_equal(x.numpy(), store[batches[k].numpy()])
        seen.append(x)
        time.sleep(0.01)  # a slow consumer: the reader must wait, not run away
        consumed += 1
        assert len(reads) - consumed <= PREFETCH + 1
    assert consumed == len(reads) == 20
    # buffers are reused: a batch's tensor is valid until PREFETCH + 2 batches later
    assert len({x.data_ptr() for x in seen}) == PREFETCH + 2


def test_without_prefetch_each_batch_is_read_when_asked_for(store):
    """``prefetch=0``: no reader thread, each batch read in the consumer's thread when
    it is asked for, into two reused buffers. Before: an unbounded queue and a ring of
    two buffers, so a reader thread ran ahead and overwrote batches not yet used."""
    reads = []

    class Counting(StoreItems):
        def read_into(self, idx, out):
            reads.append(threading.current_thread())
            return super().read_into(idx, out)

    source = StreamSource(Counting(store), torch.device("cpu"), prefetch=0)
    batches = [torch.arange(k * 3, k * 3 + 3) for k in range(20)]
    seen = []
    for k, x in enumerate(source.iterate(batches)):
        assert len(reads) == k + 1  # nothing read ahead
        time.sleep(0.002)  # a reader thread, if any, would run ahead now
        np.testing.assert_array_equal(x.numpy(), store[batches[k].numpy()])
        seen.append(x)
    assert set(reads) == {threading.current_thread()}
    assert len({x.data_ptr() for x in seen}) == 2


def test_reads_run_ahead_in_a_thread_only_where_they_overlap_with_other_work(store):
    """On the CPU from a local store each batch is read in the training thread (a
    reader thread beside PyTorch's threads only competes for the cores: 0.94x against
    0.96-0.99x in-memory speed measured); on an accelerator, or from a store at a URL
    (reads wait on the network), a thread reads ahead. Before: a thread always."""
    cpu, meta = torch.device("cpu"), torch.device("meta")
    batches = [torch.arange(3)]
    assert not store.remote and not StoreItems(store).download_ahead(batches)
    assert StreamSource(StoreItems(store), cpu).ahead(network=False) == 0
    assert StreamSource(StoreItems(store), meta).ahead(network=False) == PREFETCH
    assert StreamSource(StoreItems(store), cpu).ahead(network=True) == PREFETCH
    assert StreamSource(StoreItems(store), cpu, prefetch=2).ahead(network=False) == 2

    class AtAURL:  # what the source reads of a store read from a URL without cache
        remote = True

    assert StoreItems(AtAURL(), index=[0]).download_ahead(batches)
    threads = []

    class Where(StoreItems):
        def read_into(self, idx, out):
            threads.append(threading.current_thread())
            return super().read_into(idx, out)

    _fit_reading_with(store, Where)
    assert threads and set(threads) == {threading.current_thread()}


def _fit_reading_with(store, items_class, **settings):
    """A one-epoch fit on ``store`` whose items are read by ``items_class``."""
    from mne_specae.training import _run

    original = _run.make_source
    est = SpecAE(**dict(SETTINGS, max_epochs=1, **settings), verbose=False)
    try:
        _run.make_source = lambda data, device, on_device: original(
            items_class(data.store, data.index) if isinstance(data, StoreItems) else data,
            device,
            on_device,
        )
        return est.fit(store)
    finally:
        _run.make_source = original


def test_the_history_says_how_long_the_training_waited_for_its_batches(store):
    """``input_seconds``: the part of an epoch spent waiting for batches (here a slow
    disk: 20 ms a read, in the training thread), so that a user sees when the input
    does not keep up."""
    reads = []

    class Slow(StoreItems):
        def read_into(self, idx, out):
            time.sleep(0.02)
            reads.append(len(idx))
            return super().read_into(idx, out)

    frame = _fit_reading_with(store, Slow, val_fraction=0.0).history_.to_frame()
    train_reads = len(reads)
    assert train_reads >= 3
    waited = frame["input_seconds"].iloc[0]
    assert 0.02 * train_reads <= waited < frame["seconds"].iloc[0]
    fast = SpecAE(**dict(SETTINGS, max_epochs=1, val_fraction=0.0), verbose=False).fit(store)
    assert fast.history_.to_frame()["input_seconds"].iloc[0] < waited / 2


def test_a_read_error_reaches_the_training_loop(store):
    class Broken(StoreItems):
        def read_into(self, idx, out):
            raise OSError("disk gone")

    for prefetch in (PREFETCH, 0):
        source = StreamSource(Broken(store), torch.device("cpu"), prefetch=prefetch)
        with pytest.raises(OSError, match="disk gone"):
            list(source.iterate([torch.arange(4)]))


def test_batches_go_to_any_non_cpu_device(store):
    """MPS (or any accelerator but CUDA): batches reach the training device, unpinned."""
    source = StreamSource(StoreItems(store), torch.device("meta"))
    assert not source.pinned
    batches = [torch.arange(4), torch.arange(4, 8)]
    got = list(source.iterate(batches))
    assert [x.device.type for x in got] == ["meta", "meta"]
    assert [tuple(x.shape) for x in got] == [(4, store.n_times)] * 2
    assert source.get(torch.arange(3)).device.type == "meta"


def test_the_reader_ends_when_the_consumer_left_and_a_read_failed(store):
    failed = threading.Event()

    class FailsLater(StoreItems):
        def read_into(self, idx, out):
            if int(idx[0]) >= 3 * (PREFETCH + 1):  # after the queue is full
                failed.set()
                raise OSError("disk gone")
            return super().read_into(idx, out)

    source = StreamSource(FailsLater(store), torch.device("cpu"), prefetch=PREFETCH)
    batches = [torch.arange(k * 3, k * 3 + 3) for k in range(PREFETCH + 4)]
    stream = source.iterate(batches)
    next(stream)  # the consumer takes one batch, then leaves
    assert failed.wait(5)
    time.sleep(0.2)  # the reader is now waiting to hand over its error
    closer = threading.Thread(target=stream.close, daemon=True)
    closer.start()
    closer.join(3)
    assert not closer.is_alive(), "the reader thread blocked after the consumer left"
    assert not [t for t in threading.enumerate() if t.name == "mne-specae-prefetch"]


def test_a_resume_is_refused_after_a_shard_changed(store, tmp_path):
    import shutil

    path = tmp_path / "copy"
    shutil.copytree(store.path, path)
    copy = read_segments(path)
    settings = dict(SETTINGS, max_epochs=1)
    ckpt = tmp_path / "run.ckpt"
    SpecAE(**settings, checkpoint=ckpt, verbose=False).fit(copy)
    before = StoreItems(copy).checksum()
    shard = path / "shards" / f"{copy.manifest['shards'][1]['key']}.npy"
    stat = shard.stat()
    data = np.load(shard, mmap_mode="r+")
    data[2, :10] *= 2  # same files, same counts, other samples
    data.flush()
    del data
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert StoreItems(read_segments(path)).checksum() != before
    with pytest.raises(ValueError, match="data"):
        SpecAE(**settings, checkpoint=ckpt, resume=True, verbose=False).fit(read_segments(path))


def test_stores_take_separate_channels_and_no_picks(store):
    with pytest.raises(ValueError, match="channel_mode='separate'"):
        SpecAE(**dict(SETTINGS, channel_mode="planes"), verbose=False).fit(store)
    with pytest.raises(ValueError, match="picks selects channels of Epochs"):
        SpecAE(**SETTINGS, picks="emg", verbose=False).fit(store)


def test_checkpoints_record_the_store(store, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    whole = SpecAE(**SETTINGS, checkpoint=ckpt, verbose=False).fit(store)
    again = SpecAE(**SETTINGS, checkpoint=ckpt, resume=True, verbose=False).fit(store)
    for (k, a), (_, b) in zip(whole.model_.state_dict().items(), again.model_.state_dict().items()):
        assert torch.equal(a, b), k
    # another store (one file fewer) is another run: refused, naming the data
    smaller = prepare_segments([f for f in store.files[:-1]], tmp_path / "smaller", verbose=False)
    with pytest.raises(ValueError, match="data"):
        SpecAE(**SETTINGS, checkpoint=ckpt, resume=True, verbose=False).fit(smaller)


@pytest.mark.slow
def test_torchrun_processes_stream_their_items_of_a_store(store, tmp_path, isolated_torch_rng):
    """2 CPU processes (gloo) training from a store follow the single-process run."""
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    sys.path.insert(0, str(tests))
    try:
        from ddp_train_script import single_process
        from tiny import run_torchrun
    finally:
        sys.path.remove(str(tests))

    run_torchrun(
        tests / "ddp_train_script.py",
        store.path,
        tmp_path / "out",
        tmp_path / "run.pt",
        "--max-epochs",
        "2",
        "--batch-size",
        "8",
        cwd=tests.parent,
    )
    ranks = [torch.load(tmp_path / "out" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    model, _ = single_process(store.path, max_epochs=2, batch_size=8)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=0, atol=1e-5)
        torch.testing.assert_close(ranks[1]["state"][key], value, rtol=0, atol=1e-5)
