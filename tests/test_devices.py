"""Every device, honestly: bf16 only where it is fast, no float64 anywhere in training
(Apple's MPS has none), dataset statistics from the training items on the training
device, DDP with gloo, and the CUDA paths (bf16, channels-last, pinned memory)."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import (
    ITEM_RECORDINGS,
    assert_same_weights,
    load_real_items,
    run_torchrun,
    tiny_model,
    tiny_spec,
    tiny_train,
)
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mne_specae import SpecAE, Spectrogram, make_segments
from mne_specae.estimator._build import build_input_stage
from mne_specae.training.splits import split_by_group
from mne_specae.utils._devices import use_bf16
from mne_specae.utils._files import load_safely

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


# -------------------------------------------------------------------- precision
def test_use_bf16_needs_compute_capability_8(monkeypatch):
    capability = {}
    monkeypatch.setattr(
        torch.cuda, "get_device_capability", lambda device=None: capability["value"]
    )
    gpu = torch.device("cuda")
    for value, fast in [
        ((6, 1), False),
        ((7, 5), False),
        ((8, 0), True),
        ((8, 9), True),
        ((9, 0), True),
    ]:
        capability["value"] = value
        assert use_bf16("auto", gpu) is fast, value  # Turing (7.5) only emulates bf16
        assert use_bf16("bf16", gpu) is True
        assert use_bf16("fp32", gpu) is False
    for name in ("cpu", "mps"):
        assert use_bf16("auto", torch.device(name)) is False
        assert use_bf16("fp32", torch.device(name)) is False
    assert use_bf16("bf16", torch.device("cpu")) is True
    with pytest.raises(ValueError, match="Invalid value for the 'precision' parameter"):
        use_bf16("fp16", gpu)


# ---------------------------------------------------------------- no float64
class _Float64Ops(TorchDispatchMode):
    """Records every op that makes or reads a float64 tensor. Allowed: wrapping host
    data (numpy/Python) as a tensor (``lift_fresh``) that is only converted to another
    dtype (``torch.as_tensor(np_float64, dtype=torch.float32)``)."""

    def __init__(self):
        super().__init__()
        self.found, self.n_ops = [], 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.n_ops += 1
        inputs = [
            t
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor) and t.dtype == torch.float64
        ]
        outputs = [
            t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.dtype == torch.float64
        ]
        if func is torch.ops.aten.lift_fresh.default:
            return out  # host data wrapped as a tensor: what reads it is checked
        converts = func is torch.ops.aten._to_copy.default and kwargs.get("dtype") not in (
            None,
            torch.float64,
        )
        if outputs or (inputs and not converts):
            self.found.append(str(func))
        return out


@pytest.mark.parametrize("scheduler", [None, "plateau"])
def test_training_makes_no_float64_tensor(real_items, tmp_path, scheduler):
    waves, groups = real_items
    spec = tiny_spec(normalize="dataset")
    with _Float64Ops() as ops:
        history = tiny_train(
            tiny_model(),
            waves,
            groups=groups,
            input_stage=spec,
            scheduler=scheduler,
            checkpoint=tmp_path / "run.pt",
        )
    assert ops.n_ops > 1000  # the mode saw the training
    assert len(history.epochs) == 2 and math.isfinite(history.epochs[-1]["val_loss"])
    assert ops.found == []
    # the detector works: what the engine did before (float64 running sums on the device)
    with _Float64Ops() as ops:
        total = torch.zeros((), dtype=torch.float64)
        total += torch.ones(()).double()
        float(torch.tensor([1.0, 2.0], dtype=torch.float64)[0])
    assert ops.found == [
        "aten.zeros.default",
        "aten._to_copy.default",
        "aten.add_.Tensor",
        "aten.select.int",
        "aten._local_scalar_dense.default",
    ]


# ------------------------------------------------------- dataset statistics
def _statistics(stage, waves):
    fitted = build_input_stage("Spectrogram", stage.get_config()).fit_normalization(waves)
    return fitted.norm_mean, fitted.norm_std


def test_dataset_statistics_come_from_the_training_items(real_items, tmp_path, monkeypatch):
    waves, groups = real_items
    train_idx, val_idx = split_by_group(groups, 0.2, seed=0)
    spec = tiny_spec(normalize="dataset")
    tiny_train(
        tiny_model(),
        waves,
        groups=groups,
        input_stage=spec,
        max_epochs=1,
        checkpoint=tmp_path / "run.pt",
    )
    mean, std = _statistics(spec, waves[train_idx])
    torch.testing.assert_close(spec.norm_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(spec.norm_std, std, rtol=1e-5, atol=1e-5)
    everything, _ = _statistics(spec, waves)
    assert (spec.norm_mean - everything).abs().max() > 0.1  # dB: validation subjects differ
    # a resumed run takes the statistics from the checkpoint (no refit)
    monkeypatch.setattr(Spectrogram, "fit_normalization", lambda *a, **k: 1 / 0)
    again = tiny_spec(normalize="dataset")
    tiny_train(
        tiny_model(),
        waves,
        groups=groups,
        input_stage=again,
        max_epochs=1,
        checkpoint=tmp_path / "run.pt",
        resume=True,
    )
    assert torch.equal(again.norm_mean, spec.norm_mean)
    assert torch.equal(again.norm_std, spec.norm_std)


def test_specae_dataset_statistics_come_from_the_training_items(raw_by_name):
    epochs = [
        make_segments(raw_by_name[n].copy().crop(0, 30))
        for n in ITEM_RECORDINGS[:2] + ITEM_RECORDINGS[4:]
    ]
    X = np.concatenate([ep.get_data()[:, :2] for ep in epochs]).astype(np.float32)
    subjects = np.concatenate([ep.metadata["subject"].to_numpy() for ep in epochs])
    est = SpecAE(
        n_fft=64,
        hop_length=64,
        fmin=0.0,
        fmax=60.0,
        freq_scale="linear",
        n_freqs=None,
        resize=(16, 16),
        n_layers=2,
        filters=4,
        pooling="mean",
        max_epochs=1,
        batch_size=16,
        device="cpu",
        normalize="dataset",
        sfreq=epochs[0].info["sfreq"],
    ).fit(X, groups=subjects)
    items = X.reshape(-1, X.shape[-1])  # one channel of one segment, epoch by epoch
    train_idx, _ = split_by_group(np.repeat(subjects, 2), est.val_fraction, est.random_state)
    mean, std = _statistics(est.input_stage_, items[train_idx])
    torch.testing.assert_close(est.input_stage_.norm_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(est.input_stage_.norm_std, std, rtol=1e-5, atol=1e-5)
    everything, _ = _statistics(est.input_stage_, items)
    assert (est.input_stage_.norm_mean - everything).abs().max() > 0.1


# ------------------------------------------------------------------------ DDP
@pytest.mark.slow
def test_ddp_matches_single_process(real_items, tmp_path, monkeypatch):
    """2 CPU processes (gloo) with a global batch of 8 (4 per rank) follow the same
    trajectory as one process with batches of 8: the averaged gradients are the
    full-batch gradients."""
    monkeypatch.syspath_prepend(str(TESTS))
    from ddp_train_script import single_process

    waves, groups = real_items
    data = tmp_path / "data.npz"
    np.savez(data, waveforms=waves, groups=groups.astype(str))
    out, ckpt_dir = tmp_path / "out", tmp_path / "ckpt"
    ckpt_dir.mkdir()
    proc = run_torchrun(
        TESTS / "ddp_train_script.py",
        data,
        out,
        ckpt_dir / "run.pt",
        "--max-epochs",
        "3",
        "--batch-size",
        "8",
        "--seed",
        "0",
        cwd=ROOT,
    )
    log = proc.stdout + proc.stderr

    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]
    assert_same_weights(ranks[0]["state"], ranks[1]["state"])  # DDP keeps ranks in sync

    model, single = single_process((waves, groups), max_epochs=3, batch_size=8)
    # 48 training items = 6 steps of 8 per epoch, 24 validation items (2 subjects).
    # Observed: max |difference| of the weights about 1e-7 after 18 Adam steps (only
    # summation order differs); one wrong batch or unscaled gradient would move the
    # weights by ~lr = 3e-3, so 1e-5 separates both cases by 2 orders of magnitude.
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=0, atol=1e-5)
    ddp_epochs = ranks[0]["history"]["epochs"]
    assert len(ddp_epochs) == len(single.epochs) == 3
    for a, b in zip(ddp_epochs, single.epochs):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    n_train = len(split_by_group(groups, 0.25, 0)[0])
    assert n_train == 48
    np.testing.assert_allclose(
        [e["samples_per_s"] * e["seconds"] for e in ddp_epochs], n_train, rtol=1e-9
    )  # both ranks' items are counted

    # only rank 0 wrote the checkpoint (no temporary file of another rank) and logged
    assert os.listdir(ckpt_dir) == ["run.pt"]
    saved = load_safely(ckpt_dir / "run.pt", what="checkpoint")
    assert saved["epoch"] == 3
    assert_same_weights(saved["best_state"], ranks[0]["state"])
    for epoch in (1, 2, 3):
        assert log.count(f"epoch {epoch}/3:") == 1, log[-4000:]
    assert log.count("Validation: 24 items of 2 group(s)") == 1, log[-4000:]


def test_ddp_binds_the_gpu_before_the_process_group(monkeypatch):
    """NCCL binds a process group to the current GPU: set_device(LOCAL_RANK) first."""
    import torch.distributed as dist

    from mne_specae.training._batches import distributed_context

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", lambda dev: calls.append(("set_device", dev)))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    rank, world, device, owned = distributed_context(torch.device("cuda"))
    assert calls == [("set_device", torch.device("cuda", 1)), ("init", "nccl")]
    assert (rank, world, device, owned) == (1, 2, torch.device("cuda", 1), True)


def test_cudnn_autotune_only_on_cuda_and_restored():
    from mne_specae.utils._devices import cudnn_autotune

    before = torch.backends.cudnn.benchmark
    with cudnn_autotune(torch.device("cpu")):
        assert torch.backends.cudnn.benchmark == before
    for start in (False, True):
        torch.backends.cudnn.benchmark = start
        try:
            with pytest.raises(RuntimeError, match="inside"):
                with cudnn_autotune(torch.device("cuda")):
                    assert torch.backends.cudnn.benchmark is True
                    raise RuntimeError("inside")
            assert torch.backends.cudnn.benchmark is start
        finally:
            torch.backends.cudnn.benchmark = before


# ------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@cuda
def test_bf16_channels_last_on_gpu(real_items):
    waves, groups = real_items
    fp32, fast = tiny_model(), tiny_model()
    h32 = tiny_train(
        fp32,
        waves,
        groups=groups,
        device="cuda",
        precision="fp32",
        channels_last=False,
        max_epochs=3,
    )
    hbf = tiny_train(
        fast,
        waves,
        groups=groups,
        device="cuda",
        precision="bf16",
        channels_last=True,
        max_epochs=3,
    )
    assert next(fast.parameters()).is_cuda
    assert fast.encoder[4].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    for a, b in zip(h32.epochs, hbf.epochs):
        assert math.isfinite(b["train_loss"]) and math.isfinite(b["val_loss"])
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.05)
    # precision="auto" on a bf16-capable GPU matches the explicit bf16 run's numbers loosely
    auto = tiny_model()
    hauto = tiny_train(auto, waves, groups=groups, device="cuda", max_epochs=3)
    assert hauto.epochs[-1]["val_loss"] == pytest.approx(h32.epochs[-1]["val_loss"], rel=0.05)


@pytest.mark.gpu
@cuda
def test_pinned_memory_path_matches_data_on_device(real_items, monkeypatch):
    from mne_specae.training import _batches as batches

    sources = []
    original = batches.BatchSource.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sources.append(self)

    monkeypatch.setattr(batches.BatchSource, "__init__", spy)
    waves, groups = real_items
    states, histories = [], []
    for on_device in (True, False):
        model = tiny_model()
        histories.append(
            tiny_train(
                model,
                waves,
                groups=groups,
                device="cuda",
                precision="fp32",
                channels_last=False,
                data_on_device=on_device,
                max_epochs=2,
                batch_size=8,
            )
        )
        states.append({k: v.cpu() for k, v in model.state_dict().items()})
    assert not sources[0].pinned and sources[0].data.is_cuda
    assert sources[1].pinned and sources[1].data.is_pinned()
    # same batches in the same order; only non-deterministic GPU kernels may differ
    for key in states[0]:
        torch.testing.assert_close(states[1][key], states[0][key], rtol=1e-4, atol=1e-5)
    for a, b in zip(*[h.epochs for h in histories]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
