"""The UCI lower-limb EMG reader on files with notes after the declared samples."""

import numpy as np
import pytest

from mne_specae.datasets import read_uci_emg

HEADER = (
    "File Name: 1Nmar.log\r\n"
    "Channel 1: 'RF', 3 values, engineering units: mV, no filters.\r\n"
    "Channel 2: 'BF', 3 values, engineering units: mV, no filters.\r\n"
    "Channel 3: 'VM', 3 values, engineering units: mV, no filters.\r\n"
    "Channel 4: 'ST', 3 values, engineering units: mV, no filters.\r\n"
    "Channel 5: 'FX', 1 values, engineering units: deg, no filters.\r\n"
    "\r\n"
)


def test_note_in_the_goniometer_column_after_the_samples(tmp_path):
    """1Nmar.txt ends with a row holding '7.5V' in the goniometer column: the reader
    failed on it (pandas could not parse the note as a float)."""
    fname = tmp_path / "1Nmar.txt"
    rows = [
        "0.1\t0.2\t0.3\t0.4\t57.6",
        "0.5\t0.6\t0.7\t0.8\t",
        "0.9\t1.0\t1.1\t1.2\t",
        "\t\t\t\t7.5V",
    ]
    fname.write_text(HEADER + "\r\n".join(rows) + "\r\n", encoding="latin-1")
    raw = read_uci_emg(fname)
    assert raw.ch_names == ["RF", "BF", "VM", "ST"]
    assert raw.n_times == 3
    np.testing.assert_allclose(raw.get_data()[:, 0], [0.1e-3, 0.2e-3, 0.3e-3, 0.4e-3])
    np.testing.assert_allclose(raw.get_data()[3], [0.4e-3, 0.8e-3, 1.2e-3])
    assert not np.isnan(raw.get_data()).any()


def test_text_inside_the_samples_becomes_nan(tmp_path):
    fname = tmp_path / "2Nmar.txt"
    rows = ["0.1\t0.2\t0.3\t0.4", "0.5\tx\t0.7\t0.8", "0.9\t1.0\t1.1\t1.2"]
    fname.write_text(HEADER + "\r\n".join(rows) + "\r\n", encoding="latin-1")
    data = read_uci_emg(fname).get_data()
    assert np.isnan(data[1, 1]) and np.isnan(data).sum() == 1


def test_real_file_with_a_trailing_note(data_path):
    fname = data_path / "emg/uci_lower_limb/1Nmar.txt"
    if not fname.is_file():
        pytest.skip("extended set not in the data folder")
    raw = read_uci_emg(fname)
    assert raw.n_times == 5681  # the samples the header declares
    assert np.isfinite(raw.get_data()).all()
