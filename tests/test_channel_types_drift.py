"""Channel types of DC-coupled recordings (issue 21): a slow drift or an amplifier's
settling transient, far larger than the EEG, changes no channel's type. The type head
learns it from drifted copies of its ECG, EEG and EMG training windows, and the EOG
check spares an electrode that moves with its peers and keeps its rhythm above the
drift."""

import numpy as np
import pytest
import type_signals as ts
from scipy.signal import welch

from mne_specae import identify_channel_types
from mne_specae.pretrained._type_augment import (
    AUGMENT_SECONDS,
    BIOPOTENTIAL_SECONDS,
    DRIFT_SCALE,
    add_drift,
    biopotential_features,
    training_augment,
)
from mne_specae.pretrained._type_data import training_rows
from mne_specae.pretrained._type_eog import drifting_cap_electrode, looks_like_eog
from mne_specae.pretrained._type_features import N_FEATURES, window_features
from mne_specae.pretrained._type_windows import DRIFT_HIGHPASS, without_drift


def test_a_drift_is_slow_as_large_as_asked_and_leaves_the_windows_alone():
    rng = np.random.default_rng(0)
    sfreq = 250.0
    x = rng.normal(size=(40, int(10 * sfreq)))
    before = x.copy()
    y = add_drift(x, sfreq, np.random.default_rng(1))
    assert np.array_equal(x, before) and y.shape == x.shape and y.dtype == np.float64
    drift = y - x
    ratio = drift.std(axis=1) / x.std(axis=1)
    assert ratio.min() >= DRIFT_SCALE[0] - 1e-9 and ratio.max() <= DRIFT_SCALE[1] + 1e-6
    assert ratio.max() / ratio.min() > 10  # spread over the range, not one scale
    freqs, psd = welch(drift, sfreq, nperseg=drift.shape[1])
    below = psd[:, freqs < 1.5].sum(axis=1) / psd.sum(axis=1)
    assert np.median(below) > 0.98 and below.min() > 0.8  # a drift, not a signal
    again = add_drift(x, sfreq, np.random.default_rng(1))
    assert np.array_equal(y, again)  # the same rows on every run


def test_shorter_and_drifted_rows_teach_only_ecg_eeg_and_emg():
    rng = np.random.default_rng(2)
    sfreq = 250.0
    x = rng.normal(size=(2, int(30 * sfreq)))
    rows = biopotential_features(x, sfreq)
    # the 5 s windows, then each window and each of its 10 and 5 s windows drifted
    assert BIOPOTENTIAL_SECONDS == (5.0,) and AUGMENT_SECONDS == (10.0,)
    assert rows.shape == (2 * (1 + 1 + 2), N_FEATURES)
    np.testing.assert_array_equal(rows[:2], window_features(x[:, : int(5 * sfreq)], sfreq))
    assert np.array_equal(rows, biopotential_features(x, sfreq), equal_nan=True)
    drifted = rows[2:4]
    assert not np.allclose(drifted, window_features(x, sfreq), equal_nan=True)
    ch = training_augment(x, sfreq)
    assert set(ch) == {"features_aug", "rates_aug", "features_biopotential"}
    ch.update(features=window_features(x, sfreq), sfreq=sfreq)
    n_plain = len(training_rows(ch, "resp"))
    for ch_type in ("ecg", "eeg", "emg"):
        got = training_rows(ch, ch_type)
        assert len(got) == n_plain + len(rows)
        np.testing.assert_array_equal(got[n_plain:], rows)
    for ch_type in ("eog", "resp", "gsr", "temperature", "bio", "misc", "unknown"):
        assert len(training_rows(ch, ch_type)) == n_plain
    assert len(training_rows(ch, "eeg", low_rate=True)) == 0
    del ch["features_biopotential"]  # data collected before these rows: as they were
    assert len(training_rows(ch, "eeg")) == n_plain
    assert biopotential_features(x[:, :4], sfreq).shape == (0, N_FEATURES)
    # 8 s: no 5 s window pair, the drifted window only
    assert len(biopotential_features(x[:, : int(8 * sfreq)], sfreq)) == 2


def test_the_eog_check_spares_a_drifting_cap_electrode(raw_by_name):
    """Under a drift almost all of a channel's power lies below 6 Hz, as with blinks.
    An electrode that moves with its peers and keeps alpha and beta above 0.4 Hz is
    not EOG-like; an EOG, with or without peers, still is."""
    raw = ts.drifting(raw_by_name["eeg/eegmat/Subject00_1"], 60.0, 30.0, "walk")
    sfreq = raw.info["sfreq"]
    x = raw.get_data(picks=["Fz", "Cz", "Pz", "O1"])
    peers = np.array([[0.9, 0.8]])
    for ch in x:
        alone = window_features(ch[None], sfreq)[0]
        with_peers = window_features(ch[None], sfreq, context=peers)[0]
        assert looks_like_eog(alone) and not looks_like_eog(with_peers)
        assert drifting_cap_electrode(with_peers) and not drifting_cap_electrode(alone)
    few = window_features(x[:1], sfreq, context=np.array([[0.6, 0.3]]))[0]
    assert looks_like_eog(few)  # one correlated neighbour is no cap
    eog = ts.eog(sfreq, 30, np.random.default_rng(3))
    drifted = add_drift(eog[None], sfreq, np.random.default_rng(4))
    for y in (eog[None], drifted):
        assert looks_like_eog(window_features(y, sfreq, context=peers)[0])


@pytest.mark.parametrize(
    ("drift", "seconds", "times_sd"),
    [("walk", 30.0, 20.0), ("walk", 120.0, 20.0), ("settle", 10.0, 50.0)],
)
def test_eeg_under_a_drift_is_still_eeg(raw_by_name, drift, seconds, times_sd):
    """eegmat EEG over a DC offset, under an electrode's slow wander or after an
    amplifier's start: with the heads shipped before, breathing, EDA or ``unknown``
    ("EEG or EOG", "too short to tell gsr")."""
    raw = ts.drifting(raw_by_name["eeg/eegmat/Subject00_1"], 60.0, seconds, drift, times_sd)
    before = raw.get_data()
    table = identify_channel_types(raw, verbose=False)
    np.testing.assert_array_equal(raw.get_data(), before)
    assert (table["predicted"] == "eeg").mean() >= 0.8, table[["predicted", "reason"]]
    assert not table["predicted"].isin(["ecg", "emg", "gsr", "resp", "bio"]).any()


def test_the_encoder_sees_the_windows_without_their_drift():
    sfreq = 512.0
    t = np.arange(int(5 * sfreq)) / sfreq
    signal = np.sin(2 * np.pi * 10 * t) + 0.5 * np.sin(2 * np.pi * 2 * t)
    drift = 100 * np.exp(-t / 1.5) + 50 * np.sin(2 * np.pi * 0.1 * t) + 30
    items = np.stack([signal + drift, signal, np.full_like(t, np.nan)])[np.newaxis]
    before = items.copy()
    out = without_drift(items, sfreq)
    np.testing.assert_array_equal(items, before)  # the caller's windows are not changed
    assert out.shape == items.shape and out.dtype == np.float64
    assert np.isnan(out[0, 2]).all()  # an unusable window stays unusable
    inner = slice(int(sfreq), -int(sfreq))  # away from the filter's edges
    # 10 Hz and 2 Hz (the encoder's lowest band) pass, the drift (1-100 x) is gone
    np.testing.assert_allclose(out[0, 1, inner], signal[inner], atol=0.03)
    residual = out[0, 0, inner] - signal[inner]
    assert residual.std() < 0.02 * drift[inner].std() and np.abs(residual).max() < 0.5
    assert DRIFT_HIGHPASS == 0.5
    # windows too short for the filter lose their mean only
    short = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(without_drift(short, sfreq), [[-1.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("name", "ch_type", "drift", "seconds", "times_sd"),
    [
        ("emg/uci_lower_limb/3Amar", "emg", "settle", 10.0, 20.0),
        ("emg/uci_lower_limb/3Amar", "emg", "walk", 30.0, 20.0),
        ("ecg/mitdb/100", "ecg", "walk", 60.0, 100.0),
    ],
)
def test_emg_and_ecg_under_a_drift_keep_their_type(
    raw_by_name, name, ch_type, drift, seconds, times_sd
):
    """Leg EMG after an amplifier's start or under a wander: with the heads shipped
    before, ``ecg`` or ``unknown`` for every channel (the encoder's lowest bands held
    the drift, its 60 dB range erased the EMG)."""
    raw = ts.drifting(raw_by_name[name], 5.0, seconds, drift, times_sd)
    table = identify_channel_types(raw, verbose=False)
    assert (table["predicted"] == ch_type).mean() >= 0.75, table[["predicted", "reason"]]
    others = {"ecg", "eeg", "emg"} - {ch_type}
    assert not table["predicted"].isin(others).any(), table[["predicted", "reason"]]


def test_the_channel_head_also_learns_each_channels_drifted_windows():
    """Besides its own windows, the channel head learns one row per block of a
    channel's 5 s and drifted windows (their median features, its own embedding): the
    rate-aware features it reads move under a drift, the high-passed items do not."""
    from mne_specae.pretrained._type_fit import _block_medians

    rng = np.random.default_rng(3)
    sfreq = 250.0
    x = rng.normal(size=(2, int(30 * sfreq)))
    feats = window_features(x, sfreq)
    extra = biopotential_features(x, sfreq)
    medians = _block_medians(dict(features=feats, features_biopotential=extra))
    # the 5 s windows, then the windows and their 10 s and 5 s windows drifted
    assert len(medians) == 4 and all(m.shape == (N_FEATURES,) for m in medians)
    np.testing.assert_allclose(medians[0], np.nanmedian(extra[:2], axis=0))
    np.testing.assert_allclose(medians[3], np.nanmedian(extra[6:], axis=0))
    assert _block_medians(dict(features=feats)) == []  # data collected before them
    assert _block_medians(dict(features=feats, features_biopotential=extra[:3])) == []
