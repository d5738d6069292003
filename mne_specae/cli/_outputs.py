"""Output paths of the command line, checked before any work: existing outputs
(``--overwrite``), a file where a folder is needed and the reverse, where ``embed``
writes each recording, and what to say was written.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils._files import write_atomic

#: Suffixes that make an ``--out`` look like a file (never taken as a folder name).
FILE_SUFFIXES = (
    ".csv",
    ".tsv",
    ".txt",
    ".json",
    ".fif",
    ".gz",
    ".specae",
    ".png",
    ".pdf",
    ".svg",
    ".npy",
    ".npz",
    ".edf",
    ".bdf",
    ".mat",
    ".h5",
    ".hdf5",
    ".pkl",
    ".pt",
    ".xlsx",
    ".parquet",
    ".zip",
)
EPOCHS_SUFFIX = "-epo.fif"


def check_new(path, overwrite, what):
    """Refuse an output that exists (before any work), unless ``--overwrite``."""
    path = Path(path)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"The {what} folder {path} exists and is not empty; pass "
            "--overwrite or choose another --out."
        )
    if path.is_file() and not overwrite:
        raise FileExistsError(f"The {what} {path} exists; pass --overwrite or choose another path.")
    if not path.parent.exists():
        raise FileNotFoundError(f"The folder of the {what} {path} does not exist.")
    return path


def check_folder_out(out, what):
    """Refuse an ``--out`` that names a file where a folder is written.

    ``what`` completes "with ... it is the folder of ...", e.g. ``"--apply it is the
    folder of the corrected -raw.fif files"``.
    """
    out = Path(out)
    if out.is_file():
        raise NotADirectoryError(f"--out {out} is a file; {what}.")
    if out.suffix.lower() in FILE_SUFFIXES and not out.is_dir():
        raise ValueError(
            f"--out {out} looks like a file; {what}: give a folder name (without a file suffix)."
        )
    return out


def check_file_out(out, command, what, example):
    """Refuse an ``--out`` that is a folder where one file is written."""
    if Path(out).is_dir() or str(out).endswith(("/", os.sep)):
        out = Path(out)
        raise IsADirectoryError(
            f"--out {out} is a folder; {command} writes one {what}: "
            f"give a file name (e.g. {out / example})."
        )
    return Path(out)


def embed_out_kind(out):
    """``"csv"``, ``"epochs"`` (one ``-epo.fif``, or one per signal type) or
    ``"folder"``; an ``--out`` that looks like another kind of file is refused."""
    out = Path(out)
    if out.suffix.lower() == ".csv":
        return "csv"
    if out.name.endswith(EPOCHS_SUFFIX):
        return "epochs"
    if out.suffix.lower() == ".fif":
        raise ValueError(
            f"--out {out}: MNE's Epochs files end in {EPOCHS_SUFFIX}: name it "
            f"{out.name[:-4]}{EPOCHS_SUFFIX}."
        )
    if out.suffix.lower() in FILE_SUFFIXES or out.is_file():
        raise ValueError(
            f"--out {out} names a {out.suffix or 'plain'} file; embed writes a "
            ".csv table, an -epo.fif file or a folder (a name without a file "
            "suffix)."
        )
    return "folder"


def embed_targets(out, epochs, overwrite):
    """Where each Epochs goes: one CSV (``{}``), one -epo.fif per signal type, or one
    per recording in a folder (``{id(epochs): path}``).

    Checked before the long work: two Epochs bound for the same file, or an existing
    file without ``--overwrite``, are errors.
    """
    kind = embed_out_kind(out)
    if kind == "csv":
        return {}
    if kind == "epochs":
        stem = out.name[: -len(EPOCHS_SUFFIX)]
        names = {
            id(ep): out
            if len(epochs) == 1
            else out.with_name(f"{stem}-{ep.metadata['signal_type'].iloc[0]}{EPOCHS_SUFFIX}")
            for ep in epochs
        }
    else:
        names = {
            id(ep): out / (ep.metadata["recording"].iloc[0].replace("/", "_") + EPOCHS_SUFFIX)
            for ep in epochs
        }
    if len(set(names.values())) < len(names):
        raise ValueError(
            f"{len(epochs)} recordings do not fit in {out}: several would be "
            "written to one file. Pass a .csv file, or a folder (one -epo.fif "
            "per recording and signal type)."
        )
    for path in names.values():
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite or choose another --out.")
    return names


def describe_written(out, targets):
    """What was written, for the last line of ``embed``: the file(s) themselves."""
    if not targets:
        return str(out)
    paths = list(dict.fromkeys(targets.values()))
    if embed_out_kind(out) == "folder":
        return f"{len(paths)} file(s) in {out}: " + ", ".join(sorted(p.name for p in paths))
    return ", ".join(str(p) for p in paths)


def write_csv(table, path):
    """A table written atomically (:func:`~mne_specae.utils._files.write_atomic`): an
    interrupted run leaves no half-written table."""
    return write_atomic(path, lambda fid: table.to_csv(fid, index=False))
