"""Figures: embeddings (the study's UMAP), reconstructions (its Fig. 1), training history.

Every function returns the :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import numpy as np

from .embedding import epochs_list_of


def _figure(ax, **kwargs):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(**kwargs)
        return fig, ax
    return ax.figure, ax


def _show(fig, show):
    if show:
        import matplotlib.pyplot as plt

        plt.show(block=False)
    return fig


def plot_embedding(epochs, hue="signal_type", *, x="umap_0", y="umap_1", ax=None, s=12,
                   alpha=0.8, title=None, show=True):
    """Scatter plot of two metadata columns (UMAP coordinates) coloured by another.

    Parameters
    ----------
    epochs : mne.Epochs | list of mne.Epochs
        Epochs whose metadata holds ``x``, ``y`` and ``hue`` (see
        :func:`~mne_specae.add_umap`).
    hue : str
        Metadata column that sets the colour (e.g. ``"signal_type"``, ``"subject"``).
    x, y : str
        Metadata columns of the axes.
    ax : matplotlib.axes.Axes | None
        Draw here; a new figure otherwise.
    s, alpha : float
        Marker size and opacity.
    title : str | None
        Axes title (default: the number of epochs).
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    epochs_list = epochs_list_of(epochs)
    frames = []
    for ep in epochs_list:
        missing = [c for c in (x, y, hue) if ep.metadata is None or c not in ep.metadata]
        if missing:
            raise ValueError(f"The metadata has no column(s) {missing}; run add_umap (for "
                             "umap_*) and check the hue column.")
        frames.append(ep.metadata[[x, y, hue]])
    table = pd.concat(frames, ignore_index=True)
    fig, ax = _figure(ax, figsize=(6, 5), layout="constrained")
    values = sorted(table[hue].astype(str).unique())
    colors = plt.get_cmap("tab10" if len(values) <= 10 else "tab20")
    for k, value in enumerate(values):
        rows = table[hue].astype(str) == value
        ax.scatter(table.loc[rows, x], table.loc[rows, y], s=s, alpha=alpha,
                   color=colors(k % colors.N), label=f"{value} ({int(rows.sum())})",
                   edgecolors="none")
    ax.set(xlabel=x.replace("_", " ").upper() if x.startswith("umap") else x,
           ylabel=y.replace("_", " ").upper() if y.startswith("umap") else y,
           title=title or f"{len(table)} epochs")
    ax.legend(title=hue, markerscale=2, frameon=False, loc="best")
    return _show(fig, show)


def plot_reconstruction(estimator, epochs, *, idx=None, n_examples=3, pick=0, cmap="magma",
                        show=True):
    """Input spectrograms next to their reconstructions (the study's Fig. 1).

    Parameters
    ----------
    estimator : SpecAE
        A fitted 2-D estimator.
    epochs : mne.Epochs
        Segments to show.
    idx : list of int | None
        Epoch indices; default ``n_examples`` spread over the Epochs.
    n_examples : int
        Number of epochs when ``idx`` is None.
    pick : int | str
        Channel (index or name).
    cmap : str
        Colormap.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One row per epoch: input | reconstruction, frequency (Hz) against time (s),
        with a shared colour scale per row in the network's normalised units.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    if estimator.model != "2d":
        raise ValueError("plot_reconstruction shows spectrograms: it needs model='2d'.")
    if idx is None:
        idx = np.unique(np.linspace(0, len(epochs) - 1, n_examples).round().astype(int))
    idx = [int(i) for i in np.atleast_1d(idx)]
    if not idx or max(idx) >= len(epochs) or min(idx) < -len(epochs):
        raise ValueError(f"idx must index the {len(epochs)} epochs, got {idx}.")
    ch = epochs.ch_names.index(pick) if isinstance(pick, str) else int(pick)
    subset = epochs[idx].copy().pick([epochs.ch_names[ch]])
    recon, inputs = estimator.reconstruct(subset, return_input=True, verbose=False)
    freqs, times = inputs.freqs, inputs.times
    log_axis = estimator.freq_scale == "log"
    fig, axes = plt.subplots(len(idx), 2, figsize=(8, 2.6 * len(idx)), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    for row, i in enumerate(idx):
        pair = (inputs.data[row, 0], recon.data[row, 0])
        vmin = min(float(p.min()) for p in pair)
        vmax = max(float(p.max()) for p in pair)
        for col, (image, name) in enumerate(zip(pair, ("Input", "Reconstruction"))):
            ax = axes[row, col]
            # the rows' true frequencies (log or mel bands are not evenly spaced)
            im = ax.pcolormesh(times, freqs, image, shading="nearest", cmap=cmap,
                               vmin=vmin, vmax=vmax, rasterized=True)
            if log_axis:  # plain numbers (3, 10, 30), not 3 x 10^0
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(ScalarFormatter())
                ax.yaxis.set_minor_formatter(NullFormatter())
            label = ""
            if epochs.metadata is not None and "recording" in epochs.metadata:
                label = f" — {epochs.metadata['recording'].iloc[i]}"
            ax.set_title(f"{name}: epoch {i}, {epochs.ch_names[ch]}{label}", fontsize=8)
            if col == 0:
                ax.set_ylabel("Frequency (Hz)")
            if row == len(idx) - 1:
                ax.set_xlabel("Time (s)")
        fig.colorbar(im, ax=axes[row, :], label="z-scored dB" if estimator.normalize == "item"
                     else estimator.output, shrink=0.9)
    return _show(fig, show)


def plot_history(history, *, ax=None, logy=True, show=True):
    """Training and validation loss per epoch, with the kept (best) epoch marked.

    Parameters
    ----------
    history : History | SpecAE
        A training history, or a fitted estimator (its ``history_``).
    ax : matplotlib.axes.Axes | None
        Draw here; a new figure otherwise.
    logy : bool
        Logarithmic loss axis.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    history = getattr(history, "history_", history)
    frame = history.to_frame()
    if frame.empty:
        raise ValueError("The history is empty: train first.")
    fig, ax = _figure(ax, figsize=(5, 3.5), layout="constrained")
    ax.plot(frame["epoch"], frame["train_loss"], "o-", label="training")
    if frame["val_loss"].notna().any():
        ax.plot(frame["epoch"], frame["val_loss"], "s-", label="validation")
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch, color="0.5", ls="--", lw=1,
                   label=f"kept: epoch {history.best_epoch}")
    ax.set(xlabel="Epoch", ylabel="Loss (MSE)", title=f"Training ({history.stop_reason})")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    return _show(fig, show)
