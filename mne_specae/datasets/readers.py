"""Readers for the formats of the public recordings: each returns an ``mne.io.Raw``.

EDF goes through MNE, WFDB through the ``wfdb`` package, the plain-text formats
(BioSPPy examples, UCI lower-limb EMG) through NumPy / pandas. Every reader returns
data in volts with the channel types set (see :mod:`mne_specae.datasets.registry`
for the unit conversions), and never modifies the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import logger, verbose, warn

from .registry import BIOSPPY_ADC_BITS, NOMINAL_VOLTS_PER_COUNT, UCI_CHANNELS

_SIGNAL_TYPES = ("ecg", "eeg", "emg")
#: Suffixes of a WFDB record's files that name the record (header or signal file).
_WFDB_SUFFIXES = (".hea", ".dat", ".mat")


def _describe(raw, *, subject=None, recording=None):
    """Record subject and recording on the Raw, where make_segments finds them."""
    with raw.info._unlock():
        if recording is not None:
            raw.info["description"] = recording
        if subject is not None:
            raw.info["subject_info"] = {"his_id": str(subject)}
    return raw


def _check_ch_type(ch_type):
    if ch_type not in _SIGNAL_TYPES:
        raise ValueError(f"ch_type must be one of {_SIGNAL_TYPES}, got {ch_type!r}.")


@verbose
def read_wfdb(
    fname,
    *,
    channels=None,
    ch_type=None,
    subject=None,
    recording=None,
    unknown_units="skip",
    verbose=None,
):
    """Read a WFDB record (``.hea`` + signal files) into a Raw in volts.

    Parameters
    ----------
    fname : path-like
        The header file (``.hea``), a signal file of the record (``.dat``, or ``.mat``
        as PhysioNet's Challenge records and ``wfdb2mat`` store them) or the record
        path without extension.
    channels : list of str | None
        Signal names to keep (as in the header); ``None`` keeps all.
    ch_type : str | None
        MNE channel type of all signals (``"ecg"``, ``"eeg"`` or ``"emg"``). ``None``:
        each signal's type from its name (``MLII``, ``V5``, ``ECG`` -> ECG, ``EMG`` ->
        EMG, ``EEG Fpz-Cz`` -> EEG, see
        :func:`~mne_specae.datasets.channels.channel_type_from_name`); a name that says
        nothing gives ``"misc"``, with a warning.
    subject, recording : str | None
        Stored in ``raw.info["subject_info"]["his_id"]`` and ``raw.info["description"]``;
        by default the record name.
    unknown_units : ``"skip"`` | ``"keep"`` | ``"raise"``
        Signals whose physical unit is not a voltage WFDB knows (``NU``, ``mmHg``, an
        empty unit): left out with a warning naming them (``"skip"``), kept unscaled
        as ``misc`` channels (``"keep"``), or an error (``"raise"``).
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        Samples the WFDB file marks as invalid (gaps) are NaN; physical units
        (``mV``, ``uV``, ``V``) are converted to volts.
    """
    import wfdb

    from .channels import channel_type_from_name

    if ch_type is not None:
        _check_ch_type(ch_type)
    if unknown_units not in ("skip", "keep", "raise"):
        raise ValueError(f"unknown_units must be 'skip', 'keep' or 'raise', got {unknown_units!r}.")
    record_path = Path(fname)
    if record_path.suffix in _WFDB_SUFFIXES + (".atr",):
        record_path = record_path.with_suffix("")
    if not record_path.with_suffix(".hea").is_file():
        raise FileNotFoundError(f"WFDB header not found: {record_path.with_suffix('.hea')}")
    rec = wfdb.rdrecord(str(record_path), channel_names=list(channels) if channels else None)
    if rec.p_signal is None or rec.p_signal.shape[1] == 0:
        raise ValueError(f"No signal named {channels} in WFDB record {record_path}.")
    names, units = list(rec.sig_name), list(rec.units)
    scale = np.array([_unit_to_volts(u, strict=False) for u in units])
    odd = [f"{n} ({u or 'no unit'})" for n, u, f in zip(names, units, scale) if np.isnan(f)]
    keep = np.ones(len(names), bool)
    if odd:
        where = f"{record_path.with_suffix('.hea')}: signal(s) {', '.join(odd)}"
        if unknown_units == "raise":
            raise ValueError(
                f"{where} are not in volts (V, mV, uV, nV). Pass unknown_units='skip' or 'keep'."
            )
        if unknown_units == "skip":
            warn(
                f"{where} are not in volts: left out (unknown_units='keep' keeps them as "
                "misc channels)."
            )
            keep = ~np.isnan(scale)
            if not keep.any():
                raise ValueError(f"{where}: no signal in volts is left.")
        else:
            warn(f"{where} are not in volts: kept unscaled as misc channels.")
    types = [
        "misc" if np.isnan(factor) else ch_type or channel_type_from_name(name) or "misc"
        for name, factor in zip(names, scale)
    ]
    untyped = [n for n, t, f in zip(names, types, scale) if t == "misc" and not np.isnan(f)]
    if untyped:
        warn(
            f"{record_path.with_suffix('.hea')}: the name of signal(s) {untyped} does not say "
            "its type: typed misc. Set it with ch_type=... (or --channel-types NAME=type)."
        )
    scale = np.where(np.isnan(scale), 1.0, scale)
    data = (rec.p_signal * scale).T[keep]  # (n_channels, n_times), NaN where WFDB had gaps
    n_nan = int(np.isnan(data).sum())
    if n_nan:
        logger.info(f"{record_path.name}: {n_nan} samples marked invalid by WFDB (NaN)")
    info = mne.create_info(
        [n for n, k in zip(names, keep) if k],
        float(rec.fs),
        ch_types=[t for t, k in zip(types, keep) if k],
    )
    raw = mne.io.RawArray(data, info, verbose=False)
    return _describe(
        raw, subject=subject or record_path.name, recording=recording or record_path.name
    )


def _unit_to_volts(unit, strict=True):
    """Volts per unit; NaN for a unit that is not a voltage (``strict=False``)."""
    factors = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "nv": 1e-9}
    key = (unit or "").strip().lower()
    if key not in factors:
        if not strict:
            return np.nan
        raise ValueError(f"Unknown physical unit {unit!r}: expected one of V, mV, uV, nV.")
    return factors[key]


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
        _check_ch_type(ch_type)
        raw.set_channel_types({ch: ch_type for ch in raw.ch_names}, verbose=False)
    return _describe(raw, subject=subject or fname.stem, recording=recording or fname.stem)


def _text_header(fname):
    """Lines before the first numeric line of a text recording."""
    header = []
    number = re.compile(r"^\s*[-+]?(\d|\.\d)")
    with open(fname, encoding="latin-1") as fid:
        for line in fid:
            if number.match(line):
                break
            header.append(line.rstrip("\r\n"))
    return header


@verbose
def read_biosppy_txt(
    fname, *, ch_type=None, adc_bits=None, subject=None, recording=None, verbose=None
):
    """Read a BioSPPy/OpenSignals "Simple Text Format" file (one sample per line).

    The values are uncalibrated ADC counts: the ADC mid-scale ``2**(adc_bits - 1)``
    is subtracted and a nominal ``1e-6`` V per count applied, so that amplitudes are
    arbitrary but MNE's scalings behave.

    Parameters
    ----------
    fname : path-like
        The text file; its ``#`` header gives the sampling rate and label.
    ch_type : str | None
        Channel type; by default from the header's label (``ECG``, ``EEG``, ``EMG``).
    adc_bits : int | None
        ADC resolution; by default the header's ``Resolution`` or the registry's.
    subject, recording : str | None
        Stored on the Raw; by default the file stem.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
    """
    fname = Path(fname)
    fields = {}
    for line in _text_header(fname):
        if ":=" in line:
            key, value = line.lstrip("# ").split(":=", 1)
            fields[key.strip()] = value.strip()
    if "Sampling Rate (Hz)" not in fields:
        raise ValueError(f"{fname.name}: no '# Sampling Rate (Hz):=' line in the header.")
    sfreq = float(fields["Sampling Rate (Hz)"])
    label = fields.get("Labels", "").strip()
    ch_type = ch_type or label.lower()
    _check_ch_type(ch_type)
    if adc_bits is None:
        adc_bits = (
            int(fields["Resolution"])
            if "Resolution" in fields
            else (BIOSPPY_ADC_BITS.get(fname.stem))
        )
    if adc_bits is None:
        raise ValueError(f"{fname.name}: unknown ADC resolution; pass adc_bits.")
    counts = np.loadtxt(fname, comments="#", dtype=np.float64)
    data = (counts - 2 ** (adc_bits - 1)) * NOMINAL_VOLTS_PER_COUNT
    info = mne.create_info([label or ch_type.upper()], sfreq, ch_types=ch_type)
    raw = mne.io.RawArray(data[np.newaxis], info, verbose=False)
    return _describe(raw, subject=subject or fname.stem, recording=recording or fname.stem)


@verbose
def read_uci_emg(fname, *, subject=None, recording=None, verbose=None):
    """Read one text file of the UCI "EMG dataset in Lower Limb".

    Keeps the four EMG columns (RF, BF, VM, ST, mV -> V). Rows past the sample count
    that the header declares (trailing rows holding only the goniometer value) are
    left out, and their number is logged; a missing value inside the declared range
    stays NaN, for :func:`~mne_specae.make_segments` to drop the segment it falls in.

    Parameters
    ----------
    fname : path-like
        A file such as ``3Amar.txt``.
    subject, recording : str | None
        Stored on the Raw; by default ``uci-<subject><group>`` and the file stem.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
    """
    fname = Path(fname)
    header = _text_header(fname)
    # Sample counts declared for the EMG channels (the goniometer line may differ).
    counts = [
        int(m.group(1))
        for line in header
        if (m := re.search(r"(\d+) values, engineering units: mV", line))
    ]
    # Only the EMG columns, as text: some files end with a note (e.g. "7.5V") in the
    # goniometer column after the declared samples.
    table = pd.read_csv(
        fname,
        sep="\t",
        skiprows=len(header),
        header=None,
        encoding="latin-1",
        dtype=str,
        usecols=range(len(UCI_CHANNELS)),
    )
    emg = table.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if counts:
        n_declared = min(counts)
        if len(emg) > n_declared:
            logger.info(
                f"{fname.name}: left out {len(emg) - n_declared} row(s) after the "
                f"{n_declared} samples the header declares"
            )
        emg = emg[:n_declared]
    n_nan = int(np.isnan(emg).sum())
    if n_nan:
        logger.info(f"{fname.name}: {n_nan} missing value(s) kept as NaN")
    info = mne.create_info(list(UCI_CHANNELS), 1000.0, ch_types="emg")
    raw = mne.io.RawArray(emg.T * 1e-3, info, verbose=False)
    match = re.match(r"(\d+)([AN])", fname.stem)
    default_subject = f"uci-{match.group(1)}{match.group(2)}" if match else fname.stem
    return _describe(raw, subject=subject or default_subject, recording=recording or fname.stem)


@verbose
def read_wfdb_annotations(fname, *, extension="atr", verbose=None):
    """Read a WFDB annotation file (e.g. MIT-BIH beat labels) as :class:`mne.Annotations`.

    Parameters
    ----------
    fname : path-like
        The record (``.hea`` file, annotation file or path without extension).
    extension : str
        Annotation file extension (``"atr"``: the reference beat labels of MIT-BIH).
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        One zero-duration annotation per WFDB annotation, at ``sample / fs`` seconds
        from the start of the record (``orig_time=None``: they apply to the Raw of
        :func:`read_wfdb` with ``raw.set_annotations``). The description is the WFDB
        code (``"N"`` normal beat, ``"A"`` atrial premature beat, ``"V"`` premature
        ventricular contraction, ...); rhythm and comment annotations add their
        note, e.g. ``"+(N"`` for the start of normal sinus rhythm.

    Notes
    -----
    Beat codes follow PhysioBank's annotation table: ``N``, ``L``, ``R``, ``e`` and
    ``j`` are normal, bundle branch block and escape beats; ``A``, ``a``, ``J``,
    ``S``, ``V``, ``F``, ``E``, ``/``, ``f``, ``Q`` are premature, paced, fusion or
    unclassifiable beats; ``+``, ``~``, ``|`` and ``"`` mark rhythm changes, noise,
    artefacts and comments rather than beats.
    """
    import wfdb

    record_path = Path(fname)
    if record_path.suffix in (".hea", ".dat", f".{extension}"):
        record_path = record_path.with_suffix("")
    ann_file = record_path.with_name(f"{record_path.name}.{extension}")
    if not ann_file.is_file():
        raise FileNotFoundError(f"WFDB annotation file not found: {ann_file}")
    ann = wfdb.rdann(str(record_path), extension)
    fs = ann.fs
    if fs is None:
        header = record_path.with_suffix(".hea")
        if not header.is_file():
            raise ValueError(
                f"{ann_file.name} gives no sampling rate and there is no "
                f"{header.name} to read it from."
            )
        fs = wfdb.rdheader(str(record_path)).fs
    notes = ann.aux_note if ann.aux_note is not None else [""] * len(ann.symbol)
    descriptions = [
        sym + (note.rstrip("\x00").strip() if note else "") for sym, note in zip(ann.symbol, notes)
    ]
    onsets = np.asarray(ann.sample, dtype=np.float64) / float(fs)
    logger.info(f"{ann_file.name}: {len(onsets)} annotations at {fs:g} Hz")
    return mne.Annotations(onsets, np.zeros(len(onsets)), descriptions, orig_time=None)


@verbose
def read_raw(fname, *, ch_type=None, unknown_units="skip", verbose=None):
    """Read any recording the package knows, or anything MNE reads, into a Raw.

    Dispatches on the file: WFDB (``.hea``, or a ``.dat`` or ``.mat`` signal file with
    its ``.hea`` beside it, or the bare record name), BioSPPy text (``#`` header), UCI
    lower-limb EMG text, else :func:`mne.io.read_raw` (EDF, BDF, FIF, BrainVision, ...).

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
        Preloaded, in volts.
    """
    fname = Path(fname)
    if not fname.exists() and not fname.with_suffix(".hea").exists():
        raise FileNotFoundError(f"No such recording: {fname}")
    if (fname.suffix in _WFDB_SUFFIXES or not fname.exists()) and fname.with_suffix(
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
        header = _text_header(fname)
        if any(line.startswith("#") for line in header):
            return read_biosppy_txt(fname, ch_type=ch_type)
        if any("values, engineering units" in line for line in header):
            return read_uci_emg(fname)
        raise ValueError(
            f"{fname.name}: unknown text format (neither a BioSPPy '#' header nor a UCI "
            "lower-limb EMG header). Load it with numpy and wrap it in mne.io.RawArray."
        )
    if fname.suffix.lower() == ".edf":
        return read_edf(fname, ch_type=ch_type)
    raw = mne.io.read_raw(fname, preload=True, verbose=False)
    return _describe(raw, subject=None, recording=None)
