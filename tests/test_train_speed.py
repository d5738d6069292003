"""Faster CPU training steps give the results of the plain computation (to float
rounding): each speed-up of benchmarks/bench_train_step.py, old vs new on one input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny import load_real_items, tiny_model, tiny_train

from mne_specae import SpecAE, presets

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


def _recipe(channels_last):
    est = SpecAE(**dict(presets.RECOMMENDED, normalize="item"), sfreq=512.0)
    stage = est._build_input_stage(512.0).eval()
    torch.manual_seed(0)
    model = est._build_model(stage.image_shape(2560, 1))
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return stage, model


def test_channels_last_step_equals_the_plain_step(real_items):
    """The recipe's network (32 x 64 images, 4 x 32 filters): loss and every gradient
    of one step of 32 real items, channels-last vs the standard layout."""
    x = torch.from_numpy(real_items[0][:32])
    results = []
    for last in (False, True):
        stage, model = _recipe(last)
        with torch.no_grad():
            target = stage.to_images(x)
        if last:
            target = target.contiguous(memory_format=torch.channels_last)
        loss = F.mse_loss(model(target), target)
        loss.backward()
        results.append((loss.item(), {k: p.grad for k, p in model.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert math.isclose(loss_a, loss_b, rel_tol=1e-5)
    for key in grads_a:
        torch.testing.assert_close(grads_b[key], grads_a[key], rtol=1e-4, atol=1e-6)


def test_auto_layout_on_cpu_trains_as_the_plain_layout(real_items):
    """channels_last="auto" now trains channels-last on the CPU: same losses and
    weights as channels_last=False to float rounding, weights back in the usual layout."""
    waves, groups = real_items
    plain, auto = tiny_model(), tiny_model()
    h_plain = tiny_train(plain, waves, groups=groups, channels_last=False)
    h_auto = tiny_train(auto, waves, groups=groups)  # channels_last="auto"
    for a, b in zip(h_plain.epochs, h_auto.epochs):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-5)
        assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-5)
    for (key, a), b in zip(plain.state_dict().items(), auto.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6, msg=key)
        assert b.is_contiguous(), key  # the standard layout, as before
    # an explicit channels_last=True keeps the layout it asked for
    kept = tiny_model()
    tiny_train(kept, waves, groups=groups, channels_last=True, max_epochs=1)
    assert kept.encoder[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_specae_embeddings_unchanged_to_rounding(real_items):
    waves, groups = real_items
    from tiny import TINY

    X = waves[:, None]
    a = SpecAE(**TINY, sfreq=512.0, channels_last=False, verbose=False).fit(X, groups=groups)
    b = SpecAE(**TINY, sfreq=512.0, verbose=False).fit(X, groups=groups)
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-4, atol=1e-5)


def test_a_channels_last_model_stays_channels_last(real_items):
    """A model its owner made channels-last keeps that layout after an "auto" run."""
    waves, groups = real_items
    model = tiny_model().to(memory_format=torch.channels_last)
    tiny_train(model, waves, groups=groups, max_epochs=1)
    assert model.encoder[4].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.encoder[4].weight.is_contiguous()
