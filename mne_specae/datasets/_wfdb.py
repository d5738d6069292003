"""WFDB records (PhysioNet: ``.hea`` with ``.dat`` or ``.mat``) and their annotations."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
from mne.utils import logger, verbose, warn

from ._raws import check_ch_type, describe
from .channels import channel_type_from_name

#: Suffixes of a WFDB record's files that name the record (header or signal file).
WFDB_SUFFIXES = (".hea", ".dat", ".mat")


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

    if ch_type is not None:
        check_ch_type(ch_type)
    if unknown_units not in ("skip", "keep", "raise"):
        raise ValueError(f"unknown_units must be 'skip', 'keep' or 'raise', got {unknown_units!r}.")
    record_path = Path(fname)
    if record_path.suffix in WFDB_SUFFIXES + (".atr",):
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
    return describe(
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
