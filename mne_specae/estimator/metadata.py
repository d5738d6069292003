"""Embeddings back into MNE: metadata columns and UMAP coordinates.

Both writers follow one convention: they take one Epochs or a list of them, extend
the metadata in place and return what they were given (like MNE's own methods).
Columns of an earlier run with the same prefix are replaced, never left stale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mne.utils import logger, use_log_level, verbose

from ..stores.store import SegmentStore
from ..training.streaming import add_store_embeddings
from ._items import as_epochs_list

UMAP_PREFIX = "umap_"


def epochs_list_of(epochs):
    """``[epochs]`` for one Epochs, the list for a list; else a TypeError."""
    epochs_list = as_epochs_list(epochs)
    if epochs_list is None:
        raise TypeError(f"Expected mne.Epochs or a list of them, got {type(epochs).__name__}.")
    return epochs_list


def columns_with_prefix(epochs_list, prefix, *, exclude=()):
    """The metadata columns starting with ``prefix``, the same in every Epochs."""
    columns = None
    for ep in epochs_list:
        md = ep.metadata
        found = (
            []
            if md is None
            else [c for c in md.columns if str(c).startswith(prefix) and c not in exclude]
        )
        if not found:
            raise ValueError(
                f"No '{prefix}*' columns in the metadata of {ep!r}: run "
                "add_embeddings(epochs, estimator) (or estimator.add_embeddings) first."
            )
        if columns is not None and found != columns:
            raise ValueError(
                f"The Epochs have different '{prefix}*' columns: embeddings of "
                "different models cannot be pooled."
            )
        columns = found
    return columns


def embedding_columns(epochs_list, prefix):
    """The embedding columns (``prefix`` + number), without the reconstruction error."""
    return columns_with_prefix(epochs_list, prefix, exclude=(f"{prefix}recon_error",))


def metadata_table(epochs_list):
    """The metadata of all Epochs as one table, with each Epochs' channel count."""
    return pd.concat(
        [ep.metadata.assign(n_channels=len(ep.ch_names)) for ep in epochs_list], ignore_index=True
    )


def stack_columns(epochs_list, columns):
    """The given metadata columns of all Epochs as one float64 array."""
    return np.concatenate([ep.metadata[columns].to_numpy(np.float64) for ep in epochs_list])


def standardize_within(features, groups):
    """Z-score every feature within each group (unsupervised: no labels); a group of one
    row gives zeros. Computed in float64."""
    features = np.asarray(features, np.float64)
    out = np.empty_like(features)
    for g in np.unique(groups):
        rows = groups == g
        block = features[rows]
        out[rows] = (block - block.mean(axis=0)) / (block.std(axis=0) + 1e-12)
    return out


def group_labels(epochs_list, column):
    """The ``column`` metadata of every Epochs as one array of strings, checked."""
    labels = []
    for ep in epochs_list:
        md = ep.metadata
        if md is None or column not in md.columns:
            raise ValueError(
                f"standardize_by={column!r}: no such metadata column in {ep!r}. Add it "
                f"(e.g. make_segments(raw, metadata={{{column!r}: ...}})) or pass "
                "standardize_by=None."
            )
        if md[column].isna().any():
            raise ValueError(
                f"standardize_by={column!r}: {int(md[column].isna().sum())} missing "
                f"value(s) in {ep!r}; every segment needs its group."
            )
        labels.append(md[column].astype(str).to_numpy())
    return np.concatenate(labels)


def replace_columns(epochs, new, prefix):
    """Set ``epochs.metadata`` to its columns without ``prefix*``, plus ``new``."""
    md = (
        epochs.metadata.copy()
        if epochs.metadata is not None
        else pd.DataFrame(index=np.arange(len(epochs)))
    )
    stale = [c for c in md.columns if str(c).startswith(prefix)]
    if stale:
        logger.info(f"Replacing {len(stale)} existing '{prefix}*' column(s)")
        md = md.drop(columns=stale)
    new.index = md.index
    with use_log_level("warning"):  # MNE logs every metadata replacement
        epochs.metadata = pd.concat([md, new], axis=1)


@verbose
def add_embeddings(
    epochs, estimator, *, prefix="specae_", recon_error=True, standardize_by=None, verbose=None
):
    """Write a fitted estimator's embeddings into ``epochs.metadata``.

    The metadata is extended in place: float columns ``specae_000``,
    ``specae_001``, ... (the names of ``estimator.get_feature_names_out()``) and
    ``specae_recon_error`` (mean squared reconstruction error of the epoch, which
    flags segments unlike the training data). They are plain metadata columns, so
    they survive ``epochs.save()`` / :func:`mne.read_epochs` and feed pandas and
    scikit-learn. Every existing column starting with ``prefix`` is removed first, so
    a model with fewer features leaves no stale columns behind.

    Parameters
    ----------
    epochs : mne.Epochs | list of mne.Epochs | SegmentStore
        Segments the estimator can take (same sampling rate and length as its
        training data). For a :class:`~mne_specae.SegmentStore` the columns go into
        its metadata on disk, one row per item (channel of a segment).
    estimator : SpecAE
        A fitted :class:`~mne_specae.SpecAE`.
    prefix : str
        Prefix of the new columns.
    recon_error : bool
        Also write the ``{prefix}recon_error`` column.
    standardize_by : str | None
        A metadata column, e.g. ``"subject"``: each embedding feature is z-scored within
        each of its values, over all the given Epochs (a subject's rest and task
        recordings together). This removes what sets subjects (or recordings)
        apart and keeps what varies within them: for tasks whose classes vary within a
        subject it lifts linear probes markedly (see :doc:`/downstream`). Unsupervised,
        but it uses every segment of a group, so give each group's segments in one call.
        A group of one segment gets zeros. The reconstruction error is left as it is.
        Not for a :class:`~mne_specae.SegmentStore`.
    %(verbose)s

    Returns
    -------
    epochs : mne.Epochs | list of mne.Epochs
        What was given, with the new metadata columns.
    """

    if isinstance(epochs, SegmentStore):  # columns into the store's metadata, on disk
        if standardize_by is not None:
            raise ValueError(
                "standardize_by is not available for a SegmentStore: read its embedding "
                "columns (store.read_columns) and z-score them per group with pandas."
            )
        return add_store_embeddings(estimator, epochs, prefix=prefix, recon_error=recon_error)
    epochs_list = epochs_list_of(epochs)
    groups = None if standardize_by is None else group_labels(epochs_list, standardize_by)
    embedded = [estimator.embed(ep, recon_error=recon_error) for ep in epochs_list]
    if groups is not None:
        sizes = np.cumsum([0] + [len(e) for e, _ in embedded])
        z = standardize_within(np.concatenate([e for e, _ in embedded]), groups)
        embedded = [(z[a:b], err) for (_, err), a, b in zip(embedded, sizes[:-1], sizes[1:])]
        values, counts = np.unique(groups, return_counts=True)
        logger.info(
            f"Embeddings z-scored within {len(values)} value(s) of {standardize_by!r}"
            + (
                f" ({int((counts == 1).sum())} with one segment: zeros)"
                if (counts == 1).any()
                else ""
            )
        )
    for ep, (embeddings, errors) in zip(epochs_list, embedded):
        columns = [f"{prefix}{i:03d}" for i in range(embeddings.shape[1])]
        new = pd.DataFrame(embeddings.astype(np.float64), columns=columns)
        if recon_error:
            new[f"{prefix}recon_error"] = errors
        replace_columns(ep, new, prefix)
    logger.info(
        f"Added {embeddings.shape[1]} embedding columns"
        f"{' and the reconstruction error' if recon_error else ''} to the metadata "
        f"of {sum(len(ep) for ep in epochs_list)} epochs"
    )
    return epochs


@verbose
def add_umap(
    epochs,
    *,
    prefix="specae_",
    n_components=2,
    n_neighbors=15,
    min_dist=0.1,
    metric="euclidean",
    random_state=0,
    return_reducer=False,
    verbose=None,
):
    """Fit one UMAP across all given Epochs and write its coordinates into the metadata.

    The columns are ``umap_0``, ``umap_1`` (one per component).

    Parameters
    ----------
    epochs : mne.Epochs | list of mne.Epochs
        Epochs whose metadata holds embeddings (see :func:`add_embeddings`); one UMAP
        is fitted on all of them together, so their coordinates are comparable.
        Existing ``umap_*`` columns are replaced.
    prefix : str
        Prefix of the embedding columns to project (the reconstruction error column
        is not projected).
    n_components : int
        Dimensions of the projection (columns ``umap_0`` ... ``umap_{n-1}``).
    n_neighbors, min_dist, metric
        UMAP settings (umap-learn's defaults).
    random_state : int | None
        Seed. With an int the result is reproducible, but umap-learn then runs on one
        thread (it warns that ``n_jobs`` is overridden to 1); ``None`` is faster on
        many cores but differs from run to run.
    return_reducer : bool
        Also return the fitted :class:`umap.UMAP` (its ``transform`` projects new
        embeddings).
    %(verbose)s

    Returns
    -------
    epochs : mne.Epochs | list of mne.Epochs
        What was given, with the new metadata columns.
    reducer : umap.UMAP
        Only with ``return_reducer=True``.
    """
    import umap

    epochs_list = epochs_list_of(epochs)
    columns = embedding_columns(epochs_list, prefix)
    features = stack_columns(epochs_list, columns)
    if len(features) <= n_neighbors:
        raise ValueError(
            f"UMAP needs more epochs ({len(features)}) than n_neighbors "
            f"({n_neighbors}); lower n_neighbors."
        )
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_jobs=1 if random_state is not None else -1,
    )
    coords = reducer.fit_transform(features)
    row = 0
    for ep in epochs_list:
        new = pd.DataFrame(
            coords[row : row + len(ep)].astype(np.float64),
            columns=[f"{UMAP_PREFIX}{k}" for k in range(n_components)],
        )
        replace_columns(ep, new, UMAP_PREFIX)
        row += len(ep)
    logger.info(
        f"UMAP of {len(features)} epochs x {len(columns)} features -> {n_components} columns"
    )
    return (epochs, reducer) if return_reducer else epochs
