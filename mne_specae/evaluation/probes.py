"""How good are embeddings? Probes, and held-out-group classification against a PCA
baseline (the full protocol over tasks and representations is
:func:`mne_specae.compare_representations`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mne.utils import logger, verbose

from ..estimator.metadata import (
    embedding_columns,
    epochs_list_of,
    group_labels,
    stack_columns,
    standardize_within,
)
from ..spectral.spectrogram import Spectrogram
from .baselines import input_images

#: The probes of :func:`make_probe` run by default (:func:`compare_representations`).
PROBES = ("logistic", "knn")
#: Every probe :func:`make_probe` builds.
ALL_PROBES = (*PROBES, "gradient_boosting")


def make_probe(name, random_state=0, *, n_neighbors=5):
    """A classifier that reads a label from features: the downstream probes.

    Parameters
    ----------
    name : ``"logistic"`` | ``"knn"`` | ``"gradient_boosting"``
        ``"logistic"``: standardised features, L2-regularised logistic regression
        (``C=1``) with balanced class weights (a linear probe); ``"knn"``: standardised
        features, ``n_neighbors``-nearest-neighbour vote; ``"gradient_boosting"``:
        scikit-learn's ``HistGradientBoostingClassifier`` (default settings, balanced
        class weights; NaN features allowed), a non-linear probe.
    random_state : int
        Seed of the solver.
    n_neighbors : int
        Neighbours of the kNN probe.

    Returns
    -------
    probe : sklearn.pipeline.Pipeline
        Unfitted.
    """
    from mne.utils import _check_option
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_option("probe", name, ALL_PROBES)
    if name == "gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(class_weight="balanced", random_state=random_state)
        return make_pipeline(clf)
    if name == "logistic":
        clf = LogisticRegression(
            C=1.0, class_weight="balanced", max_iter=2000, random_state=random_state
        )
    else:
        clf = KNeighborsClassifier(n_neighbors=n_neighbors)
    return make_pipeline(StandardScaler(), clf)


def reconstruction_r2(estimator, epochs):
    """R² of an autoencoder's reconstructions of its own (normalised) inputs.

    ``1 - sum((output - input)²) / sum((input - mean)²)`` over all items, channels and
    pixels (or samples) of ``epochs``, where ``mean`` is the mean of all those input
    values (the usual R² of the flattened images): 1 is a perfect reconstruction, 0 no
    better than one constant.

    Parameters
    ----------
    estimator : SpecAE
        Fitted.
    epochs : mne.Epochs | list of mne.Epochs
        Segments (held out from the estimator's training, for a held-out R²).

    Returns
    -------
    r2 : float
    """
    outputs, inputs = estimator.reconstruct(epochs, return_input=True, verbose=False)
    if not isinstance(outputs, list):
        outputs, inputs = [outputs], [inputs]
    x = np.concatenate([inp.get_data(picks="all").astype(np.float64).ravel() for inp in inputs])
    y = np.concatenate([out.get_data(picks="all").astype(np.float64).ravel() for out in outputs])
    sst = float(((x - x.mean()) ** 2).sum())
    return 1.0 - float(((y - x) ** 2).sum()) / sst if sst > 0 else float("nan")


def default_baseline_spectrogram(sfreq):
    """The spectrogram of the PCA baseline when no estimator is given."""

    return Spectrogram(
        sfreq, n_fft=256, hop_length=40, output="db", top_db=80.0, normalize="item", resize=(64, 64)
    )


@verbose
def evaluate_embeddings(
    epochs,
    label="signal_type",
    *,
    group="subject",
    prefix="specae_",
    estimator=None,
    baseline=True,
    baseline_components=(8, 16, 32, 64),
    n_neighbors=5,
    standardize_by=None,
    random_state=0,
    verbose=None,
):
    """How well do embeddings separate a label, on held-out groups, against a baseline.

    Computes, for the embedding columns and, in the same call, for a simple baseline
    (PCA of the log-spectrograms, its number of components chosen among several for
    each held-out group on the other groups alone, so that the baseline is not
    handicapped by a poor choice nor tuned on the group it is scored on):

    * ``knn_balanced_accuracy``: balanced accuracy of a k-nearest-neighbour classifier
      (standardised features) that predicts ``label`` for each group (subject) from
      all other groups (leave-one-group-out);
    * ``silhouette``: silhouette score of ``label`` in the standardised features.

    Both representations are unsupervised and fitted on all the given epochs; only
    the classifier is kept away from the held-out group.

    Parameters
    ----------
    epochs : mne.Epochs | list of mne.Epochs
        Epochs with embedding columns (see :func:`add_embeddings`) and the ``label``
        and ``group`` metadata columns.
    label : str
        Metadata column to predict (e.g. ``"signal_type"``, ``"condition"``).
    group : str
        Metadata column of the groups held out together (e.g. ``"subject"``).
    prefix : str
        Prefix of the embedding columns.
    estimator : SpecAE | None
        When given, the baseline uses exactly its input spectrograms and its channel
        aggregation (``channel_agg="concat"``: each channel's image kept, as its
        features keep each channel); else a default dB spectrogram (0.5 s windows,
        64 x 64 images, per-image z-score), the channels averaged.
    baseline : bool
        Compute the PCA baseline.
    baseline_components : tuple of int
        Numbers of PCA components tried for the baseline. For each held-out group,
        the one with the best leave-one-group-out kNN accuracy on the *other* groups'
        labels predicts it (nested; with only two groups, the smallest); the PCA itself
        is fitted on all epochs, as the embeddings are (unsupervised); ``n_features``
        is the count chosen most often. The nested choice costs about ``n_groups``
        times more kNN fits than one size (a second for 17 subjects).
    n_neighbors : int
        Neighbours of the kNN classifier.
    standardize_by : str | None
        A metadata column (e.g. ``"subject"``): every feature of both representations
        is z-scored within each of its values before the classifier and the
        silhouette (unsupervised, as ``add_embeddings(..., standardize_by=...)``), so
        that who was recorded does not dominate a label that varies within a subject
        (rest vs task). Not for a label that is constant within each value (a
        patient group): standardising removes it.
    random_state : int
        Seed of PCA and the silhouette's subsample.
    %(verbose)s

    Returns
    -------
    scores : pandas.DataFrame
        One row per representation (``"specae"``, ``"pca_logspec"``), columns
        ``knn_balanced_accuracy``, ``silhouette``, ``n_features``, ``n_epochs``,
        ``n_groups``.
    """
    from sklearn.decomposition import PCA
    from sklearn.metrics import balanced_accuracy_score, silhouette_score
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    epochs_list = epochs_list_of(epochs)
    columns = embedding_columns(epochs_list, prefix)
    for column in (label, group):
        missing = [ep for ep in epochs_list if column not in ep.metadata]
        if missing:
            raise ValueError(
                f"The metadata has no column {column!r} (in {len(missing)} of "
                f"{len(epochs_list)} Epochs)."
            )
    md = pd.concat([ep.metadata[[label, group]] for ep in epochs_list], ignore_index=True)
    y = md[label].astype(str).to_numpy()
    groups = md[group].astype(str).to_numpy()
    if len(np.unique(groups)) < 2:
        raise ValueError(f"Need at least 2 distinct {group!r} values to hold groups out.")
    if len(np.unique(y)) < 2:
        raise ValueError(f"Need at least 2 distinct {label!r} values to evaluate.")
    within = None if standardize_by is None else group_labels(epochs_list, standardize_by)

    def prepared(features):
        return features if within is None else standardize_within(features, within)

    def knn_accuracy(features):
        knn = make_probe("knn", n_neighbors=n_neighbors)
        predicted = cross_val_predict(knn, features, y, groups=groups, cv=LeaveOneGroupOut())
        return balanced_accuracy_score(y, predicted)

    representations = {"specae": (prepared(stack_columns(epochs_list, columns)), None)}
    if baseline:
        stage = getattr(estimator, "input_stage_", None)
        channel_agg = "mean"
        if getattr(stage, "channel_mode", None) == "separate":
            spectrogram = stage
            channel_agg = getattr(estimator, "channel_agg", "mean")  # as its features
        else:
            spectrogram = default_baseline_spectrogram(epochs_list[0].info["sfreq"])
        logspec = input_images(
            epochs_list,
            spectrogram,
            picks=getattr(estimator, "picks", None),
            channel_agg=channel_agg,
        )
        limit = min(logspec.shape[0] - 1, logspec.shape[1])
        candidates = sorted({min(int(k), limit) for k in baseline_components})
        by_k = {
            k: prepared(
                make_pipeline(
                    StandardScaler(), PCA(n_components=k, random_state=random_state)
                ).fit_transform(logspec)
            )
            for k in candidates
        }
        accuracy, chosen = _nested_choice(by_k, y, groups, n_neighbors)
        counts = pd.Series(chosen).value_counts()
        logger.info(
            "PCA baseline: components chosen on the other groups for each held-out "
            "group: " + ", ".join(f"{k} ({n}x)" for k, n in counts.items())
        )
        representations["pca_logspec"] = (by_k[int(counts.index[0])], accuracy)

    rows = {}
    for name, (features, accuracy) in representations.items():
        accuracy = knn_accuracy(features) if accuracy is None else accuracy
        scaled = StandardScaler().fit_transform(features)
        silhouette = silhouette_score(
            scaled, y, sample_size=min(len(y), 4000), random_state=random_state
        )
        rows[name] = dict(
            knn_balanced_accuracy=accuracy,
            silhouette=float(silhouette),
            n_features=features.shape[1],
            n_epochs=len(y),
            n_groups=len(np.unique(groups)),
        )
        logger.info(f"{name}: kNN balanced accuracy {accuracy:.3f}, silhouette {silhouette:.3f}")
    return pd.DataFrame.from_dict(rows, orient="index")


def _nested_choice(by_k, y, groups, n_neighbors):
    """Leave-one-group-out balanced accuracy of a kNN on the features ``by_k[k]``, ``k``
    chosen for each held-out group by a leave-one-group-out kNN on the other groups
    alone (their balanced accuracy; ties: the smaller ``k``); the choices."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict

    def knn():
        return make_probe("knn", n_neighbors=n_neighbors)

    predicted, chosen = np.empty_like(y), []
    for held in np.unique(groups):
        test, train = groups == held, groups != held
        best = min(by_k)
        if len(np.unique(groups[train])) >= 2:
            inner = {
                k: balanced_accuracy_score(
                    y[train],
                    cross_val_predict(
                        knn(), f[train], y[train], groups=groups[train], cv=LeaveOneGroupOut()
                    ),
                )
                for k, f in by_k.items()
            }
            best = max(inner, key=lambda k: (inner[k], -k))
        chosen.append(best)
        predicted[test] = knn().fit(by_k[best][train], y[train]).predict(by_k[best][test])
    return float(balanced_accuracy_score(y, predicted)), chosen
