"""Benchmark: frozen pretrained encoders as "a first step by classifiers".

Does pretraining add anything over the same network with random weights, and over the
features users would pick instead? On the developers' labelled data (the same
segments, tasks and folds as ``bench_downstream.py``), each encoder named with
``--model`` is used **frozen** (never refitted on the task data):

* ``<name>``: its embeddings, channels averaged; ``<name>_concat``: each channel's
  features kept (on the multi-channel tasks);
* ``<name>_random``: the same network and input stage with the weights it started
  from (seed of the model's settings), untrained;
* baselines fitted in every fold on the training subjects only: PCA of the input
  images, log band powers, catch22, libemg-style EMG time-domain features, heart rate.

Probes (standardised logistic regression and gradient boosting) are trained on the
training subjects and scored on held-out subjects (balanced accuracy), raw and with
features z-scored within each subject. The selection subjects of ``downstream_data``
never test. The shipped encoder (``biosignals``, trained on the pretraining corpus)
never saw eegmat or the UCI lower-limb recordings; the encoder of release 0.1 (in the
git history, e46a1d2) saw every subject of the developers' data (its numbers on these
tasks were not on unseen subjects for the encoder, only for the probe).

Run::

    python benchmarks/bench_pretrained.py --model biosignals --quick
    python benchmarks/bench_pretrained.py --model biosignals --model corpus=/tmp/x.specae \\
        --out doc/benchmarks/pretrained_probes
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

sys.path.insert(0, str(Path(__file__).parent))

from bench_downstream import (  # noqa: E402
    CONCAT_TASKS,
    MODES,
    TASKS_LABELS,
    WITHIN_SUBJECT_TASKS,
    handcrafted,
    machine,
    report_folds,
    signal_type_by_source,
    subset_folds,
    task_epochs,
    tasks,
)
from downstream_data import describe, load_downstream_epochs  # noqa: E402

PROBES = ("logistic", "gradient_boosting")
TASK_NAMES = (
    "eeg_rest_vs_arithmetic",
    "ecg_rest_vs_arithmetic",
    "emg_exercise",
    "emg_group",
    "signal_type",
)


#: The frozen models by key (``Frozen`` holds the key: scikit-learn's ``clone`` in
#: every fold would otherwise give an unfitted copy of the model).
MODELS = {}


class Frozen(BaseEstimator, TransformerMixin):
    """A fitted SpecAE used as it is: ``fit`` does nothing, ``transform`` embeds.

    ``channel_agg="concat"`` keeps each channel's pooled features (in channel order);
    ``"mean"`` averages them, as the model's own ``transform``.
    """

    def __init__(self, key="", channel_agg="mean"):
        self.key = key
        self.channel_agg = channel_agg

    def fit(self, epochs_list, y=None):
        return self

    def transform(self, epochs_list):
        latent = MODELS[self.key].encode(epochs_list, verbose=False)
        if not isinstance(latent, list):
            latent = [latent]
        # one (n_epochs, n_channels, n_features) array per Epochs
        if self.channel_agg == "concat":
            return np.concatenate([x.reshape(len(x), -1) for x in latent])
        return np.concatenate([x.mean(axis=1) for x in latent])


def load_model(spec):
    """``name`` of a pretrained model or ``label=path`` of a .specae file."""
    import mne_specae

    label, _, path = spec.partition("=")
    if path:
        return label, mne_specae.SpecAE.load(path)
    return label, mne_specae.load_pretrained(label, verbose=False)


def encoders(models, channel_agg):
    from mne_specae.evaluation.baselines import RandomWeights

    suffix = "_concat" if channel_agg == "concat" else ""
    reps = {}
    for label, est in models:
        MODELS[label] = est
        MODELS[f"{label}_random"] = RandomWeights.from_fitted(est)
        reps[f"{label}{suffix}"] = Frozen(label, channel_agg)
        reps[f"{label}_random{suffix}"] = Frozen(f"{label}_random", channel_agg)
    return reps


def run(models, mode="quick", out=None):
    import mne
    import pandas as pd

    from mne_specae import SpecAE, compare_representations, summarize_scores
    from mne_specae.evaluation.baselines import InputPCA

    settings = MODES[mode]
    mne.set_log_level("warning")
    start = time.perf_counter()
    epochs_list = load_downstream_epochs(
        max_segments=settings["max_segments"], mitdb100_segments=settings["mitdb100_segments"]
    )
    print(describe(epochs_list).to_string())
    common = dict(
        seeds=(0,),
        probes=PROBES,
        standardize_by="subject",
        max_fit_items=settings["max_fit_items"],
        verbose=False,
    )
    folds = report_folds(epochs_list, settings["n_splits"])
    first = models[0][1]
    mean_reps = {
        **encoders(models, "mean"),
        "pca_input": InputPCA(SpecAE(**first.get_params())),
        **handcrafted(),
    }
    names = [t for t in TASK_NAMES if t in TASKS_LABELS]
    parts = [
        compare_representations(
            epochs_list, tasks(epochs_list, names), mean_reps, group="split", folds=folds, **common
        )
    ]
    by_source = signal_type_by_source(epochs_list, mean_reps, **common)
    parts.append(by_source)
    by_query = {}
    for name in CONCAT_TASKS:
        if name in names:
            by_query.setdefault(TASKS_LABELS[name][1], []).append(name)
    for group_names in by_query.values():
        subset = task_epochs(epochs_list, group_names[0])
        parts.append(
            compare_representations(
                subset,
                tasks(subset, group_names),
                {
                    **encoders(models, "concat"),
                    "pca_input_concat": InputPCA(
                        SpecAE(**first.get_params()), channel_agg="concat"
                    ),
                    **handcrafted("concat", "_concat"),
                },
                group="split",
                folds=subset_folds(folds, subset),
                **common,
            )
        )
    table = summarize_scores(pd.concat(parts, ignore_index=True))
    seconds = time.perf_counter() - start
    for probe in PROBES:
        for standardized in (False, True):
            sub = table[(table["probe"] == probe) & (table["standardized"] == standardized)]
            if standardized:
                sub = sub[sub["task"].isin(WITHIN_SUBJECT_TASKS)]
            wide = sub.pivot(index="task", columns="representation", values="mean")
            print(
                f"\nBalanced accuracy, {probe} probe"
                f"{', features z-scored within subject' if standardized else ''}:"
            )
            print(wide.round(3).T.to_string())
    print(f"\n{mode} run: {seconds / 60:.1f} min on {machine()}")
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "table.csv", index=False, float_format="%.4f")
        (out / "run.txt").write_text(
            f"mode: {mode}\nminutes: {seconds / 60:.1f}\nmachine: {machine()}\n"
            f"models: {[label for label, _ in models]}\n"
        )
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="a pretrained name (biosignals) or label=path.specae; repeatable",
    )
    parser.add_argument("--quick", action="store_true", help="fewer segments, 3 folds")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (checks the table)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    models = [load_model(spec) for spec in (args.model or ["biosignals"])]
    for _, est in models:  # frozen: never refitted; a copy keeps the caller's safe
        est.set_params(verbose="warning")
    models = [(label, copy.copy(est)) for label, est in models]
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    run(models, mode, args.out)


if __name__ == "__main__":
    main()
