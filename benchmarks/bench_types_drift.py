"""ECG, EEG and EMG under a drift: what identify_channel_types answers.

    python benchmarks/bench_types_drift.py [--model FILE]

DC-coupled amplifiers (BioSemi, ANT, eXimia) record each electrode's slow wander and,
after they start, a settling transient far larger than the signal. The developers'
recordings (two eegmat subjects, two MIT-BIH records, two UCI lower-limb recordings)
get the drifts of the tests (``tests/type_signals.drifting``: a DC offset, then a
random walk low-passed at 0.2 Hz or an exponential settling over 1.5 s, a given number
of times each channel's standard deviation), two seeds each, and every channel is
identified with the shipped model (or ``--model``). Prints, per drift and true type,
how many channels come out right and what the others are; the first row, an offset
alone, is the reference.
"""

import argparse
import collections
import sys
from pathlib import Path

import mne_specae as msa
from mne_specae.datasets import load_sample

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from type_signals import drifting  # noqa: E402

RECORDINGS = {
    "eeg": ["eeg/eegmat/Subject00_1", "eeg/eegmat/Subject03_1"],
    "ecg": ["ecg/mitdb/100", "ecg/mitdb/121"],
    "emg": ["emg/uci_lower_limb/3Amar", "emg/uci_lower_limb/4Apie"],
}
#: (drift, seconds, times the standard deviation)
DRIFTS = [
    ("walk", 30.0, 0.0),
    ("settle", 10.0, 20.0),
    ("settle", 30.0, 50.0),
    ("walk", 30.0, 20.0),
    ("walk", 60.0, 100.0),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a .specae file (default: shipped)")
    args = parser.parse_args()
    sample = load_sample(extended=True, download=False, verbose=False)
    by_name = {raw.info["description"]: raw for raws in sample.values() for raw in raws}
    print("drift    length  size  type: right / channels  (every answer)")
    for drift, seconds, times in DRIFTS:
        label = "offset" if times == 0 else drift
        for ch_type, names in RECORDINGS.items():
            answers = collections.Counter()
            for name in names:
                raw = by_name[name]
                tmin = min(20.0, raw.times[-1] - seconds - 1)
                if tmin < 0:  # the recording is shorter
                    continue
                for seed in range(2):
                    part = drifting(raw, tmin, seconds, drift, times, seed=seed)
                    table = msa.identify_channel_types(part, model=args.model, verbose=False)
                    answers.update(table["predicted"])
            n = sum(answers.values())
            if not n:
                print(f"{label:7s} {seconds:5.0f} s {times:4.0f}x  {ch_type}: recordings too short")
                continue
            print(
                f"{label:7s} {seconds:5.0f} s {times:4.0f}x  {ch_type}: "
                f"{answers[ch_type]:3d} / {n:3d}  {dict(answers)}"
            )


if __name__ == "__main__":
    main()
