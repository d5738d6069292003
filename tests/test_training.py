"""The training engine: history, early stopping, NaN/Inf losses, options, errors.

Checkpoints and resuming: test_checkpoints.py; devices, precision, DDP: test_devices.py;
the grouped split: test_splits.py.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny import assert_same_weights, records_of, tiny_model, tiny_spec, tiny_train, weights_of

from mne_specae import make_segments
from mne_specae.nn.input_stages import WaveformInput
from mne_specae.nn.models import ConvAutoencoder1d
from mne_specae.training.history import History
from mne_specae.training.splits import split_by_group

# 2 recordings (2 subjects) of each modality; 30 s of each = 6 segments of 5 s
NAMES = [
    "ecg/mitdb/100",
    "ecg/mitdb/106",
    "eeg/eegmat/Subject00_1",
    "eeg/eegmat/Subject01_1",
    "emg/uci_lower_limb/3Amar",
    "emg/uci_lower_limb/4Amar",
]


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


def _differs(a, b):
    return any(not torch.equal(a[key], b[key]) for key in a)


class _LossFrom:
    """MSE, multiplied by ``value`` (NaN/Inf) from call number ``start`` onward."""

    def __init__(self, start, value=math.nan):
        self.start, self.value, self.calls = start, value, 0

    def __call__(self, out, target):
        self.calls += 1
        loss = F.mse_loss(out, target)
        return loss * self.value if self.calls >= self.start else loss


# -------------------------------------------------------------------- training
def test_loss_decreases_and_history(real_items):
    waves, groups = real_items
    model = tiny_model(filters=8)
    history = tiny_train(model, waves, groups=groups, max_epochs=4, lr=5e-3)
    frame = history.to_frame()
    assert list(frame.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "seconds",
        "samples_per_s",
        "lr",
        "input_seconds",
    ]
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
    assert ((frame["input_seconds"] > 0) & (frame["input_seconds"] < frame["seconds"])).all()
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
    model = tiny_model()
    history = tiny_train(model, waves, groups=groups, val_fraction=0.25, loss=loss, max_epochs=1)
    _, val_idx = split_by_group(groups, 0.25, seed=0)
    assert len(np.unique(groups[val_idx])) == 2
    with torch.no_grad():
        images = tiny_spec().to_images(torch.as_tensor(waves[val_idx]))
        assert images.shape == (len(val_idx), 1, 8, 41)
        expected = float(fn(model(images), images))
    assert history.epochs[0]["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert history.best_epoch == 1


def test_early_stopping_restores_the_best_weights(real_items, tmp_path):
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    # with min_delta huge, only the first epoch counts as an improvement: training
    # must stop after 1 + patience epochs and keep the weights of epoch 1
    model = tiny_model()
    history = tiny_train(
        model, waves, groups=groups, max_epochs=10, patience=2, min_delta=1e9, checkpoint=ckpt
    )
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    assert history.best_epoch == 1
    assert history.best_loss == history.epochs[0]["val_loss"]
    assert history.stop_reason == "early_stopping"
    reference = tiny_model()
    tiny_train(reference, waves, groups=groups, max_epochs=1)
    assert_same_weights(weights_of(model), weights_of(reference))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 3 and saved["history"]["stop_reason"] == "early_stopping"
    assert_same_weights(saved["best_state"], weights_of(reference))
    # the weights at the stop (epoch 3) are different: restoring did something
    assert _differs(saved["model"], weights_of(model))
    # resuming a run that stopped early trains no further and keeps the best weights
    resumed_model = tiny_model(seed=5)
    resumed = tiny_train(
        resumed_model,
        waves,
        groups=groups,
        max_epochs=10,
        patience=2,
        min_delta=1e9,
        checkpoint=ckpt,
        resume=True,
    )
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3]
    assert resumed.stop_reason == "early_stopping"
    assert_same_weights(weights_of(resumed_model), weights_of(reference))
    # a long patience runs to max_epochs
    history = tiny_train(
        tiny_model(), waves, groups=groups, max_epochs=3, patience=5, min_delta=1e9
    )
    assert history.stop_reason == "max_epochs" and len(history.epochs) == 3


def test_reproducible_with_a_seed(real_items):
    waves, groups = real_items
    a, b = tiny_model(0), tiny_model(0)
    ha = tiny_train(a, waves, groups=groups, seed=0)
    hb = tiny_train(b, waves, groups=groups, seed=0)
    assert_same_weights(weights_of(a), weights_of(b))
    assert records_of(ha) == records_of(hb)
    c = tiny_model(1)
    tiny_train(c, waves, groups=groups, seed=1)
    assert _differs(weights_of(a), weights_of(c))
    d = tiny_model(0)  # same initial weights, other split and batch order
    hd = tiny_train(d, waves, groups=groups, seed=1)
    assert _differs(weights_of(a), weights_of(d))
    assert records_of(hd) != records_of(ha)


def test_each_epoch_has_its_own_seeded_order():
    from mne_specae.training._batches import epoch_order

    train_idx = torch.arange(100, 160)
    orders = [epoch_order(train_idx, seed=0, epoch=e) for e in (1, 2, 3)]
    for order in orders:
        assert torch.equal(order.sort().values, train_idx)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert torch.equal(epoch_order(train_idx, seed=0, epoch=2), orders[1])
    assert not torch.equal(epoch_order(train_idx, seed=1, epoch=2), orders[1])


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nonfinite_loss_stops_and_restores(real_items, tmp_path, value):
    waves, _ = real_items
    # val_fraction=0: 5 batches of 16 per epoch and no validation calls, so call 11
    # is the first batch of epoch 3
    ckpt = tmp_path / "ckpt.pt"
    model = tiny_model()
    with pytest.warns(RuntimeWarning, match="NaN/Inf in epoch 3.*weights of epoch 2"):
        history = tiny_train(
            model, waves, val_fraction=0, max_epochs=6, loss=_LossFrom(11, value), checkpoint=ckpt
        )
    assert history.stop_reason == "nonfinite_loss"
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert history.best_epoch == 2
    reference = tiny_model()
    tiny_train(reference, waves, val_fraction=0, max_epochs=2, loss=_LossFrom(10**9))
    assert_same_weights(weights_of(model), weights_of(reference))
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    saved = torch.load(ckpt, weights_only=True)
    assert_same_weights(saved["model"], weights_of(reference))
    assert saved["history"]["stop_reason"] == "nonfinite_loss"


@pytest.mark.parametrize("start", [1, 3])
def test_nonfinite_loss_in_the_first_epoch_raises(real_items, start):
    waves, _ = real_items
    with pytest.raises(FloatingPointError, match="NaN/Inf in epoch 1, before any epoch"):
        tiny_train(tiny_model(), waves, val_fraction=0, loss=_LossFrom(start))


class _NanValidationFrom:
    """MSE; NaN for validation batches (run without gradients) from the ``start``-th
    validation batch on: the training loss stays finite."""

    def __init__(self, start):
        self.start, self.val_calls = start, 0

    def __call__(self, out, target):
        loss = F.mse_loss(out, target)
        if torch.is_grad_enabled():
            return loss
        self.val_calls += 1
        return loss * math.nan if self.val_calls >= self.start else loss


def test_nonfinite_validation_loss_stops_and_restores(real_items, tmp_path):
    waves, groups = real_items
    _, val_idx = split_by_group(groups, 0.2, seed=0)
    per_epoch = math.ceil(len(val_idx) / 16)  # validation batches per epoch
    assert per_epoch == 2
    ckpt = tmp_path / "ckpt.pt"
    model = tiny_model()
    with pytest.warns(
        RuntimeWarning, match="validation loss became NaN/Inf in epoch 3.*weights of epoch 2"
    ):
        history = tiny_train(
            model,
            waves,
            groups=groups,
            max_epochs=6,
            loss=_NanValidationFrom(2 * per_epoch + 1),
            checkpoint=ckpt,
        )
    assert history.stop_reason == "nonfinite_loss"
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    assert all(math.isfinite(e["train_loss"]) for e in history.epochs)
    assert math.isnan(history.epochs[2]["val_loss"])
    assert history.best_epoch == 2 and history.best_loss == history.epochs[1]["val_loss"]
    reference = tiny_model()
    tiny_train(reference, waves, groups=groups, max_epochs=2)
    assert_same_weights(weights_of(model), weights_of(reference))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 3 and saved["history"]["stop_reason"] == "nonfinite_loss"
    assert_same_weights(saved["model"], weights_of(reference))
    assert_same_weights(saved["best_state"], weights_of(reference))
    # that run ended: resuming it returns its result without training
    resumed_model = tiny_model(seed=5)
    resumed = tiny_train(
        resumed_model,
        waves,
        groups=groups,
        max_epochs=6,
        loss=_NanValidationFrom(10**9),
        checkpoint=ckpt,
        resume=True,
    )
    assert resumed.stop_reason == "nonfinite_loss" and len(resumed.epochs) == 3
    assert_same_weights(weights_of(resumed_model), weights_of(reference))


class _NanForMarked(torch.nn.Module):
    """A spectrogram input stage whose images are NaN for items starting with
    ``marker`` (the validation items below): a broken validation recording."""

    def __init__(self, marker):
        super().__init__()
        self.spec, self.marker = tiny_spec(), marker

    def to_images(self, x):
        images = self.spec.to_images(x)
        bad = (x[:, 0] == self.marker).view(-1, 1, 1, 1)
        return torch.where(bad, torch.full_like(images, math.nan), images)


def test_nonfinite_validation_loss_in_the_first_epoch_raises(real_items):
    waves, groups = real_items
    _, val_idx = split_by_group(groups, 0.2, seed=0)
    marked = waves.copy()
    marked[val_idx, 0] = 123.0  # only validation items (whole subjects) are broken
    model = tiny_model()
    before = weights_of(model)
    with pytest.raises(
        FloatingPointError,
        match="validation loss became NaN/Inf in epoch 1, "
        "before any epoch finished.*validation "
        "recordings",
    ):
        tiny_train(model, marked, groups=groups, input_stage=_NanForMarked(123.0))
    assert _differs(before, weights_of(model))  # the training epoch ran: its loss was finite


# --------------------------------------------------------------------- options
def test_optimizers(real_items):
    waves, groups = real_items
    runs = {}
    for name in ("adam", "adamw"):
        model = tiny_model()
        tiny_train(model, waves, groups=groups, optimizer=name, weight_decay=0.5, max_epochs=1)
        runs[name] = weights_of(model)
    assert _differs(runs["adam"], runs["adamw"])  # L2 penalty vs decoupled decay
    seen = []

    def make_sgd(params):
        params = list(params)
        seen.append(params)
        return torch.optim.SGD(params, lr=0.05, momentum=0.9)

    model = tiny_model()
    before = weights_of(model)
    history = tiny_train(model, waves, groups=groups, optimizer=make_sgd)
    assert len(seen) == 1 and seen[0] == list(model.parameters())
    assert [e["lr"] for e in history.epochs] == [0.05, 0.05]
    assert _differs(before, weights_of(model))


@pytest.mark.parametrize(
    "scheduler, expected",
    [
        ("cosine", [1e-3, 7.5e-4, 2.5e-4]),
        (
            lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
            [1e-3, 5e-4, 2.5e-4],
        ),
    ],
)
def test_schedulers(real_items, scheduler, expected):
    waves, groups = real_items
    history = tiny_train(
        tiny_model(), waves, groups=groups, lr=1e-3, max_epochs=3, scheduler=scheduler
    )
    np.testing.assert_allclose([e["lr"] for e in history.epochs], expected, rtol=1e-12)


def test_plateau_scheduler_halves_the_lr(real_items):
    waves, groups = real_items

    def constant(out, target):  # no gradient, constant loss: a plateau
        return (out * 0.0).mean() + 1.0

    history = tiny_train(
        tiny_model(),
        waves,
        groups=groups,
        lr=1e-3,
        max_epochs=10,
        patience=3,
        scheduler="plateau",
        loss=constant,
    )
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

    history = tiny_train(
        tiny_model(),
        waves,
        groups=groups,
        lr=1e-3,
        max_epochs=5,
        patience=3,
        scheduler="plateau",
        loss=flat_train_improving_val,
    )
    assert [e["lr"] for e in history.epochs] == [1e-3] * 5
    assert all(e["train_loss"] == 1.0 for e in history.epochs)
    assert np.all(np.diff([e["val_loss"] for e in history.epochs]) < 0)
    assert history.stop_reason == "max_epochs" and history.best_epoch == 5


def test_no_validation_set(real_items):
    waves, groups = real_items
    history = tiny_train(tiny_model(), waves, groups=groups, val_fraction=0, max_epochs=3)
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
    history = tiny_train(model, waves, groups=groups, input_stage=stage, max_epochs=3, lr=5e-3)
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
    spec = tiny_spec(channel_mode="planes")
    model = tiny_model(in_channels=2)
    history = tiny_train(
        model, waves, groups=groups, input_stage=spec, val_fraction=0.25, batch_size=8, max_epochs=2
    )
    _, val_idx = split_by_group(groups, 0.25, 0)
    with torch.no_grad():
        images = spec.to_images(torch.as_tensor(waves[val_idx]))
        assert images.shape == (len(val_idx), 2, 8, 41)
        expected = float(F.mse_loss(model(images), images))
    assert history.epochs[history.best_epoch - 1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_bf16_autocast_on_cpu(real_items):
    waves, groups = real_items
    fp32, bf16 = tiny_model(), tiny_model()
    h32 = tiny_train(fp32, waves, groups=groups, precision="fp32")
    h16 = tiny_train(bf16, waves, groups=groups, precision="bf16")
    assert all(p.dtype == torch.float32 for p in bf16.parameters())  # weights stay fp32
    for a, b in zip(h32.epochs, h16.epochs):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.05)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_epochs=0), "max_epochs must be an int >= 1"),
        (dict(batch_size=0), "batch_size must be an int >= 1"),
        (dict(patience=0), "patience must be an int >= 1"),
        (dict(lr=0.0), "lr must be > 0"),
        (dict(lr=math.nan), "lr must be a finite number"),
        (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
        (dict(min_delta=-0.1), "min_delta must be >= 0"),
        (dict(precision="fp16"), "Invalid value for the 'precision' parameter"),
        (dict(optimizer="sgd"), "optimizer must be 'adam', 'adamw' or a callable"),
        (dict(scheduler="step"), "scheduler must be None, 'cosine', 'plateau' or a callable"),
        (dict(loss="huber"), "loss must be 'mse', 'l1' or a callable"),
        (dict(resume=True), "resume=True needs a checkpoint path"),
        (dict(groups=np.arange(71)), "groups has 71 labels for 72 items"),
        (dict(val_fraction=1.0), "val_fraction must be in"),
    ],
)
def test_argument_errors(real_items, kwargs, match):
    waves, _ = real_items
    with pytest.raises(ValueError, match=match):
        tiny_train(tiny_model(), waves, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_epochs=2.0), "max_epochs must be an int"),
        (dict(batch_size=None), "batch_size must be an int"),
        (dict(patience=True), "patience must be an int"),
        (dict(lr="fast"), "lr must be an instance of number"),
        (dict(resume="yes"), "resume must be an instance of bool"),
    ],
)
def test_argument_type_errors(real_items, kwargs, match):
    waves, _ = real_items
    with pytest.raises(TypeError, match=match):
        tiny_train(tiny_model(), waves, **kwargs)


def test_waveform_errors(real_items):
    waves, _ = real_items
    bad = waves.copy()
    bad[5, 100] = np.nan
    with pytest.raises(ValueError, match="NaN/Inf"):
        tiny_train(tiny_model(), bad)
    bad[5, 100] = np.inf
    with pytest.raises(ValueError, match="NaN/Inf"):
        tiny_train(tiny_model(), bad)
    for shape in ((2560,), (2, 3, 4, 2560)):
        with pytest.raises(ValueError, match=r"waveforms must be \(n_items, n_times\)"):
            tiny_train(tiny_model(), np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="at least 2 items"):
        tiny_train(tiny_model(), waves[:1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu(real_items):
    waves, _ = real_items
    with pytest.raises(RuntimeError, match="sees no CUDA GPU"):
        tiny_train(tiny_model(), waves, device="cuda")
