"""The bundled sample set (and the extended set): real ECG, EEG and EMG as ``mne.io.Raw``."""

from __future__ import annotations

from pathlib import Path

from mne.utils import logger, verbose

from ..segments import make_segments, select_evenly
from .download import fetch_file, get_data_path
from .readers import read_biosppy_txt, read_edf, read_uci_emg, read_wfdb
from .registry import EXTENDED_RECORDINGS, SAMPLE_RECORDINGS, SOURCES, Recording, get_recording

MODALITIES = ("ecg", "eeg", "emg")


def read_recording(recording: Recording, folder, *, download=True):
    """Read one registry entry from the data folder (downloading missing files)."""
    paths = [fetch_file(file, folder, download=download) for file in recording.files]
    kwargs = dict(subject=recording.subject, recording=recording.name, verbose=False)
    if recording.reader == "wfdb":
        return read_wfdb(
            paths[0], channels=recording.channels, ch_type=recording.modality, **kwargs
        )
    if recording.reader == "edf":
        raw = read_edf(paths[0], channels=recording.channels, ch_type=recording.modality, **kwargs)
        if recording.modality == "eeg":  # eegmat: 19 electrodes of the 10-20 system
            raw.set_montage(_montage_1020(), verbose=False)
        return raw
    if recording.reader == "biosppy_txt":
        return read_biosppy_txt(paths[0], ch_type=recording.modality, **kwargs)
    if recording.reader == "uci_txt":
        return read_uci_emg(paths[0], **kwargs)
    raise ValueError(f"Unknown reader {recording.reader!r} for {recording.name}")


def count_present(folder, recordings=SAMPLE_RECORDINGS):
    """How many of ``recordings`` have all their files in ``folder`` (checksums are
    not verified: a quick look, e.g. for ``mne-specae info``)."""
    folder = Path(folder)
    return sum(all((folder / f.relpath).is_file() for f in rec.files) for rec in recordings)


def _montage_1020():
    """MNE's 10-20 template (``colin27_1020`` since MNE 1.13, ``standard_1020`` before)."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    return mne.channels.make_standard_montage(
        "colin27_1020" if "colin27_1020" in builtin else "standard_1020"
    )


@verbose
def load_sample(
    path=None, *, modalities=None, subjects=None, extended=False, download=True, verbose=None
):
    """Load the sample recordings: real ECG, EEG and EMG from public datasets.

    42 recordings from 4 public sources, read from the data folder and downloaded
    (with checksums) when missing there. With ``extended=True``, 102 more recordings
    of the same two datasets (eegmat and UCI lower limb; 144 in all):

    =====  ==============================================  ===========  =============
    type   source                                          recordings   sfreq (Hz)
    =====  ==============================================  ===========  =============
    ECG    MIT-BIH Arrhythmia Database, records 100, 106,  4 (2 leads)  360
           113, 121 (PhysioNet ``mitdb``)
    ECG    ECG lead of the eegmat recordings               7            500
    ECG    BioSPPy example                                 1            1000
    EEG    EEG During Mental Arithmetic Tasks, subjects    8 (19 ch)    500
           00-03, rest and task (PhysioNet ``eegmat``)
    EEG    BioSPPy examples, eyes closed / open            2            125
    EMG    UCI EMG dataset in Lower Limb, subjects 3A,     18 (4 ch)    1000
           4A, 5A, 8N, 9N, 10N, three exercises each
    EMG    BioSPPy examples                                2            1000
    =====  ==============================================  ===========  =============

    The extended set (``extended=True``) adds:

    =====  ==============================================  ===========  =============
    type   source                                          recordings   sfreq (Hz)
    =====  ==============================================  ===========  =============
    EEG    eegmat, subjects 04-19, rest and task: 20       32 (19 ch)   500
           eegmat subjects in all
    ECG    ECG lead of these eegmat recordings (not        31           500
           Subject13_1, whose lead is nearly flat)
    EMG    UCI lower limb, subjects 1A, 2A, 7A, 8A, 9A,    39 (4 ch)    1000
           10A, 1N-6N, 11N, three exercises each: 19
           UCI subjects in all, both groups
    =====  ==============================================  ===========  =============

    The sample set is for a quick look; the extended set gives benchmarks, recipe
    selection and pretraining enough people for cross-subject evaluation. In the public
    UCI files, 1N and 2N share their standing and sitting samples: keep these two
    subjects on the same side of a split.

    Licences and citations -- please cite the datasets you use:

    * MIT-BIH Arrhythmia Database and EEG During Mental Arithmetic Tasks: Open Data
      Commons Attribution License v1.0 (ODC-By 1.0). Cite Moody & Mark, IEEE Eng Med
      Biol 20(3):45-50 (2001); Zyma et al., Data 4(1):14 (2019); and Goldberger et al.,
      PhysioNet, Circulation 101(23):e215-e220 (2000).
    * UCI EMG dataset in Lower Limb: CC BY 4.0. Sanchez O, Sotelo J, Gonzales M,
      Hernandez G (2014), UCI Machine Learning Repository,
      https://doi.org/10.24432/C5ZW3P.
    * BioSPPy example signals: BSD-3-Clause, Copyright (c) Instituto de
      Telecomunicacoes; https://github.com/scientisst/BioSPPy.

    The full texts are in :data:`mne_specae.datasets.SOURCES` (``.citation``,
    ``.licence``) and :func:`mne_specae.datasets.citations`.

    Parameters
    ----------
    path : path-like | None
        The data folder; see :func:`~mne_specae.datasets.get_data_path` for the default.
    modalities : list of str | None
        Some of ``"ecg"``, ``"eeg"``, ``"emg"``; ``None`` loads all three.
    subjects : list of str | None
        Only these subjects (e.g. ``["mitdb-100", "eegmat-Subject00"]``). Subjects of
        the extended set (e.g. ``"eegmat-Subject04"``, ``"uci-1N"``) need
        ``extended=True``.
    extended : bool
        Also read the extended set (see above), after the sample recordings of each
        signal type. Default ``False``: the sample set only.
    download : bool
        Download missing files (default). With ``False`` a missing file raises
        :class:`FileNotFoundError` saying where to put it.
    %(verbose)s

    Returns
    -------
    raws : dict of list of mne.io.Raw
        ``{"ecg": [...], "eeg": [...], "emg": [...]}``. Each Raw is preloaded, in
        volts, with its channel type set, ``raw.info["subject_info"]["his_id"]``
        the subject and ``raw.info["description"]`` the recording name
        (:func:`~mne_specae.datasets.get_recording` turns it back into the registry
        entry, with labels such as the eegmat condition or the UCI exercise).
        BioSPPy recordings are uncalibrated ADC counts on a nominal scale: their
        amplitude is arbitrary.
    """
    if modalities is None:
        modalities = MODALITIES
    modalities = [modalities] if isinstance(modalities, str) else list(modalities)
    unknown = sorted(set(modalities) - set(MODALITIES))
    if unknown:
        raise ValueError(f"Unknown modalities {unknown}; choose among {MODALITIES}.")
    available = SAMPLE_RECORDINGS + EXTENDED_RECORDINGS if extended else SAMPLE_RECORDINGS
    recordings = [r for r in available if r.modality in modalities]
    if subjects is not None:
        subjects = [subjects] if isinstance(subjects, str) else list(subjects)
        _check_subjects(subjects, recordings, available, extended, modalities)
        recordings = [r for r in recordings if r.subject in subjects]
    folder = get_data_path(path)
    which = "sample and extended" if extended else "sample"
    logger.info(f"Reading {len(recordings)} {which} recordings from {folder}")
    raws = {modality: [] for modality in modalities}
    for recording in recordings:
        raws[recording.modality].append(read_recording(recording, folder, download=download))
    return raws


def _check_subjects(subjects, recordings, available, extended, modalities):
    """Refuse subjects with no recording to read, saying when ``extended=True`` helps."""
    missing = sorted(set(subjects) - {r.subject for r in recordings})
    if not missing:
        return
    which = "sample or extended" if extended else "sample"
    extended_only = sorted(
        set(missing) & {r.subject for r in EXTENDED_RECORDINGS if r.modality in modalities}
    )
    if extended_only and not extended:
        hint = f"{extended_only} are in the extended set: pass extended=True to load them"
    else:
        hint = f"known: {sorted({r.subject for r in available})}"
    raise ValueError(f"No {which} recording of subject(s) {missing}; {hint}.")


@verbose
def load_sample_epochs(
    path=None,
    *,
    duration=5.0,
    sfreq=512.0,
    modalities=None,
    subjects=None,
    extended=False,
    max_segments=None,
    max_channels=None,
    balance=False,
    download=True,
    verbose=None,
):
    """The sample recordings cut into segments, with their labels in the metadata.

    :func:`load_sample` followed by :func:`~mne_specae.make_segments` on every
    recording, with the recording's labels (eegmat ``condition``, UCI ``exercise`` and
    ``group``, ...) as extra metadata columns, and optionally
    :func:`~mne_specae.select_evenly` for a quick, balanced subset. Recordings shorter
    than one segment are left out and logged.

    Parameters
    ----------
    path : path-like | None
        The data folder (see :func:`~mne_specae.datasets.get_data_path`).
    duration, sfreq : float
        Segment length (s) and sampling rate (Hz), as for
        :func:`~mne_specae.make_segments`.
    modalities, subjects : list of str | None
        As for :func:`load_sample`.
    extended : bool
        Also cut the extended set (more eegmat and UCI subjects), as for
        :func:`load_sample`.
    max_segments, max_channels : int | None
        At most this many segments and channels per recording, evenly spread.
    balance : bool
        Give each signal type about as many training items (channels x segments) as
        the smallest one has, by taking fewer segments, evenly spread, from every
        recording of the larger types (the sample holds 20 EMG recordings of 4
        channels and 12 ECG recordings of 1-2 leads).
    download : bool
        As for :func:`load_sample`.
    %(verbose)s

    Returns
    -------
    epochs : list of mne.Epochs
        One per recording (and signal type), in the order of :func:`load_sample`.
    """

    raws = load_sample(
        path, modalities=modalities, subjects=subjects, extended=extended, download=download
    )
    epochs, skipped = [], []
    for modality_raws in raws.values():
        for raw in modality_raws:
            name = raw.info["description"]
            if raw.n_times / raw.info["sfreq"] < duration:
                skipped.append(name)
                continue
            segments = make_segments(
                raw, duration, sfreq, verbose=False, metadata=get_recording(name).labels
            )
            epochs.append(select_evenly(segments, max_segments, max_channels))
    logger.info(
        f"Cut {len(epochs)} recordings into {sum(len(e) for e in epochs)} segments "
        f"of {duration:g} s at {sfreq:g} Hz"
    )
    if skipped:
        logger.info(f"Left out {len(skipped)} recording(s) shorter than {duration:g} s: {skipped}")
    return _balanced(epochs) if balance else epochs


def _balanced(epochs):
    """Fewer segments from the recordings of the larger signal types (see ``balance``)."""
    import math

    def kind(ep):
        return ep.metadata["signal_type"].iloc[0]

    items = {}
    for ep in epochs:
        items[kind(ep)] = items.get(kind(ep), 0) + len(ep) * len(ep.ch_names)
    target = min(items.values())
    out = []
    for ep in epochs:
        keep = max(1, math.ceil(len(ep) * target / items[kind(ep)]))
        out.append(select_evenly(ep, keep) if keep < len(ep) else ep)
    counts = {k: sum(len(e) * len(e.ch_names) for e in out if kind(e) == k) for k in items}
    logger.info(f"Balanced items per signal type: {counts}")
    return out


def citations(sources=None) -> str:
    """Licences and citations of the public datasets, as text.

    Parameters
    ----------
    sources : list of str | None
        Source keys (e.g. ``["mitdb", "eegmat"]``); ``None`` gives all.

    Returns
    -------
    text : str
        One paragraph per dataset: name, licence, homepage and citation.
    """
    keys = SOURCES if sources is None else sources
    return "\n\n".join(
        f"{SOURCES[k].name}\n  licence: {SOURCES[k].licence}\n  homepage: "
        f"{SOURCES[k].homepage}\n  cite: {SOURCES[k].citation}"
        for k in keys
    )
