"""``n_features_out_`` follows the inference settings of a fitted SpecAE: a model
pooled another way after fitting names and counts its columns right, and model files
keep the number of channels a ``channel_agg="concat"`` model needs."""

import numpy as np
import pytest
from tiny import TINY

from mne_specae import SpecAE, make_segments

pytestmark = pytest.mark.filterwarnings("ignore:Only one group")  # one recording here


@pytest.fixture(scope="module")
def epochs_small(raw_by_name):
    """Two-lead ECG (MIT-BIH 100), 40 s in 5 s segments at 512 Hz."""
    raw = raw_by_name["ecg/mitdb/100"].copy().crop(0, 40)
    return make_segments(raw, 5.0, 512.0, verbose=False)


@pytest.fixture(scope="module")
def fitted(epochs_small):
    return SpecAE(**TINY).fit(epochs_small)


def test_pooling_set_after_fitting_counts_and_names_the_columns(fitted, epochs_small):
    import copy

    est = copy.deepcopy(fitted)
    before = est.n_features_out_
    est.set_params(pooling="multiscale_bands")
    X = est.transform(epochs_small)
    assert (
        before == 4 and X.shape[1] == est.n_features_out_ == 2 * 4 * 4
    )  # blocks x filters x bands
    assert len(est.get_feature_names_out()) == X.shape[1]
    est.set_output(transform="pandas")
    frame = est.transform(epochs_small)  # a length mismatch before
    assert list(frame.columns) == list(est.get_feature_names_out())
    np.testing.assert_allclose(frame.to_numpy(), X)


def test_concat_counts_the_training_channels_and_survives_a_file(epochs_small, tmp_path):
    n_ch = len(epochs_small.ch_names)
    est = SpecAE(**TINY, channel_agg="concat").fit(epochs_small)
    assert est.n_epoch_channels_ == n_ch
    per_item = SpecAE(**TINY).fit(epochs_small).n_features_out_
    assert est.n_features_out_ == n_ch * per_item == est.transform(epochs_small).shape[1]
    est.set_params(channel_agg="mean")  # an inference setting too
    assert est.n_features_out_ == per_item == est.transform(epochs_small).shape[1]
    est.set_params(channel_agg="concat")
    loaded = SpecAE.load(est.save(tmp_path / "concat.specae"))
    assert loaded.n_epoch_channels_ == n_ch and loaded.n_features_out_ == n_ch * per_item


def test_files_written_before_the_channel_count_was_stored(epochs_small, tmp_path):
    """An older file has only ``n_features_out``: the channel count is derived."""
    import torch

    est = SpecAE(**TINY, channel_agg="concat").fit(epochs_small)
    fname = est.save(tmp_path / "old.specae")
    state = torch.load(fname, weights_only=True)
    del state["fitted"]["n_epoch_channels"]
    torch.save(state, fname)
    loaded = SpecAE.load(fname)
    assert loaded.n_epoch_channels_ == len(epochs_small.ch_names)
    assert loaded.n_features_out_ == est.n_features_out_


def test_unfitted_and_mixed_channel_counts(epochs_small):
    with pytest.raises(AttributeError, match="not fitted"):
        SpecAE().n_features_out_  # noqa: B018
    est = SpecAE(**TINY).fit([epochs_small, epochs_small.copy().pick(epochs_small.ch_names[:1])])
    assert est.n_epoch_channels_ is None
    est.set_params(channel_agg="concat")
    with pytest.raises(ValueError, match="different numbers of channels"):
        est.n_features_out_  # noqa: B018
