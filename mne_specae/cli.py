"""The ``mne-specae`` command line: ``demo`` (the main job on the sample recordings)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mne


def _segment_sample(raws, duration, sfreq):
    from .datasets import get_recording
    from .segments import make_segments

    epochs = []
    for modality_raws in raws.values():
        for raw in modality_raws:
            labels = get_recording(raw.info["description"]).labels
            if raw.n_times / raw.info["sfreq"] < duration:
                continue
            epochs.append(make_segments(raw, duration, sfreq, metadata=labels))
    return epochs


def _demo(args):
    import pandas as pd

    from .datasets import load_sample

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raws = load_sample(args.data)
    epochs = _segment_sample(raws, args.duration, args.sfreq)
    table = pd.concat([ep.metadata.assign(n_channels=len(ep.ch_names)) for ep in epochs],
                      ignore_index=True)
    table.to_csv(out / "segments.csv", index=False)
    summary = table.groupby("signal_type").agg(
        recordings=("recording", "nunique"),
        subjects=("subject", "nunique"),
        segments=("onset", "size"),
    )
    summary["channel_segments"] = table.groupby("signal_type")["n_channels"].sum()
    print(f"Segments of {args.duration:g} s at {args.sfreq:g} Hz from the sample recordings:")
    print(summary.to_string())
    print(f"Wrote {out / 'segments.csv'}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mne-specae",
        description="Learn features from ECG, EEG and EMG spectrograms (MNE-Python).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="run the main job on the bundled real sample recordings"
    )
    demo.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    demo.add_argument("--data", default=None,
                      help="data folder with the recordings (default: MNE_SPECAE_DATA)")
    demo.add_argument("--duration", type=float, default=5.0, help="segment length in s")
    demo.add_argument("--sfreq", type=float, default=512.0, help="sampling rate in Hz")
    demo.set_defaults(func=_demo)
    for command in sub.choices.values():
        command.add_argument("--verbose", action="store_true", help="log progress")
    return parser


def main(argv=None):
    """Entry point of the ``mne-specae`` command."""
    args = build_parser().parse_args(argv)
    mne.set_log_level("INFO" if args.verbose else "WARNING")
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, KeyError) as err:
        print(f"mne-specae {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
