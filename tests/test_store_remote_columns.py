"""Columns (embeddings) written into a store at a URL, against moto's S3 server on
127.0.0.1: the same tables as the local store's write, all or nothing, the store's
lock object held."""

from __future__ import annotations

import json

import _s3
import numpy as np
import pandas as pd
import pytest

import mne_specae as msa
from mne_specae.stores import _remote_store
from mne_specae.stores._commits import RemoteTarget
from mne_specae.stores._manifest import StoreChangedError

moto_server, s3, uploaded_store = _s3.moto_server, _s3.s3, _s3.uploaded_store


def _chunks(n, width=6, seed=0):
    """Embedding-like columns of ``n`` rows, as chunks across the shard boundary."""
    names = [f"specae_{k:03d}" for k in range(width)]
    whole = pd.DataFrame(np.random.default_rng(seed).standard_normal((n, width)), columns=names)
    sizes = [7, 30, n - 37]
    starts = np.cumsum([0, *sizes[:-1]])
    return whole, [whole.iloc[a : a + k] for a, k in zip(starts, sizes)]


def _objects(s3, url):
    return sorted(p.rsplit("/", 1)[1] for p in s3.fs.find(url.removeprefix("s3://")))


def test_write_columns_at_a_url_equals_the_local_write(uploaded_store, s3, monkeypatch):
    """Before: "read only here: write columns (add_embeddings) into a local copy"."""
    local, url = uploaded_store
    n = len(local)
    assert len(local._shards) == 2 and n > 37
    reader = msa.read_segments(url, storage_options=s3.storage_options)  # opened before
    before = reader.metadata.copy()
    reader._metadata = None  # as a reader that has not read its tables yet
    remote = msa.read_segments(url, storage_options=s3.storage_options)
    old_tables = [p for p in _objects(s3, url) if p.endswith(".parquet")]
    whole, chunks = _chunks(n)
    remote.write_columns(iter(chunks), written_by="model A")
    local.write_columns(iter(_chunks(n)[1]), written_by="model A")

    assert remote.columns == local.columns == [*before.columns, *whole.columns]
    np.testing.assert_array_equal(remote.read_columns(list(whole.columns)).to_numpy(), whole)
    opened = msa.read_segments(url, storage_options=s3.storage_options)
    got, want = opened.metadata, local.metadata
    for frame in (got, want):  # where the files were read from differs
        frame.drop(columns="source", inplace=True)
    pd.testing.assert_frame_equal(got, want)
    assert opened.manifest["tables"]["origin"] == dict.fromkeys(whole.columns, "model A")
    # committed: the old tables removed, one table per shard, no lock, no staging
    objects = _objects(s3, url)
    assert not set(old_tables) & set(objects)
    assert len([p for p in objects if p.endswith(".parquet")]) == 2
    assert "prepare.lock" not in objects
    # a reader opened before reads the new tables, however recent its last check of
    # the manifest (before: "the metadata table ... is missing")
    monkeypatch.setattr(_remote_store, "CHECK_EVERY", 1e9)
    reader[0]
    np.testing.assert_array_equal(
        reader.read_columns(["specae_003"]).to_numpy()[:, 0], whole["specae_003"]
    )
    # a narrower embedding replaces the prefix's columns
    remote.write_columns(
        pd.DataFrame({"specae_recon_error": np.arange(n, dtype=float)}),
        replace_prefix="specae_",
        written_by="model B",
    )
    again = msa.read_segments(url, storage_options=s3.storage_options)
    assert again.columns == [*before.columns, "specae_recon_error"]
    np.testing.assert_array_equal(again.metadata["specae_recon_error"], np.arange(n))
    pd.testing.assert_frame_equal(again.metadata[before.columns], before)


def test_a_failed_write_at_a_url_leaves_the_store_as_it_was(uploaded_store, s3, tmp_path):
    local, url = uploaded_store
    n = len(local)
    remote = msa.read_segments(url, storage_options=s3.storage_options)
    objects = _objects(s3, url)
    manifest = s3.fs.cat_file(f"{url}/manifest.json")

    def failing():
        yield pd.DataFrame({"x": np.ones(30)})  # the first shard's table is uploaded
        raise RuntimeError("the embedding run failed")

    for chunks, error, match in [
        (failing(), RuntimeError, "embedding run failed"),
        ([pd.DataFrame({"x": np.zeros(n + 1)})], ValueError, rf"{n + 1} rows.*{n} items"),
    ]:
        with pytest.raises(error, match=match):
            remote.write_columns(chunks)
        assert _objects(s3, url) == objects  # no new table left, the lock released
        assert s3.fs.cat_file(f"{url}/manifest.json") == manifest
    pd.testing.assert_frame_equal(
        msa.read_segments(url, storage_options=s3.storage_options).metadata, remote.metadata
    )


def test_write_columns_at_a_url_is_refused_while_another_writes(uploaded_store, s3):
    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options)
    manifest = s3.fs.cat_file(f"{url}/manifest.json")
    with RemoteTarget(url, s3.storage_options):  # a preparation holds the lock
        with pytest.raises(RuntimeError, match=r"Another process is writing the store"):
            remote.write_columns(pd.DataFrame({"x": np.zeros(len(local))}))
        holder = json.loads(s3.fs.cat_file(f"{url}/prepare.lock"))
        assert holder["doing"] == "preparing"  # its lock untouched
    assert s3.fs.cat_file(f"{url}/manifest.json") == manifest
    # the store's items changed meanwhile (another preparation): refused, not mixed
    changed = json.loads(manifest)
    changed["shards"] = changed["shards"][:1]
    s3.fs.pipe_file(f"{url}/manifest.json", json.dumps(changed).encode())
    with pytest.raises(StoreChangedError, match="rewritten since it was opened"):
        remote.write_columns(pd.DataFrame({"x": np.zeros(len(local))}))


@pytest.mark.slow  # a tiny training, about 5 s on 2 cores
def test_add_embeddings_into_a_store_at_a_url(uploaded_store, s3):
    """``add_embeddings`` of a store at a URL: the embedding columns in its metadata,
    equal to ``transform``."""
    local, url = uploaded_store
    remote = msa.read_segments(url, storage_options=s3.storage_options)
    est = msa.SpecAE(
        max_epochs=1,
        filters=4,
        n_layers=2,
        resize=(16, 16),
        batch_size=16,
        device="cpu",
        random_state=0,
    ).fit(local)
    est.add_embeddings(remote)
    opened = msa.read_segments(url, storage_options=s3.storage_options)
    names = list(est.get_feature_names_out())
    np.testing.assert_allclose(
        opened.read_columns(names).to_numpy(), est.transform(local), rtol=1e-5, atol=1e-6
    )
    assert (opened.read_columns(["specae_recon_error"]).to_numpy() > 0).all()
