"""Text recordings: BioSPPy/OpenSignals "Simple Text Format" and UCI lower-limb EMG files."""

from __future__ import annotations

import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import logger, verbose

from ._raws import check_ch_type, describe
from .registry import BIOSPPY_ADC_BITS, NOMINAL_VOLTS_PER_COUNT, UCI_CHANNELS


def text_header(fname):
    """Lines before the first numeric line of a text recording."""
    header = []
    number = re.compile(r"^\s*[-+]?(\d|\.\d)")
    with open(fname, encoding="latin-1") as fid:
        for line in fid:
            if number.match(line):
                break
            header.append(line.rstrip("\r\n"))
    return header


def biosppy_header(fname):
    """The ``# key:= value`` fields of a BioSPPy example's header and its sampling rate."""
    fields = {}
    for line in text_header(fname):
        if ":=" in line:
            key, value = line.lstrip("# ").split(":=", 1)
            fields[key.strip()] = value.strip()
    if "Sampling Rate (Hz)" not in fields:
        raise ValueError(f"{fname.name}: no '# Sampling Rate (Hz):=' line in the header.")
    return fields, float(fields["Sampling Rate (Hz)"])


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
    fields, sfreq = biosppy_header(fname)
    label = fields.get("Labels", "").strip()
    ch_type = ch_type or label.lower()
    check_ch_type(ch_type)
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
    return describe(raw, subject=subject or fname.stem, recording=recording or fname.stem)


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
    header = text_header(fname)
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
    return describe(raw, subject=subject or default_subject, recording=recording or fname.stem)
