"""The EOG guard on an answer of :func:`~mne_specae.identify_channel_types` (the
other guards: :mod:`._type_guards`).

**The EOG guard.** EOG is an electrical potential like EEG, and an encoder that never
saw it calls it EEG (or ECG: a blink is a large, isolated deflection like a beat). An
``"eeg"`` answer becomes ``"unknown"`` ("EEG or EOG") when the type head gives EOG at
least ``EOG_GUARD`` and at least ``EOG_RATIO`` (half) the probability of the
biopotentials, and the channel has less than ``EOG_ALPHA_BETA["eeg"]`` of its power in
6-15 Hz (an EOG has hardly any alpha or beta rhythm; the type head learnt EOG from 11
channels of three sources, and on its own it flagged 39 EEG channels of sources it
never saw, Muse's TP9 and TP10 behind the ears among them, against one EOG channel);
an ``"eeg"`` or ``"ecg"`` answer, with or without a type head, when
the channel's power lies almost all below 6 Hz (``EOG_LOW_SHARE``) with hardly any in
6-15 Hz (``EOG_ALPHA_BETA``: 3.5 % for an EEG answer, 2.5 % for an ECG answer; blinks
and saccades, no alpha or beta rhythm). Every EEG channel of the developers'
recordings had at least 4.7 % of its power in 6-15 Hz (``10 ** -1.33``), every ECG
channel 3.5 %, synthetic EOG 0.6-2.6 %. And a channel that the recording declares EOG
(its type, or "EOG" in its name: ``declared_eog``) is never answered ``"eeg"``: an
electrode by the eyes records frontal EEG too, and where the signal looks like EEG it
cannot tell the two apart; the answer is ``"unknown"``, so ``ch_type`` keeps the
declared type.

**A drifting cap electrode is not EOG-like.** A DC-coupled amplifier (BioSemi, ANT,
eXimia) records an electrode's slow drift, and after it starts a settling transient,
far larger than the EEG: then almost all the power lies below 6 Hz, as with blinks,
and the physics check called every such EEG channel "EEG or EOG" (MNE's 5-11 s test
files of three such amplifiers; eegmat's EEG under a drift 20 x its size). The check
spares a channel (``drifting_cap_electrode``) when at least ``DRIFT_SHARE`` (80 %) of
its power lies below ``DRIFT_BELOW`` (0.4 Hz: a drift, not a blink), it moves with its
peers as a cap's electrode does (``peer_r_top3`` at least ``DRIFT_PEERS``, 0.5; EDA, a
trigger, an electrode alone have none), and above the drift it keeps the alpha and
beta of EEG (at least ``DRIFT_ALPHA_BETA``, 15 %, of its power in 1.5-40 Hz in
6-15 Hz, where no drift reaches; blinks: NeuroKit's EOG 4-11 %, MNE's BDF fixture's
10 %; EEG of the corpus: 5th percentiles 8-40 % by source, MNE's fixtures 3 %).
Leave one source out (2,165 channels of 16 sources), with the heads taught drifted
windows (``_type_augment.DRIFT_SCALE``), the ECG/EEG/EMG balanced accuracy went from
0.811 to 0.864 (138 more of MNE's EEG fixtures ``eeg``, no other answer moved);
with the heads before, which sent most drifting EEG to breathing or EDA first,
0.792 -> 0.794. Reading the power from 0.4 Hz up for every
channel instead let a trigger, an EDA and a declared EOG through as ``eeg`` when
their names were hidden. The thresholds were chosen on that evaluation.
"""

from __future__ import annotations

import re

import numpy as np

from ._type_decide import BIOPOTENTIALS, UNKNOWN
from ._type_features import FEATURE_NAMES, band_share, high_share
from ._type_guards import _overrule

EOG_GUARD = 0.05
EOG_RATIO = 0.5
EOG_LOW_SHARE = 0.85
#: An electrode of a cap under a drift is not EOG-like (``drifting_cap_electrode``):
#: at least ``DRIFT_SHARE`` of its power lies below ``DRIFT_BELOW`` Hz, its top-3 peer
#: correlation is at least ``DRIFT_PEERS``, and at least ``DRIFT_ALPHA_BETA`` of its
#: power in 1.5-40 Hz lies in 6-15 Hz (see the notes).
DRIFT_BELOW = 0.4
DRIFT_SHARE = 0.8
DRIFT_PEERS = 0.5
DRIFT_ALPHA_BETA = 0.15
#: Largest share of the power in 6-15 Hz of an EOG-like channel, for an ``"eeg"``
#: answer (every EEG channel had at least 10 ** -1.33) and for an ``"ecg"`` answer
#: (an MIT-BIH V1 lead had 10 ** -1.46 with 93 % of its power below 6 Hz).
EOG_ALPHA_BETA = {"eeg": 10**-1.45, "ecg": 10**-1.6}


def drifting_cap_electrode(median_features):
    """Whether a channel is an electrode of a cap under a drift (see the notes): a
    drift holds most of its power (at least ``DRIFT_SHARE`` below ``DRIFT_BELOW`` Hz),
    it moves with its peers (``peer_r_top3`` at least ``DRIFT_PEERS``), and above the
    drift it keeps the alpha and beta of EEG (at least ``DRIFT_ALPHA_BETA`` of its
    power in 1.5-40 Hz lies in 6-15 Hz)."""
    top3 = median_features[FEATURE_NAMES.index("peer_r_top3")]
    rhythm = high_share(median_features, 6.0, 15.0)
    return bool(
        band_share(median_features, 0.0, DRIFT_BELOW) >= DRIFT_SHARE
        and np.isfinite(top3)
        and top3 >= DRIFT_PEERS
        and np.isfinite(rhythm)
        and rhythm >= DRIFT_ALPHA_BETA
    )


def looks_like_eog(median_features, answer="eeg"):
    """Whether a channel's power is that of blinks and saccades (see the notes), for
    an ``answer`` of ``"eeg"`` or ``"ecg"``."""
    if median_features is None or not np.isfinite(median_features).any():
        return False
    low = band_share(median_features, 0.0, 6.0)
    alpha_beta = band_share(median_features, 6.0, 15.0)
    if not (low >= EOG_LOW_SHARE and alpha_beta < EOG_ALPHA_BETA[answer]):
        return False
    return not drifting_cap_electrode(median_features)


def declared_eog(name, ch_type):
    """Whether the recording declares a channel EOG: its type, or "EOG" in its name
    (``"EOG"``, ``"HEOG"``, ``"EOG ROC"``: EDF files type every channel EEG)."""
    return ch_type == "eog" or bool(re.search("eog", str(name), re.IGNORECASE))


def eog_guard(row, types, median_features, declared=False):
    """Step 3's ``"eeg"`` (or ``"ecg"``: blinks can look like beats) made ``"unknown"``
    when the channel may be EOG (in place); ``declared``: the recording declares it
    EOG (:func:`declared_eog`), and an ``"eeg"`` answer is not given."""
    predicted = row.get("predicted")
    if predicted == UNKNOWN and row.get("reason", "").startswith("not sure"):
        if looks_like_eog(median_features):  # say what it may be
            row["reason"] += "; the power is that of blinks or eye movements (EOG?)"
        return row
    if predicted not in ("eeg", "ecg"):
        return row
    p_eog = (types or {}).get("eog", 0.0)
    family = sum((types or {}).get(t, 0.0) for t in BIOPOTENTIALS)
    # 0 where the rate has no band in 6-15 Hz: the type head's suspicion decides alone
    rhythm = 0.0 if median_features is None else band_share(median_features, 6.0, 15.0)
    if (
        predicted == "eeg"
        and p_eog >= EOG_GUARD
        and p_eog >= EOG_RATIO * family
        and rhythm < EOG_ALPHA_BETA["eeg"]
    ):
        row["reason"] = (
            f"EEG or EOG (the type head gives EOG {p_eog:.2f}, the biopotentials "
            f"{family:.2f}, and {100 * rhythm:.1f} % of the power is in 6-15 Hz)"
        )
    elif looks_like_eog(median_features, predicted):
        row["reason"] = (
            f"{predicted.upper()} or EOG (almost all power below 6 Hz, hardly any alpha "
            "or beta: blinks or eye movements)"
        )
    if row["reason"]:
        row["predicted"] = UNKNOWN
    elif predicted == "eeg" and declared:
        _overrule(
            row,
            "EEG or EOG (the recording declares an EOG channel, and an electrode by the "
            "eyes records frontal EEG too: the signal cannot tell them apart; its type "
            "is kept)",
            predicted,
            who="the model's",
        )
    return row
