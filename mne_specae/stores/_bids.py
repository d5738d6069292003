"""BIDS datasets read through mne-bids (an optional dependency).

A source inside a BIDS dataset (its root, the folder holding
``dataset_description.json``, a folder in it, or one of its files) has its recordings
found by :func:`mne_bids.find_matching_paths` (the ``sub-*`` folders only: not
``derivatives/`` or ``sourcedata/``; the first file of a split FIF) and read by
:func:`mne_bids.read_raw_bids`, so that ``channels.tsv`` gives the channel types and
bad channels, ``events.tsv`` the annotations (``BAD_*`` rows leave their segments
out) and the sidecar the line frequency. The entities of each file (session, task,
run, acquisition) become metadata columns, the subject ``sub-<label>``, as when the
file names are parsed.

Without mne-bids (or for files that mne-bids does not match), the tree is read as any
folder: every recording file, its subject and entities from its file name.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from mne.utils import logger

#: The file of a BIDS root.
DESCRIPTION = "dataset_description.json"
#: BIDS entities kept as metadata columns (column -> BIDSPath entity).
ENTITY_COLUMNS = {"session": "session", "task": "task", "run": "run", "acquisition": "acquisition"}
#: Suffixes of the recording files looked for (as mne-bids spells them, any case).
SUFFIXES = (".edf", ".bdf", ".fif", ".vhdr", ".set", ".gdf", ".cnt")
_SAID = set()


def mne_bids_module():
    """:mod:`mne_bids`, or ``None`` when it is not installed."""
    try:
        return importlib.import_module("mne_bids")
    except ImportError:
        return None


def bids_root_of(path):
    """The BIDS root holding ``path`` (itself or the nearest folder above it with a
    ``dataset_description.json``), absolute; ``None`` outside a BIDS dataset."""
    path = Path(path).absolute()
    for folder in (path, *path.parents) if path.is_dir() else path.parents:
        if (folder / DESCRIPTION).is_file():
            return folder
    return None


def find_bids_recordings(path):
    """The recordings of ``path`` as mne-bids finds them.

    Parameters
    ----------
    path : path-like
        A BIDS root, a folder inside one, or a file of one.

    Returns
    -------
    found : dict | None
        ``{file: BIDSPath}``, files sorted and spelled from ``path`` as given (like
        :func:`~mne_specae.stores._discovery.find_recordings`); ``None`` when
        ``path`` is not in a BIDS dataset, when mne-bids is not installed (logged
        once per root), or when mne-bids finds no recording there: the caller then
        reads ``path`` as any file or folder.
    """
    root = bids_root_of(path)
    if root is None:
        return None
    paths = bids_recordings(root)
    if paths is None:
        return None
    given, absolute = Path(path), Path(path).absolute()
    found = {}
    for bids_path in paths:
        fpath = Path(bids_path.fpath)
        if fpath == absolute:
            found[given] = bids_path
        elif absolute.is_dir() and fpath.is_relative_to(absolute):
            found[given / fpath.relative_to(absolute)] = bids_path
    if not found:
        return None
    return {f: found[f] for f in sorted(found)}


def bids_recordings(root, *, name=None):
    """Every recording of the BIDS dataset at ``root`` (a local folder), as
    :func:`mne_bids.find_matching_paths` finds them under ``sub-*`` (not
    ``derivatives/`` or ``sourcedata/``; a split FIF by its first file).

    Returns
    -------
    bids_paths : list of mne_bids.BIDSPath | None
        ``None`` when mne-bids is not installed (logged once per dataset, named by
        ``name``, else ``root``).
    """
    mne_bids = mne_bids_module()
    if mne_bids is None:
        name = str(root if name is None else name)
        if name not in _SAID:
            _SAID.add(name)
            logger.info(
                f"{name} is a BIDS dataset, but mne-bids is not installed: its files "
                "are read without channels.tsv and events.tsv, entities from the file "
                "names (pip install mne-bids)"
            )
        return None
    extensions = [e for e in mne_bids.config.reader if e.lower() in SUFFIXES]
    return [
        bids_path
        for bids_path in mne_bids.find_matching_paths(
            root, extensions=extensions, ignore_json=True, ignore_nosub=True
        )
        # a FIF's later splits are read with its first one
        if bids_path.split in (None, "01") and bids_path.datatype is not None
    ]


def read_bids_raw(bids_path, *, channel_types=None):
    """A recording read with :func:`mne_bids.read_raw_bids`, preloaded.

    Channel types are those of ``channels.tsv`` (not corrected after the channel
    names, as files without sidecars are: the sidecar is the dataset's own word),
    then the caller's ``channel_types``; bad channels those marked bad there;
    annotations those of ``events.tsv``.
    """
    mne_bids = mne_bids_module()
    raw = mne_bids.read_raw_bids(bids_path, verbose=False)
    raw.load_data(verbose=False)
    if channel_types:
        chosen = dict(channel_types)
        unknown = sorted(set(chosen) - set(raw.ch_names))
        if unknown:  # as for files without sidecars
            raise ValueError(
                f"{bids_path.fpath}: no channel(s) {unknown} to set a type for; the "
                f"file has {raw.ch_names}."
            )
        logger.info(f"{bids_path.fpath}: channel types set by the caller: {chosen}")
        raw.set_channel_types(chosen, on_unit_change="ignore", verbose=False)
    return raw


def entity_columns(bids_path):
    """``{column: value}`` of the entities of ``bids_path`` that are set (strings, as
    in the file name)."""
    out = {}
    for column, entity in ENTITY_COLUMNS.items():
        value = bids_path.entities.get(entity)
        if value is not None:
            out[column] = str(value)
    return out
