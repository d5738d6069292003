"""The mne-specae command line, end to end on small real inputs."""

import subprocess
import sys
import warnings
from pathlib import Path

import mne
import pandas as pd
import pytest

from mne_specae.cli._main import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "train", "embed", "info"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in (
        "--max-epochs MAX_EPOCHS training epochs (default: 12)",
        "--sfreq SFREQ sampling rate in Hz (default: 512.0)",
        "--fmax FMAX highest frequency in Hz (default: 60.0)",
        "--filters FILTERS filters per layer (default: 32)",
        "--quiet",
        "--strict",
        "--picks",
        "--channel-types",
        "--subject-pattern",
        "--resume",
    ):
        assert shown in text, shown
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("mne-specae 0.")


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for item in (
        "mne-specae",
        "mne ",
        "torch",
        "device='auto'",
        "torch threads",
        "OMP_WAIT_POLICY",
        "MNE_SPECAE_THREADS",
        "(in use: ",
        "data folder",
    ):
        assert item in out, item


def test_train_and_embed(tmp_path, data_path, capsys):
    files = [str(data_path / "ecg/biosppy/ecg.txt"), str(data_path / "emg/biosppy/emg_1.txt")]
    model = tmp_path / "m.specae"
    assert (
        main(
            [
                "train",
                *files,
                "--out",
                str(model),
                "--max-epochs",
                "1",
                "--filters",
                "4",
                "--fmax",
                "60",
            ]
        )
        == 0
    )
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
    # an ECG and an EMG input: one -epo.fif per signal type
    assert (
        main(["embed", *files, "--model", str(model), "--out", str(fif), "--overwrite", "--quiet"])
        == 0
    )
    assert {p.name for p in tmp_path.glob("one-*-epo.fif")} == {
        "one-ecg-epo.fif",
        "one-emg-epo.fif",
    }
    # two ECG inputs cannot share one file: one-line reason, exit 2, nothing written
    capsys.readouterr()
    assert (
        main(
            [
                "embed",
                files[0],
                str(data_path / "ecg/mitdb/100"),
                "--model",
                str(model),
                "--out",
                str(tmp_path / "two-epo.fif"),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("mne-specae embed: error:") and "do not fit" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.glob("two*"))


def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.edf"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == f"mne-specae train: error: No such file or folder: {tmp_path / 'nope.edf'}"
    )
    corrupt = tmp_path / "bad.specae"
    corrupt.write_bytes(b"not a model")
    assert main(["embed", str(tmp_path), "--model", str(corrupt), "--out", "x.csv"]) == 2
    assert "is not a readable mne-specae model file" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path, data_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mne_specae",
            "demo",
            "--out",
            str(out),
            "--data",
            str(data_path),
            "--per-recording",
            "3",
            "--max-channels",
            "1",
            "--max-epochs",
            "1",
            "--filters",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "kNN balanced accuracy (held-out subjects): autoencoder" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "embeddings.csv",
        "history.png",
        "model.specae",
        "reconstruction_ecg.png",
        "reconstruction_eeg.png",
        "reconstruction_emg.png",
        "umap.png",
    ]
    table = pd.read_csv(out / "embeddings.csv")
    assert {"umap_0", "umap_1", "specae_recon_error", "specae_000"} <= set(table.columns)
    assert set(table.signal_type) == {"ecg", "eeg", "emg"}


TRAIN_TINY = ["--max-epochs", "1", "--filters", "4", "--quiet"]


def test_outputs_are_checked_before_any_work(tmp_path, data_path, monkeypatch, capsys):
    """Before: an existing CSV was overwritten, and train --out existing trained fully."""
    import time

    import mne_specae.stores._discovery

    def no_reading(*args, **kwargs):
        raise AssertionError("the recordings were read before the outputs were checked")

    model = tmp_path / "m.specae"
    model.write_bytes(b"precious")
    files = [str(data_path / "ecg/biosppy/ecg.txt")]
    monkeypatch.setattr(mne_specae.stores._discovery, "segments_of_file", no_reading)
    start = time.perf_counter()
    assert main(["train", *files, "--out", str(model), *TRAIN_TINY]) == 2
    assert f"The model file {model} exists; pass --overwrite" in capsys.readouterr().err
    table = tmp_path / "table.csv"
    table.write_text("keep me\n")
    assert main(["embed", *files, "--model", str(model), "--out", str(table), "--quiet"]) == 2
    assert f"The output {table} exists; pass --overwrite" in capsys.readouterr().err
    assert time.perf_counter() - start < 10
    assert table.read_text() == "keep me\n" and model.read_bytes() == b"precious"
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"an earlier run")
    assert (
        main(
            [
                "train",
                *files,
                "--out",
                str(tmp_path / "new.specae"),
                "--checkpoint",
                str(checkpoint),
                *TRAIN_TINY,
            ]
        )
        == 2
    )
    assert "pass --resume to continue that run" in capsys.readouterr().err


def test_folder_with_stray_files_trains_with_warnings(tmp_path, data_path, capsys):
    import shutil

    folder = tmp_path / "recordings"
    folder.mkdir()
    shutil.copy(data_path / "ecg/biosppy/ecg.txt", folder)
    shutil.copy(data_path / "emg/biosppy/emg_1.txt", folder)
    (folder / "LICENSE.txt").write_text("Open Data Commons Attribution License\n")
    edf = (data_path / "eeg/eegmat/Subject00_2.edf").read_bytes()
    (folder / "truncated.edf").write_bytes(edf[:3000])
    with pytest.warns(RuntimeWarning) as record:
        assert (
            main(["train", str(folder), "--out", str(tmp_path / "m.specae"), *TRAIN_TINY[:-1]]) == 0
        )
    warned = " ".join(str(w.message) for w in record)
    assert f"Skipped {folder / 'LICENSE.txt'}: cannot be read (unknown text format" in warned
    assert f"Skipped {folder / 'truncated.edf'}: cannot be read (" in warned
    captured = capsys.readouterr()
    assert "Skipped 2 file(s): LICENSE.txt (" in captured.err and "truncated.edf (" in captured.err
    assert "Read 2 of 4 file(s)" in captured.out
    assert (
        main(["train", str(folder), "--out", str(tmp_path / "s.specae"), "--strict", *TRAIN_TINY])
        == 2
    )
    err = capsys.readouterr().err
    assert f"{folder / 'LICENSE.txt'}: cannot be read (unknown text format" in err
    assert "--strict: stopping" in err


def test_bare_wfdb_names_types_subjects_and_multi_type_files(tmp_path, data_path, capsys):
    model = tmp_path / "m.specae"
    record = data_path / "ecg" / "mitdb" / "100"  # no suffix, as PhysioNet names records
    assert (
        main(
            [
                "train",
                str(record),
                str(data_path / "emg/biosppy/emg_1.txt"),
                "--out",
                str(model),
                *TRAIN_TINY,
            ]
        )
        == 0
    )
    edfs = [str(data_path / f"eeg/eegmat/Subject00_{k}.edf") for k in (1, 2)]
    table = tmp_path / "eeg.csv"
    assert (
        main(
            [
                "embed",
                *edfs,
                "--model",
                str(model),
                "--out",
                str(table),
                "--picks",
                "Fz,Cz,ECG",
                "--subject-pattern",
                r"(Subject\d+)",
                "--quiet",
            ]
        )
        == 0
    )
    frame = pd.read_csv(table)
    assert set(frame.subject) == {"Subject00"}  # two files, one person
    assert set(frame.signal_type) == {"eeg", "ecg"}  # EEG and its ECG lead, one table
    assert set(frame.recording) == {
        "Subject00_1-eeg",
        "Subject00_1-ecg",
        "Subject00_2-eeg",
        "Subject00_2-ecg",
    }
    one = tmp_path / "s-epo.fif"
    assert (
        main(
            [
                "embed",
                edfs[1],
                "--model",
                str(model),
                "--out",
                str(one),
                "--picks",
                "Fz,ECG",
                "--quiet",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.glob("s-*-epo.fif")) == [
        "s-ecg-epo.fif",
        "s-eeg-epo.fif",
    ]
    # two single-type files would share one -epo.fif: refused before embedding
    assert (
        main(
            [
                "embed",
                *edfs,
                "--model",
                str(model),
                "--out",
                str(tmp_path / "two-epo.fif"),
                "--picks",
                "Fz",
                "--quiet",
            ]
        )
        == 2
    )
    assert not (tmp_path / "two-epo.fif").exists()
    assert not list(tmp_path.glob("two-*-epo.fif"))
    retyped = tmp_path / "retyped.csv"
    assert (
        main(
            [
                "embed",
                edfs[1],
                "--model",
                str(model),
                "--out",
                str(retyped),
                "--picks",
                "Fz,ECG",
                "--channel-types",
                "ECG=emg",
                "--quiet",
            ]
        )
        == 0
    )
    assert set(pd.read_csv(retyped).signal_type) == {"eeg", "emg"}


# ------------------------------------------------------------------ channel types
@pytest.fixture(scope="module")
def typing_model(data_path, tmp_path_factory, one_thread):
    """A tiny model with a signal-type head (never the pretrained file), saved."""
    from tiny import TINY

    from mne_specae import SpecAE, calibrate, make_segments, select_evenly
    from mne_specae.datasets.readers import read_raw

    epochs = []
    for name, picks in (
        ("ecg/mitdb/100.hea", None),
        ("eeg/eegmat/Subject00_1.edf", "eeg"),
        ("eeg/eegmat/Subject00_1.edf", "ecg"),
        ("emg/uci_lower_limb/3Amar.txt", None),
    ):
        raw = read_raw(data_path / name, verbose=False)
        raw.crop(0, min(60.0, raw.times[-1]))
        epochs.append(select_evenly(make_segments(raw, picks=picks, verbose=False), 8, 4))
    settings = dict(TINY, filters=8, pooling="multiscale", max_epochs=5, normalize="dataset")
    est = SpecAE(**settings, verbose=False).fit(epochs)  # dataset statistics: 5 epochs do
    calibrate(est, epochs, verbose=False)
    return est, est.save(tmp_path_factory.mktemp("typing") / "typing.specae")


@pytest.fixture(scope="module")
def mistyped(data_path, tmp_path_factory):
    """The BioSPPy ECG as a FIF file whose channel is named 'X1' and typed EEG."""
    from mne_specae.datasets.readers import read_raw

    raw = read_raw(data_path / "ecg/biosppy/ecg.txt", verbose=False)
    raw.rename_channels({raw.ch_names[0]: "X1"})
    raw.set_channel_types({"X1": "eeg"}, verbose=False)
    fname = tmp_path_factory.mktemp("inputs") / "lead-raw.fif"
    raw.save(fname, verbose=False)
    return fname


def _table_rows(text, fname):
    """``{channel: tokens}`` of the table printed for ``fname``."""
    lines = text.split(f"{fname}: ", 1)[1].splitlines()
    n = int(lines[0].split()[0])
    assert lines[1].split() == [
        "type",
        "predicted",
        "probability",
        "second",
        "n_segments",
        "sfreq",
        "reason",
    ]
    assert lines[2].split() == ["channel"]
    return {line.split()[0]: line.split()[1:] for line in lines[3 : 3 + n]}


def test_identify_prints_a_table_per_file(typing_model, data_path, tmp_path, capsys):
    edf = data_path / "eeg/eegmat/Subject00_2.edf"
    assert main(["identify", str(edf), "--model", str(typing_model[1]), "--max-segments", "4"]) == 0
    out = capsys.readouterr().out
    rows = _table_rows(out, edf)
    assert len(rows) == 21 and list(rows)[:2] == ["Fp1", "Fp2"] and "A2-A1" in rows
    assert rows["ECG"][0] == "ecg" and all(r[0] == "eeg" for c, r in rows.items() if c != "ECG")
    assert {r[1] for r in rows.values()} <= {"ecg", "eeg", "emg", "unknown"}
    assert all(r[4] == "4" for r in rows.values())  # windows per channel
    assert "Identified 21 channel(s) in 1 of 1 file(s)" in out
    assert not list(tmp_path.iterdir()) and not list(Path.cwd().glob("Subject00_2-raw.fif"))


def test_identify_apply_writes_the_predicted_types(
    typing_model, mistyped, data_path, tmp_path, capsys
):
    edf = data_path / "eeg/eegmat/Subject00_2.edf"
    out_dir = tmp_path / "fixed"
    assert (
        main(
            [
                "identify",
                str(edf),
                str(mistyped),
                "--model",
                str(typing_model[1]),
                "--max-segments",
                "4",
                "--apply",
                "--out",
                str(out_dir),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == ["Subject00_2-raw.fif", "lead-raw.fif"]
    for fname, target in ((edf, "Subject00_2-raw.fif"), (mistyped, "lead-raw.fif")):
        rows = _table_rows(text, fname)
        written = mne.io.read_raw_fif(out_dir / target, verbose=False)
        types = dict(zip(written.ch_names, written.get_channel_types()))
        assert list(types) == list(rows)
        for ch, (kind, predicted, *_) in rows.items():
            assert types[ch] == (kind if predicted == "unknown" else predicted), ch
    assert _table_rows(text, mistyped)["X1"][:2] == ["eeg", "ecg"]  # a real correction
    assert f"Wrote {out_dir / 'lead-raw.fif'} (1 type(s) changed: X1 eeg -> ecg)" in text


def test_identify_checks_outputs_first_and_counts_unreadable_files(
    typing_model, mistyped, tmp_path, monkeypatch, capsys
):
    import mne_specae.datasets.readers

    out_dir = tmp_path / "fixed"
    out_dir.mkdir()
    (out_dir / "lead-raw.fif").write_bytes(b"precious")
    real_read_raw = mne_specae.datasets.readers.read_raw

    def no_reading(*args, **kwargs):
        raise AssertionError("a recording was read before the outputs were checked")

    monkeypatch.setattr(mne_specae.datasets.readers, "read_raw", no_reading)
    assert (
        main(
            [
                "identify",
                str(mistyped),
                "--model",
                str(typing_model[1]),
                "--apply",
                "--out",
                str(out_dir),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.strip() == (
        f"mne-specae identify: error: {out_dir / 'lead-raw.fif'} exists; "
        "pass --overwrite or choose another --out."
    )
    assert (out_dir / "lead-raw.fif").read_bytes() == b"precious"
    monkeypatch.setattr(mne_specae.datasets.readers, "read_raw", real_read_raw)
    junk = tmp_path / "notes.txt"
    junk.write_text("not a recording\n")
    with pytest.warns(RuntimeWarning, match=f"Skipped {junk}: cannot be read"):
        assert (
            main(
                [
                    "identify",
                    str(junk),
                    str(mistyped),
                    "--model",
                    str(typing_model[1]),
                    "--max-segments",
                    "2",
                ]
            )
            == 1
        )  # the other file is processed
    captured = capsys.readouterr()
    assert "Skipped 1 file(s): notes.txt (cannot be read (unknown text format" in captured.err
    assert "in 1 of 2 file(s)" in captured.out and f"{mistyped}: 1 channel(s)" in captured.out
    assert (
        main(
            [
                "identify",
                str(junk),
                str(mistyped),
                "--model",
                str(typing_model[1]),
                "--strict",
                "--quiet",
            ]
        )
        == 2
    )
    assert "--strict: stopping" in capsys.readouterr().err
    # a model without a signal-type head is refused before any reading
    plain = tmp_path / "plain.specae"
    est = typing_model[0]
    calibration = est.calibration_
    try:
        del est.calibration_
        est.save(plain)
    finally:
        est.calibration_ = calibration
    assert main(["identify", str(mistyped), "--model", str(plain)]) == 2
    assert "has no signal-type head" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Only one group")
def test_train_and_embed_warn_about_mistyped_channels(
    typing_model, mistyped, tmp_path, monkeypatch, capsys
):
    import mne_specae.pretrained.loading

    est, model_file = typing_model
    message = "channel X1 is typed eeg but its signal looks like ecg"
    with pytest.warns(RuntimeWarning, match=message):
        assert (
            main(
                [
                    "embed",
                    str(mistyped),
                    "--model",
                    str(model_file),
                    "--out",
                    str(tmp_path / "e.csv"),
                ]
            )
            == 0
        )
    # --no-check-types, or --quiet: no warning
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for flag in ("--no-check-types", "--quiet"):
            assert (
                main(
                    [
                        "embed",
                        str(mistyped),
                        "--model",
                        str(model_file),
                        "--out",
                        str(tmp_path / "e.csv"),
                        "--overwrite",
                        flag,
                    ]
                )
                == 0
            )
    assert not [w for w in record if message in str(w.message)]
    # train checks with the pretrained encoder: here a stand-in; when it is missing,
    # one line says the check is skipped and training goes on
    monkeypatch.setattr(mne_specae.pretrained.loading, "load_pretrained", lambda **kw: est)
    with pytest.warns(RuntimeWarning, match=message):
        assert (
            main(["train", str(mistyped), "--out", str(tmp_path / "m.specae"), *TRAIN_TINY[:-1]])
            == 0
        )

    def missing(**kwargs):
        raise FileNotFoundError("The pretrained model 'biosignals' is missing")

    monkeypatch.setattr(mne_specae.pretrained.loading, "load_pretrained", missing)
    capsys.readouterr()
    from mne_specae.cli._identify import check_model
    from mne_specae.cli._main import build_parser

    args = build_parser().parse_args(["train", str(mistyped), "--out", "x.specae"])
    assert check_model(args) is None
    assert capsys.readouterr().out.startswith(
        "Channel-type check skipped: no usable pretrained encoder (The pretrained model"
    )
    args = build_parser().parse_args(["train", str(mistyped), "--out", "x", "--quiet"])
    assert check_model(args) is None and capsys.readouterr().out == ""


def test_info_counts_the_recordings_present(tmp_path, monkeypatch, data_path, capsys):
    """Before: a folder left by a failed download was reported as 'recordings found'."""
    from mne_specae.datasets import EXTENDED_RECORDINGS, SAMPLE_RECORDINGS

    empty = tmp_path / "mne-specae"
    (empty / "ecg" / "mitdb").mkdir(parents=True)  # what a failed download leaves
    (empty / "ecg" / "mitdb" / "100.hea").write_text("100 2 360 650000\n")  # no .dat
    monkeypatch.setenv("MNE_SPECAE_DATA", str(empty))
    assert main(["info"]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("data folder")]
    assert line == [
        f"data folder   {empty} (0 of {len(SAMPLE_RECORDINGS)} sample recordings present)"
    ]
    monkeypatch.setenv("MNE_SPECAE_DATA", str(data_path))
    assert main(["info"]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("data folder")]
    n_extended = sum(
        all((data_path / f.relpath).is_file() for f in rec.files) for rec in EXTENDED_RECORDINGS
    )
    assert line == [
        f"data folder   {data_path} ({len(SAMPLE_RECORDINGS)} of "
        f"{len(SAMPLE_RECORDINGS)} sample recordings present"
        + (f"; {n_extended} of {len(EXTENDED_RECORDINGS)} extended" if n_extended else "")
        + ")"
    ]
    monkeypatch.setenv("MNE_SPECAE_DATA", str(tmp_path / "nowhere"))
    assert main(["info"]) == 0
    assert (
        f"data folder   {tmp_path / 'nowhere'} (does not exist: 0 of "
        f"{len(SAMPLE_RECORDINGS)} sample recordings)"
    ) in capsys.readouterr().out


def test_demo_writes_its_table_atomically(tmp_path, monkeypatch):
    """Before: the demo wrote embeddings.csv with pandas directly, so a failed write
    left half a table. Now it goes through the package's atomic writer: a failing
    rename leaves no embeddings.csv and no temporary file. (The steps before the table
    are stubbed: this checks the writing only, in well under a second.)"""
    import argparse
    import os
    import types

    import mne_specae.datasets
    import mne_specae.estimator.metadata
    import mne_specae.estimator.specae
    import mne_specae.evaluation.probes
    import mne_specae.pretrained.loading
    import mne_specae.utils._files
    from mne_specae.cli._demo import run_demo

    metadata = pd.DataFrame(
        dict(signal_type=["ecg", "eeg"], recording=["a", "b"], subject=["s1", "s2"], onset=0.0)
    )
    epochs = [types.SimpleNamespace(metadata=metadata, ch_names=["X"])]
    history = types.SimpleNamespace(
        to_frame=lambda: pd.DataFrame(dict(samples_per_s=[1.0])), best_epoch=1, best_loss=0.5
    )

    class FakeSpecAE:
        def __init__(self, **kwargs):
            self.history_ = history

        def fit(self, epochs):
            return self

        def add_embeddings(self, *args, **kwargs):
            pass

        def save(self, *args, **kwargs):
            raise AssertionError("the demo went on after its table failed to write")

    scores = pd.DataFrame(
        {"knn_balanced_accuracy": [0.5, 0.4]}, index=pd.Index(["specae", "pca_logspec"])
    )
    monkeypatch.setattr(mne_specae.datasets, "load_sample_epochs", lambda *a, **k: epochs)
    monkeypatch.setattr(mne_specae.estimator.specae, "SpecAE", FakeSpecAE)
    monkeypatch.setattr(mne_specae.estimator.metadata, "add_umap", lambda *a, **k: None)
    monkeypatch.setattr(mne_specae.evaluation.probes, "evaluate_embeddings", lambda *a, **k: scores)
    monkeypatch.setattr(mne_specae.pretrained.loading, "load_pretrained", lambda **k: FakeSpecAE())

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mne_specae.utils._files.os, "replace", failing_replace)
    out = tmp_path / "demo"
    args = argparse.Namespace(
        out=out,
        data=None,
        duration=5.0,
        sfreq=512.0,
        per_recording=1,
        max_channels=1,
        max_epochs=1,
        filters=4,
        device="cpu",
        seed=0,
        quiet=True,
    )
    with pytest.raises(OSError, match=r"Could not write .*embeddings\.csv"):
        run_demo(args)
    assert os.listdir(out) == []  # neither the table, nor half of it, nor a temporary file
