"""The pretraining corpus: public recordings of many sources, rebuildable from a table.

Every file is a row of ``corpus_files.tsv`` (package data): its source, subject, place
in the corpus folder, public repository, pinned commit and path there, raw URL, sha256,
size, licence and format. :func:`build_corpus` puts the files into a folder (from local
git mirrors, or by download), each checked against its sha256; :func:`read_corpus`
reads them as ``mne.io.Raw`` with the true MNE channel types and each channel's kind
(:func:`corpus_channel_kinds`); :func:`corpus_summary` counts channel-hours. Records
reserved for independent evaluation (``shared/data/corpus/README.md``) are never in
the table. Units: see :mod:`mne_specae.datasets._corpus_readers`.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ._corpus_build import fetch_row
from ._corpus_fixtures import (
    read_biosppy_signal,
    read_e4_csv,
    read_eye_state_arff,
    read_mne_fixture,
    read_neurokit_csv,
    read_ny_npz,
)
from ._corpus_readers import (
    corpus_channel_kinds,  # noqa: F401 (public here)
    read_cinc2015,
    read_muse_csv,
    read_myo_txt,
    read_uci_gestures,
    read_unibo_mat,
    read_wfdb_multirate,
)
from ._corpus_sources import CORPUS_SOURCES
from ._wfdb import read_wfdb

CORPUS_ENV = "MNE_SPECAE_CORPUS"
#: Columns of the corpus table, in order.
TABLE_COLUMNS = (
    "source",
    "subject",
    "relpath",
    "repo",
    "commit",
    "path",
    "url",
    "sha256",
    "bytes",
    "licence",
    "format",
)


def _mitdb_reader(fname, *, subject=None, recording=None):
    from ._corpus_readers import set_kinds

    raw = read_wfdb(fname, ch_type="ecg", subject=subject, recording=recording, verbose="error")
    return set_kinds(raw, dict.fromkeys(raw.ch_names, "ecg"))


#: Reader of each primary format (``"companion"`` files are read through another).
READERS = {
    "wfdb_mat": read_cinc2015,
    "wfdb": _mitdb_reader,
    "wfdb_multirate": read_wfdb_multirate,
    "muse_csv": read_muse_csv,
    "myo_txt": read_myo_txt,
    "uci_gestures_txt": read_uci_gestures,
    "unibo_mat": read_unibo_mat,
    "biosppy_txt": read_biosppy_signal,
    "neurokit_csv": read_neurokit_csv,
    "e4_csv": read_e4_csv,
    "ny_npz": read_ny_npz,
    "eye_state_arff": read_eye_state_arff,
    "bdf": read_mne_fixture,
    "edf": read_mne_fixture,
    "eeglab": read_mne_fixture,
    "eximia": read_mne_fixture,
    "brainvision": read_mne_fixture,
}


def _check_sources(sources):
    if sources is None:
        return list(CORPUS_SOURCES)
    sources = [sources] if isinstance(sources, str) else list(sources)
    unknown = [s for s in sources if s not in CORPUS_SOURCES]
    if unknown:
        raise ValueError(
            f"Unknown corpus source(s) {unknown}; the sources are {list(CORPUS_SOURCES)}."
        )
    return sources


def corpus_files(sources=None):
    """Return the corpus table: one row per file.

    Parameters
    ----------
    sources : str | list of str | None
        Keep these sources (keys such as ``"cinc2015"``, ``"muse"``, ``"myo"``,
        ``"uci_gestures"``, ``"mitdb_more"``, ``"mne_testing"``, ``"unibo_inail"``,
        ``"biosppy"``, ``"neurokit"``, ``"wfdb_samples"``); ``None``: all.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``source``, ``subject``, ``relpath`` (in the corpus folder), ``repo``,
        ``commit``, ``path`` (in the repository), ``url`` (raw file at the commit),
        ``sha256``, ``bytes``, ``licence`` and ``format`` (the reader of a recording's
        primary file; ``"companion"`` for a file read with another, such as a WFDB
        ``.mat`` beside its ``.hea`` or an EEGLAB ``.fdt`` beside its ``.set``).
    """
    sources = _check_sources(sources)
    with resources.files("mne_specae.datasets").joinpath("corpus_files.tsv").open() as fid:
        table = pd.read_csv(fid, sep="\t", dtype=str, keep_default_na=False)
    table["bytes"] = table["bytes"].astype("int64")
    return table[table["source"].isin(sources)].reset_index(drop=True)


def get_corpus_path(path=None):
    """Return the corpus folder: ``path``, else ``MNE_SPECAE_CORPUS``, else a default.

    Parameters
    ----------
    path : path-like | None
        The folder; ``None``: the environment variable ``MNE_SPECAE_CORPUS``, else
        ``~/mne_specae_data/corpus``.

    Returns
    -------
    path : pathlib.Path
        Absolute (not created here).
    """
    if path is None:
        path = os.environ.get(CORPUS_ENV) or Path("~") / "mne_specae_data" / "corpus"
    return Path(path).expanduser().resolve()


@verbose
def build_corpus(path=None, *, mirror=None, sources=None, verbose=None):
    """Put the corpus files into a folder, each checked against its sha256.

    Parameters
    ----------
    path : path-like | None
        The corpus folder (:func:`get_corpus_path`); created when missing.
    mirror : path-like | None
        A folder of git mirrors laid out as ``<owner>+<name>/repo`` (a bare repository
        or a clone): files are taken from them at the table's commits with ``git
        cat-file``. ``None``: downloaded from the table's URLs (pooch).
    sources : str | list of str | None
        Only these sources (see :func:`corpus_files`).
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The corpus folder.

    Notes
    -----
    Resumable: a file already there with the right sha256 is kept, one with another
    sha256 fetched again. A file whose content does not match its sha256 is not kept;
    the other files are still fetched, then an :class:`OSError` lists the failures.
    """
    _validate_type(mirror, ("path-like", None), "mirror")
    folder = get_corpus_path(path)
    folder.mkdir(parents=True, exist_ok=True)
    table = corpus_files(sources)
    counts, failures = {}, []
    for row in table.to_dict("records"):
        try:
            how = fetch_row(row, folder, mirror=mirror)
        except OSError as err:
            failures.append(f"{row['relpath']}: {err}")
            continue
        counts[how] = counts.get(how, 0) + 1
    summary = ", ".join(f"{n} {how}" for how, n in sorted(counts.items()))
    logger.info(f"build_corpus: {len(table)} file(s) in {folder}: {summary or 'none'}")
    if failures:
        raise OSError(
            f"{len(failures)} of {len(table)} corpus file(s) could not be fetched and "
            "verified (the others are in place; run again to retry):\n" + "\n".join(failures)
        )
    return folder


def _recording_name(row):
    relpath = row["relpath"]
    stem = relpath.rsplit(".", 1)[0] if "." in Path(relpath).name else relpath
    return stem.removesuffix(".csv")


@verbose
def read_corpus(path=None, *, sources=None, verbose=None):
    """Read the corpus, one ``mne.io.Raw`` per recording.

    Parameters
    ----------
    path : path-like | None
        The corpus folder (:func:`get_corpus_path`), built with :func:`build_corpus`.
    sources : str | list of str | None
        Only these sources (see :func:`corpus_files`).
    %(verbose)s

    Yields
    ------
    raw : mne.io.RawArray | mne.io.Raw
        Preloaded, with the true MNE channel types (``ecg``, ``eeg``, ``emg``, ``eog``,
        ``resp``, ``bio``, ``gsr``, ``misc``, ``stim``) and each channel's kind
        (:func:`corpus_channel_kinds`). ``raw.info["description"]`` is the recording,
        ``<source>/<path in the corpus folder without extension>`` (a multi-rate WFDB
        record gives one Raw per rate, ``-<rate>hz`` added), and
        ``raw.info["subject_info"]["his_id"]`` the subject, ``<source>-<subject>``.

    Notes
    -----
    A generator: recordings are read one at a time. A missing file is a
    :class:`FileNotFoundError` that says how to build the corpus.
    """
    folder = get_corpus_path(path)
    table = corpus_files(sources)
    for row in table[table["format"] != "companion"].to_dict("records"):
        fname = folder / row["relpath"]
        if not fname.is_file():
            raise FileNotFoundError(
                f"{row['relpath']} is not in the corpus folder {folder}. Build it with "
                "mne_specae.datasets.build_corpus(path) (or scripts/build_corpus.py), or "
                f"point {CORPUS_ENV} at the folder that has it."
            )
        logger.debug(f"read_corpus: {row['relpath']}")
        raws = READERS[row["format"]](
            fname, subject=f"{row['source']}-{row['subject']}", recording=_recording_name(row)
        )
        yield from raws if isinstance(raws, list) else [raws]


@verbose
def corpus_summary(path=None, *, sources=None, verbose=None):
    """Count the channel-hours of the corpus per source, MNE type and kind.

    Parameters
    ----------
    path : path-like | None
        The corpus folder (:func:`get_corpus_path`).
    sources : str | list of str | None
        Only these sources.
    %(verbose)s

    Returns
    -------
    summary : pandas.DataFrame
        One row per ``source``, ``type`` and ``kind``: ``recordings``, ``subjects``,
        ``channels`` (channel-recordings), ``hours`` (channel-hours), ``sfreq`` (the
        rates, Hz) and ``licence``. Reads every recording (minutes for the whole corpus).
    """
    rows = []
    for raw in read_corpus(path, sources=sources, verbose=verbose):
        source = raw.info["description"].split("/", 1)[0]
        kinds = corpus_channel_kinds(raw)
        hours = raw.n_times / raw.info["sfreq"] / 3600
        for ch, ch_type in zip(raw.ch_names, raw.get_channel_types()):
            rows.append(
                dict(
                    source=source,
                    type=ch_type,
                    kind=kinds[ch],
                    recording=raw.info["description"],
                    subject=raw.info["subject_info"]["his_id"],
                    hours=hours,
                    sfreq=raw.info["sfreq"],
                )
            )
    table = pd.DataFrame(rows)
    summary = (
        table.groupby(["source", "type", "kind"], sort=True)
        .agg(
            recordings=("recording", "nunique"),
            subjects=("subject", "nunique"),
            channels=("recording", "size"),
            hours=("hours", "sum"),
            sfreq=("sfreq", lambda s: "/".join(f"{v:g}" for v in sorted(set(s.round(2))))),
        )
        .reset_index()
    )
    summary["licence"] = [CORPUS_SOURCES[s].licence for s in summary["source"]]
    return summary
