"""Readers for the formats of the public recordings: each returns an ``mne.io.Raw``.

EDF goes through MNE, WFDB through the ``wfdb`` package (``_wfdb.py``), the plain-text
formats (BioSPPy examples, UCI lower-limb EMG) through NumPy / pandas (``_text.py``);
:func:`read_raw` picks the reader a file needs. Every reader returns
data in volts with the channel types set (see :mod:`mne_specae.datasets.registry`
for the unit conversions), and never modifies the file.
"""

from __future__ import annotations

from pathlib import Path

import mne
from mne.utils import verbose

from ._corpus_readers import read_muse_csv, read_uci_gestures
from ._raws import check_ch_type, describe
from ._text import read_biosppy_txt, read_uci_emg, text_header
from ._wfdb import WFDB_SUFFIXES, read_wfdb, read_wfdb_annotations  # noqa: F401 (public here)


@verbose
def read_edf(fname, *, channels=None, ch_type=None, subject=None, recording=None, verbose=None):
    """Read an EDF/EDF+ file through MNE, keeping some channels.

    Parameters
    ----------
    fname : path-like
        The EDF file.
    channels : list of str | None
        Channel names to keep, as MNE names them with ``infer_types=True``
        (``"EEG Fp1"`` becomes ``"Fp1"``); ``None`` keeps all.
    ch_type : str | None
        Force this channel type on the kept channels; ``None`` keeps MNE's inference.
    subject, recording : str | None
        Stored on the Raw; by default the file stem.
    %(verbose)s

    Returns
    -------
    raw : mne.io.Raw
        Preloaded, in volts.
    """
    fname = Path(fname)
    raw = mne.io.read_raw_edf(fname, preload=False, infer_types=True, verbose=False)
    if channels is not None:
        missing = sorted(set(channels) - set(raw.ch_names))
        if missing:
            raise ValueError(f"{fname.name} has no channel(s) {missing}; it has {raw.ch_names}.")
        raw.pick(list(channels))
    raw.load_data(verbose=False)
    if ch_type is not None:
        check_ch_type(ch_type)
        raw.set_channel_types({ch: ch_type for ch in raw.ch_names}, verbose=False)
    return describe(raw, subject=subject or fname.stem, recording=recording or fname.stem)


@verbose
def read_raw(fname, *, ch_type=None, unknown_units="skip", verbose=None):
    """Read any recording the package knows, or anything MNE reads, into a Raw.

    Dispatches on the file: WFDB (``.hea``, or a ``.dat`` or ``.mat`` signal file with
    its ``.hea`` beside it, or the bare record name), BioSPPy text (``#`` header), UCI
    lower-limb EMG text, the corpus's Muse CSV and UCI gesture text, else
    :func:`mne.io.read_raw` (EDF, BDF, FIF, BrainVision, ...).

    Parameters
    ----------
    fname : path-like
        The file.
    ch_type : str | None
        Channel type for formats that do not store one (WFDB: by default from the
        signal names, see :func:`read_wfdb`).
    unknown_units : ``"skip"`` | ``"keep"`` | ``"raise"``
        WFDB signals not in volts, see :func:`read_wfdb`.
    %(verbose)s

    Returns
    -------
    raw : mne.io.Raw
        Preloaded, in volts; the package's formats record the subject and recording
        (see each reader), other files keep what MNE read.
    """
    fname = Path(fname)
    if not fname.exists() and not fname.with_suffix(".hea").exists():
        raise FileNotFoundError(f"No such recording: {fname}")
    if (fname.suffix in WFDB_SUFFIXES or not fname.exists()) and fname.with_suffix(
        ".hea"
    ).is_file():  # a header, a signal file or a bare record name
        return read_wfdb(fname, ch_type=ch_type, unknown_units=unknown_units)
    if fname.suffix.lower() == ".mat":  # MNE would try FieldTrip, which needs more arguments
        raise ValueError(
            f"{fname.name} is not part of a WFDB record (no {fname.with_suffix('.hea').name} "
            "beside it), and other MATLAB files hold no channel information: read "
            "FieldTrip data with mne.io.read_raw_fieldtrip(fname, info), EEGLAB data from "
            "its .set file, and other arrays with scipy.io.loadmat and mne.io.RawArray."
        )
    if fname.suffix == ".txt":
        header = text_header(fname)
        if any(line.startswith("#") for line in header):
            return read_biosppy_txt(fname, ch_type=ch_type)
        if any("values, engineering units" in line for line in header):
            return read_uci_emg(fname)
        if header and header[0].startswith("time\tchannel1"):  # UCI gestures (corpus)
            return read_uci_gestures(fname)
        raise ValueError(
            f"{fname.name}: unknown text format (neither a BioSPPy '#' header nor a UCI "
            "lower-limb EMG header). Load it with numpy and wrap it in mne.io.RawArray."
        )
    is_csv = fname.suffix.lower() == ".csv"
    if is_csv and next(iter(text_header(fname)), "").startswith("timestamps,TP9"):  # Muse
        return read_muse_csv(fname)
    if fname.suffix.lower() == ".edf":
        return read_edf(fname, ch_type=ch_type)
    raw = mne.io.read_raw(fname, preload=True, verbose=False)
    return describe(raw, subject=None, recording=None)
