"""The training time budget, ``max_time``: train_autoencoder and SpecAE."""

import math
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from tiny import (
    TESTS,
    TINY,
    assert_same_weights,
    load_real_items,
    records_of,
    run_torchrun,
    tiny_model,
    tiny_train,
    weights_of,
)

from mne_specae import SpecAE
from mne_specae.training import _budget
from mne_specae.training._budget import Budget

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


def _stop_after(monkeypatch, n_batches):
    """A clock that runs out after ``n_batches`` training batches (deterministic)."""
    monkeypatch.setattr(Budget, "_local", lambda self: self._batches >= n_batches)


def test_tiny_budget_stops_within_the_first_epoch(real_items):
    waves, groups = real_items
    model, before = tiny_model(), None
    before = weights_of(model)
    history = tiny_train(model, waves, groups=groups, max_epochs=5, max_time=1e-9)
    assert history.stop_reason == "max_time"
    assert len(history.epochs) == 1 and history.best_epoch == 1
    record = history.epochs[0]
    # at least one batch is trained, and the budget ends the epoch after it: 16 of the
    # 48 training items (4 of 6 subjects) count
    assert round(record["samples_per_s"] * record["seconds"]) == 16
    assert math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])
    assert history.best_loss == record["val_loss"]
    assert any(not torch.equal(before[k], v) for k, v in weights_of(model).items())


def test_budget_spent_in_a_later_epoch_restores_the_best_weights(real_items, tmp_path, monkeypatch):
    waves, groups = real_items  # 48 training items: 3 batches of 16 an epoch
    _stop_after(monkeypatch, 3 + 2)  # out of time after batch 2 of epoch 2
    ckpt = tmp_path / "run.pt"
    model = tiny_model()
    history = tiny_train(
        model, waves, groups=groups, max_epochs=4, min_delta=1e9, max_time=10.0, checkpoint=ckpt
    )
    assert history.stop_reason == "max_time"
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert round(history.epochs[1]["samples_per_s"] * history.epochs[1]["seconds"]) == 32
    assert math.isfinite(history.epochs[1]["val_loss"])
    assert history.best_epoch == 1  # min_delta: only epoch 1 improved
    monkeypatch.undo()
    reference = tiny_model()
    tiny_train(reference, waves, groups=groups, max_epochs=1)
    assert_same_weights(weights_of(model), weights_of(reference))  # restored
    saved = torch.load(ckpt, weights_only=True)
    assert saved["history"]["stop_reason"] == "max_time" and saved["epoch"] == 2
    # a run stopped by its budget resumes with a new one (not in the fingerprint)
    resumed = tiny_train(
        tiny_model(seed=3),
        waves,
        groups=groups,
        max_epochs=4,
        min_delta=1e9,
        max_time=None,
        checkpoint=ckpt,
        resume=True,
    )
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3, 4]  # patience 5
    assert resumed.stop_reason == "max_epochs" and resumed.best_epoch == 1


def test_resume_budget_counts_from_the_resume(real_items, tmp_path, monkeypatch):
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    tiny_train(tiny_model(), waves, groups=groups, max_epochs=4, max_time=1e-9, checkpoint=ckpt)
    _stop_after(monkeypatch, 3)  # a fresh budget: one full epoch more
    resumed = tiny_train(
        tiny_model(), waves, groups=groups, max_epochs=4, max_time=5.0, checkpoint=ckpt, resume=True
    )
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
    assert resumed.stop_reason == "max_time"


def test_no_budget_is_unchanged(real_items):
    waves, groups = real_items
    a, b = tiny_model(0), tiny_model(0)
    ha = tiny_train(a, waves, groups=groups, max_time=None)
    hb = tiny_train(b, waves, groups=groups, max_time=1e6)  # never spent
    assert_same_weights(weights_of(a), weights_of(b))
    assert records_of(ha) == records_of(hb)
    assert ha.stop_reason == hb.stop_reason == "max_epochs"


@pytest.mark.parametrize(
    "value, error, match",
    [
        (-1.0, ValueError, "max_time must be > 0"),
        (0, ValueError, "max_time must be > 0"),
        (math.inf, ValueError, "finite"),
        (True, TypeError, "max_time must be an instance of number or None"),
        ("60", TypeError, "max_time must be an instance of number or None"),
    ],
)
def test_bad_budgets(real_items, value, error, match):
    waves, groups = real_items
    with pytest.raises(error, match=match):
        tiny_train(tiny_model(), waves, groups=groups, max_time=value)
    with pytest.raises(error, match=match):
        SpecAE(**TINY, max_time=value).fit(waves[:8, None], groups=groups[:8])


def test_specae_budget(real_items, tmp_path):
    waves, groups = real_items
    est = SpecAE(**dict(TINY, max_epochs=3), sfreq=512.0, max_time=1e-9, verbose=False)
    assert est.get_params()["max_time"] == 1e-9
    assert clone(est).max_time == 1e-9
    est.fit(waves[:, None], groups=groups)
    assert est.history_.stop_reason == "max_time" and len(est.history_.epochs) == 1
    assert math.isfinite(est.history_.epochs[0]["val_loss"])
    # a setting of the run, like checkpoint: not in the model file
    est.save(tmp_path / "m.specae")
    loaded = SpecAE.load(tmp_path / "m.specae")
    assert loaded.max_time is None
    assert loaded.history_.stop_reason == "max_time"
    np.testing.assert_array_equal(loaded.transform(waves[:4, None]), est.transform(waves[:4, None]))


def test_budget_without_processes_never_syncs():
    budget = Budget(None)
    assert not any(budget.spent() for _ in range(100)) and budget._batches == 0
    budget = Budget(3600.0)
    assert not budget.spent() and budget._batches == 1
    assert Budget(1e-9, start=0.0).spent()


@pytest.mark.slow
def test_ddp_ranks_stop_after_the_same_batch(real_items, tmp_path):
    """Under torchrun the main process's decision reaches the other one at the next
    broadcast (every SYNC_EVERY batches, here 2): both stop after the same batch."""
    waves, groups = real_items
    data = tmp_path / "data.npz"
    np.savez(data, waveforms=waves, groups=groups.astype(str))
    run_torchrun(TESTS / "ddp_budget_script.py", data, tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert_same_weights(ranks[0]["state"], ranks[1]["state"])
    for r in ranks:
        assert r["stop_reason"] == "max_time" and r["n_epochs"] == 1
        # 2 batches of 4 items in each of 2 processes
        assert r["items"] == 16
    assert _budget.SYNC_EVERY == 25  # the script changes its own copy only


def test_budget_reads_no_tensor_per_batch(real_items, monkeypatch):
    """With a budget, the host reads made by the package do not grow with the batches
    (on CUDA each read would wait for the device): the clock is the host's."""
    waves, groups = real_items
    reads = []

    def spy(name, original):
        def wrapper(*args, **kwargs):
            if sys._getframe(1).f_globals.get("__name__", "").startswith("mne_specae"):
                reads.append(name)
            return original(*args, **kwargs)

        return wrapper

    for name in ("item", "cpu", "tolist", "numpy", "__float__", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, spy(name, getattr(torch.Tensor, name)))
    counts = []
    for batch_size in (24, 8):  # 2 and 6 training batches an epoch
        reads.clear()
        tiny_train(tiny_model(), waves, groups=groups, batch_size=batch_size, max_time=1e6)
        counts.append(len(reads))
    assert counts[0] == counts[1], counts


def test_other_processes_follow_the_main_one(monkeypatch):
    """Process 1 of 2: its own clock is never read; the main process's decision
    arrives by a broadcast every SYNC_EVERY batches and after each epoch's last one."""
    import torch.distributed as dist

    sent = []

    def broadcast(flag, src):
        assert src == 0 and flag.numel() == 1 and flag.item() == 0  # rank 1 sends 0
        sent.append(len(sent))
        flag.fill_(1 if len(sent) == 3 else 0)  # the main process ran out before the 3rd

    monkeypatch.setattr(dist, "broadcast", broadcast)
    monkeypatch.setattr(_budget, "SYNC_EVERY", 4)
    budget = Budget(1e-9, rank=1, world=2, device=torch.device("cpu"), start=0.0)
    decisions = [budget.spent(last=b == 5) for b in range(6)]  # epoch 1: 6 batches
    assert decisions == [False] * 6 and budget._batches == 6
    assert len(sent) == 2  # after batch 4 and after the last one (6)
    decisions = [budget.spent() for _ in range(2)]  # batches 7, 8: the broadcast at 8
    assert decisions == [False, True] and len(sent) == 3
