"""Training from a segment store checks the samples it reads, as training from memory
does (the store path switched the input stage's check off without running one)."""

import shutil

import numpy as np
import pytest
from tiny import TINY_ONE_EPOCH, tiny_model, tiny_spec, tiny_train

from mne_specae import SpecAE, prepare_segments, read_segments
from mne_specae.training.streaming import StoreItems

pytestmark = pytest.mark.usefixtures("isolated_torch_rng")


@pytest.fixture(scope="module")
def clean_store(data_path, tmp_path_factory):
    """Real segments on disk: BioSPPy ECG and EMG (a few dozen items)."""
    files = [data_path / "ecg/biosppy/ecg.txt", data_path / "emg/biosppy/emg.txt"]
    return prepare_segments(files, tmp_path_factory.mktemp("s") / "store", verbose=False)


def _damaged_copy(store, tmp_path, item, value):
    """A copy of ``store`` whose ``item`` (a store row) holds ``value`` at 3 samples, as
    a shard damaged or edited after preparation."""
    path = tmp_path / "damaged"
    shutil.copytree(store.path, path)
    copy = read_segments(path)
    shard = int(
        np.searchsorted(
            np.cumsum([s["n_items"] for s in copy.manifest["shards"]]), item, side="right"
        )
    )
    first = sum(s["n_items"] for s in copy.manifest["shards"][:shard])
    npy = path / "shards" / f"{copy.manifest['shards'][shard]['key']}.npy"
    rows = np.load(npy, mmap_mode="r+")
    rows[item - first, [10, 500, 900]] = value
    rows.flush()
    del rows
    return read_segments(path)


@pytest.mark.parametrize("normalize", ["item", "dataset"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_store_with_a_non_finite_item_is_refused(clean_store, tmp_path, normalize, value):
    n = len(clean_store)
    item = n - 3
    store = _damaged_copy(clean_store, tmp_path, item, value)
    assert not np.isfinite(store[item]).all() and np.isfinite(store[: n - 3]).all()
    est = SpecAE(**dict(TINY_ONE_EPOCH, normalize=normalize, val_fraction=0.0))
    with pytest.raises(
        ValueError,
        match=rf"store .*damaged holds NaN/Inf samples in "
        rf"item\(s\) \[{item}\].*prepare",
    ):
        est.fit(store)
    assert not hasattr(est, "model_")
    # the engine on the store's items, with a validation set: the same error
    with pytest.raises(ValueError, match=rf"NaN/Inf samples in item\(s\) \[{item}\]"):
        tiny_train(
            tiny_model(),
            StoreItems(store),
            max_epochs=1,
            input_stage=tiny_spec(normalize=normalize),
            val_fraction=0.3,
        )
    # the clean store trains, and its stage keeps its own check afterwards
    stage = tiny_spec(normalize=normalize)
    history = tiny_train(
        tiny_model(), StoreItems(clean_store), max_epochs=1, input_stage=stage, val_fraction=0.3
    )
    assert history.stop_reason == "max_epochs" and stage.check_finite is True


def test_embedding_a_store_with_a_non_finite_item_is_refused(clean_store, tmp_path):
    est = SpecAE(**dict(TINY_ONE_EPOCH, normalize="item")).fit(clean_store)
    item = 4
    store = _damaged_copy(clean_store, tmp_path, item, np.nan)
    with pytest.raises(ValueError, match=rf"NaN/Inf samples in item\(s\) \[{item}\]"):
        est.embed(store)
    with pytest.raises(ValueError, match=rf"NaN/Inf samples in item\(s\) \[{item}\]"):
        est.encode(store, pooled=False)
    assert np.isfinite(est.transform(clean_store)).all()
