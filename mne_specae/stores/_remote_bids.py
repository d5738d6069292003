"""A BIDS dataset at a URL, read through mne-bids as a local one is.

A URL (a folder or a file) inside a BIDS dataset (the folder itself or one above it
holds ``dataset_description.json``) has its recordings found with the rules of a
local dataset (:func:`~mne_specae.stores._bids.bids_recordings`, run on a skeleton of
empty files that mirrors the listing: no download). Each recording comes with the
files that :func:`mne_bids.read_raw_bids` reads with it, by the BIDS inheritance
principle: in the recording's folder, every file whose entities agree with the
recording's (its sidecar JSON, ``channels.tsv``, ``events.tsv``, ``electrodes.tsv``
and ``coordsystem.json``, a BrainVision ``.eeg`` and ``.vmrk``, the other parts of a
split FIF); in the folders above it up to the root, the ``.json`` and ``.tsv`` files
whose entities agree (``dataset_description.json``, ``participants.tsv``, the
``scans.tsv``, sidecars inherited from the root). Entities agree when the subject,
session, task, acquisition, run, processing and recording entities of the file are
the recording's (other entities, such as ``space``, do not bind). A worker mirrors
these files into a folder of its own and reads the recording there
(:meth:`~mne_specae.stores._remote.RemoteFile.bids_path_at`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

from mne.utils import logger

from ._bids import DESCRIPTION, SUFFIXES, bids_recordings

#: Entities that tie a sidecar to the recordings that have the same value.
_BINDING = ("sub", "ses", "task", "acq", "run", "proc", "rec")
#: Extensions of the files inherited from the folders above a recording.
_INHERITED = (".json", ".tsv", ".tsv.gz")


def _isfile(fs, path):
    """Whether ``path`` is a file of ``fs`` (``False`` also when it cannot be asked:
    a parent that the credentials may not list)."""
    try:
        return fs.isfile(path)
    except Exception:  # noqa: BLE001 - any refusal reads as "no dataset there"
        return False


def remote_bids_root(fs, root, is_dir, listing):
    """The BIDS root holding ``root`` (a path of ``fs``): ``root`` itself when its
    ``listing`` holds ``dataset_description.json``, else the nearest folder above it
    that has one; ``None`` outside a BIDS dataset."""
    root = root.rstrip("/")
    if is_dir and f"{root}/{DESCRIPTION}" in listing:
        return root
    for folder in PurePosixPath(root).parents:
        folder = folder.as_posix()
        if folder in (".", "/", ""):
            break
        if _isfile(fs, f"{folder}/{DESCRIPTION}"):
            return folder
    return None


def _entities(name):
    """``{key: value}`` of a BIDS file name (``sub-01_task-rest_eeg.json``)."""
    parts = name.split(".", 1)[0].split("_")
    return dict(part.split("-", 1) for part in parts if "-" in part)


def _agree(name, entities):
    """Whether a file named ``name`` belongs with a recording of ``entities``."""
    own = _entities(name)
    return all(own[key] == entities.get(key) for key in _BINDING if key in own)


def by_folder(files):
    """``{folder: [file name, ...]}`` of paths relative to the root (``"."``: the
    root's own files)."""
    out = {}
    for relative in files:
        path = PurePosixPath(relative)
        out.setdefault(path.parent.as_posix(), []).append(path.name)
    return out


def _companions(relative, folders):
    """The files (paths relative to the root) read with the recording at
    ``relative``, sorted, not the recording itself; ``folders``: :func:`by_folder`
    of the dataset's files."""
    path = PurePosixPath(relative)
    entities = _entities(path.name)
    out = []
    for folder in [path.parent, *path.parents[1:]]:
        own = folder == path.parent
        for name in folders.get(folder.as_posix(), ()):
            if own and name == path.name:
                continue
            if not own and not name.endswith(_INHERITED):
                continue  # above the recording: sidecars only (not a README)
            if _agree(name, entities):
                out.append((folder / name).as_posix().removeprefix("./"))
    return sorted(out)


def find_remote_bids(fs, root, is_dir, listing, cache, url):
    """The recordings of a BIDS dataset at ``root`` (a folder or file of ``fs``).

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The file system.
    root : str
        The path given (without protocol).
    is_dir : bool
        Whether it is a folder.
    listing : dict
        ``{path: info}`` of the files under it (``fs.find(root, detail=True)``).
    cache : str
        The local folder under which the skeleton of the dataset is made.
    url : str
        The URL as given, for messages.

    Returns
    -------
    found : list of tuple | None
        ``(path, info, bids_path, bids_root, companions)`` per recording, sorted by
        path: its path and listing entry, its ``BIDSPath`` (its ``root`` to be set
        where the files are mirrored), the dataset's root and the paths of the files
        read with it. ``None`` when ``root`` is not in a BIDS dataset, when mne-bids
        is not installed (logged once) or finds nothing there: the caller then reads
        ``root`` as a plain file or folder.
    """
    root = root.rstrip("/")
    bids_root = remote_bids_root(fs, root, is_dir, listing)
    if bids_root is None:
        return None
    if bids_root != root or not is_dir:
        listing = fs.find(bids_root, detail=True)
    files = {
        p[len(bids_root) + 1 :]: info
        for p, info in listing.items()
        if info.get("type", "file") == "file" and p.startswith(bids_root + "/")
    }
    Path(cache).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mne-specae-bids-", dir=cache) as skeleton:
        (Path(skeleton) / DESCRIPTION).touch()
        for relative in files:
            path = PurePosixPath(relative)
            if path.parts[0].startswith("sub-") and path.suffix.lower() in SUFFIXES:
                target = Path(skeleton, *path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
        bids_paths = bids_recordings(skeleton, name=fs.unstrip_protocol(bids_root))
        if bids_paths is None:
            return None
        found = {}
        for bids_path in bids_paths:
            relative = Path(bids_path.fpath).relative_to(skeleton).as_posix()
            path = f"{bids_root}/{relative}"
            if path == root or (is_dir and path.startswith(root + "/")):
                bids_path = bids_path.copy()
                bids_path.root = None
                found[path] = (path, files[relative], bids_path, bids_root)
    if not found:
        return None
    logger.info(f"{url}: {len(found)} recording(s) of a BIDS dataset, read through mne-bids")
    folders = by_folder(files)
    return [
        (*found[p], [f"{bids_root}/{c}" for c in _companions(p[len(bids_root) + 1 :], folders)])
        for p in sorted(found)
    ]
