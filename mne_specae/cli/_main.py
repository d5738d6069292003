"""The ``mne-specae`` command line: ``demo``, ``train``, ``embed``, ``identify``,
``prepare`` and ``info``.

``demo`` runs the main job on the bundled sample recordings; ``train`` and ``embed``
serve lab scripts and batch jobs on any recordings MNE (or this package) reads, or on
a segment store that ``prepare`` wrote (``cli/_prepare.py``); ``embed
--model`` takes a model file or a pretrained encoder's name (``biosignals``);
``identify`` tells ECG, EEG and EMG channels apart from their signals and prints a
table per file (``--apply`` writes copies with the corrected types); ``prepare`` cuts
files and folders into a segment store on disk; ``info`` prints what a bug report
needs. Numbers are checked as the options are parsed, and every output path before
any data is read (``--overwrite`` governs them all; an ``--out`` of the wrong kind, a
``.txt`` where a table, an -epo.fif or a folder is written, is refused); unreadable
files are skipped with a warning and counted (``--strict``: an error); progress is
shown unless ``--quiet``. While ``train`` and ``embed`` read, a channel whose type and
signal disagree gets a one-line warning (``--no-check-types``: no check; see
``cli/_identify.py``). Errors end with exit status 2 and the reason, which
names the file (its first line; later lines, e.g. what differs from a checkpoint,
follow in full); ``identify`` ends with status 1 when it skipped a file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mne

from .._version import __version__
from ..estimator.metadata import metadata_table
from ..presets import RECOMMENDED
from ..pretrained.loading import resolve_model
from ._args import add_storage_option, positive_float, positive_int
from ._identify import add_identify_parser, check_model
from ._inputs import add_input_options, progress, read_inputs
from ._outputs import (
    check_file_out,
    check_folder_out,
    check_new,
    describe_written,
    embed_out_kind,
    embed_targets,
    write_csv,
)
from ._prepare import add_prepare_parser, check_store_settings, embed_store, store_input

#: Segment length (s) and rate (Hz) of train when neither the options nor a store say.
DURATION, SFREQ = 5.0, 512.0


def _train(args):
    from ..estimator.specae import SpecAE

    out = check_new(
        check_file_out(args.out, "train", "model file", "model.specae"),
        args.overwrite,
        "model file",
    )
    if args.checkpoint and Path(args.checkpoint).exists() and not args.resume:
        raise FileExistsError(
            f"The checkpoint {args.checkpoint} exists: pass --resume to "
            "continue that run, or delete it."
        )
    store = store_input(args)
    if store is not None:
        check_store_settings(store, duration=args.duration, sfreq=args.sfreq)
        where = getattr(store, "url", store.path)  # a store at a URL: its URL
        data, what = store, f"the {len(store)} items of the store {where}"
    else:
        data = read_inputs(args, args.duration or DURATION, args.sfreq or SFREQ, check_model(args))
        what = f"{sum(len(ep) for ep in data)} segments from {len(data)} recording(s)"
    chosen = dict(
        max_epochs=args.max_epochs, batch_size=args.batch_size, filters=args.filters, fmax=args.fmax
    )
    ae = SpecAE(
        **{k: v for k, v in chosen.items() if v is not None},
        device=args.device,
        random_state=args.seed,
        checkpoint=args.checkpoint,
        resume=args.resume,
        verbose="warning" if args.quiet else "info",
    )
    ae.fit(data)
    fname = ae.save(out, overwrite=args.overwrite)
    print(
        f"Trained on {what}; best epoch "
        f"{ae.history_.best_epoch} (val loss {ae.history_.best_loss:.4f}); wrote {fname}"
    )
    return 0


def _embed(args):
    store = store_input(args)
    if store is not None:
        return embed_store(args, store)
    if args.out is None:
        raise ValueError(
            "--out is required for recordings (a .csv table, an -epo.fif "
            "file or a folder); only a store can do without it."
        )
    out = Path(args.out)
    kind = embed_out_kind(out)  # a name of the wrong kind is refused before any work
    check_new(out, args.overwrite, "output")
    ae = resolve_model(args.model, device=args.device, item_name="--model")
    duration = ae.n_times_ / ae.sfreq_
    epochs = read_inputs(args, duration, ae.sfreq_, check_model(args, ae))
    targets = embed_targets(out, epochs, args.overwrite)  # before the long work
    for ep in progress(epochs, args, desc="Embedding", unit="recording"):
        ae.add_embeddings(ep, verbose="warning")
    if kind == "csv":
        write_csv(metadata_table(epochs), out)
    else:
        if kind == "folder":
            out.mkdir(parents=True, exist_ok=True)
        for ep in epochs:
            ep.save(targets[id(ep)], overwrite=args.overwrite, verbose=False)
    print(
        f"Embedded {sum(len(ep) for ep in epochs)} segments; wrote {describe_written(out, targets)}"
    )
    return 0


def _info(args):
    from ..utils._devices import resolve_device
    from ._info import system_info

    print(system_info(resolve_device))
    return 0


def _demo(args):
    from ._demo import run_demo

    check_new(
        check_folder_out(args.out, "demo writes several files into it"), args.overwrite, "output"
    )
    return run_demo(args)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless the help text already says it (or it is off)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    fmt = _Formatter
    parser = argparse.ArgumentParser(
        prog="mne-specae",
        formatter_class=fmt,
        description="Learn features from ECG, EEG and EMG spectrograms (MNE-Python).",
    )
    parser.add_argument("--version", action="version", version=f"mne-specae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        formatter_class=fmt,
        help="the main job on the bundled sample recordings",
        description="Segments, spectrograms, autoencoder training, embeddings, UMAP and "
        "evaluation on the sample recordings (about a minute on 2 CPU cores). "
        "Writes umap.png, reconstruction_*.png, history.png, embeddings.csv "
        "and model.specae.",
    )
    demo.add_argument("--out", default="demo-out", help="output folder")
    demo.add_argument(
        "--data", default=None, help="data folder with the recordings (default: MNE_SPECAE_DATA)"
    )
    demo.add_argument("--duration", type=positive_float, default=5.0, help="segment length in s")
    demo.add_argument("--sfreq", type=positive_float, default=512.0, help="sampling rate in Hz")
    demo.add_argument(
        "--per-recording", type=positive_int, default=12, help="segments kept per recording"
    )
    demo.add_argument(
        "--max-channels", type=positive_int, default=4, help="channels kept per recording"
    )
    demo.add_argument(
        "--max-epochs", type=positive_int, default=RECOMMENDED["max_epochs"], help="training epochs"
    )
    demo.add_argument(
        "--filters",
        type=positive_int,
        default=RECOMMENDED["filters"],
        help="filters per layer (the study: 64)",
    )
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train",
        formatter_class=fmt,
        help="train a model on recordings",
        description="Read recordings (files or folders), cut segments of each ECG, EEG and "
        "EMG signal type, train an autoencoder (presets.RECOMMENDED) and save "
        "one model file. A segment store ('prepare') trains on its items, "
        "streamed from disk.",
    )
    add_input_options(train)
    train.add_argument("--out", required=True, help="model file to write (*.specae)")
    train.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help=f"segment length in s (default: {DURATION}) or a store's own",
    )
    train.add_argument(
        "--sfreq",
        type=positive_float,
        default=None,
        help=f"sampling rate in Hz (default: {SFREQ}) or a store's own",
    )
    train.add_argument(
        "--fmax", type=positive_float, default=RECOMMENDED["fmax"], help="highest frequency in Hz"
    )
    train.add_argument(
        "--max-epochs", type=positive_int, default=RECOMMENDED["max_epochs"], help="training epochs"
    )
    train.add_argument(
        "--batch-size", type=positive_int, default=RECOMMENDED["batch_size"], help="items per step"
    )
    train.add_argument(
        "--filters", type=positive_int, default=RECOMMENDED["filters"], help="filters per layer"
    )
    train.add_argument("--checkpoint", default=None, help="checkpoint file, written every epoch")
    train.add_argument(
        "--resume", action="store_true", help="continue the run recorded in --checkpoint"
    )
    train.set_defaults(func=_train)

    embed = sub.add_parser(
        "embed",
        formatter_class=fmt,
        help="embeddings of recordings with a trained model",
        description="Segment recordings as the model was trained and write embeddings and "
        "reconstruction errors: one .csv table (all recordings and signal "
        "types), one -epo.fif file (one recording; one file per signal type "
        "when it holds several), or a folder of -epo.fif files. A segment "
        "store ('prepare') gets the columns in its own metadata (--out: "
        "also a .csv table).",
    )
    add_input_options(embed)
    embed.add_argument(
        "--model",
        required=True,
        help="model file from 'train', or a pretrained encoder's name "
        "('biosignals': the one shipped with the package)",
    )
    embed.add_argument(
        "--out",
        default=None,
        help="table.csv, x-epo.fif or a folder (required for recordings; a "
        "store gets the columns in its metadata, and --out: a .csv)",
    )
    embed.add_argument(
        "--device",
        default=None,
        help="where to run (default: the model's device if present, else auto)",
    )
    embed.set_defaults(func=_embed)

    identify = add_identify_parser(sub, fmt)
    prepare = add_prepare_parser(sub, fmt)

    for command in (train, embed):
        add_storage_option(command)  # a store at a URL
        command.add_argument(
            "--cache",
            default=None,
            metavar="FOLDER",
            help="for a store at a URL: download each shard whole to FOLDER at its "
            "first read and read it locally from then on (training several epochs from "
            "object storage at local speed); copies are reused by later runs",
        )
        command.add_argument(
            "--cache-size",
            default=None,
            metavar="SIZE",
            help="most bytes of shards kept in --cache, e.g. 50GB (default: as many as "
            "the disk holds, keeping 1 GiB free); the rest is read by ranged requests",
        )
        command.add_argument(
            "--check-types",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="warn when a channel's type and its signal disagree "
            "(train: the pretrained encoder; embed: --model, when it "
            "has a signal-type head)",
        )

    info = sub.add_parser(
        "info",
        formatter_class=fmt,
        help="versions, devices, threads and data folder (for bug reports)",
    )
    info.set_defaults(func=_info)

    for command in (demo, train, embed, identify, prepare):
        command.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    for command in (demo, train):
        command.add_argument("--seed", type=int, default=0, help="random seed")
        command.add_argument("--device", default="auto", help="auto, cpu, cuda, mps, ...")
    for command in sub.choices.values():
        command.add_argument(
            "--quiet",
            "-q",
            action="store_true",
            help="no progress, only warnings, errors and results",
        )
        command.add_argument("--verbose", action="store_true", help="log details (MNE's INFO)")
    return parser


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"mne-specae: warning: {message}\n"


def main(argv=None):
    """Entry point of the ``mne-specae`` command."""
    import warnings

    args = build_parser().parse_args(argv)
    level = "INFO" if args.verbose else "WARNING"
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        with mne.use_log_level(level):
            return args.func(args)
    except (ValueError, TypeError, OSError, KeyError, RuntimeError) as err:
        # the whole message: a reason's later lines (what differs, what to do) matter
        reason = str(err).rstrip() if str(err) else type(err).__name__
        print(f"mne-specae {args.command}: error: {reason}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
