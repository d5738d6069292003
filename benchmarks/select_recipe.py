"""Choose the recommended SpecAE settings by evidence, on the selection subjects only.

The inner loop of a nested selection: every candidate recipe is trained and probed by
:func:`mne_specae.compare_representations` with folds over the *selection* subjects
(``downstream_data.SELECT_SUBJECTS``: eegmat Subject00-09 and ten UCI subjects), on
the within-modality tasks (eegmat rest vs arithmetic, UCI exercise and group). The
subjects the downstream benchmark reports (``role == "report"``), MIT-BIH 100 and the
BioSPPy EEG (the beats and eyes tasks) are not read at all, so the choice cannot be
tuned on what ``bench_downstream.py`` reports. Signal type is not a criterion.

Score of a recipe: the mean over the three tasks and the two probes of the balanced
accuracy pooled over the held-out folds (5 folds of the selection subjects); the
random-weights copy of the current
recommendation is scored alongside as the floor.

Run::

    python benchmarks/select_recipe.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from downstream_data import SELECT_SUBJECTS, describe, load_downstream_epochs  # noqa: E402

#: Candidate recipes: changes to presets.RECOMMENDED as it was before the selection.
CANDIDATES = {
    "baseline": {},
    "mask25": dict(mask_fraction=0.25),
    "mask50": dict(mask_fraction=0.5),
    "mask25_noise": dict(mask_fraction=0.25, noise_std=0.2),
    "nfft512": dict(n_fft=512),
    "dataset_norm": dict(normalize="dataset"),
    "dataset_norm_mask25": dict(normalize="dataset", mask_fraction=0.25),
    "dataset_norm_nfft512": dict(normalize="dataset", n_fft=512),
    "filters64": dict(filters=64),
    "long": dict(max_epochs=30, patience=5),
    "meanmax": dict(pooling="meanmax"),
}
SELECTION_TASKS = ("eeg_rest_vs_arithmetic", "emg_exercise", "emg_group")


def keep(subject):
    """The selection subjects and the sources no reported task uses."""
    if subject.startswith(("eegmat", "uci")):
        return subject in SELECT_SUBJECTS
    return subject not in ("mitdb-100", "biosppy-eeg")


def main(argv=None):
    import mne
    import pandas as pd
    from bench_downstream import machine, tasks

    from mne_specae import SpecAE, compare_representations, summarize_scores
    from mne_specae.evaluation.baselines import RandomWeights
    from mne_specae.presets import RECOMMENDED

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer segments and items")
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    mne.set_log_level("warning")
    start = time.perf_counter()
    epochs_list = load_downstream_epochs(max_segments=4 if args.quick else 12, subjects=keep)
    print(describe(epochs_list).to_string())
    reps = {
        name: SpecAE(**dict(RECOMMENDED, **CANDIDATES[name]), verbose="warning")
        for name in args.candidates
    }
    reps["random_weights"] = RandomWeights(args.candidates[0])
    scores = compare_representations(
        epochs_list,
        tasks(epochs_list, SELECTION_TASKS),
        reps,
        group="split",
        n_splits=args.n_splits,
        seeds=(0,),
        max_fit_items=600 if args.quick else 3000,
        verbose="info",
    )
    table = summarize_scores(scores)
    plain = table[~table["standardized"]]
    wide = plain.pivot_table(index="representation", columns=["task", "probe"], values="mean")
    wide["score"] = wide.mean(axis=1)
    wide = wide.sort_values("score", ascending=False)
    per_rep = scores[scores["fold"] >= 0].groupby("representation")
    wide["fit_s"] = per_rep["fit_seconds"].mean().reindex(wide.index)
    wide["heldout_r2"] = per_rep["heldout_r2"].mean().reindex(wide.index)
    pd.set_option("display.width", 200)
    print(f"\nBalanced accuracy on held-out selection subjects ({args.n_splits} folds):")
    print(wide.round(3).to_string())
    best = wide.drop(index="random_weights").index[0]
    print(
        f"\nChosen: {best} = {CANDIDATES[best]} "
        f"({(time.perf_counter() - start) / 60:.1f} min on {machine()})"
    )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out / "selection_scores.csv", index=False)
        wide.round(4).to_csv(out / "selection_table.csv")
    return wide


if __name__ == "__main__":
    main()
