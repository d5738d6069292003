"""Train/validation splits that keep each group (subject, else recording) on one side."""

from __future__ import annotations

import numpy as np
from mne.utils import warn

from .checks import check_fraction


def split_by_group(groups, val_fraction=0.2, seed=0):
    """Indices of a train/validation split where no group is on both sides.

    Groups (subjects, else recordings) are drawn in a seeded random order into the
    validation set until it holds at least ``val_fraction`` of the items, leaving at
    least one group for training. A group that would overshoot the remaining target by
    more than the target itself is passed over while a smaller one fits, so one large
    subject does not end up as most of the data in validation.

    Parameters
    ----------
    groups : array-like, shape (n_items,) | None
        Group label of each item. ``None`` splits items at random.
    val_fraction : float
        Target fraction of items in the validation set, ``0 <= val_fraction < 1``.
    seed : int
        Seed of the draw.

    Returns
    -------
    train_idx, val_idx : numpy.ndarray of int
    """
    val_fraction = check_fraction(val_fraction, "val_fraction")
    if groups is None:
        raise ValueError("groups is None; pass one label per item.")
    labels = np.asarray(groups)
    n = len(labels)
    rng = np.random.default_rng(seed)
    if val_fraction == 0 or n < 2:
        return np.arange(n), np.array([], dtype=int)
    unique = np.unique(labels)
    if len(unique) < 2:
        warn("Only one group (subject/recording) in the data: the validation set is a "
             "random subset of its items, so it is not independent of training.")
        order = rng.permutation(n)
        n_val = max(1, int(round(val_fraction * n)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    target = val_fraction * n
    sizes = {g: int((labels == g).sum()) for g in unique}
    remaining = list(rng.permutation(unique))
    val_groups, count = [], 0
    while count < target and len(val_groups) < len(unique) - 1:
        need = target - count
        # the next group in random order that does not overshoot by more than `need`;
        # if every group would, the smallest (one large subject cannot swamp validation)
        pick = next((g for g in remaining if sizes[g] <= 2 * need),
                    min(remaining, key=sizes.get))
        remaining.remove(pick)
        val_groups.append(pick)
        count += sizes[pick]
    is_val = np.isin(labels, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def split_items(groups, n_items, val_fraction=0.2, seed=0):
    """:func:`split_by_group` of ``n_items`` items; ``groups=None``: each item its own.

    Returns
    -------
    labels : numpy.ndarray
        The group label of each item.
    train_idx, val_idx : numpy.ndarray of int
    """
    if groups is None:
        labels = np.arange(n_items)  # every item its own group: a random split
    else:
        labels = np.asarray(groups)
        if len(labels) != n_items:
            raise ValueError(f"groups has {len(labels)} labels for {n_items} items.")
    return (labels, *split_by_group(labels, val_fraction, seed))
