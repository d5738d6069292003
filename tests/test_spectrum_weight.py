"""``spectrum_weight``: each item's time-averaged spectrum weighed in the loss.

The loss's value on tensors of known content, the option through
``train_autoencoder`` and ``SpecAE`` on real recordings (what the loss sees, seeds,
errors, checkpoints, model files).
"""

import pytest
import torch
from tiny import (
    TINY_ONE_EPOCH,
    check_fingerprinted_option,
    check_saved_option,
    load_real_items,
    records_of,
    tiny_model,
    tiny_train,
    weights_of,
)

from mne_specae import SpecAE
from mne_specae.training.options import make_loss

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


def test_the_loss_adds_the_weighted_error_of_each_rows_time_mean():
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 1, 8, 16, generator=gen)
    # frame-to-frame detail only: +1/-1 alternating in time, each row's mean unchanged
    detail = target + torch.tensor([1.0, -1.0]).repeat(8)
    # a level change only: row 2 of every item 0.5 higher in every frame
    level = target.clone()
    level[:, :, 2] += 0.5
    for name, base in (("mse", torch.nn.functional.mse_loss), ("l1", torch.nn.functional.l1_loss)):
        plain, weighted = make_loss(name), make_loss(name, 4.0)
        assert plain is base  # 0: exactly the plain loss
        assert torch.isclose(weighted(detail, target), base(detail, target))
        assert torch.isclose(plain(detail, target), torch.tensor(1.0))
        # the level error of one row in eight: 1/8 of the plain term, x4 for the means
        per_pixel = 0.25 / 8 if name == "mse" else 0.5 / 8
        assert torch.isclose(plain(level, target), torch.tensor(per_pixel))
        assert torch.isclose(weighted(level, target), torch.tensor(5 * per_pixel))
    assert make_loss("mse", 0.0) is torch.nn.functional.mse_loss

    def huber(out, target):  # a callable loss gets the term too, with itself
        return torch.nn.functional.huber_loss(out, target, delta=0.1)

    got = make_loss(huber, 2.0)(level, target)
    assert torch.isclose(got, huber(level, target) + 2 * huber(level.mean(-1), target.mean(-1)))
    assert got > huber(level, target)


def test_training_with_a_spectrum_weight_changes_the_weights_reproducibly(real_items):
    waves, groups = real_items
    runs = {}
    for name, options in (
        ("plain", {}),
        ("weighted", dict(spectrum_weight=8.0)),
        ("again", dict(spectrum_weight=8.0)),
    ):
        net = tiny_model()
        records = records_of(tiny_train(net, waves, groups=groups, **options))
        runs[name] = (weights_of(net), records)
    assert runs["weighted"][1] == runs["again"][1]  # reproducible from the seed
    assert any(
        not torch.equal(runs["weighted"][0][k], runs["plain"][0][k]) for k in runs["plain"][0]
    )
    # the reported losses include the term: the first epoch's is above the plain run's
    assert runs["weighted"][1][0]["train_loss"] > runs["plain"][1][0]["train_loss"]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (-1.0, ValueError, r"spectrum_weight must be >= 0, got -1"),
        (float("nan"), ValueError, r"spectrum_weight must be a finite number"),
        ("1", TypeError, r"spectrum_weight must be an instance of number"),
    ],
)
def test_bad_spectrum_weights_name_the_parameter(real_items, value, error, match):
    waves, groups = real_items
    with pytest.raises(error, match=match):
        tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, spectrum_weight=value)
    with pytest.raises(error, match=match):
        SpecAE(**TINY_ONE_EPOCH, spectrum_weight=value).fit(waves[:4], init=None)


def test_the_1d_model_refuses_a_spectrum_weight(real_items):
    waves, _ = real_items
    with pytest.raises(ValueError, match=r"1-D model reconstructs waveforms.*spectrum_weight=0"):
        SpecAE(model="1d", **TINY_ONE_EPOCH, spectrum_weight=1.0).fit(waves[:4], init=None)


def test_checkpoints_record_the_spectrum_weight(real_items, tmp_path):
    waves, groups = real_items
    check_fingerprinted_option(waves, groups, tmp_path, "spectrum_weight", 3.0)


def test_specae_spectrum_weight_fit_save_and_old_files(raw_by_name, tmp_path):
    check_saved_option(raw_by_name, tmp_path, "spectrum_weight", 8.0)
