"""SpecAE on real Epochs of the three modalities: sklearn API, shapes, save/load, errors."""

import mne
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from tiny import TINY

from mne_specae import SpecAE, make_segments
from mne_specae.estimator._model_file import MODEL_FORMAT

# a tiny network and small images: fast on 2 CPU cores


@pytest.fixture(scope="module")
def epochs_list(raw_by_name):
    """Real segments: 2 subjects per modality, different channel counts."""
    spec = [
        ("ecg/mitdb/100", 40, None),
        ("ecg/mitdb/106", 40, None),
        ("eeg/eegmat/Subject00_1", 30, ["Fz", "Cz", "Pz"]),
        ("eeg/eegmat/Subject01_1", 30, ["Fz", "Cz", "Pz"]),
        ("emg/uci_lower_limb/3Amar", 30, None),
        ("emg/uci_lower_limb/4Amar", 30, None),
    ]
    out = []
    for name, seconds, picks in spec:
        raw = raw_by_name[name].copy().crop(0, seconds)
        out.append(make_segments(raw, picks=picks))
    return out


@pytest.fixture(scope="module")
def fitted(epochs_list):
    """Per-frequency statistics of the training data (``normalize="dataset"``, an option
    since the defaults z-score each image): their fitted state is checked below."""
    return SpecAE(**TINY, normalize="dataset").fit(epochs_list)


def test_sklearn_params_and_clone():
    est = SpecAE(**TINY)
    params = est.get_params()
    assert params["filters"] == 4 and params["resize"] == (16, 16)
    cloned = clone(est)
    assert cloned.get_params() == params and cloned is not est
    cloned.set_params(filters=8, max_epochs=1)
    assert cloned.filters == 8 and est.filters == 4
    assert not hasattr(cloned, "model_")


def test_fit_transform_shapes_on_three_modalities(fitted, epochs_list):
    n_epochs = [len(ep) for ep in epochs_list]
    assert n_epochs == [8, 8, 6, 6, 6, 6]
    emb = fitted.transform(epochs_list)
    assert emb.shape == (sum(n_epochs), 4) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    assert fitted.n_features_out_ == 4 and fitted.image_shape_ == (1, 16, 16)
    # a list gives the rows of each Epochs in order
    np.testing.assert_allclose(fitted.transform(epochs_list[2]), emb[16:22], rtol=1e-5, atol=1e-6)
    # channel mean: the embedding of an epoch is the mean of its channels' embeddings
    per_channel = fitted.encode(epochs_list[2])
    assert per_channel.shape == (6, 3, 4)
    np.testing.assert_allclose(per_channel.mean(axis=1), emb[16:22], rtol=1e-5, atol=1e-6)
    latent = fitted.encode(epochs_list[0], pooled=False)
    assert latent.shape == (8, 2, 4, 4, 4)  # 16x16 image, 2 poolings -> 4x4
    np.testing.assert_allclose(
        latent.mean(axis=(3, 4)), fitted.encode(epochs_list[0]), rtol=1e-5, atol=1e-6
    )
    # ECG, EEG and EMG do not all embed to the same point
    assert np.ptp(emb, axis=0).max() > 0
    hist = fitted.history_.to_frame()
    assert list(hist["epoch"]) == [1, 2] and (hist["train_loss"] > 0).all()


def test_groups_come_from_subjects(epochs_list):
    one_subject = [epochs_list[0]]
    with pytest.warns(RuntimeWarning, match="Only one group"):
        SpecAE(**dict(TINY, max_epochs=1)).fit(one_subject)
    # with "unknown" subjects the recordings are the groups: no warning with two of them
    two = [ep.copy() for ep in epochs_list[:2]]
    for ep in two:
        ep.metadata = ep.metadata.assign(subject="unknown")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        SpecAE(**dict(TINY, max_epochs=1)).fit(two)


def test_channel_concat_and_pooling_options(epochs_list):
    same = [epochs_list[4], epochs_list[5]]  # EMG, 4 channels each
    est = SpecAE(**dict(TINY, channel_agg="concat", pooling="meanmax", max_epochs=1)).fit(same)
    emb = est.transform(same)
    assert emb.shape == (12, 4 * 8)  # 4 channels x (mean and max of 4 filters)
    assert est.n_features_out_ == emb.shape[1] == len(est.get_feature_names_out())
    with pytest.raises(
        ValueError,
        match=r"concat': this model gives 4 channels' features "
        r"per epoch; the data have \[2, 4\] channels",
    ):
        est.transform([epochs_list[0], epochs_list[4]])


def test_multiscale_pooling_and_detrend(epochs_list, tmp_path):
    est = SpecAE(**dict(TINY, pooling="multiscale", detrend="constant", max_epochs=1))
    est.fit(epochs_list)
    emb = est.transform(epochs_list)
    assert est.n_features_out_ == 2 * 4  # 2 blocks of 4 filters
    assert emb.shape == (sum(len(e) for e in epochs_list), 8)
    assert est.input_stage_.detrend == "constant"
    deepest = clone(est).set_params(pooling="mean")
    deepest.__dict__.update({k: v for k, v in est.__dict__.items() if k.endswith("_")})
    np.testing.assert_allclose(emb[:, 4:], deepest.transform(epochs_list), rtol=1e-5, atol=1e-6)
    loaded = SpecAE.load(est.save(tmp_path / "ms.specae"))
    assert loaded.detrend == "constant" and loaded.input_stage_.detrend == "constant"
    np.testing.assert_allclose(loaded.transform(epochs_list), emb, rtol=1e-5, atol=1e-6)


def test_reconstruct_and_errors(fitted, epochs_list):
    ep = epochs_list[0]
    recon, inputs = fitted.reconstruct(ep, return_input=True)
    assert isinstance(recon, mne.time_frequency.EpochsTFR)
    assert recon.data.shape == inputs.data.shape == (8, 2, 16, 16)
    assert recon.data.dtype == np.float32
    assert recon.freqs[0] == 0.0 and recon.freqs[-1] == pytest.approx(56.0)  # 8 Hz bins
    # 41 frames shrunk to 16 columns: each column centred on the 41/16 frames it averages
    assert len(recon.times) == 16 and recon.times[0] == pytest.approx(
        (0.5 * 41 / 16 - 0.5) * 64 / 512
    )
    np.testing.assert_allclose(recon.times, fitted.input_stage_.image_times(2560))
    assert recon.ch_names == ep.ch_names
    assert recon.metadata["onset"].tolist() == ep.metadata["onset"].tolist()
    # the inputs are the network's: the fitted input stage on each channel (the default
    # normalize="dataset": per-frequency statistics of the training data)
    waves = torch.from_numpy(ep.get_data(picks="all").astype(np.float32))
    with torch.no_grad():
        images = fitted.input_stage_.to_images(waves.reshape(-1, waves.shape[-1]))
    np.testing.assert_allclose(inputs.data, images.reshape(inputs.data.shape).numpy(), atol=1e-5)
    assert fitted.normalize == "dataset" and fitted.input_stage_.norm_std.numel() == 16
    errors = fitted.reconstruction_error(ep)
    expected = ((recon.data - inputs.data) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(errors, expected, rtol=1e-4)
    assert fitted.score(ep) == pytest.approx(-expected.mean(), rel=1e-4)
    lists = fitted.reconstruct(epochs_list[:2])
    assert isinstance(lists, list) and len(lists) == 2
    with pytest.raises(TypeError, match="mne.Epochs"):
        fitted.reconstruct(ep.get_data())


def test_arrays_and_pipeline_after_mne_transformers(epochs_list):
    X = np.concatenate([ep.get_data(picks=[0]) for ep in epochs_list])  # (n, 1, 2560)
    y = np.concatenate([ep.metadata["signal_type"].to_numpy() for ep in epochs_list])
    pipe = make_pipeline(
        mne.decoding.Scaler(scalings="mean"),
        SpecAE(sfreq=512.0, **TINY),
        LogisticRegression(max_iter=500),
    )
    pipe.fit(X, y)
    predicted = pipe.predict(X)
    assert predicted.shape == y.shape and set(predicted) <= set(y)
    assert pipe[1].transform(pipe[0].transform(X)).shape == (len(X), 4)
    with pytest.raises(ValueError, match="sfreq"):
        SpecAE(**TINY).fit(X)


def test_save_load_gives_identical_embeddings(fitted, epochs_list, tmp_path):
    fname = fitted.save(tmp_path / "model.specae")
    state = torch.load(fname, weights_only=True)
    assert state["format"] == MODEL_FORMAT
    assert state["params"]["filters"] == 4 and state["fitted"]["sfreq"] == 512.0
    assert "torch_version" in state and "package_version" in state
    loaded = SpecAE.load(fname)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.transform(epochs_list), fitted.transform(epochs_list))
    np.testing.assert_array_equal(
        loaded.reconstruction_error(epochs_list[1]), fitted.reconstruction_error(epochs_list[1])
    )
    assert loaded.history_.to_dict() == fitted.history_.to_dict()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(fname)
    fitted.save(fname, overwrite=True)


def test_load_refuses_bad_files(fitted, tmp_path):
    damaged = tmp_path / "damaged.specae"
    damaged.write_bytes(fitted.save(tmp_path / "ok.specae").read_bytes()[:200])
    with pytest.raises(ValueError, match="damaged"):
        SpecAE.load(damaged)
    other = tmp_path / "other.specae"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not an mne-specae model file"):
        SpecAE.load(other)
    with pytest.raises(FileNotFoundError):
        SpecAE.load(tmp_path / "missing.specae")


def test_data_that_does_not_match_the_model(fitted, raw_by_name):
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 30)
    with pytest.raises(
        ValueError,
        match=r"trained on segments of 2560 samples at 512 Hz.*"
        r"make_segments\(raw, duration=5, sfreq=512\)",
    ):
        fitted.transform(make_segments(raw, sfreq=256.0))
    with pytest.raises(ValueError, match="1024 samples at 512 Hz"):
        fitted.transform(make_segments(raw, duration=2.0))


def test_bad_input(fitted, epochs_list):
    with pytest.raises(NotFittedError):
        SpecAE(**TINY).transform(epochs_list[0])
    with pytest.raises(TypeError, match="X must be an instance of mne.Epochs, a list of Epochs"):
        fitted.transform("epochs.fif")
    with pytest.raises(ValueError, match=r"\(n_epochs, n_channels, n_times\)"):
        fitted.transform(np.zeros((3, 2560)))
    bad = np.random.default_rng(0).normal(size=(4, 1, 2560))
    bad[1, 0, 7] = np.nan
    with pytest.raises(ValueError, match="NaN/Inf"):
        SpecAE(sfreq=512.0, **TINY).fit(bad)
    resampled = epochs_list[0].copy().resample(256.0)
    with pytest.raises(ValueError, match="share one sampling rate"):
        SpecAE(**TINY).fit([epochs_list[1], resampled])
    for key, value, match in [
        ("model", "3d", "Invalid value for the 'model' parameter"),
        ("pooling", "median", "pooling"),
        ("channel_agg", "sum", "channel_agg"),
    ]:
        with pytest.raises(ValueError, match=match):
            SpecAE(**dict(TINY, **{key: value})).fit(epochs_list[:1])
    with pytest.raises(ValueError, match="channel_mode='planes' needs the same channels"):
        SpecAE(**dict(TINY, channel_mode="planes")).fit([epochs_list[0], epochs_list[2]])


def test_empty_band_shortcut_warning(raw_by_name):
    # BioSPPy EEG is sampled at 125 Hz: a 0-256 Hz spectrogram is empty above 62.5 Hz
    eeg = make_segments(raw_by_name["eeg/biosppy/eeg_ec"].copy().crop(0, 30))
    with pytest.warns(RuntimeWarning, match=r"sampled at 125 Hz: above 62\.5 Hz"):
        SpecAE(**dict(TINY, fmax=None, max_epochs=1, val_fraction=0.0)).fit(eeg)


def test_waveform_model(epochs_list):
    est = SpecAE(
        "1d",
        n_layers=2,
        filters=4,
        kernel_size=5,
        max_epochs=1,
        batch_size=16,
        pooling="mean",
        device="cpu",
    ).fit(epochs_list)
    emb = est.transform(epochs_list)
    assert emb.shape == (40, 4)
    recon = est.reconstruct(epochs_list[4])
    assert isinstance(recon, mne.BaseEpochs)
    assert recon.get_data().shape == (6, 4, 2560)
    assert recon.ch_names == epochs_list[4].ch_names


def test_planes_mode(epochs_list):
    same = [epochs_list[4], epochs_list[5]]
    est = SpecAE(**dict(TINY, channel_mode="planes", max_epochs=1)).fit(same)
    assert est.image_shape_ == (4, 16, 16) and est.model_.in_channels == 4
    assert est.transform(same).shape == (12, 4)
    with pytest.raises(
        ValueError,
        match=r"takes the channels \['RF', 'BF', 'VM', 'ST'\] \(in "
        r"that order\); the Epochs lack \['RF', 'BF', 'VM', 'ST'\]",
    ):
        est.transform(epochs_list[0])
    with pytest.raises(ValueError, match="takes 4 channels"):
        est.transform(np.zeros((2, 3, 2560), np.float32))


def test_waveform_model_honours_normalize(epochs_list, tmp_path):
    """model="1d" z-scored every item whatever ``normalize`` said (get_params() said
    "dataset", the default, while the input stage normalised per item)."""
    kw = dict(
        n_layers=2,
        filters=4,
        kernel_size=5,
        max_epochs=1,
        batch_size=16,
        pooling="mean",
        device="cpu",
        val_fraction=0.0,
    )
    epochs_list = [epochs_list[0], epochs_list[2]]  # ECG and EEG: volts of other scales
    waves = np.concatenate(
        [ep.get_data().reshape(-1, ep.get_data().shape[-1]) for ep in epochs_list]
    )
    x64 = torch.as_tensor(waves)
    for normalize in (None, "item", "dataset"):
        est = SpecAE("1d", normalize=normalize, **kw).fit(epochs_list)
        assert est.get_params()["normalize"] == normalize == est.input_stage_.normalize
        seen = est.input_stage_.to_images(x64.float())[:, 0].double()
        per_item_std = seen.std(dim=1, unbiased=False)
        if normalize is None:
            torch.testing.assert_close(seen, x64.float().double())
        elif normalize == "item":
            torch.testing.assert_close(
                per_item_std, torch.ones_like(per_item_std), atol=1e-4, rtol=0
            )
        else:  # one mean and std, fitted on the (here: all) training waveforms
            mean, std = x64.mean(), x64.std(unbiased=False)
            torch.testing.assert_close(seen, (x64 - mean) / std, atol=1e-3, rtol=1e-4)
            assert abs(float(seen.mean())) < 1e-4 and abs(float(seen.std()) - 1) < 1e-3
            assert per_item_std.max() / per_item_std.min() > 10  # scales kept apart
            loaded = SpecAE.load(est.save(tmp_path / "wave.specae"))
            assert loaded.input_stage_.normalize == "dataset"
            np.testing.assert_array_equal(loaded.transform(epochs_list), est.transform(epochs_list))
