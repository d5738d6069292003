"""A training step that never waits for the device, full batches for compiled graphs,
and the engine options SpecAE passes on (precision, channels_last, compile).

The host reads of a CUDA run (``.item()``, ``.cpu()``, ``float(tensor)``, ...) are
what make the host wait for the GPU; on the CPU they are counted instead: the number
made by mne-specae's code must not grow with the number of batches.
"""

import collections
import sys

import numpy as np
import pytest
import torch
from tiny import TINY_ONE_EPOCH, tiny_model, tiny_spec, tiny_train

from mne_specae import SpecAE, make_segments
from mne_specae.estimator import _runner as inference
from mne_specae.training import _batches as batches
from mne_specae.training.splits import split_items

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")

#: what reads a tensor on the host (on CUDA: waits for the device)
_READS = ("item", "cpu", "tolist", "numpy", "__float__", "__int__", "__bool__")


def _noise(n_items, n_times=1024):
    return np.random.default_rng(0).standard_normal((n_items, n_times)).astype(np.float32)


@pytest.fixture
def host_reads(monkeypatch):
    """Calls that read a tensor on the host (or synchronise CUDA) made by mne-specae's
    own code, counted per ``module.function:method``."""
    calls = collections.Counter()

    def spy(name, original):
        def wrapper(*args, **kwargs):
            frame = sys._getframe(1)
            module = frame.f_globals.get("__name__", "")
            if module.startswith("mne_specae"):
                calls[f"{module}.{frame.f_code.co_name}:{name}"] += 1
            return original(*args, **kwargs)

        return wrapper

    for name in _READS:
        monkeypatch.setattr(torch.Tensor, name, spy(name, getattr(torch.Tensor, name)))
    monkeypatch.setattr(torch.cuda, "synchronize", spy("synchronize", torch.cuda.synchronize))
    return calls


# ------------------------------------------------------------------ no syncs
@pytest.mark.parametrize("val_fraction", [0.0, 0.5])
def test_host_reads_do_not_grow_with_the_batches(host_reads, val_fraction):
    counts = []
    for n_batches in (4, 8):  # training batches per epoch (and as many validation ones)
        n_items = 16 * n_batches * (2 if val_fraction else 1)
        spec = tiny_spec()
        assert spec.check_finite  # its per-batch check would read every batch
        host_reads.clear()
        history = tiny_train(
            tiny_model(),
            _noise(n_items),
            input_stage=spec,
            val_fraction=val_fraction,
            max_epochs=2,
            mask_fraction=0.2,
        )
        assert len(history.epochs) == 2 and np.isfinite(history.epochs[-1]["train_loss"])
        assert spec.check_finite  # restored after the call
        counts.append(dict(host_reads))
    assert counts[0] == counts[1], counts
    # one read of the losses per pass: training, and validation when there is one
    passes = 2 * (2 if val_fraction else 1)
    assert counts[0]["mne_specae.training._batches.total:cpu"] == passes
    # the detector sees per-batch reads (the spectrogram's own finiteness check)
    host_reads.clear()
    spec = tiny_spec()
    for _ in range(3):
        spec(torch.as_tensor(_noise(4)))
    assert sum(host_reads.values()) >= 3


def test_progress_bar_shows_the_running_loss(capsys):
    history = tiny_train(
        tiny_model(), _noise(16 * 21), val_fraction=0, max_epochs=1, progress=True, verbose="info"
    )
    assert np.isfinite(history.epochs[0]["train_loss"])
    assert "loss=" in capsys.readouterr().err  # set after batch 20


def test_epoch_losses_are_read_once():
    losses = batches.EpochLosses([16, 16, 4], torch.device("cpu"))
    for b, value in enumerate((1.0, 2.0, 4.0)):
        losses.add(b, torch.tensor(value))
    assert losses.running(1) == pytest.approx(1.5)
    assert losses.total() == pytest.approx(16 + 32 + 16)
    losses.add(2, torch.tensor(float("nan")))
    assert np.isnan(losses.total())
    assert batches.EpochLosses([], torch.device("cpu")).total() == 0.0


# ------------------------------------------------------------------ drop_last
@pytest.fixture
def batch_sizes(monkeypatch):
    """(training?, items) of every batch the engine takes."""
    seen = []
    original = batches.BatchSource.get

    def spy(self, idx):
        seen.append((torch.is_grad_enabled(), len(idx)))
        return original(self, idx)

    monkeypatch.setattr(batches.BatchSource, "get", spy)
    return seen


@pytest.mark.parametrize("drop_last", [True, False])
def test_drop_last_trains_full_batches(batch_sizes, drop_last):
    waves = _noise(72)
    _, train_idx, val_idx = split_items(None, 72, 0.25, 0)
    n_train, n_val = len(train_idx), len(val_idx)
    assert (n_train, n_val) == (54, 18)
    history = tiny_train(tiny_model(), waves, val_fraction=0.25, max_epochs=2, drop_last=drop_last)
    train = [n for grad, n in batch_sizes if grad]
    val = [n for grad, n in batch_sizes if not grad]
    if drop_last:
        assert train == [16] * (2 * (n_train // 16))
    else:
        assert train == [16, 16, 16, 6] * 2
    assert sum(val) == 2 * n_val  # validation always sees every item
    trained = n_train // 16 * 16 if drop_last else n_train
    np.testing.assert_allclose(
        [e["samples_per_s"] * e["seconds"] for e in history.epochs], trained, rtol=1e-9
    )


class _Counting(torch.nn.Module):
    """Stands in for a compiled module: records the calls made through it."""

    def __init__(self, module):
        super().__init__()
        self.module, self.calls = module, []

    def forward(self, x):
        self.calls.append((torch.is_grad_enabled(), x.shape[0]))
        return self.module(x)


def test_compile_trains_full_batches_and_validates_uncompiled(monkeypatch):
    compiled = []
    monkeypatch.setattr(
        torch, "compile", lambda module, **kw: compiled.append(_Counting(module)) or compiled[-1]
    )
    history = tiny_train(
        tiny_model(), _noise(72), val_fraction=0.25, max_epochs=2, compile=True
    )  # drop_last="auto": on
    assert len(compiled) == 1 and len(history.epochs) == 2
    assert compiled[0].calls == [(True, 16)] * 6  # 3 full batches of 54 items, 2 epochs


def test_drop_last_errors_and_fingerprint(tmp_path):
    waves = _noise(24)
    with pytest.raises(ValueError, match="the 18 training items do not fill one batch of 32"):
        tiny_train(tiny_model(), waves, val_fraction=0.25, batch_size=32, drop_last=True)
    for name in ("drop_last", "channels_last", "data_on_device"):
        with pytest.raises(TypeError, match=f"{name} must be an instance of bool or 'auto'"):
            tiny_train(tiny_model(), waves, **{name: "yes"})
    with pytest.raises(TypeError, match="compile must be an instance of bool"):
        tiny_train(tiny_model(), waves, compile="yes")
    # other batches, other run: a checkpoint records drop_last
    ckpt = tmp_path / "run.pt"
    tiny_train(tiny_model(), waves, max_epochs=1, checkpoint=ckpt)
    with pytest.raises(ValueError, match="drop_last: False -> True"):
        tiny_train(tiny_model(), waves, max_epochs=1, checkpoint=ckpt, resume=True, drop_last=True)


# ------------------------------------------------------------------- SpecAE
@pytest.fixture(scope="module")
def segments(raw_by_name):
    return [
        make_segments(raw_by_name[name].copy().crop(0, 20))
        for name in ("ecg/mitdb/100", "ecg/mitdb/106")
    ]


def test_specae_passes_the_engine_options(segments, monkeypatch, tmp_path):
    import mne_specae.estimator.specae as estimator

    seen, runs = [], []
    train = estimator.train_autoencoder
    monkeypatch.setattr(
        estimator, "train_autoencoder", lambda *a, **kw: seen.append(kw) or train(*a, **kw)
    )
    monkeypatch.setattr(
        inference,
        "run_batches",
        lambda *a, _run=inference.run_batches, **kw: runs.append(kw) or _run(*a, **kw),
    )
    est = SpecAE(**TINY_ONE_EPOCH, precision="fp32", channels_last=True).fit(segments)
    assert {k: seen[0][k] for k in ("precision", "channels_last", "compile")} == dict(
        precision="fp32", channels_last=True, compile=False
    )
    # trained in the channels-last format (asked for explicitly, so on the CPU too)
    assert est.model_.encoder[4].weight.is_contiguous(memory_format=torch.channels_last)
    # inference is asked for the training's settings (applied on CUDA only)
    embeddings = est.transform(segments)
    assert {k: runs[-1][k] for k in ("precision", "channels_last")} == dict(
        precision="fp32", channels_last=True
    )
    # a model file keeps them; files written before they existed load with defaults
    path = est.save(tmp_path / "m.specae")
    loaded = SpecAE.load(path)
    assert (loaded.channels_last, loaded.compile, loaded.precision) == (True, False, "fp32")
    state = torch.load(path, weights_only=True)
    for key in ("channels_last", "compile"):
        del state["params"][key]
    torch.save(state, tmp_path / "old.specae")
    old = SpecAE.load(tmp_path / "old.specae")
    assert (old.channels_last, old.compile) == ("auto", False)
    np.testing.assert_allclose(old.transform(segments), embeddings, rtol=1e-5, atol=1e-6)


def test_inference_settings_change_nothing_on_the_cpu(segments):
    est = SpecAE(**TINY_ONE_EPOCH).fit(segments)
    items, _ = est._check_data(segments).items(True)
    outs = {}
    for precision, last in (("fp32", False), ("bf16", True)):
        outs[precision] = torch.cat(
            inference.run_batches(
                est.model_,
                est.input_stage_,
                items,
                lambda m, images: m(images),
                device="cpu",
                batch_size=5,
                precision=precision,
                channels_last=last,
            )
        )
        assert outs[precision].dtype == torch.float32
    assert torch.equal(outs["fp32"], outs["bf16"])


# ---------------------------------------------------------------------- GPU
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@cuda
def test_cuda_batches_and_losses_without_waiting():
    device = torch.device("cuda")
    data = torch.randn(40, 256)
    order = torch.randperm(40)
    for on_device in (True, False):
        source = batches.BatchSource(data, device, on_device)
        idx = source.indices(order)
        assert idx.device.type == ("cpu" if on_device is False else "cuda")
        got = torch.cat([source.get(b) for b in batches.batch_slices(idx, 8)[0]])
        assert got.is_cuda and torch.equal(got.cpu(), data[order])
    losses = batches.EpochLosses([8] * 50, device)
    for b in range(50):
        losses.add(b, torch.tensor(float(b), device=device))
    assert losses.running(49) is None  # a copy is under way: nothing shown yet
    torch.cuda.synchronize()
    assert losses.running(49) == pytest.approx(24.5)
    assert losses.total() == pytest.approx(8 * sum(range(50)))


@pytest.mark.gpu
@cuda
def test_cuda_training_autotunes_and_infers_like_it_trains(segments):
    before = torch.backends.cudnn.benchmark
    seen = []

    def loss(out, target):
        seen.append(torch.backends.cudnn.benchmark)
        return torch.nn.functional.mse_loss(out, target)

    tiny_train(tiny_model(), _noise(64), device="cuda", loss=loss, max_epochs=1)
    assert all(seen) and torch.backends.cudnn.benchmark == before
    est = SpecAE(**{**TINY_ONE_EPOCH, "device": "cuda"}, precision="bf16").fit(segments)
    items, _ = est._check_data(segments).items(True)
    outs = {}
    for precision, last in (("fp32", False), ("bf16", True)):
        outs[precision] = torch.cat(
            inference.run_batches(
                est.model_,
                est.input_stage_,
                items,
                lambda m, images: m(images),
                device="cuda",
                batch_size=5,
                precision=precision,
                channels_last=last,
            )
        )
    assert outs["bf16"].dtype == torch.float32
    assert not torch.equal(outs["fp32"], outs["bf16"])  # bf16 was used
    torch.testing.assert_close(outs["bf16"], outs["fp32"], rtol=0.05, atol=0.05)
