"""The mne-specae command line, end to end on small real inputs."""

import subprocess
import sys

import mne
import pandas as pd
import pytest

from mne_specae.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "train", "embed"):
        assert command in out


def test_train_and_embed(tmp_path, data_path, capsys):
    files = [str(data_path / "ecg/biosppy/ecg.txt"), str(data_path / "emg/biosppy/emg_1.txt")]
    model = tmp_path / "m.specae"
    assert main(["train", *files, "--out", str(model), "--max-epochs", "1",
                 "--filters", "4", "--fmax", "60"]) == 0
    assert "wrote" in capsys.readouterr().out and model.is_file()
    table = tmp_path / "table.csv"
    assert main(["embed", *files, "--model", str(model), "--out", str(table)]) == 0
    frame = pd.read_csv(table)
    assert len(frame) == 3 + 12  # 15 s ECG and 63.88 s EMG in 5 s segments
    assert {"specae_000", "specae_015", "specae_recon_error", "signal_type"} <= set(frame.columns)
    assert "specae_016" not in frame  # --filters 4, multi-scale pooling of 4 blocks: 16
    assert sorted(frame.signal_type.unique()) == ["ecg", "emg"]
    fif = tmp_path / "one-epo.fif"
    assert main(["embed", files[0], "--model", str(model), "--out", str(fif)]) == 0
    assert "specae_000" in mne.read_epochs(fif, verbose=False).metadata
    folder = tmp_path / "many"
    assert main(["embed", *files, "--model", str(model), "--out", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["ecg-epo.fif", "emg_1-epo.fif"]
    # two inputs cannot go into one -epo.fif file: one-line reason, exit 2
    assert main(["embed", *files, "--model", str(model), "--out", str(fif),
                 "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mne-specae embed: error:") and "do not fit" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.edf"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"mne-specae train: error: No such file or folder: {tmp_path / 'nope.edf'}"
    corrupt = tmp_path / "bad.specae"
    corrupt.write_bytes(b"not a model")
    assert main(["embed", str(tmp_path), "--model", str(corrupt), "--out", "x.csv"]) == 2
    assert "is not a readable mne-specae model file" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path, data_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "mne_specae", "demo", "--out", str(out), "--data",
         str(data_path), "--per-recording", "3", "--max-channels", "1", "--max-epochs", "1",
         "--filters", "4"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "kNN balanced accuracy (held-out subjects): autoencoder" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "embeddings.csv", "history.png", "model.specae", "reconstruction_ecg.png",
        "reconstruction_eeg.png", "reconstruction_emg.png", "umap.png"]
    table = pd.read_csv(out / "embeddings.csv")
    assert {"umap_0", "umap_1", "specae_recon_error", "specae_000"} <= set(table.columns)
    assert set(table.signal_type) == {"ecg", "eeg", "emg"}
