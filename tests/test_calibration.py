"""The signal-type head and references of a model (mne_specae.estimator.calibration)."""

import numpy as np
import pytest
from tiny import TINY

from mne_specae import Calibration, SpecAE, calibrate, make_segments, select_evenly
from mne_specae.estimator.calibration import robust_location


@pytest.fixture(scope="module")
def labelled(raw_by_name):
    """Real segments of three types: MIT-BIH ECG, eegmat EEG, UCI EMG."""
    out = []
    for name in ("ecg/mitdb/100", "eeg/eegmat/Subject00_1", "emg/uci_lower_limb/3Amar"):
        ep = make_segments(raw_by_name[name], 5.0, 512.0, verbose=False)
        out.append(select_evenly(ep, 6, 3))
    return out


@pytest.fixture(scope="module")
def fitted(labelled):
    est = SpecAE(**dict(TINY, filters=8, pooling="multiscale", max_epochs=3), verbose=False).fit(
        labelled
    )
    calibrate(est, labelled, verbose=False)
    return est


def test_calibrate_fits_a_head_that_separates_the_training_types(fitted, labelled):
    cal = fitted.calibration_
    assert cal.classes == ["ecg", "eeg", "emg"]
    assert cal.coef.shape == (3, fitted.n_features_out_) == (3, 16)
    assert cal.n_items == {"ecg": 12, "eeg": 18, "emg": 18}
    from mne_specae.estimator.calibration import channel_items

    hits = []
    for ep, kind in zip(labelled, cal.classes):
        feats, errors, channels = channel_items(fitted, ep)
        assert list(channels[: len(ep.ch_names)]) == ep.ch_names
        proba = cal.predict_proba(feats)
        assert proba.shape == (len(feats), 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        hits.append(proba.argmax(axis=1) == cal.classes.index(kind))
        # the training items lie inside the thresholds (by construction, with margin)
        assert np.median(cal.distance(feats)) < cal.max_distance
        assert np.median(cal.error_z(errors, kind)) < cal.max_error_z
    # chance is 1/3; a tiny network after 3 epochs, so not perfect (one UCI muscle's
    # channel carries heart beats)
    assert np.concatenate(hits).mean() >= 0.75


def test_calibration_round_trips_through_a_model_file(fitted, tmp_path):
    fname = fitted.save(tmp_path / "m.specae")
    loaded = SpecAE.load(fname)
    a, b = fitted.calibration_, loaded.calibration_
    assert isinstance(b, Calibration)
    for key in ("mean", "scale", "coef", "intercept", "centres"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.error_reference == b.error_reference
    assert (a.max_distance, a.max_error_z) == (b.max_distance, b.max_error_z)


def test_a_model_without_calibration_saves_and_loads_without_one(labelled, tmp_path):
    est = SpecAE(**dict(TINY, max_epochs=1), verbose=False).fit(labelled[:1])
    loaded = SpecAE.load(est.save(tmp_path / "plain.specae"))
    assert getattr(loaded, "calibration_", None) is None


def test_calibrate_refuses_bad_labels_and_inputs(fitted, labelled):
    one_type = [labelled[0]]
    with pytest.raises(ValueError, match="at least two signal types"):
        calibrate(fitted, one_type, verbose=False)
    ep = labelled[1].copy()
    ep.metadata = ep.metadata.assign(signal_type="eog")
    with pytest.raises(ValueError, match=r"holds \['eog'\]"):
        calibrate(fitted, [labelled[0], ep], verbose=False)
    with pytest.raises(ValueError, match="no 'kind' metadata column"):
        calibrate(fitted, labelled, label="kind", verbose=False)
    with pytest.raises(TypeError, match="labelled mne.Epochs"):
        calibrate(fitted, np.zeros((2, 1, 2560)), verbose=False)


def test_calibration_checks_its_input_and_its_file_content(fitted):
    cal = fitted.calibration_
    with pytest.raises(ValueError, match="belongs to another model"):
        cal.predict_proba(np.zeros((2, cal.n_features + 1)))
    with pytest.raises(ValueError, match="No error reference for 'eog'"):
        cal.error_z([1.0], "eog")
    state = cal.to_dict()
    assert Calibration.from_dict(state).classes == cal.classes
    with pytest.raises(ValueError, match="reads version 1"):
        Calibration.from_dict(dict(state, version=99))
    with pytest.raises(ValueError, match=r"missing \['coef'\]"):
        Calibration.from_dict({k: v for k, v in state.items() if k != "coef"})
    with pytest.raises(ValueError, match="shapes do not match"):
        Calibration.from_dict(dict(state, classes=["ecg", "eeg"]))


def test_robust_location_is_the_median_and_scaled_mad():
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    median, spread = robust_location(values)
    assert median == 3.0
    assert spread == pytest.approx(1.4826 * 1.0)
    assert robust_location(np.ones(5))[1] == 1e-6  # floored, never zero


def test_calibrate_with_two_signal_types_gives_a_working_head(fitted, labelled, raw_by_name):
    """EEG + ECG only (the common lab case): scikit-learn's binary coef_ has one row;
    the head must still give two probabilities that sum to 1 and the right labels."""
    import copy

    from mne_specae import identify_channel_types
    from mne_specae.estimator.calibration import channel_items

    two = copy.copy(fitted)
    cal = calibrate(two, labelled[:2], verbose=False)
    assert two.calibration_ is cal and fitted.calibration_.classes == ["ecg", "eeg", "emg"]
    assert cal.classes == ["ecg", "eeg"]
    assert cal.coef.shape == (2, 16) and cal.intercept.shape == (2,)
    assert cal.n_items == {"ecg": 12, "eeg": 18}
    hits = []
    for ep, kind in zip(labelled[:2], cal.classes):
        feats, _, _ = channel_items(two, ep)
        proba = cal.predict_proba(feats)
        assert proba.shape == (len(feats), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        hits.append(proba.argmax(axis=1) == cal.classes.index(kind))
    assert np.concatenate(hits).mean() >= 0.9
    # the two rows are opposite halves of scikit-learn's single decision function
    np.testing.assert_allclose(cal.coef[0], -cal.coef[1])
    np.testing.assert_allclose(cal.intercept[0], -cal.intercept[1])
    # round trip through from_dict keeps it a 2-class head
    again = Calibration.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.predict_proba(feats), cal.predict_proba(feats))
    # identify_channel_types with the 2-type model: each channel gets its type
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 60)
    table = identify_channel_types(
        raw, model=two, max_segments=6, min_probability=0.5, verbose=False
    )
    assert set(table["second"]) <= {"ecg", "eeg"}
    known = table[table["predicted"] != "unknown"]
    assert len(known) >= 1 and (known["predicted"] == "ecg").all()
    np.testing.assert_allclose(known["probability"] + known["second_probability"], 1.0)
