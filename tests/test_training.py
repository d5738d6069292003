"""The training engine: grouped split, history, early stopping, checkpoints, DDP."""

import math
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mne_specae import Spectrogram, make_segments
from mne_specae.history import History
from mne_specae.input_stages import WaveformInput
from mne_specae.io import load_safely, save_atomic
from mne_specae.models import ConvAutoencoder1d, ConvAutoencoder2d
from mne_specae.splits import split_by_group
from mne_specae.training import CHECKPOINT_FORMAT, train_autoencoder

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# 2 recordings (2 subjects) of each modality; 30 s of each = 6 segments of 5 s
NAMES = [
    "ecg/mitdb/100",
    "ecg/mitdb/106",
    "eeg/eegmat/Subject00_1",
    "eeg/eegmat/Subject01_1",
    "emg/uci_lower_limb/3Amar",
    "emg/uci_lower_limb/4Amar",
]
RECORD_KEYS = ("epoch", "train_loss", "val_loss", "lr")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


# ------------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def segments(raw_by_name):
    return {name: make_segments(raw_by_name[name].copy().crop(0.0, 30.0)) for name in NAMES}


@pytest.fixture(scope="module")
def real_items(segments):
    """72 items (one channel of one segment; 2 channels per segment), float32, and
    the subject of each item (6 subjects of 12 items)."""
    waves, groups = [], []
    for epochs in segments.values():
        data = epochs.get_data()[:, :2]
        waves.append(data.reshape(-1, data.shape[-1]))
        groups.append(np.repeat(epochs.metadata["subject"].to_numpy(), 2))
    waves, groups = np.concatenate(waves).astype(np.float32), np.concatenate(groups)
    assert waves.shape == (72, 2560) and len(np.unique(groups)) == 6
    return waves, groups


@pytest.fixture(scope="module")
def real_items_3d(segments):
    """36 items of 2 channels each (n_items, 2, n_times) and their subjects."""
    waves = np.concatenate([ep.get_data()[:, :2] for ep in segments.values()])
    groups = np.concatenate([ep.metadata["subject"].to_numpy() for ep in segments.values()])
    return waves.astype(np.float32), groups


# --------------------------------------------------------------------- helpers
def _spec(**kwargs):
    return Spectrogram(512.0, n_fft=64, hop_length=64, fmax=60.0, output="db",
                       normalize="item", **kwargs)


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return ConvAutoencoder2d(**{"n_layers": 2, "filters": 4, **kwargs})


def _train(model, waves, **kwargs):
    options = dict(input_stage=_spec(), max_epochs=2, batch_size=16, lr=3e-3, device="cpu",
                   progress=False, verbose=False)
    options.update(kwargs)
    return train_autoencoder(model, waves, **options)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _differs(a, b):
    return any(not torch.equal(a[key], b[key]) for key in a)


def _records(history):
    return [{k: e[k] for k in RECORD_KEYS} for e in history.epochs]


class _LossFrom:
    """MSE, multiplied by ``value`` (NaN/Inf) from call number ``start`` onward."""

    def __init__(self, start, value=math.nan):
        self.start, self.value, self.calls = start, value, 0

    def __call__(self, out, target):
        self.calls += 1
        loss = F.mse_loss(out, target)
        return loss * self.value if self.calls >= self.start else loss


# ----------------------------------------------------------------------- split
def test_split_by_group_keeps_groups_apart(real_items):
    _, real_groups = real_items
    rng = np.random.default_rng(0)
    uneven = np.repeat(np.arange(15), rng.integers(1, 30, size=15))
    for groups in (real_groups, uneven):
        n = len(groups)
        largest = max(np.unique(groups, return_counts=True)[1])
        for seed in range(10):
            for fraction in (0.1, 0.2, 0.5):
                train, val = split_by_group(groups, fraction, seed)
                assert set(groups[train]).isdisjoint(groups[val])
                np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(n))
                assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
                assert train.dtype.kind == "i" and val.dtype.kind == "i"
                # groups are drawn until the target is reached: overshoot < one group
                assert fraction * n <= len(val) < fraction * n + largest
    # never all groups in validation
    train, val = split_by_group(["a"] * 5 + ["b"] * 5 + ["c"] * 5, 0.95, 0)
    assert len(train) == 5 and len(val) == 10
    # one dominant subject (65 % of the items) is never drawn into a 20 % validation set
    groups = np.array(["big"] * 65 + [f"s{k}" for k in range(7) for _ in range(5)])
    for seed in range(20):
        train, val = split_by_group(groups, 0.2, seed)
        assert "big" not in set(groups[val])
        assert 20 <= len(val) <= 25


def test_split_by_group_is_seeded(real_items):
    _, groups = real_items
    first = split_by_group(groups, 0.3, seed=3)
    again = split_by_group(list(groups), 0.3, seed=3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    others = [split_by_group(groups, 0.3, seed=s)[1] for s in range(6)]
    assert len({tuple(v) for v in others}) > 1


def test_split_by_group_single_group_and_edge_cases():
    groups = np.array(["s1"] * 50)
    with pytest.warns(RuntimeWarning, match="Only one group"):
        train, val = split_by_group(groups, 0.2, seed=1)
    assert len(val) == 10 and len(train) == 40
    np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(50))
    with pytest.warns(RuntimeWarning, match="Only one group"):
        again = split_by_group(groups, 0.2, seed=1)
    np.testing.assert_array_equal(again[1], val)
    train, val = split_by_group(np.arange(20) % 4, 0.0)
    np.testing.assert_array_equal(train, np.arange(20))
    assert len(val) == 0 and val.dtype.kind == "i"
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
            split_by_group(np.arange(10), bad)
    with pytest.raises(ValueError, match="one label per item"):
        split_by_group(None)


# -------------------------------------------------------------------- training
def test_loss_decreases_and_history(real_items):
    waves, groups = real_items
    model = _model(filters=8)
    history = _train(model, waves, groups=groups, max_epochs=4, lr=5e-3)
    frame = history.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss", "seconds",
                                   "samples_per_s", "lr"]
    assert frame["epoch"].tolist() == [1, 2, 3, 4]
    assert np.isfinite(frame[["train_loss", "val_loss"]].to_numpy()).all()
    # item-normalised images: predicting 0 costs 1; training must do clearly better
    assert np.all(np.diff(frame["train_loss"]) < 0)
    assert frame["train_loss"].iloc[-1] < 0.8 * frame["train_loss"].iloc[0]
    # other subjects (validation) generalise less smoothly, but do improve
    assert frame["val_loss"].min() < 0.9 * frame["val_loss"].iloc[0]
    n_train = len(split_by_group(groups, 0.2, 0)[0])
    assert (frame["seconds"] > 0).all()
    np.testing.assert_allclose(frame["samples_per_s"], n_train / frame["seconds"], rtol=1e-9)
    assert (frame["lr"] == 5e-3).all()
    assert history.best_epoch == int(frame["val_loss"].idxmin()) + 1
    assert history.best_loss == frame["val_loss"].min()
    assert history.stop_reason == "max_epochs"
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    # History round trip (model files)
    restored = History.from_dict(history.to_dict())
    assert restored == history


@pytest.mark.parametrize("loss, fn", [("mse", F.mse_loss), ("l1", F.l1_loss)])
def test_validation_loss_value(real_items, loss, fn):
    """The recorded validation loss is the loss of the (restored) weights on the
    held-out subjects' images, computed here by hand."""
    waves, groups = real_items
    model = _model()
    history = _train(model, waves, groups=groups, val_fraction=0.25, loss=loss, max_epochs=1)
    _, val_idx = split_by_group(groups, 0.25, seed=0)
    assert len(np.unique(groups[val_idx])) == 2
    with torch.no_grad():
        images = _spec().to_images(torch.as_tensor(waves[val_idx]))
        assert images.shape == (len(val_idx), 1, 8, 41)
        expected = float(fn(model(images), images))
    assert history.epochs[0]["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert history.best_epoch == 1


def test_early_stopping_restores_the_best_weights(real_items, tmp_path):
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    # with min_delta huge, only the first epoch counts as an improvement: training
    # must stop after 1 + patience epochs and keep the weights of epoch 1
    model = _model()
    history = _train(model, waves, groups=groups, max_epochs=10, patience=2, min_delta=1e9,
                     checkpoint=ckpt)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    assert history.best_epoch == 1
    assert history.best_loss == history.epochs[0]["val_loss"]
    assert history.stop_reason == "early_stopping"
    reference = _model()
    _train(reference, waves, groups=groups, max_epochs=1)
    _assert_same_state(_state(model), _state(reference))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 3 and saved["history"]["stop_reason"] == "early_stopping"
    _assert_same_state(saved["best_state"], _state(reference))
    # the weights at the stop (epoch 3) are different: restoring did something
    assert _differs(saved["model"], _state(model))
    # resuming a run that stopped early trains no further and keeps the best weights
    resumed_model = _model(seed=5)
    resumed = _train(resumed_model, waves, groups=groups, max_epochs=10, patience=2,
                     min_delta=1e9, checkpoint=ckpt, resume=True)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3]
    assert resumed.stop_reason == "early_stopping"
    _assert_same_state(_state(resumed_model), _state(reference))
    # a long patience runs to max_epochs
    history = _train(_model(), waves, groups=groups, max_epochs=3, patience=5, min_delta=1e9)
    assert history.stop_reason == "max_epochs" and len(history.epochs) == 3


def test_reproducible_with_a_seed(real_items):
    waves, groups = real_items
    a, b = _model(0), _model(0)
    ha = _train(a, waves, groups=groups, seed=0)
    hb = _train(b, waves, groups=groups, seed=0)
    _assert_same_state(_state(a), _state(b))
    assert _records(ha) == _records(hb)
    c = _model(1)
    _train(c, waves, groups=groups, seed=1)
    assert _differs(_state(a), _state(c))
    d = _model(0)  # same initial weights, other split and batch order
    hd = _train(d, waves, groups=groups, seed=1)
    assert _differs(_state(a), _state(d))
    assert _records(hd) != _records(ha)


def test_each_epoch_has_its_own_seeded_order():
    from mne_specae.training import _epoch_order

    train_idx = torch.arange(100, 160)
    orders = [_epoch_order(train_idx, seed=0, epoch=e) for e in (1, 2, 3)]
    for order in orders:
        assert torch.equal(order.sort().values, train_idx)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert torch.equal(_epoch_order(train_idx, seed=0, epoch=2), orders[1])
    assert not torch.equal(_epoch_order(train_idx, seed=1, epoch=2), orders[1])


def test_checkpoint_and_resume_equal_an_uninterrupted_run(real_items, tmp_path):
    waves, groups = real_items
    options = dict(groups=groups, val_fraction=0.25, scheduler="plateau", patience=10)
    full_model = _model()
    full = _train(full_model, waves, max_epochs=4, **options)

    ckpt = tmp_path / "ckpt.pt"
    first = _train(_model(), waves, max_epochs=2, checkpoint=ckpt, **options)
    assert len(first.epochs) == 2
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # atomic: no temporary file left
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT and saved["epoch"] == 2
    assert saved["n_items"] == len(waves) and saved["seed"] == 0
    assert len(saved["history"]["epochs"]) == 2
    assert set(saved) >= {"model", "optimizer", "scheduler", "best_state", "bad_epochs",
                          "train_idx", "val_idx"}
    np.testing.assert_array_equal(saved["val_idx"].numpy(), split_by_group(groups, 0.25, 0)[1])

    resumed_model = _model(seed=123)  # other initial weights: the checkpoint's win
    resumed = _train(resumed_model, waves, max_epochs=4, checkpoint=ckpt, resume=True,
                     **options)
    _assert_same_state(_state(resumed_model), _state(full_model))
    assert _records(resumed) == _records(full)
    assert (resumed.best_epoch, resumed.best_loss, resumed.stop_reason) == (
        full.best_epoch, full.best_loss, full.stop_reason)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 4
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]

    # resuming a finished run trains no further and returns its best weights
    again_model = _model(seed=7)
    again = _train(again_model, waves, max_epochs=4, checkpoint=ckpt, resume=True, **options)
    assert _records(again) == _records(full)
    _assert_same_state(_state(again_model), _state(full_model))

    # a checkpoint of another run is refused
    with pytest.raises(ValueError, match="another training run"):
        _train(_model(), waves[:-12], max_epochs=4, checkpoint=ckpt, resume=True,
               **{**options, "groups": groups[:-12]})
    with pytest.raises(ValueError, match="another training run"):
        _train(_model(), waves, max_epochs=4, checkpoint=ckpt, resume=True, seed=1, **options)


def test_resume_without_a_checkpoint_file_starts_afresh(real_items, tmp_path):
    waves, groups = real_items
    fresh = _model()
    _train(fresh, waves, groups=groups, checkpoint=tmp_path / "new.pt", resume=True)
    plain = _model()
    _train(plain, waves, groups=groups)
    _assert_same_state(_state(fresh), _state(plain))
    assert (tmp_path / "new.pt").is_file()


def test_save_atomic_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "sub" / "file.pt"
    save_atomic({"w": torch.arange(3)}, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled
        save_atomic({"w": torch.zeros(3), "f": lambda: 0}, path)
    assert os.listdir(path.parent) == ["file.pt"]
    assert torch.equal(load_safely(path)["w"], torch.arange(3))


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nonfinite_loss_stops_and_restores(real_items, tmp_path, value):
    waves, _ = real_items
    # val_fraction=0: 5 batches of 16 per epoch and no validation calls, so call 11
    # is the first batch of epoch 3
    ckpt = tmp_path / "ckpt.pt"
    model = _model()
    with pytest.warns(RuntimeWarning, match="NaN/Inf in epoch 3.*weights of epoch 2"):
        history = _train(model, waves, val_fraction=0, max_epochs=6,
                         loss=_LossFrom(11, value), checkpoint=ckpt)
    assert history.stop_reason == "nonfinite_loss"
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert history.best_epoch == 2
    reference = _model()
    _train(reference, waves, val_fraction=0, max_epochs=2, loss=_LossFrom(10**9))
    _assert_same_state(_state(model), _state(reference))
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    saved = torch.load(ckpt, weights_only=True)
    _assert_same_state(saved["model"], _state(reference))
    assert saved["history"]["stop_reason"] == "nonfinite_loss"


@pytest.mark.parametrize("start", [1, 3])
def test_nonfinite_loss_in_the_first_epoch_raises(real_items, start):
    waves, _ = real_items
    with pytest.raises(FloatingPointError, match="NaN/Inf in epoch 1, before any epoch"):
        _train(_model(), waves, val_fraction=0, loss=_LossFrom(start))


# --------------------------------------------------------------------- options
def test_optimizers(real_items):
    waves, groups = real_items
    runs = {}
    for name in ("adam", "adamw"):
        model = _model()
        _train(model, waves, groups=groups, optimizer=name, weight_decay=0.5, max_epochs=1)
        runs[name] = _state(model)
    assert _differs(runs["adam"], runs["adamw"])  # L2 penalty vs decoupled decay
    seen = []

    def make_sgd(params):
        params = list(params)
        seen.append(params)
        return torch.optim.SGD(params, lr=0.05, momentum=0.9)

    model = _model()
    before = _state(model)
    history = _train(model, waves, groups=groups, optimizer=make_sgd)
    assert len(seen) == 1 and seen[0] == list(model.parameters())
    assert [e["lr"] for e in history.epochs] == [0.05, 0.05]
    assert _differs(before, _state(model))


@pytest.mark.parametrize("scheduler, expected", [
    ("cosine", [1e-3, 7.5e-4, 2.5e-4]),
    (lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
     [1e-3, 5e-4, 2.5e-4]),
])
def test_schedulers(real_items, scheduler, expected):
    waves, groups = real_items
    history = _train(_model(), waves, groups=groups, lr=1e-3, max_epochs=3, scheduler=scheduler)
    np.testing.assert_allclose([e["lr"] for e in history.epochs], expected, rtol=1e-12)


def test_plateau_scheduler_halves_the_lr(real_items):
    waves, groups = real_items

    def constant(out, target):  # no gradient, constant loss: a plateau
        return (out * 0.0).mean() + 1.0

    history = _train(_model(), waves, groups=groups, lr=1e-3, max_epochs=10, patience=3,
                     scheduler="plateau", loss=constant)
    # plateau patience = patience // 2 = 1: the lr halves after the 3rd epoch;
    # early stopping (3 epochs without improvement) ends training after the 4th
    assert [e["lr"] for e in history.epochs] == [1e-3, 1e-3, 1e-3, 5e-4]
    assert history.stop_reason == "early_stopping" and history.best_epoch == 1

    # the plateau is judged on the validation loss: a flat training loss with an
    # improving validation loss keeps the lr (and does not stop early)
    calls = []

    def flat_train_improving_val(out, target):
        calls.append(torch.is_grad_enabled())
        if torch.is_grad_enabled():
            return (out * 0.0).mean() + 1.0
        return (out * 0.0).mean() + 1.0 / (1 + sum(not c for c in calls))

    history = _train(_model(), waves, groups=groups, lr=1e-3, max_epochs=5, patience=3,
                     scheduler="plateau", loss=flat_train_improving_val)
    assert [e["lr"] for e in history.epochs] == [1e-3] * 5
    assert all(e["train_loss"] == 1.0 for e in history.epochs)
    assert np.all(np.diff([e["val_loss"] for e in history.epochs]) < 0)
    assert history.stop_reason == "max_epochs" and history.best_epoch == 5


def test_no_validation_set(real_items):
    waves, groups = real_items
    history = _train(_model(), waves, groups=groups, val_fraction=0, max_epochs=3)
    frame = history.to_frame()
    assert frame["val_loss"].isna().all()
    assert history.best_loss == frame["train_loss"].min()
    assert history.best_epoch == int(frame["train_loss"].idxmin()) + 1
    n = len(waves)
    np.testing.assert_allclose(frame["samples_per_s"], n / frame["seconds"], rtol=1e-9)


def test_1d_model_with_waveform_input(real_items):
    waves, groups = real_items
    torch.manual_seed(0)
    model = ConvAutoencoder1d(n_layers=2, filters=8, kernel_size=9)
    stage = WaveformInput()
    history = _train(model, waves, groups=groups, input_stage=stage, max_epochs=3, lr=5e-3)
    losses = [e["train_loss"] for e in history.epochs]
    assert losses[-1] < 0.9 * losses[0]
    _, val_idx = split_by_group(groups, 0.2, 0)
    with torch.no_grad():
        x = stage(torch.as_tensor(waves[val_idx]))
        assert x.shape == (len(val_idx), 1, 2560)
        expected = float(F.mse_loss(model(x), x))
    assert history.epochs[history.best_epoch - 1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_multichannel_items_as_planes(real_items_3d):
    waves, groups = real_items_3d
    assert waves.shape == (36, 2, 2560)
    spec = _spec(channel_mode="planes")
    model = _model(in_channels=2)
    history = _train(model, waves, groups=groups, input_stage=spec, val_fraction=0.25,
                     batch_size=8, max_epochs=2)
    _, val_idx = split_by_group(groups, 0.25, 0)
    with torch.no_grad():
        images = spec.to_images(torch.as_tensor(waves[val_idx]))
        assert images.shape == (len(val_idx), 2, 8, 41)
        expected = float(F.mse_loss(model(images), images))
    assert history.epochs[history.best_epoch - 1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_bf16_autocast_on_cpu(real_items):
    waves, groups = real_items
    fp32, bf16 = _model(), _model()
    h32 = _train(fp32, waves, groups=groups, precision="fp32")
    h16 = _train(bf16, waves, groups=groups, precision="bf16")
    assert all(p.dtype == torch.float32 for p in bf16.parameters())  # weights stay fp32
    for a, b in zip(h32.epochs, h16.epochs):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.05)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(max_epochs=0), "max_epochs must be an int >= 1"),
    (dict(max_epochs=2.0), "max_epochs must be an int >= 1"),
    (dict(batch_size=0), "batch_size must be an int >= 1"),
    (dict(batch_size=None), "batch_size must be an int >= 1"),
    (dict(patience=0), "patience must be an int >= 1"),
    (dict(precision="fp16"), "Invalid value for the 'precision' parameter"),
    (dict(optimizer="sgd"), "optimizer must be 'adam', 'adamw' or a callable"),
    (dict(scheduler="step"), "scheduler must be None, 'cosine', 'plateau' or a callable"),
    (dict(loss="huber"), "loss must be 'mse', 'l1' or a callable"),
    (dict(resume=True), "resume=True needs a checkpoint path"),
    (dict(groups=np.arange(71)), "groups has 71 labels for 72 items"),
    (dict(val_fraction=1.0), "val_fraction must be in"),
])
def test_argument_errors(real_items, kwargs, match):
    waves, _ = real_items
    with pytest.raises(ValueError, match=match):
        _train(_model(), waves, **kwargs)


def test_waveform_errors(real_items):
    waves, _ = real_items
    bad = waves.copy()
    bad[5, 100] = np.nan
    with pytest.raises(ValueError, match="NaN/Inf"):
        _train(_model(), bad)
    bad[5, 100] = np.inf
    with pytest.raises(ValueError, match="NaN/Inf"):
        _train(_model(), bad)
    for shape in ((2560,), (2, 3, 4, 2560)):
        with pytest.raises(ValueError, match=r"waveforms must be \(n_items, n_times\)"):
            _train(_model(), np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="at least 2 items"):
        _train(_model(), waves[:1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu(real_items):
    waves, _ = real_items
    with pytest.raises(RuntimeError, match="sees no CUDA GPU"):
        _train(_model(), waves, device="cuda")


# ----------------------------------------------------------------- safe loading
class _Payload:
    """Unpickling this would create ``path`` (a harmless stand-in for os.system)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_load_safely_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.ones(2)}, "extra": _Payload(marker)}, evil)
    # the payload is real: an unsafe load runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="Refused to load.*could run code") as info:
        load_safely(evil, what="checkpoint")
    assert "open" in str(info.value)  # names what was refused
    assert not marker.exists()
    # a plain pickle file (not a torch zip file) is refused too
    plain = tmp_path / "evil.pkl"
    with open(plain, "wb") as fid:
        pickle.dump({"x": _Payload(marker)}, fid)
    with pytest.raises(ValueError, match="Refused to load"):
        load_safely(plain)
    assert not marker.exists()


def test_load_safely_damaged_and_missing(tmp_path):
    good = tmp_path / "good.pt"
    save_atomic({"w": torch.arange(1000.0), "name": "x", "n": [1, 2]}, good)
    loaded = load_safely(good)
    assert torch.equal(loaded["w"], torch.arange(1000.0)) and loaded["n"] == [1, 2]
    raw = good.read_bytes()
    cases = {"truncated.pt": raw[: len(raw) // 2], "empty.pt": b"",
             "text.pt": b"hello world, not a model", "tail.pt": raw[:-30]}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}.* (is not a readable|Refused)"):
            load_safely(path)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        load_safely(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_safely(tmp_path / "missing.pt", what="checkpoint")


def test_resume_refuses_foreign_files(real_items, tmp_path):
    waves, groups = real_items
    for name, obj in (("dict.pt", {"epoch": 3}), ("tensor.pt", torch.zeros(3))):
        path = tmp_path / name
        torch.save(obj, path)
        with pytest.raises(ValueError, match="not an mne-specae training checkpoint"):
            _train(_model(), waves, groups=groups, checkpoint=path, resume=True)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="damaged"):
        _train(_model(), waves, groups=groups, checkpoint=damaged, resume=True)


# ------------------------------------------------------------------------ DDP
def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_ddp_matches_single_process(real_items, tmp_path, monkeypatch):
    """2 CPU processes (gloo) with a global batch of 8 (4 per rank) follow the same
    trajectory as one process with batches of 8: the averaged gradients are the
    full-batch gradients."""
    monkeypatch.syspath_prepend(str(TESTS))
    from ddp_train_script import build, train_kwargs

    waves, groups = real_items
    data = tmp_path / "data.npz"
    np.savez(data, waveforms=waves, groups=groups.astype(str))
    out, ckpt_dir = tmp_path / "out", tmp_path / "ckpt"
    ckpt_dir.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), str(TESTS),
                                                        os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           str(TESTS / "ddp_train_script.py"), str(data), str(out), str(ckpt_dir / "run.pt"),
           "--max-epochs", "3", "--batch-size", "8", "--seed", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]

    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]
    _assert_same_state(ranks[0]["state"], ranks[1]["state"])  # DDP keeps ranks in sync

    spec, model = build(0)
    single = train_autoencoder(model, waves, input_stage=spec, groups=groups, max_epochs=3,
                               batch_size=8, seed=0, device="cpu", verbose=False,
                               **train_kwargs())
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
    np.testing.assert_allclose([e["samples_per_s"] * e["seconds"] for e in ddp_epochs],
                               n_train, rtol=1e-9)  # both ranks' items are counted

    # only rank 0 wrote the checkpoint (no temporary file of another rank) and logged
    assert os.listdir(ckpt_dir) == ["run.pt"]
    saved = load_safely(ckpt_dir / "run.pt", what="checkpoint")
    assert saved["epoch"] == 3
    _assert_same_state(saved["best_state"], ranks[0]["state"])
    for epoch in (1, 2, 3):
        assert log.count(f"epoch {epoch}/3:") == 1, log[-4000:]
    assert log.count("Validation: 24 items of 2 group(s)") == 1, log[-4000:]


# ------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@cuda
def test_bf16_channels_last_on_gpu(real_items):
    waves, groups = real_items
    fp32, fast = _model(), _model()
    h32 = _train(fp32, waves, groups=groups, device="cuda", precision="fp32",
                 channels_last=False, max_epochs=3)
    hbf = _train(fast, waves, groups=groups, device="cuda", precision="bf16",
                 channels_last=True, max_epochs=3)
    assert next(fast.parameters()).is_cuda
    assert fast.encoder[4].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    for a, b in zip(h32.epochs, hbf.epochs):
        assert math.isfinite(b["train_loss"]) and math.isfinite(b["val_loss"])
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.05)
    # precision="auto" on a bf16-capable GPU matches the explicit bf16 run's numbers loosely
    auto = _model()
    hauto = _train(auto, waves, groups=groups, device="cuda", max_epochs=3)
    assert hauto.epochs[-1]["val_loss"] == pytest.approx(h32.epochs[-1]["val_loss"], rel=0.05)


@pytest.mark.gpu
@cuda
def test_pinned_memory_path_matches_data_on_device(real_items, monkeypatch):
    from mne_specae import training

    sources = []
    original = training._BatchSource.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sources.append(self)

    monkeypatch.setattr(training._BatchSource, "__init__", spy)
    waves, groups = real_items
    states, histories = [], []
    for on_device in (True, False):
        model = _model()
        histories.append(_train(model, waves, groups=groups, device="cuda", precision="fp32",
                                channels_last=False, data_on_device=on_device, max_epochs=2,
                                batch_size=8))
        states.append({k: v.cpu() for k, v in model.state_dict().items()})
    assert sources[0].staging is None and sources[0].data.is_cuda
    assert sources[1].staging is not None and sources[1].data.is_pinned()
    # same batches in the same order; only non-deterministic GPU kernels may differ
    for key in states[0]:
        torch.testing.assert_close(states[1][key], states[0][key], rtol=1e-4, atol=1e-5)
    for a, b in zip(*[h.epochs for h in histories]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
