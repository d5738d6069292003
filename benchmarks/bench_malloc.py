"""Benchmark: the package's allocator steps where Dask's ``MALLOC_TRIM_THRESHOLD_`` is set.

Dask starts every worker (and leaves in the process that starts a ``LocalCluster``,
for its later children) ``MALLOC_TRIM_THRESHOLD_=65536``, which pins glibc's mmap
threshold at 128 KiB. The package lifts glibc's thresholds while it works in such a
process (``mne_specae/utils/_allocator.py``); ``MNE_SPECAE_MALLOC=off`` turns that
off. Both parts alternate "off" and "on" within each round, on the same machine:

Preparation: :func:`mne_specae.prepare_segments` of the developers' recording files
(``--extended`` for the extended set too) on one 2-worker Dask ``LocalCluster`` with
Dask's defaults (joblib's dask backend), a fresh cluster for each run, its workers
started with the switch off or without it (a worker's allocator keeps the state of
its earlier runs: flipping the switch in running workers measured that state), each
warmed through the same path; the median seconds, the ratio off/on, and the workers'
minor page faults. ``n_jobs=1`` is timed
in each round too, for the ratio to one process.

Training: :meth:`SpecAE.fit` (QUICK preset, 8 filters, 2 epochs, batches of 64) from
the store just prepared, each fit in a fresh process started with
``MALLOC_TRIM_THRESHOLD_=65536``, switch off and on, and a fit started without the
variable (the reference); the median items/s of each epoch and the minor page faults.

    python benchmarks/bench_malloc.py [--extended] [--rounds 3] [--fits 3]

Prints the machine, the versions and every figure; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import recording_files  # noqa: E402
from store_preparation import _cluster, _on, time_prepare, warm_files  # noqa: E402

SWITCH = "MNE_SPECAE_MALLOC"

_FIT = """
import json, resource, sys
sys.path.insert(0, {benchmarks!r})
import mne_specae
from mne_specae import SpecAE, presets
from store_training import TRAIN_SETTINGS
store = mne_specae.read_segments({store!r})
est = SpecAE(**dict(presets.QUICK, **dict(TRAIN_SETTINGS, max_epochs=2, val_fraction=0.0)))
est.fit(store)
rates = [float(v) for v in est.history_.to_frame()["samples_per_s"]]
print(json.dumps([rates, resource.getrusage(resource.RUSAGE_SELF).ru_minflt]))
"""


def _set_switch(value):
    if value is None:
        os.environ.pop(SWITCH, None)
    else:
        os.environ[SWITCH] = value
    return os.getpid()


def _switch():
    return os.environ.get(SWITCH)


def _faults():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _cluster_with(stack, warm, tmp, switch):
    """A warmed 2-worker ``LocalCluster`` (Dask's defaults) whose workers start with
    ``MNE_SPECAE_MALLOC`` as given (``None``: not set): ``(run, seconds)``."""
    before = os.environ.get(SWITCH)
    _set_switch(switch)
    try:
        client, start = _cluster(stack, 2, warm)
    finally:
        _set_switch(before)
    if client is None:
        return None, start
    if set(client.run(_switch).values()) != {switch}:
        raise RuntimeError(f"the workers' {SWITCH} is not {switch}")
    run = _on(client)
    run(warm, tmp / "warm")  # joblib's dask backend, once
    shutil.rmtree(tmp / "warm")
    return (run, client), start


def preparation(files, tmp, rounds):
    """Print the preparation figures; the path of a store of ``files``."""
    warm = warm_files(files)
    print(
        f"\nPreparation: {len(files)} files on a 2-worker LocalCluster (Dask's defaults: "
        f"workers with MALLOC_TRIM_THRESHOLD_=65536), its workers started with "
        f"{SWITCH}=off or without it, a fresh cluster for each run (a worker's allocator "
        f"keeps the state of earlier runs), alternating, {rounds} rounds, n_jobs=1 in "
        "each round"
    )
    times = {"n_jobs=1": [], "off": [], "on": []}
    faults = {"off": [], "on": []}
    starts = []
    for r in range(rounds):
        for mode in ("n_jobs=1", "off", "on"):
            folder = tmp / f"{mode}-{r}".replace("=", "")
            if mode == "n_jobs=1":
                _, seconds = time_prepare(files, folder, 1)
            else:
                with ExitStack() as stack:
                    got, start = _cluster_with(stack, warm, tmp, "off" if mode == "off" else None)
                    if got is None:
                        print(f"  left out: {start}")
                        return None
                    starts.append(start)
                    run, client = got
                    before = client.run(_faults)
                    _, seconds = run(files, folder)
                    after = client.run(_faults)
                faults[mode].append(sum(after[w] - before[w] for w in after))
            times[mode].append(seconds)
            if r < rounds - 1 or mode != "n_jobs=1":
                shutil.rmtree(folder)
    print(f"  starting a cluster and warming it: median {np.median(starts):.1f} s (not counted)")
    med = {mode: float(np.median(v)) for mode, v in times.items()}
    for mode, values in times.items():
        extra = ""
        if mode in faults:
            extra = f"; workers' minor faults, median {np.median(faults[mode]):,.0f}"
        print(
            f"  {mode:8s}: median {med[mode]:5.2f} s (runs: "
            f"{', '.join(f'{v:.2f}' for v in values)}){extra}"
        )
    per_round = [a / b for a, b in zip(times["off"], times["on"])]
    print(
        f"  off / on (seconds): {med['off'] / med['on']:.2f}x of the medians (per round: "
        f"{', '.join(f'{v:.2f}' for v in per_round)})"
    )
    for mode in ("off", "on"):
        print(f"  n_jobs=1 / cluster, {mode}: {med['n_jobs=1'] / med[mode]:.2f}x")
    return tmp / f"n_jobs1-{rounds - 1}"


def training(store, fits):
    """Print the training figures."""
    print(
        f"\nTraining from the store, each fit in a fresh process (QUICK preset, 8 filters, "
        f"2 epochs), {fits} rounds of: started with MALLOC_TRIM_THRESHOLD_=65536 and "
        f"{SWITCH}=off, the same with the package's step on, and started without the "
        "variable"
    )
    code = _FIT.format(benchmarks=str(Path(__file__).parent), store=str(store))
    modes = {"setting, off": ("65536", "off"), "setting, on": ("65536", None)}
    modes["no setting"] = (None, None)
    rates = {mode: [] for mode in modes}
    faults = {mode: [] for mode in modes}
    for _ in range(fits):
        for mode, (trim, switch) in modes.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
            env.pop(SWITCH, None)
            env.update({"MALLOC_TRIM_THRESHOLD_": trim} if trim else {})
            env.update({SWITCH: switch} if switch else {})
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            )
            epochs, n_faults = json.loads(out.stdout.strip().splitlines()[-1])
            rates[mode].append(epochs)
            faults[mode].append(n_faults)
    ref = float(np.median([r[1] for r in rates["no setting"]]))
    for mode in modes:
        first = np.median([r[0] for r in rates[mode]])
        second = float(np.median([r[1] for r in rates[mode]]))
        print(
            f"  {mode:13s}: epoch 1 {first:6.0f} items/s, epoch 2 {second:6.0f} items/s "
            f"({second / ref:.2f}x the fits without the variable), minor faults median "
            f"{np.median(faults[mode]):,.0f} (runs: "
            f"{', '.join(f'{r[1]:.0f}' for r in rates[mode])} items/s in epoch 2)"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extended", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fits", type=int, default=3)
    args = parser.parse_args(argv)
    import mne

    import mne_specae

    print(
        f"mne-specae {mne_specae.__version__}, mne {mne.__version__}, numpy "
        f"{np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU "
        f"core(s), {platform.machine()}, {platform.libc_ver()[0] or 'not glibc'}"
    )
    if platform.libc_ver()[0] != "glibc":
        print("Not glibc: the package changes nothing here.")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_malloc_"))
    try:
        store = preparation(recording_files(args.extended), tmp, args.rounds)
        if store is not None and args.fits:
            training(store, args.fits)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
