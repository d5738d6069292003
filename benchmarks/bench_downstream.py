"""Benchmark: what are the embeddings good for? Tasks x representations, held out.

On the developers' data (the sample and the extended set; see ``downstream_data.py``),
with :func:`mne_specae.compare_representations`:

* tasks: signal type (leave-subjects-out, and leave-one-**source**-out), eegmat EEG
  rest vs mental arithmetic, BioSPPy EEG eyes closed vs open (one subject: time blocks
  of 60 s held out), UCI EMG exercise (gait / standing / sitting) and group (normal /
  knee abnormality), MIT-BIH 100 ECG segments with vs without non-normal beats (one
  record: 180 s blocks held out), eegmat ECG lead rest vs mental arithmetic;
* representations, fitted in every fold on the training groups only: the SpecAE of the
  chosen preset (2-D), the 1-D waveform autoencoder with the same network settings,
  the same 2-D encoder with its initial random weights, a PCA of the 2-D model's input
  images, and the features users would pick instead: log band powers from MNE's Welch
  PSD, catch22 (pycatch22, where installed), libemg's time-domain EMG set and heart
  rate / HRV from a simple R-peak detector (the hand-crafted ones followed by a median
  imputer: NaN where a feature is undefined, e.g. HRV with fewer than 3 beats);
* channel aggregations: every representation averages the channels of an epoch; on
  the tasks whose epochs have several channels (``CONCAT_TASKS``) the same
  representations with each channel's features kept (``*_concat``:
  ``channel_agg="concat"``) are scored too, fitted on that task's epochs only (the
  channel count must be the same everywhere), on the same folds;
* probes: standardised logistic regression, 5-nearest-neighbours and gradient boosting
  (scikit-learn's HistGradientBoostingClassifier), balanced accuracy pooled over the
  folds' held-out segments; mean and spread over seeds and folds; the same with
  features z-scored within each subject (``standardized``). ``wins.csv`` says, per
  task, probe and standardisation, which representation wins and how the best SpecAE
  compares with the best hand-crafted baseline.

The eegmat and UCI subjects the recipe was chosen on (``SELECT_SUBJECTS``) are never
held out here: they only ever train. Every number is on subjects (or sources, or time
blocks) that neither the encoder nor the probe saw.

Run::

    python benchmarks/bench_downstream.py --quick     # 22 min on 2 CPU cores (every baseline)
    python benchmarks/bench_downstream.py             # 3 seeds, 5 folds (hours on 2 cores)
    python benchmarks/bench_downstream.py --smoke     # CI: tiny, checks the table

Writes ``scores.csv`` (every fold), ``table.csv`` (the summary), ``wins.csv`` and
``table.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from downstream_data import describe, load_downstream_epochs  # noqa: E402
from downstream_tasks import (  # noqa: E402, F401 (re-exported)
    CONCAT_REPRESENTATIONS,
    CONCAT_TASKS,
    HANDCRAFTED,
    MEAN_REPRESENTATIONS,
    MODES,
    PROBES,
    REPRESENTATION_ORDER,
    SMOKE_SETTINGS,
    TASKS_LABELS,
    concat_representations,
    handcrafted,
    machine,
    report_folds,
    representations,
    signal_type_by_source,
    subset_folds,
    task_epochs,
    tasks,
)


def run(mode="quick", preset=None, out=None, verbose=True):
    """Run the benchmark; returns (scores, table)."""
    import mne
    import pandas as pd

    from mne_specae import compare_representations, presets, summarize_scores

    settings = MODES[mode]
    preset = dict(presets.RECOMMENDED if preset is None else preset)
    if mode == "smoke":
        preset.update(SMOKE_SETTINGS)
    mne.set_log_level("warning")
    start = time.perf_counter()
    keep = None
    if mode == "smoke":
        keep = lambda s: not s.startswith(("eegmat", "uci")) or s in SMOKE_SUBJECTS  # noqa
    epochs_list = load_downstream_epochs(
        max_segments=settings["max_segments"],
        mitdb100_segments=settings["mitdb100_segments"],
        subjects=keep,
    )
    loaded = time.perf_counter() - start
    if verbose:
        print(f"Data ({loaded:.0f} s to read and cut):")
        print(describe(epochs_list).to_string())
    common = dict(
        seeds=settings["seeds"],
        probes=PROBES,
        standardize_by="subject",
        max_fit_items=settings["max_fit_items"],
        verbose="info" if verbose else False,
    )
    folds = report_folds(epochs_list, settings["n_splits"])
    by_subject = compare_representations(
        epochs_list,
        tasks(epochs_list),
        representations(preset),
        group="split",
        folds=folds,
        **common,
    )
    by_source = signal_type_by_source(epochs_list, representations(preset), **common)
    per_channel, by_query = [], {}
    for name in CONCAT_TASKS:  # the tasks of the same epochs share their fits
        by_query.setdefault(TASKS_LABELS[name][1], []).append(name)
    for names in by_query.values():  # one modality, one channel count: channels kept
        subset = task_epochs(epochs_list, names[0])
        per_channel.append(
            compare_representations(
                subset,
                tasks(subset, names),
                concat_representations(preset),
                group="split",
                folds=subset_folds(folds, subset),
                **common,
            )
        )
    scores = pd.concat([by_subject, by_source, *per_channel], ignore_index=True)
    table = summarize_scores(scores)
    seconds = time.perf_counter() - start
    if verbose:
        print_table(table)
        print(f"\n{mode} run: {seconds / 60:.1f} min on {machine()}")
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out / "scores.csv", index=False)
        table.to_csv(out / "table.csv", index=False, float_format="%.4f")
        wins(table).to_csv(out / "wins.csv", index=False, float_format="%.4f")
        for probe in PROBES:  # the docs page's tables
            pivot(table, probe).to_csv(out / f"table_{probe}.csv")
            wide = pivot(table, probe, standardized=True)
            wide.loc[[t for t in WITHIN_SUBJECT_TASKS if t in wide.index]].to_csv(
                out / f"table_{probe}_subject_z.csv"
            )
        fig = plot_table(table)
        fig.savefig(out / "table.png", dpi=110, bbox_inches="tight")
        reconstruction_figures(epochs_list, preset, folds, settings["max_fit_items"], out)
        (out / "run.txt").write_text(
            f"mode: {mode}\nminutes: {seconds / 60:.1f}\nmachine: {machine()}\npreset: {preset}\n"
        )
    return scores, table


def reconstruction_figures(epochs_list, preset, folds, max_items, out):
    """Held-out inputs and reconstructions (fold 0's model), one figure per type."""
    import matplotlib.pyplot as plt

    from mne_specae import SpecAE
    from mne_specae.evaluation.downstream import fit_subset
    from mne_specae.viz import plot_reconstruction

    held = {g for g, k in folds.items() if k == 0}

    def is_held(ep):
        return ep.metadata["split"].iloc[0] in held

    train = fit_subset([ep for ep in epochs_list if not is_held(ep)], max_items)
    estimator = SpecAE(**preset, verbose="warning").fit(train)
    for kind in ("ecg", "eeg", "emg"):
        shown = [
            ep
            for ep in epochs_list
            if is_held(ep) and ep.metadata["signal_type"].iloc[0] == kind and len(ep) >= 2
        ]
        if shown:
            fig = plot_reconstruction(estimator, shown[0], n_examples=2, show=False)
            fig.suptitle(f"{kind.upper()}, held out: {shown[0].metadata['subject'].iloc[0]}")
            fig.savefig(out / f"reconstruction_{kind}.png", dpi=100, bbox_inches="tight")
            plt.close(fig)


SMOKE_SUBJECTS = (
    "eegmat-Subject00",
    "eegmat-Subject01",
    "eegmat-Subject10",
    "eegmat-Subject11",
    "uci-1A",
    "uci-1N",
    "uci-7A",
    "uci-6N",
    "uci-8N",
    "uci-9A",
)


def pivot(table, probe="logistic", standardized=False):
    """Tasks x representations: 'mean ± std over seeds' of one probe."""
    sub = table[(table["probe"] == probe) & (table["standardized"] == standardized)]
    cell = sub.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(sub["mean"], sub["std_seeds"])])
    wide = cell.pivot(index="task", columns="representation", values="cell")
    order = [r for r in REPRESENTATION_ORDER if r in wide.columns]
    tasks_order = [t for t in (*TASKS_LABELS, "signal_type_leave_source_out") if t in wide.index]
    return wide.loc[tasks_order, order]


#: Tasks whose classes vary within a subject: only there is z-scoring features within
#: each subject meaningful (elsewhere it removes the very differences to be found).
WITHIN_SUBJECT_TASKS = (
    "eeg_rest_vs_arithmetic",
    "eeg_eyes_closed_vs_open",
    "emg_exercise",
    "ecg_beats",
    "ecg_rest_vs_arithmetic",
)


def wins(table):
    """Per task, probe and standardisation: the winning representation, and the best
    SpecAE (either aggregation) against the best hand-crafted baseline."""
    import pandas as pd

    rows = []
    for (task, probe, standardized), sub in table.groupby(["task", "probe", "standardized"]):
        if standardized and task not in WITHIN_SUBJECT_TASKS:
            continue
        sub = sub.set_index("representation")["mean"]
        crafted = sub[[r for r in sub.index if r.removesuffix("_concat") in HANDCRAFTED]]
        specae = sub[[r for r in sub.index if r in ("specae", "specae_concat")]]
        rows.append(
            dict(
                task=task,
                probe=probe,
                standardized=standardized,
                winner=sub.idxmax(),
                winner_score=sub.max(),
                best_specae=specae.idxmax() if len(specae) else None,
                specae_score=specae.max() if len(specae) else float("nan"),
                best_handcrafted=crafted.idxmax() if len(crafted) else None,
                handcrafted_score=crafted.max() if len(crafted) else float("nan"),
            )
        )
    out = pd.DataFrame(rows)
    out["specae_minus_handcrafted"] = out["specae_score"] - out["handcrafted_score"]
    return out


def print_table(table):
    for probe in PROBES:
        for standardized in (False, True):
            wide = pivot(table, probe, standardized)
            if standardized:
                wide = wide.loc[[t for t in WITHIN_SUBJECT_TASKS if t in wide.index]]
            print(
                f"\nBalanced accuracy, {probe} probe"
                f"{', features z-scored within subject' if standardized else ''} "
                "(mean ± std over seeds; held-out subjects/sources/blocks):"
            )
            print(wide.to_string())
    print("\nWho wins (mean balanced accuracy; SpecAE's best against the best hand-crafted):")
    print(wins(table).to_string(index=False, float_format="%.3f"))
    r2 = (
        table[table["task"] == "signal_type"]
        .groupby("representation")["heldout_r2"]
        .first()
        .dropna()
    )
    print(
        "\nHeld-out reconstruction R² of the normalised inputs (subject folds): "
        + ", ".join(f"{k} {v:.3f}" for k, v in r2.items())
    )


def plot_table(table, probe="logistic"):
    """Grouped bars: tasks x representations, one probe, plain features."""
    import matplotlib.pyplot as plt

    sub = table[(table["probe"] == probe) & (~table["standardized"])]
    reps = [r for r in REPRESENTATION_ORDER if r in set(sub["representation"])]
    task_names = [
        t for t in (*TASKS_LABELS, "signal_type_leave_source_out") if t in set(sub["task"])
    ]
    fig, ax = plt.subplots(figsize=(13, 5), layout="constrained")
    width = 0.8 / len(reps)
    for k, rep in enumerate(reps):
        rows = sub[sub["representation"] == rep].set_index("task").reindex(task_names)
        ax.bar(
            np.arange(len(task_names)) + (k - (len(reps) - 1) / 2) * width,
            rows["mean"],
            width,
            yerr=rows["std_seeds"],
            label=rep,
            capsize=2,
        )
    ax.set_xticks(
        np.arange(len(task_names)), [t.replace("_", "\n", 2) for t in task_names], fontsize=8
    )
    ax.set_ylabel(f"balanced accuracy ({probe} probe)")
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    ax.legend(ncols=min(len(reps), 7), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quick",
        action="store_true",
        help="fewer segments, 3 folds, one seed (about 22 min on 2 cores)",
    )
    group.add_argument(
        "--smoke", action="store_true", help="a tiny run that checks the table (CI, < 2 min)"
    )
    parser.add_argument(
        "--preset",
        default="recommended",
        help="name in mne_specae.presets.PRESETS (default: recommended)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="folder for scores.csv, table.csv, table.png (default: none written)",
    )
    args = parser.parse_args(argv)
    from mne_specae.presets import PRESETS

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    return run(mode, PRESETS[args.preset], out=args.out)


if __name__ == "__main__":
    main()
