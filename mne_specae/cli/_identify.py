"""Channel types on the command line: ``mne-specae identify``, and the check of
``train`` and ``embed``.

``identify`` reads each recording with all its channels (the package's readers, types
as the file gives them), asks :func:`~mne_specae.identify_channel_types` which MNE type
each channel's signal is (``ecg``, ``eeg``, ``emg``, ``eog``, ``resp``, ``bio``,
``gsr``, ``temperature``, ``misc``, ``stim``; the kind after a slash, e.g.
``bio/ppg``), prints one table per file, and with ``--apply`` writes a copy with the
corrected types (``<name>-raw.fif``; the table's ``ch_type``: channels predicted
``unknown`` keep theirs; units follow MNE's types). A file that cannot be read, whatever
the reader raises, is skipped with a warning and counted, the later files are still
processed, and the exit status is then 1 (``--strict``: stop at it, status 2).
``train`` and ``embed`` warn, one line per channel, when a channel's type (from its
name, the file or ``--channel-types``) and its signal disagree, whenever a model with
a signal-type head is at hand: the model of ``embed`` when it has one, the pretrained
encoder for ``train``. Missing pretrained weights (a development tree) skip the check
with one line; they never stop a job. ``--model`` takes a model file or a pretrained
encoder's name (:func:`~mne_specae.pretrained.loading.resolve_model`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ..pretrained.loading import resolve_model
from ..utils._files import file_stem
from ._args import positive_int

#: Windows per channel that the train/embed check looks at (a quick look).
CHECK_SEGMENTS = 10
#: Columns of the table that ``identify`` prints.
TABLE_COLUMNS = ("type", "predicted", "probability", "second", "n_segments", "sfreq", "reason")
_READ_ERRORS = (ValueError, OSError, RuntimeError, KeyError, IndexError)


def _first_line(err):
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def read_failure(err, fname):
    """The one-line reason a file could not be used: the error's first line without
    the file name; errors no reader documents (a ``TypeError`` deep in a library)
    keep their type, so a bug report can be told from a bad file."""
    reason = _first_line(err)
    for prefix in (f"{fname}: ", f"{Path(fname).name}: "):
        reason = reason.removeprefix(prefix)
    if not isinstance(err, _READ_ERRORS) and not reason.startswith(type(err).__name__):
        reason = f"{type(err).__name__}: {reason}"
    return reason


def _stem(path):
    """The recording's name: ``x`` for ``x.edf``, ``x-raw.fif`` and ``x_raw.fif.gz``."""
    name = Path(path).name
    stem = file_stem(name)
    if ".fif" in name.lower():
        for tail in ("-raw", "_raw"):
            stem = stem.removesuffix(tail)
    return stem


# --------------------------------------------------------------- the models
def _load_identify_model(args):
    """The model of ``identify``: ``--model FILE`` (with a calibration), else the
    pretrained encoder."""
    if args.model is not None:
        model = resolve_model(args.model, device=args.device, item_name="--model")
        if getattr(model, "calibration_", None) is None:
            raise ValueError(
                f"{args.model} has no signal-type head (calibration_): fit one with "
                "mne_specae.calibrate(model, labelled_epochs) and save the model again, "
                "or leave out --model to use the pretrained encoder."
            )
        return model
    from ..pretrained.loading import load_pretrained

    try:
        return load_pretrained(device=args.device, verbose=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{_first_line(err)} Or pass --model FILE: a model file "
            "with a signal-type head (mne_specae.calibrate)."
        ) from err


def check_model(args, model=None):
    """The model that checks channel types while ``train`` or ``embed`` read, or ``None``.

    ``embed`` passes its model: used when it has a calibration. ``train`` passes
    ``None``: the pretrained encoder (package data, no download); when it is missing
    or unusable, one line says the check is skipped.
    """
    if not args.check_types:
        return None
    if model is not None:
        return model if getattr(model, "calibration_", None) is not None else None
    from ..pretrained.loading import load_pretrained

    try:
        return load_pretrained(verbose=False)
    except (FileNotFoundError, ValueError, OSError) as err:
        if not args.quiet:
            print(
                f"Channel-type check skipped: no usable pretrained encoder "
                f"({_first_line(err).rstrip('.')}). --no-check-types turns it off."
            )
        return None


def warn_type_mismatches(fname, epochs, model, *, quiet):
    """One warning per channel whose signal says another type than it has.

    Only confident predictions count (not ``"unknown"``); the check's own warnings
    (a low sampling rate, segments shorter than the model's window) are kept out:
    channels it cannot judge are simply not reported.

    Returns
    -------
    mismatches : list of tuple
        ``(channel, type, predicted, probability)``.
    """
    from mne.utils import warn

    from ..pretrained.channel_types import UNKNOWN, identify_channel_types

    found = []
    for ep in epochs:
        fmax = getattr(model.input_stage_, "fmax", None)
        if fmax is not None and ep.info["sfreq"] / 2 < fmax:
            continue  # the model would see an empty band: no reliable answer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = identify_channel_types(
                ep, model=model, max_segments=CHECK_SEGMENTS, verbose=False
            )
        for ch, row in table.iterrows():
            if row["predicted"] not in (UNKNOWN, row["type"]):
                found.append((ch, row["type"], row["predicted"], row["probability"]))
    if not quiet:
        for ch, kind, predicted, proba in found:
            warn(
                f"{fname}: channel {ch} is typed {kind} but its signal looks like "
                f"{predicted} (probability {proba:.2f}); if it is, pass --channel-types "
                f"{ch}={predicted}"
            )
    return found


# ------------------------------------------------------------------ identify
def _identify_targets(args, files):
    """``{file: <out>/<name>-raw.fif}`` for ``--apply``, checked before any work."""
    if not args.apply:
        return {}
    from ._outputs import check_folder_out

    out = check_folder_out(
        args.out, "with --apply it is the folder of the corrected -raw.fif files"
    )
    targets, owners = {}, {}
    for fname in files:
        target = out / f"{_stem(fname)}-raw.fif"
        if target.resolve() == Path(fname).resolve():
            raise ValueError(f"--apply would write over the input {fname}; choose another --out.")
        if target in owners:
            raise ValueError(
                f"{owners[target]} and {fname} would both be written to "
                f"{target}; pass them in separate runs with different --out."
            )
        if target.exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite or choose another --out.")
        targets[fname], owners[target] = target, fname
    return targets


def format_table(table):
    """The printed table: channel, type, predicted (with its kind: ``bio/ppg``),
    probability, second, n_segments, sfreq (the rate the channel was judged at: a slow
    channel upsampled when its file was read shows its own), reason."""
    shown = table.loc[:, list(TABLE_COLUMNS)].copy()
    if "kind" in table:
        kind = table["kind"].fillna("").astype(str)
        shown["predicted"] = shown["predicted"].where(kind == "", shown["predicted"] + "/" + kind)
    shown["reason"] = shown["reason"].fillna("")
    return shown.to_string(
        float_format=lambda v: f"{v:.2f}", formatters={"sfreq": "{:g}".format}, na_rep="-"
    )


def identify(args):
    """``mne-specae identify``: one table per file; ``--apply`` writes corrected copies."""
    from ..datasets.readers import read_raw
    from ..pretrained.channel_types import UNKNOWN, identify_channel_types
    from ..stores._discovery import Skipped, find_recordings

    files = find_recordings(args.files)
    targets = _identify_targets(args, files)  # before any work
    model = _load_identify_model(args)
    skipped, n_channels, n_changed = Skipped(), 0, 0
    for fname in files:
        what = "cannot be read"
        try:
            raw = read_raw(fname, unknown_units="keep", verbose=False)
            what = "cannot be identified"
            table = identify_channel_types(raw, model=model, max_segments=args.max_segments)
        except Exception as err:  # any reader's failure: this file only (--strict: stop)
            skipped.add(fname, f"{what} ({read_failure(err, fname)})", strict=args.strict)
            continue
        print(f"{fname}: {len(table)} channel(s)\n{format_table(table)}\n")
        n_channels += len(table)
        fixes = {
            ch: row["predicted"]
            for ch, row in table.iterrows()
            if row["predicted"] not in (UNKNOWN, row["type"])
        }
        n_changed += len(fixes)
        if args.apply:
            if fixes:  # the units follow the new types (V, NA, S, C), MNE's rules
                raw.set_channel_types(fixes, on_unit_change="ignore", verbose=False)
            targets[fname].parent.mkdir(parents=True, exist_ok=True)
            raw.save(targets[fname], overwrite=args.overwrite, verbose=False)
            listed = ", ".join(
                f"{ch} {table.at[ch, 'type']} -> {kind}" for ch, kind in fixes.items()
            )
            print(
                f"Wrote {targets[fname]} ({len(fixes)} type(s) changed"
                + (f": {listed})" if fixes else ")")
            )
    if skipped.files and not args.quiet:
        print(skipped.summary(), file=sys.stderr)
    n_read = len(files) - len(skipped.files)
    if not n_read:
        raise ValueError(f"None of the {len(files)} file(s) could be read.")
    if not args.quiet:
        print(
            f"Identified {n_channels} channel(s) in {n_read} of {len(files)} file(s); "
            f"{n_changed} predicted type(s) differ from the file's"
            + ("" if args.apply or not n_changed else " (--apply writes corrected copies)")
        )
    if skipped.files:  # the others were processed; the exit status still says so
        print(
            f"mne-specae identify: {len(skipped.files)} of {len(files)} file(s) could not "
            "be used (exit status 1)",
            file=sys.stderr,
        )
        return 1
    return 0


def add_identify_parser(sub, formatter):
    """The ``identify`` sub-command's options."""
    parser = sub.add_parser(
        "identify",
        formatter_class=formatter,
        help="name each channel's MNE type from its signal",
        description="Read recordings with all their channels, name each channel's MNE "
        "type from its signal (ecg, eeg, emg, eog, resp, bio, gsr, temperature, misc, "
        "stim; mne_specae.identify_channel_types; the kind after a slash, e.g. bio/ppg) "
        "and print one table per file; with --apply, write a copy of each "
        "with the predicted types (<name>-raw.fif; channels predicted "
        "'unknown' keep theirs). Types beyond ECG, EEG, EMG and stim need a model "
        "with a channel-type head (mne_specae.calibrate_types).",
    )
    parser.add_argument(
        "files",
        nargs="+",
        help="recordings or folders (EDF, BDF, FIF, BrainVision, EEGLAB, "
        "WFDB .hea or bare record names, BioSPPy and UCI text)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model file with a signal-type head (mne_specae.calibrate), "
        "or a pretrained name; default: the pretrained encoder",
    )
    parser.add_argument(
        "--apply", action="store_true", help="write <name>-raw.fif with the corrected channel types"
    )
    parser.add_argument("--out", default=".", help="folder of the --apply files")
    parser.add_argument(
        "--max-segments",
        type=positive_int,
        default=30,
        help="windows per channel at most (evenly spread)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="where to run (default: the model's device if present, else auto)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at a file that cannot be read instead of skipping it",
    )
    parser.set_defaults(func=identify)
    return parser
