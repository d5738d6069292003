"""The model-free parts of channel-type identification (issue 21): the rules at the
channel's own rate and the rate-aware, scale-free features."""

import mne
import numpy as np
import pytest
import type_signals as ts
from scipy.signal import detrend, lfilter

from mne_specae import identify_channel_types, load_pretrained
from mne_specae.pretrained._signal_checks import (
    HELD_STIM,
    LEVELS_STIM,
    check_channel,
    linear_detrend,
    stim_levels,
)
from mne_specae.pretrained._type_decide import white_noise
from mne_specae.pretrained._type_eog import looks_like_eog
from mne_specae.pretrained._type_features import BANDS, FEATURE_NAMES, N_FEATURES, window_features


def _windows(x, sfreq, seconds=5.0):
    n = int(round(seconds * sfreq))
    return x[: len(x) // n * n].reshape(-1, n)


def test_linear_detrend_is_scipys():
    x = np.random.default_rng(0).normal(size=(3, 4, 1001)) + np.linspace(0, 5, 1001)
    np.testing.assert_allclose(linear_detrend(x), detrend(x, type="linear"), atol=1e-12)


def test_triggers_are_stim_quantised_slow_sensors_are_not():
    rng = np.random.default_rng(0)
    trig = _windows(ts.trigger(250.0, 60, rng), 250.0)
    assert stim_levels(trig)[0]
    reason, stats = check_channel(trig, 250.0, slow_ok=True)
    assert reason == HELD_STIM and stats["stim"]
    # an 8-level status code changing every 0.5 s (no baseline, levels skipped)
    codes = rng.choice([0, 3, 5, 7, 1, 6, 2, 4], size=120).repeat(125).astype(float)
    is_stim, stats = stim_levels(_windows(codes, 250.0))
    assert is_stim and stats["n_levels"] == 8 and stats["jumps"] > 0.5
    # a skin temperature in steps of 0.01 C at 4 Hz: held, but between neighbours
    temp = _windows(ts.temperature(4.0, 1800, rng), 4.0, 30.0)
    reason, stats = check_channel(temp, 4.0, slow_ok=True)
    assert reason == "" and not stats["stim"] and stats["held_fraction"] >= 0.5
    assert not stim_levels(temp)[0]
    # without a type head (slow_ok=False) it is unknown, as before, never stim
    reason, stats = check_channel(temp, 4.0)
    assert reason and not stats["stim"]
    # a noisy 0/5 V trigger: few levels with noise
    noisy = ts.trigger(500.0, 60, rng) + rng.normal(0, 1e-3, 30000)
    reason, stats = check_channel(_windows(noisy, 500.0), 500.0, slow_ok=True)
    assert reason == LEVELS_STIM and stats["stim"]


@pytest.mark.parametrize(
    "fn, sfreq", [(ts.breathing, 25.0), (ts.eda, 4.0), (ts.ppg, 64.0), (ts.accelerometer, 32.0)]
)
def test_slow_and_periodic_signals_pass_to_the_head(fn, sfreq):
    """With a type head, slow sensors and 1-3 Hz periodic signals are no 'tone' and
    not 'slow': the head decides. Without one, slow ones are unknown as before."""
    x = _windows(fn(sfreq, 120, np.random.default_rng(1)), sfreq)
    assert check_channel(x, sfreq, slow_ok=True)[0] == ""
    if fn is ts.eda:
        assert check_channel(x, sfreq)[0] != ""


def test_tones_stay_unknown_with_a_head():
    t = np.arange(500 * 30) / 500.0
    for freq in (1.0, 10.0, 50.0):
        reason, _ = check_channel(
            _windows(np.sin(2 * np.pi * freq * t), 500.0), 500.0, slow_ok=True
        )
        assert "tone" in reason, freq


def test_features_are_scale_free_rate_aware_and_named():
    rng = np.random.default_rng(2)
    x = np.array([ts.ppg(64.0, 30, rng) for _ in range(3)])
    f = window_features(x, 64.0)
    assert f.shape == (3, N_FEATURES) == (3, len(FEATURE_NAMES))
    np.testing.assert_allclose(window_features(1e-6 * x, 64.0), f, atol=1e-9, equal_nan=True)
    # bands above 0.8 x Nyquist are missing, the others present
    tops = np.array([hi for _, hi in BANDS])
    assert np.isnan(f[:, : len(BANDS)][:, tops > 0.8 * 32]).all()
    assert np.isfinite(f[:, : len(BANDS)][:, tops <= 0.8 * 32]).all()
    # the pulse's periodicity at heart lags, breathing's at breathing lags
    named = dict(zip(FEATURE_NAMES, f[0]))
    assert named["acf_heart"] > 0.5
    b = dict(zip(FEATURE_NAMES, window_features(ts.breathing(25.0, 30, rng)[None], 25.0)[0]))
    assert b["acf_breath"] > 0.4 and b["acf_heart"] < 0.2
    with pytest.raises(ValueError, match="2D"):
        window_features(np.zeros(10), 64.0)
    assert np.isnan(window_features(np.zeros((0, 100)), 64.0)).all()


def test_white_noise_and_eog_checks():
    rng = np.random.default_rng(3)
    for sfreq in (64.0, 256.0, 1000.0):
        f = window_features(rng.normal(size=(3, int(30 * sfreq))), sfreq)
        assert white_noise(np.median(f, axis=0)).startswith("white noise")
    eog = np.median(window_features(np.array([ts.eog(250.0, 30, rng)]), 250.0), axis=0)
    assert looks_like_eog(eog) and not white_noise(eog)
    assert not looks_like_eog(None) and white_noise(None) == ""


def test_an_unconnected_input_shaped_by_the_amplifier_is_noise_too():
    """Muse's unconnected AUX input is white noise shaped by the amplifier's filters
    (flatness 0.18-0.24, steady and Gaussian; 27 of 40 were called ``emg`` on the
    corpus): an AR(1) noise with the same flatness is ``unknown`` by the rule, in the
    full decision too (the developers' ECG, EEG and EMG channels, all at 0.31 or
    more, are checked by the recordings' tests). Before: the threshold 0.2 let it
    through to the heads."""
    sfreq = 256.0
    x = np.array(
        [
            lfilter([1.0], [1.0, -0.55], np.random.default_rng(s).normal(size=int(120 * sfreq)))
            for s in (0, 2)
        ]
    )
    for ch in x:
        med = np.median(window_features(ch.reshape(4, -1), sfreq), axis=0)
        flat = med[FEATURE_NAMES.index("flatness")]
        assert 0.2 < flat < 0.25
        assert white_noise(med).startswith("white noise")
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(["AUX1", "AUX2"], sfreq, "eeg"))
    table = identify_channel_types(raw, verbose=False)
    assert (table["predicted"] == "unknown").all()
    assert table["reason"].str.startswith("white noise").all()


def test_training_rows_at_lower_rates_and_on_shorter_windows():
    from mne_specae.pretrained._type_augment import AUGMENT_RATES, augment_features
    from mne_specae.pretrained._type_data import channel_label

    rng = np.random.default_rng(4)
    x = np.array([ts.ppg(1000.0, 30, rng) for _ in range(2)])
    rows, rates = augment_features(x, 1000.0)
    # every rate (250 Hz down to a wearable's 4 Hz), and one 10 s window per window
    assert rows.shape == (2 * len(AUGMENT_RATES) + 2, N_FEATURES)
    assert rates.tolist() == [r for r in AUGMENT_RATES for _ in range(2)] + [1000.0] * 2
    tops = np.array([hi for _, hi in BANDS])
    at_32 = rows[rates == 32.0, : len(BANDS)]
    assert np.isnan(at_32[:, tops > 0.8 * 16]).all()  # band-limited like a real 32 Hz PPG
    at_4 = rows[rates == 4.0, : len(BANDS)]
    assert np.isnan(at_4[:, tops > 0.8 * 2]).all() and np.isfinite(at_4[:, tops <= 1.5]).all()
    rows, rates = augment_features(x[:, :1000], 64.0)  # 32, 25, 16 and 4 Hz (15 s windows)
    assert rates.tolist() == [32.0, 32.0, 25.0, 25.0, 16.0, 16.0, 4.0, 4.0]
    rows, rates = augment_features(x[:, :90], 5.0)  # 18 s: no 10 s window pair
    assert rows.shape == (0, N_FEATURES) and rates.shape == (0,)
    assert channel_label("bio", "ppg") == "bio/ppg"
    assert channel_label("misc", "unconnected") == "unknown/unconnected"
    assert channel_label("ecg", "ecg") == channel_label("ecg", "lead II") == "ecg"
    assert channel_label("eog", "eog") == "eog" and channel_label("stim", "trigger") == ""


def test_the_type_head_and_the_low_rate_head_learn_from_their_own_rates():
    """The type head learns from a channel's own windows and its rows at 250, 100 and
    32 Hz (as before the low-rate head: taught 25-4 Hz as well it named more of MNE's
    short EEG test files EOG); the low-rate head from its rows below 37.5 Hz, and
    never from ECG, EEG, EMG or EOG (a head taught an ECG at 4 Hz calls a 4 Hz
    plethysmogram ECG)."""
    from mne_specae.pretrained._type_augment import LOW_ONLY_RATES, augment_features
    from mne_specae.pretrained._type_data import training_rows

    rng = np.random.default_rng(5)
    x = np.array([ts.ppg(1000.0, 30, rng) for _ in range(2)])
    feats = window_features(x, 1000.0)
    extra, rates = augment_features(x, 1000.0)
    ch = dict(features=feats, features_aug=extra, rates_aug=rates, sfreq=1000.0)
    main = training_rows(ch, "bio")
    np.testing.assert_array_equal(
        main, np.concatenate([feats, extra[~np.isin(rates, LOW_ONLY_RATES)]])
    )
    assert len(main) == 2 + 2 * 3 + 2  # own, 250, 100 and 32 Hz, the 10 s windows
    np.testing.assert_array_equal(training_rows(ch, "ecg"), main)  # every type alike
    low = training_rows(ch, "bio", low_rate=True)
    np.testing.assert_array_equal(low, extra[rates < 37.5])
    assert len(low) == 2 * 4  # 32, 25, 16 and 4 Hz
    for fast in ("ecg", "eeg", "emg", "eog"):
        assert training_rows(ch, fast, low_rate=True).shape == (0, N_FEATURES)
    # a channel recorded below 37.5 Hz: its own windows teach the low-rate head too
    slow = dict(features=feats, features_aug=extra[:0], rates_aug=rates[:0], sfreq=25.0)
    np.testing.assert_array_equal(training_rows(slow, "resp", low_rate=True), feats)
    # ... and none of the type head's, whatever its type, below 32 Hz: taught 4-8 Hz rows
    # (every band above 3.2 Hz missing), it called most of UCI's gesture EMG temperature
    for kind in ("resp", "temperature", "gsr", "ecg"):
        assert training_rows(slow, kind).shape == (0, N_FEATURES)
    at_32 = dict(slow, sfreq=32.0)  # (a wearable's accelerometer: the type head's too)
    np.testing.assert_array_equal(training_rows(at_32, "misc"), feats)
    assert training_rows(at_32, "eeg").shape == (0, N_FEATURES)
    # data collected before the rates were kept: every row, and no low-rate head
    del ch["rates_aug"]
    assert len(training_rows(ch, "ecg")) == len(feats) + len(extra)
    assert training_rows(ch, "bio", low_rate=True).shape == (0, N_FEATURES)
    ch["features_aug"] = None
    assert training_rows(ch, "ecg") is feats


def test_a_coarse_slow_sensor_held_for_seconds_is_not_flat():
    """A wrist temperature in 0.2 degree steps at 8 Hz holds each level for seconds:
    most 5 s windows are constant, at several levels. It is a slow sensor for the heads
    (the Non-EEG dataset's temperatures were ``flat`` before), while a channel constant
    at one level, or dead for most windows at one level, stays ``flat``."""
    from mne_specae.pretrained._signal_checks import check_channel

    rng = np.random.default_rng(7)
    steps = np.repeat(rng.choice([-0.2, 0.0, 0.0, 0.2], 60), 80)  # a new level every 10 s
    temp = 31.0 + np.cumsum(np.where(np.arange(steps.size) % 80 == 0, steps, 0.0))
    windows = temp[: temp.size // 40 * 40].reshape(-1, 40)  # 5 s windows at 8 Hz
    assert (windows.std(axis=1) == 0).mean() >= 0.5 and len(np.unique(temp)) > 2
    reason, stats = check_channel(windows, 8.0, slow_ok=True)
    assert reason != "flat" and stats["flat_fraction"] >= 0.5
    assert check_channel(np.full_like(windows, 31.0), 8.0, slow_ok=True)[0] == "flat"
    dead = np.zeros_like(windows)
    dead[::4] = rng.normal(0, 1e-5, dead[::4].shape)  # a loose contact: mostly dead at 0
    assert check_channel(dead, 8.0, slow_ok=True)[0] == "flat"


def test_bands_above_the_recordings_low_pass_are_missing(raw_by_name):
    """eegmat's EDF declares a 45 Hz low-pass: the features leave the bands above it out
    (as those above 0.8 x Nyquist), so the head does not read "no gamma" from a filter;
    the same channel declared unfiltered has them, and the bands below are unchanged."""
    from mne_specae.pretrained._type_channels import collect_channels

    model = load_pretrained(verbose=False)
    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["O1"]).crop(0, 60)
    assert raw.info["lowpass"] == 45.0
    names = np.array(FEATURE_NAMES)
    # 40-70 and 70-120 Hz (120-250 Hz lies above 0.8 x Nyquist at 500 Hz anyway)
    above = [n.startswith("logrel") and 45 < float(n.rsplit("_", 1)[1]) <= 200 for n in names]
    below = [n.startswith("logrel") and float(n.rsplit("_", 1)[1]) <= 25 for n in names]
    (ch,), _ = collect_channels(raw, [0], model, 4, slow_ok=True)
    assert np.isnan(ch["median"][above]).all() and np.isfinite(ch["median"][below]).all()
    open_band = raw.copy()
    with open_band.info._unlock():
        open_band.info["lowpass"] = open_band.info["sfreq"] / 2
    (ch_open,), _ = collect_channels(open_band, [0], model, 4, slow_ok=True)
    assert np.isfinite(ch_open["median"][above]).all()
    # the relative powers below 25 Hz only change by the total they are relative to
    shift = ch["median"][below] - ch_open["median"][below]
    np.testing.assert_allclose(shift, shift[0], atol=0.02)
    assert raw.info["lowpass"] == 45.0  # the caller's data unchanged


def test_rows_for_the_low_rate_head_keep_a_slow_sensors_offset():
    """The rows only the low-rate head learns from (25, 16, 4 Hz) are resampled with
    each window's mean beyond its edges: a skin temperature at 33 degrees sampled at
    4 Hz shows no step at a window's edge, and its row is what such a sensor gives.
    Zeros there (as for the other rows) made two steps of the offset."""
    from mne_specae.pretrained._type_augment import AUGMENT_RATES, LOW_ONLY_RATES, augment_features
    from mne_specae.pretrained._type_windows import at_rate

    rng = np.random.default_rng(8)
    sfreq = 32.0
    t = np.arange(int(60 * sfreq)) / sfreq
    slow = np.cumsum(rng.normal(size=t.size)) * 0.002
    x = (33.0 + 0.1 * np.sin(2 * np.pi * t / 50) + slow - slow.mean())[np.newaxis]
    extra, rates = augment_features(x, sfreq)
    assert sorted(set(rates)) == sorted({r for r in AUGMENT_RATES if sfreq >= 1.5 * r} | {sfreq})
    row = extra[rates == 4.0][0]
    assert 4.0 in LOW_ONLY_RATES
    sampled = window_features(x[:, ::8], 4.0)[0]  # a sensor sampled at 4 Hz
    zeros = window_features(at_rate(x, sfreq, 4.0, padtype="constant")[0], 4.0)[0]
    for name in ("skew", "log_kurtosis", "trend_share", "envelope_cv", "log_level"):
        k = FEATURE_NAMES.index(name)
        assert abs(row[k] - sampled[k]) < 0.1, name
        assert abs(zeros[k] - sampled[k]) > 0.4, name
