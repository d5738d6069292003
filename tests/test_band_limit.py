"""Robustness to band limits: items band-limited at random in training only.

``corrupt(..., band_limit=p)`` on real spectrograms and waveforms (what is emptied,
what is kept, against a real recording sampled at 128 Hz), and the option through
``train_autoencoder`` and ``SpecAE`` (clean targets and validation, seeds, errors,
checkpoints, model files).
"""

import logging
import math
import warnings

import mne
import numpy as np
import pytest
import torch
from tiny import (
    TINY_ONE_EPOCH,
    Recorder,
    check_fingerprinted_option,
    check_saved_option,
    load_real_items,
    records_of,
    tiny_model,
    tiny_train,
    weights_of,
)

from mne_specae import SpecAE, Spectrogram, make_segments
from mne_specae.nn.corruption import corrupt
from mne_specae.nn.input_stages import WaveformInput

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")

#: the recommended image up to 200 Hz: a 128 Hz source is empty above row ~36
SPEC_200 = dict(
    n_fft=256,
    hop_length=40,
    fmin=2.0,
    fmax=200.0,
    freq_scale="log",
    n_freqs=48,
    output="db",
    top_db=60.0,
    detrend="constant",
    normalize="item",
)


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


@pytest.fixture(scope="module")
def images(real_items):
    """The 72 real items as (72, 1, 48, 65) item-normalised dB images of 2-200 Hz."""
    with torch.no_grad():
        x = Spectrogram(512.0, **SPEC_200).to_images(torch.as_tensor(real_items[0]))
    assert x.shape == (72, 1, 48, 65)
    return x


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _cut_rows(y):
    """Per item, the first row of the block of constant rows at the item's minimum that
    reaches the top (the number of rows where there is none)."""
    floor = (y == y.amin(dim=(2, 3), keepdim=True)).all(dim=3).all(dim=1)  # (n, rows)
    cuts = []
    for rows in floor:
        cut = rows.shape[0]
        while cut > 0 and rows[cut - 1]:
            cut -= 1
        cuts.append(cut)
    return torch.tensor(cuts)


# --------------------------------------------------------------------- corrupt
def test_band_limit_empties_the_rows_above_a_cut_in_the_upper_half(images):
    x = images.clone()
    y = corrupt(x, band_limit=1.0, generator=_gen())
    assert torch.equal(x, images)  # the caller's tensor is unchanged
    assert y.shape == x.shape and y.dtype == x.dtype
    cuts = _cut_rows(y)
    assert int(cuts.min()) >= 24 and int(cuts.max()) <= 47  # upper half of 48 rows
    assert len(set(cuts.tolist())) >= 10  # drawn per item
    # the eegmat EEG and ECG (filtered at 45 Hz by the recording) are empty from
    # 60-70 Hz up already; a cut can only extend that
    own = _cut_rows(x)
    assert 8 <= int((own < 48).sum()) <= 24 and int(own.min()) >= 36
    assert (cuts <= own).all() and (cuts < 48).all()
    for i, cut in enumerate(cuts.tolist()):
        below, kept = y[i, 0, :cut].flatten().double(), x[i, 0, :cut].flatten().double()
        # the band below the cut is the item's own, rescaled as a whole (affine, > 0)
        slope, offset = np.polyfit(kept.numpy(), below.numpy(), 1)
        assert slope > 0  # (its contrast changes: the std of the whole is restored)
        np.testing.assert_allclose(below.numpy(), slope * kept.numpy() + offset, atol=1e-4)
        # the emptied rows sit at the item's lowest value, mapped the same way
        floor = slope * float(x[i, 0].min()) + offset
        np.testing.assert_allclose(y[i, 0, cut:].numpy(), floor, atol=1e-4)
    # each item keeps its mean and standard deviation (here 0 and 1: normalize="item")
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(1, 2, 3)), x.std(dim=(1, 2, 3)), atol=1e-5, rtol=1e-5)


def test_band_limit_is_the_chance_per_item_and_is_seeded(images):
    state = torch.random.get_rng_state()
    broadband = images[_cut_rows(images) == 48]  # no empty band of their own
    many = broadband.repeat(3000 // len(broadband) + 1, 1, 1, 1)
    y = corrupt(many, band_limit=0.3, generator=_gen(1))
    changed = (y != many).flatten(1).any(dim=1)
    assert float(changed.float().mean()) == pytest.approx(0.3, abs=0.03)
    assert torch.equal(y[~changed], many[~changed])
    assert ((_cut_rows(y) < 48) == changed).all()  # changed items are band-limited ones
    assert torch.equal(y, corrupt(many, band_limit=0.3, generator=_gen(1)))
    assert not torch.equal(y, corrupt(many, band_limit=0.3, generator=_gen(2)))
    assert torch.equal(corrupt(images, band_limit=0.0, generator=_gen(1)), images)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global one is untouched


def test_a_band_limited_image_looks_like_a_recording_sampled_at_128_hz(raw_by_name):
    """MIT-BIH 100 (360 Hz) against the same seconds resampled to 128 Hz first: with
    the cut at 64 Hz, the band-limited copy is closer to the 128 Hz recording's image
    than the clean image is, and both are at their floor above ~70 Hz."""
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0.0, 10.0)
    spec = Spectrogram(512.0, **SPEC_200)
    full, low = (
        make_segments(r, verbose=False).get_data()[:, 0].astype(np.float32)
        for r in (raw, raw.copy().resample(128.0, verbose=False))
    )
    with torch.no_grad():
        clean, real = (spec.to_images(torch.as_tensor(w))[:1] for w in (full, low))
    row_64_hz = int(np.ceil(47 * np.log(32.0) / np.log(100.0)))  # 2 * 100 ** (row / 47)
    for seed in range(500):  # a generator whose cut is at 64 Hz
        limited = corrupt(clean, band_limit=1.0, generator=_gen(seed))
        if int(_cut_rows(limited)[0]) == row_64_hz:
            break
    else:
        raise AssertionError("no cut at 64 Hz in 500 seeds")
    # the real image's rows (on average over time) sit at its floor from ~68 Hz up
    above_floor = (real[0, 0] - real.min()).mean(dim=1)
    assert float(above_floor[row_64_hz + 2 :].max()) < 0.05
    assert float(above_floor[: row_64_hz - 1].min()) > 0.3

    error_limited = float((limited - real).abs().mean())
    error_clean = float((clean - real).abs().mean())
    assert error_limited < 0.5 * error_clean, (error_limited, error_clean)
    assert float((limited - real)[..., row_64_hz + 2 :, :].abs().mean()) < 0.1


def test_band_limited_waveforms_lose_the_frequencies_above_the_cut(real_items):
    x = WaveformInput()(torch.as_tensor(real_items[0]).reshape(36, 2, 2560))
    y = corrupt(x, band_limit=1.0, generator=_gen())
    spectrum, clean = torch.fft.rfft(y.double(), dim=-1), torch.fft.rfft(x.double(), dim=-1)
    n_bins = 1281
    cuts = []
    for i in range(36):
        power = spectrum[i].abs().amax(dim=0)  # over both channels
        kept = power > 1e-6 * float(power.max())
        cut = int(kept.nonzero().max()) + 1
        cuts.append(cut)
        assert not bool(kept[cut:].any())
        # below the cut, the same spectrum up to one scale factor (and the mean)
        ratio = spectrum[i, :, 1:cut].abs() / clean[i, :, 1:cut].abs().clamp_min(1e-12)
        strong = clean[i, :, 1:cut].abs() > 1e-3 * float(clean[i].abs().max())
        assert float(ratio[strong].std() / ratio[strong].mean()) < 1e-4
    assert min(cuts) >= n_bins // 2 - 1 and max(cuts) <= n_bins  # 128-256 Hz
    assert len(set(cuts)) > 20
    torch.testing.assert_close(y.std(dim=(1, 2)), x.std(dim=(1, 2)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(y.mean(dim=(1, 2)), x.mean(dim=(1, 2)), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "value, error, match",
    [
        (1.5, ValueError, r"band_limit must be in \[0, 1\], got 1.5"),
        (-0.1, ValueError, r"band_limit must be in \[0, 1\], got -0.1"),
        (math.nan, ValueError, "band_limit must be a finite number"),
        ("half", TypeError, "band_limit must be an instance of"),
    ],
)
def test_bad_band_limits_name_the_parameter(real_items, images, value, error, match):
    waves, _ = real_items
    with pytest.raises(error, match=match):
        corrupt(images[:2], band_limit=value)
    with pytest.raises(error, match=match):
        tiny_train(tiny_model(), waves, band_limit=value)
    est = SpecAE(**TINY_ONE_EPOCH, sfreq=512.0, band_limit=value)
    with pytest.raises(error, match=match):
        est.fit(waves[:16].reshape(8, 2, 2560))
    assert not hasattr(est, "model_")


# -------------------------------------------------------------------- training
def test_training_sees_band_limited_inputs_and_the_loss_the_clean_ones(real_items):
    waves, groups = real_items
    targets = []

    def loss(out, target):
        targets.append(target.detach().clone())
        return torch.nn.functional.mse_loss(out, target)

    model = Recorder(tiny_model())
    tiny_train(
        model, waves, groups=groups, val_fraction=0.25, max_epochs=1, band_limit=1.0, loss=loss
    )
    n_rows = targets[0].shape[2]
    for (was_training, seen), target in zip(model.calls, targets):
        if was_training:  # every item band-limited, the target clean
            assert (_cut_rows(seen) < n_rows).all() and (_cut_rows(target) == n_rows).all()
        else:
            assert torch.equal(seen, target)
    assert sum(t for t, _ in model.calls) == 3 and len(model.calls) == 5

    runs = {}
    for name, options in (
        ("plain", {}),
        ("limited", dict(band_limit=0.5)),
        ("again", dict(band_limit=0.5)),
    ):
        net = tiny_model()
        records = records_of(tiny_train(net, waves, groups=groups, **options))
        runs[name] = (weights_of(net), records)
    assert runs["limited"][1] == runs["again"][1]  # reproducible from the seed
    assert any(
        not torch.equal(runs["limited"][0][k], runs["plain"][0][k]) for k in runs["plain"][0]
    )
    assert runs["limited"][1][0]["train_loss"] != runs["plain"][1][0]["train_loss"]


def test_checkpoints_record_the_band_limit(real_items, tmp_path):
    waves, groups = real_items
    check_fingerprinted_option(waves, groups, tmp_path, "band_limit", 0.5)


def test_specae_band_limit_fit_save_and_old_files(raw_by_name, tmp_path):
    check_saved_option(raw_by_name, tmp_path, "band_limit", 0.5)


def test_recordings_with_an_empty_band_are_named_with_the_band_limit_as_a_fix(raw_by_name, caplog):
    """A recording sampled at 100 Hz has nothing above 50 Hz: with fmax=60 a warning
    names both fixes; with band_limit the fit says (INFO) that training varies it."""
    rng = np.random.default_rng(0)
    info = mne.create_info(["EEG 1"], 100.0, "eeg")
    slow = mne.io.RawArray(rng.standard_normal((1, 2000)) * 1e-5, info, verbose=False)
    epochs = [
        make_segments(raw_by_name["ecg/mitdb/100"].copy().crop(0, 20), verbose=False),
        make_segments(slow, verbose=False),
    ]
    est = SpecAE(**dict(TINY_ONE_EPOCH, picks="all"))
    with pytest.warns(
        RuntimeWarning,
        match=r"sampled at 100 Hz: above 50 Hz(.|\n)*Set fmax <= 50, or train with band_limit > 0",
    ):
        est.fit(epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning
        with caplog.at_level(logging.INFO, logger="mne"):
            SpecAE(**dict(TINY_ONE_EPOCH, picks="all"), band_limit=0.5, verbose="info").fit(epochs)
    assert "band_limit=0.5 empties such bands in training items at random" in caplog.text
