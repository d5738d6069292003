"""The training items of the next shipped encoder (scripts/train_pretrained.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "train_pretrained.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_pretrained", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spread_shares_the_cap_and_keeps_small_groups_whole(script):
    small, mid, big = np.arange(0, 10), np.arange(10, 1010), np.arange(1010, 11010)
    kept = script.spread([big, small, mid], 1000)
    assert len(kept) == 1000
    assert set(small) <= set(kept)  # smaller than its share: whole
    assert np.isin(mid, kept).sum() == 495 and np.isin(big, kept).sum() == 495
    inside = kept[np.isin(kept, big)]  # evenly spaced over the whole group
    assert inside[0] == big[0] and inside[-1] == big[-1]
    assert np.all(np.diff(kept) > 0)
    assert len(script.spread([small], 100)) == 10
    assert len(script.spread([], 100)) == 0


def test_select_training_caps_modalities_and_kinds_and_leaves_out_non_signals(script):
    rows = (
        [("ecg", "ecg", "cinc2015")] * 500
        + [("ecg", "ecg", "mitdb_more")] * 30
        + [("eeg", "eeg", "muse")] * 300
        + [("emg", "emg", "myo")] * 50
        + [("bio", "ppg", "cinc2015")] * 400
        + [("bio", "abp", "cinc2015")] * 20
        + [("stim", "marker", "muse")] * 100
        + [("misc", "unconnected", "muse")] * 100
    )
    md = pd.DataFrame(rows, columns=["signal_type", "kind", "dataset"])
    chosen = md.iloc[script.select_training(md, per_modality=200, per_kind=60)]
    counts = chosen.groupby(["signal_type", "kind", "dataset"]).size().to_dict()
    assert counts == {
        ("ecg", "ecg", "cinc2015"): 170,
        ("ecg", "ecg", "mitdb_more"): 30,
        ("eeg", "eeg", "muse"): 200,
        ("emg", "emg", "myo"): 50,
        ("bio", "ppg", "cinc2015"): 60,
        ("bio", "abp", "cinc2015"): 20,
    }
    assert chosen.index.is_unique and chosen.index.is_monotonic_increasing


def test_set_changes_one_setting_by_name(script):
    import argparse

    assert script._setting("band_limit=0.5") == ("band_limit", 0.5)
    assert script._setting("resize=(64, 128)") == ("resize", (64, 128))
    assert script._setting("normalize=item") == ("normalize", "item")
    assert script._setting("fmax=None") == ("fmax", None)
    for bad in ("bogus=1", "band_limit", "=0.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected NAME=VALUE with NAME"):
            script._setting(bad)
