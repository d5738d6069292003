"""Recordings from files and folders, for batch jobs: which files, which subject, which
channels, and what to do with a file that cannot be read.

The command line (and, later, segment stores) go through here, so a folder is read the
same way everywhere: every format the package or MNE reads, WFDB records by header or
bare record name, unreadable files (a licence ``.txt``, notes, a truncated EDF) skipped
with a warning and counted, or an error naming the file in strict mode.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mne.utils import logger, warn

from ..datasets.channels import check_channel_types
from ..datasets.readers import read_raw
from ..segments import SIGNAL_TYPES, make_segments, raw_name
from ..utils._files import file_stem
from ._bids import read_bids_raw

#: Suffixes of the files a folder is searched for.
RECORDING_SUFFIXES = (
    ".edf",
    ".bdf",
    ".fif",
    ".hea",
    ".txt",
    ".vhdr",
    ".set",
    ".gdf",
    ".cnt",
    ".mff",
)
#: WFDB signal files, read through the header beside them.
_WFDB_SIGNAL_SUFFIXES = (".dat", ".mat")
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
        # a URL stays a string (a Path would fold its "//")
        self.files.append((path if "://" in str(path) else Path(path), str(reason)))

    def summary(self):
        """One line for the end of a run ('' when nothing was skipped)."""
        if not self.files:
            return ""
        return f"Skipped {len(self.files)} file(s): " + "; ".join(
            f"{str(p).rsplit('/', 1)[-1] if isinstance(p, str) else p.name} ({r})"
            for p, r in self.files
        )


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
        Sorted within each folder, each file once; WFDB records by their header
        (``.hea``) only, also when named by a signal file (``.dat``, ``.mat``).
    """
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES
            )
            if not found:
                raise ValueError(
                    f"No recording in the folder {path} (looked for "
                    f"{', '.join(RECORDING_SUFFIXES)})."
                )
            files += found
        elif path.is_file():
            # a WFDB signal file (.dat, or .mat as wfdb2mat writes) is its record's
            # header, so that a record named by both is read once
            files.append(
                path.with_suffix(".hea")
                if path.suffix in _WFDB_SIGNAL_SUFFIXES and path.with_suffix(".hea").is_file()
                else path
            )
        elif path.with_suffix(".hea").is_file():
            files.append(path.with_suffix(".hea"))
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    return list(dict.fromkeys(files))


def _relative_name(path, folder):
    """``path`` relative to ``folder``, without extensions, with ``/`` separators."""
    relative = Path(path).relative_to(folder)
    return (relative.parent / file_stem(relative)).as_posix().removeprefix("./")


def recording_names(files, paths):
    """The recording name of each file: unique, and stable from run to run.

    The rule: a file found in a folder of ``paths`` is named by its path relative to
    that folder, without extensions (``s1/rest_raw`` for ``<folder>/s1/rest_raw.fif``,
    ``rest_raw`` for ``<folder>/rest_raw.fif``); a file named directly by its file name
    without extensions. Files that would still share a name (the same file name given
    from two folders) are named by their paths relative to their common folder.

    Parameters
    ----------
    files : list of pathlib.Path
        What :func:`find_recordings` returned for ``paths``.
    paths : list of path-like
        The files and folders the user named.

    Returns
    -------
    names : dict
        ``{file: name}``, in the order of ``files``.
    """
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    names = {}
    for fname in map(Path, files):
        inside = [f for f in folders if fname.is_relative_to(f)]
        # the innermost folder named: a folder inside another names its own files
        names[fname] = (
            _relative_name(fname, max(inside, key=lambda f: len(f.parts)))
            if inside
            else file_stem(fname)
        )
    by_name = {}
    for fname, name in names.items():
        by_name.setdefault(name, []).append(fname)
    for same in (group for group in by_name.values() if len(group) > 1):
        common = Path(os.path.commonpath([f.resolve().parent for f in same]))
        for fname in same:
            names[fname] = _relative_name(fname.resolve(), common)
    return names


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
            raise ValueError(f"{path}: --subject-pattern {pattern!r} does not match the file name.")
        if "subject" in match.re.groupindex:
            return match.group("subject")
        return match.group(1) if match.re.groups else match.group(0)
    bids = _BIDS_ENTITY.findall(path.as_posix())
    return f"sub-{bids[-1]}" if bids else None


def signal_types(raw):
    """The signal types (``ecg``, ``eeg``, ``emg``) of a Raw's channels that are not
    bad, in :data:`~mne_specae.segments.SIGNAL_TYPES` order; a type whose channels are
    all bad is left out (and logged), so that the good channels of the other types
    are still segmented."""
    bads = set(raw.info["bads"])
    types = raw.get_channel_types()
    good = {t for ch, t in zip(raw.ch_names, types) if ch not in bads}
    for kind in SIGNAL_TYPES:
        if kind in types and kind not in good:
            logger.info(
                f"{raw_name(raw, 'Raw')}: every {kind} channel is bad; that type is left out"
            )
    return [t for t in SIGNAL_TYPES if t in good]


def segments_of_file(
    path,
    *,
    duration,
    sfreq,
    picks=None,
    channel_types=None,
    subject_pattern=None,
    unknown_units="skip",
    recording=None,
    bids_path=None,
):
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
    recording : str | None
        The recording's name (see :func:`recording_names`); ``None``: the file name
        without extensions. With several signal types, each gets ``-<type>``.
    bids_path : mne_bids.BIDSPath | None
        The file as mne-bids found it in its BIDS dataset: read with
        :func:`mne_bids.read_raw_bids` (channel types and bads from ``channels.tsv``,
        annotations from ``events.tsv``; types not corrected after the names).

    Returns
    -------
    epochs : list of mne.Epochs
        Empty when the file holds no ECG, EEG or EMG channel (after picks) that is
        not bad.
    """
    if bids_path is not None:
        raw = read_bids_raw(bids_path, channel_types=channel_types)
    else:
        raw = read_raw(path, unknown_units=unknown_units, verbose=False)
        check_channel_types(raw, path, channel_types=channel_types)
    if picks is not None:
        raw.pick(picks, exclude="bads")
    types = signal_types(raw)
    stem = file_stem(path) if recording is None else str(recording)
    subject = subject_of(path, subject_pattern)
    out = []
    for kind in types:
        out.append(
            make_segments(
                raw,
                duration,
                sfreq,
                picks=kind,
                subject=subject,
                recording=stem if len(types) == 1 else f"{stem}-{kind}",
                verbose=False,
            )
        )
    if types:
        logger.info(f"{path}: {sum(len(e) for e in out)} segment(s) of {', '.join(types)}")
    return out
