"""Segment stores on the command line: ``mne-specae prepare``.

``prepare`` cuts every recording of the given files and folders (a BIDS root too) into
segments and writes them to a store (:func:`~mne_specae.prepare_segments`): in
parallel with ``--n-jobs``, resumable (run the same command again after a crash), with
unreadable files skipped and counted (``--strict`` stops instead).
"""

from __future__ import annotations

import sys


def _prepare(args):
    from .preparation import prepare_segments

    store = prepare_segments(
        args.sources, args.out, duration=args.duration, sfreq=args.sfreq,
        picks=args.picks.split(",") if args.picks else None, n_jobs=args.n_jobs,
        subject=args.subject_pattern, overwrite=args.overwrite, strict=args.strict,
        verbose="error" if args.quiet else None)
    skipped = store.manifest.get("skipped", [])
    counts = store.metadata["signal_type"].value_counts().to_dict()
    print(f"{store.path}: {len(store)} items ({', '.join(f'{k} {v}' for k, v in counts.items())})"
          f" from {len(store.files)} file(s); {len(skipped)} skipped in this run",
          file=sys.stdout)
    return 0


def add_prepare_parser(sub, fmt):
    """The ``prepare`` subcommand (returns its parser)."""
    prepare = sub.add_parser(
        "prepare", formatter_class=fmt, help="cut recordings into a segment store on disk",
        description="Cut every ECG, EEG and EMG recording of the given files and folders "
                    "(any format the package reads; a BIDS root too) into segments and "
                    "write them to a segment store (mne_specae.read_segments opens it). "
                    "Running the same command again continues an interrupted run and "
                    "skips the files already there.")
    prepare.add_argument("sources", nargs="+", help="files or folders")
    prepare.add_argument("--out", required=True, help="the store folder")
    prepare.add_argument("--n-jobs", type=int, default=1,
                         help="files prepared in parallel (-1: every core)")
    prepare.add_argument("--duration", type=float, default=5.0, help="segment length in s")
    prepare.add_argument("--sfreq", type=float, default=512.0, help="sampling rate in Hz")
    prepare.add_argument("--picks", default=None,
                         help="channels or types, comma-separated (default: ECG, EEG, EMG)")
    prepare.add_argument("--subject-pattern", default=None,
                         help="regular expression whose first group in a file name is the "
                              "subject (default: the BIDS sub- entity or the file)")
    prepare.add_argument("--strict", action="store_true",
                         help="stop at a file that cannot be read instead of skipping it")
    prepare.set_defaults(func=_prepare)
    return prepare
