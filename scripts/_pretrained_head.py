"""The heads of the shipped model, fitted and evaluated: ``train_pretrained.py``'s second half.

* Data: evenly spread recordings of every corpus source (at most ``--types-per-source``)
  and the developers' sample and extended sets, as
  :func:`~mne_specae.identify_channel_types` sees them
  (:func:`~mne_specae.collect_type_data`: rules, rate-aware features, embeddings; the
  truth from the corpus registry's types and kinds).
* Evaluation first, leave one source out (:func:`~mne_specae.evaluate_types`): for
  each source both heads are fitted on the others and its channels decided; a
  confusion matrix per MNE type with the unknown rate, per source; then synthetic and
  real non-biosignal channels.
* Then the shipped heads on every source: the encoder's ECG/EEG/EMG head and the
  type head (:func:`~mne_specae.calibrate_types`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

import mne_specae as msa
from mne_specae.pretrained._type_fit import _encoder_calibration

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from _pretrained_eval import goniometer_raws, synthetic_channels  # noqa: E402
from bench_types_corpus import collect as collect_types  # noqa: E402
from bench_types_corpus import report  # noqa: E402


def collect(est, args):
    """The type data of the corpus and developers' recordings (``bench_types_corpus``)."""
    return collect_types(
        est,
        SimpleNamespace(
            corpus=args.corpus, per_source=args.types_per_source, max_segments=args.max_segments
        ),
    )


def evaluate_and_calibrate(est, args):
    """Evaluate (leave one source out), then fit the shipped heads on every source."""
    args.out.mkdir(parents=True, exist_ok=True)
    data = collect(est, args)
    t0 = time.time()
    result = msa.evaluate_types(est, data, C=args.C, verbose=False)
    print(f"leave one source out in {time.time() - t0:.0f} s")
    report(result, args.out)
    est.calibration_ = _encoder_calibration(data, args.C)
    msa.calibrate_types(est, data, C=args.C, verbose=False)
    cal = est.calibration_
    print(
        f"\nShipped heads: {cal}; max distance {cal.max_distance:.3f}, max error z "
        f"{cal.max_error_z:.2f}; type head {cal.type_head!r}"
    )
    junk = pd.concat(
        [
            msa.identify_channel_types(r, model=est, verbose=False)
            .assign(source=name)
            .reset_index()
            for name, r in [("synthetic", synthetic_channels())]
            + [("goniometer", r) for r in goniometer_raws()]
        ]
    )
    print("\nSynthetic and goniometer channels (never in the data above):")
    print(junk[["source", "channel", "predicted", "kind", "reason"]].to_string(index=False))
    junk.to_csv(args.out / "non_biosignals.csv", index=False)
    return est
