"""Training checkpoints that cannot be silently wrong: a fingerprint of the run.

A checkpoint holds the state of one training run (weights, optimizer, scheduler,
input stage, best weights, history, split) and a *fingerprint* of what the run is:
the model and input stage (classes and settings), the optimiser, schedule, loss,
input corruption and stopping settings, the split, and a cheap checksum of the data.
A run resumes from a checkpoint only when the fingerprints are equal; otherwise the
error names every entry that differs. Without ``resume=True`` an existing checkpoint
is never touched.
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from mne.utils import logger

from .._version import __version__
from ..utils._files import load_safely, save_atomic
from ..utils._signals import evenly_spaced
from .history import History

CHECKPOINT_FORMAT = "mne-specae-checkpoint"
#: 1 (mne-specae 0.1.0.dev0 until fingerprints): n_items and seed only; 2: fingerprint.
CHECKPOINT_VERSION = 2
#: Rows of the data whose bytes are hashed (evenly spaced, first and last included).
N_HASHED_ROWS = 64
_CHUNK = 1 << 22  # samples per chunk of the host-side sums
_SUM_RTOL = 1e-9  # float64 sums of identical data may differ in the last bits elsewhere

#: Fingerprint entries added after format 2 appeared, with the value that every run
#: recorded before them had: such a checkpoint resumes when the call keeps that value.
ADDED_ENTRIES = {
    "mask_fraction": 0.0,
    "noise_std": 0.0,
    "band_limit": 0.0,
    "drop_last": False,
    "spectrum_weight": 0.0,
}

_STATE_KEYS = (
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "input_stage",
    "best_state",
    "bad_epochs",
    "history",
    "train_idx",
    "val_idx",
)
_FRESH_START = "To start afresh, delete {path} or pass another checkpoint path."


# -------------------------------------------------------------------- names
def callable_name(obj):
    """A stable name of a setting that may be a string or a callable.

    Strings and ``None`` are returned as they are; functions and classes as
    ``module.qualname``; :func:`functools.partial` objects with their arguments;
    other callable objects by their class. Memory addresses never appear, so the
    name is the same in another process.
    """
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, functools.partial):
        args = [repr(a) if not callable(a) else callable_name(a) for a in obj.args]
        args += [f"{k}={v!r}" for k, v in sorted(obj.keywords.items())]
        return f"functools.partial({callable_name(obj.func)}, {', '.join(args)})".replace(
            ", )", ")"
        )
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}.{target.__qualname__}"


def _plain(value):
    """Settings as plain Python values (lists, not tuples; no numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return callable_name(value) if callable(value) else repr(value)


# ---------------------------------------------------------------- checksums
def data_checksum(data):
    """Shape, dtype and a cheap content checksum of the waveform tensor.

    The checksum is the float64 sum and absolute sum of all samples, computed on
    the host in chunks with numpy (no float64 tensor anywhere; about 0.1 s for 1e8
    samples), and a SHA-256 of the bytes of :data:`N_HASHED_ROWS` evenly spaced
    items.

    Parameters
    ----------
    data : torch.Tensor, shape (n_items, ...)
        The waveforms.

    Returns
    -------
    checksum : dict
        ``shape``, ``dtype``, ``sum``, ``abs_sum``, ``rows``.
    """
    if hasattr(data, "checksum"):  # a store's items: their files' sha256, not a pass
        return data.checksum()
    host = data.detach()
    host = (host if host.device.type == "cpu" else host.cpu()).numpy()
    flat = host.reshape(-1)
    total, abs_total = 0.0, 0.0
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        total += float(chunk.sum(dtype=np.float64))
        abs_total += float(np.abs(chunk).sum(dtype=np.float64))
    n = host.shape[0]
    rows = evenly_spaced(n, N_HASHED_ROWS)
    digest = hashlib.sha256(np.ascontiguousarray(host[rows]).tobytes()).hexdigest()[:16]
    return dict(
        shape=list(host.shape),
        dtype=str(data.dtype).replace("torch.", ""),
        sum=total,
        abs_sum=abs_total,
        rows=digest,
    )


def split_summary(train_idx, val_idx):
    """``"<n> train / <n> val, sha256 <digest>"`` of a train/validation split."""
    hasher = hashlib.sha256()
    for idx in (train_idx, val_idx):
        hasher.update(np.asarray(idx, dtype=np.int64).tobytes())
        hasher.update(b"|")
    return f"{len(train_idx)} train / {len(val_idx)} val, sha256 {hasher.hexdigest()[:16]}"


def _parameter_summary(model):
    """Names and shapes of a model's tensors (for models without ``get_config``)."""
    hasher = hashlib.sha256()
    count = 0
    for name, value in model.state_dict().items():
        hasher.update(f"{name}:{tuple(value.shape)};".encode())
        count += value.numel()
    return f"{count} values, sha256 {hasher.hexdigest()[:16]}"


# -------------------------------------------------------------- fingerprint
def make_fingerprint(model, input_stage, data, train_idx, val_idx, **settings):
    """What a training run is: compared entry by entry when a run resumes.

    Parameters
    ----------
    model : torch.nn.Module
        The autoencoder (class, ``get_config()`` when it has one, tensor shapes).
    input_stage : torch.nn.Module | None
        The input stage (class and ``get_config()`` when it has one).
    data : torch.Tensor
        The waveforms (see :func:`data_checksum`).
    train_idx, val_idx : array-like of int
        The split.
    **settings
        Optimiser, lr, schedule, loss, stopping settings, batch size, seed, ...:
        callables are recorded by name (:func:`callable_name`).

    Returns
    -------
    fingerprint : dict
        Plain Python values only (checkpoints are read with ``weights_only=True``).
    """
    stage_config = getattr(input_stage, "get_config", None)
    model_config = getattr(model, "get_config", None)
    out = dict(
        model=callable_name(type(model)),
        model_config=None if model_config is None else _plain(model_config()),
        model_tensors=_parameter_summary(model),
        input_stage=None if input_stage is None else callable_name(type(input_stage)),
        input_stage_config=None if stage_config is None else _plain(stage_config()),
    )
    out.update({key: _plain(callable_name(v) if callable(v) else v) for key, v in settings.items()})
    out["split"] = split_summary(train_idx, val_idx)
    out["data"] = data_checksum(data)
    return out


def recordings_digest(recordings):
    """What a fingerprint records of the ``recordings`` labels (``normalize="recording"``):
    their count and a sha256 of the labels in order."""
    import hashlib

    labels = [str(label) for label in recordings]
    digest = hashlib.sha256("\x1e".join(labels).encode()).hexdigest()
    return dict(n_items=len(labels), sha256=digest)


def _flatten(entries, prefix=""):
    flat = {}
    for key, value in entries.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def fingerprint_differences(old, new):
    """``"entry: old -> new"`` for every entry of two fingerprints that differs."""
    old_flat, new_flat = _flatten(old), _flatten(new)
    scale = max(abs(old_flat.get("data.abs_sum") or 0.0), abs(new_flat.get("data.abs_sum") or 0.0))
    missing = "<absent>"
    lines = []
    for key in list(old_flat) + [k for k in new_flat if k not in old_flat]:
        a, b = old_flat.get(key, missing), new_flat.get(key, missing)
        if key in ("data.sum", "data.abs_sum") and missing not in (a, b):
            if math.isclose(a, b, rel_tol=0, abs_tol=_SUM_RTOL * scale):
                continue
        elif a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b):
            continue  # (NaN settings are the same setting)
        lines.append(f"{key}: {a!r} -> {b!r}")
    return lines


# -------------------------------------------------------------------- files
def check_absent(path):
    """Refuse to start a new run over an existing checkpoint (``resume=False``).

    Raises
    ------
    FileExistsError
        When ``path`` exists.
    """
    if path is not None and Path(path).exists():
        raise FileExistsError(
            f"The checkpoint {path} exists: it holds another (or an earlier) training run. "
            "Pass resume=True to continue that run, or delete the file or choose another "
            "checkpoint path to start a new one (a checkpoint is never overwritten "
            "without resume=True)."
        )


def write_checkpoint(path, fingerprint, **state):
    """Write a checkpoint atomically (see :func:`~mne_specae.io.save_atomic`)."""

    return save_atomic(
        dict(
            format=CHECKPOINT_FORMAT,
            format_version=CHECKPOINT_VERSION,
            package_version=__version__,
            fingerprint=fingerprint,
            **state,
        ),
        path,
    )


def save_run(run, epoch):
    """Checkpoint a training run after ``epoch`` (rank 0 only; a no-op without a path).

    ``run`` is the engine's run object (:mod:`mne_specae.training`): its model,
    optimizer, scheduler, input stage, best weights, epochs without improvement,
    history and split are written with its fingerprint.
    """
    run.epoch = epoch
    if run.path is None or not run.is_main:
        return
    write_checkpoint(
        run.path,
        run.fingerprint,
        epoch=epoch,
        model=cpu_state(run.model),
        optimizer=run.opt.state_dict(),
        scheduler=None if run.sched is None else run.sched.state_dict(),
        input_stage=None if run.stage is None else cpu_state(run.stage),
        best_state=run.best_state,
        bad_epochs=run.bad_epochs,
        history=run.history.to_dict(),
        train_idx=run.train_idx,
        val_idx=run.val_idx,
    )


def restore_run(run, state):
    """Continue a training run from a checkpoint read by :func:`read_checkpoint`."""

    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["optimizer"])
    if run.sched is not None and state["scheduler"] is not None:
        run.sched.load_state_dict(state["scheduler"])
    if run.stage is not None and state["input_stage"] is not None:
        run.stage.load_state_dict(state["input_stage"])  # the fitted statistics
        run.stage.to(run.device)
    run.best_state, run.bad_epochs = state["best_state"], state["bad_epochs"]
    run.history, run.epoch = History.from_dict(state["history"]), state["epoch"]
    if run.history.stop_reason == "max_time":  # out of time, not ended: go on
        run.history.stop_reason = ""
        if run.is_main:
            logger.info(f"{run.path}: that run ran out of time after epoch {run.epoch}")
    if run.is_main and run.history.stop_reason:
        logger.info(f"{run.path}: that run already ended ({run.history.stop_reason})")
    elif run.is_main:
        logger.info(f"Resuming from {run.path} after epoch {run.epoch}")


def read_checkpoint(path, fingerprint):
    """Read a checkpoint and check that it records the run described by ``fingerprint``.

    Parameters
    ----------
    path : path-like
        The checkpoint file.
    fingerprint : dict
        :func:`make_fingerprint` of the run that wants to resume.

    Returns
    -------
    state : dict
        The checkpoint's content.

    Raises
    ------
    ValueError
        The file is not a checkpoint, is of an older or newer format, or records
        another run (the message names every entry that differs, old -> new).
    """
    path = Path(path)
    fresh = _FRESH_START.format(path=path)
    state = load_safely(path, what="checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an mne-specae training checkpoint. {fresh}")
    version = state.get("format_version")
    if version is None or "fingerprint" not in state:
        raise ValueError(
            f"{path} was written by an older version of mne-specae, whose checkpoints do "
            f"not record the run's settings and data, so resuming it cannot be checked. "
            f"Delete it (or pass another checkpoint path) and train afresh."
        )
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} was written by mne-specae {state.get('package_version', '?')} "
            f"(checkpoint format {version!r}); this version reads format "
            f"{CHECKPOINT_VERSION}. Upgrade mne-specae, or delete it (or pass another "
            "checkpoint path) to start afresh."
        )
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing or not isinstance(state["fingerprint"], dict):
        raise ValueError(
            f"{path} is a damaged checkpoint (missing or broken: "
            f"{missing or ['fingerprint']}). {fresh}"
        )
    recorded = dict(state["fingerprint"])
    for key, value in ADDED_ENTRIES.items():
        recorded.setdefault(key, value)
    differences = fingerprint_differences(recorded, fingerprint)
    if differences:
        listed = "\n  ".join(differences)
        raise ValueError(
            f"{path} records another training run; resuming it would silently mix two "
            f"runs. What differs (checkpoint -> this call):\n  {listed}\n{fresh} To "
            "continue the recorded run instead, call again with its settings and data."
        )
    logger.debug(f"{path}: the fingerprint matches")
    return state


def cpu_state(module):
    """A copy of a module's state dict on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def tensor_indices(idx):
    """Indices as an int64 tensor (checkpoints hold the split as tensors)."""
    return torch.as_tensor(np.asarray(idx), dtype=torch.long)
