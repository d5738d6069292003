"""The import paths users and the docs used before the subpackages keep working."""

import importlib
import subprocess
import sys

import pytest

import mne_specae
from mne_specae._aliases import OLD_PATHS


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_module_paths_are_the_new_modules(old):
    new = importlib.import_module(f"mne_specae.{OLD_PATHS[old]}")
    assert importlib.import_module(f"mne_specae.{old}") is new
    assert getattr(mne_specae, old) is new


def test_documented_old_imports_in_a_fresh_interpreter():
    code = (
        "from mne_specae.baselines import BandPowers, InputPCA, RandomWeights, BANDS\n"
        "from mne_specae.splits import split_by_group\n"
        "from mne_specae.history import History\n"
        "from mne_specae.input_stages import InputStage, WaveformInput\n"
        "from mne_specae.corruption import corrupt\n"
        "from mne_specae.downstream import group_folds, fit_subset\n"
        "from mne_specae.evaluation import make_probe, reconstruction_r2\n"
        "from mne_specae.training import train_autoencoder\n"
        "from mne_specae.models import ConvAutoencoder2d\n"
        "from mne_specae.segment_store import SegmentStore\n"
        "from mne_specae.cli import main\n"
        "import mne_specae.spectrogram as s, mne_specae.spectral.spectrogram as t\n"
        "assert s is t and WaveformInput.__module__ == 'mne_specae.nn.input_stages'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
