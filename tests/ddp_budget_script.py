"""Training under torchrun with a spent time budget, for
tests/test_training_time.py::test_ddp_ranks_stop_after_the_same_batch.

Usage: ``python -m torch.distributed.run --nproc_per_node 2 tests/ddp_budget_script.py
DATA.npz OUT_DIR``. The decision is broadcast every 2 batches here (instead of 25), and
the main process's budget is spent from the start: every process must stop after
batch 2 of epoch 1. Each writes ``OUT_DIR/rank<R>.pt``.
"""

import os
import sys

import numpy as np
import torch
from ddp_train_script import build

from mne_specae.training import _budget
from mne_specae.training.loop import train_autoencoder


def main():
    data, out = sys.argv[1], sys.argv[2]
    loaded = np.load(data)
    _budget.SYNC_EVERY = 2
    spec, model = build(0)
    history = train_autoencoder(
        model,
        loaded["waveforms"],
        input_stage=spec,
        groups=loaded["groups"],
        max_epochs=3,
        batch_size=8,
        max_time=1e-9,
        device="cpu",
        progress=False,
        verbose=False,
    )
    last = history.epochs[-1]
    torch.save(
        dict(
            state=model.state_dict(),
            stop_reason=history.stop_reason,
            n_epochs=len(history.epochs),
            items=round(last["samples_per_s"] * last["seconds"]),
        ),
        os.path.join(out, f"rank{os.environ['RANK']}.pt"),
    )


if __name__ == "__main__":
    main()
