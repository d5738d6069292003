"""Fetchers for the full public datasets, cached in the data folder.

Each returns the local paths of the files (MNE's convention, as in
:func:`mne.datasets.eegbci.load_data`); read them with
:func:`mne_specae.datasets.read_raw`. Every file is checked against a SHA-256
checksum: PhysioNet's own ``SHA256SUMS.txt`` for PhysioNet databases, the
registry's for the UCI lower-limb EMG files. A mirror (``MNE_SPECAE_MIRROR``)
that holds the data folder's layout can stand in for the public servers.
"""

from __future__ import annotations

from pathlib import Path

from mne.utils import logger, verbose

from ..utils._docs import fill_doc
from .download import fetch_file, get_data_path
from .registry import _UCI_SHA256, EEGMAT_SUBJECTS, MITDB_RECORDS, UCI_EXERCISES, DataFile, uci_file

PHYSIONET = "https://physionet.org/files/{db}/1.0.0/"


def _physionet(db, names, path, download):
    """Fetch files of one PhysioNet database, checked against its SHA256SUMS.txt."""
    folder = get_data_path(path)
    base = PHYSIONET.format(db=db)
    prefix = f"physionet/{db}/1.0.0/"
    sums_path = fetch_file(
        DataFile(prefix + "SHA256SUMS.txt", base + "SHA256SUMS.txt"), folder, download=download
    )
    sums = {}
    for line in Path(sums_path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1]] = parts[0]
    paths = []
    for name in names:
        if name not in sums:
            raise ValueError(
                f"{name} is not listed in PhysioNet's {db} SHA256SUMS.txt ({sums_path}); "
                "check the record or subject names."
            )
        paths.append(
            fetch_file(DataFile(prefix + name, base + name, sums[name]), folder, download=download)
        )
    return paths


def _as_list(values, known, what):
    values = known if values is None else values
    values = [values] if isinstance(values, (str, int)) else list(values)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}; known: {list(known)}")
    return values


@verbose
@fill_doc
def fetch_mitdb(records=None, path=None, *, download=True, verbose=None):
    """Fetch records of the MIT-BIH Arrhythmia Database (48 two-lead ECG, 360 Hz).

    Licence ODC-By 1.0; cite Moody & Mark (2001) and Goldberger et al. (2000), see
    :func:`mne_specae.datasets.citations`.

    Parameters
    ----------
    records : list of str | None
        Record names such as ``["100", "201"]``; ``None`` fetches all 48 (about 100 MB).
    %(fetch_params)s
    %(verbose)s

    Returns
    -------
    headers : list of pathlib.Path
        The ``.hea`` files, for :func:`~mne_specae.datasets.read_raw`. The ``.dat``
        signals and ``.atr`` reference beat annotations sit beside them.
    """
    if records is not None:
        records = [records] if isinstance(records, (str, int)) else records
        records = [str(r) for r in records]
    records = _as_list(records, MITDB_RECORDS, "records")
    names = [f"{r}.{ext}" for r in records for ext in ("hea", "dat", "atr")]
    paths = _physionet("mitdb", names, path, download)
    logger.info(f"MIT-BIH: {len(records)} records ready")
    return [p for p in paths if p.suffix == ".hea"]


@verbose
@fill_doc
def fetch_eegmat(subjects=None, path=None, *, download=True, verbose=None):
    """Fetch EEG During Mental Arithmetic Tasks (36 subjects, 19 EEG + ECG, 500 Hz).

    Each subject has ``SubjectNN_1.edf`` (rest, 182 s) and ``SubjectNN_2.edf``
    (serial subtraction, 62 s). Licence ODC-By 1.0; cite Zyma et al. (2019) and
    Goldberger et al. (2000).

    Parameters
    ----------
    subjects : list of int | None
        Subject numbers 0-35; ``None`` fetches all (about 170 MB).
    %(fetch_params)s
    %(verbose)s

    Returns
    -------
    edf_files : list of pathlib.Path
        Two EDF files per subject, for :func:`~mne_specae.datasets.read_raw` or
        :func:`mne.io.read_raw_edf` (``infer_types=True``).
    """
    subjects = _as_list(subjects, EEGMAT_SUBJECTS, "subjects")
    names = [f"Subject{s:02d}_{run}.edf" for s in subjects for run in (1, 2)]
    return _physionet("eegmat", names, path, download)


@verbose
@fill_doc
def fetch_physionet_emg(path=None, *, download=True, verbose=None):
    """Fetch PhysioNet's Examples of Electromyograms (healthy, myopathy, neuropathy).

    Three single-channel needle EMG recordings at 4 kHz, as WFDB records. Licence
    ODC-By 1.0; cite the database (https://doi.org/10.13026/C24S3D) and Goldberger
    et al. (2000).

    Parameters
    ----------
    %(fetch_params)s
    %(verbose)s

    Returns
    -------
    headers : list of pathlib.Path
        The ``.hea`` files; read them with ``read_raw(fname, ch_type="emg")``.
    """
    stems = ("emg_healthy", "emg_myopathy", "emg_neuropathy")
    paths = _physionet(
        "emgdb", [f"{s}.{ext}" for s in stems for ext in ("hea", "dat")], path, download
    )
    return [p for p in paths if p.suffix == ".hea"]


@verbose
@fill_doc
def fetch_uci_lower_limb_emg(subjects=None, path=None, *, download=True, verbose=None):
    """Fetch the UCI "EMG dataset in Lower Limb" (22 subjects, 4 EMG channels, 1 kHz).

    Subjects ``"1A"``-``"11A"`` (knee abnormality) and ``"1N"``-``"11N"`` (normal),
    each with up to three exercises: gait (``mar``), standing with knee flexion
    (``pie``) and sitting with leg extension (``sen``). Licence CC BY 4.0; cite
    Sanchez et al. (2014), https://doi.org/10.24432/C5ZW3P.

    Parameters
    ----------
    subjects : list of str | None
        Subject codes such as ``["3A", "8N"]``; ``None`` fetches all (about 70 MB).
    %(fetch_params)s
    %(verbose)s

    Returns
    -------
    text_files : list of pathlib.Path
        For :func:`~mne_specae.datasets.read_uci_emg`.
    """
    known = sorted({name[:-7] for name in _UCI_SHA256}, key=lambda s: (s[-1], int(s[:-1])))
    subjects = _as_list(subjects, known, "subjects")
    folder = get_data_path(path)
    names = [
        f"{s}{ex}.txt" for s in subjects for ex in UCI_EXERCISES if f"{s}{ex}.txt" in _UCI_SHA256
    ]
    return [fetch_file(uci_file(name), folder, download=download) for name in names]


@verbose
@fill_doc
def fetch_eegbci(subjects, runs, path=None, *, verbose=None):
    """Fetch the EEG Motor Movement/Imagery Database through MNE's own fetcher.

    A thin wrapper of :func:`mne.datasets.eegbci.load_data` that stores the files in
    this package's data folder (MNE checks their checksums). 109 subjects, 64 EEG
    channels, 160 Hz. Licence ODC-By 1.0; cite Schalk et al. (2004) and Goldberger et
    al. (2000).

    Parameters
    ----------
    subjects : int | list of int
        Subjects 1-109.
    runs : int | list of int
        Runs 1-14 (1: eyes open baseline, 2: eyes closed baseline, ...).
    %(data_path)s
    %(verbose)s

    Returns
    -------
    edf_files : list of pathlib.Path
        Read them with :func:`mne.io.read_raw_edf` and
        :func:`mne.datasets.eegbci.standardize`.
    """
    import mne

    folder = get_data_path(path)
    folder.mkdir(parents=True, exist_ok=True)
    files = mne.datasets.eegbci.load_data(subjects, runs, path=folder, update_path=False)
    return [Path(f) for f in files]
