"""The baselines of the downstream protocol (mne_specae.evaluation.baselines: RandomWeights,
BandPowers, InputPCA), its probes and held-out reconstruction R² (mne_specae.evaluation.probes).
"""

import mne
import numpy as np
import pandas as pd
import pytest
import torch
from downstream_helpers import _as_list, _initial_weights, _metadata, _sine_epochs, load_real_epochs
from sklearn.exceptions import NotFittedError
from tiny import TINY, TINY_ONE_EPOCH, record_start_weights, weights_of

from mne_specae import SpecAE
from mne_specae.evaluation.baselines import BANDS, BandPowers, InputPCA, RandomWeights
from mne_specae.evaluation.probes import PROBES, make_probe, reconstruction_r2

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


# -------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def real_epochs(data_path):
    """2 segments (1 channel) of every sample recording of 4 eegmat and 4 UCI subjects:
    52 segments in 27 Epochs, with a ``source`` column (eegmat / uci)."""
    return load_real_epochs()


@pytest.fixture(scope="module")
def fitted_tiny(real_epochs):
    """A tiny SpecAE fitted on the EEG and EMG epochs of the real data."""
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] != "ecg"]
    return SpecAE(**dict(TINY_ONE_EPOCH, random_state=3)).fit(picked), picked


# ------------------------------------------------------------------------ RandomWeights
def test_random_weights_from_fitted_are_the_initial_weights(real_epochs, monkeypatch):
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] == "eeg"]
    started = record_start_weights(monkeypatch)
    est = SpecAE(**dict(TINY_ONE_EPOCH, random_state=5)).fit(picked)
    monkeypatch.undo()
    assert len(started) == 1
    trained = weights_of(est.model_)
    history = est.history_
    untrained = RandomWeights.from_fitted(est)
    assert isinstance(untrained, SpecAE) and untrained is not est
    assert untrained.history_ is None and not untrained.model_.training
    initial = weights_of(untrained.model_)
    fresh = _initial_weights(5, est.image_shape_)
    rebuilt = weights_of(est._build_model(est.image_shape_))
    assert initial.keys() == started[0].keys() == fresh.keys() == rebuilt.keys()
    for key in initial:
        assert torch.equal(initial[key], started[0][key]), key  # what training started from
        assert torch.equal(initial[key], fresh[key]), key
        assert torch.equal(initial[key], rebuilt[key]), key
    assert any(not torch.equal(initial[k], trained[k]) for k in initial)  # training moved them
    other = _initial_weights(6, est.image_shape_)
    assert any(not torch.equal(initial[k], other[k]) for k in initial)  # the seed matters
    # the trained estimator is unchanged
    after = weights_of(est.model_)
    assert all(torch.equal(after[k], trained[k]) for k in trained)
    assert est.history_ is history
    assert untrained.model_ is not est.model_ and untrained.input_stage_ is not est.input_stage_
    for name in ("norm_mean", "norm_std"):  # the same (fitted) input stage
        assert torch.equal(getattr(untrained.input_stage_, name), getattr(est.input_stage_, name))
    a, b = est.transform(picked), untrained.transform(picked)
    assert a.shape == b.shape == (len(_metadata(picked)), est.n_features_out_)
    assert not np.allclose(a, b)
    with pytest.raises(NotFittedError):
        RandomWeights.from_fitted(SpecAE(**TINY))
    assert repr(RandomWeights("x")) == "RandomWeights('x')"


# --------------------------------------------------------------------------- BandPowers
def test_band_powers_of_sines():
    eeg = _sine_epochs([10.0], amplitude=1e-5)  # 2 s at 512 Hz: 1 Hz Welch bins
    bp = BandPowers().fit(eeg)
    assert bp.bands_ == BANDS["eeg"]  # "auto" from the channel type
    names = list(bp.get_feature_names_out())
    assert names == ([f"logpow_{b}" for b in BANDS["eeg"]] + [f"relpow_{b}" for b in BANDS["eeg"]])
    X = bp.transform(eeg)
    assert X.shape == (3, 10) and X.dtype == np.float64
    log_power, relative = X[:, :5], X[:, 5:]
    assert (log_power.argmax(axis=1) == names.index("logpow_alpha")).all()
    # all of the sine's power (A²/2) in the 10 Hz bin; the alpha band averages 5 bins
    np.testing.assert_allclose(log_power[:, 2], np.log10(1e-10 / 2 / 5), atol=0.01)
    assert (log_power[:, [0, 1, 3, 4]] < log_power[:, [2]] - 20).all()
    np.testing.assert_allclose((10.0**relative).sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(
        relative, log_power - np.log10((10.0**log_power).sum(axis=1, keepdims=True))
    )
    # EMG bands: a 100 Hz sine is in the bands on either side of 100 Hz
    emg = _sine_epochs([100.0], ch_type="emg")
    bp = BandPowers(bands="emg").fit(emg)
    X = bp.transform(emg)
    names = list(bp.get_feature_names_out())
    assert X.shape == (3, 10) and names[2:4] == ["logpow_emg_60_100", "logpow_emg_100_150"]
    assert set(np.argsort(X[0, :5])[-2:]) == {2, 3}
    assert X[0, 3] == X[:, 3].max() and (X[:, 3] > X[:, 2]).all()  # the 100 Hz bin: 100-150
    np.testing.assert_allclose((10.0 ** X[:, 5:]).sum(axis=1), 1.0, rtol=1e-9)
    # "auto" reads the signal type in the metadata; several types: the "mixed" bands
    md_emg = pd.DataFrame(dict(signal_type=["emg"] * 3))
    tagged = _sine_epochs([100.0], ch_type="emg", metadata=md_emg)
    assert BandPowers().fit(tagged).bands_ == BANDS["emg"]
    assert BandPowers().fit([eeg, tagged]).bands_ == BANDS["mixed"]
    # a dict of bands, any names
    custom = BandPowers({"low": (5.0, 15.0), "high": (15.0, 40.0)}).fit(eeg)
    assert list(custom.get_feature_names_out()) == [
        "logpow_low",
        "logpow_high",
        "relpow_low",
        "relpow_high",
    ]
    assert custom.transform(eeg)[0, 0] > custom.transform(eeg)[0, 1]


def test_band_powers_channels_averaged_and_picks():
    two = _sine_epochs([10.0, 20.0], noise=0.1)  # alpha in EEG0, beta in EEG1
    bp = BandPowers().fit(two)
    both = bp.transform(two)
    single = [bp.transform(two.copy().pick([name])) for name in two.ch_names]
    np.testing.assert_allclose(both, (single[0] + single[1]) / 2)
    only_beta = BandPowers(picks=["EEG1"]).fit(two).transform(two)
    np.testing.assert_allclose(only_beta, single[1])
    assert only_beta[0, :5].argmax() == 3  # beta


def test_band_powers_errors():
    eeg = _sine_epochs([10.0], sfreq=100.0)  # Nyquist 50 Hz
    with pytest.raises(
        ValueError,
        match=r"Bands \['gamma'\] reach above the Nyquist "
        r"frequency of the data \(50 Hz\)",
    ):
        BandPowers("mixed").fit(eeg)  # gamma: 30-60 Hz
    BandPowers("eeg").fit(eeg)  # gamma 30-45 Hz: fine
    emg = _sine_epochs([50.0], sfreq=250.0, ch_type="emg")
    with pytest.raises(ValueError, match=r"\['emg_100_150', 'emg_150_250'\].*125 Hz"):
        BandPowers("emg").fit(emg)
    # the lowest sampling rate of a list counts
    with pytest.raises(ValueError, match=r"\['gamma'\]"):
        BandPowers("mixed").fit([_sine_epochs([10.0]), eeg])
    for bad in ("foo", (1.0, 4.0), 3):
        with pytest.raises(ValueError, match="bands must be 'auto', one of"):
            BandPowers(bad).fit(eeg)
    for edges in ((10.0, 5.0), (-1.0, 4.0), (4.0, 4.0), (1.0, 2.0, 3.0)):
        with pytest.raises(ValueError, match=r"Band 'x' must be \(fmin, fmax\)"):
            BandPowers({"x": edges}).fit(eeg)
    with pytest.raises(NotFittedError):
        BandPowers().transform(eeg)
    with pytest.raises(NotFittedError):
        BandPowers().get_feature_names_out()


def test_band_powers_list_of_band_names_refused_clearly():
    with pytest.raises(ValueError, match="bands must be 'auto', one of"):
        BandPowers(["alpha"]).fit(_sine_epochs([10.0]))


@pytest.mark.filterwarnings(
    "ignore:Mean of empty slice:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
def test_band_powers_empty_band_is_refused_or_finite():
    eeg = _sine_epochs([10.0])
    bp = BandPowers({"narrow": (10.2, 10.6), "alpha": (8.0, 13.0)})
    try:
        X = bp.fit(eeg).transform(eeg)
    except ValueError as err:
        assert "narrow" in str(err)
    else:
        assert np.isfinite(X).all()


# ----------------------------------------------------------------------------- InputPCA
def test_input_pca_shapes_and_fit_data(fitted_tiny):
    est, picked = fitted_tiny
    fit_part, new_part = picked[:6], picked[6:]
    n_fit, n_new = len(_metadata(fit_part)), len(_metadata(new_part))
    pca = InputPCA(est, n_components=3).fit(fit_part)
    out = pca.transform(new_part)  # data not fitted on
    assert out.shape == (n_new, 3) and np.isfinite(out).all()
    scaler, decomposition = pca.pipeline_.named_steps.values()
    assert scaler.n_samples_seen_ == n_fit  # fitted on the fit data only
    assert decomposition.n_components_ == 3
    # the estimator's input stage: its images (16 x 16), its fitted statistics
    assert pca.stage_ is est.input_stage_
    assert scaler.n_features_in_ == int(np.prod(est.image_shape_[1:])) == 16 * 16
    # by hand: images of the fitted input stage, averaged over channels, scaled, PCA
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def images(epochs_list):
        rows = []
        with torch.no_grad():
            for ep in epochs_list:
                data = ep.get_data(picks="all").astype(np.float32)
                flat = torch.from_numpy(data.reshape(-1, data.shape[-1]))
                img = est.input_stage_.to_images(flat)
                rows.append(img.reshape(len(ep), len(ep.ch_names), -1).mean(dim=1).numpy())
        return np.concatenate(rows)

    manual = make_pipeline(StandardScaler(), PCA(3, random_state=0)).fit(images(fit_part))
    np.testing.assert_allclose(out, manual.transform(images(new_part)), rtol=1e-4, atol=1e-4)
    # fitted on other data: other components
    other = InputPCA(est, n_components=3).fit(new_part).transform(new_part)
    assert not np.allclose(other, out, atol=1e-3)
    # n_components capped by the number of epochs (minus one)
    few = InputPCA(est, n_components=50).fit(fit_part[:2])
    n_few = len(_metadata(fit_part[:2]))
    assert few.transform(new_part).shape == (n_new, n_few - 1)
    with pytest.raises(NotFittedError):
        InputPCA(est).transform(new_part)
    with pytest.raises(TypeError, match="estimator"):
        InputPCA(BandPowers()).fit(fit_part)


def test_input_pca_unfitted_estimator_uses_its_settings(real_epochs):
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] == "eeg"]
    fit_part, new_part = picked[:4], picked[4:]
    est = SpecAE(**dict(TINY, resize=(8, 8), normalize="dataset"))
    pca = InputPCA(est, n_components=2).fit(fit_part)
    assert pca.transform(new_part).shape == (len(_metadata(new_part)), 2)
    assert pca.pipeline_[0].n_features_in_ == 8 * 8
    assert not hasattr(est, "input_stage_")  # the estimator is not fitted by InputPCA
    # normalize="dataset": statistics of the fit data only
    assert est.normalize == "dataset" and pca.stage_.needs_fitting
    waves = np.concatenate(
        [ep.get_data().astype(np.float32).reshape(-1, len(ep.times)) for ep in fit_part]
    )
    stage = est._build_input_stage(512.0).fit_normalization(torch.from_numpy(waves))
    torch.testing.assert_close(pca.stage_.norm_mean, stage.norm_mean)
    torch.testing.assert_close(pca.stage_.norm_std, stage.norm_std)
    refit = InputPCA(est, n_components=2).fit(new_part)
    assert not torch.allclose(refit.stage_.norm_mean, pca.stage_.norm_mean)
    # a per-item normalisation needs no statistics
    item = InputPCA(SpecAE(**dict(TINY, normalize="item")), n_components=2).fit(fit_part)
    assert not item.stage_.needs_fitting
    assert item.transform(new_part).shape == (len(_metadata(new_part)), 2)


# ---------------------------------------------------------------- probes and reconstruction
def test_make_probe():
    assert PROBES == ("logistic", "knn")
    logistic = make_probe("logistic", random_state=4)
    scaler, clf = logistic.named_steps.values()
    assert type(scaler).__name__ == "StandardScaler"
    assert type(clf).__name__ == "LogisticRegression"
    assert clf.random_state == 4 and clf.class_weight == "balanced" and clf.C == 1.0
    knn = make_probe("knn", n_neighbors=3)[-1]
    assert type(knn).__name__ == "KNeighborsClassifier" and knn.n_neighbors == 3
    assert make_probe("knn")[-1].n_neighbors == 5
    assert make_probe("logistic") is not make_probe("logistic")  # unfitted, fresh
    with pytest.raises(ValueError, match="'svm'"):
        make_probe("svm")


class _FakeAutoencoder:
    """``reconstruct`` returns given outputs for the inputs."""

    def __init__(self, make_output):
        self.make_output = make_output

    def reconstruct(self, epochs, return_input=False, verbose=None):
        inputs = [ep.copy() for ep in _as_list(epochs)]
        outputs = [
            mne.EpochsArray(self.make_output(ep.get_data()), ep.info, verbose=False)
            for ep in inputs
        ]
        if not isinstance(epochs, list):
            return outputs[0], inputs[0]
        return outputs, inputs


def test_reconstruction_r2_values():
    epochs_list = [_sine_epochs([10.0, 30.0], n_epochs=2), _sine_epochs([5.0], n_epochs=3)]
    x = np.concatenate([ep.get_data().ravel() for ep in epochs_list])
    assert reconstruction_r2(_FakeAutoencoder(lambda d: d), epochs_list) == 1.0
    assert reconstruction_r2(
        _FakeAutoencoder(lambda d: np.full_like(d, x.mean())), epochs_list
    ) == pytest.approx(0.0, abs=1e-12)
    assert reconstruction_r2(_FakeAutoencoder(lambda d: 0.5 * d), epochs_list[0]) == pytest.approx(
        0.75, abs=1e-3
    )  # sines: mean ~0, 1 - 0.25
    noise = np.random.default_rng(0).standard_normal
    noisy = _FakeAutoencoder(lambda d: d + 1e-6 * noise(d.shape))
    expected = 1 - (1e-12 * x.size) / ((x - x.mean()) ** 2).sum()  # about 0.98
    assert reconstruction_r2(noisy, epochs_list) == pytest.approx(expected, abs=2e-3)
    assert reconstruction_r2(_FakeAutoencoder(lambda d: -d), epochs_list) < -2.9
    flat = mne.EpochsArray(np.ones((2, 1, 64)), mne.create_info(1, 64.0, "eeg"), verbose=False)
    assert np.isnan(reconstruction_r2(_FakeAutoencoder(lambda d: d), flat))


def test_reconstruction_r2_of_a_fitted_specae(fitted_tiny):
    est, picked = fitted_tiny
    r2 = reconstruction_r2(est, picked[:3])
    outputs, inputs = est.reconstruct(picked[:3], return_input=True, verbose=False)
    x = np.concatenate([i.get_data(picks="all").ravel() for i in inputs]).astype(np.float64)
    y = np.concatenate([o.get_data(picks="all").ravel() for o in outputs]).astype(np.float64)
    assert np.isfinite(r2) and r2 <= 1.0
    assert r2 == pytest.approx(1 - ((y - x) ** 2).sum() / ((x - x.mean()) ** 2).sum())
    assert r2 == pytest.approx(reconstruction_r2(est, picked[0:3]))  # deterministic
    assert r2 != pytest.approx(reconstruction_r2(RandomWeights.from_fitted(est), picked[:3]))
