"""Train, calibrate, evaluate and write the pretrained encoder shipped in the package.

    python scripts/build_corpus.py --mirror MIRRORS --out CORPUS   # the corpus (registry)
    python scripts/train_pretrained.py --corpus CORPUS --store STORE --out build/
    python scripts/train_pretrained.py --corpus CORPUS --encoder build/encoder.specae --out build/
    python scripts/train_pretrained.py ... --write          # also replace the shipped file

Data.

* Encoder: the pretraining corpus (``mne_specae.datasets.read_corpus``: the public
  repositories of the data registry ``corpus_files.tsv``), cut into 5 s segments at
  512 Hz in a segment store (``prepare_corpus``). Each channel-segment is one item.
  The training items are an even spread (``select_training``): ECG, EEG and EMG get up
  to ``--per-modality`` items each, shared among their sources as evenly as the
  sources' sizes allow; every other physiological kind (PPG, arterial pressure,
  respiration, EDA, motion, envelopes, EOG) up to ``--per-kind``; markers, triggers,
  flat and unconnected inputs are left out (nothing to learn there). The developers'
  eegmat and UCI lower-limb recordings are NOT in the corpus: the downstream
  benchmarks (``benchmarks/bench_pretrained.py``) score on subjects and sources the
  encoder never saw.
* Signal-type head: see ``_pretrained_eval.py`` and the model card.

The encoder is written to ``--out``/encoder.specae as soon as it is trained (no
training is lost to a failure in what follows). On a GPU the same command trains the
same recipe; ``--per-modality`` and ``--epochs`` scale it.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import torch

import mne_specae
from mne_specae import SpecAE, make_segments, presets
from mne_specae.datasets import get_recording, load_sample
from mne_specae.pretrained.loading import PRETRAINED, file_sha256, pretrained_path

sys.path.insert(0, str(Path(__file__).parent))

#: The shipped encoder's settings: the recommended preset with each image normalised on
#: its own (channels of unknown units and gains must be comparable: see the model card).
SETTINGS = dict(presets.RECOMMENDED, normalize="item", patience=2)
#: Biopotentials shared per modality; the other physiological kinds capped each.
MODALITIES = ("ecg", "eeg", "emg")
LEFT_OUT_KINDS = ("marker", "trigger", "flat", "unconnected", "unknown")


def spread(groups, cap):
    """Share ``cap`` among index arrays as evenly as their sizes allow (small ones whole),
    each keeping evenly spaced positions (every recording and part of it contributes)."""
    keep, left = [], cap
    groups = sorted(groups, key=len)
    for k, idx in enumerate(groups):
        take = min(len(idx), left // (len(groups) - k))
        left -= take
        if take:
            keep.append(idx[np.unique(np.linspace(0, len(idx) - 1, take).round().astype(int))])
    return np.sort(np.concatenate(keep)) if keep else np.array([], int)


def select_training(md, per_modality, per_kind):
    """Store rows of the encoder's training items (see the module's notes)."""
    chosen = []
    usable = md[~md["kind"].isin(LEFT_OUT_KINDS)]
    for modality in MODALITIES:
        sub = usable[usable["signal_type"] == modality]
        groups = [g.index.to_numpy() for _, g in sub.groupby("dataset")]
        chosen.append(spread(groups, per_modality))
    others = usable[~usable["signal_type"].isin(MODALITIES)]
    for _, sub in others.groupby(["signal_type", "kind"]):
        groups = [g.index.to_numpy() for _, g in sub.groupby("dataset")]
        chosen.append(spread(groups, per_kind))
    return np.sort(np.concatenate(chosen))


def corpus_store(args):
    from mne_specae import SegmentStore
    from mne_specae.stores.corpus import prepare_corpus

    if (args.store / "manifest.json").exists() and not (args.store / "prepare.lock").exists():
        return SegmentStore(args.store)
    t0 = time.time()
    store = prepare_corpus(args.store, corpus=args.corpus, verbose="info")
    print(f"Prepared the corpus store in {time.time() - t0:.0f} s: {len(store)} items")
    return store


def train_encoder(args, store):
    md = store.metadata.reset_index(drop=True)
    rows = select_training(md, args.per_modality, args.per_kind)
    chosen = md.iloc[rows]
    print(f"Corpus store: {len(md)} items; training items: {len(rows)}")
    print(
        chosen.groupby(["signal_type", "kind", "dataset"])
        .agg(items=("subject", "size"), subjects=("subject", "nunique"))
        .to_string()
    )
    X = np.empty((len(rows), store.n_times), np.float32)
    for start in range(0, len(rows), 8192):
        part = rows[start : start + 8192]
        store.read_into(part, X[start : start + len(part)])
    est = SpecAE(
        **dict(SETTINGS, **dict(args.set), max_epochs=args.epochs),
        max_time=None if args.max_minutes is None else 60.0 * args.max_minutes,
        sfreq=float(store.sfreq),
        random_state=args.seed,
        verbose="info",
    )
    t0 = time.time()
    est.fit(X[:, np.newaxis], groups=chosen["subject"].to_numpy(), init=None)  # from scratch
    seconds = time.time() - t0
    h = est.history_
    print(
        f"Trained in {seconds:.0f} s ({len(rows) * len(h.epochs) / seconds:.0f} items/s "
        f"with validation): {len(h.epochs)} epochs, best epoch {h.best_epoch}, validation "
        f"loss {h.best_loss:.4f} ({h.stop_reason})"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    est.set_params(verbose=None)
    est.save(args.out / "encoder.specae", overwrite=True)
    counts = chosen.groupby(["signal_type", "kind", "dataset"]).size().rename("items")
    counts.to_csv(args.out / "training_items.csv")
    (args.out / "training.txt").write_text(
        f"items: {len(rows)}\nseconds: {seconds:.0f}\nepochs: {len(h.epochs)}\n"
        f"best_epoch: {h.best_epoch}\nbest_loss: {h.best_loss:.5f}\n"
        f"stop: {h.stop_reason}\nsettings: {est.get_params()}\nmachine: {machine()}\n"
    )
    return est


def load_recordings():
    """(raw, epochs) of every developer recording, with ``source`` in the metadata."""
    out = []
    for raws in load_sample(extended=True, verbose=False).values():
        for raw in raws:
            rec = get_recording(raw.info["description"])
            if raw.n_times / raw.info["sfreq"] < 5.0:
                continue
            epochs = make_segments(raw, 5.0, 512.0, metadata={"source": rec.source}, verbose=False)
            out.append((raw, epochs))
    return out


def machine():
    return (
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{platform.processor() or 'cpu'}, "
        f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}"
    )


def _setting(text):
    """``"name=value"`` as ``(name, value)``; the value a Python literal (else a string),
    the name one of :data:`SETTINGS`."""
    import ast

    name, sep, value = text.partition("=")
    if not sep or name not in SETTINGS:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(SETTINGS)}, got {text!r}"
        )
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="corpus folder (get_corpus_path())")
    parser.add_argument(
        "--store", type=Path, help="the corpus store folder (to train; not with --encoder)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--encoder", type=Path, help="a trained encoder: skip the training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument(
        "--max-minutes", type=float, help="training time budget (stops within an epoch)"
    )
    parser.add_argument("--per-modality", type=int, default=30_000)
    parser.add_argument("--per-kind", type=int, default=8_000)
    parser.add_argument("--types-per-source", type=int, default=40, help="recordings")
    parser.add_argument("--max-segments", type=int, default=12, help="windows per channel")
    parser.add_argument("--C", type=float, default=1.0, help="the heads' inverse penalty")
    parser.add_argument("--write", action="store_true", help="replace the shipped file")
    parser.add_argument("--encoder-only", action="store_true", help="stop after the encoder")
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one of SETTINGS for this training (e.g. band_limit=0.5; repeatable)",
    )
    args = parser.parse_args(argv)
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"mne-specae {mne_specae.__version__}, mne {mne.__version__}, torch "
        f"{torch.__version__}, Python {platform.python_version()}; {machine()}"
    )
    if args.encoder is not None:  # the heads only: no store needed
        est = SpecAE.load(args.encoder)
    elif args.store is None:
        parser.error("--store is needed to train the encoder (or give --encoder)")
    else:
        est = train_encoder(args, corpus_store(args))
    if args.encoder_only:
        print(f"Total {time.time() - started:.0f} s")
        return 0
    from _pretrained_eval import reconstruction_table
    from _pretrained_head import evaluate_and_calibrate

    r2 = reconstruction_table(est, load_recordings(), args.out)
    print("\nReconstruction R² of the normalised images, developers' recordings:")
    print(r2.round(3).to_string(index=False))
    r2.round(4).to_csv(args.out / "reconstruction_r2.csv", index=False)
    est = evaluate_and_calibrate(est, args)
    if args.write:
        path = pretrained_path("biosignals")
        path.parent.mkdir(parents=True, exist_ok=True)
        est.set_params(verbose=None)
        est.save(path, overwrite=True)
        print(
            f"\nWrote {path} ({path.stat().st_size / 1e6:.2f} MB), sha256 "
            f"{file_sha256(path)}; record it in PRETRAINED['biosignals'] "
            f"(now {PRETRAINED['biosignals']['sha256'][:12]}...)"
        )
    print(f"Total {time.time() - started:.0f} s")
    pd.set_option("display.width", 200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
