"""Files: atomic, safe writes and reads, and checksums.

Every file the package writes (model files, training checkpoints, store shards,
tables and manifests, the CLI's tables) goes through :func:`write_atomic`
(temporary file, flushed and synced, then renamed: a crash never leaves half a
file; :func:`save_atomic` for torch objects) and is read back with :func:`load_safely`
(``torch.load(weights_only=True)``: opening a file never runs code from it).
"""

from __future__ import annotations

import glob
import os
import pickle
from pathlib import Path

import torch


# ---------------------------------------------------------------- safe files
def write_atomic(path, write, *, mode="w", note=None, sync=True):
    """Write ``path`` atomically through ``write(fid)``: the one writer of the package.

    ``write`` fills a temporary file in the same folder (``.<name>.<pid>.tmp``), which
    is flushed and synced, renamed over ``path``, and the folder synced (the rename
    is durable). A crash never leaves half a file; on any failure the temporary file
    is removed, and an ``OSError`` (same type) names ``path`` (and ``note``, e.g.
    "the store keeps its previous metadata"). ``sync=False`` leaves both syncs to the
    caller (:func:`fsync_files`), e.g. a process that commits what workers wrote.

    Parameters
    ----------
    path : path-like
        Destination (its folder must exist).
    write : callable
        Called with the open temporary file.
    mode : ``"w"`` | ``"wb"``
        Text (``newline=""``: written as is) or bytes.
    note : str | None
        Appended to the message of an error.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"newline": ""})) as fid:
            write(fid)
            fid.flush()
            if sync:
                os.fsync(fid.fileno())
        os.replace(tmp, path)
        if sync:
            fsync_folder(path.parent)
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        hint = ". Choose a writable location" if isinstance(err, PermissionError) else ""
        message = f"Could not write {path}: {reason}{hint}" + (f" ({note})" if note else "")
        raise (type(err)(err.errno, message) if err.errno else type(err)(message)) from err
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return path


def save_atomic(obj, path):
    """``torch.save`` through :func:`write_atomic` (its folder created if needed).

    Temporary files that a killed process left behind for the same ``path`` are
    removed first.

    Parameters
    ----------
    obj : dict
        Tensors and plain Python values.
    path : path-like
        Destination.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            f"Cannot create the folder of {path}: {err.strerror or err}. "
            "Choose a writable location."
        ) from err
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        orphan.unlink(missing_ok=True)
    return write_atomic(path, lambda fid: torch.save(obj, fid), mode="wb")


def fsync_files(paths):
    """Make files written with ``write_atomic(..., sync=False)`` durable: each file's
    data, then the folders that hold them (their renames)."""
    paths = [Path(p) for p in paths]
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in dict.fromkeys(p.parent for p in paths):
        fsync_folder(folder)


def fsync_folder(folder):
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_stem(path):
    """A file's name without its extensions (``rest_raw`` for ``rest_raw.fif.gz``):
    how the package names a recording after its file."""
    return Path(path).name.split(".")[0]


def file_sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file, read in chunks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fid:
        for block in iter(lambda: fid.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def load_safely(path, *, what="model file"):
    """Load a file written by this package with ``torch.load(weights_only=True)``.

    Only tensors and plain Python containers/numbers/strings are accepted: a file
    that would run code when unpickled is refused, and a damaged file gives a clear
    error instead of a traceback from deep inside PyTorch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err) and not _pickles_objects(path):
            raise ValueError(
                f"{path} is not a readable {what}: it is damaged or not written by "
                f"mne-specae ({_load_error_detail(err)})."
            ) from err
        raise ValueError(
            f"Refused to load {path}: it is not a plain {what} (it holds Python objects "
            f"that could run code when opened; only weights and settings are allowed). "
            f"Details: {_load_error_detail(err)}"
        ) from err
    except Exception as err:  # damaged files fail with EOFError, KeyError, IndexError, ...
        raise ValueError(
            f"{path} is not a readable {what}: it is damaged or not written by "
            f"mne-specae ({type(err).__name__}: {_load_error_detail(err)})."
        ) from err


_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"}


def _pickles_objects(path):
    """Whether the file's pickle refers to Python callables (read, never executed)."""
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                payload = archive.read(name)
        else:
            payload = Path(path).read_bytes()
        return any(op.name in _CODE_OPCODES for op, _, _ in pickletools.genops(payload))
    except Exception:  # not a parsable pickle: damaged, not malicious
        return False


def _load_error_detail(err):
    """The informative line of a torch.load error (some have none: EOFError())."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:  # refusals: "... WeightsUnpickler error: Unsupported global: ..."
        if "Unsupported" in line:
            return line.split("WeightsUnpickler error:")[-1].split(" Please use")[0].strip()
    return lines[0] if lines else "no details"
