"""What are the embeddings good for: representations x tasks, on held-out groups.

:func:`compare_representations` runs the downstream protocol on labelled Epochs: the
groups (subjects, or sources) are split into folds; in each fold every representation
(a :class:`~mne_specae.SpecAE`, the baselines of :mod:`mne_specae.baselines`, any
scikit-learn transformer of Epochs) is fitted on the epochs of the *training* groups
only, then every task's probe (a linear and a kNN classifier) is trained on the
training groups' features and scored on the held-out groups'. No segment of a held-out
group ever reaches an encoder or a probe. :func:`summarize_scores` turns the scores
into the table (mean and spread over seeds and folds).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..estimator.metadata import epochs_list_of, metadata_table, standardize_within
from ..estimator.specae import SpecAE
from ..segments import select_evenly
from ..utils._checks import check_int
from ._fold_steps import balanced_accuracy, with_seed
from .baselines import RandomWeights
from .probes import PROBES, make_probe, reconstruction_r2

#: Neighbours of the kNN probe (never more than the smallest class of a fold's training
#: epochs).
N_NEIGHBORS = 5


@dataclass(frozen=True)
class Task:
    """A classification task on labelled epochs.

    Parameters
    ----------
    label : str
        Metadata column to predict.
    query : str | None
        :meth:`pandas.DataFrame.query` on the metadata selecting the task's epochs
        (e.g. ``"source == 'eegmat' and signal_type == 'eeg'"``); ``None``: all.
    """

    label: str
    query: str | None = None


def group_folds(groups, n_splits, *, strata=None, seed=0):
    """Fold number of each group, never splitting a group.

    Parameters
    ----------
    groups : array-like of str, shape (n,)
        Group of each row (e.g. the subject).
    n_splits : int | None
        Number of folds; ``None`` (or at least as many as there are groups): one fold
        per group (leave-one-group-out).
    strata : array-like of str, shape (n,) | None
        Stratum of each row (e.g. the source). Each stratum's groups are spread over
        the folds in turn, so that every fold holds groups of every large stratum.
    seed : int
        Seed of the order in which groups are dealt to the folds.

    Returns
    -------
    folds : dict
        ``{group: fold}`` with folds numbered from 0.
    """
    groups = np.asarray(groups).astype(str)
    unique = list(dict.fromkeys(groups))
    if n_splits is None or n_splits >= len(unique):
        return {g: k for k, g in enumerate(sorted(unique))}
    check_int(n_splits, "n_splits", minimum=2)
    strata = np.zeros(len(groups), str) if strata is None else np.asarray(strata).astype(str)
    stratum_of = dict(zip(groups, strata))
    rng = np.random.default_rng(seed)
    folds, next_fold = {}, 0
    for stratum in sorted(set(stratum_of.values())):
        members = sorted(g for g in unique if stratum_of[g] == stratum)
        for group in rng.permutation(members):
            folds[str(group)] = next_fold
            next_fold = (next_fold + 1) % n_splits
    return folds


def fit_subset(epochs_list, max_items):
    """Epochs to fit representations on: at most about ``max_items`` items (channels x
    segments), shared equally by the signal types, and within a type taken evenly from
    every recording (:func:`~mne_specae.select_evenly`)."""
    if max_items is None:
        return epochs_list

    def kind(ep):
        md = ep.metadata
        return str(md["signal_type"].iloc[0]) if "signal_type" in md else "all"

    totals = {}
    for ep in epochs_list:
        totals[kind(ep)] = totals.get(kind(ep), 0) + len(ep) * len(ep.ch_names)
    budget = max_items / len(totals)
    out = []
    for ep in epochs_list:
        share = min(1.0, budget / totals[kind(ep)])
        keep = max(1, math.floor(len(ep) * share))
        out.append(select_evenly(ep, keep) if keep < len(ep) else ep)
    return out


def _check_inputs(epochs_list, tasks, representations, group):
    _validate_type(tasks, dict, "tasks")
    _validate_type(representations, dict, "representations")
    if not tasks or not representations:
        raise ValueError("Give at least one task and one representation.")
    md = metadata_table(epochs_list)
    if group not in md:
        raise ValueError(f"The metadata has no column {group!r} to hold groups out.")

    for name, rep in representations.items():
        if isinstance(rep, RandomWeights) and not isinstance(
            representations.get(rep.source), SpecAE
        ):
            raise ValueError(
                f"Representation {name!r} copies {rep.source!r}, which is not a "
                f"SpecAE of this call ({sorted(representations)}): "
                "RandomWeights re-initialises a SpecAE's network."
            )
    masks = {}
    for name, task in tasks.items():
        _validate_type(task, Task, f"tasks[{name!r}]")
        if task.label not in md:
            raise ValueError(f"Task {name!r}: the metadata has no column {task.label!r}.")
        mask = np.ones(len(md), bool) if task.query is None else md.eval(task.query).to_numpy(bool)
        unlabelled = mask & md[task.label].isna().to_numpy()
        if unlabelled.any():
            logger.info(
                f"Task {name!r}: {unlabelled.sum()} of {mask.sum()} epochs have no "
                f"{task.label!r} value and are not part of the task"
            )
            mask &= ~unlabelled
        if len(np.unique(md.loc[mask, task.label].astype(str))) < 2:
            raise ValueError(f"Task {name!r} selects fewer than 2 classes of {task.label!r}.")
        if len(np.unique(md.loc[mask, group].astype(str))) < 2:
            raise ValueError(f"Task {name!r} selects fewer than 2 {group!r} groups.")
        masks[name] = mask
    return md, masks


@verbose
def compare_representations(
    epochs,
    tasks,
    representations,
    *,
    group="subject",
    n_splits=5,
    strata="source",
    folds=None,
    seeds=(0,),
    probes=PROBES,
    standardize_by=None,
    max_fit_items=None,
    verbose=None,
):
    """Score representations on classification tasks, on groups none of them saw.

    For each seed and each fold of the groups (:func:`group_folds`): every
    representation is fitted on the epochs of the training groups (at most
    ``max_fit_items`` items of them, see :func:`fit_subset`), all epochs are
    transformed, and for each task each probe is trained on the task's epochs of the
    training groups and predicts those of the held-out groups.

    Parameters
    ----------
    epochs : mne.Epochs | list of mne.Epochs
        Labelled segments; the metadata hold ``group``, the tasks' labels and, for the
        folds' strata, ``strata``.
    tasks : dict of str to Task
        The tasks, by name.
    representations : dict
        By name: :class:`~mne_specae.SpecAE` (fitted anew in each fold, its
        ``random_state`` set to the seed), any transformer with ``fit(epochs_list)``
        and ``transform(epochs_list)`` (:class:`~mne_specae.baselines.BandPowers`,
        :class:`~mne_specae.baselines.InputPCA`, the hand-crafted
        :class:`~mne_specae.baselines.Catch22`,
        :class:`~mne_specae.baselines.EMGTimeDomain`,
        :class:`~mne_specae.baselines.HeartRateFeatures`), or
        :class:`~mne_specae.baselines.RandomWeights` naming a SpecAE of this dict.
    group : str
        Metadata column of the groups held out together (``"subject"``, ``"source"``).
    n_splits : int | None
        Folds of the groups; ``None``: leave one group out.
    strata : str | None
        Metadata column whose values are spread over the folds (``None``: none).
    folds : dict | None
        ``{group: fold}`` instead of :func:`group_folds`: folds numbered from 0; a
        group at ``-1`` (or missing) is never held out, always in training (e.g. the
        subjects a recipe was chosen on, so that none of them is reported).
    seeds : tuple of int
        One full run per seed (weights, batch order; the folds stay the same).
    probes : tuple of str
        Among ``"logistic"`` (standardised logistic regression), ``"knn"`` (5
        neighbours, or as many as the smallest class of a fold's training epochs
        holds) and ``"gradient_boosting"``; see
        :func:`~mne_specae.evaluation.make_probe`.
    standardize_by : str | None
        A metadata column (e.g. ``"subject"``) within whose values every feature is
        z-scored before probing, in addition to the plain features (rows with
        ``standardized=True``): allowed at test time when subjects are known.
    max_fit_items : int | None
        At most this many items (channels x segments) to fit each representation on.
    %(verbose)s

    Returns
    -------
    scores : pandas.DataFrame
        One row per seed, fold, task, representation, probe and standardisation:
        ``balanced_accuracy`` on the fold's held-out epochs (over the classes they
        hold: the recall of the one class of a fold that holds one), ``n_train``, ``n_test``, the held-out ``test_groups``, and
        ``fit_seconds`` of the representation, and for autoencoders ``heldout_r2``:
        :func:`~mne_specae.evaluation.reconstruction_r2` of the fold's held-out
        epochs. Out-of-fold predictions pooled over the
        folds are in rows with ``fold == -1``.
    """
    epochs_list = epochs_list_of(epochs)
    md, masks = _check_inputs(epochs_list, tasks, representations, group)
    for probe in probes:
        make_probe(probe)
    groups = md[group].astype(str).to_numpy()
    strata_values = md[strata].to_numpy() if strata is not None and strata in md else None
    fold_of = (
        group_folds(groups, n_splits, strata=strata_values)
        if folds is None
        else {str(g): int(k) for g, k in folds.items()}
    )
    row_fold = np.array([fold_of.get(g, -1) for g in groups])
    if row_fold.max() < 0:
        raise ValueError(f"No {group!r} group of the data is in a fold to hold out.")
    row_of_epochs = np.repeat(np.arange(len(epochs_list)), [len(ep) for ep in epochs_list])
    mixed = [k for k in range(len(epochs_list)) if len(set(groups[row_of_epochs == k])) > 1]
    if mixed:
        raise ValueError(
            f"{len(mixed)} Epochs hold several {group!r} groups (the first: "
            f"{epochs_list[mixed[0]]!r}): give one Epochs per recording and "
            "group, so that a representation is fitted on whole groups."
        )
    n_folds = row_fold.max() + 1
    empty = sorted(set(range(n_folds)) - set(row_fold.tolist()))
    if empty:
        raise ValueError(f"Folds {empty} hold no group of the data.")
    logger.info(
        f"{len(md)} epochs, {len(np.unique(groups))} {group} groups in {n_folds} "
        f"folds; {len(tasks)} tasks x {len(representations)} representations x "
        f"{len(probes)} probes x {len(seeds)} seeds"
    )
    variants = [False] + ([True] if standardize_by is not None else [])
    rows, pooled = [], {}
    for seed in seeds:
        for fold in range(n_folds):
            test = row_fold == fold
            train_epochs = fit_subset(
                [ep for k, ep in enumerate(epochs_list) if not test[row_of_epochs == k][0]],
                max_fit_items,
            )
            fitted, seconds = {}, {}
            for name, rep in representations.items():
                if isinstance(rep, RandomWeights):
                    continue
                start = time.perf_counter()
                fitted[name] = with_seed(rep, seed).fit(train_epochs)
                seconds[name] = time.perf_counter() - start
            for name, rep in representations.items():
                if isinstance(rep, RandomWeights):
                    fitted[name], seconds[name] = RandomWeights.from_fitted(fitted[rep.source]), 0.0
            held_out = sorted(set(groups[test]))
            logger.info(
                f"seed {seed}, fold {fold + 1}/{n_folds} (held out: "
                f"{', '.join(held_out[:4])}{' ...' if len(held_out) > 4 else ''})"
            )
            held_epochs = [ep for k, ep in enumerate(epochs_list) if test[row_of_epochs == k][0]]
            for name, model in fitted.items():
                features = np.asarray(model.transform(epochs_list), dtype=np.float64)
                r2 = (
                    reconstruction_r2(model, held_epochs)
                    if hasattr(model, "reconstruct")
                    else np.nan
                )
                for standardized in variants:
                    feats = (
                        standardize_within(features, md[standardize_by].astype(str).to_numpy())
                        if standardized
                        else features
                    )
                    for task_name, task in tasks.items():
                        mask = masks[task_name]
                        y = md[task.label].astype(str).to_numpy()
                        train, held = mask & ~test, mask & test
                        if not held.any() or len(np.unique(y[train])) < 2:
                            continue
                        for probe in probes:
                            smallest = int(np.unique(y[train], return_counts=True)[1].min())
                            clf = make_probe(
                                probe, seed, n_neighbors=min(N_NEIGHBORS, smallest)
                            ).fit(feats[train], y[train])
                            predicted = clf.predict(feats[held])
                            key = (seed, task_name, name, probe, standardized)
                            pooled.setdefault(key, []).append((y[held], predicted))
                            rows.append(
                                dict(
                                    seed=seed,
                                    fold=fold,
                                    task=task_name,
                                    representation=name,
                                    probe=probe,
                                    standardized=standardized,
                                    balanced_accuracy=balanced_accuracy(y[held], predicted),
                                    n_train=int(train.sum()),
                                    n_test=int(held.sum()),
                                    test_groups=" ".join(sorted(set(groups[held]))),
                                    fit_seconds=seconds[name],
                                    heldout_r2=r2,
                                )
                            )
    for (seed, task_name, name, probe, standardized), parts in pooled.items():
        y_true = np.concatenate([p[0] for p in parts])
        y_pred = np.concatenate([p[1] for p in parts])
        rows.append(
            dict(
                seed=seed,
                fold=-1,
                task=task_name,
                representation=name,
                probe=probe,
                standardized=standardized,
                balanced_accuracy=balanced_accuracy(y_true, y_pred),
                n_train=np.nan,
                n_test=len(y_true),
                test_groups="all",
                fit_seconds=np.nan,
                heldout_r2=np.nan,
            )
        )
    return pd.DataFrame(rows)


def summarize_scores(scores):
    """The table of :func:`compare_representations`: one row per task, representation,
    probe and standardisation.

    Parameters
    ----------
    scores : pandas.DataFrame
        As returned by :func:`compare_representations`.

    Returns
    -------
    table : pandas.DataFrame
        ``mean`` (over seeds of the out-of-fold balanced accuracy pooled over folds),
        ``std_seeds`` (its spread over seeds), ``fold_mean`` and ``std_folds`` (over
        the folds and seeds),
        ``n_seeds``, ``n_folds``, ``n_test``, ``heldout_r2`` (mean over folds and
        seeds; NaN for representations that do not reconstruct).
    """
    keys = ["task", "representation", "probe", "standardized"]
    pooled = scores[scores["fold"] == -1].groupby(keys)
    folds = scores[scores["fold"] >= 0].groupby(keys)
    table = pd.DataFrame(
        {
            "mean": pooled["balanced_accuracy"].mean(),
            "std_seeds": pooled["balanced_accuracy"].std(ddof=0),
            "fold_mean": folds["balanced_accuracy"].mean(),
            "std_folds": folds["balanced_accuracy"].std(ddof=0),
            "n_seeds": pooled["seed"].nunique(),
            "n_folds": folds["fold"].nunique(),
            "n_test": pooled["n_test"].first(),
            "heldout_r2": folds["heldout_r2"].mean(),
        }
    )
    return table.reset_index()
