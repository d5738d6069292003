"""Preparation on a Dask cluster (joblib's dask backend): a LocalCluster of two worker
processes on 127.0.0.1 gives the store of n_jobs=1, file for file; its workers are not
ended by the parent watchdog; a shard the caller cannot see is not committed."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import joblib
import mne
import numpy as np
import pytest

from mne_specae import prepare_segments

distributed = pytest.importorskip("distributed")
key_split = pytest.importorskip("dask.utils").key_split

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    before = dict(os.environ)  # Dask's nannies write MALLOC_TRIM_THRESHOLD_ etc. here
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            # not the default client: the package must use the one handed to joblib
            distributed.Client(cluster, set_as_default=False) as client,
        ):
            os.environ.clear()  # processes later tests start do not inherit them
            os.environ.update(before)
            yield client
    finally:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture
def sources(data_path):
    """Four eegmat recordings (EEG and an ECG lead; 182 s each)."""
    return [data_path / f"eeg/eegmat/Subject0{s}_{k}.edf" for s in range(2) for k in (1, 2)]


def _files(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in (path / "shards").iterdir()}


# two worker processes that import the package: ~10 s on 2 idle cores, 20-35 s when busy
@pytest.mark.slow
def test_a_local_cluster_gives_the_store_of_one_job(client, sources, tmp_path):
    ref = prepare_segments(sources, tmp_path / "ref", n_jobs=1, verbose=False)
    pids = client.run(os.getpid)
    with joblib.parallel_config(backend="dask", client=client):
        on_cluster = prepare_segments(sources, tmp_path / "dask", n_jobs=-1, verbose=False)
    # the work ran on the workers (LocalCluster's are children of this process, so the
    # parent watchdog runs there too), which are still the same processes afterwards
    assert client.run(os.getpid) == pids and len(pids) == 2
    done = client.run(lambda: __import__("sys").modules.get("mne_specae.stores._shards"))
    assert all(done.values())
    # the same store: manifest entries, shard bytes, items and metadata
    strip = ref.manifest["shards"]
    assert on_cluster.manifest["shards"] == strip
    assert _files(tmp_path / "dask") == _files(tmp_path / "ref")
    np.testing.assert_array_equal(on_cluster[:], ref[:])
    assert on_cluster.metadata.equals(ref.metadata)
    # a store begun in this process and continued on the cluster: the same again
    prepare_segments(sources[:2], tmp_path / "both", n_jobs=1, verbose=False)
    with joblib.parallel_config(backend="dask", client=client):
        both = prepare_segments(sources, tmp_path / "both", n_jobs=-1, verbose=False)
    assert both.manifest["shards"] == strip
    assert not (tmp_path / "both" / "prepare.lock").exists()


class _InFlight(distributed.diagnostics.plugin.SchedulerPlugin):
    """A scheduler plugin: the most ``prepare_one`` tasks the scheduler held at once,
    and the prefixes of every task it saw."""

    name = "in-flight"

    def __init__(self):
        self.alive, self.most, self.prefixes, self.workers = set(), 0, set(), set()

    def transition(self, key, start, finish, *args, **kwargs):
        self.prefixes.add(key_split(key))
        if finish == "memory" and kwargs.get("worker"):
            self.workers.add(kwargs["worker"])
        if finish in ("released", "forgotten", "memory", "erred"):
            self.alive.discard(key)
        elif key_split(key) == "prepare_one":
            self.alive.add(key)
            self.most = max(self.most, len(self.alive))


def _wait_forgotten(scheduler, prefix, timeout=30.0):
    """Wait until the scheduler (in this process) holds no task of ``prefix``."""
    end = time.monotonic() + timeout
    while True:
        try:
            if not any(key_split(key) == prefix for key in list(scheduler.tasks)):
                return
        except RuntimeError:  # the scheduler's thread changed the dict meanwhile
            pass
        if time.monotonic() > end:
            raise AssertionError(f"the scheduler still holds {prefix!r} tasks after {timeout} s")
        time.sleep(0.05)


@pytest.mark.slow  # the cluster of the module (started once)
def test_every_file_is_submitted_to_the_cluster_at_once(client, sine_raw, tmp_path):
    """joblib's dask backend kept 2 tasks per worker thread in flight and polled for
    results every 10 ms (3-4 ms lost per file, measured); the files now go to the
    cluster's scheduler at once, one ``prepare_one`` task each, and make the store of
    ``n_jobs=1``."""
    raws = [sine_raw(5.0 + k, 256.0, 10.0, ch_type="ecg") for k in range(9)]
    ref = prepare_segments(raws, tmp_path / "ref", n_jobs=1, verbose=False)
    plugin = _InFlight()
    scheduler = client.cluster.scheduler  # a LocalCluster's runs in this process
    scheduler.add_plugin(plugin)
    try:
        with joblib.parallel_config(backend="dask", client=client):
            store = prepare_segments(raws, tmp_path / "dask", n_jobs=-1, verbose=False)
    finally:
        scheduler.remove_plugin(name=plugin.name)
    assert plugin.most == 9  # joblib's backend: at most 4 (2 workers x 2)
    # one task per file (joblib's: batch_of_prepare_one_1_calls), each Raw scattered
    # to the workers as data of its own, not inside the task graph
    assert plugin.prefixes == {"prepare_one", "RawArray"}
    assert store.manifest["shards"] == ref.manifest["shards"]
    np.testing.assert_array_equal(store[:], ref[:])
    # n_jobs=1 inside the dask backend runs here, as documented (joblib sent it to the
    # cluster): nothing reaches the scheduler (once the first run's tasks, released by
    # the client after it returned, are forgotten: their late transitions are not new
    # work, and a plugin added before them saw 'prepare_one' in one CI run)
    _wait_forgotten(scheduler, "prepare_one")
    plugin = _InFlight()
    scheduler.add_plugin(plugin)
    try:
        with joblib.parallel_config(backend="dask", client=client):
            prepare_segments(raws, tmp_path / "one", n_jobs=1, verbose=False)
    finally:
        scheduler.remove_plugin(name=plugin.name)
    assert plugin.prefixes == set()


@pytest.mark.slow  # the cluster of the module (started once)
def test_the_dask_backends_options_and_timeout_are_kept(client, sine_raw, tmp_path):
    """Options given to joblib's dask backend go with every file (here ``workers=``:
    all on one worker), as they did through joblib; a cluster without workers is
    joblib's timeout error, not a wait without end."""
    raws = [sine_raw(5.0 + k, 256.0, 10.0, ch_type="ecg") for k in range(4)]
    one = sorted(client.scheduler_info()["workers"])[0]
    plugin = _InFlight()
    scheduler = client.cluster.scheduler
    scheduler.add_plugin(plugin)
    try:
        with joblib.parallel_config(backend="dask", client=client, workers=[one]):
            store = prepare_segments(raws, tmp_path / "one", n_jobs=-1, verbose=False)
    finally:
        scheduler.remove_plugin(name=plugin.name)
    assert plugin.workers == {one} and len(store.manifest["shards"]) == 4
    with (
        distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty,
        distributed.Client(empty, set_as_default=False) as idle,
        joblib.parallel_config(backend="dask", client=idle, wait_for_workers_timeout=1),
        pytest.raises(TimeoutError, match="no worker after 1 seconds"),
    ):
        prepare_segments(raws, tmp_path / "none", n_jobs=-1, verbose=False)


WATCH = textwrap.dedent("""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("w", sys.argv[1])
    w = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(w)
    host, namespace, pid = w.parent_token()
    dead = int(sys.argv[2])
    if sys.argv[3] == "other-namespace":
        w.watch_parent((host, "pid:[1]", dead))
    elif sys.argv[3] == "other-host":
        w.watch_parent((host + "-not", namespace, dead))
    else:
        w.watch_parent((host, namespace, dead))
    print("alive")
""")


@pytest.mark.parametrize(
    "where, alive", [("other-namespace", True), ("other-host", True), ("here", False)]
)
def test_the_watchdog_ends_orphans_only_where_the_pid_is_its_parent(where, alive, tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    script = tmp_path / "watch.py"
    script.write_text(WATCH)
    out = subprocess.run(
        [sys.executable, str(script), str(ROOT / "mne_specae/stores/_writing.py"), str(gone.pid)]
        + [where],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode, out.stdout.strip()) == ((0, "alive") if alive else (1, ""))


@pytest.mark.slow  # the cluster of the module (started once)
def test_workers_with_dasks_malloc_setting_prepare_with_glibcs_thresholds_lifted(
    client, sine_raw, tmp_path, monkeypatch
):
    """Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which made preparation
    1.3x slower in the benchmark: each worker now prepares its files with glibc's
    thresholds lifted (the debug log says so) and puts them back after (the workers'
    setting is unchanged). Before: the workers prepared with the pinned thresholds and
    the log asked the user to restart the cluster with another configuration."""
    raw = sine_raw(10.0, 256.0, 15.0, ch_type="ecg")
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {"65536"}
    with mne.utils.catch_logging(verbose="debug") as log:
        with joblib.parallel_config(backend="dask", client=client):
            prepare_segments(raw, tmp_path / "dask", n_jobs=-1, verbose="debug")
    text = log.getvalue()
    assert "the workers ran with MALLOC_TRIM_THRESHOLD_=65536" in text
    assert "each file was prepared with glibc's thresholds lifted" in text
    assert "restart" not in text and "pre-spawn-environ" not in text
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {"65536"}
    # in the calling process the setting is not the workers': no such line
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with mne.utils.catch_logging(verbose="debug") as log:
        prepare_segments(raw, tmp_path / "one", n_jobs=1, verbose="debug")
    text = log.getvalue()
    assert "file(s) added" in text and "the workers ran with" not in text


def test_a_shard_the_caller_cannot_see_is_not_committed(sine_raw, tmp_path, monkeypatch):
    import mne_specae.stores.preparation as prep

    raw = sine_raw(5.0, 256.0, 15.0, ch_type="ecg")
    real = prep.prepare_one

    def elsewhere(*args, **kwargs):  # a worker that wrote to a disk of its own
        result = real(*args, **kwargs)
        (Path(args[5]) / "shards" / f"{args[4]}.npy").unlink()
        return result

    monkeypatch.setattr(prep, "prepare_one", elsewhere)
    with pytest.raises(RuntimeError, match=r"does not see shards/.*\.npy.*shared by every"):
        prepare_segments(raw, tmp_path / "store", verbose=False)
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["shards"] == []
    assert not (tmp_path / "store" / "prepare.lock").exists()
