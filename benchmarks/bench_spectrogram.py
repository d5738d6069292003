"""Benchmark: spectrograms of real 5 s segments at 512 Hz, in segments per second.

One channel of one 5 s segment (2560 samples at 512 Hz) counts as one segment. The
segments are real ECG, EEG and EMG from the bundled sample recordings
(:func:`mne_specae.datasets.load_sample` + :func:`mne_specae.make_segments`), a third
of each type. Measured in the same run, best of ``--repeats``:

(a) ``compute_spectrogram(epochs, n_fft=256, hop_length=32, output="db", device=...)``,
    building the :class:`mne.time_frequency.EpochsTFRArray`; the input is three
    ``mne.EpochsArray`` (ECG, EEG, EMG; one channel per epoch), the time is the sum of
    the three calls;
(b) :func:`scipy.signal.spectrogram` with the same window, n_fft and hop (float64,
    ``detrend=False``) + ``10 log10``, on the same numpy array (no centring: scipy
    computes 73 frames per segment where (a) computes 81, which favours scipy);
(c) MNE's Morlet TFR, ``epochs.compute_tfr("morlet", freqs=np.linspace(2, 200, 64),
    n_cycles=freqs / 2, output="power")`` on the same kind of Epochs (on
    ``--n-morlet`` segments: it is slow), normalised to segments/s;
(d) the bare :class:`mne_specae.Spectrogram` module (same options) on a torch tensor
    already on the device, no MNE object (CUDA timings synchronise).

Run: ``make bench``, or ``python benchmarks/bench_spectrogram.py [--device cuda]
[--n-segments 400]`` with ``MNE_SPECAE_DATA`` pointing at the recordings.
Targets on 2 CPU cores: (a)/(b) >= 1, (a)/(c) >= 10; on CUDA, (d)/(b) >= 100.

``--busy``: the CPU on a quiet and on a busy machine, under the package's thread
policies (``mne_specae/utils/_threads.py``: ``OMP_WAIT_POLICY=PASSIVE`` at import, and
the thread count while it computes): "auto" (the default: the available cores, the
same count on every run), "load" (``MNE_SPECAE_THREADS=load``: the cores not busy with
other processes) and "off" (``MNE_SPECAE_THREADS=off``: torch's defaults). Each of the
6 runs is a fresh process (the wait policy is read when torch loads); "busy" runs
beside one competing CPU-bound process (a Python loop, killed after the run and
bounded by ``--busy-seconds`` in any case). Reported: (a)/(b) in the same conditions,
and (a) against scipy on the quiet machine.
"""

from __future__ import annotations

# first, before anything loads torch (mne does): the package's wait policy
# (OMP_WAIT_POLICY=PASSIVE) only takes effect when it is set before torch loads OpenMP
import mne_specae  # noqa: F401

# isort: split
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import mne
import numpy as np
import scipy
import scipy.signal
import torch

from mne_specae import Spectrogram, compute_spectrogram, make_segments, resolve_device
from mne_specae.datasets import load_sample

SFREQ = 512.0
N_FFT, HOP = 256, 32
TYPES = ("ecg", "eeg", "emg")


def real_segments(n_segments):
    """(n_segments, 2560) float64 channel-segments, a third each ECG, EEG, EMG, and types."""
    raws = load_sample(download=False, verbose=False)
    per_type = {t: n_segments // 3 + (i < n_segments % 3) for i, t in enumerate(TYPES)}
    arrays, kinds = [], []
    for kind in TYPES:
        rows, have = [], 0
        for raw in raws[kind]:
            if raw.n_times / raw.info["sfreq"] < 5.0:
                continue
            data = make_segments(raw, verbose=False).get_data()
            rows.append(data.reshape(-1, data.shape[-1]))
            have += rows[-1].shape[0]
            if have >= per_type[kind]:
                break
        rows = np.concatenate(rows)
        if rows.shape[0] < per_type[kind]:  # not enough: repeat (never happens by default)
            rows = np.resize(rows, (per_type[kind], rows.shape[1]))
        arrays.append(rows[: per_type[kind]])
        kinds += [kind] * per_type[kind]
    return np.concatenate(arrays), np.array(kinds)


def epochs_by_type(x, kinds):
    """One mne.EpochsArray per signal type, one channel per epoch."""
    out = []
    for kind in TYPES:
        rows = x[kinds == kind]
        if len(rows) == 0:
            continue
        info = mne.create_info([kind.upper()], SFREQ, [kind])
        out.append(mne.EpochsArray(rows[:, None, :], info, verbose=False))
    return out


def best_times(funcs, repeats, sync=None):
    """Best wall time of each function over ``repeats`` interleaved rounds.

    One warm-up call each first. The rounds interleave the candidates so that a busy
    machine slows them alike (the ratios are what the targets are about).
    """

    def timed(func):
        if sync:
            sync()
        start = time.perf_counter()
        func()
        if sync:
            sync()
        return time.perf_counter() - start

    for func in funcs.values():
        timed(func)
    best = dict.fromkeys(funcs, np.inf)
    for _ in range(repeats):
        for name, func in funcs.items():
            best[name] = min(best[name], timed(func))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto, ...")
    parser.add_argument(
        "--n-segments",
        type=int,
        default=400,
        help="channel-segments for (a), (b), (d) (default 400)",
    )
    parser.add_argument(
        "--n-morlet",
        type=int,
        default=30,
        help="channel-segments for the slow Morlet reference (c)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's own choice)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="CPU: quiet and busy machine, under the thread policies auto, load and "
        "off (6 fresh processes)",
    )
    parser.add_argument(
        "--busy-seconds",
        type=float,
        default=300.0,
        help="upper bound on the competing process's life (default 300)",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.busy:
        return busy_comparison(args, argv if argv is not None else sys.argv[1:])
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    mne.set_log_level("WARNING")
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"scipy {scipy.__version__}, mne {mne.__version__}, numpy {np.__version__}"
    )
    print(
        f"device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
        + f", torch threads {torch.get_num_threads()}, CPU cores {os.cpu_count()}"
    )
    print(f"data: {os.environ.get('MNE_SPECAE_DATA', '(package default)')}")
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        busy = load > 0.75 * (os.cpu_count() or 1)
        print(
            f"load average (1 min) {load:.2f}"
            + (
                ": the machine was busy (see --busy for what that costs "
                "under the package's thread policies)"
                if busy
                else ""
            )
        )

    x, kinds = real_segments(args.n_segments)
    n = len(x)
    counts = ", ".join(f"{k} {int(np.sum(kinds == k))}" for k in TYPES)
    print(
        f"{n} real 5 s channel-segments at 512 Hz ({counts}); n_fft={N_FFT}, "
        f"hop={HOP}, hann, output dB; best of {args.repeats}"
    )
    print("(a) and (c) take 3 mne.EpochsArray (ECG, EEG, EMG), one channel per epoch")
    epochs = epochs_by_type(x, kinds)

    # (a) compute_spectrogram -> EpochsTFRArray
    def run_a():
        return [
            compute_spectrogram(ep, n_fft=N_FFT, hop_length=HOP, output="db", device=device)
            for ep in epochs
        ]

    tfrs = run_a()
    assert sum(t.data.shape[0] for t in tfrs) == n

    # (b) scipy.signal.spectrogram + 10 log10, float64
    def run_b():
        _, _, p = scipy.signal.spectrogram(
            x,
            SFREQ,
            window="hann",
            nperseg=N_FFT,
            noverlap=N_FFT - HOP,
            nfft=N_FFT,
            detrend=False,
            scaling="density",
            mode="psd",
        )
        return 10.0 * np.log10(np.maximum(p, 1e-30))

    ref = run_b()
    # our centred frame 4 + j is scipy's frame j (both centred on sample 128 + 32 j)
    ours = np.concatenate([t.data[:, 0] for t in tfrs])[..., 4 : 4 + ref.shape[-1]]
    strong = ref > ref.max(axis=(-2, -1), keepdims=True) - 60
    max_db_diff = float(np.abs(ours[strong] - ref[strong]).max())

    # (c) MNE Morlet, 64 frequencies, on fewer segments
    n_m = min(args.n_morlet, n)
    pick = np.linspace(0, n - 1, n_m).round().astype(int)
    morlet_epochs = epochs_by_type(x[pick], kinds[pick])
    freqs = np.linspace(2.0, 200.0, 64)

    def run_c():
        return [
            ep.compute_tfr(
                "morlet",
                freqs=freqs,
                n_cycles=freqs / 2.0,
                output="power",
                picks="all",
                n_jobs=1,
                verbose=False,
            )
            for ep in morlet_epochs
        ]

    # (d) bare module on a tensor already on the device
    sg = Spectrogram(SFREQ, n_fft=N_FFT, hop_length=HOP, output="db").to(device)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)

    def run_d():
        with torch.no_grad():
            return sg(xt)

    best = best_times({"a": run_a, "b": run_b, "c": run_c, "d": run_d}, args.repeats, sync)
    t_a, t_b, t_c, t_d = best["a"], best["b"], best["c"], best["d"]

    rate = {"a": n / t_a, "b": n / t_b, "c": n_m / t_c, "d": n / t_d}
    rows = [
        ("a", f"compute_spectrogram -> EpochsTFRArray ({device})", t_a, n),
        ("b", "scipy.signal.spectrogram + 10 log10 (float64)", t_b, n),
        ("c", "MNE compute_tfr('morlet'), 64 freqs", t_c, n_m),
        ("d", f"Spectrogram module, tensor on {device}", t_d, n),
    ]
    print()
    for key, label, seconds, count in rows:
        print(
            f"({key}) {label:<46} {rate[key]:11,.1f} segments/s  "
            f"({seconds * 1e3:.2f} ms for {count})"
        )
    print(
        f"    (a) vs (b): max |dB difference| {max_db_diff:.4f} dB on bins within 60 dB "
        "of each peak"
    )
    if args.json:
        from mne_specae.utils._devices import cpu_threads

        with cpu_threads(device):
            used = torch.get_num_threads()
        print(
            json.dumps(
                {
                    "a": rate["a"],
                    "b": rate["b"],
                    "c": rate["c"],
                    "d": rate["d"],
                    "threads": used,
                    "load": os.getloadavg()[0],
                    "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                }
            )
        )
    print()
    checks = [
        ("(a)/(b)", rate["a"] / rate["b"], 1.0, True),
        ("(a)/(c)", rate["a"] / rate["c"], 10.0, True),
        ("(d)/(b)", rate["d"] / rate["b"], 100.0, device.type == "cuda"),
    ]
    ok = True
    for name, value, target, applies in checks:
        if applies:
            verdict = "ok" if value >= target else "BELOW TARGET"
        else:
            verdict = "the target is for CUDA"
        ok &= value >= target or not applies
        print(f"{name} = {value:8.2f}   (target >= {target:g}: {verdict})")
    return 0 if ok or not args.strict else 1


BUSY_LOOP = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end:\n    pass\n"
)


def busy_comparison(args, argv):
    """Quiet and busy machine x thread policy auto, load, off; each a fresh process."""
    child_args = [a for a in argv if a not in ("--busy", "--json")] + ["--json"]
    base_env = {
        k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "MNE_SPECAE_THREADS")
    }
    policies = {
        "auto (default)": {},
        "load": {"MNE_SPECAE_THREADS": "load"},
        "off (torch)": {"MNE_SPECAE_THREADS": "off"},
    }
    results = {}
    for condition in ("quiet", "busy"):
        for name, extra in policies.items():
            competitor = None
            if condition == "busy":
                competitor = subprocess.Popen(
                    [sys.executable, "-c", BUSY_LOOP, str(args.busy_seconds)]
                )
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, *child_args],
                    env={**base_env, **extra},
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                if competitor is not None:
                    competitor.kill()
                    competitor.wait()
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr)
                return proc.returncode
            results[condition, name] = json.loads(
                [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
            )
    scipy_quiet = max(r["b"] for (cond, _), r in results.items() if cond == "quiet")
    print(
        f"CPU cores {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
        f"; busy = beside one CPU-bound process; (a) compute_spectrogram, (b) scipy"
    )
    print(
        f"{'machine':<7} {'policy':<16} {'threads':>7} {'wait':>8} {'load':>5} "
        f"{'(a) seg/s':>10} {'(b) seg/s':>10} {'(a)/(b)':>8} {'(a)/(b quiet)':>14}"
    )
    for (condition, name), r in results.items():
        print(
            f"{condition:<7} {name:<16} {r['threads']:>7} {str(r['wait_policy']):>8} "
            f"{r['load']:5.2f} {r['a']:10,.0f} {r['b']:10,.0f} {r['a'] / r['b']:8.2f} "
            f"{r['a'] / scipy_quiet:14.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
