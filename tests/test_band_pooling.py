"""``pooling="multiscale_bands"``: every encoder block's output averaged over time and
into 4 frequency bands, so the features say where in frequency a pattern is."""

import mne
import numpy as np
import pytest
import torch
from tiny import TINY, with_pooling

from mne_specae import SpecAE, make_segments

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def ecg(raw_by_name):
    return [make_segments(raw_by_name[f"ecg/mitdb/{n}"].copy().crop(0, 30)) for n in ("100", "106")]


@pytest.fixture(scope="module")
def fitted(ecg):
    return SpecAE(**dict(TINY, max_epochs=1, pooling="multiscale_bands")).fit(ecg)


def test_band_features_are_time_means_of_each_quarter_of_the_rows(fitted, ecg):
    emb = fitted.transform(ecg)
    n_items = sum(len(e) for e in ecg)
    assert fitted.n_features_out_ == 2 * 4 * 4  # 2 blocks x 4 filters x 4 bands
    assert emb.shape == (n_items, 32) and emb.dtype == np.float32
    assert len(fitted.get_feature_names_out()) == 32
    # by hand: the blocks' outputs of each channel's image, averaged over time and over
    # each quarter of their rows, then over the 2 channels of an epoch
    waves = torch.from_numpy(np.concatenate([e.get_data() for e in ecg]).astype(np.float32))
    with torch.no_grad():
        images = fitted.input_stage_.to_images(waves.reshape(-1, waves.shape[-1]))
        blocks = fitted.model_.encode_blocks(images)
    assert [tuple(b.shape[1:3]) for b in blocks] == [(4, 8), (4, 4)]
    expected = torch.cat(
        [b.mean(3).reshape(b.shape[0], b.shape[1], 4, -1).mean(3).flatten(1) for b in blocks], dim=1
    )
    expected = expected.reshape(n_items, 2, 32).mean(1).numpy()
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    # the mean of a block's 4 bands is that block's "multiscale" feature
    plain = with_pooling(fitted, "multiscale")
    assert plain.n_features_out_ == 8
    np.testing.assert_allclose(
        emb.reshape(n_items, 8, 4).mean(2), plain.transform(ecg), rtol=1e-5, atol=1e-6
    )


def test_band_features_tell_where_a_tone_is_and_multiscale_hardly(fitted):
    """Sines at 12 and 44 Hz: one bright row each, at another place. The whole-block
    means of a convolutional network hardly differ; the band features do."""
    sfreq, n = 512.0, 2560 * 4
    times = np.arange(n) / sfreq
    data = np.stack([np.sin(2 * np.pi * f * times) for f in (12.0, 44.0)]) * 1e-3
    raw = mne.io.RawArray(data, mne.create_info(["A", "B"], sfreq, "ecg"), verbose=False)
    epochs = make_segments(raw, verbose=False)
    tones = [epochs.copy().pick([name]) for name in ("A", "B")]  # one channel each
    plain = with_pooling(fitted, "multiscale")

    def relative_gap(est):
        low, high = (est.transform(t) for t in tones)
        return float(np.abs(low - high).mean() / np.abs(np.concatenate([low, high])).mean())

    bands, whole = relative_gap(fitted), relative_gap(plain)
    assert bands > 3 * whole, (bands, whole)


def test_1d_model_has_no_bands(ecg):
    est = SpecAE(
        model="1d",
        n_layers=2,
        filters=4,
        kernel_size=9,
        max_epochs=1,
        batch_size=16,
        device="cpu",
        pooling="multiscale_bands",
    ).fit(ecg)
    assert est.n_features_out_ == 8  # no frequency axis: as "multiscale"
    same = with_pooling(est, "multiscale")
    np.testing.assert_allclose(est.transform(ecg), same.transform(ecg), rtol=1e-6)


def test_unknown_pooling_names_the_choices():
    with pytest.raises(ValueError, match="multiscale_bands"):
        SpecAE(pooling="bands").fit(np.zeros((4, 1, 2560)))
