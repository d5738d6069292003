"""Corpus readers for the BioSPPy example signals and the MNE test fixtures: the true
type and kind of each channel where the file says another (or nothing)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
from mne.utils import logger

from ._corpus_readers import NOMINAL_SCALE, _make_raw, set_kinds
from ._raws import describe
from ._text import biosppy_header

#: BioSPPy example -> (MNE type, kind).
BIOSPPY_TYPES = {
    "acc": ("misc", "accelerometer"),
    "bcg": ("misc", "bcg"),
    "eda": ("gsr", "eda"),
    "pcg": ("misc", "pcg"),
    "ppg": ("bio", "ppg"),
    "resp": ("resp", "respiration"),
}

_BIPOLAR = {f"BIP{k}": None for k in range(1, 25)}  # bipolar inputs of unknown signal
#: MNE test fixtures: channel -> (MNE type, kind), or ``None`` to leave a channel out
#: (its signal is not known). Channels not named keep the file's type when it is
#: ``eeg`` (kind ``"eeg"``), ``eog`` or ``stim`` (kind ``"trigger"``); others are left out.
FIXTURE_TYPES = {
    "multiple_annotation_chans": {
        "EMG": ("emg", "emg"),
        "EOG": ("eog", "eog"),
        "ECG": ("misc", "flat"),  # constant zero in this file: no signal
        "acc1": ("misc", "accelerometer"),
        "acc2": ("misc", "accelerometer"),
        "acc3": ("misc", "accelerometer"),
    },
    "test_eximia": {"EOG": ("eog", "eog")},
    "test_CA_208_amp_disconnection": {"EOG": ("eog", "eog"), **_BIPOLAR},
    "test_CA_208_start_stop": {"EOG": ("eog", "eog"), **_BIPOLAR},
    "test-na-271": {
        "vEOG": ("eog", "eog"),
        "hEOG": ("eog", "eog"),
        "EMG": ("emg", "emg"),
        "ECG": ("ecg", "ecg"),
        "Aux": None,
    },
}
_KEEP = {"eeg": "eeg", "eog": "eog", "stim": "trigger"}
#: Fixtures whose voltages MNE reads 1e6 too large (eXimia: EEG std ~60 "V", i.e.
#: microvolts): their eeg/eog channels are scaled by this factor.
FIXTURE_SCALES = {"test_eximia": 1e-6}


def read_biosppy_signal(fname, *, subject=None, recording=None):
    """A BioSPPy example of another signal than ECG/EEG/EMG (one or more columns).

    The type and kind come from the file name (:data:`BIOSPPY_TYPES`); counts minus
    the ADC mid-scale (from the header's ``Resolution``; none when it is 0, as for the
    accelerometer's m/s^2) x :data:`NOMINAL_SCALE`.
    """
    fname = Path(fname)
    if fname.stem not in BIOSPPY_TYPES:
        raise ValueError(f"{fname.name}: not one of the BioSPPy examples {sorted(BIOSPPY_TYPES)}.")
    ch_type, kind = BIOSPPY_TYPES[fname.stem]
    fields, sfreq = biosppy_header(fname)
    bits = int(float(fields.get("Resolution", "0") or 0))
    values = np.loadtxt(fname, comments="#", dtype=np.float64, ndmin=2)
    labels = fields.get("Labels", "").split("\t") if fields.get("Labels") else []
    if len(labels) != values.shape[1]:
        labels = [f"{fname.stem.upper()}{k + 1}" for k in range(values.shape[1])]
    offset = 2 ** (bits - 1) if bits > 0 else 0.0
    data = (values.T - offset) * NOMINAL_SCALE
    n = len(labels)
    return _make_raw(data, labels, [ch_type] * n, [kind] * n, sfreq, subject, recording)


def read_mne_fixture(fname, *, subject=None, recording=None):
    """An MNE test fixture (BDF, EDF, EEGLAB, eXimia, BrainVision) with its channels'
    true types: EOG, EMG and ECG that the file types ``eeg`` retyped, accelerometers
    ``misc``, channels of unknown signal left out (:data:`FIXTURE_TYPES`)."""
    fname = Path(fname)
    raw = mne.io.read_raw(fname, preload=True, verbose="error")
    stem = recording_stem(fname)
    rules = FIXTURE_TYPES.get(stem, {})
    types, kinds, drop = {}, {}, []
    for ch, file_type in zip(raw.ch_names, raw.get_channel_types()):
        rule = rules.get(ch, "file") if ch in rules else "file"
        if rule == "file":
            rule = (file_type, _KEEP[file_type]) if file_type in _KEEP else None
        if rule is None:
            drop.append(ch)
        else:
            types[ch], kinds[ch] = rule
    if drop:
        logger.info(f"{fname.name}: left out {len(drop)} channel(s) of unknown signal: {drop}")
        raw.drop_channels(drop)
    raw.set_channel_types(
        {ch: t for ch, t in types.items() if ch in raw.ch_names},
        on_unit_change="ignore",
        verbose=False,
    )
    if stem in FIXTURE_SCALES:
        picks = mne.pick_types(raw.info, eeg=True, eog=True)
        raw._data[picks] *= FIXTURE_SCALES[stem]
    set_kinds(raw, kinds)
    return describe(raw, subject=subject, recording=recording)


def recording_stem(fname):
    """A fixture's key in :data:`FIXTURE_TYPES`: its file name without extension."""
    return Path(fname).name.split(".")[0]
