"""Fine-tuning: SpecAE.fit(init=...) starts from a fitted model's weights."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from tiny import TINY, TINY_ONE_EPOCH, assert_same_weights, weights_of

from mne_specae import SpecAE, make_segments

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def epochs_list(data_path):
    """Real segments of the three modalities, two subjects each (only these six
    recordings are read: the session's all-sample fixture takes longer)."""
    from mne_specae.datasets import get_recording
    from mne_specae.datasets.sample import read_recording

    spec = [
        ("ecg/mitdb/100", 40, None),
        ("ecg/mitdb/106", 40, None),
        ("eeg/eegmat/Subject00_1", 30, ["Fz", "Cz", "Pz"]),
        ("eeg/eegmat/Subject01_1", 30, ["Fz", "Cz", "Pz"]),
        ("emg/uci_lower_limb/3Amar", 30, None),
        ("emg/uci_lower_limb/4Amar", 30, None),
    ]
    return [
        make_segments(
            read_recording(get_recording(name), data_path, download=False).crop(0, seconds),
            picks=picks,
        )
        for name, seconds, picks in spec
    ]


@pytest.fixture(scope="module")
def init(epochs_list, one_thread):
    """A model trained for a few epochs: the starting point."""
    return SpecAE(**dict(TINY, max_epochs=5, lr=3e-3)).fit(epochs_list)


def _max_difference(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_tiny_steps_keep_init_weights(init, epochs_list):
    before = weights_of(init.model_)
    # filters=[4, 4] is the same network as filters=4: accepted
    tuned = SpecAE(**dict(TINY_ONE_EPOCH, lr=1e-12, filters=[4, 4]))
    tuned.calibration_ = "of earlier weights"
    tuned.fit(epochs_list, init=init)
    assert _max_difference(weights_of(tuned.model_), before) < 1e-6
    assert not hasattr(tuned, "calibration_")  # a refit drops a stale calibration
    assert tuned.model_ is not init.model_
    fresh = SpecAE(**dict(TINY_ONE_EPOCH, lr=1e-12)).fit(epochs_list)
    assert _max_difference(weights_of(fresh.model_), before) > 1e-3
    assert_same_weights(weights_of(init.model_), before)  # init untouched, bit for bit


def test_finetuning_starts_ahead_and_leaves_init_alone(init, epochs_list):
    before = weights_of(init.model_)
    stage_before = weights_of(init.input_stage_)
    tuned = clone(init).set_params(max_epochs=1).fit(epochs_list, init=init)
    fresh = SpecAE(**TINY_ONE_EPOCH).fit(epochs_list)
    tuned_val = tuned.history_.epochs[0]["val_loss"]
    fresh_val = fresh.history_.epochs[0]["val_loss"]
    assert tuned_val < 0.9 * fresh_val, (tuned_val, fresh_val)
    assert _max_difference(weights_of(tuned.model_), before) > 0  # it did train
    assert_same_weights(weights_of(init.model_), before)
    assert_same_weights(weights_of(init.input_stage_), stage_before)
    assert init.history_.to_frame()["epoch"].tolist() == [1, 2, 3, 4, 5]


def test_mismatches_are_named_before_training(init, epochs_list, monkeypatch):
    import mne_specae.estimator.specae

    def no_training(*args, **kwargs):
        raise AssertionError("training started before init was checked")

    monkeypatch.setattr(mne_specae.estimator.specae, "train_autoencoder", no_training)
    other = SpecAE(**dict(TINY_ONE_EPOCH, filters=8, n_fft=32, activation="gelu"))
    with pytest.raises(ValueError, match="What differs") as exc:
        other.fit(epochs_list, init=init)
    text = str(exc.value)
    for expected in (
        "filters: [4, 4] -> [8, 8]",
        "n_fft: 64 -> 32",
        "activation: 'relu' -> 'gelu'",
        "clone(init)",
    ):
        assert expected in text, (expected, text)
    assert "lr" not in text.split("What differs")[1].split("Set the")[0]
    # the data: another sampling rate and segment length (arrays, 4 s at 256 Hz)
    X = epochs_list[0].get_data()[:, :, :1024]
    with pytest.raises(ValueError) as exc:
        SpecAE(**dict(TINY_ONE_EPOCH, sfreq=256.0)).fit(X, init=init)
    text = str(exc.value)
    assert "sfreq: 512 -> 256" in text and "n_times: 2560 -> 1024" in text
    assert "make_segments" in text
    with pytest.raises(ValueError, match=r"model: '2d' -> '1d'"):
        SpecAE(**dict(TINY_ONE_EPOCH, model="1d")).fit(epochs_list, init=init)
    # training settings may differ: only the (stubbed) training is reached
    with pytest.raises(AssertionError, match="training started"):
        SpecAE(**dict(TINY_ONE_EPOCH, lr=1e-2, batch_size=8, patience=1, mask_fraction=0.2)).fit(
            epochs_list, init=init
        )


def test_init_must_be_a_fitted_specae(init, epochs_list, tmp_path):
    with pytest.raises(NotFittedError, match="init must be a fitted SpecAE"):
        SpecAE(**TINY_ONE_EPOCH).fit(epochs_list, init=SpecAE(**TINY))
    with pytest.raises(TypeError, match="init must be an instance of"):
        SpecAE(**TINY_ONE_EPOCH).fit(epochs_list, init=init.model_)
    with pytest.raises(ValueError, match="init cannot be combined with checkpoint"):
        SpecAE(**dict(TINY_ONE_EPOCH, checkpoint=tmp_path / "run.ckpt")).fit(epochs_list, init=init)
    assert not (tmp_path / "run.ckpt").exists()


def test_init_from_a_model_file(init, epochs_list, tmp_path):
    """A saved and loaded model is a starting point like the fitted one."""
    loaded = SpecAE.load(init.save(tmp_path / "init.specae"))
    tuned = SpecAE(**dict(TINY_ONE_EPOCH, lr=1e-12)).fit(epochs_list[:2], init=loaded)
    assert _max_difference(weights_of(tuned.model_), weights_of(init.model_)) < 1e-6
    emb = tuned.transform(epochs_list[0])
    assert emb.shape == (len(epochs_list[0]), tuned.n_features_out_)
    assert np.isfinite(emb).all()
