"""Pretraining experiment: the shipped recipe plus a relative-positioning term.

The shipped encoder is trained to reconstruct its spectrograms, and on held-out
subjects its frozen features hardly beat the same network with random weights on the
EEG and ECG states (the model card). Reconstruction rewards whatever describes one
segment, and most of that is who was recorded and how. This script adds the
"relative positioning" task of Banville et al. (2021, J. Neural Eng. 18 046020):
for an anchor segment, a *near* partner (the same recording and channel, at most
``--near`` s away) and a *far* one (the same recording and channel, at least
``--far`` s away). A linear head on ``|f(anchor) - f(partner)|`` tells them apart,
where ``f`` are the features users get (``pooling="multiscale"``: each encoder
block's mean). Both partners come from the same recording as the anchor, so the
subject, electrode and amplifier cannot tell them apart: only what changes within a
recording (the state) can.

Loss = MSE of the anchor's reconstruction + ``--weight`` x binary cross-entropy of the
head. The items, settings and optimiser are the shipped run's
(``scripts/train_pretrained.py``: ``select_training``, ``SETTINGS``); anchors without
both partners (a recording shorter than ``--far`` s, or a sparse spread) are only
reconstructed. The encoder is written after every epoch to ``--out``/encoder.specae,
to be scored like any other by ``select_pretraining.py --encoder NAME=PATH``.

Run::

    python benchmarks/pretrain_relative_positioning.py --store STORE --out OUT \
        [--weight 1] [--near 10] [--far 60] [--minutes 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

from train_pretrained import SETTINGS, machine, select_training  # noqa: E402

from mne_specae import SegmentStore, SpecAE  # noqa: E402
from mne_specae.estimator._runner import pool  # noqa: E402


class Partners:
    """Near and far partners of items, within each recording and channel.

    ``metadata`` needs ``recording``, ``channel`` and ``onset`` (s). Item ``i`` has
    near partners ``j != i`` with ``|onset_j - onset_i| <= near`` and far partners
    with ``|onset_j - onset_i| >= far``, all of its recording and channel.
    """

    def __init__(self, metadata, near, far):
        key = metadata["recording"].astype(str) + "|" + metadata["channel"].astype(str)
        onset = metadata["onset"].to_numpy(float)
        n = len(metadata)
        self.order = np.empty(n, int)  # item positions sorted by (key, onset)
        self.near_lo, self.near_hi = np.zeros(n, int), np.zeros(n, int)
        self.far_lo, self.far_hi = np.zeros(n, int), np.zeros(n, int)
        self.start, self.end = np.zeros(n, int), np.zeros(n, int)
        at = 0
        for idx in key.groupby(key).indices.values():
            idx = idx[np.argsort(onset[idx], kind="stable")]
            t = onset[idx]
            self.order[at : at + len(idx)] = idx
            self.near_lo[idx] = at + np.searchsorted(t, t - near, "left")
            self.near_hi[idx] = at + np.searchsorted(t, t + near, "right")
            # far partners: [start, far_lo) before the item and [far_hi, end) after it
            self.far_lo[idx] = at + np.searchsorted(t, t - far, "right")
            self.far_hi[idx] = at + np.searchsorted(t, t + far, "left")
            self.start[idx], self.end[idx] = at, at + len(idx)
            at += len(idx)
        self.n_far = (self.far_lo - self.start) + (self.end - self.far_hi)
        self.has = (self.n_far > 0) & (self.near_hi - self.near_lo > 1)

    def draw(self, items, rng):
        """``(anchors, near, far)``: the ``items`` that have both partners, and one of
        each drawn at random."""
        a = items[self.has[items]]
        span = self.near_hi[a] - self.near_lo[a]
        near = self.order[self.near_lo[a] + (rng.random(len(a)) * span).astype(int)]
        while (same := near == a).any():  # never the anchor itself
            pos = self.near_lo[a[same]] + (rng.random(same.sum()) * span[same]).astype(int)
            near[same] = self.order[pos]
        before = self.far_lo[a] - self.start[a]
        k = (rng.random(len(a)) * self.n_far[a]).astype(int)
        far = self.order[np.where(k < before, self.start[a] + k, self.far_hi[a] + k - before)]
        return a, near, far


def multiscale(blocks):
    """The features of ``pooling="multiscale"``: each block's mean over space (as
    :meth:`~mne_specae.SpecAE.transform` pools them)."""
    return torch.cat([pool(b, "multiscale") for b in blocks], 1)


def train(est, X, partners, *, weight, minutes, seed, out=None, log=print):
    """Train ``est``'s fitted model and input stage from fresh weights (see the module)."""
    rng = np.random.default_rng(seed)
    model, stage = est.model_, est.input_stage_
    with torch.random.fork_rng():  # the caller's torch random state is left alone
        torch.manual_seed(seed)
        for m in model.modules():
            if m is not model and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        head = torch.nn.Linear(sum(model.filters), 1)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=est.lr)
    X, bs, t0, epoch, done = torch.as_tensor(X), est.batch_size, time.perf_counter(), 0, False
    while not done:
        epoch += 1
        model.train().to(memory_format=torch.channels_last)
        sums, n_batches = np.zeros(3), 0  # reconstruction, head loss, head accuracy
        perm = rng.permutation(len(X))
        for s in range(0, len(perm) - bs + 1, bs):
            batch = perm[s : s + bs]
            anchors, near, far = partners.draw(batch, rng)
            with torch.no_grad():
                images = stage.to_images(X[np.concatenate([batch, near, far])])
            blocks = model.encode_blocks(images.contiguous(memory_format=torch.channels_last))
            rec = model.decode(blocks[-1][:bs], output_size=tuple(images.shape[2:]))
            loss = rec_loss = F.mse_loss(rec, images[:bs])
            if len(anchors):
                f = multiscale(blocks)
                fa = f[torch.as_tensor(np.flatnonzero(partners.has[batch]))]  # batch order
                fn, ff = f[bs : bs + len(anchors)], f[bs + len(anchors) :]
                logits = head(torch.cat([(fa - fn).abs(), (fa - ff).abs()])).squeeze(1)
                y = torch.cat([torch.ones(len(anchors)), torch.zeros(len(anchors))])
                head_loss = F.binary_cross_entropy_with_logits(logits, y)
                loss = loss + weight * head_loss
                sums[1:] += head_loss.item(), ((logits > 0).float() == y).float().mean().item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums[0] += rec_loss.item()
            n_batches += 1
            if time.perf_counter() - t0 > 60 * minutes:
                done = True
                break
        rec_mean, head_mean, acc = sums / max(n_batches, 1)
        log(
            f"epoch {epoch}: reconstruction {rec_mean:.4f}, head {head_mean:.4f} "
            f"(near/far accuracy {acc:.3f}), {n_batches} batches, "
            f"{time.perf_counter() - t0:.0f} s"
        )
        model.eval().to(memory_format=torch.contiguous_format)
        est.set_params(max_epochs=epoch)
        if out is not None:
            est.save(out, overwrite=True)
    return est


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weight", type=float, default=1.0)
    parser.add_argument("--near", type=float, default=10.0)
    parser.add_argument("--far", type=float, default=60.0)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--per-modality", type=int, default=31000)
    parser.add_argument("--per-kind", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    store = SegmentStore(args.store)
    md = store.metadata.reset_index(drop=True)
    rows = select_training(md, args.per_modality, args.per_kind)
    chosen = md.iloc[rows].reset_index(drop=True)
    X = np.empty((len(rows), store.n_times), np.float32)
    for start in range(0, len(rows), 8192):
        store.read_into(rows[start : start + 8192], X[start : start + 8192])
    partners = Partners(chosen, args.near, args.far)
    print(f"{len(rows)} training items; with both partners: {partners.has.sum()}")
    print(chosen[partners.has].groupby("signal_type").size().to_string(), flush=True)
    est = SpecAE(**dict(SETTINGS, max_epochs=1), sfreq=float(store.sfreq), random_state=args.seed)
    est.fit(X[:64, np.newaxis], init=None)  # builds the model and input stage
    t0 = time.perf_counter()
    train(
        est,
        X,
        partners,
        weight=args.weight,
        minutes=args.minutes,
        seed=args.seed,
        out=args.out / "encoder.specae",
        log=lambda text: print(text, flush=True),
    )
    print(f"{time.perf_counter() - t0:.0f} s on {machine()}; args {vars(args)}")


if __name__ == "__main__":
    main()
