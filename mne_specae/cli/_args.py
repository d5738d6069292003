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


_STORAGE_FIX = (
    "write KEY=VALUE, the value as JSON or a plain string, e.g. --storage-option anon=true "
    'or --storage-option client_kwargs=\'{"endpoint_url": "http://127.0.0.1:9000"}\''
)


def storage_option(text):
    """``--storage-option KEY=VALUE``: ``(key, value)``, the value parsed as JSON when it
    parses (``true``, ``3``, ``{"endpoint_url": ...}``), else kept as a string."""
    import json

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"{_STORAGE_FIX}; got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        if value.lstrip()[:1] in ("{", "["):  # meant as JSON: say so, not a string
            raise argparse.ArgumentTypeError(
                f"the value of {key} is not valid JSON ({value!r}); {_STORAGE_FIX}"
            ) from None
        return key, value


def storage_options(args, urls):
    """The ``--storage-option`` pairs of ``args`` as a dict (``None`` when none); refused
    when none of ``urls`` is a URL, or a key comes twice."""
    from ..stores._remote import is_url

    pairs = getattr(args, "storage_option", None) or []
    if not pairs:
        return None
    if not any(is_url(str(u)) for u in urls):
        raise ValueError(
            "--storage-option applies to URLs (s3://bucket/..., gs://...), and none is "
            "given: leave it out for local files and folders."
        )
    options = {}
    for key, value in pairs:
        if key in options:
            raise ValueError(f"--storage-option {key} is given twice: give each key once.")
        options[key] = value
    return options


def add_storage_option(parser):
    """The repeatable ``--storage-option`` of a command that reads or writes URLs."""
    parser.add_argument(
        "--storage-option",
        action="append",
        type=storage_option,
        default=None,
        metavar="KEY=VALUE",
        help="an fsspec storage option for URLs (repeat for several): credentials, "
        'endpoint, e.g. anon=true or client_kwargs=\'{"endpoint_url": "http://host:9000"}\' '
        "(a value is read as JSON when it parses, else as a string)",
    )


def non_negative_float(text):
    """``--stale-lock``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value
