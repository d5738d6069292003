"""Benchmark: the segment store's on-disk format -- today's ``.npy`` shards against Zarr v3.

A segment store (prepared from the developers' sample recordings with
:func:`mne_specae.prepare_segments`, as ``bench_store.py`` does, or taken with
``--store``) is copied item for item into Zarr v3 arrays (zarr-python 3, one 2-D
float32 array of items x samples) with several chunkings -- 1, 16 and 256 rows per
chunk, each uncompressed and with zarr's default compressor (zstd), and 1-row chunks
inside shards of 1,024 rows (Zarr v3's sharding codec: one file per shard, each row
read by byte range) -- and the same reads are timed side by side:

1. random batches of ``--batch-size`` sorted indices (as a shuffled training epoch
   reads them): the store's own ``store[idx]``, each array's ``array.oindex[idx]``
   and the in-memory reference, alternating, the median items/s of ``--repeats``
   rounds (each round new batches, the same for every format; files in the page
   cache, as on a machine that reads its store repeatedly);
2. size on disk: bytes of the files, blocks allocated and number of files;
3. peak RSS growth while reading ``--rss-batches`` batches, each format in a fresh
   process (from just before the store or array is opened);
4. the same random reads from object storage: the store folder and each array
   uploaded to a moto S3 server on 127.0.0.1 (its own process), the store read with
   ``read_segments("s3://...", storage_options=...)``, Zarr through its fsspec store;
5. every format returns bit-identical items (each batch compared with the store's).

    python benchmarks/bench_store_format.py [--store PATH] [--batch-size 64]
        [--batches 200] [--s3-batches 20] [--repeats 5] [--rss-batches 200] [--smoke]

``--smoke``: two sample recordings (or ``--store``), two Zarr variants, a few batches
(under a minute). Needs ``pip install -c requirements/constraints.txt .[bench,remote]``
and ``moto[server]`` (the ``test`` extra) for the object-storage part (left out, and
said so, without them). Prints the machine, the versions and every figure; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import recording_files  # noqa: E402
from moto_helpers import s3_options, start_moto, upload  # noqa: E402
from store_helpers import in_fresh_process, peak_rss, reset_peak_rss  # noqa: E402

# The data folder as the tests and the Makefile find it: ../shared/data/biosignals next to
# the checkout when MNE_SPECAE_DATA is not set and that folder holds the data.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "biosignals"
if "MNE_SPECAE_DATA" not in os.environ and (_SHARED / "MANIFEST.tsv").is_file():
    os.environ["MNE_SPECAE_DATA"] = str(_SHARED)

#: (name, rows per chunk, compressed, rows per shard or None)
VARIANTS = [
    ("zarr 1 row", 1, False, None),
    ("zarr 1 row zstd", 1, True, None),
    ("zarr 16 rows", 16, False, None),
    ("zarr 16 rows zstd", 16, True, None),
    ("zarr 256 rows", 256, False, None),
    ("zarr 256 rows zstd", 256, True, None),
    ("zarr 1 row zstd, shard 1024", 1, True, 1024),
]
SMOKE_VARIANTS = [VARIANTS[3], VARIANTS[6]]
SHARDS, MEMORY = "shards (.npy)", "in memory"
#: Zarr variants with more objects than this are not uploaded to S3 (one PUT each).
S3_MAX_OBJECTS = 20_000


# ----------------------------------------------------------------- writing
def write_zarr(store, path, rows, compressed, shard):
    """The store's items, in order, as one Zarr v3 array of ``(n_items, n_times)``."""
    import zarr

    n, n_times = len(store), store.n_times
    array = zarr.create_array(
        zarr.storage.LocalStore(path),
        shape=(n, n_times),
        chunks=(rows, n_times),
        shards=None if shard is None else (shard, n_times),
        dtype="float32",
        compressors="auto" if compressed else None,
        filters=None,
        fill_value=0.0,
        zarr_format=3,
    )
    block = 4096  # a multiple of every chunk and shard: each written once
    for start in range(0, n, block):
        array[start : start + block] = store[start : min(start + block, n)]
    return array


def disk_usage(path):
    """Bytes of the files under ``path``, bytes allocated (blocks) and file count."""
    files = [p for p in Path(path).rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return dict(
        bytes=sum(s.st_size for s in stats),
        allocated=sum(s.st_blocks * 512 for s in stats),
        files=len(files),
    )


def open_zarr(path, storage_options=None):
    import zarr

    if storage_options is None:
        return zarr.open_array(zarr.storage.LocalStore(path, read_only=True), mode="r")
    store = zarr.storage.FsspecStore.from_url(path, storage_options=storage_options, read_only=True)
    return zarr.open_array(store, mode="r")


def zarr_reader(array):
    return lambda idx: array.oindex[idx, :]


# ----------------------------------------------------------------- timing
def random_batches(n, batch_size, n_batches, rng):
    return [np.sort(rng.choice(n, batch_size, replace=False)) for _ in range(n_batches)]


def compare(readers, n, batch_size, n_batches, repeats, seed, reference):
    """Items/s of each reader (median of ``repeats`` rounds, readers alternating in each
    round over the same new batches) and whether each returned exactly what
    ``reference`` returns, batch for batch."""
    rng = np.random.default_rng(seed)
    rates = {name: [] for name in readers}
    same = dict.fromkeys(readers, True)
    for read in readers.values():  # warm-up: first reads open files, start loops
        read(np.sort(rng.choice(n, batch_size, replace=False)))
    for round_ in range(repeats):
        batches = random_batches(n, batch_size, n_batches, rng)
        expected = [reference(idx) for idx in batches] if round_ == 0 else None
        order = list(readers) if round_ % 2 == 0 else list(readers)[::-1]
        for name in order:
            read = readers[name]
            t0 = time.perf_counter()
            outs = [read(idx) for idx in batches]
            rates[name].append(n_batches * batch_size / (time.perf_counter() - t0))
            if expected is not None:
                same[name] = same[name] and all(
                    o.dtype == np.float32 and np.array_equal(o, e) for o, e in zip(outs, expected)
                )
    return {k: float(np.median(v)) for k, v in rates.items()}, same


# ----------------------------------------------------------------- RSS
def _rss_child(queue, kind, path, batch_size, n_batches):
    """In a fresh process: open the store or array, read ``n_batches`` random batches;
    the peak RSS growth from just before the open."""
    import mne
    import zarr  # noqa: F401  (every module imported before: the growth is the reads')

    from mne_specae import read_segments

    mne.set_log_level("error")
    before = reset_peak_rss()
    if kind == "store":
        store = read_segments(path)
        read, n = store.__getitem__, len(store)
    elif kind == "memory":
        data = read_segments(path)[:]
        read, n = data.__getitem__, len(data)
    else:
        array = open_zarr(path)
        read, n = zarr_reader(array), array.shape[0]
    checksum = 0.0
    for idx in random_batches(n, batch_size, n_batches, np.random.default_rng(1)):
        checksum += float(read(idx)[:, 0].sum())
    queue.put(dict(rss_mb=peak_rss() - before, checksum=checksum))


def rss_growth(kind, path, batch_size, n_batches):
    return in_fresh_process(_rss_child, kind, str(path), batch_size, n_batches)


# ----------------------------------------------------------------- report
def print_table(rows, order):
    shards, memory = rows[SHARDS], rows[MEMORY]
    print(
        f"\n{'format':28s} {'files':>6s} {'MB':>7s} {'/shards':>7s} {'items/s':>8s} "
        f"{'/shards':>7s} {'/memory':>7s} {'RSS+MB':>7s} {'S3 it/s':>8s} {'/shards':>7s} "
        "identical"
    )
    for name in order:
        row = rows[name]
        size = row.get("size")
        if size is None:  # in memory: the array's bytes
            mb = f"{memory['nbytes'] / 1e6:7.1f} {'':7s}"
        else:
            mb = f"{size['bytes'] / 1e6:7.1f} {size['bytes'] / shards['size']['bytes']:7.2f}"
        s3 = row.get("s3")
        s3_text = f"{'-':>8s} {'':7s}" if s3 is None else f"{s3:8.0f} {s3 / shards['s3']:7.2f}"
        print(
            f"{name:28s} {size['files'] if size else 0:6d} {mb} {row['rate']:8.0f} "
            f"{row['rate'] / shards['rate']:7.2f} {row['rate'] / memory['rate']:7.2f} "
            f"{row['rss']:7.0f} {s3_text} {row['same']}"
        )
    print(f"all identical: {all(rows[name]['same'] for name in order)}")


def versions():
    import mne
    import zarr

    import mne_specae

    text = (
        f"mne-specae {mne_specae.__version__}, zarr {zarr.__version__}, mne "
        f"{mne.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU core(s), {platform.machine()}, {platform.system()}"
    )
    try:
        import numcodecs
        import s3fs

        text += f", numcodecs {numcodecs.__version__}, s3fs {s3fs.__version__}"
    except ImportError:
        pass
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="an existing segment store (default: prepare one)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=200, help="batches per round, local")
    parser.add_argument("--s3-batches", type=int, default=20, help="batches per round, S3")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (median shown)")
    parser.add_argument("--s3-repeats", type=int, default=3)
    parser.add_argument("--rss-batches", type=int, default=200)
    parser.add_argument("--no-s3", action="store_true", help="leave object storage out")
    parser.add_argument("--smoke", action="store_true", help="tiny run (< 1 min)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.batches, args.s3_batches, args.rss_batches = 4, 2, 4
        args.repeats, args.s3_repeats = 2, 1
    import mne

    from mne_specae import prepare_segments, read_segments

    mne.set_log_level("error")
    print(versions())
    variants = SMOKE_VARIANTS if args.smoke else VARIANTS
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_format_"))
    moto = None
    try:
        if args.store:
            store = read_segments(args.store)
        else:
            files = recording_files(False)[: 2 if args.smoke else None]
            t0 = time.perf_counter()
            store = prepare_segments(files, tmp / "store", n_jobs=2, verbose="error")
            print(f"prepared {len(files)} sample files in {time.perf_counter() - t0:.0f} s")
        n, bs = len(store), args.batch_size
        in_memory = store[:]
        print(
            f"store {store.path}: {n} items x {store.n_times} samples float32 "
            f"({in_memory.nbytes / 1e6:.1f} MB), {len(store.files)} shard file(s)"
        )
        rows = {MEMORY: dict(nbytes=in_memory.nbytes), SHARDS: dict(size=disk_usage(store.path))}
        size = rows[SHARDS]["size"]
        print(
            f"the store's folder: {size['files']} file(s) (shards and tables), "
            f"{size['bytes'] / 1e6:.1f} MB ({size['allocated'] / 1e6:.1f} MB of disk blocks)"
        )
        arrays = {}
        for name, chunk_rows, compressed, shard in variants:
            path = tmp / name.replace(" ", "_").replace(",", "")
            t0 = time.perf_counter()
            write_zarr(store, path, chunk_rows, compressed, shard)
            rows[name] = dict(size=disk_usage(path), path=path)
            arrays[name] = open_zarr(path)
            size = rows[name]["size"]
            print(
                f"wrote {name:28s} in {time.perf_counter() - t0:5.1f} s: "
                f"{size['files']} file(s), {size['bytes'] / 1e6:.1f} MB "
                f"({size['allocated'] / 1e6:.1f} MB of disk blocks)"
            )
            same = np.array_equal(arrays[name][:], in_memory)
            print(f"  whole array equal to the store's items: {same}")
        order = [MEMORY, SHARDS, *arrays]

        print(
            f"\nlocal random reads: batches of {bs} sorted indices, {args.batches} per round, "
            f"{args.repeats} rounds alternating (order reversed every other round), median"
        )
        readers = {MEMORY: in_memory.__getitem__, SHARDS: store.__getitem__}
        readers.update({name: zarr_reader(a) for name, a in arrays.items()})
        rates, same = compare(
            readers, n, bs, args.batches, args.repeats, 0, reference=store.__getitem__
        )
        for name in order:
            rows[name].update(rate=rates[name], same=same[name])
            print(f"  {name:28s} {rates[name]:9.0f} items/s, identical: {same[name]}")

        print(f"\npeak RSS growth reading {args.rss_batches} batches, each in a fresh process:")
        for name in order:
            kind = {MEMORY: "memory", SHARDS: "store"}.get(name, "zarr")
            result = rss_growth(kind, rows[name].get("path", store.path), bs, args.rss_batches)
            rows[name]["rss"] = result["rss_mb"]
            print(f"  {name:28s} +{result['rss_mb']:6.1f} MB (checksum {result['checksum']:.6g})")

        if not args.no_s3:
            moto, url = start_moto()
            if moto is None:
                print(f"\n{url}")
            else:
                object_storage(rows, store, arrays, tmp, url, args)
        else:
            print("\nobject storage left out (--no-s3)")
        print_table(rows, order)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def object_storage(rows, store, arrays, tmp, url, args):
    import boto3

    from mne_specae import read_segments

    options = s3_options(url)
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="bench")
    print(f"\nobject storage: moto's S3 server at {url} (its own process)")
    seconds = upload(store.path, "bench/store", options)
    print(f"  uploaded the store in {seconds:.1f} s")
    readers = {SHARDS: read_segments("s3://bench/store", storage_options=options).__getitem__}
    for name in arrays:
        files = rows[name]["size"]["files"]
        if files > S3_MAX_OBJECTS:
            print(f"  {name}: {files} objects, not uploaded (one PUT each)")
            continue
        key = rows[name]["path"].name
        seconds = upload(rows[name]["path"], f"bench/{key}", options)
        print(f"  uploaded {name} ({files} objects) in {seconds:.1f} s")
        readers[name] = zarr_reader(open_zarr(f"s3://bench/{key}", options))
    print(
        f"  random reads: batches of {args.batch_size}, {args.s3_batches} per round, "
        f"{args.s3_repeats} round(s) alternating, median"
    )
    rates, same = compare(
        readers,
        len(store),
        args.batch_size,
        args.s3_batches,
        args.s3_repeats,
        2,
        reference=store.__getitem__,
    )
    for name, rate in rates.items():
        rows[name]["s3"] = rate
        rows[name]["same"] = rows[name]["same"] and same[name]
        print(f"  {name:28s} {rate:9.0f} items/s, identical: {same[name]}")


if __name__ == "__main__":
    sys.exit(main())
