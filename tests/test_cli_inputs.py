"""The command line on awkward inputs: WFDB .mat records, pretrained model names,
--out paths, checkpoints and numbers (each test failed before its fix)."""

import mne
import numpy as np
import pandas as pd
import pytest

from mne_specae.cli._main import main

TRAIN_TINY = ["--max-epochs", "1", "--filters", "4", "--quiet"]


def _wfdb_mat_record(folder, monkeypatch):
    """``a103m.hea`` + ``a103m.mat``: a WFDB record as PhysioNet's Challenge 2015 stores
    them (wfdb2mat's layout), and the path of its ``.mat``."""
    wfdb = pytest.importorskip("wfdb")
    from wfdb.io.convert.matlab import wfdb_to_mat

    t = np.arange(7200) / 360.0
    signal = np.stack([np.sin(2 * np.pi * 3 * t), np.sin(2 * np.pi * 7 * t)], 1)
    wfdb.wrsamp(
        "a103",
        fs=360,
        units=["mV", "mV"],
        sig_name=["II", "V5"],
        p_signal=signal,
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(folder),
    )
    monkeypatch.chdir(folder)
    wfdb_to_mat("a103")
    return folder / "a103m.mat"


def test_identify_reads_wfdb_mat_and_goes_on_after_a_file_it_cannot_read(
    tmp_path, data_path, monkeypatch, capsys
):
    """Before: the .mat raised TypeError (MNE's FieldTrip reader), identify stopped with
    exit 2 and the later files were never processed."""
    import mne_specae.datasets.readers

    mat = _wfdb_mat_record(tmp_path, monkeypatch)
    hea = data_path / "ecg/mitdb/100.hea"
    assert main(["identify", str(mat), str(hea), "--max-segments", "2"]) == 0
    out = capsys.readouterr().out
    record = mat.with_suffix(".hea")  # a .mat is read through its header, as a .dat
    assert f"{record}: 2 channel(s)" in out and f"{hea}: 2 channel(s)" in out
    assert "Identified 4 channel(s) in 2 of 2 file(s)" in out

    # a reader failing in a way nobody foresaw (here a TypeError): that file is skipped
    # and counted, the next one is processed, and the exit status says one failed
    real_read_raw = mne_specae.datasets.readers.read_raw

    def flaky(fname, **kwargs):
        if str(fname).endswith("a103m.hea"):
            raise TypeError("an unexpected keyword argument 'verbose'")
        return real_read_raw(fname, **kwargs)

    monkeypatch.setattr(mne_specae.datasets.readers, "read_raw", flaky)
    with pytest.warns(RuntimeWarning, match=f"Skipped {record}: cannot be read"):
        assert main(["identify", str(mat), str(hea), "--max-segments", "2"]) == 1
    captured = capsys.readouterr()
    assert f"{hea}: 2 channel(s)" in captured.out
    assert "Identified 2 channel(s) in 1 of 2 file(s)" in captured.out
    assert (
        "Skipped 1 file(s): a103m.hea (cannot be read (TypeError: an unexpected "
        "keyword argument 'verbose'))"
    ) in captured.err
    assert "mne-specae identify: 1 of 2 file(s) could not be used" in captured.err
    assert main(["identify", str(mat), str(hea), "--strict", "--quiet"]) == 2
    assert "--strict: stopping" in capsys.readouterr().err


def test_embed_and_identify_take_a_pretrained_name(tmp_path, data_path, capsys):
    """Before: --model biosignals failed with "No mne-specae model file at biosignals"."""
    from mne_specae import load_pretrained

    ecg = data_path / "ecg/biosppy/ecg.txt"
    table = tmp_path / "t.csv"
    assert main(["embed", str(ecg), "--model", "biosignals", "--out", str(table), "--quiet"]) == 0
    frame = pd.read_csv(table)
    n_features = len(load_pretrained(verbose=False).get_feature_names_out())
    assert len(frame) == 3  # 15 s in 5 s segments
    assert frame.filter(regex=r"^specae_\d+$").shape[1] == n_features
    assert frame["specae_recon_error"].notna().all()
    assert main(["identify", str(ecg), "--model", "biosignals", "--max-segments", "2"]) == 0
    assert f"{ecg}: 1 channel(s)" in capsys.readouterr().out
    # neither a file nor a pretrained name: one line that says both
    assert main(["embed", str(ecg), "--model", "biosignal", "--out", str(tmp_path / "u.csv")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "mne-specae embed: error: --model biosignal: no such model file, "
        "and not the name of a pretrained encoder (biosignals)."
    )


def test_embed_says_what_it_wrote_and_refuses_an_out_of_the_wrong_kind(tmp_path, data_path, capsys):
    """Before: --out s34-epo.fif printed 'wrote s34-epo.fif' but wrote s34-ecg-epo.fif and
    s34-emg-epo.fif; --out x.txt silently created a folder x.txt."""
    files = [str(data_path / "ecg/biosppy/ecg.txt"), str(data_path / "emg/biosppy/emg_1.txt")]
    fif = tmp_path / "s34-epo.fif"
    assert main(["embed", *files, "--model", "biosignals", "--out", str(fif), "--quiet"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        f"Embedded 15 segments; wrote {tmp_path / 's34-ecg-epo.fif'}, "
        f"{tmp_path / 's34-emg-epo.fif'}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s34-ecg-epo.fif", "s34-emg-epo.fif"]
    assert len(mne.read_epochs(tmp_path / "s34-emg-epo.fif", verbose=False)) == 12
    folder = tmp_path / "many"
    assert main(["embed", *files, "--model", "biosignals", "--out", str(folder), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Embedded 15 segments; wrote 2 file(s) in {folder}: ecg-epo.fif, emg_1-epo.fif"
    )
    # an --out that names a file of another kind: refused before any work, nothing made
    for bad, hint in (
        ("x.txt", "a .csv table, an -epo.fif file or a folder"),
        ("s34.fif", "name it s34-epo.fif"),
    ):
        assert main(["embed", *files, "--model", "biosignals", "--out", str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"mne-specae embed: error: --out {tmp_path / bad}") and hint in err
        assert not (tmp_path / bad).exists()
    # and the reverse: a folder where a file is written, a file-like name for a folder
    assert main(["train", files[0], "--out", str(folder), *TRAIN_TINY]) == 2
    assert f"--out {folder} is a folder; train writes one model file" in capsys.readouterr().err
    assert (
        main(["identify", files[0], "--apply", "--out", str(tmp_path / "fixed.fif"), "--quiet"])
        == 2
    )
    assert (
        "--out " + str(tmp_path / "fixed.fif") + " looks like a file; with --apply it is the folder"
    ) in capsys.readouterr().err
    assert not (tmp_path / "fixed.fif").exists()


@pytest.mark.filterwarnings("ignore:Only one group")
def test_resume_with_another_run_prints_the_whole_reason(tmp_path, data_path, capsys):
    """Before: the CLI printed only the first line: '... What differs (checkpoint -> this
    call):' and then nothing."""
    ecg = str(data_path / "ecg/biosppy/ecg.txt")
    checkpoint = tmp_path / "run.ckpt"
    assert (
        main(
            [
                "train",
                ecg,
                "--out",
                str(tmp_path / "a.specae"),
                "--checkpoint",
                str(checkpoint),
                *TRAIN_TINY,
            ]
        )
        == 0
    )
    assert checkpoint.is_file()
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                ecg,
                "--out",
                str(tmp_path / "b.specae"),
                "--checkpoint",
                str(checkpoint),
                "--resume",
                "--max-epochs",
                "1",
                "--filters",
                "8",
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0].startswith(
        f"mne-specae train: error: {checkpoint} records another training run"
    ) and lines[0].endswith("this call):")
    differences = [ln for ln in lines[1:] if ln.startswith("  ")]
    assert differences and any("filters" in ln and "4" in ln and "8" in ln for ln in differences), (
        err
    )
    assert "To continue the recorded run instead" in lines[-1]
    assert not (tmp_path / "b.specae").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "{ecg}", "--out", "m.specae", "--duration", "-5"],
            "argument --duration: must be a positive number, got '-5'",
        ),
        (
            ["train", "{ecg}", "--out", "m.specae", "--sfreq", "nan"],
            "argument --sfreq: must be a positive number, got 'nan'",
        ),
        (
            ["train", "{ecg}", "--out", "m.specae", "--max-epochs", "0"],
            "argument --max-epochs: must be a whole number >= 1, got '0'",
        ),
        (
            ["train", "{ecg}", "--out", "m.specae", "--filters", "4.5"],
            "argument --filters: must be a whole number >= 1, got '4.5'",
        ),
        (
            ["prepare", "{ecg}", "--out", "store", "--duration", "five"],
            "argument --duration: must be a positive number, got 'five'",
        ),
        (
            ["prepare", "{ecg}", "--out", "store", "--n-jobs", "0"],
            "argument --n-jobs: must be a whole number >= 1, or -1 (every core), got '0'",
        ),
        (
            ["identify", "{ecg}", "--max-segments", "0"],
            "argument --max-segments: must be a whole number >= 1, got '0'",
        ),
        (
            ["demo", "--per-recording", "-1"],
            "argument --per-recording: must be a whole number >= 1, got '-1'",
        ),
    ],
)
def test_bad_numbers_are_refused_before_reading(
    argv, message, data_path, tmp_path, monkeypatch, capsys
):
    """Before: a bad --duration was read as given and every file was then reported as
    'cannot be read (...)', one warning per file."""
    import mne_specae.stores._discovery

    def no_reading(*args, **kwargs):
        raise AssertionError("a recording was read before the options were checked")

    monkeypatch.setattr(mne_specae.stores._discovery, "segments_of_file", no_reading)
    monkeypatch.chdir(tmp_path)
    argv = [a.format(ecg=data_path / "ecg/biosppy/ecg.txt") for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"mne-specae {argv[0]}: error: {message}"
    assert "cannot be read" not in err and not list(tmp_path.iterdir())


def test_train_and_embed_name_recordings_by_their_path(tmp_path, data_path, capsys):
    """Before: train and embed named a recording by its file name only, so s1/ecg.txt and
    s2/ecg.txt became one recording "ecg" (one validation group)."""
    import shutil

    for folder in ("s1", "s2"):
        (tmp_path / folder).mkdir()
        shutil.copy(data_path / "ecg/biosppy/ecg.txt", tmp_path / folder / "ecg.txt")
    table = tmp_path / "t.csv"
    folders = [str(tmp_path / "s1"), str(tmp_path / "s2")]
    assert main(["embed", *folders, "--model", "biosignals", "--out", str(table), "--quiet"]) == 0
    frame = pd.read_csv(table)
    assert len(frame) == 6  # 15 s in 5 s segments, twice
    assert frame.groupby("recording").size().to_dict() == {"s1/ecg": 3, "s2/ecg": 3}
    # one folder above both: the same names
    assert (
        main(["embed", str(tmp_path), "--model", "biosignals", "--out", str(table), "--overwrite"])
        == 0
    )
    capsys.readouterr()
    frame = pd.read_csv(table)
    assert sorted(frame["recording"].unique()) == ["s1/ecg", "s2/ecg"]
