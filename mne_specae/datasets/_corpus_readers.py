"""Readers of the pretraining corpus's formats, each returning an ``mne.io.Raw`` with the
true MNE channel types and each channel's ``kind`` (:func:`corpus_channel_kinds`).

Units (what each reader does to reach MNE's units):

* WFDB (CinC 2015, MIT-BIH, wfdb-python samples, the Non-EEG dataset): ECG leads from their physical unit
  (``mV``) to volts. Other signals (PLETH ``NU``, ABP ``mmHg``, RESP ``NU``/``Ohm``,
  accelerometer and EDA ``NU``) are
  not voltages: their physical values are multiplied by :data:`NOMINAL_SCALE`
  (1 unit -> 1e-6), an arbitrary amplitude; a temperature (``degC``) stays in degrees
  Celsius, MNE's unit.
* Muse CSV: microvolts (the Muse SDK's unit) x 1e-6; markers are event codes, unscaled.
* Myo readings: int8 counts, and the UCI gesture files (the same Myo counts divided by
  1e5 by their exporter): counts x :data:`NOMINAL_SCALE`, so both Myo sources share one
  nominal scale.
* UniBo-INAIL: envelope values (arbitrary units) x :data:`NOMINAL_SCALE`.
* BioSPPy examples: ADC counts minus the mid-scale (``2**(bits - 1)``; none for the
  accelerometer's physical m/s^2) x :data:`NOMINAL_SCALE`.
* NeuroKit2 examples: ECG from mV to volts, EOG in volts already, EDA from microsiemens
  to siemens (x 1e-6), respiration and PPG x :data:`NOMINAL_SCALE`, the photosensor's
  volts unscaled (a stimulus channel).
* MNE test fixtures: as MNE reads them (volts).
* Brain Invaders 2012 (Eegle.jl's NY ``.npz``) and the UCI EEG Eye State ARFF (Emotiv):
  microvolts x 1e-6; samples more than 1 mV from the channel median (amplifier settling,
  acquisition glitches) are NaN; bi2012's event codes unscaled.

Arbitrary amplitudes must not be compared with calibrated ones: normalise per item or
per recording.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import logger, warn

from ._raws import describe

#: Volts per unit of a signal whose unit is not a voltage (counts, a.u., mmHg, ...).
NOMINAL_SCALE = 1e-6
#: The Muse headband's EEG rate (the CSV's own timestamps are checked against it).
MUSE_SFREQ = 256.0
#: The Myo armband's EMG rate.
MYO_SFREQ = 200.0
#: UniBo-INAIL's rate.
UNIBO_SFREQ = 500.0
#: Where the kinds live: ``raw.info["temp"][KINDS_KEY]`` (not written to FIF files).
KINDS_KEY = "mne_specae_kinds"
#: The kind of a channel when none was recorded: its MNE type's usual signal.
DEFAULT_KINDS = {
    "ecg": "ecg",
    "eeg": "eeg",
    "emg": "emg",
    "eog": "eog",
    "resp": "respiration",
    "gsr": "eda",
    "temperature": "temperature",
    "stim": "marker",
    "bio": "bio",
    "misc": "misc",
}
_ECG_LEADS = re.compile(r"^(I|II|III|aVR|aVL|aVF|V|V[1-6]|MCL\d?|MLII|ML[I]+)$", re.I)
#: Signal names of WFDB records that are not ECG: (MNE type, kind).
WFDB_OTHER = {
    "pleth": ("bio", "ppg"),
    "abp": ("bio", "abp"),
    "art": ("bio", "abp"),
    "resp": ("resp", "respiration"),
    # the Non-EEG dataset's wrist sensors
    "ax": ("misc", "accelerometer"),
    "ay": ("misc", "accelerometer"),
    "az": ("misc", "accelerometer"),
    "temp": ("temperature", "temperature"),
    "eda": ("gsr", "eda"),
}


def set_kinds(raw, kinds):
    """Record each channel's kind on ``raw`` (``info["temp"]``), in place."""
    with raw.info._unlock():
        temp = dict(raw.info.get("temp") or {})
        temp[KINDS_KEY] = {ch: str(kinds[ch]) for ch in raw.ch_names if ch in kinds}
        raw.info["temp"] = temp
    return raw


def corpus_channel_kinds(raw):
    """Return each channel's kind, e.g. ``"ppg"``, ``"abp"``, ``"accelerometer"``.

    Parameters
    ----------
    raw : mne.io.Raw
        A recording of :func:`~mne_specae.datasets.read_corpus`, or any Raw.

    Returns
    -------
    kinds : dict
        Channel name -> kind, in channel order. The corpus readers record it (in
        ``raw.info["temp"]``, kept by ``copy``, ``pick`` and ``resample`` but not written
        to FIF files); a channel without one gets its MNE type's usual signal
        (:data:`DEFAULT_KINDS`: ``"ecg"``, ``"eeg"``, ``"respiration"`` for ``resp``,
        ``"eda"`` for ``gsr``, ``"marker"`` for ``stim``, ...).
    """
    stored = (raw.info.get("temp") or {}).get(KINDS_KEY, {})
    types = raw.get_channel_types()
    return {ch: stored.get(ch) or DEFAULT_KINDS.get(t, t) for ch, t in zip(raw.ch_names, types)}


def _make_raw(data, names, types, kinds, sfreq, subject, recording):
    info = mne.create_info(list(names), float(sfreq), ch_types=list(types))
    raw = mne.io.RawArray(np.asarray(data, dtype=np.float64), info, verbose=False)
    set_kinds(raw, dict(zip(names, kinds)))
    return describe(raw, subject=subject, recording=recording)


def read_muse_csv(fname, *, subject=None, recording=None):
    """A Muse CSV of eeg-notebooks (``timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker*``).

    The rate is the number of intervals over the time span of the timestamps, snapped
    to :data:`MUSE_SFREQ` when within 1 % of it (the per-sample stamps are quantised to
    milliseconds, jitter and sometimes go backwards: their median interval, 4 ms,
    would say 250 Hz). Where the recording paused (a jump of more than 1 s in the
    timestamps), only its longest stretch is kept. TP9/AF7/AF8/TP10 are ``eeg``, ``Right AUX`` is ``misc`` (kind
    ``"unconnected"``: an input with nothing plugged in), ``Marker*`` are ``stim``.
    """
    fname = Path(fname)
    table = pd.read_csv(fname)
    eeg = ["TP9", "AF7", "AF8", "TP10"]
    missing = [c for c in ["timestamps", *eeg] if c not in table]
    if missing:
        raise ValueError(f"{fname.name}: not a Muse CSV (no column(s) {missing}).")
    stamps = table["timestamps"].to_numpy(np.float64)
    breaks = np.flatnonzero(np.diff(stamps) > 1.0)  # the recording paused for > 1 s
    if len(breaks):
        edges = np.r_[0, breaks + 1, len(stamps)]
        longest = int(np.argmax(np.diff(edges)))
        start, stop = edges[longest], edges[longest + 1]
        logger.info(
            f"{fname.name}: {len(breaks)} pause(s) > 1 s in the timestamps; kept the longest "
            f"stretch, samples {start}..{stop - 1} of {len(stamps)}"
        )
        table, stamps = table.iloc[start:stop], stamps[start:stop]
    span = stamps[-1] - stamps[0]
    if len(stamps) < 2 or not span > 0:
        raise ValueError(f"{fname.name}: timestamps give no time span.")
    sfreq = (len(stamps) - 1) / span
    if abs(sfreq - MUSE_SFREQ) <= 0.01 * MUSE_SFREQ:
        sfreq = MUSE_SFREQ
    else:
        warn(f"{fname.name}: timestamps say {sfreq:.2f} Hz, not {MUSE_SFREQ:g} Hz: used as is.")
    aux = [c for c in table if c.lower().startswith("right aux")]
    markers = [c for c in table if c.lower().startswith("marker")]
    names = eeg + aux + markers
    data = table[names].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64).T
    scale = np.array([1e-6] * (len(eeg) + len(aux)) + [1.0] * len(markers))
    types = ["eeg"] * 4 + ["misc"] * len(aux) + ["stim"] * len(markers)
    kinds = ["eeg"] * 4 + ["unconnected"] * len(aux) + ["marker"] * len(markers)
    return _make_raw(data * scale[:, None], names, types, kinds, sfreq, subject, recording)


def read_myo_txt(fname, *, subject=None, recording=None):
    """A Myo readings file: rows of 8 int8 EMG values and a gesture label, 200 Hz.

    Channels ``EMG1`` .. ``EMG8`` (``emg``), counts x :data:`NOMINAL_SCALE`; the label
    column is not a recorded signal and is left out. A malformed row (a few files have
    rows of 2 to 17 fields, logger glitches) is a sample of NaN, so that the time base
    is kept and :func:`~mne_specae.make_segments` drops the segment it falls in.
    """
    with open(fname, encoding="latin-1") as fid:
        rows = [line.split(",") for line in fid.read().splitlines() if line.strip()]
    good = np.array([len(r) == 9 for r in rows], bool)
    if not good.any():
        raise ValueError(f"{Path(fname).name}: no row of 8 EMG values and a label.")
    values = np.full((len(rows), 9), np.nan)
    table = pd.DataFrame([r for r, ok in zip(rows, good) if ok])
    values[good] = table.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    good &= np.isfinite(values).all(axis=1)  # an empty field: a malformed row too
    if not good.all():  # a logger glitch (rows merged or cut): NaN, its segment dropped
        logger.info(f"{Path(fname).name}: {int((~good).sum())} malformed row(s) kept as NaN")
    names = [f"EMG{k}" for k in range(1, 9)]
    data = values[:, :8].T * NOMINAL_SCALE
    return _make_raw(data, names, ["emg"] * 8, ["emg"] * 8, MYO_SFREQ, subject, recording)


def read_uci_gestures(fname, *, subject=None, recording=None):
    """A file of the UCI "EMG data for gestures" (time in ms, 8 channels, class).

    The logger wrote a row about every millisecond, but the Myo armband samples at
    200 Hz, so each sample is repeated over several rows (irregularly: the armband's
    packets arrive in bursts). The Raw is at the true 200 Hz: the value held at each
    5 ms tick of the file's own clock, from its first timestamp (the last row at or
    before the tick; a sample-and-hold read of the file, no interpolation). Values are
    the Myo counts divided by 1e5: read as counts x :data:`NOMINAL_SCALE`.
    """
    fname = Path(fname)
    table = pd.read_csv(fname, sep="\t")
    channels = [f"channel{k}" for k in range(1, 9)]
    if "time" not in table or any(c not in table for c in channels):
        raise ValueError(f"{fname.name}: expected columns time, channel1..channel8, class.")
    table = table.dropna(subset=["time", *channels])
    stamps = table["time"].to_numpy(np.float64)
    if np.any(np.diff(stamps) < 0):
        raise ValueError(f"{fname.name}: the time column goes backwards.")
    step = 1000.0 / MYO_SFREQ
    ticks = stamps[0] + step * np.arange(int(np.floor((stamps[-1] - stamps[0]) / step)) + 1)
    rows = np.searchsorted(stamps, ticks, side="right") - 1
    values = table[channels].to_numpy(np.float64)[rows]
    logger.info(f"{fname.name}: {len(stamps)} rows -> {len(ticks)} samples at 200 Hz")
    names = [f"EMG{k}" for k in range(1, 9)]
    data = values.T * (NOMINAL_SCALE / 1e-5)
    return _make_raw(data, names, ["emg"] * 8, ["emg"] * 8, MYO_SFREQ, subject, recording)


def _load_mat(fname):
    """A MATLAB file's variables: scipy for v4-v7.2, h5py for v7.3 (HDF5)."""
    import scipy.io

    try:
        return scipy.io.loadmat(fname)
    except NotImplementedError:  # v7.3: an HDF5 file, arrays stored transposed
        import h5py

        with h5py.File(fname, "r") as f:
            return {k: np.asarray(v).T for k, v in f.items() if isinstance(v, h5py.Dataset)}


def read_unibo_mat(fname, *, subject=None, recording=None):
    """A UniBo-INAIL ``.mat`` file: ``emg`` (samples x 4), 500 Hz.

    The four signals are rectified, smoothed EMG envelopes (all >= 0, power below
    2 Hz), a processed signal, not raw EMG: ``misc`` channels ``ENV1`` .. ``ENV4`` of
    kind ``"emg_envelope"``, values x :data:`NOMINAL_SCALE`. Version 5 files (the
    dataset's) are read with :func:`scipy.io.loadmat`, version 7.3 with h5py.
    """
    mat = _load_mat(fname)
    if "emg" not in mat:
        raise ValueError(f"{Path(fname).name}: no 'emg' variable.")
    emg = np.asarray(mat["emg"], dtype=np.float64)
    if emg.ndim != 2 or 4 not in emg.shape:
        raise ValueError(f"{Path(fname).name}: 'emg' has shape {emg.shape}, expected (n, 4).")
    data = emg.T if emg.shape[1] == 4 else emg
    names = [f"ENV{k}" for k in range(1, 5)]
    kinds = ["emg_envelope"] * 4
    return _make_raw(
        data * NOMINAL_SCALE, names, ["misc"] * 4, kinds, UNIBO_SFREQ, subject, recording
    )


def wfdb_type(name):
    """(MNE type, kind) of a WFDB signal name: ECG leads, PLETH, ABP, RESP."""
    if _ECG_LEADS.match(name.strip()):
        return "ecg", "ecg"
    return WFDB_OTHER.get(name.strip().lower(), (None, None))


def _retype_wfdb(raw, units, fname):
    """Types and kinds from the signal names; non-ECG signals from their physical
    values (read unscaled) to :data:`NOMINAL_SCALE`."""
    types, kinds, factors = {}, {}, []
    for name in raw.ch_names:
        ch_type, kind = wfdb_type(name)
        if ch_type is None:
            raise ValueError(f"{Path(fname).name}: signal {name!r} has no known type.")
        types[name], kinds[name] = ch_type, kind
        voltage = units[name].strip().lower() in ("v", "mv", "uv", "µv", "nv")
        # ECG in volts, temperature in degrees Celsius (MNE's units); others nominal
        physical = (ch_type == "ecg" and voltage) or ch_type == "temperature"
        factors.append(1.0 if physical else NOMINAL_SCALE)
    raw._data *= np.array(factors)[:, None]
    raw.set_channel_types(types, on_unit_change="ignore", verbose=False)
    return set_kinds(raw, kinds)


def read_cinc2015(fname, *, subject=None, recording=None):
    """A PhysioNet/CinC Challenge 2015 record (``.hea`` + ``.mat``), 250 Hz.

    Read with :func:`~mne_specae.datasets.read_wfdb`; ECG leads (II, V, III, MCL, aVR,
    aVL, aVF, I) are ``ecg`` in volts, PLETH ``bio`` (kind ``"ppg"``), ABP ``bio``
    (``"abp"``) and RESP ``resp``, at :data:`NOMINAL_SCALE` per physical unit.
    """
    import wfdb

    from ._wfdb import read_wfdb

    record = Path(fname).with_suffix("")
    header = wfdb.rdheader(str(record))
    units = dict(zip(header.sig_name, header.units))
    with warnings.catch_warnings():  # the non-voltage signals: retyped below
        warnings.simplefilter("ignore")
        raw = read_wfdb(record, unknown_units="keep", verbose="error")
    describe(raw, subject=subject, recording=recording)
    return _retype_wfdb(raw, units, fname)


def read_wfdb_multirate(fname, *, subject=None, recording=None):
    """A WFDB record whose signals have several rates (samples per frame), as a list of
    Raw: one per rate, each signal at its own rate (split, not resampled: resampling
    would invent content above the slower signals' Nyquist frequency, or drop the
    faster ones'). Types as :func:`read_cinc2015`; ``recording`` gets ``-<rate>hz``."""
    import wfdb

    record = Path(fname).with_suffix("")
    rec = wfdb.rdrecord(str(record), smooth_frames=False)
    groups = {}
    for k, spf in enumerate(rec.samps_per_frame):
        groups.setdefault(int(spf), []).append(k)
    out = []
    for spf, idx in sorted(groups.items(), reverse=True):
        sfreq = float(rec.fs) * spf
        signals = [rec.e_p_signal[k] for k in idx]
        n = min(len(s) for s in signals)
        names = [rec.sig_name[k] for k in idx]
        info = mne.create_info(names, sfreq, ch_types="misc")
        raw = mne.io.RawArray(np.array([s[:n] for s in signals]), info, verbose=False)
        rate = f"-{round(sfreq)}hz" if len(groups) > 1 else ""
        describe(raw, subject=subject, recording=(recording or record.name) + rate)
        units = {rec.sig_name[k]: rec.units[k] or "" for k in idx}
        ecg = [n for n in names if wfdb_type(n)[0] == "ecg"]
        for name in ecg:  # ECG to volts (read_wfdb's unit table), others nominal
            from ._wfdb import _unit_to_volts

            raw._data[names.index(name)] *= _unit_to_volts(units[name])
            units[name] = "v"
        out.append(_retype_wfdb(raw, units, fname))
    return out
