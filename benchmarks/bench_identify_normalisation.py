"""Which normalisation lets a signal-type head transfer to sources it never saw?

    python benchmarks/bench_identify_normalisation.py item
    python benchmarks/bench_identify_normalisation.py dataset

Trains the recommended 2-D encoder (12 epochs) on at most 24 segments and 4 channels
of every developer recording (sample and extended sets), with each image z-scored on
its own (``item``) or with per-frequency statistics of the training data
(``dataset``, the recommended preset). Then, for each source, a standardised logistic
head (C=0.1, balanced) is fitted on the per-item embeddings of the other sources, and
the held-out source's channels are classified by their mean probability. Prints the
segment accuracy per held-out source and the channel confusion.

This chose ``normalize="item"`` for the pretrained encoder (see the model card): it
was measured on the same sources the model card reports, so it is disclosed there.
Measured on 2 CPU cores (2026-11-25): item: segments 0.991 / 0.917 / 0.998 / 0.989
(mitdb / biosppy / eegmat / UCI), channels 1,035 of 1,039 right; dataset: segments
0.983 / 0.243 / 0.046 / 0.843, every eegmat EEG channel wrong.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from downstream_data import load_downstream_epochs  # noqa: E402

from mne_specae import SpecAE, presets, select_evenly  # noqa: E402
from mne_specae.estimator.calibration import channel_items  # noqa: E402


def main(norm):
    epochs = load_downstream_epochs()
    est = SpecAE(**dict(presets.RECOMMENDED, normalize=norm), random_state=0, verbose=False)
    est.fit([select_evenly(e, 24, 4) for e in epochs], init=None)
    feats, rows = [], []
    for ep in epochs:
        f, _, channels = channel_items(est, ep)
        per_epoch = len(f) // len(ep)
        md = ep.metadata
        for i, ch in enumerate(channels):
            k = i // per_epoch
            rows.append(
                (md["source"].iloc[k], md["signal_type"].iloc[k], f"{md['recording'].iloc[k]}:{ch}")
            )
        feats.append(f)
    X = np.concatenate(feats)
    meta = pd.DataFrame(rows, columns=["source", "type", "channel"])
    per_channel = []
    for source in sorted(meta["source"].unique()):
        test = (meta["source"] == source).to_numpy()
        clf = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
        )
        clf.fit(X[~test], meta["type"][~test])
        proba = pd.DataFrame(clf.predict_proba(X[test]), columns=clf.classes_)
        proba["channel"] = meta["channel"][test].to_numpy()
        proba["type"] = meta["type"][test].to_numpy()
        accuracy = (clf.predict(X[test]) == meta["type"][test]).mean()
        agg = proba.groupby("channel").agg({**{c: "mean" for c in clf.classes_}, "type": "first"})
        agg["predicted"] = agg[list(clf.classes_)].idxmax(axis=1)
        per_channel.append(agg.assign(source=source))
        print(f"{norm}: held-out {source}: segment accuracy {accuracy:.3f}")
    table = pd.concat(per_channel)
    print(pd.crosstab([table["source"], table["type"]], table["predicted"]).to_string())
    print(
        f"{norm}: {int((table['predicted'] == table['type']).sum())} of {len(table)} channels right"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "item")
