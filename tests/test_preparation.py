"""prepare_segments on awkward inputs: bad channels, duplicate file names, edited
files, killed or concurrent runs, write failures, impossible settings."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mne
import numpy as np
import pytest
from mne.utils import catch_logging

from mne_specae import make_segments, prepare_segments
from mne_specae.stores._discovery import find_recordings, segments_of_file

ROOT = Path(__file__).resolve().parents[1]


def _ecg_fif(fname, freq, sine_raw, duration=15.0):
    """A one-lead ECG sine saved as FIF (known content)."""
    raw = sine_raw(freq, 256.0, duration, ch_type="ecg")
    fname.parent.mkdir(parents=True, exist_ok=True)
    raw.save(fname, overwrite=True, verbose=False)
    return raw


# -- item: a type whose channels are all bad does not drop the good ones -----------------


@pytest.fixture(scope="module")
def eeg_with_bad_ecg(data_path, tmp_path_factory):
    """eegmat Subject00_2 (19 EEG channels, A2-A1 and an ECG lead), 20 s, with its only
    ECG channel marked bad, as a Raw and as a FIF file."""
    from mne_specae.datasets import read_raw

    raw = read_raw(data_path / "eeg/eegmat/Subject00_2.edf", verbose=False)
    raw.crop(0, 20.0, include_tmax=False).load_data()
    raw.info["bads"] = ["ECG"]
    folder = tmp_path_factory.mktemp("bad_ecg")
    raw.save(folder / "Subject00_2_raw.fif", verbose=False)
    return raw, folder


def test_all_bad_channels_of_one_type_keep_the_other_types(eeg_with_bad_ecg, tmp_path):
    raw, folder = eeg_with_bad_ecg
    n_eeg = len(mne.pick_types(raw.info, eeg=True, exclude="bads"))
    # the file path (also the command line's path): EEG segments, no ECG
    found = segments_of_file(folder / "Subject00_2_raw.fif", duration=5.0, sfreq=512.0)
    assert [ep.get_channel_types(unique=True) for ep in found] == [["eeg"]]
    assert len(found[0]) == 4 and len(found[0].ch_names) == n_eeg
    # prepare_segments from the folder and from the Raw
    with catch_logging() as log:
        store = prepare_segments([folder, raw], tmp_path / "store", verbose="info")
    assert store.manifest["skipped"] == []
    assert len(store.files) == 2
    md = store.metadata
    assert set(md["signal_type"]) == {"eeg"}
    assert len(store) == 2 * 4 * n_eeg
    assert "ECG" not in set(md["channel"])
    assert "every ecg channel is bad" in log.getvalue()
    expected = make_segments(raw, picks="eeg", verbose=False).get_data()
    rows = np.flatnonzero(md["source"].to_numpy() == str(raw.info["description"]))
    np.testing.assert_array_equal(store[rows], expected.astype(np.float32).reshape(-1, 2560))


# -- item: files with one name in different folders are different recordings ------------


def test_same_file_name_in_two_folders_gives_two_recordings(sine_raw, tmp_path):
    root = tmp_path / "study"
    _ecg_fif(root / "s1" / "rest_raw.fif", 5.0, sine_raw)
    _ecg_fif(root / "s2" / "rest_raw.fif", 9.0, sine_raw)
    _ecg_fif(root / "top_raw.fif", 7.0, sine_raw)
    store = prepare_segments(root, tmp_path / "store", verbose=False)
    md = store.metadata
    assert sorted(set(md["recording"])) == ["s1/rest_raw", "s2/rest_raw", "top_raw"]
    epochs = store.to_epochs()
    assert len(epochs) == 3 and [len(ep) for ep in epochs] == [3, 3, 3]
    # the training split's groups (subject, else recording) are three as well
    assert set(md["subject"]) == {"unknown"}
    from mne_specae.stores._discovery import recording_names

    # files named directly: their file names, or paths from their common folder when
    # two share a name
    files = find_recordings(
        [root / "s1" / "rest_raw.fif", root / "s2" / "rest_raw.fif", root / "top_raw.fif"]
    )
    names = recording_names(files, [str(f) for f in files])
    assert list(names.values()) == ["s1/rest_raw", "s2/rest_raw", "top_raw"]
    assert recording_names(find_recordings([root]), [root]) == {
        root / "s1" / "rest_raw.fif": "s1/rest_raw",
        root / "s2" / "rest_raw.fif": "s2/rest_raw",
        root / "top_raw.fif": "top_raw",
    }


# -- item: joblib is declared ---------------------------------------------------------


def test_joblib_with_generator_unordered_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "joblib>=1.4" in [d.replace(" ", "") for d in project["dependencies"]]


# -- item: an edited source file replaces its old version ------------------------------


def test_an_edited_file_replaces_its_old_version(sine_raw, tmp_path):
    folder = tmp_path / "rec"
    _ecg_fif(folder / "a_raw.fif", 5.0, sine_raw, duration=40.0)
    path = tmp_path / "store"
    first = prepare_segments(folder, path, verbose=False)
    assert len(first) == 8
    old_key = first.manifest["shards"][0]["key"]
    edited = _ecg_fif(folder / "a_raw.fif", 11.0, sine_raw, duration=40.0)
    with catch_logging() as log:
        again = prepare_segments(folder, path, verbose="info")
    assert len(again) == 8 and len(again.files) == 1
    assert "changed since it was prepared" in log.getvalue()
    edited = mne.io.read_raw_fif(folder / "a_raw.fif", verbose=False)  # as stored
    expected = make_segments(edited, verbose=False).get_data().astype(np.float32)
    np.testing.assert_array_equal(again[:], expected.reshape(8, -1))
    assert not list((path / "shards").glob(f"{old_key}.*"))  # old shard files removed
    # running once more: nothing to do
    assert len(prepare_segments(folder, path, verbose=False)) == 8


# -- item: one process at a time; a failed write names its file ------------------------


def test_a_second_process_on_one_store_is_refused(sine_raw, tmp_path):
    folder = tmp_path / "rec"
    _ecg_fif(folder / "a_raw.fif", 5.0, sine_raw)
    path = tmp_path / "store"
    path.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (path / "prepare.lock").write_text(f"{other.pid}\n")
        with pytest.raises(
            RuntimeError,
            match=rf"another process \(pid {other.pid}\) is "
            "preparing this store",
        ):
            prepare_segments(folder, path, verbose=False)
    finally:
        other.kill()
        other.wait()
    # the holder is gone: its lock is stale, taken over, and released at the end
    with catch_logging() as log:
        store = prepare_segments(folder, path, verbose="info")
    assert len(store) == 3 and "stale lock" in log.getvalue()
    assert not (path / "prepare.lock").exists()


def test_a_failed_write_names_the_file_and_leaves_no_temporary(sine_raw, tmp_path, monkeypatch):
    import mne_specae.stores.preparation as prep

    folder = tmp_path / "rec"
    _ecg_fif(folder / "a_raw.fif", 5.0, sine_raw)
    path = tmp_path / "store"

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prep.os, "fsync", full_disk)
    with pytest.raises(OSError, match=r"Could not write .*manifest\.json.*No space left"):
        prepare_segments(folder, path, verbose=False)
    assert not list(path.rglob("*.tmp"))
    assert not (path / "prepare.lock").exists()


# -- item: impossible settings are refused once, before any file -----------------------


def test_settings_are_checked_before_any_file(sine_raw, tmp_path):
    folder = tmp_path / "rec"
    _ecg_fif(folder / "a_raw.fif", 5.0, sine_raw)
    with pytest.raises(ValueError, match=r"duration \* sfreq = 0\.0512 samples"):
        prepare_segments(folder, tmp_path / "store", duration=1e-4, verbose=False)
    with pytest.raises(ValueError, match="duration must be a positive number"):
        prepare_segments(folder, tmp_path / "store", duration=-1, verbose=False)
    assert not (tmp_path / "store").exists()  # nothing created, no file read


# -- item: killing the parent of a parallel preparation ends its workers -----------------

PREPARE_IN_PARALLEL = textwrap.dedent("""
    import sys
    import mne_specae.stores.preparation as prep
    prep.prepare_segments(sys.argv[1:-1], sys.argv[-1], n_jobs=2, verbose=False)
""")


def _children(pid):
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow  # a child process that imports the package and reads 8 recordings
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_a_parallel_preparation_ends_its_workers(signum, data_path, tmp_path):
    files = [str(data_path / f"ecg/mitdb/{r}.hea") for r in (100, 106, 113, 121)] + [
        str(data_path / f"eeg/eegmat/Subject0{s}_1.edf") for s in range(4)
    ]
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE_IN_PARALLEL)
    proc = subprocess.Popen(
        [sys.executable, str(script), *files, str(tmp_path / "store")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest_file = tmp_path / "store" / "manifest.json"
    workers, deadline = set(), time.monotonic() + 120
    try:
        # wait for the first file committed: both workers have started and work
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(manifest_file.read_text())["shards"]:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        # loky's workers and resource trackers: the python children of the parent
        workers = {c for c in _children(proc.pid) if _alive(c)}
        assert proc.poll() is None and len(workers) >= 2, "the workers did not start"
        os.kill(proc.pid, signum)
        assert proc.wait(timeout=30) == (143 if signum == signal.SIGTERM else -9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(_alive, workers)):
            time.sleep(0.2)
        left = [w for w in workers if _alive(w)]
        cmdlines = [Path(f"/proc/{w}/cmdline").read_bytes()[:200] for w in left]
        assert not left, f"worker(s) {left} still running after the parent died: {cmdlines}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["shards"] == [] or all(s["n_items"] for s in manifest["shards"])
    assert not (tmp_path / "store" / "prepare.lock").exists() or signum == signal.SIGKILL


def test_a_wfdb_mat_record_named_twice_is_read_once(tmp_path, monkeypatch):
    """Before: ``x.mat`` and ``x.hea`` of one WFDB record (or a folder holding both and
    the ``x.mat``) were two recordings, read twice; a ``.mat`` is mapped to its header
    as a ``.dat`` is."""
    pytest.importorskip("scipy.io")
    from test_datasets import _write_wfdb_mat

    folder = tmp_path / "records"
    folder.mkdir()
    mat = _write_wfdb_mat(folder, monkeypatch)
    header = mat.with_suffix(".hea")
    assert find_recordings([mat]) == [header]
    assert find_recordings([mat, header]) == [header]
    assert find_recordings([header, mat.with_suffix("")]) == [header]
    assert [p.name for p in find_recordings([folder, mat])] == ["a103.hea", "a103m.hea"]
    store = prepare_segments([mat, header], tmp_path / "store", verbose="error")
    assert store.manifest["shards"][0]["source"] == str(header.resolve())
    assert len(store.manifest["shards"]) == 1 and len(store) == 4  # 2 leads x 10 s / 5 s
    # a .mat without its header stays a file of its own (read_raw says what it is)
    lone = tmp_path / "scores.mat"
    lone.write_bytes(b"")
    assert find_recordings([lone]) == [lone]


def test_two_takeovers_of_one_stale_lock_one_wins(tmp_path, monkeypatch):
    """Before: two processes that found the same stale lock (its pid dead) both removed
    it and created their own (the second removing the first's fresh lock): both held
    the store. Simulated in one process: the second writer judges the lock stale, the
    first takes it over right then, and the second goes on with its takeover."""
    from mne_specae.stores import _writing
    from mne_specae.stores._writing import LOCK, StoreLock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK).write_text(f"{dead.pid} preparing\n")
    first, second = StoreLock(tmp_path), StoreLock(tmp_path, "writing columns into")
    real_pid_alive = _writing._pid_alive

    raced = []

    def pid_alive(pid):
        if pid == dead.pid and not raced:  # second found it stale: first wins now
            raced.append(True)
            first.__enter__()
        return real_pid_alive(pid)

    monkeypatch.setattr(_writing, "_pid_alive", pid_alive)
    with pytest.raises(RuntimeError, match=rf"another process \(pid {os.getpid()}\) is preparing"):
        second.__enter__()
    assert first._held and not second._held
    assert (tmp_path / LOCK).read_text() == f"{os.getpid()} preparing\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]  # nothing left aside
    first.__exit__(None, None, None)
    assert not (tmp_path / LOCK).exists()
    # the internal step itself: a stale lock is taken over once; a vanished one is not
    (tmp_path / LOCK).write_text(f"{dead.pid} preparing\n")
    assert first._take_over() is True
    with pytest.raises(RuntimeError, match="another process"):
        second._take_over()
    first.__exit__(None, None, None)
    assert second._take_over() is False
