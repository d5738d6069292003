"""Figures of the package: the colour bars say what the pixels are."""

import matplotlib
import pytest
from tiny import TINY_ONE_EPOCH

from mne_specae import SpecAE, make_segments
from mne_specae.viz import plot_reconstruction

matplotlib.use("Agg")

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def two_recordings(raw_by_name):
    return [
        make_segments(raw_by_name[n].copy().crop(0, 30)) for n in ("ecg/mitdb/100", "ecg/mitdb/113")
    ]


def _colorbar_labels(fig):
    return sorted({ax.get_ylabel() for ax in fig.axes if not ax.get_title()})


@pytest.mark.parametrize(
    "normalize, expected",
    [
        ("dataset", "z-score of power in dB (per frequency, training statistics)"),
        ("item", "z-score of power in dB (per image)"),
        (None, "Power (dB re 1 V²/Hz)"),
    ],
)
def test_reconstruction_colorbar_names_normalised_units(two_recordings, normalize, expected):
    """The colour bar of normalised images said "db" (the raw ``output`` option)."""
    est = SpecAE(**dict(TINY_ONE_EPOCH, normalize=normalize)).fit(two_recordings)
    fig = plot_reconstruction(est, two_recordings[0], n_examples=1, show=False)
    assert _colorbar_labels(fig) == [expected]
