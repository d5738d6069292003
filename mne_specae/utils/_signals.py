"""Array helpers shared by segments, channel types and unusual segments: the NaN
bridge, the channels with no finite sample, evenly spaced indices."""

from __future__ import annotations

import numpy as np


def bridge_nonfinite(x):
    """``x`` (``(..., n_times)``) with its NaN/Inf samples bridged by linear
    interpolation along the last axis, held at the ends; a row with no finite sample
    becomes zeros. Returns ``x`` itself when every sample is finite, else a float64
    copy."""
    x = np.asarray(x)
    if np.isfinite(x).all():
        return x
    out = np.array(x, dtype=np.float64)
    for row in out.reshape(-1, out.shape[-1]):
        ok = np.isfinite(row)
        if not ok.all():
            pos = np.arange(row.size)
            row[:] = np.interp(pos, pos[ok], row[ok]) if ok.any() else 0.0
    return out


def no_finite_channels(names, data):
    """The names of the rows of ``data`` (``(n_channels, n_times)``) that hold no
    finite sample at all (NaN/Inf throughout)."""
    return [name for name, row in zip(names, data) if not np.isfinite(row).any()]


def evenly_spaced(n, k):
    """At most ``k`` indices of ``range(n)``, evenly spread (first and last included):
    ``range(n)`` when ``n <= k``, else the unique rounded points of
    ``linspace(0, n - 1, k)``; int64."""
    n, k = int(n), int(k)
    if n <= k:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))
