"""Build, check, summarise and segment the pretraining corpus.

# the corpus folder from local git mirrors (<owner>+<name>/repo), every sha256 checked
python scripts/build_corpus.py --mirror /work/.mirror --out /work/corpus
# ... or by download from the table's URLs
python scripts/build_corpus.py --out /work/corpus
# channel-hours per source, type and kind
python scripts/build_corpus.py --out /work/corpus --summary
# the segment store (5 s at 512 Hz) for training, with type/kind/dataset columns
python scripts/build_corpus.py --out /work/corpus --prepare /work/corpus_store
# maintainers: rewrite mne_specae/datasets/corpus_files.tsv from the mirrors
python scripts/build_corpus.py --register --mirror /work/.mirror
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from mne_specae.datasets._corpus_build import git_blob, mirror_git_dir
from mne_specae.datasets._corpus_sources import CORPUS_SOURCES, is_reserved, select_paths
from mne_specae.datasets.corpus import TABLE_COLUMNS, build_corpus, corpus_summary

TABLE = Path(__file__).resolve().parents[1] / "mne_specae" / "datasets" / "corpus_files.tsv"


def _tree(git_dir, commit):
    """``{path: (blob, size or None)}`` of a commit (size None: not in the snapshot)."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-l", commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tree = {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        _, kind, blob, size = meta.split()
        if kind == "blob":
            tree[path] = (blob, None if size in ("-", "BAD") else int(size))
    return tree


def register(mirror, table=TABLE):
    """Rewrite the corpus table from the mirrors: the files each source's rule selects,
    present in the snapshot, with their sha256 and size."""
    rows, absent = [], []
    for key, src in CORPUS_SOURCES.items():
        git_dir = mirror_git_dir(mirror, src.repo)
        tree = _tree(git_dir, src.commit)
        for sel in select_paths(key, tree):
            blob, size = tree[sel["path"]]
            present = subprocess.run(
                ["git", "--git-dir", str(git_dir), "cat-file", "-e", blob], capture_output=True
            )
            if size is None or present.returncode:
                absent.append(f"{key}: {sel['path']}")
                continue
            data = git_blob(git_dir, src.commit, sel["path"])
            if sel["format"] == "muse_csv" and not data.startswith(b"timestamps,TP9"):
                print(f"  not a Muse recording, left out: {sel['path']}")
                continue
            assert not is_reserved(sel["path"]) and not is_reserved(sel["relpath"])
            rows.append(
                dict(
                    source=key,
                    subject=sel["subject"],
                    relpath=sel["relpath"],
                    repo=src.repo,
                    commit=src.commit,
                    path=sel["path"],
                    url=f"https://raw.githubusercontent.com/{src.repo}/{src.commit}/"
                    + quote(sel["path"]),
                    sha256=hashlib.sha256(data).hexdigest(),
                    bytes=len(data),
                    licence=src.licence,
                    format=sel["format"],
                )
            )
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    _drop_orphans(frame)
    frame.to_csv(table, sep="\t", index=False, lineterminator="\n")
    print(f"{len(frame)} files registered in {table}; {len(absent)} absent from the snapshots:")
    for line in absent:
        print(f"  {line}")
    print(frame.groupby("source").agg(files=("relpath", "size"), bytes=("bytes", "sum")))
    return frame


def _drop_orphans(frame):
    """A WFDB header whose signal file is absent, or the reverse, is left out whole."""
    stems = frame["relpath"].str.rsplit(".", n=1).str[0].str.replace(r"_[epr]$", "", regex=True)
    wfdb = frame["source"].isin(["cinc2015", "mitdb_more", "wfdb_samples"])
    counts = stems[wfdb].value_counts()
    lonely = set(counts[counts < 2].index)
    if lonely:
        print(f"  WFDB records missing a file, left out: {sorted(lonely)}")
        frame.drop(frame.index[wfdb & stems.isin(lonely)], inplace=True)


def summary_rst(summary):
    """The summary as a reST list-table (doc/corpus_hours.inc)."""
    columns = ["source", "type", "kind", "recordings", "subjects", "channels", "hours", "sfreq"]
    lines = [
        ".. list-table:: Channel-hours per source, MNE type and kind (``corpus_summary``;",
        "   ``channels`` counts channel-recordings, ``sfreq`` the native rates in Hz)",
        "   :header-rows: 1",
        "",
        "   * - " + "\n     - ".join(columns),
    ]
    for row in summary.itertuples():
        cells = [f"``{row.source}``", row.type, row.kind, row.recordings, row.subjects]
        cells += [row.channels, f"{row.hours:.2f}", row.sfreq]
        lines.append("   * - " + "\n     - ".join(map(str, cells)))
    per_source = summary.groupby("source")["hours"].sum()
    total = ", ".join(f"{k} {v:.1f}" for k, v in per_source.items())
    lines += ["", f"Channel-hours per source: {total}; in all {per_source.sum():.1f}.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--out", help="the corpus folder (default: MNE_SPECAE_CORPUS or ~/mne_specae_data/corpus)"
    )
    parser.add_argument("--mirror", help="folder of git mirrors <owner>+<name>/repo")
    parser.add_argument("--sources", nargs="+", help="only these sources")
    parser.add_argument("--summary", action="store_true", help="print channel-hours")
    parser.add_argument("--rst", metavar="FILE", help="with --summary: also write it as reST")
    parser.add_argument("--prepare", metavar="STORE", help="write the segment store here")
    parser.add_argument(
        "--max-per-source",
        type=int,
        default=30000,
        help="cap of the balanced column (prepare_corpus)",
    )
    parser.add_argument(
        "--from-store",
        metavar="FULL",
        help="with --prepare: a smaller store, each dataset's recordings cropped to their "
        "central part so that it has about --max-per-source items (counts from the store "
        "FULL of the whole corpus)",
    )
    parser.add_argument("--register", action="store_true", help="rewrite the corpus table")
    args = parser.parse_args(argv)
    if args.register:
        if not args.mirror:
            parser.error("--register needs --mirror")
        register(args.mirror)
        return 0
    t0 = time.perf_counter()
    if not (args.summary or args.prepare) or args.mirror:
        folder = build_corpus(args.out, mirror=args.mirror, sources=args.sources, verbose="info")
        print(f"corpus built and verified in {folder} ({time.perf_counter() - t0:.0f} s)")
    if args.summary:
        t0 = time.perf_counter()
        summary = corpus_summary(args.out, sources=args.sources, verbose="error")
        with pd.option_context("display.width", 200, "display.max_rows", 200):
            print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
            print(summary.groupby("source")["hours"].sum().round(2).to_string())
            print(f"total channel-hours: {summary['hours'].sum():.1f}")
        if args.rst:
            Path(args.rst).write_text(summary_rst(summary))
        print(f"({time.perf_counter() - t0:.0f} s)")
    if args.prepare:
        from mne_specae import read_segments
        from mne_specae.stores.corpus import prepare_corpus, source_fractions

        fractions = None
        if args.from_store:
            full = read_segments(args.from_store).metadata
            fractions = source_fractions(full, args.max_per_source)
            print(f"fractions kept: { {k: round(v, 3) for k, v in fractions.items()} }")
        t0 = time.perf_counter()
        store = prepare_corpus(
            args.prepare,
            corpus=args.out,
            sources=args.sources,
            max_per_source=args.max_per_source,
            fractions=fractions,
            verbose="info",
        )
        print(f"{store} ({time.perf_counter() - t0:.0f} s)")
        md = store.metadata
        print(md.groupby(["dataset", "signal_type", "kind"]).size().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
