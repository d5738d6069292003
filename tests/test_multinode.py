"""The multi-node set-ups of the stores page, on one machine: a Dask scheduler and
workers started from the command line (``dask scheduler``, ``dask worker``: not
children of the caller, as on other nodes) prepare the store of ``n_jobs=1``, and two
``torchrun`` launchers (``--nnodes 2``, one per "node") train from one store the
weights of one process. Only the hosts are one: every process talks over TCP on
127.0.0.1 as it would across machines."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from mne_specae import prepare_segments

TESTS = Path(__file__).resolve().parent


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env():
    path = [str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH")]
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, path)))


@pytest.fixture
def scheduler(tmp_path):
    """A scheduler and two single-thread workers, each its own ``python -m dask``
    process (the scheduler file is how workers on other nodes find it)."""
    distributed = pytest.importorskip("distributed")
    file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--scheduler-file", str(file), "--no-dashboard"],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [*dask, "worker", "--scheduler-file", str(file), "--nthreads", "1"]
                    + ["--host", "127.0.0.1", "--no-dashboard"],
                    env=_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with distributed.Client(scheduler_file=str(file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield client, procs
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs[::-1]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck process
                proc.kill()


# three processes that import the package: ~15 s on 2 idle cores
@pytest.mark.slow
def test_workers_started_as_on_other_nodes_prepare_the_store_of_one_job(
    scheduler, data_path, tmp_path
):
    client, procs = scheduler
    sources = [data_path / f"eeg/eegmat/Subject0{s}_{k}.edf" for s in range(2) for k in (1, 2)]
    ref = prepare_segments(sources, tmp_path / "ref", n_jobs=1, verbose=False)
    with joblib.parallel_config(backend="dask", client=client):
        store = prepare_segments(sources, tmp_path / "dask", n_jobs=-1, verbose=False)
    # the work ran in the workers, which are not this process's children
    assert client.run(lambda: "mne_specae.stores._shards" in sys.modules) == dict.fromkeys(
        client.run(os.getpid), True
    )
    assert {os.getppid()} != set(client.run(os.getppid).values())
    assert store.manifest["shards"] == ref.manifest["shards"]
    np.testing.assert_array_equal(store[:], ref[:])
    assert store.metadata.equals(ref.metadata)
    # the workers outlive the preparation (no watchdog ends them) and the cluster works on
    assert all(proc.poll() is None for proc in procs)
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.fixture(scope="module")
def store(data_path, tmp_path_factory):
    """Real segments on disk: BioSPPy ECG and EMG, two UCI EMG files (75 items)."""
    files = [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg.txt"]
    files += [data_path / "emg/biosppy/emg_1.txt"]
    files += [
        data_path / "emg/uci_lower_limb/3Apie.txt",
        data_path / "emg/uci_lower_limb/4Asen.txt",
    ]
    return prepare_segments(files, tmp_path_factory.mktemp("s") / "store", verbose=False)


@pytest.mark.slow
def test_two_nodes_of_torchrun_train_from_one_store_as_one_process(
    store, tmp_path, isolated_torch_rng
):
    """``torchrun --nnodes 2`` on each "node" (one process each, rendezvous on node 0's
    address): both ranks end with the weights of the single-process run on the same
    store, and only the first node writes the checkpoint. Before this test, only
    ``--nproc_per_node 2`` on one node had been run."""
    sys.path.insert(0, str(TESTS))
    try:
        from ddp_train_script import single_process
    finally:
        sys.path.remove(str(TESTS))

    port = _free_port()
    launchers = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"]
        cmd += ["--node-rank", str(node), "--nproc-per-node", "1"]
        cmd += ["--master-addr", "127.0.0.1", "--master-port", str(port)]
        cmd += [str(TESTS / "ddp_train_script.py"), str(store.path), str(tmp_path / "out")]
        cmd += [str(tmp_path / "run.pt"), "--max-epochs", "2", "--batch-size", "8"]
        log = open(tmp_path / f"node{node}.log", "w")
        launchers.append((subprocess.Popen(cmd, stdout=log, stderr=log, env=_env()), log))
    for proc, log in launchers:
        try:
            proc.wait(timeout=240)
        finally:
            if proc.poll() is None:  # pragma: no cover - a hung rendezvous
                proc.kill()
            log.close()
    logs = [(tmp_path / f"node{n}.log").read_text() for n in (0, 1)]
    assert [proc.returncode for proc, _ in launchers] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    ranks = [torch.load(tmp_path / "out" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
    model, _ = single_process(store.path, max_epochs=2, batch_size=8)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=0, atol=1e-5)
        torch.testing.assert_close(ranks[1]["state"][key], value, rtol=0, atol=1e-5)
    assert (tmp_path / "run.pt").is_file()  # node 0 wrote it; node 1 only its rank file
    assert "epoch 2/2" in logs[0] and "epoch" not in logs[1]  # logged by rank 0 alone
