"""Shared fixtures: the real sample recordings (read once per session), synthetic Raw
objects of known content, and a guard that fails any test leaving global state changed.

Tests import nothing from this file: everything here is a fixture.
"""

import os
from pathlib import Path

import mne
import numpy as np
import pytest

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "biosignals"
if "MNE_SPECAE_DATA" not in os.environ and (_SHARED / "MANIFEST.tsv").is_file():
    os.environ["MNE_SPECAE_DATA"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")

mne.set_log_level("WARNING")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: tiny models gain nothing from threads, and on a shared 2-core
    machine extra threads make each step many times slower."""
    import torch

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="session")
def data_path():
    """The data folder holding the sample recordings."""
    from mne_specae.datasets import get_data_path

    return get_data_path()


@pytest.fixture(scope="session")
def sample_raws():
    """All sample recordings, as load_sample returns them (do not modify: copy)."""
    from mne_specae.datasets import load_sample

    return load_sample(download=False)


@pytest.fixture(scope="session")
def raw_by_name(sample_raws):
    """Map recording name -> Raw (do not modify: copy)."""
    return {raw.info["description"]: raw for raws in sample_raws.values() for raw in raws}


def _sine_raw(freq, sfreq, duration, ch_type="ecg", amplitude=1e-3, n_channels=1):
    """A RawArray of a sine with known frequency and amplitude (in volts)."""
    times = np.arange(int(round(duration * sfreq))) / sfreq
    data = amplitude * np.sin(2 * np.pi * freq * times)
    data = np.tile(data, (n_channels, 1))
    names = [f"{ch_type.upper()}{i:02d}" for i in range(n_channels)]
    info = mne.create_info(names, sfreq, ch_types=ch_type)
    return mne.io.RawArray(data, info, verbose=False)


@pytest.fixture(scope="session")
def sine_raw():
    """``sine_raw(freq, sfreq, duration, ch_type="ecg", amplitude=1e-3, n_channels=1)``:
    a RawArray of a sine with known frequency and amplitude (in volts)."""
    return _sine_raw


@pytest.fixture
def isolated_torch_rng():
    """Seed torch's global generator for this test and restore its state afterwards
    (tests that build models or draw inputs with torch's global generator use it)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


@pytest.fixture(autouse=True)
def _global_state_unchanged():
    """Fail a test that leaves global state changed: MNE's log level, torch's random
    state, torch's thread counts. Figures are closed after every test."""
    import matplotlib.pyplot as plt
    import torch

    def state():
        return (
            mne.utils.logger.level,
            torch.random.get_rng_state(),
            torch.get_num_threads(),
            torch.get_num_interop_threads(),
        )

    before = state()
    yield
    plt.close("all")
    after = state()
    changed = [
        name
        for name, a, b in zip(
            ("MNE log level", "torch random state", "torch threads", "torch interop threads"),
            before,
            after,
        )
        if not (torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b)
    ]
    if changed:
        pytest.fail(f"The test changed global state: {', '.join(changed)}.", pytrace=False)
