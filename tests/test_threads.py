"""torch's CPU threads on a busy machine: the wait policy set at import, the thread
count chosen while the package computes on the CPU ("auto": from the machine only, the
same on every run; "load": less the other processes' load), and the user's choices
kept."""

import os
import subprocess
import sys
from pathlib import Path

import mne
import numpy as np
import pytest
import torch

import mne_specae
from mne_specae import compute_spectrogram
from mne_specae.utils import _threads
from mne_specae.utils._threads import (
    choose_num_threads,
    cpu_threads,
    decay_own_load,
    load_of_others,
    parse_setting,
    set_wait_policy,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def policy(monkeypatch):
    """A clean policy state: setting 'auto', torch's default = 2 threads (set for the
    test and restored), no thread variables in the environment; ``busy(others,
    setting)`` fakes 2 available cores with ``others`` of them taken and sets the
    package's setting (default ``"load"``, the mode that looks at the load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads._State, "setting", "auto")
    monkeypatch.setattr(_threads._State, "torch_default", 2)
    for var in _threads.USER_THREAD_VARS:
        monkeypatch.delenv(var, raising=False)

    def busy(others, setting="load"):
        monkeypatch.setattr(_threads._State, "setting", setting)
        monkeypatch.setattr(_threads, "available_cores", lambda: 2)
        monkeypatch.setattr(_threads, "load_of_others", lambda cores: others)

    yield busy
    torch.set_num_threads(before)


# ------------------------------------------------------------------ the chooser
@pytest.mark.parametrize(
    "cores, others, n_max, expected",
    [
        (2, 0.0, None, 2),  # idle machine: all cores
        (2, 0.3, None, 2),  # a little background load: still both
        (2, 1.0, None, 1),  # one core busy
        (2, 3.0, None, 1),  # oversubscribed: one thread, never zero
        (16, 3.2, None, 13),
        (16, 0.0, 8, 8),  # never more than torch's own count
        (1, 0.0, None, 1),
    ],
)
def test_choose_num_threads(cores, others, n_max, expected):
    assert choose_num_threads(cores, others, n_max=n_max) == expected


def test_load_of_others_subtracts_own_share_and_scales_to_our_cores():
    # load 3 on 2 cores, none of it ours -> 3 others -> 1 thread
    assert load_of_others(2, load=3.0, own=0.0, running=0, host_cpus=2) == 3.0
    assert choose_num_threads(2, load_of_others(2, load=3.0, own=0.0, running=0, host_cpus=2)) == 1
    # our own 2 threads made the load of 2: nobody else -> keep 2 threads
    assert load_of_others(2, load=2.0, own=1.95, running=0, host_cpus=2) == pytest.approx(0.05)
    # a competitor that just started shows up in the running count, not yet in the load
    assert load_of_others(2, load=0.1, own=0.0, running=1, host_cpus=2) == 1.0
    # 2 cores of a 64-CPU host with a load of 40: our share of it
    assert load_of_others(2, load=40.0, own=0.0, running=0, host_cpus=64) == pytest.approx(1.25)


def test_own_load_follows_the_kernels_average():
    own = 0.0
    for _ in range(60):  # 2 busy threads for 5 minutes, in 5 s steps
        own = decay_own_load(own, cpu_seconds=10.0, wall_seconds=5.0)
    assert own == pytest.approx(2.0, abs=0.02)
    # one minute idle: e^-1 of it left, as the kernel's 1-minute load average
    assert decay_own_load(own, 0.0, 60.0) == pytest.approx(own * np.exp(-1))
    assert decay_own_load(0.7, 1.0, 0.0) == 0.7


def test_parse_setting():
    assert parse_setting(None) == parse_setting("") == parse_setting(" Auto ") == "auto"
    assert parse_setting("OFF") == "off"
    assert parse_setting(" Load") == "load"
    assert parse_setting("3") == parse_setting(3) == 3
    for bad in ("0", "-1", "many", 0, 2.5, True):
        with pytest.raises(
            ValueError, match="MNE_SPECAE_THREADS must be 'auto', 'load', 'off' or a"
        ):
            parse_setting(bad)


# ------------------------------------------------------------- the wait policy
def test_set_wait_policy_decisions():
    env = {}
    assert set_wait_policy(env, modules={}) is True
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    env = {"OMP_WAIT_POLICY": "ACTIVE"}  # the user's choice is kept
    assert set_wait_policy(env, modules={}) is False
    assert env == {"OMP_WAIT_POLICY": "ACTIVE"}
    env = {}  # torch already imported: too late, nothing changes
    assert set_wait_policy(env, modules={"torch": object()}) is False
    assert env == {}
    env = {"MNE_SPECAE_THREADS": "off"}  # the opt-out
    assert set_wait_policy(env, modules={}) is False
    assert env == {"MNE_SPECAE_THREADS": "off"}


def _import_in_fresh_python(code, **env_vars):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_WAIT_POLICY", "MNE_SPECAE_THREADS", "OMP_DISPLAY_ENV")
    }
    env.update(
        env_vars,
        OMP_DISPLAY_ENV="VERBOSE",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp (Linux wheels)")
def test_import_makes_torch_openmp_wait_passively():
    """libgomp prints its settings as it loads (OMP_DISPLAY_ENV): after
    ``import mne_specae`` torch's runtime does not spin (GOMP_SPINCOUNT 0)."""
    code = (
        "import os, mne_specae, torch; torch.ones(4).sum(); "
        "print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    out, err = _import_in_fresh_python(code)
    assert out.strip() == "PASSIVE"
    spin = [line.split("=")[1].strip() for line in err.splitlines() if "GOMP_SPINCOUNT" in line]
    if not spin:
        pytest.skip("this torch build does not use GNU OpenMP")
    assert spin[-1] == "'0'"  # torch's libgomp, loaded last (scikit-learn may bring its own)
    # torch imported first: the environment is not touched (and the threads spin)
    out, err = _import_in_fresh_python(
        "import os, torch, mne_specae; print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    assert out.strip() == "None"
    assert "GOMP_SPINCOUNT = '0'" not in err


# --------------------------------------------------- the count while computing
def test_cpu_threads_chooses_and_restores(policy):
    policy(3.0)  # 2 cores, load 3 -> 1 thread
    with cpu_threads(torch.device("cpu")):
        assert torch.get_num_threads() == 1
        with cpu_threads("cpu"):  # nested: the outer decision holds
            assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with cpu_threads("cpu"):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2
    with cpu_threads(torch.device("meta")):  # not the CPU: nothing changes
        assert torch.get_num_threads() == 2
    policy(0.0)
    with cpu_threads("cpu"):
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_auto_does_not_depend_on_the_load(policy, monkeypatch, cores):
    """'auto' (the default) gives the same count on every run on a machine, whatever
    the load (the load average and the running tasks are faked): torch's own count
    capped by the available cores. 'load' follows the load."""
    load = {"avg": 0.0, "running": 0}
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (load["avg"],) * 3)
    monkeypatch.setattr(_threads, "_running_now", lambda: load["running"])
    monkeypatch.setattr(_threads, "_update_own_load", lambda: 0.0)
    monkeypatch.setattr(_threads, "available_cores", lambda: cores)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)

    def counts(setting):
        mne_specae.set_num_threads(setting)
        seen = []
        for avg, running in [(0.0, 0), (0.4, 0), (1.0, 1), (3.0, 0), (0.1, 2), (9.0, 9)]:
            load.update(avg=avg, running=running)
            with cpu_threads("cpu"):
                seen.append(torch.get_num_threads())
        assert torch.get_num_threads() == 2  # restored
        return seen

    expected = min(cores, 2)  # torch's own count is 2 (the fixture)
    assert counts("auto") == [expected] * 6
    loaded = counts("load")
    assert loaded[0] == expected and loaded[-1] == 1  # idle: all; overloaded: one
    if cores == 2:
        assert loaded == [2, 2, 1, 1, 1, 1]


def test_cpu_threads_keeps_the_users_choice(policy, monkeypatch):
    policy(3.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with cpu_threads("cpu"):
        assert torch.get_num_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(3)  # torch.set_num_threads by the user after the import
    with cpu_threads("cpu"):
        assert torch.get_num_threads() == 3
    torch.set_num_threads(2)
    previous = mne_specae.set_num_threads("off")
    assert previous == "load"  # set by policy(3.0)
    with cpu_threads("cpu"):
        assert torch.get_num_threads() == 2
    assert mne_specae.set_num_threads(3) == "off"  # a fixed count, whatever the load
    with cpu_threads("cpu"):
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="n must be 'auto', 'load', 'off' or a number"):
        mne_specae.set_num_threads(0)
    assert mne_specae.set_num_threads("auto") == 3


def test_compute_spectrogram_runs_with_the_chosen_count(policy, monkeypatch):
    """compute_spectrogram on the CPU of a busy machine (2 cores, load 3) with the
    setting "load" runs torch on one thread, then gives torch back its own count."""
    seen = []
    forward = mne_specae.Spectrogram.forward

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(mne_specae.Spectrogram, "forward", spy)
    info = mne.create_info(["ECG"], 256.0, "ecg")
    rng = np.random.default_rng(0)
    epochs = mne.EpochsArray(rng.standard_normal((6, 1, 512)) * 1e-3, info, verbose=False)
    policy(3.0)
    tfr = compute_spectrogram(epochs, n_fft=64, hop_length=32, device="cpu", batch_size=2)
    assert tfr.data.shape[:2] == (6, 1) and np.isfinite(tfr.data).all()
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == 2
    seen.clear()
    policy(0.0)
    compute_spectrogram(epochs, n_fft=64, hop_length=32, device="cpu")
    assert seen == [2]
    seen.clear()
    policy(3.0, "auto")  # the default ignores the load: both cores, on every run
    compute_spectrogram(epochs, n_fft=64, hop_length=32, device="cpu")
    assert seen == [2]


@pytest.mark.usefixtures("isolated_torch_rng")
def test_training_and_inference_run_with_the_chosen_count(policy, monkeypatch):
    from tiny import tiny_model, tiny_spec, tiny_train

    from mne_specae.estimator._runner import run_batches

    seen = []
    net = tiny_model()
    forward = type(net).forward

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(net), "forward", spy)
    waves = torch.randn(12, 512, generator=torch.Generator().manual_seed(0))
    policy(3.0)
    tiny_train(net, waves, input_stage=tiny_spec(), max_epochs=1, batch_size=4)
    assert len(seen) >= 3 and set(seen) == {1}
    seen.clear()
    run_batches(net, tiny_spec(), waves, lambda m, x: m(x), device="cpu", batch_size=6)
    assert seen == [1, 1]
    assert torch.get_num_threads() == 2
