"""The command line with URLs: ``prepare`` to and from object storage, ``train`` and
``embed`` of a store at a URL, ``--storage-option`` (moto's S3 server on 127.0.0.1;
each test failed before the command line took URLs)."""

from __future__ import annotations

import json

import _s3
import numpy as np
import pandas as pd
import pytest

from mne_specae.cli._main import main

moto_server, s3 = _s3.moto_server, _s3.s3  # the fixtures

TRAIN_TINY = ["--max-epochs", "1", "--filters", "4", "--quiet"]


def _options(s3):
    """``--storage-option`` flags that reach the loopback server."""
    flags = []
    for key, value in s3.storage_options.items():
        flags += ["--storage-option", f"{key}={json.dumps(value)}"]
    return flags


@pytest.fixture
def files(data_path):
    """BioSPPy ECG (15 s) and EMG (63.9 s): 3 + 12 items of 5 s."""
    return [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg_1.txt"]


@pytest.mark.slow  # about 10 s on 2 cores
def test_prepare_to_a_url_then_train_and_embed_from_it(
    files, s3, tmp_path, capsys, monkeypatch, isolated_torch_rng
):
    """Before: "unrecognized arguments: --storage-option"; train took the URL for a
    local path ("No such file or directory")."""
    from mne_specae import SpecAE, read_segments

    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(tmp_path / "cache"))
    url = f"{s3.bucket}/store/"
    assert main(["prepare", *map(str, files), "--out", url, *_options(s3), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{s3.bucket}/store: 15 items (emg 12, ecg 3) from 2 file(s)" in out
    store = read_segments(url, storage_options=s3.storage_options)
    assert len(store) == 15 and store.sfreq == 512.0
    assert not s3.fs.exists(f"{s3.bucket}/store/prepare.lock")

    model = tmp_path / "m.specae"
    assert main(["train", url, "--out", str(model), *TRAIN_TINY, *_options(s3)]) == 0
    assert f"Trained on the 15 items of the store {s3.bucket}/store" in capsys.readouterr().out
    est = SpecAE.load(model)
    assert model.is_file() and est.sfreq_ == 512.0 and est.n_times_ == 2560

    # embed: the columns go into the store at the URL (before: "read only here")
    assert main(["embed", url, "--model", str(model), "--quiet", *_options(s3)]) == 0
    assert f"Embedded the 15 items of the store {s3.bucket}/store" in capsys.readouterr().out
    n_features = len(est.get_feature_names_out())
    names = list(est.get_feature_names_out())
    embedded = read_segments(url, storage_options=s3.storage_options)
    np.testing.assert_allclose(
        embedded.read_columns(names).to_numpy(), est.transform(store), rtol=1e-5, atol=1e-6
    )
    assert not s3.fs.exists(f"{s3.bucket}/store/prepare.lock")
    # again: refused without --overwrite; with it, also a table
    table = tmp_path / "t.csv"
    argv = ["embed", url, "--model", str(model), "--out", str(table), "--quiet"]
    assert main([*argv, *_options(s3)]) == 2
    assert "already holds 'specae_*' columns" in capsys.readouterr().err
    assert main([*argv, "--overwrite", *_options(s3)]) == 0
    assert f"wrote {table}" in capsys.readouterr().out
    written = pd.read_csv(table)
    assert len(written) == 15
    assert list(written.columns[: len(store.columns)]) == list(store.columns)
    np.testing.assert_allclose(
        written.filter(regex=r"^specae_\d+$").to_numpy(), est.transform(store), rtol=1e-5, atol=1e-6
    )
    assert written.filter(regex=r"^specae_\d+$").shape == (15, n_features)
    assert (written["specae_recon_error"] > 0).all()


def test_prepare_reads_recordings_at_a_url(files, s3, tmp_path, capsys, monkeypatch):
    """Before: "unrecognized arguments: --storage-option"."""
    from mne_specae import prepare_segments

    monkeypatch.setenv("MNE_SPECAE_REMOTE_CACHE", str(tmp_path / "cache"))
    for f in files:
        s3.fs.put_file(str(f), f"{s3.bucket}/recordings/{f.parent.parent.name}/{f.name}")
    out = tmp_path / "store"
    argv = ["prepare", f"{s3.bucket}/recordings/", "--out", str(out), "--sfreq", "128"]
    assert main([*argv, *_options(s3), "--quiet"]) == 0
    assert "15 items" in capsys.readouterr().out
    local = prepare_segments(files, tmp_path / "local", sfreq=128.0, verbose="error")
    from mne_specae import read_segments

    np.testing.assert_array_equal(read_segments(out)[:], local[:])
    assert not any((tmp_path / "cache").iterdir())


def test_a_fresh_remote_lock_is_refused_and_stale_lock_0_breaks_it(files, s3, capsys):
    """Before: no --stale-lock; the error named no holder."""
    lock = f"{s3.bucket}/store/prepare.lock"
    s3.fs.pipe_file(lock, b"an older writer's lock")
    argv = ["prepare", str(files[0]), "--out", f"{s3.bucket}/store", *_options(s3), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Another process is writing the store" in err and "--stale-lock 0" in err
    assert s3.fs.exists(lock)
    with pytest.warns(RuntimeWarning, match=r"taking over the lock of pid unknown.*stale_lock=0"):
        assert main([*argv, "--stale-lock", "0"]) == 0
    assert not s3.fs.exists(lock)


@pytest.mark.parametrize(
    "value, message",
    [
        ("anon", "write KEY=VALUE"),
        ("=1", "write KEY=VALUE"),
        ("client_kwargs={endpoint_url: 1}", "the value of client_kwargs is not valid JSON"),
    ],
)
def test_bad_storage_option_syntax_exits_2_naming_the_fix(value, message, capsys, tmp_path):
    """Before: "unrecognized arguments: --storage-option"."""
    with pytest.raises(SystemExit) as info:
        main(["prepare", "x.edf", "--out", "s3://b/s", "--storage-option", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --storage-option" in err and message in err
    assert "anon=true" in err  # the example of the fix


def test_storage_option_values_and_misuse(s3, tmp_path, capsys):
    """Values are JSON when they parse, else strings; a key twice, or options without
    any URL, are refused (exit 2)."""
    from mne_specae.cli._args import storage_option

    assert storage_option("anon=true") == ("anon", True)
    assert storage_option("max_concurrency=3") == ("max_concurrency", 3)
    assert storage_option("profile=lab") == ("profile", "lab")
    assert storage_option("token=a=b") == ("token", "a=b")
    assert storage_option('client_kwargs={"endpoint_url": "http://h:9"}') == (
        "client_kwargs",
        {"endpoint_url": "http://h:9"},
    )
    out = str(tmp_path / "store")
    assert main(["prepare", "x.edf", "--out", out, "--storage-option", "anon=true"]) == 2
    assert "--storage-option applies to URLs" in capsys.readouterr().err
    argv = ["prepare", "x.edf", "--out", "s3://b/s", "--storage-option", "anon=true"]
    assert main([*argv, "--storage-option", "anon=false"]) == 2
    assert "--storage-option anon is given twice" in capsys.readouterr().err
    assert main(["train", f"{s3.bucket}/nothing", "--out", str(tmp_path / "m.specae"),
                 *_options(s3)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "is not a segment store" in err and "mne-specae prepare" in err


def test_train_from_a_url_through_a_shard_cache(files, s3, tmp_path, capsys, isolated_torch_rng):
    """Before: "unrecognized arguments: --cache"."""
    from mne_specae import prepare_segments

    local = prepare_segments(files, tmp_path / "store", progress=False, verbose="error")
    url = f"{s3.bucket}/stores/store"
    s3.fs.put(str(local.path), url, recursive=True)
    cache = tmp_path / "cache"
    model = tmp_path / "m.specae"
    argv = ["train", url, "--out", str(model), *TRAIN_TINY, *_options(s3)]
    assert main([*argv, "--cache", str(cache), "--cache-size", "1GB"]) == 0
    assert sorted(p.stat().st_size for p in cache.glob("*.npy")) == sorted(
        p.stat().st_size for p in (local.path / "shards").glob("*.npy")
    )
    capsys.readouterr()
    argv = ["train", str(local.path), "--out", str(tmp_path / "n.specae"), *TRAIN_TINY]
    argv += ["--cache", str(cache)]
    assert main(argv) == 2
    assert "--cache applies to a store at a URL" in capsys.readouterr().err
