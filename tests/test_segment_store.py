"""Segment stores on disk: prepare_segments, read_segments, SegmentStore."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import mne
import numpy as np
import pandas as pd
import pytest

from mne_specae import make_segments, prepare_segments, read_segments
from mne_specae.stores.store import ITEM_COLUMNS


@pytest.fixture(scope="module")
def source_folder(data_path, tmp_path_factory):
    """Five real recordings in one folder: BioSPPy ECG and EMG, a UCI EMG file, and an
    eegmat EDF (19 EEG channels and an ECG lead)."""
    folder = tmp_path_factory.mktemp("recordings")
    for rel in (
        "ecg/biosppy/ecg.txt",
        "eeg/eegmat/Subject00_2.edf",
        "emg/biosppy/emg.txt",
        "emg/biosppy/emg_1.txt",
        "emg/uci_lower_limb/3Apie.txt",
    ):
        shutil.copy(data_path / rel, folder / rel.replace("/", "_"))
    return folder


@pytest.fixture(scope="module")
def reference(source_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("stores") / "reference"
    return prepare_segments(source_folder, path, n_jobs=1, verbose=False)


def _same_store(a, b):
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a.metadata, b.metadata)
    np.testing.assert_array_equal(a[:], b[:])


def test_a_store_holds_exactly_the_segments_of_make_segments(reference, source_folder):
    store = read_segments(reference.path)
    assert (store.sfreq, store.n_times, store.duration) == (512.0, 2560, 5.0)
    assert list(store.metadata.columns[: len(ITEM_COLUMNS)]) == list(ITEM_COLUMNS)
    assert len(store.files) == 5
    assert set(store.metadata["signal_type"]) == {"ecg", "eeg", "emg"}
    assert len(store) == len(store.metadata)
    # every file's items are its make_segments output, channel by channel
    from mne_specae.datasets import read_raw

    fname = source_folder / "emg_uci_lower_limb_3Apie.txt"
    raw = read_raw(fname, verbose=False)
    ep = make_segments(raw, verbose=False)
    rows = store.metadata.index[store.metadata["source"] == str(fname.resolve())]
    assert len(rows) == len(ep) * 4
    expected = ep.get_data().astype(np.float32).reshape(-1, 2560)
    np.testing.assert_array_equal(store[rows.to_numpy()], expected)
    assert list(store.metadata.loc[rows[:4], "channel"]) == ep.ch_names
    assert store[rows[0]].dtype == np.float32
    # lazy: nothing read until asked
    fresh = read_segments(reference.path)
    assert fresh._metadata is None and not fresh._arrays


def test_indexing_and_to_epochs(reference):
    n = len(reference)
    np.testing.assert_array_equal(
        reference[[3, 0, 3]], np.stack([reference[3], reference[0], reference[3]])
    )
    mask = np.zeros(n, bool)
    mask[[1, n - 1]] = True
    np.testing.assert_array_equal(reference[mask], reference[[1, n - 1]])
    np.testing.assert_array_equal(reference[-1], reference[n - 1])
    for bad in (n, [0, n]):
        with pytest.raises(IndexError, match="out of range"):
            reference[bad]
    with pytest.raises(IndexError, match="boolean mask"):
        reference[np.ones(3, bool)]
    epochs = reference.to_epochs("signal_type == 'emg' and recording == 'emg_uci_lower_limb_3Apie'")
    assert len(epochs) == 1
    ep = epochs[0]
    assert ep.ch_names == ["RF", "BF", "VM", "ST"] and ep.get_channel_types()[0] == "emg"
    assert "channel" not in ep.metadata and len(ep.metadata) == len(ep)
    assert ep.metadata["onset"].is_monotonic_increasing
    with pytest.raises(ValueError, match="No item matches"):
        reference.to_epochs("subject == 'nobody'")
    with pytest.raises(ValueError, match="same channels for every segment"):
        reference.to_epochs(
            "recording == 'emg_uci_lower_limb_3Apie' and (channel != 'RF' or onset > 5)"
        )


def test_two_jobs_give_the_same_store(reference, source_folder, tmp_path):
    store = prepare_segments(source_folder, tmp_path / "two", n_jobs=2, verbose=False)
    _same_store(store, reference)


def test_running_again_adds_nothing_and_settings_must_match(reference, source_folder, tmp_path):
    path = tmp_path / "store"
    shutil.copytree(reference.path, path)
    again = prepare_segments(source_folder, path, verbose=False)
    _same_store(again, reference)
    with pytest.raises(ValueError, match=r"other settings \(duration: 5.0 -> 2.0\)"):
        prepare_segments(source_folder, path, duration=2.0, verbose=False)
    fresh = prepare_segments(source_folder, path, duration=2.0, overwrite=True, verbose=False)
    assert fresh.n_times == 1024
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a segment store"):
        prepare_segments(source_folder, tmp_path / "other", verbose=False)
    with pytest.raises(FileNotFoundError, match="not a segment store"):
        read_segments(tmp_path / "other")


KILL_AFTER_TWO_COMMITS = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import mne_specae.stores._commits as commits_module
    import mne_specae.stores.preparation as prep
    commits = []
    original = commits_module.write_manifest
    def dying(path, manifest):
        original(path, manifest)
        commits.append(path)
        if len(commits) == 3:  # the initial manifest, then two files committed
            shard = Path(sys.argv[2]) / "shards" / "half-written.npy.tmp"
            shard.write_bytes(b"partial")
            os.kill(os.getpid(), 9)
    commits_module.write_manifest = dying  # every manifest commit goes through it
    prep.prepare_segments(sys.argv[1], sys.argv[2], verbose=False)
""")


def test_a_killed_preparation_resumes_to_the_same_store(reference, source_folder, tmp_path):
    path = tmp_path / "killed"
    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_TWO_COMMITS)
    proc = subprocess.run(
        [sys.executable, str(script), str(source_folder), str(path)],
        env={**os.environ, "MNE_SPECAE_DATA": os.environ.get("MNE_SPECAE_DATA", "")},
        capture_output=True,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    partial = read_segments(path)
    assert len(partial.files) == 2  # only what was committed is visible
    resumed = prepare_segments(source_folder, path, verbose=False)
    _same_store(resumed, reference)
    assert json.loads((path / "manifest.json").read_text())["skipped"] == []


def test_unreadable_files_are_counted_or_stop_a_strict_run(source_folder, tmp_path):
    folder = tmp_path / "with_junk"
    shutil.copytree(source_folder, folder)
    (folder / "broken.edf").write_bytes(b"0       not an EDF file at all")
    with pytest.warns(RuntimeWarning, match=r"1 skipped.*broken.edf"):
        store = prepare_segments(folder, tmp_path / "store", verbose=False)
    assert len(store.files) == 5
    assert set(store.metadata["signal_type"]) == {"ecg", "eeg", "emg"}
    assert [s["source"].endswith("broken.edf") for s in store.manifest["skipped"]] == [True]
    with pytest.raises(ValueError, match="broken.edf.*--strict"):
        prepare_segments(folder, tmp_path / "strict", strict=True, verbose=False)


def test_raw_sources_bids_entities_and_extra_columns(raw_by_name, data_path, tmp_path):
    bids = tmp_path / "bids" / "sub-07" / "ses-2" / "eeg"
    bids.mkdir(parents=True)
    shutil.copy(data_path / "eeg/eegmat/Subject00_2.edf", bids / "sub-07_ses-2_task-rest_eeg.edf")
    raw = raw_by_name["ecg/biosppy/ecg"]
    before = raw.get_data().copy()
    store = prepare_segments(
        [tmp_path / "bids", raw], tmp_path / "store", metadata={"site": "lab-a"}, verbose=False
    )
    md = store.metadata
    eeg = md[md["signal_type"] == "eeg"]
    assert set(eeg["subject"]) == {"sub-07"}
    assert set(eeg["session"]) == {"2"} and set(eeg["task"]) == {"rest"}
    assert set(md.loc[md["recording"].str.endswith("-ecg"), "subject"]) == {"sub-07"}
    from_raw = md[md["recording"] == "ecg/biosppy/ecg"]
    assert len(from_raw) == len(make_segments(raw, verbose=False)) == 3
    assert from_raw["session"].isna().all()
    assert set(md["site"]) == {"lab-a"}
    np.testing.assert_array_equal(raw.get_data(), before)  # the caller's Raw unchanged
    with pytest.raises(ValueError, match="built in"):
        prepare_segments([raw], tmp_path / "bad", metadata={"onset": 1}, verbose=False)
    with pytest.raises(ValueError, match="sources is empty"):
        prepare_segments([], tmp_path / "none", verbose=False)
    with pytest.raises(TypeError, match="sources"):
        prepare_segments([mne.create_info(1, 100.0)], tmp_path / "none", verbose=False)


def test_the_prepare_command(source_folder, tmp_path, capsys):
    from mne_specae.cli._main import main

    out = tmp_path / "store"
    files = [str(source_folder / "ecg_biosppy_ecg.txt"), str(source_folder / "emg_biosppy_emg.txt")]
    assert main(["prepare", *files, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "23 items (emg 20, ecg 3) from 2 file(s); 0 skipped" in printed
    store = read_segments(out)
    assert len(store) == 23 and len(store.files) == 2
    assert main(["prepare", *files, "--out", str(out), "--duration", "2", "--quiet"]) == 2
    assert "other settings (duration: 5.0 -> 2.0)" in capsys.readouterr().err
    assert (
        main(["prepare", *files, "--out", str(out), "--duration", "2", "--quiet", "--overwrite"])
        == 0
    )
    assert read_segments(out).n_times == 1024


def test_any_joblib_backend_runs_the_preparation(reference, source_folder, tmp_path):
    """What a Dask or Ray cluster does through joblib: another backend, same store."""
    import joblib

    with joblib.parallel_config(backend="threading"):
        store = prepare_segments(source_folder, tmp_path / "threads", n_jobs=2, verbose=False)
    _same_store(store, reference)


@pytest.mark.skipif(sys.platform == "win32", reason="links need privileges on Windows")
def test_links_in_the_shards_folder_are_followed_only_inside_it(reference, tmp_path):
    """The names a manifest lists are checked with one lstat each when the store opens
    (a link is resolved: inside the store it is read, leading out it is refused)."""
    path = tmp_path / "linked"
    shutil.copytree(reference.path, path)
    manifest = json.loads((path / "manifest.json").read_text())
    first, second = (s["key"] for s in manifest["shards"][:2])
    shards = path / "shards"
    # a shard file that is a link to another file of the same folder: read through it
    os.replace(shards / f"{first}.npy", shards / f"{first}.data")
    os.symlink(shards / f"{first}.data", shards / f"{first}.npy")
    np.testing.assert_array_equal(read_segments(path)[:], reference[:])
    # one that leads out of the store: refused at its first read
    outside = tmp_path / "elsewhere.npy"
    shutil.copy(shards / f"{second}.npy", outside)
    (shards / f"{second}.npy").unlink()
    os.symlink(outside, shards / f"{second}.npy")
    opened = read_segments(path)
    with pytest.raises(ValueError, match=rf"{second}.npy.*leads outside the store"):
        opened[:]
    # a key that is itself a link out of the store: refused when the store opens
    os.symlink(tmp_path, shards / second)
    with pytest.raises(ValueError, match=rf"shard key '{second}' leads outside the store"):
        read_segments(path)


def test_opening_a_store_resolves_its_folder_once_not_each_shard(reference, tmp_path):
    """Store open time: a manifest of 20,000 shards (a million items) is checked
    without resolving a path per shard (about 0.2 s on 2 cores, from 2 s)."""
    from pathlib import Path

    path = tmp_path / "big"
    (path / "shards").mkdir(parents=True)
    one = reference.manifest["shards"][0]
    manifest = dict(
        reference.manifest,
        shards=[dict(one, key=f"{k:020x}", table=f"{k:020x}.1.csv") for k in range(20_000)],
    )
    (path / "manifest.json").write_text(json.dumps(manifest))
    calls = []
    resolve = Path.resolve

    def counted(self, *args, **kwargs):
        calls.append(self)
        return resolve(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "resolve", counted)
        store = read_segments(path)
    assert len(store) == 20_000 * one["n_items"] and len(calls) <= 2
