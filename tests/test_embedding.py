"""Embeddings into Epochs.metadata, UMAP, evaluation and figures."""

import matplotlib
import mne
import numpy as np
import pandas as pd
import pytest
from tiny import TINY

from mne_specae import SpecAE, add_embeddings, add_umap, evaluate_embeddings, make_segments
from mne_specae.viz import plot_embedding, plot_history, plot_reconstruction

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def epochs_list(raw_by_name):
    names = [
        "ecg/mitdb/100",
        "ecg/mitdb/113",
        "eeg/eegmat/Subject00_1",
        "eeg/eegmat/Subject02_1",
        "emg/uci_lower_limb/4Amar",
        "emg/uci_lower_limb/5Amar",
    ]
    return [
        make_segments(raw_by_name[n].copy().crop(0, 40), picks=["Fz", "Pz"] if "eeg" in n else None)
        for n in names
    ]


@pytest.fixture(scope="module")
def fitted(epochs_list):
    return SpecAE(**TINY).fit(epochs_list)


def test_add_embeddings_in_place_and_round_trip(fitted, epochs_list, tmp_path):
    ep = epochs_list[0].copy()
    before = list(ep.metadata.columns)
    out = add_embeddings(ep, fitted)
    assert out is ep
    columns = list(ep.metadata.columns)
    assert columns[: len(before)] == before
    assert columns[len(before) :] == [
        "specae_000",
        "specae_001",
        "specae_002",
        "specae_003",
        "specae_recon_error",
    ]
    md = ep.metadata
    np.testing.assert_allclose(
        md[columns[len(before) : -1]].to_numpy(), fitted.transform(ep), rtol=1e-6
    )
    np.testing.assert_allclose(md["specae_recon_error"], fitted.reconstruction_error(ep), rtol=1e-6)
    assert (md["specae_recon_error"] > 0).all() and md["specae_000"].dtype == np.float64
    # survives epochs.save() -> mne.read_epochs()
    fname = tmp_path / "emb-epo.fif"
    ep.save(fname)
    back = mne.read_epochs(fname, verbose=False)
    pd.testing.assert_frame_equal(
        back.metadata.reset_index(drop=True),
        md.reset_index(drop=True),
        check_exact=False,
        rtol=1e-7,
    )
    # a second call replaces the columns instead of duplicating them
    fitted.add_embeddings(ep, recon_error=False)
    assert list(ep.metadata.columns).count("specae_000") == 1
    assert "specae_recon_error" not in ep.metadata  # a column of the earlier run: removed
    # epochs without metadata get a fresh table
    bare = epochs_list[0].copy()
    bare.metadata = None
    add_embeddings(bare, fitted)
    assert list(bare.metadata.columns)[-1] == "specae_recon_error"
    with pytest.raises(TypeError, match="mne.Epochs"):
        add_embeddings(ep.get_data(), fitted)


@pytest.mark.slow  # UMAP compiles with numba in each new process: ~13 s
def test_stale_columns_are_replaced_and_lists_returned(fitted, epochs_list):
    """Before: recon_error had no prefix and umap_2 stayed after a 2-D UMAP."""
    epochs = [ep.copy() for ep in epochs_list[:3]]
    out = add_embeddings(epochs, fitted, prefix="ae_")
    assert out is epochs
    assert [c for c in epochs[0].metadata if c.startswith("ae_")][-1] == "ae_recon_error"
    assert add_umap(epochs, prefix="ae_", n_components=3, n_neighbors=5) is epochs
    assert {"umap_0", "umap_1", "umap_2"} <= set(epochs[1].metadata.columns)
    add_umap(epochs, prefix="ae_", n_components=2, n_neighbors=5)
    assert [c for c in epochs[1].metadata if c.startswith("umap_")] == ["umap_0", "umap_1"]
    # the reconstruction error is not projected: the UMAP sees 4 embedding columns
    _, reducer = add_umap(epochs, prefix="ae_", n_neighbors=5, return_reducer=True)
    assert reducer._raw_data.shape[1] == 4
    # a model with fewer features leaves no stale embedding columns
    fewer = [ep.copy() for ep in epochs]
    for ep in fewer:
        md = ep.metadata.copy()
        md["ae_009"] = 1.0  # as if written by a model with 10 features
        ep.metadata = md
    add_embeddings(fewer, fitted, prefix="ae_")
    assert "ae_009" not in fewer[0].metadata


def test_encode_and_reconstruct_return_one_for_one(fitted, epochs_list):
    ep = epochs_list[2]
    assert fitted.encode(ep).shape == (len(ep), 2, 4)
    assert isinstance(fitted.encode([ep]), list)
    assert isinstance(fitted.reconstruct(ep), mne.time_frequency.EpochsTFR)
    assert isinstance(fitted.reconstruct([ep]), list)


@pytest.mark.slow  # UMAP compiles with numba in each new process: ~13 s
def test_add_umap_across_epochs_is_reproducible(fitted, epochs_list):
    first = [add_embeddings(ep.copy(), fitted) for ep in epochs_list]
    second = [add_embeddings(ep.copy(), fitted) for ep in epochs_list]
    _, reducer = add_umap(first, n_neighbors=5, random_state=3, return_reducer=True)
    add_umap(second, n_neighbors=5, random_state=3)
    for a, b in zip(first, second):
        assert {"umap_0", "umap_1"} <= set(a.metadata.columns)
        np.testing.assert_allclose(
            a.metadata[["umap_0", "umap_1"]], b.metadata[["umap_0", "umap_1"]]
        )
    assert reducer.embedding_.shape == (sum(len(e) for e in first), 2)
    with pytest.raises(ValueError, match="run add_embeddings"):
        add_umap([epochs_list[0]])
    with pytest.raises(ValueError, match="lower n_neighbors"):
        add_umap(first[:1], n_neighbors=50)


def _with_columns(epochs, features):
    ep = epochs.copy()
    md = ep.metadata.copy()
    for k in range(features.shape[1]):
        md[f"specae_{k:03d}"] = features[:, k]
    ep.metadata = md
    return ep


def test_evaluate_embeddings_scores(fitted, epochs_list):
    # embeddings that encode the label exactly must score 1.0; random ones near chance
    rng = np.random.default_rng(0)
    codes = {"ecg": [1.0, 0.0, 0.0], "eeg": [0.0, 1.0, 0.0], "emg": [0.0, 0.0, 1.0]}
    perfect = [
        _with_columns(
            ep,
            np.array([codes[t] for t in ep.metadata.signal_type])
            + 0.01 * rng.normal(size=(len(ep), 3)),
        )
        for ep in epochs_list
    ]
    scores = evaluate_embeddings(perfect, "signal_type", estimator=fitted)
    assert list(scores.index) == ["specae", "pca_logspec"]
    assert scores.loc["specae", "knn_balanced_accuracy"] == 1.0
    assert scores.loc["specae", "silhouette"] > 0.9
    assert scores.loc["pca_logspec", "n_features"] in (8, 16, 32, 64)  # one size tried
    assert scores.loc["specae", "n_groups"] == 6
    assert scores.loc["specae", "n_epochs"] == sum(len(e) for e in epochs_list)
    noise = [_with_columns(ep, rng.normal(size=(len(ep), 3))) for ep in epochs_list]
    scores = evaluate_embeddings(noise, "signal_type", baseline=False)
    assert list(scores.index) == ["specae"]
    # the sizes tried are the caller's (the choice itself: the test below)
    two = evaluate_embeddings(perfect, "signal_type", estimator=fitted, baseline_components=(8, 32))
    assert two.loc["pca_logspec", "n_features"] in (8, 32)
    one = evaluate_embeddings(perfect, "signal_type", estimator=fitted, baseline_components=(8,))
    assert one.loc["pca_logspec", "n_features"] == 8
    assert list(scores.index) == ["specae"]
    assert scores.loc["specae", "knn_balanced_accuracy"] < 0.7
    assert abs(scores.loc["specae", "silhouette"]) < 0.2
    with pytest.raises(ValueError, match="no column 'condition'"):
        evaluate_embeddings(perfect, "condition")
    with pytest.raises(ValueError, match="at least 2 distinct 'subject'"):
        evaluate_embeddings(perfect[:1], "signal_type")


def test_the_baselines_size_is_chosen_without_the_group_it_is_scored_on():
    """Choosing the PCA baseline's size by its accuracy on the held-out groups tuned
    it on what it reports (the best of 4 sizes: above chance on random labels). Now
    the size for each held-out group is chosen on the other groups alone: relabelling
    a group never changes the size chosen for it, and on random labels the nested
    score is not the best of the sizes' plain scores."""
    from mne_specae.evaluation.probes import _nested_choice

    rng = np.random.default_rng(0)
    groups = np.repeat(np.array(list("ABCDEF")), 12)
    by_k = {k: rng.normal(size=(len(groups), k)) for k in (2, 4, 8, 16)}
    y = rng.choice(np.array(["rest", "task"]), size=len(groups))
    accuracy, chosen = _nested_choice(by_k, y, groups, 5)
    assert set(chosen) <= set(by_k) and len(chosen) == 6
    for k, held in enumerate("ABCDEF"):
        flipped = y.copy()
        mask = groups == held
        flipped[mask] = np.where(y[mask] == "rest", "task", "rest")
        assert _nested_choice(by_k, flipped, groups, 5)[1][k] == chosen[k]
    plain = {k: _nested_choice({k: f}, y, groups, 5)[0] for k, f in by_k.items()}
    assert accuracy < max(plain.values())  # the old report: the max, 0.63 here
    assert 0.3 < accuracy < 0.7


def test_evaluate_embeddings_standardized_within_subject(fitted, epochs_list):
    """A label that varies within each subject, buried under a large offset per subject:
    leave-one-subject-out kNN fails on the raw features and finds it once each subject's
    features are z-scored (standardize_by); the caller's metadata are not changed."""
    rng = np.random.default_rng(1)
    tagged = []
    for ep in epochs_list:
        n = len(ep)
        state = np.arange(n) % 2
        offset = rng.normal(0, 20.0, size=3)
        features = np.outer(state, [1.0, -1.0, 0.5]) + offset + 0.05 * rng.normal(size=(n, 3))
        ep = _with_columns(ep, features)
        ep.metadata = ep.metadata.assign(state=np.where(state, "task", "rest"))
        tagged.append(ep)
    before = [ep.metadata.copy() for ep in tagged]
    raw = evaluate_embeddings(tagged, "state", estimator=fitted)
    within = evaluate_embeddings(tagged, "state", estimator=fitted, standardize_by="subject")
    assert raw.loc["specae", "knn_balanced_accuracy"] < 0.8
    assert within.loc["specae", "knn_balanced_accuracy"] == 1.0
    assert within.loc["specae", "silhouette"] > raw.loc["specae", "silhouette"]
    assert list(within.index) == ["specae", "pca_logspec"]  # the baseline standardised too
    for ep, md in zip(tagged, before):
        assert ep.metadata.equals(md)
    with pytest.raises(ValueError, match="standardize_by='visit': no such metadata column"):
        evaluate_embeddings(tagged, "state", baseline=False, standardize_by="visit")


def test_evaluate_real_embeddings(fitted, epochs_list):
    embedded = [add_embeddings(ep.copy(), fitted) for ep in epochs_list]
    scores = evaluate_embeddings(embedded, "signal_type", estimator=fitted)
    for name in ("specae", "pca_logspec"):
        assert 0.0 <= scores.loc[name, "knn_balanced_accuracy"] <= 1.0
        assert -1.0 <= scores.loc[name, "silhouette"] <= 1.0


def test_plot_embedding(fitted, epochs_list):
    embedded = [add_embeddings(ep.copy(), fitted) for ep in epochs_list]
    add_umap(embedded, n_neighbors=5)
    fig = plot_embedding(embedded, hue="signal_type", show=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "UMAP 0" and ax.get_ylabel() == "UMAP 1"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ecg (16)", "eeg (16)", "emg (16)"]
    assert ax.get_legend().get_title().get_text() == "signal_type"
    assert sum(len(c.get_offsets()) for c in ax.collections) == 48
    fig = plot_embedding(
        embedded, hue="subject", x="specae_000", y="specae_recon_error", show=False
    )
    assert fig.axes[0].get_xlabel() == "specae_000"
    assert len(fig.axes[0].get_legend().get_texts()) == 6
    with pytest.raises(ValueError, match="no column"):
        plot_embedding(embedded, hue="exercise", show=False)
    matplotlib.pyplot.close("all")


def test_plot_reconstruction_and_history(fitted, epochs_list):
    fig = plot_reconstruction(fitted, epochs_list[2], n_examples=2, pick="Pz", show=False)
    image_axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(image_axes) == 4
    titles = [ax.get_title() for ax in image_axes]
    assert titles[0].startswith("Input: epoch 0, Pz") and titles[1].startswith("Reconstruction")
    assert image_axes[0].get_ylabel() == "Frequency (Hz)"
    assert image_axes[-1].get_xlabel() == "Time (s)"
    mesh = image_axes[0].collections[0]
    assert mesh.get_array().shape == (16, 16)
    low, high = image_axes[0].get_ylim()  # cell edges around the 0 Hz and 56 Hz rows
    assert low == pytest.approx(-56 / 30) and high == pytest.approx(56 + 56 / 30)
    assert image_axes[0].get_yscale() == "linear"
    log_est = SpecAE(**dict(TINY, fmin=2.0, freq_scale="log", n_freqs=16, max_epochs=1))
    log_est.fit(epochs_list[:2])
    ax = plot_reconstruction(log_est, epochs_list[0], n_examples=1, show=False).axes[0]
    assert ax.get_yscale() == "log"
    centres = log_est.input_stage_.freqs
    assert centres[0] > 2.0 and centres[-1] < 60.0
    low, high = ax.get_ylim()
    assert low < centres[0] < centres[1] and centres[-2] < centres[-1] < high < 70.0
    with pytest.raises(ValueError, match="idx must index"):
        plot_reconstruction(fitted, epochs_list[2], idx=[99], show=False)
    fig = plot_history(fitted, show=False)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Epoch" and ax.get_ylabel() == "Loss (MSE)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["training", "validation"]
    assert legend[2] == f"kept: epoch {fitted.history_.best_epoch}"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), fitted.history_.to_frame()["train_loss"])
    matplotlib.pyplot.close("all")


def test_add_embeddings_standardized_within_subject(fitted, epochs_list, caplog):
    """standardize_by z-scores each feature within each subject, over every Epochs given
    (a subject's two recordings pooled); the caller's other columns and the
    reconstruction error are kept as they are."""
    eps = [ep.copy() for ep in epochs_list]
    for k, ep in enumerate(eps):  # two "subjects" of three recordings each
        ep.metadata = ep.metadata.assign(subject=f"s{k % 2}", mine=np.arange(len(ep)))
    raw_eps = add_embeddings([ep.copy() for ep in eps], fitted)
    with caplog.at_level("INFO", logger="mne"):
        out = add_embeddings(eps, fitted, standardize_by="subject", verbose="info")
    assert out is eps
    assert "z-scored within 2 value(s) of 'subject'" in caplog.text
    md = pd.concat([ep.metadata for ep in eps], ignore_index=True)
    plain = pd.concat([ep.metadata for ep in raw_eps], ignore_index=True)
    cols = [c for c in md.columns if c.startswith("specae_") and c != "specae_recon_error"]
    for rows in md.groupby("subject").groups.values():
        block = plain.loc[rows, cols].to_numpy()
        expected = (block - block.mean(0)) / (block.std(0) + 1e-12)
        np.testing.assert_allclose(md.loc[rows, cols].to_numpy(), expected, atol=1e-9)
        np.testing.assert_allclose(md.loc[rows, cols].mean().to_numpy(), 0, atol=1e-9)
    np.testing.assert_array_equal(md["specae_recon_error"], plain["specae_recon_error"])
    np.testing.assert_array_equal(md["mine"], plain["mine"])
    # a method, with the same result
    again = [ep.copy() for ep in eps]
    fitted.add_embeddings(again, standardize_by="subject")
    np.testing.assert_allclose(again[0].metadata[cols], eps[0].metadata[cols])


def test_add_embeddings_standardize_by_errors(fitted, epochs_list, tmp_path):
    ep = epochs_list[0].copy()
    before = ep.metadata.copy()
    with pytest.raises(ValueError, match="standardize_by='person': no such metadata column"):
        add_embeddings(ep, fitted, standardize_by="person")
    ep.metadata = before.assign(person=[None] + ["a"] * (len(ep) - 1))
    with pytest.raises(ValueError, match="1 missing value"):
        add_embeddings(ep, fitted, standardize_by="person")
    assert not any(c.startswith("specae_") for c in ep.metadata.columns)  # nothing written


def _which_channel_epochs(n_subjects=4, n_per_class=6, sfreq=512.0):
    """Two channels; in class "left" a 10 Hz tone is on the first and noise on the
    second, in class "right" the other way round: their channel mean is the same in
    both classes, each channel's image is not."""
    rng = np.random.default_rng(3)
    t = np.arange(int(5 * sfreq)) / sfreq
    out = []
    for s in range(n_subjects):
        data, labels = [], []
        for label in ("left", "right"):
            for _ in range(n_per_class):
                tone = np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6)) + 0.1 * rng.normal(
                    size=t.size
                )
                noise = rng.normal(size=t.size)
                data.append([tone, noise] if label == "left" else [noise, tone])
                labels.append(label)
        info = mne.create_info(["A", "B"], sfreq, "eeg")
        meta = pd.DataFrame({"side": labels, "subject": f"s{s}"})
        out.append(mne.EpochsArray(1e-5 * np.array(data), info, metadata=meta, verbose=False))
    return out


def test_the_baseline_keeps_channels_when_the_estimator_does():
    """With ``channel_agg="concat"`` the PCA baseline compares like with like: it keeps
    each channel's image too (which channel holds the tone is then plain), where the
    channel mean cannot tell the classes apart."""
    from mne_specae.evaluation.baselines import input_images

    eps = _which_channel_epochs()
    est = SpecAE(**{**TINY, "max_epochs": 1}).fit(eps)
    mean = input_images(eps, est.input_stage_)
    concat = input_images(eps, est.input_stage_, channel_agg="concat")
    n_pix = mean.shape[1]
    assert concat.shape == (mean.shape[0], 2 * n_pix)
    np.testing.assert_allclose((concat[:, :n_pix] + concat[:, n_pix:]) / 2, mean, rtol=1e-5)
    embedded = [add_embeddings(ep.copy(), est) for ep in eps]
    averaged = evaluate_embeddings(embedded, "side", estimator=est)
    est.set_params(channel_agg="concat")
    kept = evaluate_embeddings(embedded, "side", estimator=est)
    assert averaged.loc["pca_logspec", "knn_balanced_accuracy"] < 0.75
    assert kept.loc["pca_logspec", "knn_balanced_accuracy"] == 1.0
    with pytest.raises(ValueError, match="same number of channels"):
        input_images([eps[0], eps[1].copy().pick("A")], est.input_stage_, channel_agg="concat")
    with pytest.raises(ValueError, match="channel_agg"):
        input_images(eps, est.input_stage_, channel_agg="max")


def test_input_pca_keeps_channels_on_request():
    """``InputPCA(channel_agg="concat")``: the benchmark's baseline for features with
    channels kept; a logistic probe on it tells which channel holds the tone, on the
    channel mean it cannot."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from mne_specae.evaluation.baselines import InputPCA

    eps = _which_channel_epochs()
    est = SpecAE(**{**TINY, "max_epochs": 1}).fit(eps)
    y = np.concatenate([ep.metadata["side"].to_numpy() for ep in eps])
    scores = {}
    for agg in ("mean", "concat"):
        pca = InputPCA(est, n_components=4, channel_agg=agg).fit(eps)
        X = pca.transform(eps)
        assert X.shape == (len(y), 4)
        assert pca.pipeline_.named_steps["standardscaler"].n_features_in_ == (
            16 * 16 * (2 if agg == "concat" else 1)
        )
        scores[agg] = cross_val_score(LogisticRegression(), X, y, cv=4).mean()
    assert scores["concat"] > 0.95 and scores["mean"] < 0.75
    one = eps[0].copy().pick("A")
    with pytest.raises(ValueError, match="fitted on 2 channels per epoch, got 1"):
        pca.transform(one)
    # averaged, any channel count goes
    assert InputPCA(est, n_components=4).fit(eps).transform(one).shape == (len(one), 4)
