"""Helpers of ``bench_store.py``: large stores built from a small one, peak resident
memory, and the metadata-table measurements (Parquet against the CSV tables of earlier
versions)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd


def repeat_store(base, n_items, path, distinct=True, fmt="parquet"):
    """A store of about ``n_items`` items: ``base``'s files repeated (the waveform
    files hard-linked, not copied: a store refuses links leading out of it; each copy
    its own recording and subject, or with ``distinct=False`` the tables linked too,
    for what only opens and reads rows). Tables as ``fmt``: ``"parquet"`` (what
    ``prepare_segments`` writes) or ``"csv"`` (what it wrote before: ``<key>.csv``,
    no table name in the manifest)."""
    import json

    from mne_specae.stores._parquet import to_arrow, write_parquet
    from mne_specae.stores._tables import TableFile, table_name

    path.mkdir(parents=True)
    (path / "shards").mkdir()
    manifest = dict(base.manifest, shards=[], skipped=[])
    manifest.pop("tables", None)
    tables = {}
    total, copy = 0, 0
    while total < n_items:
        for shard in base.manifest["shards"]:
            key = f"{shard['key']}-r{copy}"
            os.link(base.path / "shards" / f"{shard['key']}.npy", path / "shards" / f"{key}.npy")
            source = base.path / "shards" / table_name(shard)
            name = f"{key}.{fmt}"
            if distinct or source.suffix != f".{fmt}":
                if source not in tables:
                    tables[source] = TableFile(
                        base.path, shard, base.manifest, base.path / "manifest.json"
                    ).read()
                md = tables[source].copy()
                if distinct:
                    md["recording"] += f"-r{copy}"
                    md["subject"] += f"-r{copy}"
                if fmt == "csv":
                    md.to_csv(path / "shards" / name, index=False)
                else:
                    with open(path / "shards" / name, "wb") as fid:
                        write_parquet(fid, [to_arrow(md)])
            else:
                os.link(source, path / "shards" / name)
            entry = {k: v for k, v in dict(shard, key=key).items() if k != "table"}
            if fmt != "csv":
                entry["table"] = name
            manifest["shards"].append(entry)
            total += shard["n_items"]
            if total >= n_items:
                break
        copy += 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    return total


def status_mb(field):
    with open("/proc/self/status") as fid:
        for line in fid:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise OSError(field)


def reset_peak_rss():
    """Reset the peak resident size to the current one (Linux: ``clear_refs`` 5) and
    return it in MB; elsewhere the peak so far (``ru_maxrss``)."""
    try:
        with open("/proc/self/clear_refs", "w") as fid:
            fid.write("5")
        return status_mb("VmRSS")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss():
    try:
        return status_mb("VmHWM")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


EMBEDDING = [f"specae_{k:03d}" for k in range(64)]


def embedding_blocks(n, size=65_536):
    """The 64 float columns of an embedding of ``n`` items, as ``add_embeddings``
    writes them (float32 values as float64), a block of ``size`` rows at a time (the
    same values whatever the block size: seeded per 65,536 rows)."""
    for start in range(0, n, size):
        rng = np.random.default_rng(start // 65_536)
        values = rng.standard_normal((min(size, n - start), 64), dtype=np.float32)
        yield pd.DataFrame(values.astype(np.float64), columns=EMBEDDING)


def legacy_csv_write_columns(store, table, written_by=None):
    """``SegmentStore.write_columns`` as it was before Parquet tables (commit
    c38baf3): every column of every item read into one DataFrame, the new columns
    concatenated, one CSV table per shard, one manifest commit."""
    import copy
    import uuid

    from mne_specae.stores._manifest import MANIFEST, write_manifest
    from mne_specae.stores._parquet import column_type
    from mne_specae.utils._files import write_atomic

    md = store.metadata
    new = pd.concat([md.reset_index(drop=True), table.reset_index(drop=True)], axis=1)
    version = uuid.uuid4().hex[:12]
    manifest = copy.deepcopy(store.manifest)
    offsets = store._offsets
    for k, shard in enumerate(manifest["shards"]):
        name = f"{shard['key']}.{version}.csv"
        chunk = new.iloc[offsets[k] : offsets[k + 1]]
        write_atomic(store.path / "shards" / name, lambda fid, c=chunk: c.to_csv(fid, index=False))
        shard["table"] = name
    manifest["tables"] = dict(
        version=version,
        written_by=written_by,
        columns={c: column_type(new[c]) for c in new.columns},
    )
    write_manifest(store.path / MANIFEST, manifest)
    for old in store.manifest["shards"]:
        (store.path / "shards" / old.get("table", f"{old['key']}.csv")).unlink()


def _tables_child(queue, path, fmt, action):
    """In a fresh process: open the store, then ``action`` ("write": add the 64-float
    embedding; "column": read the column ``channel``; "metadata": read every column);
    seconds and the growth of the peak resident memory from before the open."""
    import mne

    import mne_specae

    mne.set_log_level("error")
    before = reset_peak_rss()
    t0 = time.perf_counter()
    store = mne_specae.read_segments(path)
    opened = time.perf_counter() - t0
    t0 = time.perf_counter()
    if action == "write" and fmt == "parquet":  # streamed, a block at a time
        store.write_columns(embedding_blocks(len(store)), written_by="bench")
    elif action == "write":  # the old way: one DataFrame of every row, as add_embeddings made
        table = pd.concat(embedding_blocks(len(store)), ignore_index=True)
        legacy_csv_write_columns(store, table, written_by="bench")
        del table
    elif action == "column" and fmt == "parquet":
        value = store.read_columns("channel")["channel"].iloc[-1]
    elif action == "column":  # the old way: the whole table, then the column
        value = store.metadata["channel"].iloc[-1]
    else:
        value = store.metadata["channel"].iloc[-1]
    seconds = time.perf_counter() - t0
    check = None
    if action == "write":
        check = float(mne_specae.read_segments(path).read_columns("specae_063").sum().iloc[0])
    elif action != "write":
        check = str(value)
    queue.put(dict(open_s=opened, seconds=seconds, rss_growth_mb=peak_rss() - before, check=check))


def in_fresh_process(target, *args):
    """``target(queue, *args)`` run in a new (spawned) process; what it put in the
    queue (an error when the process died without an answer)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue, *args))
    proc.start()
    while True:  # a child that died would leave get() waiting forever
        try:
            result = queue.get(timeout=5)
            break
        except Exception:
            if not proc.is_alive():
                raise RuntimeError(f"the measuring process failed ({args})") from None
    proc.join()
    return result


def _in_child(*args):
    return in_fresh_process(_tables_child, *args)


def _tables_mb(path):
    shards = Path(path) / "shards"
    return sum(p.stat().st_size for p in shards.iterdir() if p.suffix != ".npy") / 1e6


def tables(base, n_items, tmp):
    """Parquet tables against the CSV tables of earlier versions, on two stores of
    ``n_items`` items (``base``'s shards repeated, waveforms hard-linked)."""
    print(
        f"\nTables: adding a 64-float embedding (float64 columns, as add_embeddings writes) "
        f"to a store of about {n_items} items, Parquet (streamed write_columns) vs CSV "
        "(the previous write_columns); each step in a fresh process, peak RSS growth from "
        "before the store was opened:"
    )
    rows = {}
    for fmt in ("parquet", "csv"):
        path = tmp / f"tables-{fmt}"
        t0 = time.perf_counter()
        actual = repeat_store(base, n_items, path, fmt=fmt)
        built = time.perf_counter() - t0
        size0 = _tables_mb(path)
        write = _in_child(str(path), fmt, "write")
        size1 = _tables_mb(path)
        opens = [_in_child(str(path), fmt, "column") for _ in range(3)]
        column = dict(
            opens[0],
            open_s=float(np.median([r["open_s"] for r in opens])),
            seconds=float(np.median([r["seconds"] for r in opens])),
        )
        whole = _in_child(str(path), fmt, "metadata")
        rows[fmt] = dict(
            write=write, column=column, whole=whole, size0=size0, size1=size1, items=actual
        )
        print(
            f"  {fmt:7s} ({actual} items, {len(base.files)}-file store repeated; built in "
            f"{built:.0f} s): tables {size0:7.1f} MB -> {size1:7.1f} MB on disk; write "
            f"{write['seconds']:6.1f} s, RSS +{write['rss_growth_mb']:6.0f} MB; open "
            f"{column['open_s']:.3f} s; one column {column['seconds']:6.2f} s "
            f"(RSS +{column['rss_growth_mb']:5.0f} MB); every column {whole['seconds']:6.2f} s "
            f"(RSS +{whole['rss_growth_mb']:5.0f} MB)"
        )
        shutil.rmtree(path)
    p, c = rows["parquet"], rows["csv"]
    same = p["write"]["check"] == c["write"]["check"]
    print(
        "  Parquet / CSV: write RSS growth "
        f"{p['write']['rss_growth_mb'] / c['write']['rss_growth_mb']:.2f}x (goal: Parquet "
        f"< 300 MB: {p['write']['rss_growth_mb']:.0f} MB), write time "
        f"{p['write']['seconds'] / c['write']['seconds']:.2f}x, size on disk "
        f"{p['size1'] / c['size1']:.2f}x, open time {p['column']['open_s'] / c['column']['open_s']:.2f}x "
        f"(goal < 1 s), one column {p['column']['seconds'] / c['column']['seconds']:.3f}x, "
        f"every column {p['whole']['seconds'] / c['whole']['seconds']:.2f}x; same values: {same}"
    )
