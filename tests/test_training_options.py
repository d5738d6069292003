"""SpecAE.fit passes each of its training options to train_autoencoder."""

import inspect

import numpy as np
import pytest
from tiny import TINY

import mne_specae.estimator.specae as specae_module
from mne_specae import SpecAE
from mne_specae.training import train_autoencoder
from mne_specae.training.options import ESTIMATOR_OPTIONS

#: Parameters both signatures have that are not training options: SpecAE's network
#: (``model``: "2d" or "1d") is the built module there; ``verbose`` is each call's own.
NOT_OPTIONS = {"model", "verbose"}


def test_the_options_both_signatures_share_are_the_passed_ones():
    est = set(inspect.signature(SpecAE).parameters)
    train = set(inspect.signature(train_autoencoder).parameters)
    assert len(ESTIMATOR_OPTIONS) == len(set(ESTIMATOR_OPTIONS))
    assert set(ESTIMATOR_OPTIONS) == (est & train) - NOT_OPTIONS


class _Called(Exception):
    pass


def test_fit_passes_each_option_as_set(monkeypatch):
    """Every option reaches train_autoencoder with the estimator's value (set away
    from the defaults), and ``random_state`` as the ``seed``."""
    values = dict(
        val_fraction=0.3,
        max_epochs=3,
        batch_size=5,
        lr=2e-3,
        scheduler="cosine",
        patience=7,
        mask_fraction=0.25,
        noise_std=0.1,
        band_limit=0.5,
        spectrum_weight=4.0,
        device="cpu",
        precision="float32",
        channels_last=False,
        compile=False,
        max_time=60.0,
        checkpoint=None,
        resume=True,
    )
    assert set(values) == set(ESTIMATOR_OPTIONS)
    seen = {}

    def fake(model, items, **kw):
        seen.update(kw)
        raise _Called

    monkeypatch.setattr(specae_module, "train_autoencoder", fake)
    est = SpecAE(**dict(TINY, sfreq=256.0, random_state=11, **values))
    X = np.random.default_rng(0).standard_normal((6, 1, 512)).astype(np.float32)
    with pytest.raises(_Called):
        est.fit(X, init=None)
    assert {name: seen[name] for name in ESTIMATOR_OPTIONS} == values
    assert seen["seed"] == 11
