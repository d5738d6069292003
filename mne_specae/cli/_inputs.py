"""The recordings ``train`` and ``embed`` read: their options, files or folders -> Epochs."""

from __future__ import annotations

import sys

from ._identify import read_failure


def progress(iterable, args, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=args.quiet, file=sys.stderr, **kwargs)


def read_inputs(args, duration, sfreq, type_model=None):
    """Files or folders -> Epochs, one per file and signal type; skipped files counted.

    With ``type_model`` (a model with a calibration), channels whose type and signal
    disagree are warned about, file by file.
    """
    from ..datasets.channels import parse_channel_types
    from ..stores._discovery import Skipped, find_recordings, recording_names, segments_of_file
    from ._identify import warn_type_mismatches

    files = find_recordings(args.files)
    names = recording_names(files, args.files)  # unique: s1/rest and s2/rest are two
    channel_types = parse_channel_types(args.channel_types) if args.channel_types else None
    picks = args.picks.split(",") if args.picks else None
    skipped, epochs = Skipped(), []
    for fname in progress(files, args, desc="Reading", unit="file"):
        try:
            found = segments_of_file(
                fname,
                duration=duration,
                sfreq=sfreq,
                picks=picks,
                channel_types=channel_types,
                subject_pattern=args.subject_pattern,
                unknown_units="keep" if args.keep_unknown_units else "skip",
                recording=names[fname],
            )
        except Exception as err:  # any reader's failure: this file only (--strict: stop)
            skipped.add(fname, f"cannot be read ({read_failure(err, fname)})", strict=args.strict)
            continue
        if not found:
            skipped.add(
                fname,
                "no ECG, EEG or EMG channel" + (f" after --picks {args.picks}" if picks else ""),
                strict=args.strict,
            )
        if found and type_model is not None:
            warn_type_mismatches(fname, found, type_model, quiet=args.quiet)
        epochs += found
    if skipped.files and not args.quiet:
        print(skipped.summary(), file=sys.stderr)
    if not epochs:
        raise ValueError(f"None of the {len(files)} file(s) gave ECG, EEG or EMG segments.")
    subjects = {s for ep in epochs for s in ep.metadata["subject"]}
    if not args.quiet:
        print(
            f"Read {len(files) - len(skipped.files)} of {len(files)} file(s): "
            f"{sum(len(ep) for ep in epochs)} segments, {len(subjects)} subject(s)"
            + (
                ""
                if args.subject_pattern or len(subjects) < len(files)
                else " (one per file: set --subject-pattern if several files are one person)"
            )
        )
    return epochs


def add_input_options(parser):
    parser.add_argument(
        "files",
        nargs="+",
        help="recordings or folders (EDF, BDF, FIF, BrainVision, EEGLAB, "
        "WFDB .hea/.mat or bare record names, BioSPPy and UCI text), "
        "or one segment store (the folder 'prepare' wrote, or its URL: "
        "s3://bucket/store/, with --storage-option)",
    )
    parser.add_argument(
        "--picks",
        default=None,
        help="channels to use: names or types, comma-separated "
        "(e.g. 'eeg' or 'Fz,Cz,Pz'); default: every ECG, EEG and EMG "
        "channel not marked bad",
    )
    parser.add_argument(
        "--channel-types",
        default=None,
        metavar="NAME=type,...",
        help="set or correct channel types, e.g. 'ECG=ecg,EMG1=emg' "
        "(types that names contradict are corrected with a warning)",
    )
    parser.add_argument(
        "--subject-pattern",
        default=None,
        metavar="REGEX",
        help="regular expression on the file name whose group is the "
        r"subject, e.g. '(Subject\d+)' for Subject00_1.edf; default: "
        "the BIDS 'sub-' entity, else the reader's (record or file name)",
    )
    parser.add_argument(
        "--keep-unknown-units",
        action="store_true",
        help="keep WFDB signals that are not in volts (as misc channels) instead of skipping them",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at a file that cannot be read instead of skipping it",
    )
