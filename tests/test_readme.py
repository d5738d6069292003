"""The README's Python snippet, run exactly as it is written there."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_snippet():
    text = README.read_text()
    match = re.search(r"<!-- readme-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md has no '<!-- readme-snippet -->' python block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.sample_data
def test_readme_snippet_runs_and_returns_what_it_says(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(readme_snippet(), str(README), "exec"), namespace)
    epochs, tfr, ae = namespace["epochs"], namespace["tfr"], namespace["ae"]
    # balanced: about as many items (channels x segments) of each signal type
    items = {}
    for ep in epochs:
        kind = ep.metadata["signal_type"].iloc[0]
        items[kind] = items.get(kind, 0) + len(ep) * len(ep.ch_names)
    assert set(items) == {"ecg", "eeg", "emg"}
    assert max(items.values()) < 1.3 * min(items.values())
    assert tfr.data.shape[1:] == (len(namespace["eeg"].ch_names), 40, 41)
    assert tfr.freqs[0] > 2.0 and tfr.freqs[-1] < 45.0
    assert namespace["fig"].axes[0].get_xlabel() == "UMAP 0"  # the last figure
    for ep in epochs:
        assert {"specae_000", "specae_recon_error", "umap_0", "umap_1"} <= set(ep.metadata)
    assert ae.history_.best_epoch is not None
    assert (tmp_path / "model.specae").is_file()
    out, err = capfd.readouterr()
    assert "knn_balanced_accuracy" in out and "pca_logspec" in out
    assert "Replacing existing metadata" not in out + err
    log_lines = [ln for ln in (out + err).splitlines() if ln and "batch/s" not in ln]
    assert len(log_lines) < 25, log_lines  # a summary, not a line per recording
    assert "Adding metadata" not in out + err


def test_readme_spectrogram_figure_is_labelled(raw_by_name):
    """The snippet's TFR plot: a log axis with Hz ticks and a colour bar with units."""
    import mne_specae as msa

    eeg = msa.make_segments(raw_by_name["eeg/eegmat/Subject00_1"].copy().crop(0, 20))
    tfr = msa.compute_spectrogram(
        eeg, n_fft=512, hop_length=64, fmin=2.0, fmax=45.0, freq_scale="log", n_freqs=40
    )
    fig = msa.viz.plot_spectrogram(tfr, picks="Pz", show=False)
    assert tfr.info["temp"]["mne_specae_units"] == "Power (V²/Hz)"
    assert eeg.info.get("temp") is None  # recorded on the TFR's copy of the info only
    image_ax, bar_ax = fig.axes
    assert image_ax.get_yscale() == "log"
    fig.canvas.draw()
    ticks = [t.get_text() for t in image_ax.get_yticklabels() if t.get_text()]
    assert {"5", "10", "20"} <= set(ticks), ticks
    assert bar_ax.get_ylabel() == "Power (dB re 1 V²/Hz)"
    assert image_ax.get_ylabel() == "Frequency (Hz)"
    ecg = msa.make_segments(raw_by_name["ecg/mitdb/100"].copy().crop(0, 20))
    fig = msa.viz.plot_spectrogram(msa.compute_spectrogram(ecg), show=False)  # no picks
    assert "MLII" in fig.axes[0].get_title()
    data = np.asarray(fig.axes[0].collections[0].get_array())
    assert np.isfinite(data).all()
    # a dB spectrogram is not logged twice; its units come from compute_spectrogram
    db = msa.compute_spectrogram(ecg, output="db", top_db=80.0)
    fig = msa.viz.plot_spectrogram(db, show=False)
    assert fig.axes[1].get_ylabel() == "Power (dB re 1 V²/Hz)"
    shown = np.asarray(fig.axes[0].collections[0].get_array())
    np.testing.assert_allclose(shown.ravel(), db.data.mean(axis=(0, 1)).ravel(), rtol=1e-5)
