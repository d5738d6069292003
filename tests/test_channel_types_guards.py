"""Physics checks of channel-type identification (issue 21): a rectified envelope is
``misc`` (kind ``"envelope"``), a smooth or beating channel is no ECG, EEG or EMG."""

import warnings

import mne
import numpy as np
import pytest
import type_signals as ts
from scipy.ndimage import uniform_filter1d

from mne_specae import collect_type_data, identify_channel_types, load_pretrained
from mne_specae.pretrained._signal_checks import ENVELOPE, HELD_STIM, check_channel
from mne_specae.pretrained._type_decide import type_probabilities
from mne_specae.pretrained._type_eog import declared_eog, eog_guard
from mne_specae.pretrained._type_features import FEATURE_NAMES, window_features
from mne_specae.pretrained._type_fit import MIN_LABEL_CHANNELS, fit_type_head
from mne_specae.pretrained._type_guards import (
    BIO_MAX_FAST,
    BIO_MIN_HEART,
    BIOPOTENTIAL_FAST,
    BIOPOTENTIAL_MIN_RATE,
    EEG_MAX_HEART,
    SLOW_MIN_SECONDS,
    fast_share,
    pulse_guard,
    rate_guard,
    slow_guard,
    smooth_guard,
)


def _windows(x, sfreq, seconds=5.0):
    n = int(round(seconds * sfreq))
    return x[: len(x) // n * n].reshape(-1, n)


def _rms(x, sfreq, seconds=0.1):
    """A moving-RMS envelope (what EMG software exports as the "envelope")."""
    return np.sqrt(uniform_filter1d(x**2, int(round(seconds * sfreq)), axis=-1))


def _median_features(x, sfreq, seconds=30.0):
    with warnings.catch_warnings():  # "All-NaN slice": bands above Nyquist
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(window_features(_windows(x, sfreq, seconds), sfreq), axis=0)


def test_envelopes_of_real_emg_are_rectified_envelopes(raw_by_name):
    """Moving-RMS envelopes of the sample's gait EMG: where the muscle rests in each
    stride (three of the four channels) they are envelopes; the continuously active
    one sits far above zero and is left to the head; no signed EMG is one."""
    raw = raw_by_name["emg/uci_lower_limb/3Amar"]
    sfreq = raw.info["sfreq"]
    found = []
    for x in raw.get_data(picks="emg"):
        reason, stats = check_channel(_windows(_rms(x, sfreq), sfreq), sfreq, slow_ok=True)
        found.append(reason == ENVELOPE)
        assert stats["envelope"] == found[-1] and not stats["stim"]
        if found[-1]:
            assert 0 <= stats["floor"] < 0.3 and stats["rest"] < 1.5
        else:
            assert reason == "" and stats["floor"] >= 0.3
        reason, stats = check_channel(_windows(x, sfreq), sfreq, slow_ok=True)
        assert reason == "" and not stats["envelope"] and stats["floor"] < -1
    assert found == [False, True, True, True]


def test_beating_and_oscillating_signals_at_zero_are_no_envelopes():
    """A pulse wave whose troughs touch zero passes the amplitude checks, but it beats
    like a pulse; one with dropouts to zero keeps its floor; a respiration oscillates
    about its mean; a trigger resting at zero is a stimulus channel first."""
    rng = np.random.default_rng(3)
    ppg = ts.ppg(64.0, 120, rng)
    reason, stats = check_channel(_windows(ppg - ppg.min(), 64.0), 64.0, slow_ok=True)
    assert reason == "" and not stats["envelope"]
    assert stats["floor"] < 0.3 and stats["rest"] < 1.5 and stats["periodic"] > 0.7
    # dropouts to exactly zero do not make a zero floor
    dropped = ppg - ppg.min() + 1.0
    dropped[::50] = 0.0
    reason, stats = check_channel(_windows(dropped, 64.0), 64.0, slow_ok=True)
    assert reason == "" and stats["floor"] > 1
    resp = ts.breathing(25.0, 120, rng)
    reason, stats = check_channel(_windows(resp - resp.min(), 25.0), 25.0, slow_ok=True)
    assert reason == "" and stats["rest"] > 1.5
    trigger = ts.trigger(250.0, 60, rng)
    reason, stats = check_channel(_windows(trigger, 250.0), 250.0, slow_ok=True)
    assert reason == HELD_STIM and stats["stim"] and not stats["envelope"]


@pytest.fixture(scope="module")
def model():
    return load_pretrained(verbose=False)


def test_identify_types_an_envelope_misc_beside_its_emg(raw_by_name, model):
    """An EDF-like file: two EMG channels and their envelopes, all typed EEG."""
    raw = raw_by_name["emg/uci_lower_limb/3Amar"].copy().pick("emg")
    sfreq = raw.info["sfreq"]
    names = raw.ch_names[1:3]  # muscles that rest in each stride (see above)
    x = raw.get_data(picks=names)
    data = np.concatenate([x, _rms(x, sfreq)])
    env_names = [f"{n} env" for n in names]
    info = mne.create_info(names + env_names, sfreq, "eeg")
    edf_like = mne.io.RawArray(data, info, verbose=False)
    table = identify_channel_types(edf_like, model=model, max_segments=12, verbose=False)
    assert table.loc[env_names, "predicted"].eq("misc").all(), table[["predicted", "reason"]]
    assert table.loc[env_names, "kind"].eq("envelope").all()
    assert table.loc[env_names, "reason"].eq(ENVELOPE).all()
    assert table.loc[env_names, "probability"].isna().all()  # no model was asked
    assert (table.loc[env_names, "floor"] < 0.3).all() and table["rest"].notna().all()
    assert table.loc[names, "predicted"].eq("emg").all(), table[["predicted", "reason"]]
    with warnings.catch_warnings():  # MNE: the unit changes from V to NA: intended
        warnings.simplefilter("ignore", RuntimeWarning)
        edf_like.set_channel_types(table["ch_type"].to_dict(), verbose=False)
    assert edf_like.get_channel_types() == ["emg", "emg", "misc", "misc"]


def _answer(predicted):
    return dict(predicted=predicted, reason="", probability=0.99)


def test_smooth_channels_are_no_biopotentials(raw_by_name):
    """A real ECG has its QRS above 10 Hz; the same ECG low-passed at 4 Hz (as smooth
    as a pulse wave) keeps its beats but is no longer a biopotential."""
    ecg = raw_by_name["ecg/mitdb/100"].get_data(picks="MLII")[0]
    real = _median_features(ecg, 360.0)
    assert fast_share(real) > 10 * BIOPOTENTIAL_FAST
    assert smooth_guard(_answer("ecg"), {}, real)["predicted"] == "ecg"
    smooth = mne.filter.filter_data(ecg, 360.0, None, 4.0, verbose=False)
    feats = _median_features(smooth, 360.0)
    assert fast_share(feats) < BIOPOTENTIAL_FAST
    for answer in ("ecg", "eeg", "emg"):
        row = smooth_guard(_answer(answer), {"bio": 0.3, "ecg": 0.6}, feats)
        assert row["predicted"] == "unknown"
        assert row["reason"].startswith(f"too smooth for {answer.upper()}")
        assert "next guess: bio 0.30" in row["reason"]
    # other answers, and rates with no band above 10 Hz, are left alone
    assert smooth_guard(_answer("bio"), {}, feats)["predicted"] == "bio"
    slow = _median_features(ts.ppg(16.0, 120, np.random.default_rng(0)), 16.0)
    assert np.isnan(fast_share(slow))
    assert smooth_guard(_answer("ecg"), {}, slow)["predicted"] == "ecg"


def test_eeg_does_not_beat(raw_by_name):
    """A noisy arterial pressure (its noise floor puts more than 1 % of the power above
    10 Hz) beats at the heart rate: not EEG; real EEG does not beat."""
    rng = np.random.default_rng(5)
    abp = ts.abp(250.0, 120, rng) + rng.normal(0, 3.0, 30000)
    feats = _median_features(abp, 250.0)
    assert fast_share(feats) > BIOPOTENTIAL_FAST
    row = smooth_guard(_answer("eeg"), {}, feats)
    assert row["predicted"] == "unknown" and row["reason"].startswith("beats like a heart")
    assert smooth_guard(_answer("ecg"), {}, feats)["predicted"] == "ecg"  # ECG beats
    raw = raw_by_name["eeg/eegmat/Subject00_1"]
    for x in raw.get_data(picks="eeg")[:4]:
        real = _median_features(x, raw.info["sfreq"])
        assert real[FEATURE_NAMES.index("acf_heart")] < EEG_MAX_HEART
        assert smooth_guard(_answer("eeg"), {}, real)["predicted"] == "eeg"


def test_envelopes_teach_the_type_head_but_only_the_rule_names_them(raw_by_name, model):
    """Rectified envelopes decided by the rule still give the type head rows (labelled
    ``misc/emg_envelope``), but the head never answers that label; a label of fewer
    than MIN_LABEL_CHANNELS channels is not learned at all."""
    raw = raw_by_name["emg/uci_lower_limb/3Amar"].copy().pick("emg")
    sfreq = raw.info["sfreq"]
    env = _rms(raw.get_data()[1:], sfreq)
    names = [f"env{k}" for k in range(len(env))]
    envelopes = mne.io.RawArray(env, mne.create_info(names, sfreq, "misc"), verbose=False)
    rng = np.random.default_rng(7)
    slow = [  # (at 50 Hz: a channel below 37.5 Hz teaches the low-rate head only)
        mne.io.RawArray(
            np.array([fn(50.0, 120, rng) for _ in range(3)]),
            mne.create_info([f"{t}{k}" for k in range(3)], 50.0, t),
            verbose=False,
        )
        for fn, t in ((ts.breathing, "resp"), (ts.eda, "gsr"))
    ]
    data = collect_type_data(
        model,
        [envelopes, raw, *slow],
        kinds=[dict.fromkeys(names, "emg_envelope"), None, None, None],
        sources=["unibo-like", "gait", "belt", "skin"],
        max_segments=4,
        verbose=False,
    )
    rules = data.table.set_index("channel")["rule"]
    assert (rules[names] == ENVELOPE).all() and (rules.drop(index=names) == "").all()
    head = fit_type_head(data)
    assert "misc/emg_envelope" in head.labels  # learned beside the others ...
    for ch in data.channels:
        labels, types = type_probabilities(head, ch["features"])
        assert "misc/emg_envelope" not in labels  # ... never answered
        np.testing.assert_allclose(sum(labels.values()), 1.0)
        np.testing.assert_allclose(sum(types.values()), 1.0)
    # two EDA channels are too few to learn from
    fewer = data.subset(data.table["channel"].to_numpy() != "gsr2")
    assert "gsr" not in fit_type_head(fewer).labels and "gsr" in head.labels
    assert MIN_LABEL_CHANNELS == 3


def test_the_type_heads_eog_suspicion_needs_a_missing_rhythm(raw_by_name):
    """The type head's EOG probability alone does not overrule an EEG answer: a real
    EEG channel with its alpha and beta stays EEG, an EOG-like channel without them
    becomes unknown."""
    types = {"eog": 0.55, "eeg": 0.4, "ecg": 0.05}
    raw = raw_by_name["eeg/eegmat/Subject00_1"]
    eeg = _median_features(raw.get_data(picks="eeg")[8], raw.info["sfreq"])
    assert eog_guard(_answer("eeg"), types, eeg)["predicted"] == "eeg"
    eog = _median_features(ts.eog(250.0, 120, np.random.default_rng(2)), 250.0)
    row = eog_guard(_answer("eeg"), types, eog)
    assert row["predicted"] == "unknown"
    assert row["reason"].startswith("EEG or EOG (the type head gives EOG 0.55")
    # without the type head's suspicion the physics check still applies
    assert eog_guard(_answer("eeg"), {"eeg": 0.9, "eog": 0.0}, eog)["predicted"] == "unknown"


def test_a_pulse_answer_needs_a_beat_and_a_smooth_wave(raw_by_name):
    """A ``bio`` answer (PPG, arterial pressure) stays for a smooth wave that beats
    with the heart: synthetic PPG at a wearable's 64 Hz and pressure at 250 Hz. Real
    EEG does not beat (the corpus's wrong ``bio`` answers were EEG of MNE's short test
    files), and a real ECG beats but has its QRS far above 10 Hz: both ``unknown``."""
    rng = np.random.default_rng(3)
    ecg = raw_by_name["ecg/mitdb/100"].get_data(picks="MLII")[0]
    pulses = {
        "ppg": _median_features(ts.ppg(64.0, 120, rng), 64.0),
        "abp": _median_features(ts.abp(250.0, 120, rng), 250.0),
    }
    for name, feats in pulses.items():
        assert feats[FEATURE_NAMES.index("acf_heart")] >= BIO_MIN_HEART, name
        assert fast_share(feats) <= BIO_MAX_FAST, name
        assert pulse_guard(_answer("bio"), feats)["predicted"] == "bio", name
    raw = raw_by_name["eeg/eegmat/Subject00_1"]
    for x in raw.get_data(picks="eeg")[:4]:
        feats = _median_features(x, raw.info["sfreq"])
        row = pulse_guard(dict(_answer("bio"), kind="ppg"), feats)
        assert (row["predicted"], row["kind"]) == ("unknown", "")
        assert row["reason"].startswith(("does not beat", "too fast for a pulse"))
        assert row["reason"].endswith("the features' guess was bio/ppg (0.99)")
    feats = _median_features(ecg, 360.0)
    assert feats[FEATURE_NAMES.index("acf_heart")] >= BIO_MIN_HEART  # it beats ...
    row = pulse_guard(_answer("bio"), feats)
    assert row["predicted"] == "unknown" and row["reason"].startswith("too fast for a pulse")
    flat_eeg = _median_features(raw.get_data(picks="eeg")[0], raw.info["sfreq"])
    assert flat_eeg[FEATURE_NAMES.index("acf_heart")] < BIO_MIN_HEART
    assert pulse_guard(_answer("bio"), flat_eeg)["reason"].startswith("does not beat")
    # other answers are left alone
    for answer in ("ecg", "eeg", "resp", "misc"):
        assert pulse_guard(_answer(answer), feats)["predicted"] == answer
    # no features (no finite window), or none that say: the answer stands
    assert pulse_guard(_answer("bio"), None)["predicted"] == "bio"
    missing = np.full_like(feats, np.nan)
    assert pulse_guard(_answer("bio"), missing)["predicted"] == "bio"


def test_a_length_just_short_of_the_minimum_is_not_shown_as_the_minimum():
    """A knee goniometer of 19.7 s (UCI 10Asen) read "too short to tell resp (20 s of
    signal; ... need at least 20 s)": the length is now rounded down."""
    row = slow_guard(dict(_answer("resp"), kind="respiration"), 19.96)
    assert row["predicted"] == "unknown"
    assert row["reason"].startswith("too short to tell resp (19.9 s of signal;")
    assert slow_guard(_answer("resp"), 12.0)["reason"].startswith("too short to tell resp (12 s")
    assert slow_guard(_answer("resp"), SLOW_MIN_SECONDS)["predicted"] == "resp"


def test_a_biopotential_answer_needs_a_rate_that_carries_it():
    """ECG, EEG and EMG show in their power above 10 Hz: an answer at a rate without
    that band becomes ``unknown`` with the rate and the guess."""
    row = rate_guard(_answer("ecg"), 32.0)
    assert (row["predicted"], row["kind"]) == ("unknown", "")
    assert row["reason"].startswith("sampled too slowly for ECG (32 Hz;")
    assert row["reason"].endswith(
        f"at least {BIOPOTENTIAL_MIN_RATE:g} Hz): the model's guess was ecg (0.99)"
    )
    assert BIOPOTENTIAL_MIN_RATE == 37.5  # the 10-15 Hz band below 0.8 x Nyquist
    assert rate_guard(_answer("eeg"), 4.0)["predicted"] == "unknown"
    assert rate_guard(_answer("emg"), 25.0)["predicted"] == "unknown"
    for answer in ("ecg", "eeg", "emg"):
        assert rate_guard(_answer(answer), 37.5)["predicted"] == answer
        assert rate_guard(_answer(answer), 64.0)["predicted"] == answer
    for answer in ("bio", "resp", "gsr", "temperature", "misc", "eog", "unknown"):
        assert rate_guard(_answer(answer), 4.0)["predicted"] == answer
    assert rate_guard(_answer("ecg"), None)["predicted"] == "ecg"


@pytest.mark.parametrize("sfreq", [4.0, 16.0, 25.0, 32.0])
def test_a_wearables_rates_give_no_biopotential(raw_by_name, model, sfreq):
    """A wearable's PPG, pressure, breathing, motion, EDA and temperature, and a real
    ECG, at 4-32 Hz: whatever else they are called, never ECG, EEG or EMG (before the
    rate guard and the low-rate head, the pressure wave at 25 and 32 Hz came out ECG with
    probability 1.00, this ECG at 16-32 Hz too, with a warning that the answer is less
    reliable)."""
    rng = np.random.default_rng(0)
    ecg = raw_by_name["ecg/mitdb/100"].copy().pick(["MLII"]).crop(0, 120)
    ecg = ecg.load_data().resample(sfreq).get_data()[0]
    chans = {
        "PPG": ts.ppg(sfreq, 120, rng),
        "ABP": ts.abp(sfreq, 120, rng),
        "RESP": ts.breathing(sfreq, 120, rng),
        "ACC": ts.accelerometer(sfreq, 120, rng),
        "EDA": ts.eda(sfreq, 120, rng),
        "TEMP": ts.temperature(sfreq, 120, rng),
        "ECG": ecg[: int(120 * sfreq)],
    }
    raw = mne.io.RawArray(
        np.array(list(chans.values())), mne.create_info(list(chans), sfreq, "misc")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = identify_channel_types(raw, model=model, verbose=False)
    assert not table["predicted"].isin(["ecg", "eeg", "emg"]).any(), table[["predicted", "reason"]]
    # too slow for any biopotential: the rate guard answers, no warning of a guess
    assert not [w for w in caught if "less reliable" in str(w.message)]
    assert (table["ch_type"] != "ecg").all()


def test_a_channel_the_recording_declares_eog_is_never_answered_eeg(raw_by_name, model):
    """Real frontal EEG (eegmat Fp1, Fp2): as it is, ``eeg``; declared EOG by the
    recording (its type ``eog``, or "EOG" in its name as EDF files have it, typed EEG),
    the same signal is ``unknown`` ("EEG or EOG") and ``ch_type`` keeps the declared
    type: the signal of an electrode by the eyes cannot tell the two apart, and
    ``--apply`` must not turn a declared EOG into EEG."""
    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy().pick(["Fp1", "Fp2", "O1"]).crop(0, 60)
    kw = dict(model=model, max_segments=8, verbose=False)
    plain = identify_channel_types(raw, **kw)
    assert plain["predicted"].eq("eeg").all(), plain[["predicted", "reason"]]
    declared = raw.copy().set_channel_types({"Fp1": "eog"}).rename_channels({"Fp2": "EOG R"})
    table = identify_channel_types(declared, **kw)
    assert table.loc["O1", "predicted"] == "eeg"
    for name, kept in (("Fp1", "eog"), ("EOG R", "eeg")):
        row = table.loc[name]
        assert row["predicted"] == "unknown" and row["ch_type"] == kept, row
        assert row["reason"].startswith("EEG or EOG (the recording declares an EOG channel")
        source = "Fp2" if name == "EOG R" else name
        assert row["reason"].endswith(f"guess was eeg ({plain.loc[source, 'probability']:.2f})")
    assert declared_eog("HEOG", "eeg") and declared_eog("x", "eog")
    assert not declared_eog("Fp1", "eeg") and not declared_eog("GEO", "misc")
    # the rest of the guard stays as it was for other answers
    assert eog_guard(_answer("emg"), None, None, declared=True)["predicted"] == "emg"
