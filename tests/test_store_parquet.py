"""Store tables as Parquet: typed round trips, columns written in chunks (streamed, all
or nothing), reads by column and by row group, CSV export, and stores of older
versions whose tables are CSV."""

import json
import os

import mne
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mne_specae import prepare_segments, read_segments
from mne_specae.stores import _parquet


def _raw(name, seed, seconds=30):
    """3 channels (2 EEG, 1 ECG) of known noise at 256 Hz: 6 segments of 5 s, 18 items."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(["EEG1", "EEG2", "ECG"], 256.0, ["eeg", "eeg", "ecg"])
    raw = mne.io.RawArray(rng.standard_normal((3, int(256 * seconds))) * 1e-5, info, verbose=False)
    raw.info["description"] = name
    return raw


@pytest.fixture
def store(tmp_path):
    """Two shards (18 + 12 items)."""
    return prepare_segments(
        [_raw("rec-a", 0), _raw("rec-b", 1, seconds=20)], tmp_path / "store", verbose=False
    )


def _typed(n):
    rng = np.random.default_rng(7)
    floats = rng.standard_normal(n)
    floats[::4] = np.nan
    text = [f"0{k}" for k in range(n)]
    text[1] = None
    return pd.DataFrame(
        {
            "i": np.arange(n, dtype=np.int64) * 10**15,
            "f": floats,
            "f32": rng.standard_normal(n).astype(np.float32),
            "b": np.arange(n) % 3 == 0,
            "s": text,
            "c": pd.Categorical(["wake", "n1", "n2"] * (n // 3) + ["wake"] * (n % 3)),
            "empty": [""] * n,
        }
    )


def test_prepared_tables_are_parquet(store):
    shards = store.manifest["shards"]
    assert [s["table"] for s in shards] == [f"{s['key']}.parquet" for s in shards]
    names = sorted(os.listdir(store.path / "shards"))
    assert not [n for n in names if n.endswith(".csv")]
    md = read_segments(store.path).metadata
    assert len(md) == 30 and list(md.columns[:7]) == [
        "subject",
        "recording",
        "onset",
        "channel",
        "signal_type",
        "sfreq_orig",
        "source",
    ]
    assert md["onset"].dtype == np.float64 and md["sfreq_orig"].tolist() == [256.0] * 30
    assert md["recording"].tolist() == ["rec-a"] * 18 + ["rec-b"] * 12
    assert md["channel"].tolist()[:6] == ["ECG"] * 6  # one type after the other


def test_typed_columns_round_trip(store):
    n = len(store)
    before = store.metadata.copy()
    table = _typed(n)
    store.write_columns(table, written_by="test")
    md = read_segments(store.path).metadata
    pd.testing.assert_frame_equal(md.iloc[:, :7], before)
    np.testing.assert_array_equal(md["i"].to_numpy(), table["i"].to_numpy())
    assert md["i"].dtype == np.int64 and md["b"].dtype == bool
    np.testing.assert_array_equal(md["f"].to_numpy(), table["f"].to_numpy())  # NaN too
    assert md["f32"].dtype == np.float32
    np.testing.assert_array_equal(md["f32"].to_numpy(), table["f32"].to_numpy())
    assert md["s"].isna().tolist() == [k == 1 for k in range(n)]
    assert md["s"].tolist()[2:] == [f"0{k}" for k in range(2, n)]  # leading zeros kept
    assert isinstance(md["c"].dtype, pd.CategoricalDtype)
    assert md["c"].astype(str).tolist() == table["c"].astype(str).tolist()
    assert md["empty"].tolist() == [""] * n  # an empty text stays empty in Parquet
    tables = store.manifest["tables"]
    assert tables["format"] == "parquet" and tables["written_by"] == "test"
    assert {k: tables["columns"][k] for k in table} == {
        "i": "int64",
        "f": "float64",
        "f32": "float32",
        "b": "bool",
        "s": "str",
        "c": "category",
        "empty": "str",
    }
    assert tables["origin"] == dict.fromkeys(table, "test")
    assert table.equals(_typed(n))  # the caller's table is not altered


def test_embedding_columns_in_chunks_and_replace_prefix(store):
    n = len(store)
    emb = np.random.default_rng(0).standard_normal((n, 8))
    names = [f"specae_{k:03d}" for k in range(8)]
    whole = pd.DataFrame(emb, columns=names)
    sizes = [5, 1, 13, n - 19]  # across the shard boundary (18 items)
    chunks = []
    start = 0
    for size in sizes:  # each its own index: the index is ignored
        chunks.append(whole.iloc[start : start + size].set_index(np.arange(size) + 100))
        start += size
    store.write_columns(iter(chunks), written_by="model A")
    got = read_segments(store.path).read_columns(names)
    np.testing.assert_array_equal(got.to_numpy(), emb)
    # a narrower embedding replaces every column of the prefix
    store.write_columns(
        pd.DataFrame({"specae_000": np.ones(n), "specae_recon_error": np.zeros(n)}),
        replace_prefix="specae_",
        written_by="model B",
    )
    opened = read_segments(store.path)
    assert opened.columns[7:] == ["specae_000", "specae_recon_error"]
    assert (opened.metadata["specae_000"] == 1).all()
    assert opened.manifest["tables"]["origin"] == {
        "specae_000": "model B",
        "specae_recon_error": "model B",
    }
    # one table per shard, old versions removed
    assert len([f for f in os.listdir(store.path / "shards") if f.endswith(".parquet")]) == 2


def test_write_columns_streams_row_group_by_row_group(store, monkeypatch):
    """Never more than one row group of one shard at a time: the new rows are taken
    in row-group-sized pieces and each table is written in row groups."""
    monkeypatch.setattr(_parquet, "ROW_GROUP", 4)
    n = len(store)
    store.write_columns(pd.DataFrame({"x": np.arange(n, dtype=float)}))  # tables of groups of 4
    from mne_specae.stores import _table_writes

    taken = []
    take = _table_writes.NewRows.take

    def spy(self, k):
        taken.append(k)
        return take(self, k)

    monkeypatch.setattr(_table_writes.NewRows, "take", spy)
    store.write_columns(pd.DataFrame({"y": np.arange(n) * 2.0}))
    assert max(taken) <= 4 and sum(taken) == n
    for shard in store.manifest["shards"]:
        meta = pq.ParquetFile(store.path / "shards" / shard["table"]).metadata
        assert meta.num_row_groups == -(-shard["n_items"] // 4)
    blocks = list(read_segments(store.path).iter_columns(["y", "x"]))
    assert max(len(b) for b in blocks) <= 4
    joined = pd.concat(blocks)
    assert joined.index.tolist() == list(range(n))  # the index: item numbers
    np.testing.assert_array_equal(joined["y"], np.arange(n) * 2.0)
    np.testing.assert_array_equal(joined["x"], np.arange(n, dtype=float))


def test_column_subset_reads_only_those_columns(store, monkeypatch):
    n = len(store)
    store.write_columns(pd.DataFrame(np.zeros((n, 16)), columns=[f"e{k}" for k in range(16)]))
    reads = []
    real_read, real_group = pq.ParquetFile.read, pq.ParquetFile.read_row_group

    def read(self, columns=None, **kwargs):
        reads.append(columns)
        return real_read(self, columns=columns, **kwargs)

    def read_group(self, i, columns=None, **kwargs):
        reads.append(columns)
        return real_group(self, i, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", read)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_group)
    opened = read_segments(store.path)
    assert opened.columns[-1] == "e15" and reads == []  # names from the footers alone
    got = opened.read_columns(["channel", "e3"])
    assert reads == [["channel", "e3"]] * 2  # one read per shard, those columns only
    assert list(got.columns) == ["channel", "e3"] and len(got) == n
    assert opened._metadata is None  # nothing else read or cached
    reads.clear()
    assert len(list(opened.iter_columns("e1"))) == 2
    assert reads == [["e1"]] * 2
    with pytest.raises(ValueError, match=r"no metadata column\(s\) \['nope'\]"):
        opened.read_columns(["channel", "nope"])


def _to_old_layout(path):
    """Rewrite a store's tables as CSV, the way earlier versions wrote them:
    ``<key>.csv`` from preparation (no ``table`` entry), ``<key>.<version>.csv`` and
    the manifest's ``tables`` (no format, no origin) after write_columns."""
    manifest = json.loads((path / "manifest.json").read_text())
    tables = manifest.get("tables")
    for shard in manifest["shards"]:
        pfile = path / "shards" / shard.pop("table")
        md = pq.read_table(pfile).to_pandas()
        if tables:
            name = f"{shard['key']}.{tables['version']}.csv"
            shard["table"] = name
        else:
            name = f"{shard['key']}.csv"
        md.to_csv(path / "shards" / name, index=False)
        pfile.unlink()
    if tables:
        tables.pop("format")
        tables.pop("origin")
    manifest["version"] = 1
    manifest["versions"].pop("pyarrow")
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1))


def test_stores_with_csv_tables_still_open_read_and_convert(tmp_path):
    raws = [_raw("rec-a", 0), _raw("rec-b", 1, seconds=20)]
    new = prepare_segments(raws, tmp_path / "new", verbose=False)
    old = prepare_segments(raws, tmp_path / "old", verbose=False)
    _to_old_layout(old.path)
    assert sorted(p.suffix for p in (old.path / "shards").iterdir()) == [".csv"] * 2 + [".npy"] * 2
    assert new.manifest["version"] == 2  # version 1 readers refuse it (upgrade)
    opened = read_segments(old.path)
    assert opened.manifest["version"] == 1
    pd.testing.assert_frame_equal(opened.metadata, new.metadata)
    assert opened.read_columns("channel").equals(new.read_columns("channel"))
    # columns written the old way (versioned CSV tables), then read and rewritten
    n = len(new)
    typed = _typed(n).drop(columns=["c", "f32", "empty"])  # the old types only
    new.write_columns(typed, written_by="old model")
    _to_old_layout(new.path)
    old_written = read_segments(new.path)
    assert all(s["table"].endswith(".csv") for s in old_written.manifest["shards"])
    md = old_written.metadata
    for column in ("i", "f", "b"):
        np.testing.assert_array_equal(md[column].to_numpy(), typed[column].to_numpy())
    assert md["i"].dtype == np.int64 and md["b"].dtype == bool
    assert md["s"].isna().tolist() == [k == 1 for k in range(n)]
    assert md["s"].tolist()[2:] == [f"0{k}" for k in range(2, n)]
    out = old_written.to_csv(tmp_path / "old.csv")
    assert len(pd.read_csv(out)) == n
    # the next write converts every table to Parquet; the CSV ones are removed
    old_written.write_columns(pd.DataFrame({"z": np.arange(n)}))
    names = os.listdir(new.path / "shards")
    assert not [f for f in names if f.endswith(".csv")]
    assert read_segments(new.path).manifest["version"] == 2
    again = read_segments(new.path).metadata
    pd.testing.assert_frame_equal(again.drop(columns=["z"]), md)
    assert again["z"].tolist() == list(range(n))


def test_to_csv_equals_the_table(store, tmp_path):
    n = len(store)
    table = _typed(n).drop(columns=["empty"])
    store.write_columns(table)
    md = read_segments(store.path).metadata
    out = store.to_csv(tmp_path / "md.csv")
    back = pd.read_csv(out, dtype={"s": str, "subject": str}, keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(md.columns)
    for column in md:
        if column in ("c",):
            assert back[column].tolist() == md[column].astype(str).tolist()
        elif md[column].dtype.kind in "fib":
            np.testing.assert_array_equal(  # float32: its shortest text, exact
                back[column].to_numpy().astype(md[column].dtype), md[column].to_numpy()
            )
        else:
            assert back[column].tolist() == md[column].tolist(), column
    with pytest.raises(FileExistsError, match="overwrite=True"):
        store.to_csv(out)
    store.to_csv(out, columns=["channel", "f"], overwrite=True)
    sub = pd.read_csv(out)
    assert list(sub.columns) == ["channel", "f"] and len(sub) == n
    np.testing.assert_array_equal(sub["f"].to_numpy(), md["f"].to_numpy())


def test_a_failed_write_leaves_the_old_tables(store):
    n = len(store)
    store.write_columns(pd.DataFrame({"x": np.ones(n)}), written_by="A")
    files = sorted(os.listdir(store.path / "shards"))
    manifest = (store.path / "manifest.json").read_text()
    before = read_segments(store.path).metadata

    def failing():
        yield pd.DataFrame({"x": np.full(20, 2.0)})  # the first shard is written
        raise RuntimeError("the embedding run failed")

    cases = [
        (failing(), RuntimeError, "embedding run failed"),
        ([pd.DataFrame({"x": np.zeros(n - 1)})], ValueError, rf"{n - 1} rows.*{n} items"),
        ([pd.DataFrame({"x": np.zeros(n + 2)})], ValueError, rf"{n + 2} rows.*{n} items"),
        (
            [pd.DataFrame({"x": np.zeros(20)}), pd.DataFrame({"y": np.zeros(n - 20)})],
            ValueError,
            "same columns",
        ),
        (
            [pd.DataFrame({"x": np.zeros(20)}), pd.DataFrame({"x": ["a"] * (n - 20)})],
            ValueError,
            "'x' is float64 elsewhere .* and str here",
        ),
    ]
    for chunks, error, match in cases:
        with pytest.raises(error, match=match):
            store.write_columns(chunks, written_by="B")
        assert sorted(os.listdir(store.path / "shards")) == files  # no new, no temporary
        assert (store.path / "manifest.json").read_text() == manifest
        pd.testing.assert_frame_equal(read_segments(store.path).metadata, before)
    assert not (store.path / "prepare.lock").exists()
    with pytest.raises(ValueError, match=f"3 rows for a store of {n} items"):
        store.write_columns(pd.DataFrame({"x": np.zeros(3)}))
    with pytest.raises(ValueError, match=r"built-in column\(s\) \['channel'\]"):
        store.write_columns([pd.DataFrame({"channel": np.zeros(n)})])
    with pytest.raises(TypeError, match="DataFrame or an iterable"):
        store.write_columns(np.zeros((n, 2)).tolist()[0][0])


def test_a_continued_store_fills_the_new_shards_columns(tmp_path):
    path = tmp_path / "store"
    store = prepare_segments(_raw("rec-a", 0), path, verbose=False)
    store.write_columns(pd.DataFrame({"x": np.arange(18.0)}))
    more = prepare_segments([_raw("rec-a", 0), _raw("rec-b", 1, seconds=20)], path, verbose=False)
    assert len(more) == 30
    x = more.read_columns("x")["x"]
    np.testing.assert_array_equal(x.to_numpy()[:18], np.arange(18.0))
    assert x.iloc[18:].isna().all()
    more.write_columns(pd.DataFrame({"y": np.ones(30)}))
    md = read_segments(path).metadata
    assert md["x"].dtype == np.float64 and md["x"].iloc[18:].isna().all()
    assert (md["y"] == 1).all()
