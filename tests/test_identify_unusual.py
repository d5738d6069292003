"""annotate_unusual on recordings holding MNE's other channel types (issue 21): only
the channels the model has error references for are scored; the others are named
and counted, never dropped silently."""

import logging

import mne
import numpy as np
import pytest
import type_signals as ts

from mne_specae import annotate_unusual, load_pretrained


@pytest.fixture(scope="module")
def model():
    return load_pretrained(verbose=False)


def _psg(raw_by_name):
    """Two EEG channels of eegmat with a respiration belt, a pulse and a trigger."""
    eeg = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["Fz", "Cz"]).crop(0, 40)
    eeg.load_data()
    sfreq = eeg.info["sfreq"]
    rng = np.random.default_rng(0)
    n = eeg.n_times
    extra = np.array(
        [
            ts.breathing(sfreq, n / sfreq, rng)[:n],
            ts.ppg(sfreq, n / sfreq, rng)[:n],
            ts.trigger(sfreq, n / sfreq, rng)[:n],
        ]
    )
    info = mne.create_info(["Belt", "Pleth", "STI"], sfreq, ["resp", "bio", "stim"])
    others = mne.io.RawArray(extra, info, verbose=False)
    others.set_meas_date(eeg.info["meas_date"])
    return eeg.add_channels([others], force_update_info=True)


def test_other_types_picked_are_named_and_left_out(model, raw_by_name):
    raw = _psg(raw_by_name)
    with pytest.warns(RuntimeWarning, match=r"3 picked channel\(s\) not scored.*resp: Belt"):
        _, scores = annotate_unusual(raw, model=model, picks="all", return_scores=True)
    assert set(scores["channel"]) == {"Fz", "Cz"}
    assert scores["z"].notna().all()


def test_default_picks_count_the_other_types_in_the_log(model, raw_by_name, caplog):
    raw = _psg(raw_by_name)
    with caplog.at_level(logging.INFO, logger="mne"):
        _, scores = annotate_unusual(raw, model=model, return_scores=True, verbose=True)
    assert set(scores["channel"]) == {"Fz", "Cz"}
    assert "3 channel(s) not scored" in caplog.text
    assert "resp: 1 (Belt)" in caplog.text and "stim: 1 (STI)" in caplog.text


def test_only_other_types_picked_is_an_error(model, raw_by_name):
    raw = _psg(raw_by_name)
    with pytest.raises(ValueError, match=r"no error reference for 'resp'"):
        annotate_unusual(raw, model=model, picks=["Belt"])
    # signal_type scores them against a reference, as before
    _, scores = annotate_unusual(
        raw, model=model, picks=["Belt"], signal_type="ecg", return_scores=True
    )
    assert set(scores["channel"]) == {"Belt"}
