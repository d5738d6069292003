"""The hand-crafted baselines users would pick (mne_specae.evaluation.baselines: Catch22,
EMGTimeDomain, HeartRateFeatures; BandPowers' channel aggregations) and the
gradient-boosting probe, on real recordings and arrays of known content."""

import mne
import numpy as np
import pytest
from downstream_helpers import _labelled_epochs, _sine_epochs
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from mne_specae import make_segments, select_evenly
from mne_specae.datasets import read_raw, read_wfdb_annotations
from mne_specae.evaluation import Task, compare_representations
from mne_specae.evaluation.baselines import (
    CATCH22_NAMES,
    HEART_RATE_FEATURES,
    BandPowers,
    Catch22,
    EMGTimeDomain,
    HeartRateFeatures,
    detect_r_peaks,
)
from mne_specae.evaluation.probes import ALL_PROBES, PROBES, make_probe

BEATS = set("NLRVAaJSFejE/fQ")


@pytest.fixture(scope="module")
def mitdb_100(data_path):
    """40 segments of 5 s (2 leads, 360 Hz) of MIT-BIH 100 and the reference heart rate
    of each, from the beat annotations (60 / mean RR of the annotated beats inside)."""
    fname = data_path / "ecg" / "mitdb" / "100.hea"
    raw = read_raw(fname, verbose=False)
    epochs = select_evenly(make_segments(raw, 5.0, raw.info["sfreq"], verbose=False), 40)
    ann = read_wfdb_annotations(fname, verbose=False)
    beats = np.array([t for t, d in zip(ann.onset, ann.description) if d in BEATS])
    reference = []
    for onset in epochs.metadata["onset"]:
        inside = beats[(beats >= onset) & (beats < onset + 5.0)]
        reference.append(60.0 / np.diff(inside).mean())
    return epochs, np.array(reference)


@pytest.fixture(scope="module")
def uci_emg(data_path):
    """Segments of 5 s of a UCI lower-limb EMG recording (4 channels, at 512 Hz)."""
    raw = read_raw(data_path / "emg" / "uci_lower_limb" / "1Amar.txt", verbose=False)
    return make_segments(raw, 5.0, 512.0, verbose=False)


def _with_channels(epochs, extra):
    """``epochs`` with the channels of ``extra`` (name: data (n_epochs, n_times)) added."""
    names = list(extra)
    info = mne.create_info(names, epochs.info["sfreq"], epochs.get_channel_types()[0])
    data = np.stack([extra[n] for n in names], axis=1)
    added = mne.EpochsArray(data, info, verbose=False)
    out = epochs.copy().load_data()
    return out.add_channels([added], force_update_info=True)


# --------------------------------------------------------------------- HeartRateFeatures
def test_heart_rate_of_mitdb_matches_the_annotations(mitdb_100):
    epochs, reference = mitdb_100
    hrf = HeartRateFeatures().fit(epochs)
    X = hrf.transform(epochs)
    assert X.shape == (len(epochs), 4) and X.dtype == np.float64
    assert list(hrf.get_feature_names_out()) == list(HEART_RATE_FEATURES)
    assert np.isfinite(X).all()
    mean_hr = X[:, 0]
    assert ((mean_hr > 40) & (mean_hr < 150)).all()  # a plausible resting rate
    error = np.abs(mean_hr - reference)
    assert np.median(error) < 1.0 and np.percentile(error, 90) < 3.0, error
    assert (X[:, 1:3] >= 0).all() and ((X[:, 3] >= 0) & (X[:, 3] <= 100)).all()
    # each lead on its own (concat): both leads find the beats
    concat = HeartRateFeatures(channel_agg="concat").fit(epochs)
    Xc = concat.transform(epochs)
    assert Xc.shape == (len(epochs), 8)
    assert list(concat.get_feature_names_out()[:5]) == [
        "mean_hr_MLII",
        "sdnn_MLII",
        "rmssd_MLII",
        "pnn50_MLII",
        "mean_hr_V5",
    ]
    assert np.median(np.abs(Xc[:, 0] - reference)) < 1.0
    assert np.median(np.abs(Xc[:, 4] - reference)) < 2.0
    np.testing.assert_allclose(X, (Xc[:, :4] + Xc[:, 4:]) / 2)  # mean = the leads' mean
    # the peaks are the R waves: within 50 ms of an annotated beat
    peaks = detect_r_peaks(epochs.get_data(picks=[0]), epochs.info["sfreq"])
    assert peaks.shape == (len(epochs), 1)
    # the polarity does not matter
    flipped = detect_r_peaks(-epochs.get_data(picks=[0]), epochs.info["sfreq"])
    same = [np.array_equal(a, b) for a, b in zip(peaks[:, 0], flipped[:, 0])]
    assert np.mean(same) > 0.9


def test_heart_rate_nan_safe(mitdb_100):
    epochs = mitdb_100[0][:6].copy().pick(["MLII"])
    n, n_times = len(epochs), len(epochs.times)
    gap = epochs.get_data()[:, 0].copy()
    gap[:, 100:200] = np.nan
    mixed = _with_channels(epochs, {"flat": np.full((n, n_times), 1e-3), "gap": gap})
    hrf = HeartRateFeatures(channel_agg="concat").fit(mixed)
    X = hrf.transform(mixed)
    assert X.shape == (n, 12)
    assert np.isfinite(X[:, :4]).all()
    assert np.isnan(X[:, 4:]).all()  # flat and non-finite: no beats, NaN (no crash)
    mean = HeartRateFeatures().fit(mixed).transform(mixed)
    np.testing.assert_allclose(mean, X[:, :4])  # the mean ignores the NaN channels
    only_flat = HeartRateFeatures(picks=["flat"]).fit(mixed).transform(mixed)
    assert np.isnan(only_flat).all()
    # an imputer after it makes the features usable by any probe
    pipe = make_pipeline(HeartRateFeatures(picks=["flat"]), SimpleImputer(keep_empty_features=True))
    assert np.isfinite(pipe.fit(mixed).transform(mixed)).all()
    # two beats give a rate but no variability
    sfreq = 500.0
    two = np.zeros((1, 1, int(3 * sfreq)))
    two[0, 0, [500, 1000]] = 1.0
    X2 = (
        HeartRateFeatures()
        .fit(_array_epochs(two, sfreq, "ecg"))
        .transform(_array_epochs(two, sfreq, "ecg"))
    )
    np.testing.assert_allclose(X2[0, 0], 60.0, rtol=0.02)
    assert np.isnan(X2[0, 1:]).all()


def _array_epochs(data, sfreq, ch_type):
    info = mne.create_info([f"X{k}" for k in range(data.shape[1])], sfreq, ch_type)
    return mne.EpochsArray(data, info, verbose=False)


def test_heart_rate_errors():
    low = _array_epochs(np.zeros((2, 1, 100)), 25.0, "ecg")
    with pytest.raises(ValueError, match="Nyquist"):
        HeartRateFeatures().fit(low)
    ecg = _array_epochs(np.zeros((2, 1, 1000)), 200.0, "ecg")
    with pytest.raises(ValueError, match="band must be"):
        HeartRateFeatures(band=(15.0, 5.0)).fit(ecg)
    with pytest.raises(ValueError, match="refractory"):
        HeartRateFeatures(refractory=0).fit(ecg)
    with pytest.raises(NotFittedError):
        HeartRateFeatures().transform(ecg)
    fitted = HeartRateFeatures().fit(ecg)
    with pytest.raises(ValueError, match="Nyquist"):  # checked at transform too
        fitted.transform(low)


# ------------------------------------------------------------------------- EMGTimeDomain
def test_emg_time_domain_of_emg_and_flat(uci_emg):
    epochs = uci_emg[:3]
    n, n_times = len(epochs), len(epochs.times)
    with_flat = _with_channels(epochs, {"flat": np.full((n, n_times), 2e-3)})
    est = EMGTimeDomain(channel_agg="concat").fit(with_flat)
    X = est.transform(with_flat)
    names = list(est.get_feature_names_out())
    assert X.shape == (n, 5 * 8) and names[:8] == [
        f"{f}_{with_flat.ch_names[0]}" for f in EMGTimeDomain._per_channel
    ]
    emg, flat = X[:, :32].reshape(n, 4, 8), X[:, 32:]
    assert np.isfinite(X).all()
    counts = [EMGTimeDomain._per_channel.index(c) for c in ("ZC", "SSC", "WAMP")]
    amplitude = [EMGTimeDomain._per_channel.index(c) for c in ("MAV", "RMS", "WL", "VAR", "IEMG")]
    assert (emg[..., counts] > 0).all() and (flat[:, counts] == 0).all()
    assert (flat[:, amplitude] < -300).all()  # log10 of zero, floored: finite
    assert (emg[..., amplitude] > -20).all()
    # the counts do not depend on the gain; the log amplitudes shift by log10(gain)
    scaled = (
        EMGTimeDomain()
        .fit(epochs)
        .transform(epochs.copy().apply_function(lambda x: 1e3 * x, picks="all"))
    )
    plain = EMGTimeDomain().fit(epochs).transform(epochs)
    np.testing.assert_allclose(scaled[:, counts], plain[:, counts])
    np.testing.assert_allclose(scaled[:, amplitude[:3]] - plain[:, amplitude[:3]], 3.0, atol=1e-9)
    # mean over the channels (default)
    np.testing.assert_allclose(plain, X[:, :32].reshape(n, 4, 8).mean(axis=1))


def test_emg_time_domain_values_by_hand():
    x = np.array([1.0, -1.0, 2.0, -2.0, 0.0, 3.0, -3.0, 0.0])  # zero mean
    epochs = _array_epochs(x[None, None], 100.0, "emg")
    est = EMGTimeDomain(log=False, threshold=0.0, wamp_threshold=1.0).fit(epochs)
    values = dict(zip(est.get_feature_names_out(), est.transform(epochs)[0]))
    step = np.abs(np.diff(x))
    s = x.std()
    assert values["MAV"] == pytest.approx(np.abs(x).mean())
    assert values["RMS"] == pytest.approx(np.sqrt((x**2).mean()))
    assert values["WL"] == pytest.approx(step.sum())
    assert values["VAR"] == pytest.approx((x**2).sum() / 7)
    assert values["IEMG"] == pytest.approx(np.abs(x).sum())
    assert values["ZC"] == 4  # 1/-1, -1/2, 2/-2, 3/-3 (a zero sample is no crossing)
    assert values["SSC"] == 5  # local extrema at 1..6 except the step 0 -> 3 (index 4)
    assert values["WAMP"] == (step > s).sum()
    # a higher threshold drops the small crossings
    high = EMGTimeDomain(log=False, threshold=2.5 / s).fit(epochs)
    assert dict(zip(high.get_feature_names_out(), high.transform(epochs)[0]))["ZC"] == 3


def test_emg_time_domain_nan_and_errors():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2, 2, 200))
    data[0, 1, 10] = np.nan
    epochs = _array_epochs(data, 200.0, "emg")
    X = EMGTimeDomain(channel_agg="concat").fit(epochs).transform(epochs)
    assert np.isnan(X[0, 8:]).all() and np.isfinite(X[0, :8]).all() and np.isfinite(X[1]).all()
    mean = EMGTimeDomain().fit(epochs).transform(epochs)
    np.testing.assert_allclose(mean[0], X[0, :8])  # the NaN channel is left out of the mean
    with pytest.raises(ValueError, match="threshold must be"):
        EMGTimeDomain(threshold=-1).fit(epochs)
    with pytest.raises(ValueError, match="channel_agg"):
        EMGTimeDomain(channel_agg="max").fit(epochs)


# -------------------------------------------------------------------------------- Catch22
def test_catch22_shapes_names_and_nan():
    pycatch22 = pytest.importorskip("pycatch22")
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 2, 300)) * 1e-5
    data[2, 1, 5] = np.nan
    epochs = _array_epochs(data, 100.0, "eeg")
    est = Catch22(channel_agg="concat").fit(epochs)
    X = est.transform(epochs)
    assert X.shape == (3, 44)
    expected = pycatch22.catch22_all(list(rng.standard_normal(100)))["names"]
    assert list(CATCH22_NAMES) == expected
    assert list(est.get_feature_names_out()[:22]) == [f"{n}_X0" for n in expected]
    assert np.isnan(X[2, 22:]).all() and np.isfinite(X[:2]).all() and np.isfinite(X[2, :22]).all()
    # z-scored first: catch22 of the segment in any unit is the same
    z = data[0, 0]
    direct = pycatch22.catch22_all(((z - z.mean()) / z.std()).tolist())["values"]
    np.testing.assert_allclose(X[0, :22], direct)
    scaled = (
        Catch22(channel_agg="concat").fit(epochs).transform(_array_epochs(data * 1e6, 100.0, "eeg"))
    )
    np.testing.assert_allclose(scaled[:2], X[:2], rtol=1e-6, atol=1e-9)
    # catch24: the raw mean and standard deviation too
    est24 = Catch22(catch24=True, picks=["X0"]).fit(epochs)
    X24 = est24.transform(epochs)
    assert X24.shape == (3, 24) and list(est24.get_feature_names_out()[-2:]) == [
        "DN_Mean",
        "DN_Spread_Std",
    ]
    np.testing.assert_allclose(X24[:, -1], data[:, 0].std(axis=1))
    # the mean over channels ignores the NaN channel
    mean = Catch22().fit(epochs).transform(epochs)
    np.testing.assert_allclose(mean[2], X[2, :22])


def test_catch22_without_pycatch22(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pycatch22", None)
    epochs = _array_epochs(np.zeros((2, 1, 100)), 100.0, "eeg")
    with pytest.raises(ImportError, match="pip install pycatch22"):
        Catch22().fit(epochs)


# ---------------------------------------------------------- channel aggregation, the cache
def test_concat_needs_the_same_channel_count_and_band_powers_concat():
    two = _sine_epochs([10.0, 20.0], noise=0.1)
    one = _sine_epochs([10.0])
    for est in (BandPowers(channel_agg="concat"), EMGTimeDomain(channel_agg="concat")):
        with pytest.raises(ValueError, match="same number of channels"):
            est.fit([two, one])
        fitted = est.fit(two)
        with pytest.raises(ValueError, match="fitted on 2 channels"):
            fitted.transform(one)
    # mean still takes any channel counts
    assert EMGTimeDomain().fit([two, one]).transform([two, one]).shape == (6, 8)
    bp = BandPowers(channel_agg="concat").fit(two)
    X = bp.transform(two)
    assert X.shape == (3, 20)
    names = list(bp.get_feature_names_out())
    assert names[0] == "logpow_delta_EEG0" and names[10] == "logpow_delta_EEG1"
    np.testing.assert_allclose(BandPowers().fit(two).transform(two), (X[:, :10] + X[:, 10:]) / 2)
    assert X[0, 2] > X[0, 3] and X[0, 13] > X[0, 12]  # alpha in EEG0, beta in EEG1
    with pytest.raises(ValueError, match="channel_agg"):
        BandPowers(channel_agg="median").fit(two)


def test_features_cached_by_content():
    from mne_specae.evaluation import _handcrafted

    rng = np.random.default_rng(2)
    epochs = _array_epochs(rng.standard_normal((2, 1, 200)), 200.0, "emg")
    first = EMGTimeDomain().fit(epochs).transform(epochs)
    key_count = len(_handcrafted._CACHE)
    again = EMGTimeDomain().fit(epochs).transform(epochs.copy())
    assert len(_handcrafted._CACHE) == key_count  # the same content: from the cache
    np.testing.assert_array_equal(first, again)
    other = EMGTimeDomain(wamp_threshold=0.5).fit(epochs).transform(epochs)
    assert len(_handcrafted._CACHE) == key_count + 1  # other parameters: computed
    assert not np.array_equal(first, other)
    changed = epochs.copy().apply_function(lambda x: x + np.linspace(0, 1, x.size), picks="all")
    assert not np.array_equal(EMGTimeDomain().fit(changed).transform(changed), first)


# ---------------------------------------------------------------------- the boosting probe
def test_gradient_boosting_probe_and_protocol():
    assert PROBES == ("logistic", "knn") and ALL_PROBES == (*PROBES, "gradient_boosting")
    probe = make_probe("gradient_boosting", random_state=3)
    clf = probe[-1]
    assert clf.random_state == 3 and clf.class_weight == "balanced" and len(probe) == 1
    X = np.array([[0.0, np.nan], [0.1, 1.0], [1.0, 2.0], [1.1, np.nan]] * 10)
    y = np.array(["a", "a", "b", "b"] * 10)
    assert (probe.fit(X, y).predict(X) == y).all()  # NaN features are allowed
    # in the protocol, beside a hand-crafted baseline kept per channel (scikit-learn's
    # defaults: no split below 20 samples a leaf, so 40 training epochs at least)
    epochs = [  # class b: 4x the amplitude
        mne.EpochsArray(
            ep.get_data() * np.where(ep.metadata["label"] == "b", 4.0, 1.0)[:, None, None],
            ep.info,
            metadata=ep.metadata,
            verbose=False,
        )
        for ep in _labelled_epochs(4, labels=("a",) * 20 + ("b",) * 20)
    ]
    scores = compare_representations(
        epochs,
        {"label": Task("label")},
        {"emg_td": EMGTimeDomain(channel_agg="concat")},
        n_splits=2,
        strata=None,
        probes=("logistic", "gradient_boosting"),
        standardize_by="subject",
        verbose=False,
    )
    pooled = scores[scores["fold"] == -1].set_index(["probe", "standardized"])
    assert len(pooled) == 4
    assert (pooled["balanced_accuracy"] >= 0.9).all()
