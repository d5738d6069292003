"""The main job on the bundled sample recordings (``mne-specae demo``)."""

from __future__ import annotations

import time
from pathlib import Path

from ..presets import RECOMMENDED
from ._outputs import write_csv


def run_demo(args):
    """Segments, training, embeddings, UMAP, figures and evaluation; prints a summary.

    ``args`` holds the ``mne-specae demo`` options (``out``, ``data``, ``duration``,
    ``sfreq``, ``per_recording``, ``max_channels``, ``max_epochs``, ``filters``,
    ``device``, ``seed``, ``quiet``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..datasets import load_sample_epochs
    from ..estimator.metadata import add_umap, metadata_table
    from ..estimator.specae import SpecAE
    from ..evaluation.probes import evaluate_embeddings
    from ..pretrained.loading import load_pretrained
    from ..viz import plot_embedding, plot_history, plot_reconstruction

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = load_sample_epochs(
        args.data,
        duration=args.duration,
        sfreq=args.sfreq,
        max_segments=args.per_recording,
        max_channels=args.max_channels,
    )
    table = metadata_table(epochs)
    summary = table.groupby("signal_type").agg(
        recordings=("recording", "nunique"),
        subjects=("subject", "nunique"),
        segments=("onset", "size"),
    )
    print(
        f"Segments of {args.duration:g} s at {args.sfreq:g} Hz "
        f"(<= {args.per_recording} per recording, <= {args.max_channels} channels):"
    )
    print(summary.to_string())

    settings = dict(
        RECOMMENDED,
        device=args.device,
        random_state=args.seed,
        max_epochs=args.max_epochs,
        filters=args.filters,
        verbose="warning" if args.quiet else "info",
    )
    ae = SpecAE(**settings)
    t0 = time.perf_counter()
    ae.fit(epochs)
    fit_seconds = time.perf_counter() - t0
    hist = ae.history_.to_frame()
    print(
        f"Trained {len(hist)} epochs in {fit_seconds:.0f} s "
        f"({hist['samples_per_s'].median():.0f} spectrograms/s, best epoch "
        f"{ae.history_.best_epoch}, val loss {ae.history_.best_loss:.4f})"
    )

    ae.add_embeddings(epochs, verbose="warning")
    add_umap(epochs, random_state=args.seed)
    scores = evaluate_embeddings(epochs, "signal_type", group="subject", estimator=ae)
    # the encoder shipped with the package, no training (it never saw these recordings)
    load_pretrained(verbose=False).add_embeddings(
        epochs, prefix="pretrained_", recon_error=False, verbose="warning"
    )
    pre = evaluate_embeddings(
        epochs, "signal_type", group="subject", prefix="pretrained_", baseline=False
    )

    write_csv(metadata_table(epochs), out / "embeddings.csv")  # atomic: never half a table
    ae.save(out / "model.specae", overwrite=True)
    fig = plot_embedding(
        epochs, hue="signal_type", show=False, title="Encoder features of ECG, EEG and EMG (UMAP)"
    )
    fig.savefig(out / "umap.png", dpi=120)
    for kind in ("ecg", "eeg", "emg"):
        example = next(ep for ep in epochs if ep.metadata["signal_type"].iloc[0] == kind)
        fig = plot_reconstruction(ae, example, n_examples=1, show=False)
        fig.savefig(out / f"reconstruction_{kind}.png", dpi=110)
    plot_history(ae, show=False).savefig(out / "history.png", dpi=110)
    plt.close("all")

    print("\nsignal_type from embeddings, leave-one-subject-out kNN:")
    print(scores.round(3).to_string())
    ours = scores.loc["specae", "knn_balanced_accuracy"]
    base = scores.loc["pca_logspec", "knn_balanced_accuracy"]
    print(
        f"\nkNN balanced accuracy (held-out subjects): autoencoder {ours:.3f}, "
        f"PCA baseline {base:.3f}"
    )
    print(
        f"The pretrained encoder (mne_specae.load_pretrained, no training; trained on the "
        f"pretraining corpus, it never saw these subjects): "
        f"{pre.loc['specae', 'knn_balanced_accuracy']:.3f}"
    )
    print(
        f"Wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}/ "
        f"in {time.perf_counter() - t_start:.0f} s"
    )
    return 0
