"""The ``mne-specae`` command line: ``demo``, ``train`` and ``embed``.

``demo`` runs the main job on the bundled real sample recordings; ``train`` and
``embed`` serve lab scripts and batch jobs on any recordings MNE (or this package)
reads. Errors end with a non-zero exit status and a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mne

from .presets import RECOMMENDED


def _metadata_table(epochs_list):
    import pandas as pd

    return pd.concat([ep.metadata.assign(n_channels=len(ep.ch_names)) for ep in epochs_list],
                     ignore_index=True)


def _demo(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .datasets import load_sample_epochs
    from .embedding import add_umap
    from .evaluation import evaluate_embeddings
    from .estimator import SpecAE
    from .viz import plot_embedding, plot_history, plot_reconstruction

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = load_sample_epochs(args.data, duration=args.duration, sfreq=args.sfreq,
                                max_segments=args.per_recording,
                                max_channels=args.max_channels)
    table = _metadata_table(epochs)
    summary = table.groupby("signal_type").agg(recordings=("recording", "nunique"),
                                               subjects=("subject", "nunique"),
                                               segments=("onset", "size"))
    print(f"Segments of {args.duration:g} s at {args.sfreq:g} Hz "
          f"(<= {args.per_recording} per recording, <= {args.max_channels} channels):")
    print(summary.to_string())

    settings = dict(RECOMMENDED, device=args.device, random_state=args.seed)
    if args.max_epochs is not None:
        settings["max_epochs"] = args.max_epochs
    if args.filters is not None:
        settings["filters"] = args.filters
    ae = SpecAE(**settings)
    t0 = time.perf_counter()
    ae.fit(epochs)
    fit_seconds = time.perf_counter() - t0
    hist = ae.history_.to_frame()
    print(f"Trained {len(hist)} epochs in {fit_seconds:.0f} s "
          f"({hist['samples_per_s'].median():.0f} spectrograms/s, best epoch "
          f"{ae.history_.best_epoch}, val loss {ae.history_.best_loss:.4f})")

    ae.add_embeddings(epochs)
    add_umap(epochs, random_state=args.seed)
    scores = evaluate_embeddings(epochs, "signal_type", group="subject", estimator=ae)

    table = _metadata_table(epochs)
    table.to_csv(out / "embeddings.csv", index=False)
    ae.save(out / "model.specae", overwrite=True)
    fig = plot_embedding(epochs, hue="signal_type", show=False,
                         title="Encoder features of ECG, EEG and EMG (UMAP)")
    fig.savefig(out / "umap.png", dpi=120)
    examples = [next(ep for ep in epochs if ep.metadata["signal_type"].iloc[0] == t)
                for t in ("ecg", "eeg", "emg")]
    figs = [plot_reconstruction(ae, ep, n_examples=1, show=False) for ep in examples]
    for fig, kind in zip(figs, ("ecg", "eeg", "emg")):
        fig.savefig(out / f"reconstruction_{kind}.png", dpi=110)
    plot_history(ae, show=False).savefig(out / "history.png", dpi=110)
    plt.close("all")

    print("\nsignal_type from embeddings, leave-one-subject-out kNN:")
    print(scores.round(3).to_string())
    ours = scores.loc["specae", "knn_balanced_accuracy"]
    base = scores.loc["pca_logspec", "knn_balanced_accuracy"]
    print(f"\nkNN balanced accuracy (held-out subjects): autoencoder {ours:.3f}, "
          f"PCA baseline {base:.3f}")
    print(f"Wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}/ "
          f"in {time.perf_counter() - t_start:.0f} s")
    return 0


def _read_inputs(paths, duration, sfreq):
    """Files or folders -> Epochs, one per file and signal type."""
    from .datasets import read_raw
    from .segments import SIGNAL_TYPES, make_segments

    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in (
                ".edf", ".bdf", ".fif", ".hea", ".txt", ".vhdr", ".set", ".gdf"))
        elif path.exists() or path.with_suffix(".hea").exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    if not files:
        raise ValueError(f"No recording found in {paths}.")
    epochs = []
    for fname in files:
        raw = read_raw(fname)
        types = [t for t in SIGNAL_TYPES if t in raw.get_channel_types(unique=True)]
        if not types:
            print(f"Skipped {fname}: no ECG, EEG or EMG channel", file=sys.stderr)
            continue
        for kind in types:
            epochs.append(make_segments(raw, duration, sfreq, picks=kind,
                                        recording=fname.stem if len(types) == 1
                                        else f"{fname.stem}-{kind}"))
    if not epochs:
        raise ValueError("None of the files has an ECG, EEG or EMG channel.")
    return epochs


def _train(args):
    from .estimator import SpecAE

    epochs = _read_inputs(args.files, args.duration, args.sfreq)
    chosen = dict(max_epochs=args.max_epochs, batch_size=args.batch_size,
                  filters=args.filters, fmax=args.fmax)
    ae = SpecAE(**{k: v for k, v in chosen.items() if v is not None}, device=args.device,
                random_state=args.seed, checkpoint=args.checkpoint, resume=args.resume)
    ae.fit(epochs)
    fname = ae.save(args.out, overwrite=args.overwrite)
    n = sum(len(ep) for ep in epochs)
    print(f"Trained on {n} segments from {len(epochs)} recording(s); best epoch "
          f"{ae.history_.best_epoch} (val loss {ae.history_.best_loss:.4f}); wrote {fname}")
    return 0


def _embed(args):
    from .embedding import add_embeddings
    from .estimator import SpecAE

    ae = SpecAE.load(args.model, device=args.device)
    duration = ae.n_times_ / ae.sfreq_
    epochs = _read_inputs(args.files, duration, ae.sfreq_)
    for ep in epochs:
        add_embeddings(ep, ae)
    out = Path(args.out)
    if out.suffix == ".csv":
        _metadata_table(epochs).to_csv(out, index=False)
    elif out.name.endswith("-epo.fif"):
        if len(epochs) != 1:
            raise ValueError(f"{len(epochs)} Epochs (one per file and signal type) do not fit "
                             "in one -epo.fif file: pass a .csv file or a folder.")
        epochs[0].save(out, overwrite=args.overwrite)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for ep in epochs:
            name = ep.metadata["recording"].iloc[0].replace("/", "_")
            ep.save(out / f"{name}-epo.fif", overwrite=args.overwrite)
    print(f"Embedded {sum(len(ep) for ep in epochs)} segments; wrote {out}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mne-specae",
        description="Learn features from ECG, EEG and EMG spectrograms (MNE-Python).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="the main job on the bundled real sample recordings",
        description="Segments, spectrograms, autoencoder training, embeddings, UMAP and "
                    "evaluation on the sample recordings (about 3 min on 2 CPU cores). "
                    "Writes umap.png, reconstruction_*.png, history.png, embeddings.csv "
                    "and model.specae.")
    demo.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    demo.add_argument("--data", default=None,
                      help="data folder with the recordings (default: MNE_SPECAE_DATA)")
    demo.add_argument("--duration", type=float, default=5.0, help="segment length in s")
    demo.add_argument("--sfreq", type=float, default=512.0, help="sampling rate in Hz")
    demo.add_argument("--per-recording", type=int, default=12,
                      help="segments kept per recording (default: 12)")
    demo.add_argument("--max-channels", type=int, default=4,
                      help="channels kept per recording (default: 4)")
    demo.add_argument("--max-epochs", type=int, default=None, help="training epochs")
    demo.add_argument("--filters", type=int, default=None,
                      help="filters per layer (default 32; the study: 64)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train", help="train a model on recordings",
        description="Read recordings (EDF, BDF, FIF, BrainVision, WFDB .hea, ... or folders),"
                    " cut segments of each ECG/EEG/EMG signal type, train, save one file.")
    train.add_argument("files", nargs="+", help="recordings or folders")
    train.add_argument("--out", required=True, help="model file to write (*.specae)")
    train.add_argument("--duration", type=float, default=5.0, help="segment length in s")
    train.add_argument("--sfreq", type=float, default=512.0, help="sampling rate in Hz")
    train.add_argument("--fmax", type=float, default=None,
                       help=f"highest frequency in Hz (default: {RECOMMENDED['fmax']:g})")
    train.add_argument("--max-epochs", type=int, default=None,
                       help=f"training epochs (default: {RECOMMENDED['max_epochs']})")
    train.add_argument("--batch-size", type=int, default=None,
                       help=f"items per step (default: {RECOMMENDED['batch_size']})")
    train.add_argument("--filters", type=int, default=None,
                       help=f"filters per layer (default: {RECOMMENDED['filters']})")
    train.add_argument("--device", default="auto")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--checkpoint", default=None, help="checkpoint file (resumable)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run recorded in --checkpoint")
    train.add_argument("--overwrite", action="store_true")
    train.set_defaults(func=_train)

    embed = sub.add_parser(
        "embed", help="embeddings of recordings with a trained model",
        description="Segment recordings as the model was trained and write embeddings and "
                    "reconstruction errors: a .csv table, one -epo.fif file, or a folder of "
                    "-epo.fif files.")
    embed.add_argument("files", nargs="+", help="recordings or folders")
    embed.add_argument("--model", required=True, help="model file from 'train'")
    embed.add_argument("--out", required=True, help="table.csv, x-epo.fif or a folder")
    embed.add_argument("--device", default=None)
    embed.add_argument("--overwrite", action="store_true")
    embed.set_defaults(func=_embed)

    for command in sub.choices.values():
        command.add_argument("--verbose", action="store_true", help="log progress")
    return parser


def main(argv=None):
    """Entry point of the ``mne-specae`` command."""
    args = build_parser().parse_args(argv)
    mne.set_log_level("INFO" if args.verbose else "WARNING")
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, KeyError, RuntimeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"mne-specae {args.command}: error: {reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
