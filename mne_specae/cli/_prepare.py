"""Segment stores on the command line: ``mne-specae prepare``, and a store as the
input of ``train`` and ``embed``.

``prepare`` cuts every recording of the given files and folders (a BIDS root too) into
segments and writes them to a store (:func:`~mne_specae.prepare_segments`): in
parallel with ``--n-jobs``, resumable (run the same command again after a crash), with
unreadable files skipped and counted (``--strict`` stops instead).

``train`` and ``embed`` take such a store (a folder with ``manifest.json``) in place
of recordings: ``train`` fits on its items (streamed from disk), ``embed`` writes the
embedding columns into the store's metadata (``--out table.csv``: also a table). Sources,
``--out`` and a store may be URLs (``s3://bucket/store/``, through fsspec), with
``--storage-option KEY=VALUE`` (repeatable) for what reaches them; ``embed`` writes
into a store at a URL as into a local one (new tables uploaded, then the manifest:
all or nothing). The
options that choose and cut recordings (``--picks``, ``--channel-types``, ...) were
``prepare``'s business and are refused with a store.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ._args import add_storage_option, n_jobs, non_negative_float, positive_float, storage_options

#: Options of ``train``/``embed`` that only apply to recordings (prepare's settings).
_RECORDING_OPTIONS = ("picks", "channel_types", "subject_pattern", "keep_unknown_units")


def store_input(args):
    """The segment store named by ``args.files``, or ``None`` when they are recordings.

    A store is a folder with ``manifest.json``; it must come alone, without the
    options that choose and cut recordings.
    """
    from ..stores._remote import is_url
    from ..stores.store import MANIFEST, read_segments

    options = storage_options(args, args.files)
    stores = [p for p in args.files if is_url(p) or (Path(p) / MANIFEST).is_file()]
    if not stores:
        return None
    if len(args.files) > 1:
        raise ValueError(
            f"{stores[0]} is a segment store: pass one store, or recordings "
            "(files and folders), not both."
        )
    for option in _RECORDING_OPTIONS:
        if getattr(args, option, None):
            flag = "--" + option.replace("_", "-")
            raise ValueError(
                f"{flag} applies to recordings; the store {stores[0]} was cut "
                f"by 'mne-specae prepare' (prepare it again with {flag})."
            )
    cache = getattr(args, "cache", None)
    if not is_url(stores[0]):
        if cache is not None:
            raise ValueError(
                f"--cache applies to a store at a URL; {stores[0]} is read in place: "
                "leave --cache out."
            )
        return read_segments(stores[0])
    try:
        return read_segments(
            stores[0],
            storage_options=options,
            cache=cache,
            cache_size=getattr(args, "cache_size", None),
        )
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{err} {args.command} reads a URL as a segment store only; for recordings "
            f"at a URL, prepare a store first: mne-specae prepare {stores[0]} --out <store>."
        ) from err


def check_store_settings(store, *, duration=None, sfreq=None, what="--"):
    """Refuse a segment length or rate that differs from the store's."""
    for name, given, held in (
        ("duration", duration, store.duration),
        ("sfreq", sfreq, store.sfreq),
    ):
        if given is not None and not np.isclose(given, held):
            raise ValueError(
                f"{store.path}: the store holds segments of {store.duration:g} s at "
                f"{store.sfreq:g} Hz (set by prepare); {what}{name} {given:g} does not "
                "match" + (": leave it out, or prepare another store." if what == "--" else ".")
            )


def embed_store(args, store):
    """``embed`` of a store: embedding columns into its metadata (and ``--out``)."""
    from ..pretrained.loading import resolve_model
    from ..stores.store import read_segments
    from ._outputs import check_new

    out = None
    where = getattr(store, "url", store.path)  # a store at a URL: its URL
    if args.out is not None:
        out = Path(args.out)
        if out.suffix.lower() != ".csv":
            raise ValueError(
                f"with a store, --out is a .csv table (the embeddings also go "
                f"into the store's metadata); got {out}."
            )
        check_new(out, args.overwrite, "output")
    prefix = "specae_"
    if any(str(c).startswith(prefix) for c in store.columns) and not args.overwrite:
        raise FileExistsError(
            f"The store {where} already holds '{prefix}*' columns "
            "(an earlier embed); pass --overwrite to replace them."
        )
    model = resolve_model(args.model, device=args.device, item_name="--model")
    check_store_settings(
        store, duration=model.n_times_ / model.sfreq_, sfreq=model.sfreq_, what="the model's "
    )
    model.add_embeddings(store, prefix=prefix, verbose="warning" if args.quiet else None)
    if out is not None:  # streamed, from the new tables
        reopened = read_segments(where, storage_options=getattr(store, "storage_options", None))
        reopened.to_csv(out, overwrite=True, verbose="error")
    print(
        f"Embedded the {len(store)} items of the store {where}"
        + (f"; wrote {out}" if out is not None else " (columns in its metadata)")
    )
    return 0


def _prepare(args):
    import warnings

    from ..stores.preparation import prepare_segments

    with warnings.catch_warnings():
        # the run's summary is printed below, as a result: not as a warning
        warnings.filterwarnings("ignore", message=r"prepare_segments: .* file\(s\) added")
        store = prepare_segments(
            args.sources,
            args.out,
            duration=args.duration,
            sfreq=args.sfreq,
            picks=args.picks.split(",") if args.picks else None,
            n_jobs=args.n_jobs,
            subject=args.subject_pattern,
            overwrite=args.overwrite,
            strict=args.strict,
            progress=not args.quiet,  # --quiet: no bar, the warnings still shown
            storage_options=storage_options(args, [*args.sources, args.out]),
            stale_lock=args.stale_lock,
        )
    skipped = store.manifest.get("skipped", [])
    where = getattr(store, "url", store.path)
    if not len(store):
        raise ValueError(
            f"no segment could be made: {len(skipped)} of "
            f"{len(skipped) + len(store.files)} file(s) skipped and the store "
            f"{where} holds no item (see the warnings above)."
        )
    counts = store.read_columns("signal_type")["signal_type"].value_counts().to_dict()
    print(
        f"{where}: {len(store)} items ({', '.join(f'{k} {v}' for k, v in counts.items())})"
        f" from {len(store.files)} file(s); {len(skipped)} skipped in this run",
        file=sys.stdout,
    )
    return 0


def add_prepare_parser(sub, fmt):
    """The ``prepare`` subcommand (returns its parser)."""
    prepare = sub.add_parser(
        "prepare",
        formatter_class=fmt,
        help="cut recordings into a segment store on disk",
        description="Cut every ECG, EEG and EMG recording of the given files and folders "
        "(any format the package reads; a BIDS root too) into segments and "
        "write them to a segment store (mne_specae.read_segments opens it). "
        "Running the same command again continues an interrupted run and "
        "skips the files already there.",
    )
    prepare.add_argument(
        "sources", nargs="+", help="files or folders, or URLs of them (s3://bucket/recordings/)"
    )
    prepare.add_argument(
        "--out", required=True, help="the store folder, or a URL (s3://bucket/store/)"
    )
    add_storage_option(prepare)
    prepare.add_argument(
        "--stale-lock",
        type=non_negative_float,
        default=900.0,
        metavar="SECONDS",
        help="a store at a URL: take over its lock once it was not refreshed for this "
        "long (a killed writer's); 0: take over any lock, only when its writer is gone",
    )
    prepare.add_argument(
        "--n-jobs", type=n_jobs, default=1, help="files prepared in parallel (-1: every core)"
    )
    prepare.add_argument("--duration", type=positive_float, default=5.0, help="segment length in s")
    prepare.add_argument("--sfreq", type=positive_float, default=512.0, help="sampling rate in Hz")
    prepare.add_argument(
        "--picks", default=None, help="channels or types, comma-separated (default: ECG, EEG, EMG)"
    )
    prepare.add_argument(
        "--subject-pattern",
        default=None,
        help="regular expression whose first group in a file name is the "
        "subject (default: the BIDS sub- entity or the file)",
    )
    prepare.add_argument(
        "--strict",
        action="store_true",
        help="stop at a file that cannot be read instead of skipping it",
    )
    prepare.set_defaults(func=_prepare)
    return prepare
