"""SpecAE.fit(init="pretrained" | a pretrained name | a .specae file) starts from those
weights when the settings match, and names every difference when they do not."""

import inspect
from pathlib import Path

import mne
import numpy as np
import pytest
from tiny import assert_same_weights, record_start_weights, weights_of

from mne_specae import SpecAE, load_pretrained, make_segments

pytestmark = pytest.mark.usefixtures("isolated_torch_rng", "one_thread")


@pytest.fixture(scope="module")
def shipped():
    return load_pretrained(verbose=False)


@pytest.fixture(scope="module")
def small_epochs(shipped):
    """40 s of two noisy channels at the shipped model's rate: 16 segments of its length."""
    sfreq = float(shipped.sfreq_)
    rng = np.random.default_rng(0)
    t = np.arange(int(40 * sfreq)) / sfreq
    data = rng.standard_normal((2, t.size)) * 1e-5 + 3e-5 * np.sin(2 * np.pi * 10 * t)
    raw = mne.io.RawArray(data, mne.create_info(["a", "b"], sfreq, "eeg"), verbose=False)
    epochs = make_segments(raw, duration=shipped.n_times_ / sfreq, verbose=False)
    assert len(epochs.times) == shipped.n_times_
    return epochs


def _shipped_settings(shipped, **changes):
    return dict(
        shipped.get_params(), device="cpu", batch_size=8, val_fraction=0.0, verbose=False, **changes
    )


def _max_difference(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.parametrize("how", ["pretrained", "biosignals", "file", "path", "auto", "default"])
def test_fit_starts_from_the_shipped_weights(shipped, small_epochs, how, tmp_path, monkeypatch):
    started = record_start_weights(monkeypatch)  # the weights the first step starts from
    init = {"pretrained": "pretrained", "biosignals": "biosignals", "auto": "auto"}.get(how)
    if how in ("file", "path"):
        saved = shipped.save(tmp_path / "shipped.specae")
        init = str(saved) if how == "file" else Path(saved)
    before = weights_of(shipped.model_)
    est = SpecAE(**_shipped_settings(shipped, max_epochs=1, lr=1e-12))
    est.fit(small_epochs, **({} if how == "default" else dict(init=init)))
    assert_same_weights(started[0], before)  # bit for bit
    assert _max_difference(weights_of(est.model_), before) < 1e-6
    emb = est.transform(small_epochs)
    np.testing.assert_allclose(emb, shipped.transform(small_epochs), rtol=1e-4, atol=1e-5)
    assert est.get_params()["max_epochs"] == 1  # init leaves the settings alone


def test_none_init_is_random(shipped, small_epochs):
    assert inspect.signature(SpecAE.fit).parameters["init"].default == "auto"
    settings = _shipped_settings(shipped, max_epochs=1, lr=1e-12)
    fresh = SpecAE(**settings).fit(small_epochs, init=None)
    assert _max_difference(weights_of(fresh.model_), weights_of(shipped.model_)) > 1e-3


@pytest.mark.parametrize(
    "changes, why",
    [
        (dict(normalize="dataset"), "normalize: 'item' -> 'dataset'"),
        (dict(filters=16), "filters: [32, 32, 32, 32] -> [16, 16, 16, 16]"),
        (dict(checkpoint="ckpt"), "a checkpoint is asked for"),
        (dict(model="1d"), "model='1d'"),
    ],
)
def test_auto_init_trains_from_random_weights_otherwise(
    shipped, small_epochs, changes, why, tmp_path, caplog
):
    """init='auto' (the default) never refuses: another network or input, a checkpoint
    or the 1-D model train from random weights, as init=None does, and the log says why."""
    if "checkpoint" in changes:
        changes = dict(checkpoint=tmp_path / "ckpt")
    settings = _shipped_settings(shipped, max_epochs=1, **changes)
    with caplog.at_level("INFO", logger="mne"):
        auto = SpecAE(**dict(settings, verbose="info")).fit(small_epochs)
    assert "init='auto': training from random weights" in caplog.text
    assert why in caplog.text
    random = SpecAE(**dict(settings, checkpoint=None)).fit(small_epochs, init=None)
    assert_same_weights(weights_of(auto.model_), weights_of(random.model_))


def test_auto_init_other_rate_is_random(shipped, caplog):
    """Data at another sampling rate than the shipped encoder's: random weights, logged."""
    rng = np.random.default_rng(1)
    raw = mne.io.RawArray(
        rng.standard_normal((1, 256 * 30)) * 1e-5, mne.create_info(1, 256.0, "eeg"), verbose=False
    )
    epochs = make_segments(raw, 5.0, sfreq=256.0, verbose=False)
    assert epochs.info["sfreq"] == 256.0
    with caplog.at_level("INFO", logger="mne"):
        SpecAE(**dict(_shipped_settings(shipped, max_epochs=1), verbose="info")).fit(epochs)
    assert "sfreq: 512 -> 256" in caplog.text


def test_other_settings_are_named(shipped, small_epochs):
    est = SpecAE(**_shipped_settings(shipped, max_epochs=1, filters=16, normalize="recording"))
    with pytest.raises(ValueError, match="init='pretrained' is not the same network") as err:
        est.fit(small_epochs, init="pretrained")
    message = str(err.value)
    assert "filters: [32, 32, 32, 32] -> [16, 16, 16, 16]" in message
    assert "normalize: 'item' -> 'recording'" in message
    assert "clone(load_pretrained())" in message


def test_unknown_names_and_checkpoints_are_refused(shipped, small_epochs, tmp_path):
    est = SpecAE(**_shipped_settings(shipped, max_epochs=1))
    with pytest.raises(FileNotFoundError, match="no such model file"):
        est.fit(small_epochs, init="no-such-encoder")
    est.set_params(checkpoint=tmp_path / "ck.pt")
    with pytest.raises(ValueError, match="checkpoint"):
        est.fit(small_epochs, init="pretrained")
    with pytest.raises(TypeError, match="'pretrained'"):
        SpecAE(**_shipped_settings(shipped)).fit(small_epochs, init=3)


def test_defaults_are_the_shipped_recipe(shipped, small_epochs, monkeypatch):
    """SpecAE() is the shipped encoder's recipe: a plain fit starts from its weights."""
    from mne_specae.presets import RECOMMENDED

    training = {"max_epochs", "batch_size", "lr", "patience", "val_fraction", "scheduler"}
    ours, theirs = SpecAE().get_params(), shipped.get_params()
    assert {k: ours[k] for k in RECOMMENDED if k not in training} == {
        k: theirs[k] for k in RECOMMENDED if k not in training
    }
    started = record_start_weights(monkeypatch)
    est = SpecAE(max_epochs=1, lr=1e-12, batch_size=8, val_fraction=0.0, device="cpu")
    est.fit(small_epochs)  # every other setting the default
    assert_same_weights(started[0], weights_of(shipped.model_))
