"""Number options of the command line, checked as they are parsed: a bad value stops
the command at once with ``error: argument --duration: must be ...``, before any file
is read (not as one "cannot be read" per file later)."""

from __future__ import annotations

import argparse
import math


def positive_float(text):
    """``--duration``, ``--sfreq``, ``--fmax``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int(text):
    """Counts (``--max-epochs``, ``--filters``, ...): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def n_jobs(text):
    """``--n-jobs``: a whole number >= 1, or -1 (MNE's convention: every core)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= 1, or -1 (every core), got {text!r}"
        )
    return value
