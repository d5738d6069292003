"""Figures: embeddings (the study's UMAP), reconstructions (its Fig. 1), training history.

Every function returns the :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import numpy as np

from .estimator.metadata import epochs_list_of
from .spectral.tfr import units_of
from .utils._signals import evenly_spaced


def _figure(ax, **kwargs):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(**kwargs)
        return fig, ax
    return ax.figure, ax


def _hz_axis(ax, freqs, axis="y"):
    """Frequencies in Hz on a log axis when the rows are log-spaced, with plain ticks
    (2, 5, 10, 20, 50), not a lone "10" or 10^1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    freqs = np.asarray(freqs, float)
    positive = freqs[freqs > 0]
    ratios = positive[1:] / positive[:-1] if len(positive) > 2 else np.array([1.0])
    if (
        len(positive) == len(freqs)
        and np.ptp(ratios) < 1e-3 * ratios.mean()
        and ratios.mean() > 1 + 1e-6
    ):
        target = ax.yaxis if axis == "y" else ax.xaxis
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        target.set_minor_formatter(NullFormatter())


def _show(fig, show):
    if show:
        import matplotlib.pyplot as plt

        plt.show(block=False)
    return fig


def plot_embedding(
    epochs,
    hue="signal_type",
    *,
    x="umap_0",
    y="umap_1",
    ax=None,
    s=12,
    alpha=0.8,
    title=None,
    show=True,
):
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
            raise ValueError(
                f"The metadata has no column(s) {missing}; run add_umap (for "
                "umap_*) and check the hue column."
            )
        frames.append(ep.metadata[[x, y, hue]])
    table = pd.concat(frames, ignore_index=True)
    fig, ax = _figure(ax, figsize=(6, 5), layout="constrained")
    values = sorted(table[hue].astype(str).unique())
    colors = plt.get_cmap("tab10" if len(values) <= 10 else "tab20")
    for k, value in enumerate(values):
        rows = table[hue].astype(str) == value
        ax.scatter(
            table.loc[rows, x],
            table.loc[rows, y],
            s=s,
            alpha=alpha,
            color=colors(k % colors.N),
            label=f"{value} ({int(rows.sum())})",
            edgecolors="none",
        )
    ax.set(
        xlabel=x.replace("_", " ").upper() if x.startswith("umap") else x,
        ylabel=y.replace("_", " ").upper() if y.startswith("umap") else y,
        title=title or f"{len(table)} epochs",
    )
    ax.legend(title=hue, markerscale=2, frameon=False, loc="best")
    return _show(fig, show)


def plot_reconstruction(
    estimator, epochs, *, idx=None, n_examples=3, pick=0, cmap="magma", show=True
):
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

    if estimator.model != "2d":
        raise ValueError("plot_reconstruction shows spectrograms: it needs model='2d'.")
    if idx is None:
        idx = evenly_spaced(len(epochs), n_examples)
    idx = [int(i) for i in np.atleast_1d(idx)]
    if not idx or max(idx) >= len(epochs) or min(idx) < -len(epochs):
        raise ValueError(f"idx must index the {len(epochs)} epochs, got {idx}.")
    ch = epochs.ch_names.index(pick) if isinstance(pick, str) else int(pick)
    subset = epochs[idx].copy().pick([epochs.ch_names[ch]])
    recon, inputs = estimator.reconstruct(subset, return_input=True, verbose=False)
    freqs, times = inputs.freqs, inputs.times
    log_axis = estimator.freq_scale == "log"
    fig, axes = plt.subplots(
        len(idx),
        2,
        figsize=(8, 2.6 * len(idx)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for row, i in enumerate(idx):
        pair = (inputs.data[row, 0], recon.data[row, 0])
        vmin = min(float(p.min()) for p in pair)
        vmax = max(float(p.max()) for p in pair)
        for col, (image, name) in enumerate(zip(pair, ("Input", "Reconstruction"))):
            ax = axes[row, col]
            # the rows' true frequencies (log or mel bands are not evenly spaced)
            im = ax.pcolormesh(
                times,
                freqs,
                image,
                shading="nearest",
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                rasterized=True,
            )
            if log_axis:  # plain numbers in Hz (2, 5, 10, 20, 50), not a lone "10"
                _hz_axis(ax, freqs)
            label = ""
            if epochs.metadata is not None and "recording" in epochs.metadata:
                label = f" — {epochs.metadata['recording'].iloc[i]}"
            ax.set_title(f"{name}: epoch {i}, {epochs.ch_names[ch]}{label}", fontsize=8)
            if col == 0:
                ax.set_ylabel("Frequency (Hz)")
            if row == len(idx) - 1:
                ax.set_xlabel("Time (s)")
        fig.colorbar(im, ax=axes[row, :], label=_image_units(estimator.input_stage_), shrink=0.9)
    return _show(fig, show)


def _image_units(stage):
    """Colour-bar label of the network's input images (a fitted :class:`Spectrogram`)."""

    if stage.normalize is None:
        return units_of(stage)
    what = {"db": "power in dB", "power": "power", "magnitude": "magnitude"}.get(
        stage.output, stage.output
    )
    how = "per image" if stage.normalize == "item" else "per frequency, training statistics"
    return f"z-score of {what} ({how})"


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
        ax.axvline(
            history.best_epoch,
            color="0.5",
            ls="--",
            lw=1,
            label=f"kept: epoch {history.best_epoch}",
        )
    ax.set(xlabel="Epoch", ylabel="Loss (MSE)", title=f"Training ({history.stop_reason})")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    return _show(fig, show)


def plot_spectrogram(
    tfr,
    picks=None,
    *,
    dB=True,
    units=None,
    cmap="viridis",
    vlim=None,
    ax=None,
    title=None,
    colorbar=True,
    show=True,
):
    """One spectrogram, averaged over epochs and the picked channels, readable as is.

    Unlike ``tfr.average().plot()``, it takes ECG and EMG channels without extra
    picks (MNE does not count them as data channels), labels the colour bar with its
    units, and draws log-spaced bands on a log axis with ticks in Hz.

    Parameters
    ----------
    tfr : EpochsTFRArray | AverageTFR | RawTFRArray
        E.g. from :func:`~mne_specae.compute_spectrogram` (``output="power"``).
    picks : str | list | None
        Channels (names, types or indices) to average; ``None``: all.
    dB : bool
        Show ``10 log10(power)`` (not applied to dB or normalised spectrograms).
    units : str | None
        Colour-bar label; default the units :func:`~mne_specae.compute_spectrogram`
        records (``"Power (V²/Hz)"``, ...), else ``"Power"``.
    cmap : str
        Colormap.
    vlim : tuple of float | None
        Colour limits; default the 1st to 99.5th percentile.
    ax : matplotlib.axes.Axes | None
        Draw here; a new figure otherwise.
    title : str | None
        Axes title; default the channels and the number of epochs averaged.
    colorbar : bool
        Draw the (labelled) colour bar; panels that share ``vlim`` may draw one.
    show : bool
        Show the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from mne._fiff.pick import _picks_to_idx

    idx = _picks_to_idx(tfr.info, "all" if picks is None else picks, exclude=())
    data = np.asarray(tfr.data)
    if np.iscomplexobj(data):
        raise ValueError(
            "plot_spectrogram shows power: compute the spectrogram with "
            "output='power' (or 'magnitude')."
        )
    n_epochs = data.shape[0] if data.ndim == 4 else None
    image = (data.mean(axis=0) if data.ndim == 4 else data)[idx].mean(axis=0)
    label = units or _units_of(tfr) or "Power"
    if dB and "dB" not in label and "z-score" not in label:  # not yet in dB
        import re

        image = 10 * np.log10(np.maximum(image, np.finfo(float).tiny))
        label, n = re.subn(r"\(([^()]*V[^()]*)\)$", r"(dB re 1 \1)", label)
        label = label if n else f"{label} (dB)"
    if vlim is None:
        vlim = tuple(np.percentile(image, [1, 99.5]))
    fig, ax = _figure(ax, figsize=(7, 3.6), layout="constrained")
    mesh = ax.pcolormesh(
        tfr.times,
        tfr.freqs,
        image,
        shading="nearest",
        cmap=cmap,
        vmin=vlim[0],
        vmax=vlim[1],
        rasterized=True,
    )
    _hz_axis(ax, tfr.freqs)
    names = [tfr.ch_names[i] for i in idx]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    ax.set(
        xlabel="Time (s)",
        ylabel="Frequency (Hz)",
        title=title or (f"{shown}" + (f", mean of {n_epochs} epochs" if n_epochs else "")),
    )
    if colorbar:
        fig.colorbar(mesh, ax=ax, label=label)
    return _show(fig, show)


def _units_of(tfr):
    """The units compute_spectrogram records in ``tfr.info["temp"]``, if any."""
    temp = tfr.info.get("temp")
    return temp.get("mne_specae_units") if isinstance(temp, dict) else None
