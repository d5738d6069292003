"""benchmarks/pretrain_relative_positioning.py: the partners it draws (same recording
and channel, near within ``near`` s, far beyond ``far`` s, never the anchor itself)
and a few batches of its training on known items."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from pretrain_relative_positioning import Partners, multiscale, train  # noqa: E402


def _metadata():
    rows = []
    for rec, n in (("r1", 30), ("r2", 8), ("r3", 1)):  # 150 s, 40 s, 5 s
        for ch in ("A", "B"):
            rows += [dict(recording=rec, channel=ch, onset=5.0 * k) for k in range(n)]
    rng = np.random.default_rng(0)
    return pd.DataFrame(rows).iloc[rng.permutation(len(rows))].reset_index(drop=True)


def test_partners_are_near_or_far_within_the_recording_and_channel():
    md = _metadata()
    partners = Partners(md, near=10.0, far=60.0)
    # r1 (150 s) has both partners everywhere; r2 (40 s) has no far one; r3 no near one
    np.testing.assert_array_equal(partners.has, md["recording"].eq("r1").to_numpy())
    rng = np.random.default_rng(1)
    items = np.arange(len(md))
    for _ in range(20):
        anchors, near, far = partners.draw(items, rng)
        np.testing.assert_array_equal(anchors, items[partners.has])
        for other in (near, far):
            assert (md["recording"].to_numpy()[other] == md["recording"].to_numpy()[anchors]).all()
            assert (md["channel"].to_numpy()[other] == md["channel"].to_numpy()[anchors]).all()
        gap_near = np.abs(md["onset"].to_numpy()[near] - md["onset"].to_numpy()[anchors])
        gap_far = np.abs(md["onset"].to_numpy()[far] - md["onset"].to_numpy()[anchors])
        assert (near != anchors).all()
        assert gap_near.max() <= 10.0 and gap_near.min() >= 5.0
        assert gap_far.min() >= 60.0
    # every far partner of an anchor at 70 s is drawn, before and after it
    first = np.flatnonzero(partners.has & md["onset"].eq(70.0).to_numpy())[:1]
    seen = {md["onset"][partners.draw(first, rng)[2][0]] for _ in range(400)}
    assert seen == {5.0 * k for k in range(30) if abs(5.0 * k - 70.0) >= 60.0}


def test_a_few_batches_train_the_encoder_and_the_features_are_the_users():
    from mne_specae import SpecAE

    md = _metadata()
    sfreq, n_times = 512.0, 2560
    rng = np.random.default_rng(0)
    X = (1e-5 * rng.standard_normal((len(md), n_times))).astype(np.float32)
    est = SpecAE(
        n_layers=2, filters=4, resize=(16, 32), max_epochs=1, batch_size=16, sfreq=sfreq
    ).fit(X[:32, np.newaxis], init=None)
    before = [p.detach().clone() for p in est.model_.parameters()]
    lines = []
    train(est, X, Partners(md, 10.0, 60.0), weight=1.0, minutes=0.02, seed=0, log=lines.append)
    assert lines and lines[0].startswith("epoch 1: reconstruction ")
    assert any(not torch.equal(a, b) for a, b in zip(before, est.model_.parameters()))
    assert not est.model_.training
    # the head reads what transform() gives (pooling="multiscale", no error column)
    images = est.input_stage_.to_images(torch.as_tensor(X[:3]))
    with torch.no_grad():
        features = multiscale(est.model_.encode_blocks(images)).numpy()
    np.testing.assert_allclose(est.transform(X[:3, np.newaxis]), features, rtol=1e-4, atol=1e-6)
