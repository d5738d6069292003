"""The grouped train/validation split: no group on both sides, seeded, edge cases."""

import numpy as np
import pytest

from mne_specae.training.splits import split_by_group, split_items


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    """The subject of each of 72 items (one channel of one 5 s segment): 6 subjects of
    12 items, as the training tests use them."""
    from mne_specae import make_segments

    names = [
        "ecg/mitdb/100",
        "ecg/mitdb/106",
        "eeg/eegmat/Subject00_1",
        "eeg/eegmat/Subject01_1",
        "emg/uci_lower_limb/3Amar",
        "emg/uci_lower_limb/4Amar",
    ]
    groups = []
    for name in names:
        epochs = make_segments(raw_by_name[name].copy().crop(0.0, 30.0))
        groups.append(np.repeat(epochs.metadata["subject"].to_numpy(), 2))
    groups = np.concatenate(groups)
    assert len(groups) == 72 and len(np.unique(groups)) == 6
    return None, groups


def test_split_by_group_keeps_groups_apart(real_items):
    _, real_groups = real_items
    rng = np.random.default_rng(0)
    uneven = np.repeat(np.arange(15), rng.integers(1, 30, size=15))
    for groups in (real_groups, uneven):
        n = len(groups)
        largest = max(np.unique(groups, return_counts=True)[1])
        for seed in range(10):
            for fraction in (0.1, 0.2, 0.5):
                train, val = split_by_group(groups, fraction, seed)
                assert set(groups[train]).isdisjoint(groups[val])
                np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(n))
                assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
                assert train.dtype.kind == "i" and val.dtype.kind == "i"
                # groups are drawn until the target is reached: overshoot < one group
                assert fraction * n <= len(val) < fraction * n + largest
    # never all groups in validation
    train, val = split_by_group(["a"] * 5 + ["b"] * 5 + ["c"] * 5, 0.95, 0)
    assert len(train) == 5 and len(val) == 10
    # one dominant subject (65 % of the items) is never drawn into a 20 % validation set
    groups = np.array(["big"] * 65 + [f"s{k}" for k in range(7) for _ in range(5)])
    for seed in range(20):
        train, val = split_by_group(groups, 0.2, seed)
        assert "big" not in set(groups[val])
        assert 20 <= len(val) <= 25


def test_split_by_group_is_seeded(real_items):
    _, groups = real_items
    first = split_by_group(groups, 0.3, seed=3)
    again = split_by_group(list(groups), 0.3, seed=3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    others = [split_by_group(groups, 0.3, seed=s)[1] for s in range(6)]
    assert len({tuple(v) for v in others}) > 1


def test_split_by_group_single_group_and_edge_cases():
    groups = np.array(["s1"] * 50)
    with pytest.warns(RuntimeWarning, match="Only one group"):
        train, val = split_by_group(groups, 0.2, seed=1)
    assert len(val) == 10 and len(train) == 40
    np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(50))
    with pytest.warns(RuntimeWarning, match="Only one group"):
        again = split_by_group(groups, 0.2, seed=1)
    np.testing.assert_array_equal(again[1], val)
    train, val = split_by_group(np.arange(20) % 4, 0.0)
    np.testing.assert_array_equal(train, np.arange(20))
    assert len(val) == 0 and val.dtype.kind == "i"
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
            split_by_group(np.arange(10), bad)
    with pytest.raises(ValueError, match="one label per item"):
        split_by_group(None)


def test_split_items():
    labels, train, val = split_items(None, 10, 0.3, seed=2)
    np.testing.assert_array_equal(labels, np.arange(10))
    assert len(val) == 3 and len(train) == 7
    for a, b in zip((train, val), split_by_group(np.arange(10), 0.3, 2)):
        np.testing.assert_array_equal(a, b)
    groups = np.repeat(["a", "b", "c"], 4)
    labels, train, val = split_items(list(groups), 12, 0.25, seed=0)
    np.testing.assert_array_equal(labels, groups)
    assert set(groups[train]).isdisjoint(groups[val])
    with pytest.raises(ValueError, match="groups has 11 labels for 12 items"):
        split_items(groups[:-1], 12)


def _reference_split_by_group(labels, val_fraction, seed):
    """The split as first written (a group-by-group scan, quadratic in the number of
    groups): the fast one must give the same indices for the same seed."""
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    unique = np.unique(labels)
    target = val_fraction * n
    sizes = {g: int((labels == g).sum()) for g in unique}
    remaining = list(rng.permutation(unique))
    val_groups, count = [], 0
    while count < target and len(val_groups) < len(unique) - 1:
        need = target - count
        pick = next((g for g in remaining if sizes[g] <= 2 * need), min(remaining, key=sizes.get))
        remaining.remove(pick)
        val_groups.append(pick)
        count += sizes[pick]
    is_val = np.isin(labels, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def test_split_by_group_matches_the_reference_split():
    """Same indices as before the split became O(n log n), for existing seeds."""
    rng = np.random.default_rng(42)
    cases = [np.arange(37), np.array(["big"] * 65 + [f"s{k}" for k in range(7) for _ in range(5)])]
    for _ in range(12):
        n_groups = int(rng.integers(2, 40))
        sizes = rng.integers(1, 60, size=n_groups) ** int(rng.integers(1, 3))
        labels = np.repeat(rng.permutation(n_groups), sizes)
        cases.append(rng.permutation(labels) if rng.random() < 0.5 else labels)
        cases.append(np.array([f"sub-{g:02d}" for g in labels]))
    for labels in cases:
        for seed in (0, 7):
            for fraction in (0.05, 0.2, 0.5, 0.9):
                got = split_by_group(labels, fraction, seed)
                want = _reference_split_by_group(labels, fraction, seed)
                for a, b in zip(got, want):
                    np.testing.assert_array_equal(a, b)


def test_split_of_a_million_items_without_groups():
    """groups=None makes every item a group: the split was quadratic in the number of
    groups (5.5 s at 20k items, hours at 1M) before training started."""
    n = 1_000_000
    labels, train, val = split_items(None, n, 0.2, seed=3)
    assert len(val) == 200_000 and len(train) == 800_000
    np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    # the validation items are a random draw, not a block
    assert 0.45 < val.mean() / n < 0.55 and val[0] < 100 and val[-1] > n - 100
    # grouped: 1M items in 250k groups of 4 never straddle
    groups = np.random.default_rng(0).permutation(np.repeat(np.arange(250_000), 4))
    train, val = split_by_group(groups, 0.2, seed=1)
    assert len(val) == 200_000 and set(groups[val][:1000]).isdisjoint(groups[train])
    assert np.intersect1d(groups[val], groups[train]).size == 0
