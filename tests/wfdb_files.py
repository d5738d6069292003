"""Small WFDB records with known content, written by the tests (not collected)."""

from pathlib import Path

import numpy as np


def write_wfdb(folder, name, fs, sig_name, units, signals, spf=None):
    """A WFDB record ``name`` (format 16, gain 100) of ``signals`` in ``folder``; its
    ``.hea`` path."""
    import wfdb

    wfdb.wrsamp(
        name,
        fs=fs,
        units=units,
        sig_name=sig_name,
        e_p_signal=[np.asarray(s, float) for s in signals],
        samps_per_frame=spf or [1] * len(signals),
        fmt=["16"] * len(signals),
        adc_gain=[100.0] * len(signals),
        baseline=[0] * len(signals),
        write_dir=str(folder),
    )
    return Path(folder) / f"{name}.hea"
