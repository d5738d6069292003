"""The downstream protocol (mne_specae.evaluation.downstream: group_folds, fit_subset,
compare_representations, summarize_scores) and a smoke run of
benchmarks/bench_downstream.py; the baselines, probes and reconstruction R² are tested in
tests/test_baselines.py, the shared helpers are in tests/downstream_helpers.py.

The leakage tests wrap representations in recorders that log the subjects of every
Epochs passed to ``fit`` and the segments passed to ``transform``: a held-out group
must never reach a representation's ``fit``, and every representation must be scored
on exactly the same held-out segments.
"""

import copy
import dataclasses
import importlib.util
import sys
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
import torch
from downstream_helpers import (
    CallLog,
    Constant,
    LabelOracle,
    Recorder,
    RecordingSpecAE,
    _initial_weights,
    _labelled_epochs,
    _metadata,
    _segment_ids,
    _sine_epochs,
    load_real_epochs,
)
from sklearn.base import clone
from tiny import TINY, TINY_ONE_EPOCH

from mne_specae import SpecAE, Task, compare_representations, summarize_scores
from mne_specae.evaluation.baselines import BandPowers, InputPCA, RandomWeights
from mne_specae.evaluation.downstream import fit_subset, group_folds
from mne_specae.evaluation.probes import PROBES

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_downstream.py"

TASKS = {
    "signal_type": Task("signal_type"),
    "eeg_condition": Task("condition", "signal_type == 'eeg'"),
    "emg_exercise": Task("exercise", "signal_type == 'emg'"),
}


@pytest.fixture(scope="module")
def real_epochs(data_path):
    """2 segments (1 channel) of every sample recording of 4 eegmat and 4 UCI subjects:
    52 segments in 27 Epochs, with a ``source`` column (eegmat / uci)."""
    return load_real_epochs()


# ------------------------------------------------------------------------ group_folds
def test_group_folds_whole_groups_strata_spread():
    rng = np.random.default_rng(0)
    group_strata = {
        **{f"a{k}": "A" for k in range(7)},
        **{f"b{k}": "B" for k in range(5)},
        "c0": "C",
    }
    groups = rng.permutation(np.repeat(list(group_strata), 3))  # 3 rows per group
    strata = [group_strata[g] for g in groups]
    folds = group_folds(groups, 3, strata=strata, seed=1)
    assert set(folds) == set(group_strata)
    assert set(folds.values()) == {0, 1, 2}
    assert all(isinstance(k, int) for k in folds.values())
    # never splits a group: every row of a group gets its group's fold
    row_fold = np.array([folds[g] for g in groups])
    for g in group_strata:
        assert len(set(row_fold[groups == g])) == 1
    # each stratum dealt over the folds in turn: at most one group apart
    for stratum in "AB":
        counts = np.bincount(
            [folds[g] for g, s in group_strata.items() if s == stratum], minlength=3
        )
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1, (stratum, counts)
    sizes = np.bincount(list(folds.values()), minlength=3)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 13
    # without strata: sizes as balanced
    plain = group_folds(groups, 4)
    assert sorted(np.bincount(list(plain.values()))) == [3, 3, 3, 4]


def test_group_folds_leave_one_group_out_and_seed():
    groups = ["s3", "s1", "s2", "s1", "s0", "s3"]
    logo = {"s0": 0, "s1": 1, "s2": 2, "s3": 3}
    assert group_folds(groups, None) == logo
    assert group_folds(groups, 4) == logo
    assert group_folds(groups, 10, strata=["x", "y", "x", "y", "x", "x"]) == logo
    assert group_folds([3, 1, 2], None) == {"1": 0, "2": 1, "3": 2}  # keys as str
    many = [f"g{k:02d}" for k in range(20)]
    assert group_folds(many, 4, seed=7) == group_folds(many, 4, seed=7)
    assert group_folds(many, 4, seed=7) != group_folds(many, 4, seed=8)
    assert len({tuple(sorted(group_folds(many, 4, seed=s).items())) for s in range(5)}) > 1
    with pytest.raises(ValueError, match="n_splits must be an int >= 2"):
        group_folds(many, 1)
    with pytest.raises(TypeError, match="n_splits"):
        group_folds(many, 2.5)


# ------------------------------------------------------------------------- fit_subset
def test_fit_subset_shares_items_by_signal_type():
    eeg_long = _sine_epochs(
        [10, 12], n_epochs=10, duration=1.0, metadata=pd.DataFrame(dict(signal_type=["eeg"] * 10))
    )
    eeg_short = _sine_epochs(
        [10, 12], n_epochs=4, duration=1.0, metadata=pd.DataFrame(dict(signal_type=["eeg"] * 4))
    )
    emg = _sine_epochs(
        [100],
        ch_type="emg",
        n_epochs=6,
        duration=1.0,
        metadata=pd.DataFrame(dict(signal_type=["emg"] * 6)),
    )
    epochs_list = [eeg_long, eeg_short, emg]
    assert fit_subset(epochs_list, None) is epochs_list
    # 12 items: 6 per type; EEG has 28 items (share 6/28), EMG 6 (all kept)
    out = fit_subset(epochs_list, 12)
    assert [len(ep) for ep in out] == [2, 1, 6]
    assert out[2] is emg  # nothing to drop: the same Epochs
    np.testing.assert_array_equal(out[0].selection, eeg_long.selection[[0, 9]])  # spread
    assert sum(len(ep) * len(ep.ch_names) for ep in out[:2]) <= 6
    assert [len(ep) for ep in (eeg_long, eeg_short, emg)] == [10, 4, 6]  # inputs untouched
    # a large budget keeps everything
    assert [len(ep) for ep in fit_subset(epochs_list, 1000)] == [10, 4, 6]


# ------------------------------------------------------- compare_representations: leakage
@pytest.mark.slow
def test_compare_representations_never_fits_on_held_out_groups(real_epochs):
    log = CallLog()
    RecordingSpecAE.log = log
    try:
        scores = compare_representations(
            real_epochs,
            TASKS,
            {
                "specae": RecordingSpecAE(**dict(TINY_ONE_EPOCH, random_state=9)),  # seed: 0
                "random": RandomWeights("specae"),
                "bands": BandPowers(),
                "rec_bands": Recorder(BandPowers(), log, "rec_bands"),
                "rec_pca": Recorder(InputPCA(SpecAE(**TINY), n_components=3), log, "rec_pca"),
            },
            n_splits=2,
            standardize_by="subject",
            verbose=False,
        )
    finally:
        RecordingSpecAE.log = None
    md = _metadata(real_epochs)
    subjects = md["subject"].to_numpy()
    all_ids = _segment_ids(real_epochs)
    expected = group_folds(subjects, 2, strata=md["source"], seed=0)
    assert set(expected.values()) == {0, 1}
    reps = ["specae", "random", "bands", "rec_bands", "rec_pca"]
    assert set(scores["representation"]) == set(reps)
    assert set(scores["task"]) == set(TASKS)
    assert set(scores["probe"]) == set(PROBES)
    assert set(scores["standardized"]) == {False, True}
    assert set(scores["fold"]) == {-1, 0, 1} and set(scores["seed"]) == {0}
    # one row per fold, task, representation, probe and standardisation, plus the pooled
    assert len(scores) == 3 * len(TASKS) * len(reps) * 2 * 2

    per_fold = scores[scores["fold"] >= 0]
    for fold in (0, 1):
        held = {g for g, k in expected.items() if k == fold}
        # every fitted representation saw the training subjects, all of them, only them
        fits = [log.of("fit", tag)[fold] for tag in ("specae", "rec_bands", "rec_pca")]
        assert fits[0]["seed"] == 0  # the seed of the run, not the estimator's own
        for call in fits:
            assert call["subjects"].isdisjoint(held)
            assert call["subjects"] == set(subjects) - held
            assert call["ids"] == fits[0]["ids"]  # the same training segments for all
        rows = per_fold[per_fold["fold"] == fold]
        for task_name, task in TASKS.items():
            mask = (
                np.ones(len(md), bool) if task.query is None else md.eval(task.query).to_numpy(bool)
            )
            in_fold = mask & np.isin(subjects, sorted(held))
            task_rows = rows[rows["task"] == task_name]
            assert len(task_rows) == len(reps) * 2 * 2
            # the held-out rows' subjects: exactly the fold's groups (of this task)
            assert set(task_rows["test_groups"]) == {" ".join(sorted(set(subjects[in_fold])))}
            # every representation scored on the same held-out segments
            assert set(task_rows["n_test"]) == {in_fold.sum()}
            assert set(task_rows["n_train"]) == {(mask & ~in_fold).sum()}
        assert rows.loc[rows["task"] == "signal_type", "test_groups"].iloc[0].split() == sorted(
            held
        )
    # transform: all segments, in order, for every representation and fold
    transforms = log.of("transform")
    assert len(transforms) == 2 * 4  # specae, its random copy, rec_bands, rec_pca
    assert all(c["ids"] == all_ids for c in transforms)
    # the random copy has the initial weights of the fold's SpecAE (same seed)
    specae_calls = log.of("transform", "specae")
    assert [c["trained"] for c in specae_calls] == [True, False, True, False]
    for trained, untrained in zip(specae_calls[::2], specae_calls[1::2]):
        assert trained["seed"] == untrained["seed"] == 0
        start = _initial_weights(0, trained["image_shape"])
        assert untrained["weights"].keys() == trained["weights"].keys() == start.keys()
        for key, value in start.items():
            assert torch.equal(untrained["weights"][key], value), key
        assert any(
            not torch.equal(trained["weights"][k], untrained["weights"][k])
            for k in trained["weights"]
        )

    # scores
    assert scores["balanced_accuracy"].between(0.0, 1.0).all()
    assert scores["balanced_accuracy"].dtype == np.float64
    pooled = scores[scores["fold"] == -1]
    assert len(pooled) == len(TASKS) * len(reps) * 2 * 2
    assert set(pooled["test_groups"]) == {"all"}
    for task_name, task in TASKS.items():
        mask = np.ones(len(md), bool) if task.query is None else md.eval(task.query).to_numpy(bool)
        # each task segment held out exactly once over the folds
        assert set(pooled.loc[pooled["task"] == task_name, "n_test"]) == {mask.sum()}
    r2 = per_fold.groupby("representation")["heldout_r2"]
    assert np.isfinite(
        per_fold.loc[per_fold["representation"].isin(["specae", "random"]), "heldout_r2"]
    ).all()
    assert (r2.max()[["specae", "random"]] <= 1.0).all()
    assert (
        per_fold.loc[
            per_fold["representation"].isin(["bands", "rec_bands", "rec_pca"]), "heldout_r2"
        ]
        .isna()
        .all()
    )
    # the R² of one fold and representation is the same in every task's row
    assert (
        per_fold.groupby(["fold", "representation"])["heldout_r2"].nunique(dropna=False) == 1
    ).all()
    assert (per_fold.loc[per_fold["representation"] == "random", "fit_seconds"] == 0).all()
    assert (per_fold.loc[per_fold["representation"] == "specae", "fit_seconds"] > 0).all()


def test_compare_representations_folds_argument_keeps_groups_in_training(real_epochs):
    """Groups at -1 (or not in ``folds``) always train and are never held out; the
    folds are the same for every seed; max_fit_items limits what is fitted on."""
    log = CallLog()
    folds = {
        "eegmat-Subject00": -1,
        "uci-3A": -1,
        "eegmat-Subject01": 0,
        "uci-4A": 0,
        "eegmat-Subject02": 1,
        "eegmat-Subject03": 1,
        "uci-8N": 1,
    }  # uci-9N missing
    always = {"eegmat-Subject00", "uci-3A", "uci-9N"}
    scores = compare_representations(
        real_epochs,
        TASKS,
        {"rec": Recorder(BandPowers(), log, "rec")},
        folds=folds,
        seeds=(0, 1),
        probes=("knn",),
        verbose=False,
    )
    held = [set(g.split()) for g in scores.loc[scores["fold"] >= 0, "test_groups"]]
    assert held and all(g.isdisjoint(always) for g in held)
    signal = scores[(scores["task"] == "signal_type") & (scores["fold"] >= 0)]
    for seed in (0, 1):
        rows = signal[signal["seed"] == seed].set_index("fold")["test_groups"]
        assert rows[0] == "eegmat-Subject01 uci-4A"
        assert rows[1] == "eegmat-Subject02 eegmat-Subject03 uci-8N"
    fits = log.of("fit")
    assert len(fits) == 4  # 2 seeds x 2 folds
    for k, call in enumerate(fits):
        fold = k % 2
        assert always <= call["subjects"]
        assert call["subjects"].isdisjoint({g for g, f in folds.items() if f == fold})
    md = _metadata(real_epochs)
    pooled = scores[(scores["fold"] == -1) & (scores["task"] == "signal_type")]
    assert len(pooled) == 2 and set(pooled["n_test"]) == {(~md["subject"].isin(always)).sum()}
    # max_fit_items: fewer segments, all from the training subjects
    log = CallLog()
    compare_representations(
        real_epochs,
        {"signal_type": TASKS["signal_type"]},
        {"rec": Recorder(BandPowers(), log, "rec")},
        folds=folds,
        probes=("logistic",),
        max_fit_items=9,
        verbose=False,
    )
    for fold, call in enumerate(log.of("fit")):
        train = ~md["subject"].isin({g for g, f in folds.items() if f == fold}).to_numpy()
        n_recordings = md.loc[train, "recording"].nunique()
        assert n_recordings <= len(call["ids"]) < train.sum()
        train_ids = [i for i, keep in zip(_segment_ids(real_epochs), train) if keep]
        assert set(call["ids"]) <= set(train_ids)


# ------------------------------------------------- compare_representations: the probes
@pytest.mark.parametrize("n_splits", [2, None])
def test_label_oracle_scores_one_and_constant_scores_half(n_splits):
    epochs_list = _labelled_epochs()
    task = {"ab": Task("label")}
    scores = compare_representations(
        epochs_list,
        task,
        {"oracle": LabelOracle(), "constant": Constant()},
        n_splits=n_splits,
        strata=None,
        standardize_by="subject",
        verbose=False,
    )
    n_folds = 2 if n_splits == 2 else 6
    assert set(scores["fold"]) == set(range(-1, n_folds))
    oracle = scores[scores["representation"] == "oracle"]
    constant = scores[scores["representation"] == "constant"]
    assert len(oracle) == len(constant) == (n_folds + 1) * 2 * 2
    assert set(oracle["probe"]) == set(PROBES) and set(oracle["standardized"]) == {False, True}
    assert (oracle["balanced_accuracy"] == 1.0).all()
    np.testing.assert_allclose(constant["balanced_accuracy"], 0.5)
    assert set(scores.loc[scores["fold"] == -1, "n_test"]) == {48}
    if n_splits is None:  # leave one subject out, in sorted order
        folds = scores[scores["fold"] >= 0].set_index("fold")["test_groups"]
        assert all(folds[k].unique().tolist() == [f"s{k}"] for k in range(6))
        assert set(scores.loc[scores["fold"] >= 0, "n_test"]) == {8}


def test_balanced_not_plain_accuracy():
    """6 a, 2 b per subject: a constant prediction is right for 75 % or 25 % of the
    epochs, but its balanced accuracy is 0.5."""
    epochs_list = _labelled_epochs(labels=("a",) * 6 + ("b",) * 2)
    scores = compare_representations(
        epochs_list,
        {"ab": Task("label")},
        {"constant": Constant(), "oracle": LabelOracle()},
        n_splits=3,
        strata=None,
        verbose=False,
    )
    np.testing.assert_allclose(
        scores.loc[scores["representation"] == "constant", "balanced_accuracy"], 0.5
    )
    assert (scores.loc[scores["representation"] == "oracle", "balanced_accuracy"] == 1.0).all()


def test_task_query_and_three_classes():
    """A query selects the task's epochs; three classes, one feature each."""
    labels = ("a", "a", "b", "b", "c", "c", "z", "z")
    epochs_list = _labelled_epochs(labels=labels)
    for ep in epochs_list:
        ep.metadata = ep.metadata.assign(keep=ep.metadata["label"] != "z")
    scores = compare_representations(
        epochs_list,
        {"abc": Task("label", "keep")},
        {"oracle": LabelOracle(classes=("a", "b", "c")), "half": LabelOracle(classes=("a",))},
        n_splits=2,
        strata=None,
        verbose=False,
    )
    pooled = scores[scores["fold"] == -1].set_index(["representation", "probe"])
    assert set(pooled["n_test"]) == {36}  # the z epochs are not in the task
    assert (pooled.loc["oracle", "balanced_accuracy"] == 1.0).all()
    # one feature tells a from (b or c): a always right, b and c get one prediction
    np.testing.assert_allclose(pooled.loc["half", "balanced_accuracy"], 2 / 3)


# ----------------------------------------------------------- compare_representations: errors
def test_compare_representations_errors():
    epochs_list = _labelled_epochs(n_subjects=3)
    reps = {"bands": BandPowers()}
    task = {"ab": Task("label")}
    with pytest.raises(ValueError, match="no column 'nope'"):
        compare_representations(epochs_list, {"bad": Task("nope")}, reps, verbose=False)
    with pytest.raises(ValueError, match="'only_a' selects fewer than 2 classes of 'label'"):
        compare_representations(
            epochs_list, {"only_a": Task("label", "label == 'a'")}, reps, verbose=False
        )
    with pytest.raises(ValueError, match="'one' selects fewer than 2 'subject' groups"):
        compare_representations(
            epochs_list, {"one": Task("label", "subject == 's0'")}, reps, verbose=False
        )
    with pytest.raises(ValueError, match="'random' copies 'specae', which is not a SpecAE"):
        compare_representations(
            epochs_list, task, {"random": RandomWeights("specae"), **reps}, verbose=False
        )
    with pytest.raises(ValueError, match="'r2' copies 'r1', which is not a SpecAE"):
        compare_representations(
            epochs_list,
            task,
            {"r2": RandomWeights("r1"), "r1": RandomWeights("bands"), **reps},
            verbose=False,
        )
    two = mne.concatenate_epochs(epochs_list[:2], verbose=False)
    with pytest.raises(ValueError, match="1 Epochs hold several 'subject' groups"):
        compare_representations([two, epochs_list[2]], task, reps, verbose=False)
    with pytest.raises(ValueError, match="at least one task and one representation"):
        compare_representations(epochs_list, {}, reps, verbose=False)
    with pytest.raises(ValueError, match="at least one task and one representation"):
        compare_representations(epochs_list, task, {}, verbose=False)
    with pytest.raises(ValueError, match="'svm'"):
        compare_representations(epochs_list, task, reps, probes=("knn", "svm"), verbose=False)
    with pytest.raises(ValueError, match="no column 'patient'"):
        compare_representations(epochs_list, task, reps, group="patient", verbose=False)
    with pytest.raises(TypeError, match="tasks"):
        compare_representations(epochs_list, [Task("label")], reps, verbose=False)
    with pytest.raises(TypeError, match="Task"):
        compare_representations(epochs_list, {"ab": "label"}, reps, verbose=False)
    with pytest.raises(ValueError, match="No 'subject' group of the data is in a fold"):
        compare_representations(epochs_list, task, reps, folds={"s0": -1}, verbose=False)
    with pytest.raises(ValueError, match=r"Folds \[1\] hold no group"):
        compare_representations(epochs_list, task, reps, folds={"s0": 0, "s1": 2}, verbose=False)
    with pytest.raises(TypeError, match="mne.Epochs"):
        compare_representations(np.zeros((4, 1, 128)), task, reps, verbose=False)
    with pytest.raises(TypeError, match="source"):
        RandomWeights(source=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Task("label").label = "other"


def test_random_weights_of_a_baseline_is_refused_before_any_fit():
    log = CallLog()
    with pytest.raises(ValueError, match="'random' copies 'bands'"):
        compare_representations(
            _labelled_epochs(n_subjects=4),
            {"ab": Task("label")},
            {"bands": Recorder(BandPowers(), log, "bands"), "random": RandomWeights("bands")},
            n_splits=2,
            strata=None,
            verbose=False,
        )
    assert log.calls == []


def test_knn_probe_with_fewer_than_five_training_epochs():
    # 2 epochs per subject, 2 folds of 2 subjects: 4 training epochs per fold
    scores = compare_representations(
        _labelled_epochs(n_subjects=4, labels=("a", "b")),
        {"ab": Task("label")},
        {"oracle": LabelOracle()},
        n_splits=2,
        strata=None,
        verbose=False,
    )
    assert (scores["balanced_accuracy"] == 1.0).all()


def test_task_with_missing_labels_is_refused_or_skips_them():
    epochs_list = _labelled_epochs(n_subjects=6)
    for ep in epochs_list[3:]:  # half the subjects have no label
        ep.metadata = ep.metadata.assign(label=np.nan)
    try:
        scores = compare_representations(
            epochs_list,
            {"ab": Task("label")},
            {"oracle": LabelOracle()},
            n_splits=2,
            strata=None,
            verbose=False,
        )
    except ValueError as err:
        assert "'label'" in str(err)
    else:  # or the unlabelled epochs are not in the task
        assert set(scores.loc[scores["fold"] == -1, "n_test"]) == {24}


# ----------------------------------------------------------------------- summarize_scores
def test_summarize_scores_by_hand():
    rows = []
    rng = np.random.default_rng(0)
    for seed in (0, 1, 2):
        for task in ("t1", "t2"):
            for rep, r2 in (("ae", 0.5), ("bp", np.nan)):
                for probe in ("logistic", "knn"):
                    for std in (False, True):
                        for fold in (0, 1):
                            rows.append(
                                dict(
                                    seed=seed,
                                    fold=fold,
                                    task=task,
                                    representation=rep,
                                    probe=probe,
                                    standardized=std,
                                    balanced_accuracy=rng.uniform(),
                                    n_train=10,
                                    n_test=4 + fold,
                                    test_groups=f"g{fold}",
                                    fit_seconds=1.0,
                                    heldout_r2=r2 + 0.1 * fold + seed,
                                )
                            )
                        rows.append(
                            dict(
                                seed=seed,
                                fold=-1,
                                task=task,
                                representation=rep,
                                probe=probe,
                                standardized=std,
                                balanced_accuracy=rng.uniform(),
                                n_train=np.nan,
                                n_test=9,
                                test_groups="all",
                                fit_seconds=np.nan,
                                heldout_r2=np.nan,
                            )
                        )
    scores = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # any order
    table = summarize_scores(scores)
    assert len(table) == 2 * 2 * 2 * 2
    assert not table.duplicated(["task", "representation", "probe", "standardized"]).any()
    assert {
        "mean",
        "std_seeds",
        "fold_mean",
        "std_folds",
        "n_seeds",
        "n_folds",
        "n_test",
        "heldout_r2",
    } <= set(table.columns)
    for _, row in table.iterrows():
        same = (
            (scores["task"] == row["task"])
            & (scores["representation"] == row["representation"])
            & (scores["probe"] == row["probe"])
            & (scores["standardized"] == row["standardized"])
        )
        pooled = scores[same & (scores["fold"] == -1)].sort_values("seed")
        folds = scores[same & (scores["fold"] >= 0)]
        by_seed = pooled["balanced_accuracy"].to_numpy()
        assert len(by_seed) == 3
        assert row["mean"] == pytest.approx(by_seed.sum() / 3)
        assert row["std_seeds"] == pytest.approx(np.sqrt(((by_seed - by_seed.mean()) ** 2).mean()))
        assert row["fold_mean"] == pytest.approx(folds["balanced_accuracy"].mean())
        assert row["std_folds"] == pytest.approx(folds["balanced_accuracy"].std(ddof=0))
        assert row["n_seeds"] == 3 and row["n_folds"] == 2 and row["n_test"] == 9
        if row["representation"] == "ae":  # mean of 0.5, 0.6 + 0, 1, 2
            assert row["heldout_r2"] == pytest.approx(1.55)
        else:
            assert np.isnan(row["heldout_r2"])


# ----------------------------------------------------------------- the benchmark script
@pytest.fixture(scope="module")
def smoke_run(data_path, tmp_path_factory, one_thread):
    if not (data_path / "eeg/eegmat/Subject10_1.edf").is_file():
        pytest.skip("the extended data set is not in the data folder")
    spec = importlib.util.spec_from_file_location("bench_downstream_under_test", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(BENCH.parent))
    out = tmp_path_factory.mktemp("bench_downstream")
    level, rng = mne.utils.logger.level, torch.random.get_rng_state()
    with torch.random.fork_rng(devices=[]):
        scores, table = bench.run("smoke", out=out, verbose=False)
    state_kept = mne.utils.logger.level == level and torch.equal(rng, torch.random.get_rng_state())
    return bench, scores, table, out, state_kept


@pytest.mark.slow
def test_bench_downstream_smoke(smoke_run):
    bench, scores, table, out, state_kept = smoke_run
    assert state_kept
    scored = list(bench.TASKS_LABELS)  # every task scores, the eyes task included
    tasks = [*scored, "signal_type_leave_source_out"]
    assert set(table["task"]) == set(tasks)
    assert set(table["representation"]) == set(bench.REPRESENTATION_ORDER)
    assert len(bench.MEAN_REPRESENTATIONS) == 8 and len(bench.CONCAT_REPRESENTATIONS) == 6
    assert set(table["probe"]) == set(bench.PROBES) == {*PROBES, "gradient_boosting"}
    combos = set(zip(table["task"], table["representation"], table["probe"], table["standardized"]))
    expected = {  # channels averaged: every task; channels kept: the multi-channel tasks
        (t, r, p, s)
        for t in tasks
        for r in bench.REPRESENTATION_ORDER
        for p in bench.PROBES
        for s in (False, True)
        if r in bench.MEAN_REPRESENTATIONS or t in bench.CONCAT_TASKS
    }
    assert combos == expected and len(table) == len(expected)
    assert table["mean"].between(0, 1).all()
    assert (table["n_seeds"] == 1).all()
    wins = pd.read_csv(out / "wins.csv")
    assert set(wins["winner"]) <= set(bench.REPRESENTATION_ORDER)
    assert set(wins["best_handcrafted"]) <= {
        r for r in bench.REPRESENTATION_ORDER if r.removesuffix("_concat") in bench.HANDCRAFTED
    }
    for name in ("scores.csv", "table.csv", "table.png", "wins.csv"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    reloaded = pd.read_csv(out / "table.csv")
    assert reloaded.shape == table.shape
    assert list(reloaded.columns) == list(table.columns)
    assert pd.read_csv(out / "scores.csv").shape == scores.shape


@pytest.mark.slow
def test_bench_downstream_smoke_scores_every_task(smoke_run):
    bench, scores, table, out, state_kept = smoke_run
    assert set(bench.TASKS_LABELS) <= set(table["task"])


def test_copy_of_call_log_is_shared():
    """The recorders rely on it: clones share the log."""
    log = CallLog()
    rec = Recorder(BandPowers(), log)
    assert clone(rec).log is log and copy.deepcopy(log) is log
