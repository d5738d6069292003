"""Checks of a segment store's manifest and shard files (private helpers of
:mod:`mne_specae.segment_store`).

Everything a manifest names is checked before it is used: shard and table names must
be plain file names inside ``<store>/shards`` (no ``..``, no absolute path, no link
out of the folder), the rate and length must agree with each other and with the
settings, and each shard's ``.npy`` header must hold exactly the manifest's number of
items of ``n_times`` float32 samples, with the bytes to match. A store rewritten by
another process while open (``prepare_segments(..., overwrite=True)``) is detected
before a row is read under the old metadata.

:func:`check_manifest` is also meant for :mod:`mne_specae.preparation` (to check a
manifest it continues).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from ..utils._files import write_atomic

#: What a shard key or a table file name may be: a plain file name.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_REDO = "prepare the store again (prepare_segments(..., overwrite=True))"
STORE_FORMAT = "mne-specae-store"
#: 2: tables may be Parquet (``<key>.parquet``), which version 1 readers do not know.
STORE_VERSION = 2
MANIFEST = "manifest.json"


class StoreChangedError(RuntimeError):
    """The store was rewritten (or removed) by another process since it was opened."""


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plain(name):
    return isinstance(name, str) and _SAFE_NAME.fullmatch(name) and ".." not in name


def _check_name(root, name, fname, what, folder, folder_str):
    """:func:`shard_file` for many names (a store's open): a plain name that is no link
    needs no :class:`~pathlib.Path` (microseconds each); any other is checked in full."""
    if not _plain(name) or os.path.islink(os.path.join(folder_str, name)):
        shard_file(root, name, fname, what=what, folder=folder)


def shards_folder(root):
    """``<root>/shards``, resolved (links followed): what :func:`shard_file` compares
    with."""
    return (Path(root) / "shards").resolve()


def shard_file(root, name, fname, what="shard key", folder=None):
    """``<root>/shards/<name>``, refused unless it is a plain name whose resolved path
    lies inside ``<root>/shards`` (``fname``: the manifest, for the message;
    ``folder``: :func:`shards_folder` of ``root`` when known, to check many names with
    one resolution of the folder)."""
    if not _plain(name):
        raise ValueError(
            f"{fname}: the {what} {name!r} is not a plain file name inside "
            f"the store (it would read or write outside {root}); the "
            f"manifest is damaged or was edited: {_REDO}."
        )
    folder = shards_folder(root) if folder is None else folder
    # a plain name (no separator, not "." or "..") in a resolved folder is its own
    # resolution unless it is a link: one lstat, not a resolution of every component
    path = folder / name
    if os.path.islink(path):
        path = path.resolve()
    if path.parent != folder:
        raise ValueError(
            f"{fname}: the {what} {name!r} leads outside the store folder "
            f"{root}; refused. {_REDO[0].upper()}{_REDO[1:]}."
        )
    return path


def check_manifest(manifest, root, fname):
    """Check a manifest's rate, length, settings and shard entries (names, counts);
    raise a :class:`ValueError` naming ``fname`` and what is wrong."""

    def fail(message):
        raise ValueError(f"{fname}: {message}; the manifest is damaged or was edited: {_REDO}.")

    sfreq, n_times = manifest.get("sfreq"), manifest.get("n_times")
    if (
        isinstance(sfreq, bool)
        or not isinstance(sfreq, (int, float))
        or not math.isfinite(sfreq)
        or sfreq <= 0
    ):
        fail(f"sfreq {sfreq!r} is not a positive rate")
    if not _is_count(n_times) or n_times == 0:
        fail(f"n_times {n_times!r} is not a positive number of samples")
    settings = manifest.get("settings", {})
    if not isinstance(settings, dict):
        fail("settings is not a mapping")
    if "sfreq" in settings and settings["sfreq"] != sfreq:
        fail(
            f"sfreq {sfreq:g} differs from the sfreq {settings['sfreq']!r} the store "
            "was prepared with"
        )
    duration = settings.get("duration")
    if isinstance(duration, (int, float)) and int(round(duration * sfreq)) != n_times:
        fail(f"n_times {n_times} is not {duration:g} s at {sfreq:g} Hz")
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        fail("shards is not a list")
    keys = set()
    folder = shards_folder(root)
    folder_str = str(folder)
    for k, shard in enumerate(shards):
        if not isinstance(shard, dict) or not {"key", "source", "n_items"} <= set(shard):
            fail(f"shard entry {k} lacks key, source or n_items")
        _check_name(root, shard["key"], fname, "shard key", folder, folder_str)
        if shard["key"] in keys:
            fail(f"the shard key {shard['key']} is listed twice")
        keys.add(shard["key"])
        if not _is_count(shard["n_items"]):
            fail(f"shard {shard['key']}: n_items {shard['n_items']!r} is not a count")
        if "table" in shard:
            _check_name(root, shard["table"], fname, "table", folder, folder_str)
            if not shard["table"].endswith((".parquet", ".csv")):
                fail(
                    f"shard {shard['key']}: the table {shard['table']!r} is not a "
                    ".parquet (or .csv) file"
                )
    return manifest


def read_manifest(path):
    """The manifest of a store folder (a dict), checked: format, version, rate and
    length, and every shard entry (names inside the store, counts); a
    :class:`ValueError` names the file and what is wrong."""
    fname = Path(path) / MANIFEST
    if not fname.is_file():
        raise FileNotFoundError(
            f"{path} is not a segment store (no {MANIFEST}); create one "
            "with mne_specae.prepare_segments(sources, path)."
        )
    return parse_manifest(fname.read_bytes(), path, fname)


def parse_manifest(text, path, fname):
    """:func:`read_manifest` of the text of ``fname``, the manifest of the store
    ``path`` (a folder, or a URL's path)."""
    try:
        manifest = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{fname} is damaged ({err}).") from err
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise ValueError(f"{fname} is not the manifest of an mne-specae segment store.")
    if manifest.get("version", 0) > STORE_VERSION:
        raise ValueError(
            f"{path} was written by a newer mne-specae (store version "
            f"{manifest['version']}); upgrade mne-specae."
        )
    return check_manifest(manifest, Path(path), fname)


def check_shard_array(fname, n_items, n_times):
    """The byte offset of the first row of the shard ``fname``, after checking its
    ``.npy`` header (float32, C order, ``(n_items, n_times)``) and its size."""

    def fail(message):
        raise ValueError(f"{fname}: {message}; the store is damaged: {_REDO}.")

    try:
        with open(fname, "rb") as fid:
            return check_shard_header(fname, fid, os.fstat(fid.fileno()).st_size, n_items, n_times)
    except FileNotFoundError:
        fail("the shard file is missing")
    except OSError as err:
        fail(f"not a valid .npy file ({err})")


def check_shard_header(fname, fid, size, n_items, n_times):
    """:func:`check_shard_array` on the start of the file, ``fid`` (a file object at
    byte 0), of ``size`` bytes (a remote shard: its first bytes)."""

    def fail(message):
        raise ValueError(f"{fname}: {message}; the store is damaged: {_REDO}.")

    try:
        version = np.lib.format.read_magic(fid)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fid)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fid)
        offset = fid.tell()
    except FileNotFoundError:
        fail("the shard file is missing")
    except (ValueError, OSError, SyntaxError, TypeError, EOFError) as err:
        fail(f"not a valid .npy file ({err})")
    if fortran or dtype != np.dtype("<f4") or len(shape) != 2:
        fail(f"holds a {dtype} array of shape {shape}, not float32 rows")
    if shape[1] != n_times:
        fail(f"rows of {shape[1]} samples, the manifest says n_times {n_times}")
    if shape[0] != n_items:
        fail(f"holds {shape[0]} items, the manifest says {n_items}")
    expected = offset + n_items * n_times * 4
    if size != expected:
        fail(f"{size} bytes instead of {expected} (truncated or extended)")
    return offset


def view_of(manifest):
    """What a reader's rows depend on: the generation (if any), the settings and
    each shard's checksum and count, by key."""
    return (
        manifest.get("generation"),
        json.dumps(manifest.get("settings"), sort_keys=True),
        {s["key"]: (s.get("checksum"), s["n_items"]) for s in manifest["shards"]},
    )


def manifest_stamp(fname):
    """Identity of the manifest file as last seen (inode, mtime, size), or ``None``."""
    try:
        st = os.stat(fname)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def still_the_same(opened, current):
    """Whether the manifest ``current`` holds the shards of ``opened`` (a
    :func:`view_of`) unchanged: the same generation and settings, and each of its
    shards with the same checksum and count (new shards may have been added)."""
    generation, settings, shards = opened
    now_generation, now_settings, now_shards = view_of(current)
    return (
        generation == now_generation
        and settings == now_settings
        and all(now_shards.get(key) == value for key, value in shards.items())
    )


def changed_error(path):
    return StoreChangedError(
        f"The store {path} was rewritten since it was opened; open it "
        "again (read_segments). It was prepared again (e.g. with "
        "overwrite=True) by this or another process, so its rows no "
        "longer match the metadata read before."
    )


def write_manifest(fname, manifest):
    """Replace the manifest ``fname`` atomically (:func:`~mne_specae.utils._files.write_atomic`:
    an error names ``fname`` and leaves it unchanged)."""
    text = json.dumps(manifest, indent=1)
    write_atomic(fname, lambda fid: fid.write(text), note="it is unchanged")
