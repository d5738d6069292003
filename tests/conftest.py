"""Shared fixtures: the real sample recordings (read once per session), synthetic Raw
objects of known content, and a guard that fails any test leaving global state changed.

Tests import nothing from this file: everything here is a fixture (or a hook).

**The data folder** is found as the package and the Makefile find it: the folder that
``MNE_SPECAE_DATA`` names (the environment, else MNE's config file), else
``../shared/data/biosignals`` next to the checkout when it holds the data (the
Makefile's default, exported here the same way), else the package's default,
``<MNE_DATA>/mne-specae`` (:func:`mne_specae.datasets.get_data_path`). Tests that
need the sample recordings (those using ``data_path``, ``sample_raws`` or
``raw_by_name``, and those marked ``sample_data``) are skipped, with the folder
named, when it does not hold them all; nothing is downloaded.

**Markers.** ``slow`` tests (over about 10 s on 2 CPU cores) run by default and
``pytest -m "not slow"`` leaves them out; ``docs`` tests run only when ``-m`` names
them (``make doc-test``), whatever else ``-m`` says.
"""

import functools
import os
from pathlib import Path

import mne
import numpy as np
import pytest

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "biosignals"
if mne.get_config("MNE_SPECAE_DATA") is None and (_SHARED / "MANIFEST.tsv").is_file():
    os.environ["MNE_SPECAE_DATA"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")

mne.set_log_level("WARNING")

#: Fixtures that read the sample recordings: tests using them need the data folder.
DATA_FIXTURES = ("data_path", "sample_raws", "raw_by_name")


@functools.cache
def _missing_sample():
    """Why the sample recordings cannot be read (``""`` when they all can)."""
    from mne_specae.datasets import SAMPLE_RECORDINGS, get_data_path
    from mne_specae.datasets.sample import count_present

    folder = get_data_path()
    present = count_present(folder)
    if present == len(SAMPLE_RECORDINGS):
        return ""
    return (
        f"the data folder {folder} holds {present} of the {len(SAMPLE_RECORDINGS)} sample "
        "recordings (set MNE_SPECAE_DATA to the folder that holds them, or download "
        "them: python -c 'import mne_specae.datasets as d; d.load_sample()')"
    )


def pytest_collection_modifyitems(config, items):
    """Skip the tests that need absent recordings; leave out ``docs`` tests unless
    ``-m`` names them."""
    if "docs" not in (config.option.markexpr or ""):
        kept = [item for item in items if item.get_closest_marker("docs") is None]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in kept])
            items[:] = kept
    missing = _missing_sample()
    if missing:
        skip = pytest.mark.skip(reason=f"needs the sample recordings: {missing}")
        for item in items:
            if item.get_closest_marker("sample_data") is not None or any(
                name in DATA_FIXTURES for name in getattr(item, "fixturenames", ())
            ):
                item.add_marker(skip)


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
    """The data folder holding the sample recordings (skips the test without them)."""
    from mne_specae.datasets import get_data_path

    if _missing_sample():
        pytest.skip(f"needs the sample recordings: {_missing_sample()}")
    return get_data_path()


@pytest.fixture(scope="session")
def sample_raws(data_path):
    """All sample recordings, as load_sample returns them (do not modify: copy)."""
    from mne_specae.datasets import load_sample

    return load_sample(data_path, download=False)


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
