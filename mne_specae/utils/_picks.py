"""Channels picked the MNE way, bad channels honoured: :func:`pick_channels`.

The one picks resolver of the package (segments, spectrograms, the estimator's
items, channel types, unusual segments): MNE's picks (names, types, indices,
``"all"``, ``"data"``) where channels named or indexed explicitly are kept even when
bad and type or generic picks leave out ``info["bads"]``; ``None`` picks the
package's default channels; nothing left is an error that names the picks, the
channel types and the bads.
"""

from __future__ import annotations

import mne
import numpy as np
from mne.utils import logger

#: Channel types the package treats as signals (ECG and EMG are not MNE "data" channels).
SIGNAL_TYPES = ("ecg", "eeg", "emg")

_DEFAULTS = ("signals", "data", "all")


def pick_channels(info, picks, *, default="signals", with_ref_meg=True, log_bads=False):
    """Indices (sorted as MNE returns them) of the channels ``picks`` chooses in ``info``.

    Parameters
    ----------
    info : mne.Info
        The channels.
    picks : str | list | slice | None
        MNE's picks; bad channels are left out of type and generic picks and kept when
        named (or indexed) explicitly.
    default : ``"signals"`` | ``"data"`` | ``"all"``
        What ``picks=None`` means: every ECG, EEG and EMG channel not bad
        (``"signals"``); those and MNE's data channels (MEG, sEEG, ECoG, DBS,
        fNIRS...), not bad (``"data"``); every channel not bad (``"all"``).
    with_ref_meg : bool
        Passed to MNE (whether ``"data"`` includes MEG reference channels).
    log_bads : bool
        Log the bad channels left out.

    Returns
    -------
    idx : numpy.ndarray of int
    """
    from mne._fiff.pick import _picks_to_idx

    if default not in _DEFAULTS:  # pragma: no cover - a programming error
        raise ValueError(f"default must be one of {_DEFAULTS}, got {default!r}.")
    bads = list(info["bads"])
    types = sorted(set(info.get_channel_types()))
    if picks is None and default != "all":
        present = set(info.get_channel_types())
        kinds = {kind: kind in present for kind in SIGNAL_TYPES}
        idx = mne.pick_types(info, meg=False, exclude="bads", **kinds)
        if default == "data":
            data = _picks_to_idx(
                info, "data", exclude="bads", with_ref_meg=with_ref_meg, allow_empty=True
            )
            idx = np.union1d(data, idx)
        if len(idx) == 0:
            what = "ECG, EEG or EMG" if default == "signals" else "ECG, EEG, EMG or other data"
            raise ValueError(
                f"No {what} channel that is not bad (channel types: {types}, bads: "
                f"{bads}). Set the channel types with set_channel_types, or pass picks "
                "(names are kept even when bad)."
            )
    else:
        detail = ""
        try:
            idx = _picks_to_idx(info, picks, exclude="bads", with_ref_meg=with_ref_meg)
        except ValueError as err:  # MNE's reason: a name that is not a channel, ...
            idx, detail = [], f": {str(err).strip()}"
        if len(idx) == 0:
            raise ValueError(
                f"No channel for picks={picks!r} that is not bad{detail} (channel types: "
                f"{types}, bads: {bads}). Choose other picks, or set the channel types "
                "with set_channel_types (channels named in picks are kept even when bad)."
            )
    idx = np.asarray(idx, dtype=int)
    if log_bads:
        kept = {info["ch_names"][i] for i in idx}
        left = [ch for ch in bads if ch not in kept and ch in info["ch_names"]]
        if left:
            logger.info(f"Left out {len(left)} bad channel(s): {left}")
    return idx
