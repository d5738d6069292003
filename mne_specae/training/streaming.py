"""Training and embedding from a segment store, with bounded memory.

:class:`StoreItems` is what the training engine needs of a waveform tensor (a shape,
rows by index) for the items of a :class:`~mne_specae.SegmentStore`, read from disk
when asked. :class:`StreamSource` delivers an epoch's batches from it, so host memory
stays bounded by a few batches whatever the size of the store: on an accelerator, and
from a store at a URL, a background thread reads the next batches (at most
``PREFETCH`` ahead, into pinned memory on CUDA) while the device trains on the
current one; on the CPU from a local store each batch is read when asked for (the
training's threads use every core: a reader thread beside them only competes, see
:class:`StreamSource`). :class:`StoreItemSet` lets
:class:`~mne_specae.SpecAE` take a store where it takes Epochs.

Shuffling: an epoch visits the training items in the same seeded random permutation
as in memory (so a store and the same data in memory train to the same weights), with
each batch's rows read in file order. Reads of single 10 kB rows are fast on SSDs and
network file systems; chunk-wise shuffling for spinning disks is not implemented.
"""

from __future__ import annotations

import hashlib
import queue
import threading

import numpy as np
import torch

from ._batches import BatchSource

#: Batches read ahead of the one being trained on.
PREFETCH = 4


class StoreItems:
    """Items of a store (all, or a subset), read lazily as float32 tensors.

    Parameters
    ----------
    store : SegmentStore
        The store.
    index : array-like of int | None
        The store items these are, in order (``None``: all).
    """

    ndim = 2

    def __init__(self, store, index=None):
        self.store = store
        self.index = np.arange(len(store)) if index is None else np.asarray(index, dtype=np.int64)

    @property
    def shape(self):
        return (len(self.index), self.store.n_times)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, key):
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        rows = np.atleast_1d(self.index[key])
        return torch.from_numpy(self.store[rows])

    def read_into(self, idx, out):
        """The items ``idx`` (a 1-D index tensor) read into the float32 array ``out``."""
        rows = self.index[idx.cpu().numpy()]
        self.store.read_into(rows, out)
        return torch.from_numpy(out)

    def download_ahead(self, batches):
        """Let a store at a URL with a shard cache start downloading the shards of
        ``batches`` (index tensors, in the order they will be read); whether any of
        their reads waits on the network (``False`` for a local store)."""
        ahead = getattr(self.store, "_download_ahead", None)
        if ahead is None or not batches:
            return bool(getattr(self.store, "remote", False))
        return ahead(self.index[torch.cat(list(batches)).cpu().numpy()])

    def subset(self, idx):
        """The items ``idx`` of these, as another :class:`StoreItems`."""
        idx = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else np.asarray(idx)
        return StoreItems(self.store, self.index[idx])

    def checksum(self):
        """What a checkpoint's fingerprint records of the data: the shape and a hash of
        the committed files (their sha256 and item counts), of the shards' samples
        (the sha256 of each shard file: one pass over the store, so a shard changed
        after preparation is another run) and of the chosen items."""
        digest = hashlib.sha256()
        for shard, content in zip(self.store.manifest["shards"], self.store.shard_sha256()):
            digest.update(f"{shard['checksum']}:{shard['n_items']}:{content};".encode())
        digest.update(self.index.tobytes())
        return dict(shape=list(self.shape), dtype="float32", store=digest.hexdigest())


class StreamSource(BatchSource):
    """Batches of :class:`StoreItems` on the device, read a few batches ahead.

    Batches are read on the host and moved to the training device whatever it is:
    through pinned memory, asynchronously, on CUDA; with a plain copy on any other
    accelerator (Apple's MPS, XPU, ...); left as they are on the CPU.

    ``prefetch="auto"``: in each epoch, :data:`PREFETCH` batches read ahead by a
    thread where reads overlap with work that is not the host's (training on an
    accelerator) or wait on the network (a store at a URL, unless every shard the
    epoch reads is in its cache); none on the CPU from local files. There the
    training already keeps every core busy; a reader thread beside PyTorch's threads
    took 0.93-0.95x the in-memory items/s, against 0.96-1.00x when each batch is read
    in the training thread (a read of 64 rows: about 0.4 ms of CPU;
    ``benchmarks/bench_store.py``, 2 CPU cores).
    """

    def __init__(self, items, device, prefetch="auto"):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.on_host = self.device.type == "cpu"
        self.pinned = self.cuda
        self.data = items
        self.auto = prefetch == "auto"
        self.prefetch = PREFETCH if self.auto else int(prefetch)

    def ahead(self, network):
        """Batches read ahead in an epoch whose reads wait on the network or not."""
        if not self.auto:
            return self.prefetch
        return self.prefetch if network or not self.on_host else 0

    def indices(self, order):
        return order.cpu()

    def rows(self, idx):
        return self.data.subset(idx)

    def get(self, idx):
        x = self.data[idx]
        if self.cuda:
            return x.pin_memory().to(self.device, non_blocking=True)
        return x if self.on_host else x.to(self.device)

    def iterate(self, batches):
        """Yield the batches ``batches`` (index tensors) on the device, in order; a
        thread reads at most :meth:`ahead` of them ahead (``0``: each is read when
        it is asked for, in the calling thread)."""
        if not batches:
            return
        network = self.data.download_ahead(batches)  # a cache's downloads begin
        prefetch = self.ahead(network)
        if prefetch <= 0:
            yield from self._iterate_here(batches)
            return
        ready = queue.Queue(maxsize=prefetch)
        stop = threading.Event()

        # A ring of reused buffers (no allocation, no fresh pages per batch): a buffer
        # comes back only RING batches later, when the consumer has long finished
        # with it (on the CPU a step is synchronous; on CUDA the batch is copied to
        # pinned memory first).
        ring = {}

        def buffer(k, n):
            slot = (k % (prefetch + 2), n)
            if slot not in ring:
                ring[slot] = np.empty((n, self.data.shape[1]), dtype=np.float32)
            return ring[slot]

        def hand_over(item):
            """Put ``item`` in the queue unless the consumer left (``False`` then)."""
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read():
            try:
                for k, idx in enumerate(batches):
                    x = self.data.read_into(idx, buffer(k, len(idx)))
                    if self.cuda:
                        x = x.pin_memory()
                    if not hand_over(("ok", x)):
                        return
            except BaseException as err:  # handed to the consumer, raised there
                hand_over(("error", err))  # (dropped when the consumer has left)

        thread = threading.Thread(target=read, name="mne-specae-prefetch", daemon=True)
        thread.start()
        try:
            for _ in batches:
                status, x = ready.get()
                if status == "error":
                    raise x
                # a copy leaves the ring buffer free for reuse on any device but CUDA
                # (where pinned memory is copied asynchronously, RING batches ahead)
                yield x if self.on_host else x.to(self.device, non_blocking=self.cuda)
        finally:
            stop.set()
            thread.join()

    def _iterate_here(self, batches):
        """The batches read in this thread, into two reused buffers (a batch is
        trained on before the next is asked for; on CUDA it is copied to pinned
        memory first)."""
        ring = {}
        for k, idx in enumerate(batches):
            slot = (k % 2, len(idx))
            if slot not in ring:
                ring[slot] = np.empty((len(idx), self.data.shape[1]), dtype=np.float32)
            x = self.data.read_into(idx, ring[slot])
            if self.cuda:
                x = x.pin_memory()
            yield x if self.on_host else x.to(self.device, non_blocking=self.cuda)


def make_source(data, device, on_device):
    """The batch source of a training run: a store streams, a tensor is indexed."""
    if isinstance(data, StoreItems):
        return StreamSource(data, device)
    return BatchSource(data, device, on_device)


class StoreItemSet:
    """A store as :class:`~mne_specae.SpecAE` sees an input: every item its own epoch
    of one channel (``channel_mode="separate"`` only)."""

    def __init__(self, store, picks=None):
        if picks is not None:
            raise ValueError(
                "picks selects channels of Epochs; a store's items are "
                "chosen when it is prepared (prepare_segments(picks=...)). "
                "Use SpecAE(picks=None) with a store."
            )
        if len(store) == 0:
            raise ValueError(f"The store {store.path} holds no item.")
        self.store = store
        self.epochs = None
        self.sfreq = store.sfreq
        self.n_times = store.n_times
        self.n_epochs = [len(store)]
        self.n_channels = [1]
        self.ch_names = [list(dict.fromkeys(store.read_columns("channel")["channel"]))]

    def items(self, separate):
        if not separate:
            raise ValueError("A store holds single channels: train with channel_mode='separate'.")
        return StoreItems(self.store), np.arange(len(self.store))

    def groups(self, groups=None):
        n = len(self.store)
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (n,):
                raise ValueError(f"groups must hold one label per item of the store ({n}).")
            return groups
        md = self.store.read_columns(["subject", "recording"])  # not the embeddings
        subject = md["subject"].astype(str)
        return np.where(subject == "unknown", md["recording"].astype(str), subject)

    def recordings(self, separate):
        """Recording and channel of each item (``normalize="recording"``): the
        store's ``recording`` and ``channel`` columns."""
        md = self.store.read_columns(["recording", "channel"])  # not the embeddings
        return (md["recording"].astype(str) + "\x1f" + md["channel"].astype(str)).to_numpy(str)

    def lowest_nyquist(self):
        return float(self.store.read_columns("sfreq_orig")["sfreq_orig"].min()) / 2


def add_store_embeddings(est, store, *, prefix, recon_error):
    """Embedding columns (and the reconstruction error) into a store's metadata."""
    import pandas as pd

    embeddings, errors = est.embed(store, recon_error=recon_error)
    columns = [f"{prefix}{i:03d}" for i in range(embeddings.shape[1])]

    def blocks(size=65_536):  # streamed into the tables: no float64 copy of every row
        for start in range(0, max(len(embeddings), 1), size):
            block = pd.DataFrame(
                embeddings[start : start + size].astype(np.float64), columns=columns
            )
            if recon_error:
                block[f"{prefix}recon_error"] = errors[start : start + size]
            yield block

    store.write_columns(blocks(), replace_prefix=prefix, written_by=_model_tag(est))
    return store


def _model_tag(est):
    """``"<class> <sha256 of the weights>"``: which model wrote a store's columns."""
    digest = hashlib.sha256()
    model = getattr(est, "model_", None)
    for name, value in model.state_dict().items() if model is not None else ():
        digest.update(name.encode())
        digest.update(
            value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return f"{type(est).__name__} sha256 {digest.hexdigest()[:16]}"
