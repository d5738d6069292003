"""Where a CPU training step of the shipped recipe spends its time, and what speeds it up.

The recipe is :data:`mne_specae.presets.RECOMMENDED` with ``normalize="item"`` (32 x 64
log-frequency dB images of 5 s at 512 Hz, 4 conv layers of 32 filters, batch 32). One
process builds the input stage and the network as :class:`~mne_specae.SpecAE` does and
times the parts of a step (input stage, forward, backward, optimiser) on random
waveforms, then whole steps of each variant, the variants alternating round after
round (the machine is shared: alternating spreads other jobs' load over all of them).
Each figure is the median over rounds of a round's mean step time; the load average
is printed before and after.

``--fit N`` also fits :class:`~mne_specae.SpecAE` (one epoch) on N random items of
5 s, the engine's old layout (``channels_last=False``, what ``"auto"`` meant on the
CPU before) and the new default alternating, and prints ``history_``'s items/s.

Usage::

    python benchmarks/bench_train_step.py [--threads 2] [--rounds 7] [--steps 10]
        [--fit 6000] [--fit-rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from mne_specae import SpecAE, presets

BATCH = 32


def build(channels_last=False, seed=0):
    """The recipe's input stage, a seeded network and its Adam optimiser."""
    est = SpecAE(**dict(presets.RECOMMENDED, normalize="item"), sfreq=512.0)
    stage = est._build_input_stage(512.0).eval()
    torch.manual_seed(seed)
    model = est._build_model(stage.image_shape(2560, 1))
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return stage, model, torch.optim.Adam(model.parameters(), lr=1e-3)


def make_step(stage, model, opt, channels_last=False, parts=None):
    """One training step as the engine runs it (``parts``: accumulate part times)."""

    def tick(name, t0):
        if parts is not None:
            now = time.perf_counter()
            parts[name] = parts.get(name, 0.0) + now - t0
            return now
        return t0

    def step(x):
        t = time.perf_counter()
        with torch.no_grad():
            target = stage.to_images(x)
            if channels_last:
                target = target.contiguous(memory_format=torch.channels_last)
        t = tick("input stage", t)
        loss = F.mse_loss(model(target).float(), target)
        t = tick("forward + loss", t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t = tick("backward", t)
        opt.step()
        tick("optimizer", t)
        return loss.detach()

    return step


def waveforms(n, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(size=(n, 2560)).astype(np.float32))


def breakdown(n_steps):
    """Seconds per step in each part (median over steps' part times is noisy: totals)."""
    parts = {}
    stage, model, opt = build()
    step = make_step(stage, model, opt, parts=parts)
    x = waveforms(BATCH * (n_steps + 2))
    for b in range(2):
        step(x[b * BATCH : (b + 1) * BATCH])
    parts.clear()
    t0 = time.perf_counter()
    for b in range(2, n_steps + 2):
        step(x[b * BATCH : (b + 1) * BATCH])
    total = time.perf_counter() - t0
    return {k: v / n_steps for k, v in parts.items()}, total / n_steps


def compare(variants, rounds, n_steps):
    """Median over rounds of each variant's mean step time (variants alternate)."""
    runs = {}
    for name, options in variants.items():
        stage, model, opt = build(channels_last=options.get("channels_last", False))
        runs[name] = make_step(stage, model, opt, channels_last=options.get("channels_last"))
    x = waveforms(BATCH * n_steps)
    times = {name: [] for name in variants}
    for step in runs.values():
        step(x[:BATCH])  # warm up
    for _ in range(rounds):
        for name, step in runs.items():
            t0 = time.perf_counter()
            for b in range(n_steps):
                step(x[b * BATCH : (b + 1) * BATCH])
            times[name].append((time.perf_counter() - t0) / n_steps)
    return {name: statistics.median(t) for name, t in times.items()}


def compare_fits(n_items, rounds):
    """Training items/s of SpecAE fits (one epoch), old and new layout alternating."""
    X = np.random.default_rng(0).normal(size=(n_items, 1, 2560)).astype(np.float32)
    layouts = {"before (channels_last=False)": False, "after (channels_last='auto')": "auto"}
    rates = {name: [] for name in layouts}
    losses = {}
    for _ in range(rounds):
        for name, layout in layouts.items():
            params = dict(presets.RECOMMENDED, normalize="item", max_epochs=1)
            est = SpecAE(**params, sfreq=512.0, channels_last=layout, verbose="warning")
            cpu = time.process_time()
            record = est.fit(X, init=None).history_.epochs[0]
            cpu = time.process_time() - cpu  # all threads; robust to others' load
            rates[name].append((record["samples_per_s"], n_items / cpu))
            losses[name] = (record["train_loss"], record["val_loss"])
    return rates, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--fit", type=int, default=0)
    parser.add_argument("--fit-rounds", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()}")
    parts, total = breakdown(args.steps * 2)
    print(f"\nOne step of {BATCH} items: {total * 1e3:.0f} ms ({BATCH / total:.0f} items/s)")
    for name, seconds in parts.items():
        print(f"  {name:<16} {seconds * 1e3:7.1f} ms  {100 * seconds / total:5.1f} %")
    variants = {"NCHW (before)": {}, "channels_last": {"channels_last": True}}
    medians = compare(variants, args.rounds, args.steps)
    print("\nWhole steps, variants alternating (median of rounds):")
    for name, seconds in medians.items():
        print(f"  {name:<16} {seconds * 1e3:7.1f} ms  {BATCH / seconds:6.0f} items/s")
    if args.fit:
        rates, losses = compare_fits(args.fit, args.fit_rounds)
        print(
            f"\nSpecAE.fit, one epoch of {args.fit} items (alternating): training "
            "items/s (history_) / items (all of the fit's) per CPU-second"
        )
        for name, values in rates.items():
            train, val = losses[name]
            print(
                f"  {name:<30} "
                + " ".join(f"{wall:5.0f} /{cpu:4.0f}" for wall, cpu in values)
                + f"  (train loss {train:.7f}, val {val:.7f})"
            )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
