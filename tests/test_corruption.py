"""The denoising objective: masked and noisy copies of the model input in training only.

``corrupt`` on real spectrograms and waveforms (what is hidden, what is kept, the
noise, the seeds), and the objective through ``train_autoencoder`` and ``SpecAE``
(defaults unchanged bit for bit, clean targets and validation, 1-D model, bf16 and
channels-last, errors, checkpoints, model files, DDP).
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny import (
    TINY_ONE_EPOCH,
    Recorder,
    assert_same_weights,
    load_real_items,
    records_of,
    run_torchrun,
    tiny_model,
    tiny_spec,
    tiny_train,
    weights_of,
)

from mne_specae import SpecAE, Spectrogram, make_segments
from mne_specae.nn.corruption import corrupt
from mne_specae.nn.input_stages import WaveformInput
from mne_specae.nn.models import ConvAutoencoder1d
from mne_specae.training import _run as training_run
from mne_specae.training.splits import split_by_group

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


@pytest.fixture(scope="module")
def images(real_items):
    """dB spectrograms of the 72 real items, z-scored per item: (72, 1, 26, 81)."""
    spec = Spectrogram(512.0, n_fft=128, hop_length=32, fmax=100.0, output="db", normalize="item")
    with torch.no_grad():
        x = spec.to_images(torch.as_tensor(real_items[0]))
    assert x.shape == (72, 1, 26, 81) and bool((x != 0).all())
    return x


@pytest.fixture(scope="module")
def ecg_epochs(raw_by_name):
    return [make_segments(raw_by_name[f"ecg/mitdb/{n}"].copy().crop(0, 20)) for n in ("100", "106")]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _hidden_rows_frames(y):
    """(n_items, n_freqs) and (n_items, n_frames): the rows and frames that are all 0."""
    zero = y == 0
    return zero.all(dim=3).all(dim=1), zero.all(dim=2).all(dim=1)


def _n_stripes(hidden):
    """Contiguous runs of True per row of a (n_items, length) bool tensor."""
    return hidden[:, 0].long() + (hidden[:, 1:] & ~hidden[:, :-1]).sum(dim=1)


# --------------------------------------------------------------------- corrupt
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.4])
def test_masks_hide_the_fraction_in_two_stripes_and_keep_the_rest(images, fraction):
    x = images.clone()
    y = corrupt(x, mask_fraction=fraction, generator=_gen())
    assert torch.equal(x, images)  # the caller's tensor is unchanged
    assert y.shape == x.shape and y.dtype == x.dtype and y.data_ptr() != x.data_ptr()
    rows, frames = _hidden_rows_frames(y)
    for hidden, length in ((rows, 26), (frames, 81)):
        counts = hidden.sum(dim=1)
        assert (counts == counts[0]).all()  # the same amount in every item
        assert abs(float(counts[0]) / length - fraction) <= 0.5 / length
        assert int(_n_stripes(hidden).max()) <= 2 and int(_n_stripes(hidden).min()) >= 1
        assert len({tuple(h.nonzero().flatten().tolist()) for h in hidden}) > 30  # per item
    hidden = (rows[:, None, :, None] | frames[:, None, None, :]).expand_as(y)
    assert bool((y[hidden] == 0).all())
    # every visible value is the input's value at the same row and frame: no flip,
    # no shift, no rescaling
    assert torch.equal(y[~hidden], x[~hidden])
    kept = (1 - float(rows.float().mean())) * (1 - float(frames.float().mean()))
    assert float((~hidden).float().mean()) == pytest.approx(kept, abs=1e-6)


def test_stripes_reach_every_row_and_frame():
    y = corrupt(torch.ones(3000, 2, 16, 32), mask_fraction=0.25, generator=_gen(1))
    rows, frames = _hidden_rows_frames(y)
    assert (rows.sum(dim=1) == 4).all() and (frames.sum(dim=1) == 8).all()
    assert bool((rows.sum(dim=0) > 0).all()) and bool((frames.sum(dim=0) > 0).all())
    # hidden in every plane alike
    assert torch.equal(y[:, 0], y[:, 1])
    assert bool(((y == 0) | (y == 1)).all())


def test_noise_is_gaussian_of_noise_std_and_hidden_values_stay_zero(images):
    y = corrupt(images, noise_std=0.5, generator=_gen())
    diff = (y - images).flatten()
    assert float(diff.std()) == pytest.approx(0.5, rel=0.02)
    assert abs(float(diff.mean())) < 0.01
    assert not bool((y == 0).any())  # no masking
    both = corrupt(images, mask_fraction=0.2, noise_std=0.5, generator=_gen())
    rows, frames = _hidden_rows_frames(both)
    hidden = (rows[:, None, :, None] | frames[:, None, None, :]).expand_as(both)
    assert bool((both[hidden] == 0).all()) and float(hidden.float().mean()) > 0.3
    assert float((both - images)[~hidden].std()) == pytest.approx(0.5, rel=0.02)


def test_same_seed_same_corruption(images):
    state = torch.random.get_rng_state()
    first = corrupt(images, mask_fraction=0.3, noise_std=0.1, generator=_gen(7))
    assert torch.equal(first, corrupt(images, mask_fraction=0.3, noise_std=0.1, generator=_gen(7)))
    assert not torch.equal(
        first, corrupt(images, mask_fraction=0.3, noise_std=0.1, generator=_gen(8))
    )
    gen = _gen(7)
    corrupt(images, mask_fraction=0.3, generator=gen)
    assert not torch.equal(
        corrupt(images, mask_fraction=0.3, generator=gen),
        corrupt(images, mask_fraction=0.3, generator=_gen(7)),
    )
    assert torch.equal(torch.random.get_rng_state(), state)  # the global one is untouched


def test_waveforms_get_time_stripes_only(real_items):
    x = WaveformInput()(torch.as_tensor(real_items[0]).reshape(36, 2, 2560))
    y = corrupt(x, mask_fraction=0.2, generator=_gen())
    frames = (y == 0).all(dim=1)
    assert (frames.sum(dim=1) == 512).all() and int(_n_stripes(frames).max()) <= 2
    hidden = frames[:, None, :].expand_as(y)
    assert torch.equal(y[~hidden], x[~hidden]) and bool((y[hidden] == 0).all())


def test_corrupt_shape_error():
    with pytest.raises(
        ValueError,
        match=r"x must be \(n_items, n_planes, n_freqs, n_frames\) "
        r"or \(n_items, n_channels, n_times\), got shape",
    ):
        corrupt(torch.ones(4, 100), mask_fraction=0.2)


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        ("mask_fraction", -0.1, ValueError, r"mask_fraction must be in \[0, 1\), got -0.1"),
        ("mask_fraction", 1.0, ValueError, r"mask_fraction must be in \[0, 1\), got 1"),
        ("mask_fraction", math.nan, ValueError, "mask_fraction must be a finite number"),
        ("mask_fraction", "a", TypeError, "mask_fraction must be an instance of"),
        ("noise_std", -0.1, ValueError, "noise_std must be >= 0, got -0.1"),
        ("noise_std", math.inf, ValueError, "noise_std must be a finite number"),
        ("noise_std", "a", TypeError, "noise_std must be an instance of"),
    ],
)
def test_bad_values_name_the_parameter(real_items, images, name, value, error, match):
    waves, _ = real_items
    with pytest.raises(error, match=match):
        corrupt(images[:2], **{name: value})
    with pytest.raises(error, match=match):
        tiny_train(tiny_model(), waves, **{name: value})
    est = SpecAE(**TINY_ONE_EPOCH, sfreq=512.0, **{name: value})
    with pytest.raises(error, match=match):
        est.fit(waves[:16].reshape(8, 2, 2560))
    assert not hasattr(est, "model_")


# -------------------------------------------------------------------- training
def test_defaults_train_bit_identically_and_corruption_changes_the_weights(real_items):
    waves, groups = real_items
    runs = {}
    for name, options in (
        ("default", {}),
        ("zeros", dict(mask_fraction=0.0, noise_std=0.0)),
        ("masked", dict(mask_fraction=0.25)),
        ("masked again", dict(mask_fraction=0.25)),
        ("noisy", dict(noise_std=0.3)),
    ):
        model = tiny_model()
        state = torch.random.get_rng_state()
        history = tiny_train(model, waves, groups=groups, **options)
        assert torch.equal(torch.random.get_rng_state(), state)
        runs[name] = (weights_of(model), records_of(history))
    assert_same_weights(runs["default"][0], runs["zeros"][0])
    assert runs["default"][1] == runs["zeros"][1]
    assert_same_weights(runs["masked"][0], runs["masked again"][0])  # reproducible
    assert runs["masked"][1] == runs["masked again"][1]
    for name in ("masked", "noisy"):
        weights, records = runs[name]
        assert any(not torch.equal(weights[k], runs["default"][0][k]) for k in weights), name
        assert records[0]["train_loss"] != runs["default"][1][0]["train_loss"], name
        assert all(math.isfinite(r["val_loss"]) for r in records), name


def test_training_sees_corrupted_inputs_and_the_loss_the_clean_ones(real_items):
    waves, groups = real_items
    targets = []

    def loss(out, target):
        targets.append(target.detach().clone())
        return F.mse_loss(out, target)

    model = Recorder(tiny_model())
    history = tiny_train(
        model, waves, groups=groups, val_fraction=0.25, max_epochs=1, mask_fraction=0.25, loss=loss
    )
    assert len(model.calls) == len(targets) == 3 + 2  # 48 training items in 16s, 24 val
    spec = tiny_spec()
    _, val_idx = split_by_group(groups, 0.25, seed=0)
    with torch.no_grad():
        clean_val = spec.to_images(torch.as_tensor(waves[val_idx]))
    for (was_training, seen), target in zip(model.calls, targets):
        rows, frames = _hidden_rows_frames(seen)
        if was_training:
            assert (rows.sum(dim=1) == 2).all() and (frames.sum(dim=1) == 10).all()
            hidden = (rows[:, None, :, None] | frames[:, None, None, :]).expand_as(seen)
            assert torch.equal(seen[~hidden], target[~hidden])
            assert not bool((target == 0).any())  # the target is the clean image
        else:  # validation: the clean images, as input and target
            assert not bool(rows.any() or frames.any()) and torch.equal(seen, target)
    assert torch.equal(
        torch.cat([t for (tr, _), t in zip(model.calls, targets) if not tr]), clean_val
    )
    with torch.no_grad():
        expected = float(F.mse_loss(model.net(clean_val), clean_val))
    assert history.epochs[0]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_1d_model_with_masking_and_noise(real_items):
    waves, groups = real_items
    weights, histories = [], []
    for options in ({}, dict(mask_fraction=0.3, noise_std=0.1)):
        torch.manual_seed(0)
        model = ConvAutoencoder1d(n_layers=2, filters=8, kernel_size=9)
        histories.append(
            tiny_train(model, waves, groups=groups, input_stage=WaveformInput(), lr=5e-3, **options)
        )
        weights.append(weights_of(model))
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    _, val_idx = split_by_group(groups, 0.2, 0)
    with torch.no_grad():
        x = WaveformInput()(torch.as_tensor(waves[val_idx]))
        expected = float(F.mse_loss(model(x), x))
    history = histories[1]
    assert history.epochs[history.best_epoch - 1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_channels_last_and_bf16_with_masking(real_items):
    """The masks do not depend on the memory format or the precision."""
    waves, groups = real_items
    histories = {}
    for name, precision, channels_last in (
        ("plain", "fp32", False),
        ("channels_last", "fp32", True),
        ("bf16", "bf16", True),
    ):
        histories[name] = tiny_train(
            tiny_model(),
            waves,
            groups=groups,
            mask_fraction=0.25,
            precision=precision,
            channels_last=channels_last,
        )
    for name, rel in (("channels_last", 1e-4), ("bf16", 0.05)):
        for a, b in zip(histories["plain"].epochs, histories[name].epochs):
            assert b["train_loss"] == pytest.approx(a["train_loss"], rel=rel), name
            assert b["val_loss"] == pytest.approx(a["val_loss"], rel=rel), name


# ---------------------------------------------------------------- checkpoints
class _Interrupted(Exception):
    pass


def test_resume_with_masking_equals_an_uninterrupted_run(real_items, tmp_path, monkeypatch):
    waves, groups = real_items
    options = dict(groups=groups, max_epochs=3, patience=10, mask_fraction=0.25, noise_std=0.1)
    full_model = tiny_model()
    full = tiny_train(full_model, waves, **options)
    save_run = training_run.save_run

    def killed_after_epoch_1(run, epoch):
        save_run(run, epoch)
        if epoch == 1:
            raise _Interrupted

    ckpt = tmp_path / "run.pt"
    monkeypatch.setattr(training_run, "save_run", killed_after_epoch_1)
    with pytest.raises(_Interrupted):
        tiny_train(tiny_model(), waves, checkpoint=ckpt, **options)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"What differs(.|\n)*  mask_fraction: 0.25 -> 0.3\n"):
        tiny_train(
            tiny_model(), waves, checkpoint=ckpt, resume=True, **{**options, "mask_fraction": 0.3}
        )
    resumed_model = tiny_model(seed=5)  # the weights come from the checkpoint
    resumed = tiny_train(resumed_model, waves, checkpoint=ckpt, resume=True, **options)
    assert_same_weights(weights_of(resumed_model), weights_of(full_model))
    assert records_of(resumed) == records_of(full)


def test_checkpoints_from_before_the_corruption_settings_resume(real_items, tmp_path):
    """A fingerprint without mask_fraction and noise_std recorded a run without them."""
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert state["fingerprint"]["mask_fraction"] == 0.0
    assert state["fingerprint"]["noise_std"] == 0.0
    del state["fingerprint"]["mask_fraction"], state["fingerprint"]["noise_std"]
    torch.save(state, ckpt)
    history = tiny_train(
        tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=ckpt, resume=True
    )
    assert history.stop_reason == "max_epochs" and len(history.epochs) == 1
    with pytest.raises(ValueError, match=r"What differs(.|\n)*  noise_std: 0.0 -> 0.2\n"):
        tiny_train(
            tiny_model(),
            waves,
            groups=groups,
            max_epochs=1,
            checkpoint=ckpt,
            resume=True,
            noise_std=0.2,
        )


# ---------------------------------------------------------------------- SpecAE
def test_specae_masking_fit_resume_save_and_old_files(ecg_epochs, tmp_path):
    ckpt = str(tmp_path / "run.pt")  # (a Path parameter is saved as a Path)
    est = SpecAE(**TINY_ONE_EPOCH, mask_fraction=0.25, noise_std=0.1, checkpoint=ckpt)
    est.fit(ecg_epochs)
    plain = SpecAE(**TINY_ONE_EPOCH).fit(ecg_epochs)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(est.model_.state_dict().values(), plain.model_.state_dict().values())
    )
    with pytest.raises(ValueError, match=r"What differs(.|\n)*  mask_fraction: 0.25 -> 0.0\n"):
        SpecAE(**TINY_ONE_EPOCH, noise_std=0.1, checkpoint=ckpt, resume=True).fit(ecg_epochs)
    # inference never corrupts: the same rows every time
    first = est.transform(ecg_epochs)
    np.testing.assert_array_equal(est.transform(ecg_epochs), first)
    # model files keep the settings; older files without them load with the defaults
    path = est.save(tmp_path / "m.specae")
    loaded = SpecAE.load(path)
    assert (loaded.mask_fraction, loaded.noise_std) == (0.25, 0.1)
    np.testing.assert_array_equal(loaded.transform(ecg_epochs), first)
    state = torch.load(path, weights_only=True)
    del state["params"]["mask_fraction"], state["params"]["noise_std"]
    torch.save(state, tmp_path / "old.specae")
    old = SpecAE.load(tmp_path / "old.specae")
    assert (old.mask_fraction, old.noise_std) == (0.0, 0.0)
    np.testing.assert_array_equal(old.transform(ecg_epochs), first)


# ------------------------------------------------------------------------- DDP
_DDP_SCRIPT = """
import os, sys
import numpy as np, torch
from ddp_train_script import build, train_kwargs
from mne_specae.training.loop import train_autoencoder

loaded = np.load(sys.argv[1])
spec, model = build(0)
train_autoencoder(model, loaded["waveforms"], input_stage=spec, groups=loaded["groups"],
                  max_epochs=2, batch_size=8, device="cpu", mask_fraction=0.25,
                  noise_std=0.1, verbose=False, **train_kwargs())
torch.save(model.state_dict(), os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.pt"))
"""


@pytest.mark.slow
def test_ddp_with_masking(real_items, tmp_path):
    """2 CPU processes (gloo): each rank corrupts its own items, the ranks stay in sync."""
    from ddp_train_script import build

    waves, groups = real_items
    np.savez(tmp_path / "data.npz", waveforms=waves, groups=groups.astype(str))
    (tmp_path / "script.py").write_text(_DDP_SCRIPT)
    run_torchrun(tmp_path / "script.py", tmp_path / "data.npz", tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert_same_weights(ranks[0], ranks[1])
    _, initial = build(0)
    assert any(not torch.equal(ranks[0][k], v) for k, v in initial.state_dict().items())
