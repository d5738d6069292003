"""Recordings at a URL (``s3://``, ``gs://``, ``az://``, ... anything :mod:`fsspec`
reaches), for :func:`~mne_specae.prepare_segments`.

A URL names a file or a folder; a folder is searched recursively with the rules of a
local folder (:data:`~mne_specae.stores._discovery.RECORDING_SUFFIXES`, WFDB records
by their header). Each recording is a :class:`RemoteFile`: its URL, its companions
(the files beside it with the same name before the extensions: a WFDB record's
``.dat`` and ``.atr``, a BrainVision ``.eeg`` and ``.vmrk``, an EEGLAB ``.fdt``), and
an identity read from the store's listing (its ETag or modification stamp, no
download) so that a preparation run again skips what it has. A worker copies the file
and its companions to a folder of its own under the local cache folder just long
enough to read them with MNE (:meth:`RemoteFile.fetched`), then removes that folder,
whatever happened.

A URL inside a BIDS dataset (``dataset_description.json`` at the URL or in a folder
above it) is read through mne-bids as a local dataset is, when mne-bids is installed
(:mod:`~mne_specae.stores._remote_bids`): its recordings are those mne-bids finds, each
copied with the sidecars that :func:`mne_bids.read_raw_bids` reads, the tree mirrored.

:mod:`fsspec` and the file system's own package (``s3fs`` for ``s3://``) are needed
only here: the ``remote`` extra (``pip install mne-specae[remote]``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from ..utils._files import file_stem
from ._discovery import _WFDB_SIGNAL_SUFFIXES, RECORDING_SUFFIXES
from ._remote_bids import find_remote_bids

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: The environment variable naming the local folder where remote files are cached
#: while they are read (default: the system's temporary folder).
CACHE_ENV = "MNE_SPECAE_REMOTE_CACHE"


class FetchError(OSError):
    """A remote file (or a companion) that could not be copied to the cache."""


def is_url(path):
    """Whether ``path`` is a URL (``<protocol>://...``, ``file://`` included)."""
    return isinstance(path, str) and _URL.match(path) is not None


def url_fs(url, storage_options=None):
    """``(filesystem, path)`` of a URL through :func:`fsspec.core.url_to_fs`."""
    try:
        import fsspec
    except ImportError as err:  # pragma: no cover - the remote extra is a test extra
        raise ImportError(
            f"Reading {url} needs fsspec (and the package of its protocol, s3fs for "
            "s3://): pip install 'mne-specae[remote]'."
        ) from err
    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as err:
        raise ImportError(
            f"{url}: fsspec has no file system for this protocol here ({err}); install "
            "its package (s3fs for s3://, gcsfs for gs://, adlfs for az://)."
        ) from err


def remote_error(url, err):
    """An error about a URL that could not be listed or read, naming the fix."""
    if isinstance(err, FileNotFoundError):
        return FileNotFoundError(f"No such file or folder: {url}")
    return OSError(
        f"{url} could not be read ({type(err).__name__}: {err}). Check the URL and the "
        "storage_options (credentials, endpoint_url) given for it."
    )


def _join(fs, path):
    """The URL of a path of ``fs``."""
    return fs.unstrip_protocol(path)


class RemoteFile:
    """A recording at a URL, with its companions (read by a worker, then removed).

    Parameters
    ----------
    url : str
        The recording (for a WFDB record: its header).
    companions : list of str
        URLs of the files read with it.
    checksum : str
        Its identity from the listing (ETag, or size and modification time).
    storage_options : dict | None
        What reaches the store (credentials, endpoint).
    cache : str
        The local folder under which it is copied while read.
    bids : tuple | None
        ``(root, bids_path)`` of a recording in a BIDS dataset: the dataset's URL and
        the recording's ``BIDSPath`` (no root). The recording and its companions (its
        sidecars) are then copied to their paths relative to ``root``, and read with
        :func:`mne_bids.read_raw_bids` (:meth:`bids_path_at`).
    """

    def __init__(self, url, companions, checksum, storage_options, cache, bids=None):
        self.url, self.companions, self.checksum = url, list(companions), checksum
        self.storage_options, self.cache, self.bids = storage_options, cache, bids

    def __repr__(self):
        return f"<RemoteFile {self.url}>"

    @property
    def name(self):
        """The file name (the last part of the URL)."""
        return PurePosixPath(self.url.split("://", 1)[-1]).name

    def _relative(self, url):
        """Where ``url`` is copied, relative to the folder of the copy."""
        if self.bids is None:
            return PurePosixPath(url.split("://", 1)[-1]).name
        return PurePosixPath(url[len(self.bids[0].rstrip("/")) + 1 :]).as_posix()

    @contextlib.contextmanager
    def fetched(self):
        """The file, copied with its companions to a new folder of the cache (a BIDS
        recording at its path in the dataset, with its sidecars); the folder is
        removed on exit (also after an error)."""
        fs, _ = url_fs(self.url, self.storage_options)
        Path(self.cache).mkdir(parents=True, exist_ok=True)
        folder = tempfile.mkdtemp(prefix="mne-specae-", dir=self.cache)
        try:
            for url in [self.url, *self.companions]:
                target = os.path.join(folder, *self._relative(url).split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                try:
                    fs.get_file(fs._strip_protocol(url), target)
                except Exception as err:
                    raise FetchError(str(remote_error(url, err))) from err
            yield Path(folder, *self._relative(self.url).split("/"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def bids_path_at(self, local):
        """The ``BIDSPath`` of the copy at ``local`` (what :meth:`fetched` gave),
        rooted in the mirrored dataset; ``None`` for a file outside a BIDS dataset."""
        if self.bids is None:
            return None
        bids_path = self.bids[1].copy()
        bids_path.root = Path(local).parents[len(PurePosixPath(self._relative(self.url)).parts) - 1]
        return bids_path


def _identity(info):
    """A file's identity from its listing entry (no download)."""
    for key in ("ETag", "etag", "md5Hash", "crc32c", "checksum"):
        if info.get(key):
            return f"{key.lower()}:{str(info[key]).strip(chr(34))}"
    stamp = info.get("LastModified") or info.get("mtime") or info.get("updated") or ""
    return "size-mtime:" + hashlib.sha256(f"{info.get('size')}|{stamp}".encode()).hexdigest()


def find_remote_recordings(url, storage_options=None, cache=None):
    """The recordings at ``url`` (a file, or every recording under a folder) and
    their names (paths relative to the folder, without extensions; a file's name
    without extensions), as :func:`~mne_specae.stores._discovery.find_recordings`
    and :func:`~mne_specae.stores._discovery.recording_names` do for local paths.

    Returns
    -------
    names : dict
        ``{RemoteFile: recording name}``, sorted by URL.
    """
    fs, root = url_fs(url, storage_options)
    cache = str(cache or os.environ.get(CACHE_ENV) or tempfile.gettempdir())
    try:
        listing = fs.find(root, detail=True)
        is_dir = bool(listing) and not (len(listing) == 1 and root in listing)
        if not listing:
            listing = {root: fs.info(root)}  # a file, or FileNotFoundError
            if listing[root].get("type") == "directory":
                listing = {}
                is_dir = True
    except Exception as err:
        raise remote_error(url, err) from err
    try:
        bids = find_remote_bids(fs, root, is_dir, listing, cache, url)
    except Exception as err:  # the dataset's root could not be listed
        raise remote_error(url, err) from err
    if bids is not None:
        return _bids_names(fs, root, is_dir, bids, storage_options, cache)
    files = {p: info for p, info in listing.items() if info.get("type", "file") == "file"}
    by_folder = {}
    for p in files:
        folder, name = p.rsplit("/", 1) if "/" in p else ("", p)
        by_folder.setdefault((folder, file_stem(name)), []).append(p)
    if is_dir:
        chosen = sorted(p for p in files if PurePosixPath(p).suffix.lower() in RECORDING_SUFFIXES)
        if not chosen:
            raise ValueError(
                f"No recording in the folder {url} (looked for {', '.join(RECORDING_SUFFIXES)})."
            )
    else:
        suffix = PurePosixPath(root).suffix
        header = root[: -len(suffix)] + ".hea" if suffix in _WFDB_SIGNAL_SUFFIXES else None
        chosen = [header if header and fs.exists(header) else root]
    names = {}
    for p in chosen:
        folder, name = p.rsplit("/", 1) if "/" in p else ("", p)
        info = files.get(p) or fs.info(p)
        companions = [
            _join(fs, c) for c in sorted(by_folder.get((folder, file_stem(name)), [])) if c != p
        ]
        if not is_dir:  # a file named directly: its companions beside it
            companions = [
                _join(fs, c)
                for c in sorted(fs.glob(f"{folder}/{file_stem(name)}.*"))
                if c != p and fs.isfile(c)
            ]
        remote = RemoteFile(_join(fs, p), companions, _identity(info), storage_options, cache)
        names[remote] = _name(root, p, is_dir)
    return names


def _name(root, path, is_dir):
    """A recording's name: its path relative to the folder given, without extensions
    (a file given: its name without extensions)."""
    relative = path[len(root.rstrip("/")) + 1 :] if is_dir else path.rsplit("/", 1)[-1]
    parent = PurePosixPath(relative).parent
    return (parent / file_stem(relative)).as_posix().removeprefix("./")


def _bids_names(fs, root, is_dir, found, storage_options, cache):
    """``{RemoteFile: name}`` of the recordings of a BIDS dataset (what
    :func:`~mne_specae.stores._remote_bids.find_remote_bids` found)."""
    names = {}
    for path, info, bids_path, bids_root, companions in found:
        remote = RemoteFile(
            _join(fs, path),
            [_join(fs, c) for c in companions],
            _identity(info),
            storage_options,
            cache,
            bids=(_join(fs, bids_root), bids_path),
        )
        names[remote] = _name(root, path, is_dir)
    return names
