"""Corpus readers for the example signals of toolboxes (BioSPPy, NeuroKit2, FLIRT's
Empatica E4 recording) and the MNE test fixtures: the true type and kind of each channel where the file says another (or
nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger

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
    # EEGLAB's sample data (eeglab_data.set, 30504 samples at 128 Hz) with its channels
    # renamed "EEG 000".."EEG 031": the repository's EEGLAB/test_chans.locs, its channel
    # file, names the 2nd and 6th EOG1 and EOG2 (electrodes beside the eyes)
    "test_raw": {"EEG 001": ("eog", "eog"), "EEG 005": ("eog", "eog")},
    # a BioSemi recording: A1..H16 on the scalp; I1..I8 (external inputs of unknown
    # placement: I5-I7 muscle-like, 26-41 % of their power above 30 Hz) and the two
    # "Ergo" inputs (uncorrelated with the scalp) are not known to be EEG
    "test_reduced": {**{f"I{k}": None for k in range(1, 9)}, "Ergo-Left": None, "Ergo-Right": None},
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


#: NeuroKit2 example columns (lower case) -> (MNE type, kind, factor to MNE's unit):
#: ECG in mV (BIOPAC), EOG in volts (read through MNE by the NeuroKit developers), EDA in
#: microsiemens, respiration belt and PPG in arbitrary units (:data:`NOMINAL_SCALE`), the
#: photosensor (a light sensor on the screen: 0-5 V when a stimulus shows) unscaled, as
#: the event codes of other stimulus channels.
NEUROKIT_COLUMNS = {
    "ecg": ("ecg", "ecg", 1e-3),
    "veog": ("eog", "eog", 1.0),
    "heog": ("eog", "eog", 1.0),
    "eda": ("gsr", "eda", 1e-6),
    "rsp": ("resp", "respiration", NOMINAL_SCALE),
    "ppg": ("bio", "ppg", NOMINAL_SCALE),
    "photosensor": ("stim", "photosensor", 1.0),
}
_RATE_IN_NAME = re.compile(r"_(\d+(?:\.\d+)?)hz(?:[_.]|$)", re.I)


def read_neurokit_csv(fname, *, sfreq=None, subject=None, recording=None):
    """A NeuroKit2 example recording (``nk.data``): a CSV, one column per signal.

    Parameters
    ----------
    fname : path-like
        The CSV (header ``ECG,EDA,Photosensor,RSP``, ``hEOG,vEOG``, ...).
    sfreq : float | None
        The sampling rate; ``None``: from the file name (``bio_resting_5min_100hz.csv``:
        100 Hz), as NeuroKit documents its examples.
    subject, recording : str | None
        Stored on the Raw.

    Returns
    -------
    raw : mne.io.RawArray
        One channel per column, named as the column, typed and scaled as
        :data:`NEUROKIT_COLUMNS` says. An empty cell is a sample of NaN (the time base
        is kept; :func:`~mne_specae.make_segments` drops the segment it falls in).
    """
    fname = Path(fname)
    _validate_type(sfreq, ("numeric", None), "sfreq")
    if sfreq is None:
        m = _RATE_IN_NAME.search(fname.name)
        if m is None:
            raise ValueError(
                f"{fname.name}: no sampling rate in the file name (such as '_100hz'); pass sfreq."
            )
        sfreq = float(m.group(1))
    if not sfreq > 0:
        raise ValueError(f"sfreq must be positive, got {sfreq}.")
    table = pd.read_csv(fname)
    unknown = [c for c in table if str(c).strip().lower() not in NEUROKIT_COLUMNS]
    if unknown:
        raise ValueError(
            f"{fname.name}: column(s) {unknown} of unknown signal; the known columns are "
            f"{sorted(NEUROKIT_COLUMNS)} (any case)."
        )
    if table.empty:
        raise ValueError(f"{fname.name}: no sample.")
    rules = [NEUROKIT_COLUMNS[str(c).strip().lower()] for c in table]
    values = table.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64).T
    missing = int((~np.isfinite(values)).any(axis=0).sum())
    if missing:
        logger.info(f"{fname.name}: {missing} sample(s) with an empty or non-numeric cell: NaN")
    data = values * np.array([r[2] for r in rules])[:, None]
    names = [str(c).strip() for c in table]
    types, kinds = [r[0] for r in rules], [r[1] for r in rules]
    return _make_raw(data, names, types, kinds, sfreq, subject, recording)


#: An Empatica E4 CSV file (by name) -> channel names, MNE type, kind and the factor to
#: the package's units: EDA microsiemens to siemens, temperature in degrees Celsius
#: unscaled, accelerometer counts (1/64 g) and BVP at :data:`NOMINAL_SCALE`.
E4_FILES = {
    "EDA": (["EDA"], "gsr", "eda", 1e-6),
    "TEMP": (["TEMP"], "temperature", "temperature", 1.0),
    "ACC": (["ACC_X", "ACC_Y", "ACC_Z"], "misc", "accelerometer", NOMINAL_SCALE),
    "BVP": (["BVP"], "bio", "ppg", NOMINAL_SCALE),
}


def read_e4_csv(fname, *, subject=None, recording=None):
    """One signal of an Empatica E4 wristband's export (``EDA.csv``, ``TEMP.csv``,
    ``ACC.csv``, ``BVP.csv``): the first row the start time (Unix seconds), the second
    the sampling rate, then one sample per row (three columns for ``ACC``).

    Returns
    -------
    raw : mne.io.RawArray
        At the file's own rate (EDA and TEMP 4 Hz, ACC 32 Hz, BVP 64 Hz: the E4 records
        each stream at its rate; they are not resampled to one), typed and scaled as
        :data:`E4_FILES` says, ``meas_date`` the start time.
    """
    fname = Path(fname)
    if fname.stem.upper() not in E4_FILES:
        raise ValueError(
            f"{fname.name}: not one of the E4's raw signals ({', '.join(E4_FILES)}.csv)."
        )
    names, ch_type, kind, scale = E4_FILES[fname.stem.upper()]
    table = pd.read_csv(fname, header=None, skipinitialspace=True)
    if len(table) < 3 or table.shape[1] != len(names):
        raise ValueError(
            f"{fname.name}: expected a start time, a rate and samples in {len(names)} "
            f"column(s), got {table.shape[0]} row(s) x {table.shape[1]} column(s)."
        )
    start, sfreq = float(table.iat[0, 0]), float(table.iat[1, 0])
    if not sfreq > 0:
        raise ValueError(f"{fname.name}: the second row must be the rate in Hz, got {sfreq}.")
    data = table.iloc[2:].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64).T
    raw = _make_raw(
        data * scale, names, [ch_type] * len(names), [kind] * len(names), sfreq, subject, recording
    )
    return raw.set_meas_date(start)


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


#: A sample further than this from its channel's median (volts) is not EEG: amplifier
#: settling at the start of a recording, or a glitch of the acquisition (one sample of
#: 0.3-0.7 V in the UCI Eye State file). Such samples become NaN in every channel, so
#: that :func:`~mne_specae.make_segments` drops the segments they fall in (logged).
GLITCH_LIMIT = 1e-3
#: The Emotiv EPOC's output rate: the UCI Eye State file holds 14980 samples of 117 s.
EYE_STATE_SFREQ = 128.0


def _nan_glitches(data, name):
    """``data`` (channels x samples, volts) with every sample where a channel is more
    than :data:`GLITCH_LIMIT` from its median set to NaN in all channels (a copy)."""
    data = np.array(data, dtype=np.float64)
    far = np.abs(data - np.median(data, axis=1, keepdims=True)) > GLITCH_LIMIT
    bad = far.any(axis=0)
    if bad.any():
        where = np.flatnonzero(bad)
        logger.info(
            f"{name}: {bad.sum()} sample(s) more than {GLITCH_LIMIT * 1e3:g} mV from the "
            f"channel median (settling or glitches, the first at sample {where[0]}): NaN"
        )
        data[:, bad] = np.nan
    return data


def _ny_header(text):
    """Sampling rate and sensor names of an NY-format ``.yml`` (Eegle.jl)."""
    rate = re.search(r"^[ \t]*samplingrate:[ \t]*([0-9.]+)[ \t]*$", text, re.M)
    lines = text.splitlines()
    start = [k for k, line in enumerate(lines) if line.strip() == "sensors:"]
    sensors = []
    for line in lines[start[0] + 1 :] if start else []:
        item = re.fullmatch(r"[ \t]*-[ \t]*(\S+)[ \t]*", line)
        if item is None:
            break
        sensors.append(item.group(1))
    if rate is None or not sensors:
        raise ValueError("not an NY header (no acquisition samplingrate or sensors list).")
    return float(rate.group(1)), sensors


def read_ny_npz(fname, *, subject=None, recording=None):
    """A session in Eegle.jl's NY format: ``.npz`` (``data``: samples x electrodes in
    microvolts, ``stim``: event codes) beside its ``.yml`` header.

    The ``.yml``'s sensors are ``eeg`` (x 1e-6 to volts); columns beyond the named
    sensors (bi2012's 17th, minus the sum of the others: the common average's
    remainder, no electrode) are left out, logged; ``stim`` is a ``stim`` channel
    ``STI`` (kind ``"trigger"``, unscaled). Samples further than :data:`GLITCH_LIMIT`
    from the median (amplifier settling) are NaN.
    """
    fname = Path(fname)
    header = fname.with_suffix(".yml")
    if not header.is_file():
        raise FileNotFoundError(f"{fname.name}: its NY header {header.name} is missing.")
    sfreq, sensors = _ny_header(header.read_text())
    with np.load(fname, allow_pickle=False) as npz:
        missing = [k for k in ("data", "stim") if k not in npz]
        if missing:
            raise ValueError(f"{fname.name}: not an NY data file (no {missing}).")
        values, stim = npz["data"], npz["stim"]
    if values.ndim != 2 or values.shape[1] < len(sensors) or len(stim) != len(values):
        raise ValueError(
            f"{fname.name}: data of shape {values.shape} and {len(stim)} stim samples do "
            f"not match the {len(sensors)} sensors of {header.name}."
        )
    if values.shape[1] > len(sensors):
        logger.info(f"{fname.name}: left out {values.shape[1] - len(sensors)} unnamed column(s)")
    eeg = _nan_glitches(values[:, : len(sensors)].T * 1e-6, fname.name)
    data = np.vstack([eeg, np.asarray(stim, np.float64)[None]])
    n = len(sensors)
    names, types = [*sensors, "STI"], ["eeg"] * n + ["stim"]
    return _make_raw(data, names, types, ["eeg"] * n + ["trigger"], sfreq, subject, recording)


def read_eye_state_arff(fname, *, subject=None, recording=None):
    """The UCI EEG Eye State ARFF: 14 Emotiv EPOC channels in microvolts, 128 Hz
    (:data:`EYE_STATE_SFREQ`), and the eye state (a label from video, not a signal:
    left out). Channels are ``eeg`` x 1e-6; the samples of acquisition glitches
    (:data:`GLITCH_LIMIT`) are NaN."""
    fname = Path(fname)
    text = fname.read_text()
    head, sep, body = text.partition("@DATA")
    if not sep:
        head, sep, body = text.partition("@data")
    attrs = re.findall(r"^@ATTRIBUTE\s+(\S+)\s+(\S+)", head, re.M | re.I)
    if not sep or not attrs:
        raise ValueError(f"{fname.name}: not an ARFF file (no @ATTRIBUTE/@DATA).")
    values = np.loadtxt(body.strip().splitlines(), delimiter=",", ndmin=2)
    if values.shape[1] != len(attrs):
        raise ValueError(f"{fname.name}: {values.shape[1]} columns for {len(attrs)} attributes.")
    keep = [k for k, (_, kind) in enumerate(attrs) if kind.upper() in ("NUMERIC", "REAL")]
    left = [attrs[k][0] for k in range(len(attrs)) if k not in keep]
    if left:
        logger.info(f"{fname.name}: left out the label column(s) {left}")
    names = [attrs[k][0] for k in keep]
    data = _nan_glitches(values[:, keep].T * 1e-6, fname.name)
    n = len(names)
    return _make_raw(data, names, ["eeg"] * n, ["eeg"] * n, EYE_STATE_SFREQ, subject, recording)
