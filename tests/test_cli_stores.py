"""``mne-specae prepare`` and the other commands on segment stores (each test failed
before its fix)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from mne_specae.cli._main import main

TRAIN_TINY = ["--max-epochs", "1", "--filters", "4", "--quiet"]


@pytest.fixture
def tiny_store(tmp_path, data_path):
    """A store of the BioSPPy ECG (15 s) and EMG (63.9 s): 3 + 12 items of 5 s."""
    from mne_specae import prepare_segments

    files = [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg_1.txt"]
    store = prepare_segments(files, tmp_path / "store", verbose="error")
    assert len(store) == 15
    return store.path


def test_train_and_embed_take_a_store(tiny_store, tmp_path, capsys):
    """Before: "No recording in the folder store (looked for .edf, ...)" for both."""
    from mne_specae import SpecAE, read_segments

    model = tmp_path / "m.specae"
    assert main(["train", str(tiny_store), "--out", str(model), *TRAIN_TINY]) == 0
    assert f"Trained on the 15 items of the store {tiny_store}" in capsys.readouterr().out
    est = SpecAE.load(model)
    assert est.sfreq_ == 512.0 and est.n_times_ == 2560
    # embed: the columns go into the store's metadata; --out (a .csv) is optional
    assert main(["embed", str(tiny_store), "--model", str(model), "--quiet"]) == 0
    assert f"Embedded the 15 items of the store {tiny_store}" in capsys.readouterr().out
    meta = read_segments(tiny_store).metadata
    n_features = len(est.get_feature_names_out())
    assert meta.filter(regex=r"^specae_\d+$").shape == (15, n_features)
    np.testing.assert_allclose(
        meta.filter(regex=r"^specae_\d+$").to_numpy(),
        est.transform(read_segments(tiny_store)),
        rtol=1e-5,
        atol=1e-6,
    )
    # again: the columns exist; replacing them needs --overwrite (checked first)
    assert main(["embed", str(tiny_store), "--model", str(model), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds 'specae_*' columns" in err and "--overwrite" in err
    table = tmp_path / "t.csv"
    assert (
        main(
            [
                "embed",
                str(tiny_store),
                "--model",
                str(model),
                "--out",
                str(table),
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    frame = pd.read_csv(table)
    assert len(frame) == 15 and {"channel", "signal_type", "specae_recon_error"} <= set(frame)
    # what does not apply to a store is refused, with the reason
    assert (
        main(
            [
                "embed",
                str(tiny_store),
                "--model",
                str(model),
                "--out",
                str(tmp_path / "x-epo.fif"),
                "--overwrite",
                "--quiet",
            ]
        )
        == 2
    )
    assert "with a store, --out is a .csv table" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                str(tiny_store),
                "--out",
                str(tmp_path / "n.specae"),
                "--picks",
                "eeg",
                *TRAIN_TINY,
            ]
        )
        == 2
    )
    assert "--picks applies to recordings" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                str(tiny_store),
                "--out",
                str(tmp_path / "n.specae"),
                "--duration",
                "4",
                *TRAIN_TINY,
            ]
        )
        == 2
    )
    assert (
        "the store holds segments of 5 s at 512 Hz (set by prepare); --duration 4 does not match"
    ) in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                str(tiny_store),
                str(tiny_store.parent / "t.csv"),
                "--out",
                str(tmp_path / "n.specae"),
                *TRAIN_TINY,
            ]
        )
        == 2
    )
    assert "one store, or recordings" in capsys.readouterr().err
    assert not (tmp_path / "n.specae").exists()


def test_prepare_fails_when_nothing_could_be_read_and_reports_plainly(tmp_path, data_path, capsys):
    """Before: exit 0 with an empty store; the run's summary came as a warning."""
    junk = tmp_path / "LICENSE.txt"
    junk.write_text("Open Data Commons Attribution License\n")
    store = tmp_path / "store"
    with pytest.warns(RuntimeWarning, match=f"Skipped {junk}: ") as record:
        assert main(["prepare", str(junk), "--out", str(store)]) == 2
    assert not [w for w in record if "prepare_segments:" in str(w.message)]
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"mne-specae prepare: error: no segment could be made: 1 of 1 file(s) skipped "
        f"and the store {store} holds no item (see the warnings above)."
    )
    # some files read: exit 0, the summary on stdout and no summary warning
    ecg = data_path / "ecg/biosppy/ecg.txt"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert main(["prepare", str(ecg), str(junk), "--out", str(store)]) == 0
    messages = [str(w.message) for w in record]
    assert any(m.startswith(f"Skipped {junk}: ") for m in messages)
    assert not [m for m in messages if "file(s) added" in m], messages
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == (
        f"{store}: 3 items (ecg 3) from 1 file(s); 1 skipped in this run"
    )
    assert "file(s) added" not in captured.err
    manifest = json.loads((store / "manifest.json").read_text())
    assert len(manifest["shards"]) == 1


def test_collect_and_reemit_warnings(capsys):
    """The helpers that carry a worker's warnings to its caller."""
    from mne.utils import warn

    from mne_specae.utils._logs import collect_warnings, reemit_warnings

    class Odd(UserWarning):
        pass

    def work(x):
        warn(f"first {x}")
        warnings.warn("second", DeprecationWarning)
        warnings.warn("third", Odd)
        return x + 1

    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        result, caught = collect_warnings(work, 1)
    assert result == 2 and not outside  # kept, not printed
    assert caught == [
        ("RuntimeWarning", "first 1"),
        ("DeprecationWarning", "second"),
        ("Odd", "third"),
    ]
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        reemit_warnings(caught)
    assert [(w.category, str(w.message)) for w in again] == [
        (RuntimeWarning, "first 1"),
        (DeprecationWarning, "second"),
        (RuntimeWarning, "third"),
    ]


def test_prepare_worker_warnings_reach_the_caller(tmp_path, capfd):
    """Before: each worker printed its warnings itself, in Python's raw format
    ('.../readers.py:114: RuntimeWarning: ...' and the source line), past the
    command line's one-line format."""
    wfdb = pytest.importorskip("wfdb")
    folder = tmp_path / "records"
    folder.mkdir()
    t = np.arange(3600) / 360.0
    for name in ("r1", "r2"):
        wfdb.wrsamp(
            name,
            fs=360,
            units=["mV", "mV"],
            sig_name=["MLII", "Resp"],
            p_signal=np.stack([np.sin(2 * np.pi * t), np.cos(t)], 1),
            fmt=["16", "16"],
            adc_gain=[200.0, 200.0],
            baseline=[0, 0],
            write_dir=str(folder),
        )
    capfd.readouterr()
    with pytest.warns(RuntimeWarning) as record:
        assert (
            main(["prepare", str(folder), "--out", str(tmp_path / "store"), "--n-jobs", "2"]) == 0
        )
    messages = sorted(str(w.message) for w in record if "does not say its type" in str(w))
    assert messages == [
        f"{folder / name}.hea: the name of signal(s) ['Resp'] does not say its type: "
        "typed misc. Set it with ch_type=... (or --channel-types NAME=type)."
        for name in ("r1", "r2")
    ]
    err = capfd.readouterr().err
    assert "RuntimeWarning:" not in err and ".py:" not in err and "  warn(" not in err


def test_prepare_quiet_hides_the_bar_not_the_skipped_warnings(tmp_path, data_path, capsys):
    """Before: --quiet ran prepare_segments with verbose="error" (the only way to hide
    its progress bar), which also hid the "Skipped ..." warning of each file."""
    junk = tmp_path / "LICENSE.txt"
    junk.write_text("Open Data Commons Attribution License\n")
    ecg = data_path / "ecg/biosppy/ecg.txt"
    store = tmp_path / "store"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert main(["prepare", str(ecg), str(junk), "--out", str(store), "--quiet"]) == 0
    messages = [str(w.message) for w in record]
    assert any(m.startswith(f"Skipped {junk}: ") for m in messages), messages
    captured = capsys.readouterr()
    assert "Preparing" not in captured.err  # no progress bar
    assert captured.out.strip().splitlines()[-1] == (
        f"{store}: 3 items (ecg 3) from 1 file(s); 1 skipped in this run"
    )
