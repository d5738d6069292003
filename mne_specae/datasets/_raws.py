"""What every reader does to the Raw it returns: subject and recording recorded, types checked."""

from __future__ import annotations

_SIGNAL_TYPES = ("ecg", "eeg", "emg")


def describe(raw, *, subject=None, recording=None):
    """Record subject and recording on the Raw, where make_segments finds them."""
    with raw.info._unlock():
        if recording is not None:
            raw.info["description"] = recording
        if subject is not None:
            raw.info["subject_info"] = {"his_id": str(subject)}
    return raw


def check_ch_type(ch_type):
    if ch_type not in _SIGNAL_TYPES:
        raise ValueError(f"ch_type must be one of {_SIGNAL_TYPES}, got {ch_type!r}.")
