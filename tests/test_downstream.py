"""The downstream protocol (mne_specae.downstream), its baselines (mne_specae.baselines),
probes and held-out reconstruction R² (mne_specae.evaluation), and a smoke run of
benchmarks/bench_downstream.py.

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
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError

import mne_specae.estimator as estimator_module
from mne_specae import SpecAE, Task, compare_representations, summarize_scores
from mne_specae.baselines import BANDS, BandPowers, InputPCA, RandomWeights
from mne_specae.downstream import fit_subset, group_folds
from mne_specae.evaluation import PROBES, make_probe, reconstruction_r2
from tiny import TINY, TINY_ONE_EPOCH, weights_of

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_downstream.py"

#: The sample subjects of the real-data tests: 4 eegmat (EEG + ECG lead), 4 UCI (EMG).
SUBJECTS = ["eegmat-Subject00", "eegmat-Subject01", "eegmat-Subject02", "eegmat-Subject03",
            "uci-3A", "uci-4A", "uci-8N", "uci-9N"]
TASKS = {"signal_type": Task("signal_type"),
         "eeg_condition": Task("condition", "signal_type == 'eeg'"),
         "emg_exercise": Task("exercise", "signal_type == 'emg'")}


# --------------------------------------------------------------------------- helpers
class CallLog:
    """The calls seen by the recorders. ``clone`` deep-copies the parameters of an
    estimator: this one stays the same object in every clone."""

    def __init__(self):
        self.calls = []

    def __deepcopy__(self, memo):
        return self

    def of(self, kind, tag=None):
        return [c for c in self.calls if c["kind"] == kind and (tag is None or c["tag"] == tag)]


def _as_list(X):
    return list(X) if isinstance(X, (list, tuple)) else [X]


def _segment_ids(epochs_list):
    """(recording or subject, onset or index) of every epoch, in order."""
    ids = []
    for ep in epochs_list:
        md = ep.metadata
        names = md["recording"] if "recording" in md else md["subject"]
        onsets = md["onset"] if "onset" in md else np.arange(len(md))
        ids += [(str(n), float(t)) for n, t in zip(names, onsets)]
    return ids


def _subjects(epochs_list):
    return {str(s) for ep in epochs_list for s in ep.metadata["subject"]}


class Recorder(TransformerMixin, BaseEstimator):
    """Any representation, logging what its fit and transform are given."""

    def __init__(self, inner=None, log=None, tag="recorder"):
        self.inner = inner
        self.log = log
        self.tag = tag

    def fit(self, X, y=None):
        epochs_list = _as_list(X)
        self.log.calls.append(dict(kind="fit", tag=self.tag, subjects=_subjects(epochs_list),
                                   ids=_segment_ids(epochs_list)))
        self.inner_ = clone(self.inner).fit(X)
        return self

    def transform(self, X):
        self.log.calls.append(dict(kind="transform", tag=self.tag,
                                   ids=_segment_ids(_as_list(X))))
        return self.inner_.transform(X)


class RecordingSpecAE(SpecAE):
    """A SpecAE logging the subjects it is fitted on and the weights and segments of
    every transform (``log`` is set by the test: a class attribute, not a parameter)."""

    log = None

    def fit(self, X, y=None, groups=None, *, verbose=None):
        epochs_list = _as_list(X)
        self.log.calls.append(dict(kind="fit", tag="specae", seed=self.random_state,
                                   subjects=_subjects(epochs_list),
                                   ids=_segment_ids(epochs_list)))
        return super().fit(X, y, groups, verbose=verbose)

    def transform(self, X, verbose=None):
        self.log.calls.append(dict(kind="transform", tag="specae", seed=self.random_state,
                                   trained=self.history_ is not None,
                                   weights=weights_of(self.model_),
                                   image_shape=self.image_shape_,
                                   ids=_segment_ids(_as_list(X))))
        return super().transform(X, verbose=verbose)


class LabelOracle(TransformerMixin, BaseEstimator):
    """Cheats: one feature per class, 1 where the epoch's metadata holds that label."""

    def __init__(self, column="label", classes=("a", "b")):
        self.column = column
        self.classes = classes

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        labels = np.concatenate([ep.metadata[self.column].astype(str).to_numpy()
                                 for ep in _as_list(X)])
        return (labels[:, None] == np.asarray(self.classes)[None]).astype(float)


class Constant(TransformerMixin, BaseEstimator):
    """The same three features for every epoch."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.ones((sum(len(ep) for ep in _as_list(X)), 3))


def _labelled_epochs(n_subjects=6, labels=("a",) * 4 + ("b",) * 4, sfreq=128.0, seed=0):
    """One EpochsArray (1 s of noise in one EEG channel per epoch) per subject, with
    ``subject``, ``label`` and ``signal_type`` metadata."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(["EEG0"], sfreq, "eeg")
    out = []
    for s in range(n_subjects):
        md = pd.DataFrame(dict(subject=f"s{s}", label=list(labels), signal_type="eeg"))
        data = 1e-6 * rng.standard_normal((len(labels), 1, int(sfreq)))
        out.append(mne.EpochsArray(data, info, metadata=md, verbose=False))
    return out


def _sine_epochs(freqs, sfreq=512.0, ch_type="eeg", n_epochs=3, duration=2.0, amplitude=1e-5,
                 metadata=None, noise=0.0):
    """EpochsArray of sines: one channel per frequency in ``freqs`` (pure, or plus white
    noise of std ``noise * amplitude``)."""
    times = np.arange(int(round(duration * sfreq))) / sfreq
    data = np.stack([amplitude * np.sin(2 * np.pi * f * times) for f in freqs])
    data = np.repeat(data[None], n_epochs, axis=0)
    data = data + noise * amplitude * np.random.default_rng(0).standard_normal(data.shape)
    info = mne.create_info([f"{ch_type.upper()}{k}" for k in range(len(freqs))], sfreq, ch_type)
    return mne.EpochsArray(data, info, metadata=metadata, verbose=False)


def _initial_weights(seed, image_shape):
    """The weights a tiny SpecAE with this seed starts training from."""
    return weights_of(SpecAE(**dict(TINY_ONE_EPOCH, random_state=seed))
                      ._build_model(image_shape))


def _metadata(epochs_list):
    return pd.concat([ep.metadata for ep in epochs_list], ignore_index=True)


@pytest.fixture(scope="module")
def real_epochs():
    """2 segments (1 channel) of every sample recording of 4 eegmat and 4 UCI subjects:
    52 segments in 27 Epochs, with a ``source`` column (eegmat / uci)."""
    from mne_specae.datasets import load_sample_epochs

    epochs_list = load_sample_epochs(subjects=SUBJECTS, max_segments=2, max_channels=1,
                                     download=False, verbose=False)
    for ep in epochs_list:
        md = ep.metadata
        ep.metadata = md.assign(source=md["subject"].str.split("-").str[0])
    return epochs_list


@pytest.fixture(scope="module")
def fitted_tiny(real_epochs):
    """A tiny SpecAE fitted on the EEG and EMG epochs of the real data."""
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] != "ecg"]
    return SpecAE(**dict(TINY_ONE_EPOCH, random_state=3)).fit(picked), picked


# ------------------------------------------------------------------------ group_folds
def test_group_folds_whole_groups_strata_spread():
    rng = np.random.default_rng(0)
    group_strata = {**{f"a{k}": "A" for k in range(7)}, **{f"b{k}": "B" for k in range(5)},
                    "c0": "C"}
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
        counts = np.bincount([folds[g] for g, s in group_strata.items() if s == stratum],
                             minlength=3)
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
    eeg_long = _sine_epochs([10, 12], n_epochs=10, duration=1.0,
                            metadata=pd.DataFrame(dict(signal_type=["eeg"] * 10)))
    eeg_short = _sine_epochs([10, 12], n_epochs=4, duration=1.0,
                             metadata=pd.DataFrame(dict(signal_type=["eeg"] * 4)))
    emg = _sine_epochs([100], ch_type="emg", n_epochs=6, duration=1.0,
                       metadata=pd.DataFrame(dict(signal_type=["emg"] * 6)))
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
            real_epochs, TASKS,
            {"specae": RecordingSpecAE(**dict(TINY_ONE_EPOCH, random_state=9)),  # seed: 0
             "random": RandomWeights("specae"),
             "bands": BandPowers(),
             "rec_bands": Recorder(BandPowers(), log, "rec_bands"),
             "rec_pca": Recorder(InputPCA(SpecAE(**TINY), n_components=3), log, "rec_pca")},
            n_splits=2, standardize_by="subject", verbose=False)
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
            mask = (np.ones(len(md), bool) if task.query is None
                    else md.eval(task.query).to_numpy(bool))
            in_fold = mask & np.isin(subjects, sorted(held))
            task_rows = rows[rows["task"] == task_name]
            assert len(task_rows) == len(reps) * 2 * 2
            # the held-out rows' subjects: exactly the fold's groups (of this task)
            assert set(task_rows["test_groups"]) == {" ".join(sorted(set(subjects[in_fold])))}
            # every representation scored on the same held-out segments
            assert set(task_rows["n_test"]) == {in_fold.sum()}
            assert set(task_rows["n_train"]) == {(mask & ~in_fold).sum()}
        assert rows.loc[rows["task"] == "signal_type", "test_groups"].iloc[0].split() \
            == sorted(held)
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
        assert any(not torch.equal(trained["weights"][k], untrained["weights"][k])
                   for k in trained["weights"])

    # scores
    assert scores["balanced_accuracy"].between(0.0, 1.0).all()
    assert scores["balanced_accuracy"].dtype == np.float64
    pooled = scores[scores["fold"] == -1]
    assert len(pooled) == len(TASKS) * len(reps) * 2 * 2
    assert set(pooled["test_groups"]) == {"all"}
    for task_name, task in TASKS.items():
        mask = (np.ones(len(md), bool) if task.query is None
                else md.eval(task.query).to_numpy(bool))
        # each task segment held out exactly once over the folds
        assert set(pooled.loc[pooled["task"] == task_name, "n_test"]) == {mask.sum()}
    r2 = per_fold.groupby("representation")["heldout_r2"]
    assert np.isfinite(per_fold.loc[per_fold["representation"].isin(["specae", "random"]),
                                    "heldout_r2"]).all()
    assert (r2.max()[["specae", "random"]] <= 1.0).all()
    assert per_fold.loc[per_fold["representation"].isin(["bands", "rec_bands", "rec_pca"]),
                        "heldout_r2"].isna().all()
    # the R² of one fold and representation is the same in every task's row
    assert (per_fold.groupby(["fold", "representation"])["heldout_r2"]
            .nunique(dropna=False) == 1).all()
    assert (per_fold.loc[per_fold["representation"] == "random", "fit_seconds"] == 0).all()
    assert (per_fold.loc[per_fold["representation"] == "specae", "fit_seconds"] > 0).all()


def test_compare_representations_folds_argument_keeps_groups_in_training(real_epochs):
    """Groups at -1 (or not in ``folds``) always train and are never held out; the
    folds are the same for every seed; max_fit_items limits what is fitted on."""
    log = CallLog()
    folds = {"eegmat-Subject00": -1, "uci-3A": -1, "eegmat-Subject01": 0, "uci-4A": 0,
             "eegmat-Subject02": 1, "eegmat-Subject03": 1, "uci-8N": 1}  # uci-9N missing
    always = {"eegmat-Subject00", "uci-3A", "uci-9N"}
    scores = compare_representations(
        real_epochs, TASKS, {"rec": Recorder(BandPowers(), log, "rec")}, folds=folds,
        seeds=(0, 1), probes=("knn",), verbose=False)
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
    compare_representations(real_epochs, {"signal_type": TASKS["signal_type"]},
                            {"rec": Recorder(BandPowers(), log, "rec")}, folds=folds,
                            probes=("logistic",), max_fit_items=9, verbose=False)
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
        epochs_list, task, {"oracle": LabelOracle(), "constant": Constant()},
        n_splits=n_splits, strata=None, standardize_by="subject", verbose=False)
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
    scores = compare_representations(epochs_list, {"ab": Task("label")},
                                     {"constant": Constant(), "oracle": LabelOracle()},
                                     n_splits=3, strata=None, verbose=False)
    np.testing.assert_allclose(
        scores.loc[scores["representation"] == "constant", "balanced_accuracy"], 0.5)
    assert (scores.loc[scores["representation"] == "oracle", "balanced_accuracy"] == 1.0).all()


def test_task_query_and_three_classes():
    """A query selects the task's epochs; three classes, one feature each."""
    labels = ("a", "a", "b", "b", "c", "c", "z", "z")
    epochs_list = _labelled_epochs(labels=labels)
    for ep in epochs_list:
        ep.metadata = ep.metadata.assign(keep=ep.metadata["label"] != "z")
    scores = compare_representations(
        epochs_list, {"abc": Task("label", "keep")},
        {"oracle": LabelOracle(classes=("a", "b", "c")), "half": LabelOracle(classes=("a",))},
        n_splits=2, strata=None, verbose=False)
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
        compare_representations(epochs_list, {"only_a": Task("label", "label == 'a'")}, reps,
                                verbose=False)
    with pytest.raises(ValueError, match="'one' selects fewer than 2 'subject' groups"):
        compare_representations(epochs_list, {"one": Task("label", "subject == 's0'")}, reps,
                                verbose=False)
    with pytest.raises(ValueError, match="'random' copies 'specae', which is not a SpecAE"):
        compare_representations(epochs_list, task, {"random": RandomWeights("specae"),
                                                    **reps}, verbose=False)
    with pytest.raises(ValueError, match="'r2' copies 'r1', which is not a SpecAE"):
        compare_representations(epochs_list, task, {"r2": RandomWeights("r1"),
                                                    "r1": RandomWeights("bands"), **reps},
                                verbose=False)
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
        compare_representations(epochs_list, task, reps, folds={"s0": 0, "s1": 2},
                                verbose=False)
    with pytest.raises(TypeError, match="mne.Epochs"):
        compare_representations(np.zeros((4, 1, 128)), task, reps, verbose=False)
    with pytest.raises(TypeError, match="source"):
        RandomWeights(source=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Task("label").label = "other"


def test_random_weights_of_a_baseline_is_refused_before_any_fit():
    log = CallLog()
    with pytest.raises(ValueError, match="'random' copies 'bands'"):
        compare_representations(_labelled_epochs(n_subjects=4), {"ab": Task("label")},
                                {"bands": Recorder(BandPowers(), log, "bands"),
                                 "random": RandomWeights("bands")}, n_splits=2, strata=None,
                                verbose=False)
    assert log.calls == []


def test_knn_probe_with_fewer_than_five_training_epochs():
    # 2 epochs per subject, 2 folds of 2 subjects: 4 training epochs per fold
    scores = compare_representations(_labelled_epochs(n_subjects=4, labels=("a", "b")),
                                     {"ab": Task("label")}, {"oracle": LabelOracle()},
                                     n_splits=2, strata=None, verbose=False)
    assert (scores["balanced_accuracy"] == 1.0).all()


def test_task_with_missing_labels_is_refused_or_skips_them():
    epochs_list = _labelled_epochs(n_subjects=6)
    for ep in epochs_list[3:]:  # half the subjects have no label
        ep.metadata = ep.metadata.assign(label=np.nan)
    try:
        scores = compare_representations(epochs_list, {"ab": Task("label")},
                                         {"oracle": LabelOracle()}, n_splits=2, strata=None,
                                         verbose=False)
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
                            rows.append(dict(seed=seed, fold=fold, task=task,
                                             representation=rep, probe=probe,
                                             standardized=std,
                                             balanced_accuracy=rng.uniform(),
                                             n_train=10, n_test=4 + fold,
                                             test_groups=f"g{fold}", fit_seconds=1.0,
                                             heldout_r2=r2 + 0.1 * fold + seed))
                        rows.append(dict(seed=seed, fold=-1, task=task, representation=rep,
                                         probe=probe, standardized=std,
                                         balanced_accuracy=rng.uniform(), n_train=np.nan,
                                         n_test=9, test_groups="all", fit_seconds=np.nan,
                                         heldout_r2=np.nan))
    scores = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # any order
    table = summarize_scores(scores)
    assert len(table) == 2 * 2 * 2 * 2
    assert not table.duplicated(["task", "representation", "probe", "standardized"]).any()
    assert {"mean", "std_seeds", "fold_mean", "std_folds", "n_seeds", "n_folds", "n_test",
            "heldout_r2"} <= set(table.columns)
    for _, row in table.iterrows():
        same = ((scores["task"] == row["task"])
                & (scores["representation"] == row["representation"])
                & (scores["probe"] == row["probe"])
                & (scores["standardized"] == row["standardized"]))
        pooled = scores[same & (scores["fold"] == -1)].sort_values("seed")
        folds = scores[same & (scores["fold"] >= 0)]
        by_seed = pooled["balanced_accuracy"].to_numpy()
        assert len(by_seed) == 3
        assert row["mean"] == pytest.approx(by_seed.sum() / 3)
        assert row["std_seeds"] == pytest.approx(np.sqrt(((by_seed - by_seed.mean()) ** 2)
                                                         .mean()))
        assert row["fold_mean"] == pytest.approx(folds["balanced_accuracy"].mean())
        assert row["std_folds"] == pytest.approx(folds["balanced_accuracy"].std(ddof=0))
        assert row["n_seeds"] == 3 and row["n_folds"] == 2 and row["n_test"] == 9
        if row["representation"] == "ae":  # mean of 0.5, 0.6 + 0, 1, 2
            assert row["heldout_r2"] == pytest.approx(1.55)
        else:
            assert np.isnan(row["heldout_r2"])


# ------------------------------------------------------------------------ RandomWeights
def test_random_weights_from_fitted_are_the_initial_weights(real_epochs, monkeypatch):
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] == "eeg"]
    started = []
    train = estimator_module.train_autoencoder

    def recording_train(model, *args, **kwargs):
        started.append(weights_of(model))
        return train(model, *args, **kwargs)

    monkeypatch.setattr(estimator_module, "train_autoencoder", recording_train)
    est = SpecAE(**dict(TINY_ONE_EPOCH, random_state=5)).fit(picked)
    monkeypatch.undo()
    assert len(started) == 1
    trained = weights_of(est.model_)
    history = est.history_
    untrained = RandomWeights.from_fitted(est)
    assert isinstance(untrained, SpecAE) and untrained is not est
    assert untrained.history_ is None and not untrained.model_.training
    initial = weights_of(untrained.model_)
    fresh = _initial_weights(5, est.image_shape_)
    rebuilt = weights_of(est._build_model(est.image_shape_))
    assert initial.keys() == started[0].keys() == fresh.keys() == rebuilt.keys()
    for key in initial:
        assert torch.equal(initial[key], started[0][key]), key  # what training started from
        assert torch.equal(initial[key], fresh[key]), key
        assert torch.equal(initial[key], rebuilt[key]), key
    assert any(not torch.equal(initial[k], trained[k]) for k in initial)  # training moved them
    other = _initial_weights(6, est.image_shape_)
    assert any(not torch.equal(initial[k], other[k]) for k in initial)  # the seed matters
    # the trained estimator is unchanged
    after = weights_of(est.model_)
    assert all(torch.equal(after[k], trained[k]) for k in trained)
    assert est.history_ is history
    assert untrained.model_ is not est.model_ and untrained.input_stage_ is not est.input_stage_
    for name in ("norm_mean", "norm_std"):  # the same (fitted) input stage
        assert torch.equal(getattr(untrained.input_stage_, name),
                           getattr(est.input_stage_, name))
    a, b = est.transform(picked), untrained.transform(picked)
    assert a.shape == b.shape == (len(_metadata(picked)), est.n_features_out_)
    assert not np.allclose(a, b)
    with pytest.raises(NotFittedError):
        RandomWeights.from_fitted(SpecAE(**TINY))
    assert repr(RandomWeights("x")) == "RandomWeights('x')"


# --------------------------------------------------------------------------- BandPowers
def test_band_powers_of_sines():
    eeg = _sine_epochs([10.0], amplitude=1e-5)  # 2 s at 512 Hz: 1 Hz Welch bins
    bp = BandPowers().fit(eeg)
    assert bp.bands_ == BANDS["eeg"]  # "auto" from the channel type
    names = list(bp.get_feature_names_out())
    assert names == ([f"logpow_{b}" for b in BANDS["eeg"]]
                     + [f"relpow_{b}" for b in BANDS["eeg"]])
    X = bp.transform(eeg)
    assert X.shape == (3, 10) and X.dtype == np.float64
    log_power, relative = X[:, :5], X[:, 5:]
    assert (log_power.argmax(axis=1) == names.index("logpow_alpha")).all()
    # all of the sine's power (A²/2) in the 10 Hz bin; the alpha band averages 5 bins
    np.testing.assert_allclose(log_power[:, 2], np.log10(1e-10 / 2 / 5), atol=0.01)
    assert (log_power[:, [0, 1, 3, 4]] < log_power[:, [2]] - 20).all()
    np.testing.assert_allclose((10.0 ** relative).sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(relative, log_power - np.log10((10.0 ** log_power)
                                                              .sum(axis=1, keepdims=True)))
    # EMG bands: a 100 Hz sine is in the bands on either side of 100 Hz
    emg = _sine_epochs([100.0], ch_type="emg")
    bp = BandPowers(bands="emg").fit(emg)
    X = bp.transform(emg)
    names = list(bp.get_feature_names_out())
    assert X.shape == (3, 10) and names[2:4] == ["logpow_emg_60_100", "logpow_emg_100_150"]
    assert set(np.argsort(X[0, :5])[-2:]) == {2, 3}
    assert X[0, 3] == X[:, 3].max() and (X[:, 3] > X[:, 2]).all()  # the 100 Hz bin: 100-150
    np.testing.assert_allclose((10.0 ** X[:, 5:]).sum(axis=1), 1.0, rtol=1e-9)
    # "auto" reads the signal type in the metadata; several types: the "mixed" bands
    md_emg = pd.DataFrame(dict(signal_type=["emg"] * 3))
    tagged = _sine_epochs([100.0], ch_type="emg", metadata=md_emg)
    assert BandPowers().fit(tagged).bands_ == BANDS["emg"]
    assert BandPowers().fit([eeg, tagged]).bands_ == BANDS["mixed"]
    # a dict of bands, any names
    custom = BandPowers({"low": (5.0, 15.0), "high": (15.0, 40.0)}).fit(eeg)
    assert list(custom.get_feature_names_out()) == ["logpow_low", "logpow_high",
                                                    "relpow_low", "relpow_high"]
    assert custom.transform(eeg)[0, 0] > custom.transform(eeg)[0, 1]


def test_band_powers_channels_averaged_and_picks():
    two = _sine_epochs([10.0, 20.0], noise=0.1)  # alpha in EEG0, beta in EEG1
    bp = BandPowers().fit(two)
    both = bp.transform(two)
    single = [bp.transform(two.copy().pick([name])) for name in two.ch_names]
    np.testing.assert_allclose(both, (single[0] + single[1]) / 2)
    only_beta = BandPowers(picks=["EEG1"]).fit(two).transform(two)
    np.testing.assert_allclose(only_beta, single[1])
    assert only_beta[0, :5].argmax() == 3  # beta


def test_band_powers_errors():
    eeg = _sine_epochs([10.0], sfreq=100.0)  # Nyquist 50 Hz
    with pytest.raises(ValueError, match=r"Bands \['gamma'\] reach above the Nyquist "
                                         r"frequency of the data \(50 Hz\)"):
        BandPowers("mixed").fit(eeg)  # gamma: 30-60 Hz
    BandPowers("eeg").fit(eeg)  # gamma 30-45 Hz: fine
    emg = _sine_epochs([50.0], sfreq=250.0, ch_type="emg")
    with pytest.raises(ValueError, match=r"\['emg_100_150', 'emg_150_250'\].*125 Hz"):
        BandPowers("emg").fit(emg)
    # the lowest sampling rate of a list counts
    with pytest.raises(ValueError, match=r"\['gamma'\]"):
        BandPowers("mixed").fit([_sine_epochs([10.0]), eeg])
    for bad in ("foo", (1.0, 4.0), 3):
        with pytest.raises(ValueError, match="bands must be 'auto', one of"):
            BandPowers(bad).fit(eeg)
    for edges in ((10.0, 5.0), (-1.0, 4.0), (4.0, 4.0), (1.0, 2.0, 3.0)):
        with pytest.raises(ValueError, match=r"Band 'x' must be \(fmin, fmax\)"):
            BandPowers({"x": edges}).fit(eeg)
    with pytest.raises(NotFittedError):
        BandPowers().transform(eeg)
    with pytest.raises(NotFittedError):
        BandPowers().get_feature_names_out()


def test_band_powers_list_of_band_names_refused_clearly():
    with pytest.raises(ValueError, match="bands must be 'auto', one of"):
        BandPowers(["alpha"]).fit(_sine_epochs([10.0]))


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_band_powers_empty_band_is_refused_or_finite():
    eeg = _sine_epochs([10.0])
    bp = BandPowers({"narrow": (10.2, 10.6), "alpha": (8.0, 13.0)})
    try:
        X = bp.fit(eeg).transform(eeg)
    except ValueError as err:
        assert "narrow" in str(err)
    else:
        assert np.isfinite(X).all()


# ----------------------------------------------------------------------------- InputPCA
def test_input_pca_shapes_and_fit_data(fitted_tiny):
    est, picked = fitted_tiny
    fit_part, new_part = picked[:6], picked[6:]
    n_fit, n_new = len(_metadata(fit_part)), len(_metadata(new_part))
    pca = InputPCA(est, n_components=3).fit(fit_part)
    out = pca.transform(new_part)  # data not fitted on
    assert out.shape == (n_new, 3) and np.isfinite(out).all()
    scaler, decomposition = pca.pipeline_.named_steps.values()
    assert scaler.n_samples_seen_ == n_fit  # fitted on the fit data only
    assert decomposition.n_components_ == 3
    # the estimator's input stage: its images (16 x 16), its fitted statistics
    assert pca.stage_ is est.input_stage_
    assert scaler.n_features_in_ == int(np.prod(est.image_shape_[1:])) == 16 * 16
    # by hand: images of the fitted input stage, averaged over channels, scaled, PCA
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def images(epochs_list):
        rows = []
        with torch.no_grad():
            for ep in epochs_list:
                data = ep.get_data(picks="all").astype(np.float32)
                flat = torch.from_numpy(data.reshape(-1, data.shape[-1]))
                img = est.input_stage_.to_images(flat)
                rows.append(img.reshape(len(ep), len(ep.ch_names), -1).mean(dim=1).numpy())
        return np.concatenate(rows)

    manual = make_pipeline(StandardScaler(), PCA(3, random_state=0)).fit(images(fit_part))
    np.testing.assert_allclose(out, manual.transform(images(new_part)), rtol=1e-4, atol=1e-4)
    # fitted on other data: other components
    other = InputPCA(est, n_components=3).fit(new_part).transform(new_part)
    assert not np.allclose(other, out, atol=1e-3)
    # n_components capped by the number of epochs (minus one)
    few = InputPCA(est, n_components=50).fit(fit_part[:2])
    n_few = len(_metadata(fit_part[:2]))
    assert few.transform(new_part).shape == (n_new, n_few - 1)
    with pytest.raises(NotFittedError):
        InputPCA(est).transform(new_part)
    with pytest.raises(TypeError, match="estimator"):
        InputPCA(BandPowers()).fit(fit_part)


def test_input_pca_unfitted_estimator_uses_its_settings(real_epochs):
    picked = [ep for ep in real_epochs if ep.metadata["signal_type"].iloc[0] == "eeg"]
    fit_part, new_part = picked[:4], picked[4:]
    est = SpecAE(**dict(TINY, resize=(8, 8)))
    pca = InputPCA(est, n_components=2).fit(fit_part)
    assert pca.transform(new_part).shape == (len(_metadata(new_part)), 2)
    assert pca.pipeline_[0].n_features_in_ == 8 * 8
    assert not hasattr(est, "input_stage_")  # the estimator is not fitted by InputPCA
    # normalize="dataset" (the recommended settings): statistics of the fit data only
    assert est.normalize == "dataset" and pca.stage_.needs_fitting
    waves = np.concatenate([ep.get_data().astype(np.float32).reshape(-1, len(ep.times))
                            for ep in fit_part])
    stage = est._build_input_stage(512.0).fit_normalization(torch.from_numpy(waves))
    torch.testing.assert_close(pca.stage_.norm_mean, stage.norm_mean)
    torch.testing.assert_close(pca.stage_.norm_std, stage.norm_std)
    refit = InputPCA(est, n_components=2).fit(new_part)
    assert not torch.allclose(refit.stage_.norm_mean, pca.stage_.norm_mean)
    # a per-item normalisation needs no statistics
    item = InputPCA(SpecAE(**dict(TINY, normalize="item")), n_components=2).fit(fit_part)
    assert not item.stage_.needs_fitting
    assert item.transform(new_part).shape == (len(_metadata(new_part)), 2)


# ---------------------------------------------------------------- probes and reconstruction
def test_make_probe():
    assert PROBES == ("logistic", "knn")
    logistic = make_probe("logistic", random_state=4)
    scaler, clf = logistic.named_steps.values()
    assert type(scaler).__name__ == "StandardScaler"
    assert type(clf).__name__ == "LogisticRegression"
    assert clf.random_state == 4 and clf.class_weight == "balanced" and clf.C == 1.0
    knn = make_probe("knn", n_neighbors=3)[-1]
    assert type(knn).__name__ == "KNeighborsClassifier" and knn.n_neighbors == 3
    assert make_probe("knn")[-1].n_neighbors == 5
    assert make_probe("logistic") is not make_probe("logistic")  # unfitted, fresh
    with pytest.raises(ValueError, match="'svm'"):
        make_probe("svm")


class _FakeAutoencoder:
    """``reconstruct`` returns given outputs for the inputs."""

    def __init__(self, make_output):
        self.make_output = make_output

    def reconstruct(self, epochs, return_input=False, verbose=None):
        inputs = [ep.copy() for ep in _as_list(epochs)]
        outputs = [mne.EpochsArray(self.make_output(ep.get_data()), ep.info, verbose=False)
                   for ep in inputs]
        if not isinstance(epochs, list):
            return outputs[0], inputs[0]
        return outputs, inputs


def test_reconstruction_r2_values():
    epochs_list = [_sine_epochs([10.0, 30.0], n_epochs=2), _sine_epochs([5.0], n_epochs=3)]
    x = np.concatenate([ep.get_data().ravel() for ep in epochs_list])
    assert reconstruction_r2(_FakeAutoencoder(lambda d: d), epochs_list) == 1.0
    assert reconstruction_r2(_FakeAutoencoder(lambda d: np.full_like(d, x.mean())),
                             epochs_list) == pytest.approx(0.0, abs=1e-12)
    assert reconstruction_r2(_FakeAutoencoder(lambda d: 0.5 * d), epochs_list[0]) \
        == pytest.approx(0.75, abs=1e-3)  # sines: mean ~0, 1 - 0.25
    noise = np.random.default_rng(0).standard_normal
    noisy = _FakeAutoencoder(lambda d: d + 1e-6 * noise(d.shape))
    expected = 1 - (1e-12 * x.size) / ((x - x.mean()) ** 2).sum()  # about 0.98
    assert reconstruction_r2(noisy, epochs_list) == pytest.approx(expected, abs=2e-3)
    assert reconstruction_r2(_FakeAutoencoder(lambda d: -d), epochs_list) < -2.9
    flat = mne.EpochsArray(np.ones((2, 1, 64)), mne.create_info(1, 64.0, "eeg"), verbose=False)
    assert np.isnan(reconstruction_r2(_FakeAutoencoder(lambda d: d), flat))


def test_reconstruction_r2_of_a_fitted_specae(fitted_tiny):
    est, picked = fitted_tiny
    r2 = reconstruction_r2(est, picked[:3])
    outputs, inputs = est.reconstruct(picked[:3], return_input=True, verbose=False)
    x = np.concatenate([i.get_data(picks="all").ravel() for i in inputs]).astype(np.float64)
    y = np.concatenate([o.get_data(picks="all").ravel() for o in outputs]).astype(np.float64)
    assert np.isfinite(r2) and r2 <= 1.0
    assert r2 == pytest.approx(1 - ((y - x) ** 2).sum() / ((x - x.mean()) ** 2).sum())
    assert r2 == pytest.approx(reconstruction_r2(est, picked[0:3]))  # deterministic
    assert r2 != pytest.approx(reconstruction_r2(RandomWeights.from_fitted(est), picked[:3]))


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
    assert len(bench.REPRESENTATION_ORDER) == 5
    assert set(table["probe"]) == set(PROBES)
    combos = set(zip(table["task"], table["representation"], table["probe"],
                     table["standardized"]))
    expected = {(t, r, p, s) for t in tasks for r in bench.REPRESENTATION_ORDER
                for p in PROBES for s in (False, True)}
    assert combos == expected and len(table) == len(expected)
    assert table["mean"].between(0, 1).all()
    assert (table["n_seeds"] == 1).all()
    for name in ("scores.csv", "table.csv", "table.png"):
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
