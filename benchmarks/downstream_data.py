"""The developers' labelled data for the downstream benchmark and the recipe selection.

All recordings of the sample and the extended set (``load_sample(extended=True)``),
cut into 5 s segments at 512 Hz, with the labels of every task in the metadata:

* ``signal_type`` (ecg / eeg / emg) and ``source`` (mitdb, eegmat, biosppy,
  uci_lower_limb);
* ``condition``: eegmat rest / arithmetic, BioSPPy EEG eyes closed / eyes open;
* ``exercise`` (gait / standing / sitting) and ``group`` (normal / knee abnormality):
  UCI lower-limb EMG;
* ``beats``: MIT-BIH record 100, segments holding only normal beats vs at least one
  non-normal beat (``A``, ``a``, ``J``, ``S``, ``V``, ``F``, ...), from the reference
  annotations ``100.atr``.

``split`` is the group held out together: the subject (UCI 1N and 2N together: their
public standing and sitting files hold the same samples), except for the two sources
whose labelled task has one subject (BioSPPy EEG, MIT-BIH 100), which are split into
time blocks (60 s and 180 s) -- the eyes task and the beats task are then
within-subject, across time, and say so.

``role``: the eegmat and UCI subjects are shared in two halves. ``"select"`` subjects
are the only ones the recipe selection (``select_recipe.py``) ever scores on;
``"report"`` subjects are the only ones the benchmark holds out and reports (the
selection subjects stay in its training folds). Everything else is ``"report"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Subjects the recipe is chosen on (never reported).
SELECT_SUBJECTS = (
    *(f"eegmat-Subject{k:02d}" for k in range(10)),
    *(f"uci-{s}" for s in ("1A", "2A", "3A", "4A", "5A", "1N", "2N", "3N", "4N", "5N")),
)
#: Subjects whose recordings are (partly) the same data, held out together.
DUPLICATES = {"uci-1N": "uci-1N+2N", "uci-2N": "uci-1N+2N"}
#: Seconds per time block of the single-subject sources.
BLOCK_SECONDS = {"biosppy-eeg": 60.0, "mitdb-100": 180.0}
NORMAL_BEATS = ("N", "L", "R", "e", "j")
NON_NORMAL_BEATS = ("A", "a", "J", "S", "V", "F", "E", "/", "f", "Q")


def _beat_labels(raw_fname, onsets, duration):
    from mne_specae.datasets import read_wfdb_annotations

    ann = read_wfdb_annotations(raw_fname, verbose=False)
    beats = np.array([d for d in ann.description])
    times = ann.onset
    labels = []
    for onset in onsets:
        inside = beats[(times >= onset) & (times < onset + duration)]
        labels.append("non-normal" if np.isin(inside, NON_NORMAL_BEATS).any() else "normal")
    return labels


def load_downstream_epochs(
    *, max_segments=None, mitdb100_segments=None, duration=5.0, sfreq=512.0, subjects=None
):
    """Labelled segments of every developer recording, one Epochs per recording.

    Parameters
    ----------
    max_segments : int | None
        At most this many segments per recording (evenly spread), except MIT-BIH 100.
    mitdb100_segments : int | None
        At most this many segments of MIT-BIH 100 (the beats task), evenly spread.
    subjects : callable | None
        Keep only the recordings whose subject passes this test.

    Returns
    -------
    epochs : list of mne.Epochs
    """
    from mne_specae import make_segments, select_evenly
    from mne_specae.datasets import get_data_path, get_recording, load_sample

    raws = load_sample(extended=True, verbose=False)
    folder = get_data_path()
    out = []
    for modality_raws in raws.values():
        for raw in modality_raws:
            recording = get_recording(raw.info["description"])
            if subjects is not None and not subjects(recording.subject):
                continue
            if raw.n_times / raw.info["sfreq"] < duration:
                continue
            metadata = dict(recording.labels, source=recording.source)
            epochs = make_segments(raw, duration, sfreq, metadata=metadata, verbose=False)
            limit = mitdb100_segments if recording.subject == "mitdb-100" else max_segments
            epochs = select_evenly(epochs, limit)
            md = epochs.metadata.copy()
            # The public UCI files of subjects 1N and 2N hold identical standing and
            # sitting samples: one group, always on the same side of a split.
            md["split"] = md["subject"].replace(DUPLICATES)
            block = BLOCK_SECONDS.get(recording.subject)
            if block is not None:
                md["split"] = [f"{recording.subject}-block{int(t // block)}" for t in md["onset"]]
            if recording.subject == "mitdb-100":
                md["beats"] = _beat_labels(
                    folder / recording.files[0].relpath, md["onset"], duration
                )
            md["role"] = np.where(md["subject"].isin(SELECT_SUBJECTS), "select", "report")
            epochs.metadata = md
            # one Epochs per held-out group (the time blocks of one recording)
            out += [
                epochs[np.flatnonzero(md["split"].to_numpy() == g)]
                for g in dict.fromkeys(md["split"])
            ]
    for column in ("condition", "exercise", "group", "beats"):  # present everywhere
        for ep in out:
            if column not in ep.metadata:
                ep.metadata = ep.metadata.assign(**{column: "n/a"})
    return out


def describe(epochs_list):
    """Segments and subjects per source and signal type (a table to print)."""
    md = pd.concat([ep.metadata.assign(n_channels=len(ep.ch_names)) for ep in epochs_list])
    return md.groupby(["source", "signal_type"]).agg(
        recordings=("recording", "nunique"),
        subjects=("subject", "nunique"),
        segments=("subject", "size"),
        channels=("n_channels", "max"),
    )
