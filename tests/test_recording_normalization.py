"""normalize="recording": each image standardised with the per-frequency statistics of
all the images of its own recording and channel (RawArray recordings of known content)."""

import mne
import numpy as np
import pytest
import torch
from sklearn.base import clone
from tiny import TINY_ONE_EPOCH, tiny_model

from mne_specae import SpecAE, Spectrogram, compute_spectrogram, make_segments, prepare_segments
from mne_specae.nn.input_stages import standardize
from mne_specae.training.loop import train_autoencoder

pytestmark = pytest.mark.usefixtures("isolated_torch_rng", "one_thread")

SFREQ = 256.0
SETTINGS = dict(TINY_ONE_EPOCH, output="db", normalize="recording", verbose=False)


def _noise(seed, n_channels=2, seconds=60):
    """White-ish noise with a 10 Hz rhythm, in volts (tens of microvolts)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SFREQ)) / SFREQ
    x = rng.standard_normal((n_channels, t.size)) * 1e-5
    return x + 2e-5 * np.sin(2 * np.pi * 10 * t)


def _raw(data, name, ch_names=("a", "b")):
    info = mne.create_info(list(ch_names), SFREQ, "eeg")
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.info["description"] = name
    return raw


def _segments(data, name):
    return make_segments(_raw(data, name), recording=name, verbose=False)


@pytest.fixture(scope="module")
def pair():
    """Two recordings with the same content, the second 1000 times larger (another
    gain), and a third, different recording."""
    x = _noise(0)
    return _segments(x, "r1"), _segments(1000 * x, "r2"), _segments(_noise(1), "r3")


@pytest.fixture(scope="module")
def fitted(pair, one_thread):
    return SpecAE(**SETTINGS).fit(list(pair))


def _inputs(est, epochs):
    return est.reconstruct(epochs, return_input=True)[1].get_data()


def test_a_gain_of_1000_gives_identical_images_and_embeddings(fitted, pair):
    r1, r2, _ = pair
    a, b = _inputs(fitted, r1), _inputs(fitted, r2)
    assert a.shape == b.shape == (len(r1), 2, 16, 16)
    np.testing.assert_allclose(a, b, atol=2e-4)
    np.testing.assert_allclose(fitted.transform(r1), fitted.transform(r2), atol=1e-4)
    # the two in one call: each its own statistics, same rows
    both = fitted.transform([r1, r2])
    np.testing.assert_allclose(both[: len(r1)], both[len(r1) :], atol=1e-4)
    # per-item dataset statistics do not remove the gain: 60 dB apart
    dataset = SpecAE(**dict(SETTINGS, normalize="dataset")).fit(list(pair))
    da, db = _inputs(dataset, r1), _inputs(dataset, r2)
    assert np.abs(da - db).min() > 1.0


def test_each_recording_and_channel_has_mean_0_std_1_per_frequency(fitted, pair):
    img = _inputs(fitted, pair[2])  # (epochs, channels, freqs, frames)
    per_row = img.transpose(1, 2, 0, 3).reshape(2, 16, -1)
    np.testing.assert_allclose(per_row.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(per_row.std(-1), 1, atol=1e-3)


def test_differences_between_segments_of_one_recording_are_kept():
    x = _noise(2)
    half = x.shape[1] // 2
    x[:, half:] *= 10  # the second half 20 dB louder
    ep = _segments(x, "loud")
    loud = ep.metadata["onset"].to_numpy() >= 30
    by_rec = SpecAE(**dict(SETTINGS, val_fraction=0.0)).fit(ep)
    img = _inputs(by_rec, ep)
    gap = img[loud].mean() - img[~loud].mean()
    assert gap > 1.5, gap  # in the recording's std units, loud above quiet
    by_item = SpecAE(**dict(SETTINGS, normalize="item", val_fraction=0.0)).fit(ep)
    img = _inputs(by_item, ep)
    assert abs(img[loud].mean() - img[~loud].mean()) < 1e-5  # per item: gone


def test_stage_statistics_are_those_of_each_recording_and_channel():
    x = torch.as_tensor(_noise(3, n_channels=1, seconds=30)[0].reshape(6, -1), dtype=torch.float32)
    x[3:] *= 7.0
    labels = np.array(["a", "a", "a", "b", "b", "c"])
    sg = Spectrogram(SFREQ, n_fft=64, hop_length=32, output="db", normalize="recording")
    plain = Spectrogram(SFREQ, n_fft=64, hop_length=32, output="db")(x).double()
    with pytest.raises(RuntimeError, match="fit_recordings"):
        sg.to_images(x, index=torch.arange(6))
    with sg.recording_statistics(x, labels):
        assert sg.rec_mean.shape == (3, plain.shape[1], 1)
        with pytest.raises(ValueError, match="index"):
            sg(x)
        out = sg.to_images(x, index=torch.arange(6))[:, 0].double()
        reordered = sg.to_images(x[[5, 0]], index=torch.tensor([5, 0]))[:, 0].double()
    assert sg.rec_item.numel() == 0  # dropped after the block
    for group in (slice(0, 3), slice(3, 5)):
        block = plain[group]
        mean = block.mean(dim=(0, 2), keepdim=True)
        std = block.std(dim=(0, 2), keepdim=True, unbiased=False)
        torch.testing.assert_close(out[group], (block - mean) / std, rtol=1e-4, atol=1e-4)
    # a recording with one item: standardised on its own, as normalize="item"
    torch.testing.assert_close(out[5], standardize(plain[5:], (1, 2))[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(reordered, out[[5, 0]])
    with pytest.raises(ValueError, match="one label per item"):
        sg.fit_recordings(x, labels[:4])


def test_arrays_are_one_recording_per_call(fitted, pair):
    r3 = pair[2]
    np.testing.assert_allclose(fitted.transform(r3.get_data()), fitted.transform(r3), atol=1e-5)
    # an Epochs without a recording column is one recording
    r3_plain = r3.copy()
    r3_plain.metadata = None
    np.testing.assert_allclose(fitted.transform(r3_plain), fitted.transform(r3), atol=1e-5)


def test_save_load_and_clone(fitted, pair, tmp_path):
    path = fitted.save(tmp_path / "m.specae")
    loaded = SpecAE.load(path)
    assert loaded.normalize == "recording" == loaded.input_stage_.normalize
    assert not any(k.startswith("rec_") for k in loaded.input_stage_.state_dict())
    assert fitted.input_stage_.rec_item.numel() == 0  # nothing of the data kept
    np.testing.assert_array_equal(loaded.transform(pair[2]), fitted.transform(pair[2]))
    params = clone(fitted).get_params()
    assert params["normalize"] == "recording"
    assert SpecAE(**params).set_params(normalize="item").normalize == "item"


def test_store_equals_memory(tmp_path):
    raws = [_raw(_noise(4), "s1"), _raw(300 * _noise(5), "s2")]
    store = prepare_segments(raws, tmp_path / "store", verbose=False)
    settings = dict(SETTINGS, channel_mode="separate")
    from_store = SpecAE(**settings).fit(store)
    epochs = store.to_epochs()
    in_memory = SpecAE(**settings).fit(epochs)
    for key, value in from_store.model_.state_dict().items():
        torch.testing.assert_close(value, in_memory.model_.state_dict()[key], rtol=1e-5, atol=1e-6)
    per_channel = np.concatenate(
        [in_memory.encode(ep).reshape(-1, in_memory.n_features_out_) for ep in epochs]
    )
    np.testing.assert_allclose(in_memory.transform(store), per_channel, rtol=1e-4, atol=1e-5)


def test_refusals():
    with pytest.raises(ValueError, match="2-D model"):
        SpecAE(model="1d", normalize="recording").fit(np.zeros((4, 1, 512)))
    with pytest.raises(ValueError, match="not of compute_spectrogram"):
        compute_spectrogram(_raw(_noise(6), "x"), normalize="recording")
    stage = Spectrogram(SFREQ, n_fft=64, hop_length=64, resize=(16, 16), normalize="recording")
    with pytest.raises(ValueError, match="recordings="):
        train_autoencoder(
            tiny_model(), torch.zeros(8, 1280), input_stage=stage, progress=False, verbose=False
        )


def test_train_autoencoder_with_recordings():
    x = torch.as_tensor(_noise(7, n_channels=8, seconds=5), dtype=torch.float32)
    x[4:] *= 100
    stage = Spectrogram(SFREQ, n_fft=64, hop_length=64, resize=(16, 16), normalize="recording")
    history = train_autoencoder(
        tiny_model(),
        x,
        input_stage=stage,
        recordings=["a"] * 4 + ["b"] * 4,
        max_epochs=1,
        batch_size=4,
        val_fraction=0.25,
        device="cpu",
        progress=False,
        verbose=False,
    )
    assert np.isfinite(history.epochs[0]["train_loss"])
    assert stage.rec_item.numel() == 0


def test_a_checkpoint_records_the_recordings(tmp_path):
    x = torch.as_tensor(_noise(8, n_channels=8, seconds=5), dtype=torch.float32)

    def train(recordings, resume):
        stage = Spectrogram(SFREQ, n_fft=64, hop_length=64, resize=(16, 16), normalize="recording")
        return train_autoencoder(
            tiny_model(),
            x,
            input_stage=stage,
            recordings=recordings,
            max_epochs=1,
            batch_size=4,
            val_fraction=0.0,
            device="cpu",
            checkpoint=tmp_path / "run.ckpt",
            resume=resume,
            progress=False,
            verbose=False,
        )

    first = train(["a"] * 4 + ["b"] * 4, False)
    again = train(["a"] * 4 + ["b"] * 4, True)  # the same run: its result
    assert [e["train_loss"] for e in again.epochs] == [e["train_loss"] for e in first.epochs]
    with pytest.raises(ValueError, match="recordings"):
        train(["a"] * 8, True)


def test_input_pca_baseline_takes_the_recording_statistics(fitted, pair):
    from mne_specae.evaluation.baselines import InputPCA, input_images

    r1, r2, r3 = pair
    images = input_images([r1, r2], fitted.input_stage_)
    np.testing.assert_allclose(images[: len(r1)], images[len(r1) :], atol=2e-4)
    expected = _inputs(fitted, r3).mean(axis=1).reshape(len(r3), -1)
    np.testing.assert_allclose(input_images([r3], fitted.input_stage_), expected, atol=1e-5)
    pca = InputPCA(fitted, n_components=4).fit([r1, r3])
    np.testing.assert_allclose(pca.transform([r1]), pca.transform([r2]), atol=1e-3)


@pytest.mark.parametrize("channel_mode", ["planes", "stack"])
def test_planes_and_stack_take_each_channel_of_each_recording(pair, channel_mode):
    r1, r2, r3 = pair
    # (top_db=None: its floor is below each item's peak over all its channels)
    est = SpecAE(**dict(SETTINGS, channel_mode=channel_mode, top_db=None)).fit([r1, r3])
    rows = est.input_stage_.image_shape(est.n_times_, 2)
    assert est.input_stage_.rec_item.numel() == 0
    np.testing.assert_allclose(est.transform(r1), est.transform(r2), atol=1e-4)
    # one channel 1000 times larger: the same rows (each channel its own statistics)
    scaled = r1.copy()
    scaled._data[:, 1] *= 1000
    np.testing.assert_allclose(est.transform(scaled), est.transform(r1), atol=1e-4)
    assert rows[0] == (2 if channel_mode == "planes" else 1)


def test_scikit_learn_parameter_checks(pair):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_set_params,
    )

    est = SpecAE(**SETTINGS)
    check_get_params_invariance("SpecAE", est)
    check_set_params("SpecAE", est)
    check_no_attributes_set_in_init("SpecAE", est)
    pipe = make_pipeline(clone(est).set_params(val_fraction=0.0), StandardScaler()).fit(pair[2])
    assert pipe.transform(pair[2]).shape == (len(pair[2]), 4)
    assert pipe[0].get_params()["normalize"] == "recording"
