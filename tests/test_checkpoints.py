"""Training checkpoints: resume semantics, the fingerprint of a run, old formats, and the
files themselves (atomic, durable, safe to open)."""

import functools
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from tiny import (
    TINY,
    assert_same_weights,
    load_real_items,
    records_of,
    tiny_model,
    tiny_spec,
    tiny_train,
    weights_of,
)

from mne_specae import SpecAE, make_segments
from mne_specae.nn.input_stages import WaveformInput
from mne_specae.nn.models import ConvAutoencoder1d
from mne_specae.training import _run as training_run
from mne_specae.training.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    callable_name,
    data_checksum,
)
from mne_specae.training.splits import split_by_group
from mne_specae.utils._files import load_safely, save_atomic

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_torch_rng")


@pytest.fixture(scope="module")
def real_items(raw_by_name):
    return load_real_items(raw_by_name)


@pytest.fixture(scope="module")
def ecg_epochs(raw_by_name):
    """Two pairs of ECG recordings (2 subjects each) with the same number of segments."""

    def segments(names):
        return [make_segments(raw_by_name[f"ecg/mitdb/{n}"].copy().crop(0, 30)) for n in names]

    return segments(["100", "106"]), segments(["113", "121"])


def _differing_entries(err):
    """The entry names listed in a fingerprint mismatch error ("  entry: old -> new")."""
    lines = str(err.value).split("What differs (checkpoint -> this call):\n")[1].splitlines()
    return {line.strip().split(":")[0] for line in lines if line.startswith("  ")}


class _Interrupted(Exception):
    pass


# ------------------------------------------------------------- resume semantics
def test_checkpoint_and_resume_equal_an_uninterrupted_run(real_items, tmp_path, monkeypatch):
    waves, groups = real_items
    options = dict(groups=groups, val_fraction=0.25, scheduler="plateau", patience=10, max_epochs=4)
    full_model = tiny_model()
    full = tiny_train(full_model, waves, **options)

    # a run killed right after the checkpoint of epoch 2
    save_run = training_run.save_run

    def killed_after_epoch_2(run, epoch):
        save_run(run, epoch)
        if epoch == 2:
            raise _Interrupted

    ckpt = tmp_path / "ckpt.pt"
    monkeypatch.setattr(training_run, "save_run", killed_after_epoch_2)
    with pytest.raises(_Interrupted):
        tiny_train(tiny_model(), waves, checkpoint=ckpt, **options)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # atomic: no temporary file left
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT and saved["format_version"] == CHECKPOINT_VERSION
    assert saved["epoch"] == 2 and len(saved["history"]["epochs"]) == 2
    assert saved["history"]["stop_reason"] == ""  # not finished
    assert set(saved) >= {
        "model",
        "optimizer",
        "scheduler",
        "input_stage",
        "best_state",
        "bad_epochs",
        "train_idx",
        "val_idx",
        "fingerprint",
    }
    np.testing.assert_array_equal(saved["val_idx"].numpy(), split_by_group(groups, 0.25, 0)[1])
    fingerprint = saved["fingerprint"]
    assert fingerprint["max_epochs"] == 4 and fingerprint["seed"] == 0
    assert fingerprint["data"]["shape"] == [72, 2560]

    resumed_model = tiny_model(seed=123)  # other initial weights: the checkpoint's win
    resumed = tiny_train(resumed_model, waves, checkpoint=ckpt, resume=True, **options)
    assert_same_weights(weights_of(resumed_model), weights_of(full_model))
    assert records_of(resumed) == records_of(full)
    assert (resumed.best_epoch, resumed.best_loss, resumed.stop_reason) == (
        full.best_epoch,
        full.best_loss,
        full.stop_reason,
    )
    assert torch.load(ckpt, weights_only=True)["epoch"] == 4

    # resuming a finished run trains no further and returns its best weights
    again_model = tiny_model(seed=7)
    again = tiny_train(again_model, waves, checkpoint=ckpt, resume=True, **options)
    assert records_of(again) == records_of(full)
    assert_same_weights(weights_of(again_model), weights_of(full_model))


def test_resume_false_refuses_an_existing_checkpoint(real_items, tmp_path):
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    tiny_train(tiny_model(), waves, groups=groups, max_epochs=1, checkpoint=ckpt)
    content = ckpt.read_bytes()
    broken = waves.copy()
    broken[0, 0] = np.nan  # refused before the data are even looked at
    model = tiny_model()
    before = weights_of(model)
    with pytest.raises(
        FileExistsError,
        match="run.pt exists.*resume=True to continue.*delete "
        "the file or choose another checkpoint path",
    ):
        tiny_train(model, broken, groups=groups, max_epochs=1, checkpoint=ckpt)
    assert ckpt.read_bytes() == content
    assert_same_weights(weights_of(model), before)


def test_resume_without_a_checkpoint_file_starts_afresh(real_items, tmp_path):
    from mne.utils import catch_logging

    waves, groups = real_items
    fresh = tiny_model()
    with catch_logging() as log:
        tiny_train(
            fresh, waves, groups=groups, checkpoint=tmp_path / "new.pt", resume=True, verbose="info"
        )
    assert f"No checkpoint at {tmp_path / 'new.pt'} yet: training from the start" in (
        log.getvalue()
    )
    plain = tiny_model()
    tiny_train(plain, waves, groups=groups)
    assert_same_weights(weights_of(fresh), weights_of(plain))
    assert (tmp_path / "new.pt").is_file()


# ------------------------------------------------------------------ fingerprint
def _custom_loss(out, target):
    return F.mse_loss(out, target)


def test_resume_names_every_entry_that_differs(real_items, tmp_path):
    waves, groups = real_items
    waves, groups = waves[:36], groups[:36]  # 3 subjects
    base = dict(groups=groups, max_epochs=1, checkpoint=tmp_path / "run.pt")
    tiny_train(tiny_model(), waves, **base)
    content = (tmp_path / "run.pt").read_bytes()
    shuffled = np.roll(groups, 6)  # same labels and counts, other items per subject
    seed_moves_split = any(
        not np.array_equal(a, b)
        for a, b in zip(split_by_group(groups, 0.2, 0), split_by_group(groups, 0.2, 1))
    )
    cases = [
        (dict(lr=1e-2), {"lr"}, "lr: 0.003 -> 0.01"),
        (dict(weight_decay=0.1), {"weight_decay"}, "weight_decay: 0.0 -> 0.1"),
        (dict(optimizer="adamw"), {"optimizer"}, "optimizer: 'adam' -> 'adamw'"),
        (dict(scheduler="cosine"), {"scheduler"}, "scheduler: None -> 'cosine'"),
        (dict(loss="l1"), {"loss"}, "loss: 'mse' -> 'l1'"),
        (dict(loss=_custom_loss), {"loss"}, "test_checkpoints._custom_loss'"),
        (dict(patience=7), {"patience"}, "patience: 5 -> 7"),
        (dict(min_delta=0.5), {"min_delta"}, "min_delta: 0.0 -> 0.5"),
        (dict(mask_fraction=0.25), {"mask_fraction"}, "mask_fraction: 0.0 -> 0.25"),
        (dict(noise_std=0.1), {"noise_std"}, "noise_std: 0.0 -> 0.1"),
        (dict(batch_size=8), {"batch_size"}, "batch_size: 16 -> 8"),
        (dict(val_fraction=0.5), {"val_fraction", "split"}, "val_fraction: 0.2 -> 0.5"),
        (dict(max_epochs=3), {"max_epochs"}, "max_epochs: 1 -> 3"),
        (dict(seed=1), {"seed", "split"} if seed_moves_split else {"seed"}, "seed: 0 -> 1"),
        (dict(groups=shuffled), {"split"}, "split: '24 train / 12 val, sha256 "),
        (dict(waves=waves + 0.5), {"data.sum", "data.abs_sum", "data.rows"}, "data.rows: '"),
        (
            dict(model=tiny_model(filters=8)),
            {"model_config.filters", "model_tensors"},
            "model_config.filters: [4, 4] -> [8, 8]",
        ),
        (
            dict(input_stage=tiny_spec(fmax=50.0)),
            {"input_stage_config.fmax"},
            "input_stage_config.fmax: 60.0 -> 50.0",
        ),
    ]
    for change, entries, line in cases:
        change = dict(change)
        model = change.pop("model", tiny_model())
        data = change.pop("waves", waves)
        with pytest.raises(ValueError, match="records another training run") as err:
            tiny_train(model, data, **{**base, **change}, resume=True)
        assert _differing_entries(err) == entries, change
        assert line in str(err.value), change
        assert (
            f"To start afresh, delete {tmp_path / 'run.pt'} or pass another checkpoint "
            "path." in str(err.value)
        )
    # all at once: every entry is named
    with pytest.raises(ValueError) as err:
        tiny_train(
            tiny_model(),
            waves[:24],
            **{**base, "groups": groups[:24]},
            lr=1e-2,
            seed=3,
            resume=True,
        )
    assert _differing_entries(err) >= {"lr", "seed", "split", "data.shape", "data.rows"}
    # other model and input stage classes
    with pytest.raises(ValueError) as err:
        tiny_train(
            ConvAutoencoder1d(n_layers=2, filters=4),
            waves,
            **base,
            input_stage=WaveformInput(),
            resume=True,
        )
    assert {"model", "input_stage"} <= _differing_entries(err)
    assert (
        "model: 'mne_specae.nn.models.ConvAutoencoder2d' -> 'mne_specae.nn.models."
        "ConvAutoencoder1d'" in str(err.value)
    )
    assert (tmp_path / "run.pt").read_bytes() == content  # never touched
    # the same run resumes (it had ended: nothing is trained)
    history = tiny_train(tiny_model(), waves, **base, resume=True)
    assert history.stop_reason == "max_epochs" and len(history.epochs) == 1


def test_resume_refuses_a_longer_cosine_schedule(real_items, tmp_path):
    """Continuing a finished cosine run with a larger max_epochs used to train at lr 0."""
    waves, groups = real_items
    ckpt = tmp_path / "run.pt"
    history = tiny_train(tiny_model(), waves, groups=groups, scheduler="cosine", checkpoint=ckpt)
    assert [e["lr"] for e in history.epochs] == [3e-3, 1.5e-3]
    model = tiny_model(seed=3)
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"records another training run(.|\n)*max_epochs: 2 -> 4"):
        tiny_train(
            model,
            waves,
            groups=groups,
            scheduler="cosine",
            checkpoint=ckpt,
            max_epochs=4,
            resume=True,
        )
    assert_same_weights(weights_of(model), before)


def test_data_checksum_and_callable_names():
    data = torch.arange(2 * 300 * 50, dtype=torch.float32).reshape(300, 2, 50) / 7
    first = data_checksum(data)
    assert first["shape"] == [300, 2, 50] and first["dtype"] == "float32"
    assert first["sum"] == pytest.approx(float(data.double().sum()), rel=1e-12)
    assert first["abs_sum"] == pytest.approx(float(data.double().abs().sum()), rel=1e-12)
    assert data_checksum(data.clone()) == first
    hashed = data.clone()
    hashed[-1, 1, 49] += 1  # the last item is one of the hashed rows
    assert data_checksum(hashed)["rows"] != first["rows"]
    other = data.clone()
    other[1, 0, 0] += 1  # not a hashed row: the sums tell
    changed = data_checksum(other)
    assert changed["rows"] == first["rows"] and changed["sum"] == first["sum"] + 1
    # names of callables carry no memory address (the same in another process)
    assert callable_name("adam") == "adam" and callable_name(None) is None
    assert callable_name(_custom_loss) == "test_checkpoints._custom_loss"
    assert callable_name(torch.optim.SGD) == "torch.optim.sgd.SGD"
    part = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)
    assert callable_name(part) == ("functools.partial(torch.optim.sgd.SGD, lr=0.1, momentum=0.9)")
    assert "0x" not in callable_name(lambda p: p) and "0x" not in callable_name(_Interrupted())


def test_old_and_newer_checkpoint_formats(real_items, tmp_path):
    waves, groups = real_items
    model = tiny_model()
    old = dict(
        format=CHECKPOINT_FORMAT,
        epoch=2,
        n_items=len(waves),
        seed=0,
        model=model.state_dict(),
        optimizer={},
        scheduler=None,
        best_state=None,
        bad_epochs=0,
        history=dict(epochs=[], best_epoch=None, best_loss=1.0, stop_reason=""),
        train_idx=torch.arange(60),
        val_idx=torch.arange(60, 72),
    )
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(
        ValueError,
        match="old.pt was written by an older version of mne-specae.*Delete it.*and train afresh",
    ):
        tiny_train(model, waves, groups=groups, checkpoint=tmp_path / "old.pt", resume=True)
    newer = dict(old, format_version=CHECKPOINT_VERSION + 1, fingerprint={}, package_version="9.0")
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="written by mne-specae 9.0.*Upgrade mne-specae"):
        tiny_train(model, waves, groups=groups, checkpoint=tmp_path / "newer.pt", resume=True)
    damaged = dict(old, format_version=CHECKPOINT_VERSION, fingerprint="?")
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(
        ValueError,
        match=r"damaged.pt is a damaged checkpoint \(missing or "
        r"broken: \['input_stage'\]\)",
    ):
        tiny_train(model, waves, groups=groups, checkpoint=tmp_path / "damaged.pt", resume=True)


def test_resume_refuses_foreign_files(real_items, tmp_path):
    waves, groups = real_items
    for name, obj in (("dict.pt", {"epoch": 3}), ("tensor.pt", torch.zeros(3))):
        path = tmp_path / name
        torch.save(obj, path)
        with pytest.raises(ValueError, match="not an mne-specae training checkpoint"):
            tiny_train(tiny_model(), waves, groups=groups, checkpoint=path, resume=True)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="damaged"):
        tiny_train(tiny_model(), waves, groups=groups, checkpoint=damaged, resume=True)


# ---------------------------------------------------------- through SpecAE
def test_specae_resume_refuses_a_new_lr(ecg_epochs, tmp_path):
    first, _ = ecg_epochs
    ckpt = tmp_path / "run.pt"
    SpecAE(**TINY, checkpoint=ckpt).fit(first)
    with pytest.raises(ValueError, match=r"What differs(.|\n)*  lr: 0.001 -> 0.01\n"):
        SpecAE(**TINY, lr=1e-2, checkpoint=ckpt, resume=True).fit(first)
    resumed = SpecAE(**TINY, checkpoint=ckpt, resume=True).fit(first)  # the same run
    assert [e["lr"] for e in resumed.history_.epochs] == [1e-3, 1e-3]


def test_specae_resume_refuses_a_new_resize(ecg_epochs, tmp_path):
    first, _ = ecg_epochs
    ckpt = tmp_path / "run.pt"
    SpecAE(**TINY, checkpoint=ckpt).fit(first)
    with pytest.raises(ValueError, match=r"input_stage_config.resize: \[16, 16\] -> \[32, 32\]"):
        SpecAE(**{**TINY, "resize": (32, 32)}, checkpoint=ckpt, resume=True).fit(first)


def test_specae_resume_refuses_other_recordings_of_the_same_size(ecg_epochs, tmp_path):
    first, second = ecg_epochs
    assert [len(e) for e in first] == [len(e) for e in second]
    ckpt = tmp_path / "run.pt"
    SpecAE(**TINY, checkpoint=ckpt).fit(first)
    with pytest.raises(ValueError, match="records another training run") as err:
        SpecAE(**TINY, checkpoint=ckpt, resume=True).fit(second)
    assert _differing_entries(err) >= {"data.sum", "data.rows"}
    assert "data.shape" not in _differing_entries(err)


def test_specae_clones_never_share_a_checkpoint(ecg_epochs, tmp_path):
    """What GridSearchCV does: clones of one estimator, fitted one after the other."""
    first, _ = ecg_epochs
    est = SpecAE(**TINY, checkpoint=tmp_path / "run.pt")
    clone(est).fit(first)
    content = (tmp_path / "run.pt").read_bytes()
    second = clone(est).set_params(filters=8)
    with pytest.raises(FileExistsError, match="run.pt exists.*resume=True"):
        second.fit(first)
    assert not hasattr(second, "model_")
    with pytest.raises(FileExistsError):
        clone(est).fit(first)  # the same parameters: still refused without resume=True
    assert (tmp_path / "run.pt").read_bytes() == content


# ------------------------------------------------------------------------ files
def test_save_atomic_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "sub" / "file.pt"
    save_atomic({"w": torch.arange(3)}, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled
        save_atomic({"w": torch.zeros(3), "f": lambda: 0}, path)
    assert os.listdir(path.parent) == ["file.pt"]
    assert torch.equal(load_safely(path)["w"], torch.arange(3))


@pytest.mark.parametrize("name", ["run.pt", "run[1].pt"])
def test_save_atomic_removes_orphaned_temporary_files(tmp_path, name):
    path = tmp_path / name
    orphans = [tmp_path / f".{name}.{pid}.tmp" for pid in (999_999, 123)]
    for orphan in orphans:  # left behind by killed processes
        orphan.write_bytes(b"half a file")
    unrelated = [
        tmp_path / ".other.pt.5.tmp",
        tmp_path / f"{name}.tmp",
        tmp_path / ".run1.pt.5.tmp",
    ]  # a glob without escaping took this one
    for other in unrelated:
        other.write_bytes(b"not ours")
    save_atomic({"w": torch.arange(3)}, path)
    assert not any(orphan.exists() for orphan in orphans)
    assert all(other.exists() for other in unrelated)
    assert sorted(os.listdir(tmp_path)) == sorted([name] + [p.name for p in unrelated])


def test_save_atomic_fsyncs_before_the_rename(tmp_path, monkeypatch):
    calls = []
    fsync, replace = os.fsync, os.replace

    def record_fsync(fd):
        calls.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        return fsync(fd)

    def record_replace(src, dst):
        calls.append(("replace", str(src), str(dst)))
        return replace(src, dst)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", record_replace)
    path = tmp_path / "file.pt"
    save_atomic({"w": torch.arange(3)}, path)
    monkeypatch.undo()
    tmp = str(tmp_path / f".file.pt.{os.getpid()}.tmp")
    # the data reach the disk before the rename, and the rename itself after it
    assert calls == [("fsync", tmp), ("replace", tmp, str(path)), ("fsync", str(tmp_path))]
    assert torch.equal(load_safely(path)["w"], torch.arange(3))


class _Payload:
    """Unpickling this would create ``path`` (a harmless stand-in for os.system)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_load_safely_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.ones(2)}, "extra": _Payload(marker)}, evil)
    # the payload is real: an unsafe load runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="Refused to load.*could run code") as info:
        load_safely(evil, what="checkpoint")
    assert "open" in str(info.value)  # names what was refused
    assert not marker.exists()
    # a plain pickle file (not a torch zip file) is refused too
    plain = tmp_path / "evil.pkl"
    with open(plain, "wb") as fid:
        pickle.dump({"x": _Payload(marker)}, fid)
    with pytest.raises(ValueError, match="Refused to load"):
        load_safely(plain)
    assert not marker.exists()


def test_load_safely_damaged_and_missing(tmp_path):
    good = tmp_path / "good.pt"
    save_atomic({"w": torch.arange(1000.0), "name": "x", "n": [1, 2]}, good)
    loaded = load_safely(good)
    assert torch.equal(loaded["w"], torch.arange(1000.0)) and loaded["n"] == [1, 2]
    raw = good.read_bytes()
    cases = {
        "truncated.pt": raw[: len(raw) // 2],
        "empty.pt": b"",
        "text.pt": b"hello world, not a model",
        "tail.pt": raw[:-30],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}.* (is not a readable|Refused)"):
            load_safely(path)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        load_safely(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_safely(tmp_path / "missing.pt", what="checkpoint")
