"""Recordings from files and folders, for batch jobs: which files, which subject, which
channels, and what to do with a file that cannot be read.

The command line (and, later, segment stores) go through here, so a folder is read the
same way everywhere: every format the package or MNE reads, WFDB records by header or
bare record name, unreadable files (a licence ``.txt``, notes, a truncated EDF) skipped
with a warning and counted, or an error naming the file in strict mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mne.utils import logger, warn

from .datasets.channels import check_channel_types
from .datasets.readers import read_raw
from .segments import SIGNAL_TYPES, make_segments

#: Suffixes of the files a folder is searched for.
RECORDING_SUFFIXES = (".edf", ".bdf", ".fif", ".hea", ".txt", ".vhdr", ".set", ".gdf",
                      ".cnt", ".mff")
_BIDS_ENTITY = re.compile(r"(?:^|[_/\\])sub-([A-Za-z0-9]+)")


@dataclass
class Skipped:
    """Files that were not used, and why (one line each)."""

    files: list = field(default_factory=list)

    def add(self, path, reason, *, strict):
        """Record a file that cannot be used; in strict mode, raise instead."""
        message = f"{path}: {reason}"
        if strict:
            raise ValueError(message + " (--strict: stopping; without it the file is skipped)")
        warn(f"Skipped {message}")
        self.files.append((Path(path), str(reason)))

    def summary(self):
        """One line for the end of a run ('' when nothing was skipped)."""
        if not self.files:
            return ""
        return (f"Skipped {len(self.files)} file(s): "
                + "; ".join(f"{p.name} ({r})" for p, r in self.files))


def find_recordings(paths):
    """The recording files named by ``paths``: files, folders (searched recursively),
    or bare WFDB record names (``mitdb/100`` for ``mitdb/100.hea``).

    Parameters
    ----------
    paths : list of path-like
        Files and folders.

    Returns
    -------
    files : list of pathlib.Path
        Sorted within each folder; WFDB records by their header (``.hea``) only.
    """
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in RECORDING_SUFFIXES)
            if not found:
                raise ValueError(f"No recording in the folder {path} (looked for "
                                 f"{', '.join(RECORDING_SUFFIXES)}).")
            files += found
        elif path.is_file():
            files.append(path.with_suffix(".hea") if path.suffix == ".dat"
                         and path.with_suffix(".hea").is_file() else path)
        elif path.with_suffix(".hea").is_file():
            files.append(path.with_suffix(".hea"))
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    return list(dict.fromkeys(files))


def subject_of(path, pattern=None):
    """The subject of a recording file.

    ``pattern``: a regular expression searched in the file name, whose group
    ``subject`` (or first group, or whole match) is the subject, e.g.
    ``r"(Subject\\d+)"`` for ``Subject00_1.edf``. Without a pattern: the BIDS entity
    ``sub-<label>`` of the path when there is one, else ``None`` (the reader decides:
    the record or file name).
    """
    path = Path(path)
    if pattern is not None:
        match = re.search(pattern, path.name)
        if match is None:
            raise ValueError(f"{path}: --subject-pattern {pattern!r} does not match the file "
                             "name.")
        if "subject" in match.re.groupindex:
            return match.group("subject")
        return match.group(1) if match.re.groups else match.group(0)
    bids = _BIDS_ENTITY.findall(path.as_posix())
    return f"sub-{bids[-1]}" if bids else None


def segments_of_file(path, *, duration, sfreq, picks=None, channel_types=None,
                  subject_pattern=None, unknown_units="skip"):
    """One recording file -> a list of Epochs, one per signal type it holds.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    duration, sfreq : float
        Segment length (s) and sampling rate (Hz), as in :func:`make_segments`.
    picks : str | list | None
        Channels (names or types); ``None``: every ECG, EEG and EMG channel.
    channel_types : dict | None
        Channel types set by the caller (``{"ECG": "ecg"}``); types that channel
        names contradict are corrected with a warning.
    subject_pattern : str | None
        See :func:`subject_of`.
    unknown_units : str
        WFDB signals not in volts, see :func:`~mne_specae.datasets.read_wfdb`.

    Returns
    -------
    epochs : list of mne.Epochs
        Empty when the file holds no ECG, EEG or EMG channel (after picks).
    """
    raw = read_raw(path, unknown_units=unknown_units, verbose=False)
    check_channel_types(raw, path, channel_types=channel_types)
    if picks is not None:
        raw.pick(picks, exclude="bads")
    present = raw.get_channel_types(unique=True)
    types = [t for t in SIGNAL_TYPES if t in present]
    stem = Path(path).name.split(".")[0]
    subject = subject_of(path, subject_pattern)
    out = []
    for kind in types:
        out.append(make_segments(raw, duration, sfreq, picks=kind, subject=subject,
                                 recording=stem if len(types) == 1 else f"{stem}-{kind}",
                                 verbose=False))
    if types:
        logger.info(f"{path}: {sum(len(e) for e in out)} segment(s) of {', '.join(types)}")
    return out
