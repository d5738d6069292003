"""Train/validation splits that keep each group (subject, else recording) on one side."""

from __future__ import annotations

import numpy as np
from mne.utils import warn

from ..utils._checks import check_fraction


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
    grouped = unique_groups(labels)
    if len(grouped[0]) < 2:
        warn(
            "Only one group (subject/recording) in the data: the validation set is a "
            "random subset of its items, so it is not independent of training."
        )
        order = rng.permutation(n)
        n_val = max(1, int(round(val_fraction * n)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    return _draw_groups(grouped, val_fraction * n, rng)


def unique_groups(labels):
    """``np.unique(labels, return_inverse=True, return_counts=True)``, flat inverse."""
    unique, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return unique, inverse.reshape(-1), counts


def _draw_groups(grouped, target, rng):
    """Draw groups in random order into validation until ``target`` items: O(n log n).

    The first group in the random order that overshoots the remaining need by at most
    the need itself is taken. The need only shrinks, so a group passed over once is
    never taken by that rule later: one forward scan over the order finds every pick.
    When no group fits, the smallest left (the first in the order among equals) is
    taken, and it fills the target (it is larger than twice the need), ending the draw.
    """
    unique, inverse, counts = grouped
    order = rng.permutation(len(unique))  # the same draw as rng.permutation(unique)
    sizes = counts[order].tolist()
    taken = np.zeros(len(unique), bool)  # by position in `order`
    n_taken, count, pos, most = 0, 0, 0, len(unique) - 1
    while count < target and n_taken < most:
        need = target - count
        while pos < len(sizes) and sizes[pos] > 2 * need:
            pos += 1
        if pos < len(sizes):
            pick, pos = pos, pos + 1
        else:  # every group left overshoots: the smallest one
            pick = int(np.argmin(np.where(taken, np.inf, counts[order])))
        taken[pick] = True
        n_taken += 1
        count += sizes[pick]
    is_val_group = np.zeros(len(unique), bool)
    is_val_group[order[taken]] = True
    is_val = is_val_group[inverse]
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
