"""Training under torchrun, for tests/test_training.py::test_ddp_matches_single_process.

Usage (2 CPU processes, gloo backend)::

    python -m torch.distributed.run --nproc_per_node 2 --master-port PORT \
        tests/ddp_train_script.py DATA.npz OUT_DIR CHECKPOINT [--max-epochs 3] \
        [--batch-size 8] [--seed 0]

``DATA.npz`` holds ``waveforms`` (n_items, n_times) and ``groups``; ``DATA`` may also
be a segment store folder (its items streamed, its subjects the groups). Every process
writes ``OUT_DIR/rank<R>.pt`` (its final weights, history and world size) so that the
test can check that all ranks end with the same weights; only rank 0 should write the
checkpoint and the epoch log lines. :func:`build` is shared with the test, so that the
single-process reference run uses the same spectrogram and model.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

from mne_specae import Spectrogram
from mne_specae.nn.models import ConvAutoencoder2d
from mne_specae.training.loop import train_autoencoder


def build(seed=0):
    """The input stage and the (seeded) model used by the DDP test."""
    spec = Spectrogram(512.0, n_fft=64, hop_length=64, fmax=60.0, output="db", normalize="item")
    torch.manual_seed(seed)
    model = ConvAutoencoder2d(n_layers=2, filters=4)
    return spec, model


def train_kwargs():
    """Training options shared by the DDP run and the single-process reference."""
    return dict(val_fraction=0.25, lr=3e-3, patience=10, progress=False)


def load_data(path):
    """``DATA.npz`` (waveforms, groups), or a segment store folder (streamed)."""
    if Path(path).is_dir():
        from mne_specae import read_segments
        from mne_specae.training.streaming import StoreItems

        store = read_segments(path)
        return StoreItems(store), store.metadata["subject"].to_numpy()
    loaded = np.load(path)
    return loaded["waveforms"], loaded["groups"]


def single_process(data, max_epochs, batch_size, seed=0):
    """The reference run of the tests: the same model, data and options in this
    process, ``(model, history)``; ``data`` a path for :func:`load_data` or a
    ``(waveforms, groups)`` pair."""
    items, groups = load_data(data) if isinstance(data, (str, Path)) else data
    spec, model = build(seed)
    history = train_autoencoder(
        model,
        items,
        input_stage=spec,
        groups=groups,
        max_epochs=max_epochs,
        batch_size=batch_size,
        seed=seed,
        device="cpu",
        verbose=False,
        **train_kwargs(),
    )
    return model, history


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("checkpoint")
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    waveforms, groups = load_data(args.data)
    spec, model = build(args.seed)
    history = train_autoencoder(
        model,
        waveforms,
        input_stage=spec,
        groups=groups,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        checkpoint=args.checkpoint,
        device="cpu",
        verbose="info",
        **train_kwargs(),
    )
    rank = int(os.environ.get("RANK", "0"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(
            state=model.state_dict(),
            history=history.to_dict(),
            world_size=int(os.environ.get("WORLD_SIZE", "1")),
            rank=rank,
        ),
        out / f"rank{rank}.pt",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
