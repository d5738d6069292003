"""The data folder, and downloads into it with checksums (pooch)."""

from __future__ import annotations

import os
from pathlib import Path

import mne
from mne.utils import logger

from ..utils._files import file_sha256
from .registry import DataFile

DATA_ENV = "MNE_SPECAE_DATA"
MIRROR_ENV = "MNE_SPECAE_MIRROR"

_verified: dict[tuple[str, int, int], str] = {}


def get_data_path(path=None) -> Path:
    """Return the folder that holds (or will hold) the recordings.

    Parameters
    ----------
    path : path-like | None
        Use this folder. If ``None``: the environment variable ``MNE_SPECAE_DATA``,
        else the MNE config key of the same name (``mne.set_config``), else
        ``<MNE data folder>/mne-specae`` (``MNE_DATA``, by default ``~/mne_data``).

    Returns
    -------
    path : pathlib.Path
        The folder (not created here).
    """
    if path is None:
        path = mne.get_config(DATA_ENV)  # the environment first, then MNE's config file
    if path is None:
        mne_data = mne.get_config("MNE_DATA") or os.path.join("~", "mne_data")
        path = Path(mne_data) / "mne-specae"
    return Path(path).expanduser().resolve()


def _sha256(fname: Path) -> str:
    stat = fname.stat()
    key = (str(fname), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = file_sha256(fname)
    return _verified[key]


def file_url(file: DataFile) -> str:
    """Download URL of a file: the public one, or the mirror's (``MNE_SPECAE_MIRROR``).

    A mirror is any HTTP(S) server that holds the data folder's layout: the file is
    fetched from ``<mirror>/<relpath>``.
    """
    mirror = mne.get_config(MIRROR_ENV)
    if mirror:
        return mirror.rstrip("/") + "/" + file.relpath
    return file.url


def fetch_file(file: DataFile, folder: Path, *, download: bool = True) -> Path:
    """Return the local path of ``file`` in ``folder``, downloading it when missing.

    The SHA-256 checksum (when the registry knows it) is checked for files found on
    disk and for downloads alike.
    """
    import pooch
    import requests

    target = Path(folder) / file.relpath
    if target.is_file():
        if file.sha256 and _sha256(target) != file.sha256:
            raise OSError(
                f"{target} does not match its SHA-256 checksum ({_sha256(target)[:12]}... "
                f"instead of {file.sha256[:12]}...): the file is corrupt or a different "
                "version. Delete it to download it again, or replace it with the public "
                f"file from {file.url}"
            )
        return target
    where = (
        f"Put the file at {target} (the data folder follows the layout of "
        f"mne_specae.datasets registry paths, e.g. '{file.relpath}'), or point "
        f"{DATA_ENV} (or the path argument) at a folder that has it."
    )
    if not download:
        raise FileNotFoundError(f"{file.relpath} is not in the data folder {folder}. {where}")
    url = file_url(file)
    known_hash = f"sha256:{file.sha256}" if file.sha256 else None
    logger.info(f"Downloading {url} -> {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pooch.retrieve(
            url,
            known_hash=known_hash,
            fname=target.name,
            path=target.parent,
            progressbar=logger.level <= 20,
        )
    except requests.exceptions.RequestException as err:
        raise OSError(
            f"Could not download {file.relpath} from {url} ({type(err).__name__}: {err}). "
            f"If this machine is offline: {where}"
        ) from err
    except PermissionError as err:
        raise OSError(f"Cannot write to the data folder {folder} ({err}). {where}") from err
    except ValueError as err:  # pooch: checksum mismatch of the download
        raise OSError(
            f"The download of {file.relpath} from {url} failed its checksum check: {err}"
        ) from err
    if not file.sha256:
        logger.info(f"{file.relpath}: SHA-256 {_sha256(target)} (no published checksum)")
    return target
