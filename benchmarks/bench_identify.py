"""How long does identify_channel_types take on a long, many-channel recording?

    python benchmarks/bench_identify.py [--model FILE] [--threads 2] [--max-segments 30]

Builds a RawArray of 64 channels x 1 hour at 512 Hz from the shared recordings (48
eegmat EEG channels, 8 ECG leads of MIT-BIH and eegmat, 8 UCI EMG channels, each
resampled to 512 Hz and repeated to one hour, every channel typed ``eeg`` as in an
EDF file), and times :func:`mne_specae.identify_channel_types` on it with the given
number of CPU threads. The goal (issue 21): under 30 s on 2 CPU cores.
``max_segments`` bounds the work: at most that many 5 s windows per channel for the
encoder and a third as many 30 s windows for the signal features, whatever the
recording's length.
"""

import argparse
import time

import mne
import numpy as np

import mne_specae as msa
from mne_specae.datasets import load_sample

SFREQ = 512.0
SECONDS = 3600.0


def build(n_eeg=48, n_ecg=8, n_emg=8):
    """The 64-channel hour: ``(raw, true types)``."""
    raws = load_sample(verbose=False)
    pools = {"eeg": [], "ecg": [], "emg": []}
    for kind, items in raws.items():
        for raw in items:
            data = raw.get_data()
            up, down = SFREQ, raw.info["sfreq"]
            for row in data:
                pools[kind].append(
                    mne.filter.resample(row, up=up, down=down, method="polyphase", verbose=False)
                )
    n = int(SFREQ * SECONDS)
    rows, names, truth = [], [], []
    for kind, count in (("eeg", n_eeg), ("ecg", n_ecg), ("emg", n_emg)):
        pool = pools[kind]
        for k in range(count):
            x = pool[k % len(pool)]
            rows.append(np.resize(x, n))  # repeated to one hour
            names.append(f"{kind.upper()}{k + 1:02d}")
            truth.append(kind)
    info = mne.create_info(names, SFREQ, "eeg")
    return mne.io.RawArray(np.array(rows), info, verbose=False), truth


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a .specae file (default: shipped)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-segments", type=int, default=30)
    args = parser.parse_args()
    msa.set_num_threads(args.threads)
    t0 = time.perf_counter()
    raw, truth = build()
    built = time.perf_counter() - t0
    model = msa.load_pretrained(verbose=False) if args.model is None else args.model
    if args.model is not None:
        from mne_specae.pretrained.loading import resolve_model

        model = resolve_model(args.model)
    t0 = time.perf_counter()
    table = msa.identify_channel_types(raw, model=model, max_segments=args.max_segments)
    took = time.perf_counter() - t0
    right = float(np.mean(table["predicted"].to_numpy() == np.array(truth)))
    head = getattr(model.calibration_, "type_head", None)
    print(
        f"{raw.info['nchan']} channels x {raw.times[-1] / 3600:.2f} h at {SFREQ:g} Hz "
        f"(built in {built:.1f} s); {args.threads} thread(s), max_segments="
        f"{args.max_segments}, type head: {'yes' if head is not None else 'no'}"
    )
    print(f"identify_channel_types: {took:.1f} s (goal: < 30 s); {right:.1%} named right")
    print(table["predicted"].value_counts().to_string())


if __name__ == "__main__":
    main()
