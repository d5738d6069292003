"""Channel types from channel names, where a file format stores none (or a wrong one).

WFDB headers store no channel type, EDF files only a label (MNE's ``infer_types``
reads an ``"ECG "`` prefix, so an unprefixed ``"ECG"`` lead comes in as EEG), and
many text formats nothing at all. :func:`channel_type_from_name` reads what a name
says; :func:`check_channel_types` compares it with the types a reader gave and
corrects the ones the name contradicts, saying so.
"""

from __future__ import annotations

import re

from mne.utils import logger, warn

# Lead names of the standard and Holter ECG (MIT-BIH: MLII, V1..V6; 12-lead: I, II,
# III, aVR, aVL, aVF), and names that say what they are.
_ECG = re.compile(
    r"^(ECG|EKG)|(^|[^A-Z])(ECG|EKG)([^A-Z]|$)|^(ML)?(I|II|III)$|^A?V[RLF]$|"
    r"^V[1-6]$|^MLII$|^CM[1-6]$|^D[1-3]$",
    re.IGNORECASE,
)
_EMG = re.compile(r"(^|[^A-Z])EMG([^A-Z]|$)|^EMG", re.IGNORECASE)
_EOG = re.compile(r"(^|[^A-Z])EOG([^A-Z]|$)|^EOG|^(H|V)EOG", re.IGNORECASE)
_EEG = re.compile(r"(^|[^A-Z])EEG([^A-Z]|$)|^EEG", re.IGNORECASE)
# 10-20 / 10-10 electrode names (Fp1, Cz, T3, PO7, ...), possibly a bipolar pair
_ELECTRODE = re.compile(
    r"^(N|Fp|AF|F|FT|FC|T|C|TP|CP|P|PO|O|I|A|M)(z|\d{1,2})"
    r"(-(N|Fp|AF|F|FT|FC|T|C|TP|CP|P|PO|O|I|A|M)(z|\d{1,2}))?$",
    re.IGNORECASE,
)


def channel_type_from_name(name):
    """The signal type a channel's name says: ``"ecg"``, ``"emg"``, ``"eog"``,
    ``"eeg"`` or ``None`` (the name says nothing).

    Parameters
    ----------
    name : str
        A channel name (``"ECG"``, ``"EEG Fpz-Cz"``, ``"MLII"``, ``"EMG submental"``).

    Returns
    -------
    ch_type : str | None
    """
    name = str(name).strip()
    for kind, pattern in (("emg", _EMG), ("eog", _EOG), ("ecg", _ECG), ("eeg", _EEG)):
        if pattern.search(name):
            return kind
    if _ELECTRODE.match(name):
        return "eeg"
    return None


#: Words of a channel name that say it records no biopotential: ``(MNE type, kind)``.
#: A name is split into words at anything but letters and digits, at digits and
#: at lower-to-upper case changes (``"acc_x"``, ``"AccelX"``, ``"SpO2"``, ``"Temp rectal"``);
#: the EDF+ standard's signal types (Resp, Temp, SaO2, Light, Sound, Event) and the
#: usual names of polysomnography, ICU monitors and wearables.
_SENSOR_WORDS = (
    (
        r"resp(iration|iratory)?|rsp|breath(ing)?|thor(ax|acic)?|abdo?(men|minal)?|"
        r"(air)?flow|nasal|oronasal|thermistor|cannula|(et)?co2|capno\w*",
        ("resp", ""),
    ),
    (r"ppg|bvp|pleth\w*|pulse|oximeter", ("bio", "ppg")),
    (r"spo2|sao2|sp02", ("bio", "spo2")),
    (r"abp|art|ibp|nbp|cvp|pap|icp", ("bio", "pressure")),
    (r"eda|gsr|scl|scr|galvanic", ("gsr", "eda")),
    (r"temp(erature)?|skt", ("temperature", "")),
    (r"acc(el(er(o(meter)?|ation))?)?[xyz]?|imu", ("misc", "accelerometer")),
    (r"gyro(scope)?[xyz]?", ("misc", "gyroscope")),
    (r"bcg|scg|ballisto\w*|seismo\w*", ("misc", "bcg")),
    (r"pcg|phono\w*", ("misc", "pcg")),
    (r"audio|sound|mic(rophone)?|snore|snoring", ("misc", "sound")),
    (r"rms|env|envelope", ("misc", "envelope")),
    (r"light|lux|position", ("misc", "")),
    (
        r"status|trig(ger)?\d*|sti\d*|stim|marker\d*|event(s)?|photo(sensor|diode)|gatein",
        ("stim", ""),
    ),
)
_SENSOR = [(re.compile(f"^({words})$", re.IGNORECASE), named) for words, named in _SENSOR_WORDS]


def _name_words(name):
    """The words of a channel name, lower case: each run of letters and digits, and
    its parts split at digits and at lower-to-upper case changes."""
    words = set()
    for chunk in re.findall(r"[A-Za-z0-9]+", str(name)):
        words.add(chunk.lower())
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", chunk))
        words.update(w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", chunk))
    return words


def sensor_from_name(name):
    """The non-biopotential sensor a channel's name says, ``(MNE type, kind)``, or
    ``None``: the name says nothing of the kind, or it also names a biopotential or
    EOG (``"ECG pulse"``).

    Parameters
    ----------
    name : str
        A channel name (``"Pleth"``, ``"acc_x"``, ``"Temp rectal"``, ``"Event marker"``).

    Returns
    -------
    sensor : tuple of str | None
        E.g. ``("bio", "ppg")``, ``("misc", "accelerometer")``, ``("resp", "")``.
    """
    if channel_type_from_name(name) is not None:
        return None
    words = _name_words(name)
    for pattern, named in _SENSOR:
        if any(pattern.match(word) for word in words):
            return named
    return None


def check_channel_types(raw, fname, *, channel_types=None):
    """Correct channel types that their names contradict, and apply the caller's.

    A channel whose name says ECG, EMG or EOG but whose type is another (or EEG
    named as such but typed otherwise) is retyped after its name, with a warning
    naming the file and channel; ``channel_types`` (name -> type) wins over both.
    Works in place.

    Parameters
    ----------
    raw : mne.io.Raw
        The recording (changed in place).
    fname : path-like
        Its file, for the messages.
    channel_types : dict | None
        Types chosen by the caller, ``{"ECG": "ecg", ...}``.

    Returns
    -------
    raw : mne.io.Raw
    """
    chosen = dict(channel_types or {})
    unknown = sorted(set(chosen) - set(raw.ch_names))
    if unknown:
        raise ValueError(
            f"{fname}: no channel(s) {unknown} to set a type for; the file has {raw.ch_names}."
        )
    current = dict(zip(raw.ch_names, raw.get_channel_types()))
    fixes = {}
    for ch, kind in current.items():
        named = channel_type_from_name(ch)
        if ch in chosen or named is None or named == kind:
            continue
        if named == "eeg" and kind not in ("misc", "ecg", "emg"):
            continue  # an electrode-like name on, say, a stim channel proves nothing
        fixes[ch] = named
    if fixes:
        listed = ", ".join(f"{ch} ({current[ch]} -> {kind})" for ch, kind in fixes.items())
        warn(
            f"{fname}: channel type(s) corrected after the channel name: {listed}. Set "
            "them yourself with channel_types / --channel-types NAME=type."
        )
    if chosen:
        logger.info(f"{fname}: channel types set by the caller: {chosen}")
    fixes.update(chosen)
    if fixes:
        raw.set_channel_types(fixes, on_unit_change="ignore", verbose=False)
    return raw


def parse_channel_types(text):
    """``"ECG=ecg,EMG1=emg"`` -> ``{"ECG": "ecg", "EMG1": "emg"}`` (the CLI's syntax)."""
    out = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        name, sep, kind = part.partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise ValueError(f"--channel-types: {part!r} is not NAME=type (e.g. ECG=ecg).")
        out[name.strip()] = kind.strip().lower()
    return out
