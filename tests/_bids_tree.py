"""A curated BIDS tree of two eegmat recordings, written with mne-bids, for the BIDS
tests (local and on object storage)."""

from __future__ import annotations

import pandas as pd

SUBJECTS = ("00", "01")
ENTITIES = dict(session="1", task="arith", run=1, acquisition="a", datatype="eeg")


def bids_path(root, sub, suffix, extension):
    """The BIDSPath of subject ``sub``'s file with that suffix and extension."""
    import mne_bids

    return mne_bids.BIDSPath(subject=sub, root=root, suffix=suffix, extension=extension, **ENTITIES)


def write_curated_tree(root, data_path, seconds):
    """eegmat Subject00_1 and Subject01_1 (``seconds`` each, channels typed as the
    package's EDF reader types them: 20 EEG, one ECG; line frequency 50 Hz) written
    under ``root`` with mne-bids, then edited as a curator would: Fp1 of sub-00 marked
    bad, A2-A1 of sub-01 typed MISC in channels.tsv, a BAD_ artefact at 1-3 s in
    sub-00's events.tsv; and a derivative (not a recording of the dataset). ``root``."""
    import mne_bids

    from mne_specae.datasets import read_raw

    for sub in SUBJECTS:
        raw = read_raw(data_path / f"eeg/eegmat/Subject{sub}_1.edf", verbose=False)
        raw.crop(0, seconds, include_tmax=False)
        raw.info["line_freq"] = 50.0
        path = mne_bids.BIDSPath(subject=sub, root=root, **ENTITIES)
        mne_bids.write_raw_bids(
            raw, path, allow_preload=True, format="EDF", overwrite=True, verbose=False
        )
    mne_bids.mark_channels(
        bids_path(root, "00", "eeg", ".edf"), ch_names=["Fp1"], status="bad", verbose=False
    )
    channels = bids_path(root, "01", "channels", ".tsv").fpath
    table = pd.read_csv(channels, sep="\t", keep_default_na=False)
    table.loc[table["name"] == "A2-A1", "type"] = "MISC"
    table.to_csv(channels, sep="\t", index=False)
    events = bids_path(root, "00", "events", ".tsv").fpath
    table = pd.read_csv(events, sep="\t", keep_default_na=False)
    row = dict.fromkeys(table.columns, "n/a")
    row.update(onset=1.0, duration=2.0, trial_type="BAD_artefact", sample=500)
    pd.concat([table, pd.DataFrame([row])]).to_csv(events, sep="\t", index=False)
    derivative = root / "derivatives" / "clean" / "sub-00" / "eeg"
    derivative.mkdir(parents=True)
    edf = bids_path(root, "00", "eeg", ".edf").fpath
    (derivative / edf.name).write_bytes(edf.read_bytes())
    return root
