"""What calibration, identify_channel_types and annotate_unusual ask of a model, through
its public API: SpecAE.embed_items (one row per item), resolve_model (a model from an
estimator, a file or a pretrained name), and SpecAE's explicit parameters."""

import inspect

import mne
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from tiny import TINY_ONE_EPOCH as TINY

from mne_specae import SpecAE
from mne_specae.pretrained.loading import PRETRAINED, resolve_model

pytestmark = pytest.mark.filterwarnings("ignore:Only one group")
SFREQ, N_TIMES = 512.0, 1024


def _epochs(n_epochs, names, seed=0):
    """Synthetic Epochs (noise and a 10 Hz sine; ECG, EEG, ...) of the model's shape."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_TIMES) / SFREQ
    data = 1e-5 * rng.standard_normal((n_epochs, len(names), N_TIMES))
    data += 1e-5 * np.sin(2 * np.pi * 10 * t)
    types = ["ecg" if n.startswith("ECG") else "eeg" for n in names]
    return mne.EpochsArray(data, mne.create_info(names, SFREQ, types), verbose=False)


@pytest.fixture(scope="module")
def fitted():
    return SpecAE(**TINY, verbose=False).fit([_epochs(6, ["ECG1", "Fz", "Cz"])])


def test_embed_items_gives_the_rows_embed_aggregates(fitted):
    epochs = [_epochs(3, ["ECG1", "Fz", "Cz"], seed=1), _epochs(2, ["Pz", "ECG2"], seed=2)]
    items = fitted.embed_items(epochs)
    assert set(items) == {"features", "errors", "ch_names", "epoch"}
    assert items.features.shape == (3 * 3 + 2 * 2, fitted.n_features_out_)
    assert items.features.dtype == np.float32 and items.errors.shape == (13,)
    assert list(items.ch_names) == ["ECG1", "Fz", "Cz"] * 3 + ["Pz", "ECG2"] * 2
    np.testing.assert_array_equal(items.epoch, [0] * 3 + [1] * 3 + [2] * 3 + [3, 3, 4, 4])
    # embed is these rows, aggregated per epoch (channel_agg="mean")
    embeddings, errors = fitted.embed(epochs)
    for k in range(5):
        sel = items.epoch == k
        np.testing.assert_allclose(embeddings[k], items.features[sel].mean(0), rtol=1e-5)
        np.testing.assert_allclose(errors[k], items.errors[sel].mean(), rtol=1e-5)
    plain = fitted.embed_items(epochs, recon_error=False)
    assert plain.errors is None
    np.testing.assert_allclose(plain.features, items.features, rtol=1e-5, atol=1e-6)


def test_embed_items_of_an_array_uses_every_channel(fitted):
    """identify_channel_types hands windows as an array (n_items, 1, n_times) at the
    model's rate: the same rows as Epochs of the same samples; picks (which select
    channels of Epochs by name or type) do not apply to an array here."""
    epochs = _epochs(2, ["ECG1", "Fz"], seed=3)
    x = epochs.get_data().reshape(-1, 1, N_TIMES).astype(np.float32)
    from_array = fitted.embed_items(x)
    from_epochs = fitted.embed_items(epochs)
    np.testing.assert_allclose(from_array.features, from_epochs.features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_array.errors, from_epochs.errors, rtol=1e-5)
    assert list(from_array.ch_names) == ["ch0"] * 4
    np.testing.assert_array_equal(from_array.epoch, np.arange(4))
    picky = clone(fitted).set_params(picks="eeg")
    picky.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    assert picky.embed_items(x).features.shape == from_array.features.shape
    with pytest.raises(ValueError, match="picks selects channels of Epochs"):
        picky.transform(x)  # transform keeps refusing it
    assert list(picky.embed_items(epochs).ch_names) == ["Fz", "Fz"]  # Epochs: picked


def test_embed_items_of_a_concat_model_takes_any_channel_count():
    """Kept behaviour (one implementation where there were two): per-item rows do not
    depend on channel_agg, so a channel_agg="concat" model's items are given for any
    number of channels (identify_channel_types did so; calibrate and annotate_unusual
    refused what transform, which concatenates, must refuse)."""
    est = SpecAE(**TINY, channel_agg="concat", verbose=False).fit(_epochs(4, ["ECG1", "Fz"]))
    assert est.n_features_out_ == 2 * 4
    one = _epochs(3, ["Cz"], seed=4)
    assert est.embed_items(one).features.shape == (3, 4)
    with pytest.raises(ValueError, match="channel_agg='concat'"):
        est.transform(one)


def test_embed_items_in_the_planes_mode_has_one_item_per_epoch():
    est = SpecAE(**TINY, channel_mode="planes", verbose=False).fit(_epochs(4, ["ECG1", "Fz"]))
    items = est.embed_items(_epochs(3, ["ECG1", "Fz"], seed=5))
    assert items.features.shape == (3, est.n_features_out_) and items.ch_names is None
    np.testing.assert_array_equal(items.epoch, np.arange(3))


def test_resolve_model_from_an_estimator_a_file_or_a_name(fitted, tmp_path):
    assert resolve_model(fitted) is fitted
    with pytest.raises(NotFittedError):
        resolve_model(SpecAE())
    with pytest.raises(TypeError, match="model"):
        resolve_model(3)
    with pytest.raises(FileNotFoundError, match=r"^model biosignal: no such model file"):
        resolve_model("biosignal")
    with pytest.raises(FileNotFoundError, match=r"^--model nothing\.specae: no such model"):
        resolve_model("nothing.specae", item_name="--model")
    with pytest.raises(FileNotFoundError, match="no such model file"):
        resolve_model(tmp_path)  # a folder is not a model file
    fname = fitted.save(tmp_path / "m.specae")
    loaded = resolve_model(fname, device="cpu")
    assert loaded.device == "cpu" and loaded.n_features_out_ == fitted.n_features_out_
    assert resolve_model(str(fname)).n_times_ == N_TIMES


@pytest.mark.skipif(
    not all(
        (
            __import__("importlib").resources.files("mne_specae.pretrained") / "assets" / p["file"]
        ).is_file()
        for p in PRETRAINED.values()
    ),
    reason="the pretrained weights are not in this tree",
)
def test_resolve_model_loads_a_pretrained_encoder_on_the_device_asked():
    est = resolve_model("biosignals", device="cpu")
    assert est.device == "cpu" and est.calibration_ is not None
    assert resolve_model(None).calibration_ is not None


def test_init_assigns_each_parameter_explicitly():
    """As scikit-learn asks (no loop over locals()): every parameter, and only the
    parameters, become attributes of the same name, unchanged."""
    source = inspect.getsource(SpecAE.__init__)
    assert "locals()" not in source and "setattr" not in source
    params = [p for p in inspect.signature(SpecAE.__init__).parameters if p != "self"]
    for name in params:
        assert f"        self.{name} = {name}\n" in source
    est = SpecAE()
    assert sorted(vars(est)) == sorted(params)
    assert est.get_params() == {
        n: p.default for n, p in inspect.signature(SpecAE).parameters.items()
    }
    marker = object()
    assert SpecAE(activation=marker).activation is marker
