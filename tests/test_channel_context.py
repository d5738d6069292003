"""What the other channels of a recording say of a channel: the peer correlations
that the channel-type heads read beside each channel's own features (issue 21)."""

import mne
import numpy as np
import pytest

from mne_specae.estimator._type_head import LATER_FEATURES, TypeHead
from mne_specae.pretrained._type_context import CONTEXT_NAMES, PEER_BAND, peer_correlations
from mne_specae.pretrained._type_features import FEATURE_NAMES, N_FEATURES, N_OWN, window_features


def _band(x, sfreq, lo, hi):
    """``x`` with only the FFT bins in ``[lo, hi]`` Hz."""
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1 / sfreq)
    spec[..., (f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, n=x.shape[-1], axis=-1)


def test_peer_correlations_on_known_signals():
    sfreq, n = 200.0, 6000
    rng = np.random.default_rng(0)
    t = np.arange(n) / sfreq
    shared = _band(rng.normal(size=n), sfreq, 5, 30)
    a, b, c = (_band(rng.normal(size=n), sfreq, *PEER_BAND) for _ in range(3))
    drift = 50 * np.sin(2 * np.pi * 0.05 * t)  # common to every input, below the band
    hum = 20 * np.sin(2 * np.pi * 50.0 * t)  # above it
    x = np.array(
        [
            shared + 0.5 * a + drift + hum,
            -3e-6 * (shared + 0.5 * b + drift),  # the same source, another scale and sign
            c + drift + hum,  # a channel of its own
            np.zeros(n),  # a dead input: no peer, and nobody's peer
        ]
    )
    ctx = peer_correlations(x[np.newaxis], sfreq)[0]
    assert ctx.shape == (4, len(CONTEXT_NAMES)) and list(CONTEXT_NAMES) == FEATURE_NAMES[N_OWN:]
    # the correlation of the first two without their drift and hum, whatever the scale
    clean = np.array([shared + 0.5 * a, shared + 0.5 * b, c])
    r = np.abs(np.corrcoef(clean))
    assert r[0, 1] > 0.6 and r[0, 2] < 0.05
    np.testing.assert_allclose(ctx[:2, 0], r[0, 1], atol=0.05)
    assert ctx[2, 0] < 0.1  # the drift and the hum do not make it anyone's peer
    # top 3 of the first channel: its partner, the lone channel, and no third (the dead
    # input is nobody's peer)
    np.testing.assert_allclose(ctx[0, 1], (ctx[0, 0] + r[0, 2]) / 2, atol=0.05)
    assert np.isnan(ctx[3]).all()


def test_peer_correlations_need_a_peer_and_a_band():
    rng = np.random.default_rng(1)
    alone = peer_correlations(rng.normal(size=(2, 1, 3000)), 100.0)
    assert alone.shape == (2, 1, 2) and np.isnan(alone).all()
    # a window where the other channel is unusable (NaN) gives no peer there only
    x = rng.normal(size=(2, 2, 3000))
    x[1, 1] = np.nan
    ctx = peer_correlations(x, 100.0)
    assert np.isfinite(ctx[0]).all() and np.isnan(ctx[1]).all()
    # at 2 Hz there is no band (its top is 0.4 x 2 = 0.8 Hz, below 1 Hz), nor in 3 s
    assert np.isnan(peer_correlations(rng.normal(size=(1, 3, 60)), 2.0)).all()
    assert np.isnan(peer_correlations(rng.normal(size=(1, 3, 300)), 100.0)).all()
    # at 4 Hz a 10 s window (40 samples) is shorter than the zero-phase filter's padding:
    # no peer (it raised "The length of the input vector x must be greater than padlen")
    shared = rng.normal(size=40)
    short = np.array([[shared, shared + 0.1 * rng.normal(size=40)]])
    assert np.isnan(peer_correlations(short, 4.0)).all()
    assert np.isfinite(peer_correlations(np.tile(short, 2), 4.0)).all()  # 20 s: peers


def test_a_short_recording_at_a_wearables_rate_is_typed():
    """Two channels of 11 s at 4 Hz (a wristband's EDA and temperature, a short
    export): typed, without peers, not an error."""
    rng = np.random.default_rng(2)
    n = 44
    x = np.array([np.cumsum(rng.normal(size=n)), 30 + 0.01 * np.cumsum(rng.normal(size=n))])
    raw = mne.io.RawArray(x, mne.create_info(["EDA", "TEMP"], 4.0, "misc"), verbose=False)
    from mne_specae import identify_channel_types

    table = identify_channel_types(raw, verbose=False)
    assert table.index.tolist() == ["EDA", "TEMP"]
    assert (table["sfreq"] == 4.0).all()
    assert not table["predicted"].isin(["ecg", "eeg", "emg", "eog"]).any()


def test_window_features_carry_the_context_last():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 3000))
    ctx = np.array([[0.9, 0.8], [0.5, 0.4], [np.nan, np.nan]])
    with_ctx, without = window_features(x, 100.0, context=ctx), window_features(x, 100.0)
    assert with_ctx.shape == (3, N_FEATURES)
    np.testing.assert_array_equal(with_ctx[:, N_OWN:], ctx)
    assert np.isnan(without[:, N_OWN:]).all()
    np.testing.assert_array_equal(with_ctx[:, :N_OWN], without[:, :N_OWN])


def test_eeg_channels_have_peers_the_ecg_lead_and_emg_do_not(raw_by_name):
    """eegmat: every EEG electrode of the cap moves with others; the ECG lead recorded
    with them, and EMG electrodes on four muscles, have no such partner."""
    from mne_specae.pretrained._type_windows import feature_windows

    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy()
    ecg = raw_by_name["ecg/eegmat/Subject00_1"]
    raw.add_channels([ecg.copy().pick(0).resample(raw.info["sfreq"])], force_update_info=True)
    ctx = np.nanmedian(peer_correlations(feature_windows(raw, np.arange(20), 3, 5.0), 500.0), 0)
    eeg, lead = ctx[:19, 0], ctx[19, 0]
    assert raw.get_channel_types()[19] == "ecg"
    assert (eeg > 0.5).mean() >= 0.9 and lead < 0.5 and lead < eeg.min()
    emg = raw_by_name["emg/uci_lower_limb/3Amar"]
    picks = mne.pick_types(emg.info, emg=True)
    ctx = peer_correlations(feature_windows(emg, picks, 3, 5.0), emg.info["sfreq"])
    assert np.nanmedian(ctx[..., 0]) < np.median(eeg) - 0.2


def test_a_head_saved_before_the_context_ignores_it():
    rng = np.random.default_rng(3)
    own = FEATURE_NAMES[:N_OWN]
    X = rng.normal(size=(60, N_OWN))
    y = ["eeg"] * 30 + ["resp"] * 30
    X[30:, 0] += 2
    head = TypeHead.fit(X, y, [f"c{k // 5}" for k in range(60)], ["s"] * 60, feature_names=own)
    full = np.hstack([X[:5], np.full((5, 2), 0.7)])
    np.testing.assert_array_equal(head.predict_proba(full), head.predict_proba(X[:5]))
    np.testing.assert_array_equal(head.distance(full), head.distance(X[:5]))
    assert LATER_FEATURES == CONTEXT_NAMES  # the estimator floor's copy of the names
    with pytest.raises(ValueError, match="fitted on other features"):
        head.predict_proba(np.hstack([X[:5], np.zeros((5, 1))]))


def test_the_channels_picked_together_are_the_context(raw_by_name):
    """identify_channel_types' collection: each channel's features end with its peer
    features among the channels picked with it; picked alone, it has none."""
    from mne_specae import load_pretrained
    from mne_specae.pretrained._type_channels import collect_channels

    raw = raw_by_name["eeg/eegmat/Subject00_1"].copy().crop(0, 65)
    model = load_pretrained()
    together, _ = collect_channels(raw, [0, 1, 14], model, 6, slow_ok=True)  # Fp1 Fp2 O1
    alone, _ = collect_channels(raw, [14], model, 6, slow_ok=True)
    ctx = np.array([ch["median"][N_OWN:] for ch in together])
    assert np.isfinite(ctx).all() and (ctx > 0).all() and (ctx <= 1).all()
    assert ctx[0, 0] > ctx[2, 0]  # Fp1 moves with Fp2 more than O1 with either
    assert np.isnan(alone[0]["median"][N_OWN:]).all()
    np.testing.assert_array_equal(alone[0]["median"][:N_OWN], together[2]["median"][:N_OWN])
    # only a head's training data has the sparse montage
    assert "median_sparse" not in together[0]
    taught, _ = collect_channels(raw, [0, 1, 14], model, 6, slow_ok=True, teach=True)
    np.testing.assert_array_equal(taught[0]["median_sparse"], taught[0]["median"])  # 2 peers
