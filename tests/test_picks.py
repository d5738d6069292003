"""Channels the MNE way in SpecAE: bad channels, picks, ch_names_, arrays and groups."""

import mne
import numpy as np
import pytest
from tiny import TINY_ONE_EPOCH as TINY

import mne_specae.estimator.specae as estimator_module
from mne_specae import SpecAE, make_segments
from mne_specae.training.splits import split_by_group

pytestmark = pytest.mark.filterwarnings("ignore:Only one group")


@pytest.fixture(scope="module")
def eeg_epochs(raw_by_name):
    """Real EEG (eegmat Subject00 rest), 4 channels, 6 segments of 5 s."""
    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy().crop(0, 30)
    return make_segments(raw, picks=["Fz", "Cz", "Pz", "Oz" if "Oz" in raw.ch_names else "O1"])


@pytest.fixture(scope="module")
def mixed_epochs(eeg_epochs):
    """The EEG segments plus a stim and a misc channel, with Cz marked bad."""
    ep = eeg_epochs.copy()
    n = len(ep)
    extra = np.zeros((n, 2, len(ep.times)))
    extra[:, 0, 100:200] = 5.0  # trigger steps
    extra[:, 1] = 1e3  # a huge misc sensor
    info = mne.create_info(["STI", "MISC"], ep.info["sfreq"], ["stim", "misc"])
    other = mne.EpochsArray(extra, info, events=ep.events, tmin=ep.tmin, verbose=False)
    ep.add_channels([other], force_update_info=True)
    ep.info["bads"] = ["Cz"]
    return ep


def _captured_training(monkeypatch):
    """Record what SpecAE.fit hands to the training engine (and train nothing)."""
    seen = {}

    def fake_train(model, items, **kwargs):
        from mne_specae.training.history import History

        seen.update(items=items.clone(), **kwargs)
        return History()

    monkeypatch.setattr(estimator_module, "train_autoencoder", fake_train)
    return seen


def test_bad_channel_never_reaches_the_model(mixed_epochs, monkeypatch):
    ep = mixed_epochs.copy()
    ep._data[:, ep.ch_names.index("Cz")] = np.nan  # a dead electrode, marked bad
    seen = _captured_training(monkeypatch)
    est = SpecAE(**TINY).fit(ep)
    good = ["Fz", "Pz", ep.ch_names[3]]
    assert est.ch_names_ == good
    assert seen["items"].shape == (len(ep) * 3, len(ep.times))
    expected = ep.get_data(picks=good).astype(np.float32).reshape(-1, len(ep.times))
    np.testing.assert_array_equal(seen["items"].numpy(), expected)
    assert len(seen["groups"]) == len(ep) * 3


def test_bad_channel_fit_and_transform_end_to_end(mixed_epochs):
    """Before: IndexError from the owner index, or a false NaN/Inf error."""
    est = SpecAE(**TINY).fit(mixed_epochs)
    emb = est.transform(mixed_epochs)
    assert emb.shape == (len(mixed_epochs), 4) and np.isfinite(emb).all()
    assert "Cz" not in est.ch_names_ and "STI" not in est.ch_names_ and "MISC" not in est.ch_names_


def test_picks_parameter(mixed_epochs, monkeypatch):
    seen = _captured_training(monkeypatch)
    assert SpecAE(**TINY, picks="eeg").fit(mixed_epochs).ch_names_ == [
        "Fz",
        "Pz",
        mixed_epochs.ch_names[3],
    ]
    # a bad channel named explicitly is used (MNE's rule)
    est = SpecAE(**TINY, picks=["Cz", "Fz"]).fit(mixed_epochs)
    assert est.ch_names_ == ["Cz", "Fz"] and seen["items"].shape[0] == 2 * len(mixed_epochs)
    with pytest.raises(ValueError, match=r"No channel for picks='ecg' that is not bad"):
        SpecAE(**TINY, picks="ecg").fit(mixed_epochs)
    with pytest.raises(ValueError, match="an array has neither"):
        SpecAE(**TINY, picks="eeg", sfreq=512.0).fit(mixed_epochs.get_data(picks="eeg"))


def test_planes_mode_checks_channel_names(eeg_epochs):
    est = SpecAE(**TINY, channel_mode="planes").fit(eeg_epochs)
    assert est.ch_names_ == eeg_epochs.ch_names and est.image_shape_ == (4, 16, 16)
    reordered = eeg_epochs.copy().reorder_channels(eeg_epochs.ch_names[::-1])
    np.testing.assert_allclose(est.transform(reordered), est.transform(eeg_epochs), rtol=1e-5)
    renamed = eeg_epochs.copy().rename_channels({"Fz": "AFz"})  # same count, other names
    with pytest.raises(ValueError, match=r"the Epochs lack \['Fz'\]"):
        est.transform(renamed)


def test_arrays_split_by_epoch_and_groups_checked(eeg_epochs, monkeypatch):
    X = eeg_epochs.get_data()  # (6, 4, 2560)
    seen = _captured_training(monkeypatch)
    SpecAE(**TINY, sfreq=512.0).fit(X)
    groups = np.asarray(seen["groups"])
    assert groups.shape == (24,)
    np.testing.assert_array_equal(groups, np.repeat(np.arange(6), 4))  # item -> its epoch
    train, val = split_by_group(groups, 0.2, seed=0)
    assert not set(groups[train]) & set(groups[val])  # no epoch on both sides
    with pytest.raises(ValueError, match=r"one label per epoch: 6 epochs, got 24 label"):
        SpecAE(**TINY, sfreq=512.0).fit(X, groups=np.arange(24))
    with pytest.raises(ValueError, match=r"one label per epoch: 6 epochs, got 5 label"):
        SpecAE(**TINY).fit(eeg_epochs, groups=["a"] * 5)


def test_complex_input_is_refused(eeg_epochs):
    X = eeg_epochs.get_data().astype(np.complex64)
    with pytest.raises(TypeError, match=r"complex values \(dtype complex64\)"):
        SpecAE(**TINY, sfreq=512.0).fit(X)
