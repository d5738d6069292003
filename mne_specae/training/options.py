"""The options of :func:`~mne_specae.training.train_autoencoder`: their checks, and
the optimiser, schedule and loss they name.

Every option is checked before any work (MNE's validators, :mod:`mne_specae.checks`),
so a typo fails at once, not after the split or an epoch of training.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from mne.utils import _check_option, _validate_type

from ..nn.corruption import check_corruption
from ..utils._checks import check_int, check_number
from ..utils._devices import PRECISIONS

#: The :class:`~mne_specae.SpecAE` parameters that its ``fit`` passes to
#: :func:`~mne_specae.training.train_autoencoder` under the same name (its
#: ``random_state`` is the ``seed``). A new training option goes in both signatures,
#: the docdict and here; ``tests/test_training_options.py`` checks that none is left out.
ESTIMATOR_OPTIONS = (
    "val_fraction",
    "max_epochs",
    "batch_size",
    "lr",
    "scheduler",
    "patience",
    "mask_fraction",
    "noise_std",
    "band_limit",
    "spectrum_weight",
    "device",
    "precision",
    "channels_last",
    "compile",
    "max_time",
    "checkpoint",
    "resume",
)

_CHOICES = dict(
    optimizer=("adam", "adamw"), scheduler=(None, "cosine", "plateau"), loss=("mse", "l1")
)


def check_arguments(kw):
    """Check the options of one ``train_autoencoder`` call (a dict of them)."""
    for name in ("max_epochs", "batch_size", "patience"):
        check_int(kw[name], name)
    check_number(kw["lr"], "lr", minimum=0, strict=True)
    check_number(kw["weight_decay"], "weight_decay", minimum=0)
    check_number(kw["min_delta"], "min_delta", minimum=0)
    check_number(kw["max_time"], "max_time", minimum=0, strict=True, allow_none=True)
    check_corruption(kw["mask_fraction"], kw["noise_std"], kw["band_limit"])
    _check_option("precision", kw["precision"], PRECISIONS)
    for name, choices in _CHOICES.items():
        if not callable(kw[name]) and kw[name] not in choices:
            names = ", ".join(repr(c) for c in choices)
            raise ValueError(f"{name} must be {names} or a callable, got {kw[name]!r}.")
    for name in ("channels_last", "drop_last", "data_on_device"):
        if kw[name] != "auto":
            _validate_type(kw[name], bool, name, "bool or 'auto'")
    _validate_type(kw["compile"], bool, "compile")
    _validate_type(kw["resume"], bool, "resume")
    if kw["checkpoint"] is None and kw["resume"]:
        raise ValueError("resume=True needs a checkpoint path.")


def use_drop_last(drop_last, compile):
    """Whether training batches are all full: ``"auto"`` means with ``compile``.

    A compiled graph is traced for one batch shape; a smaller last batch would make
    it compile again (or fall back to dynamic shapes) every epoch.
    """
    return bool(compile) if drop_last == "auto" else drop_last


def check_enough_items(n_train, per_step, drop_last):
    """With ``drop_last``, one full step needs ``per_step`` training items."""
    if drop_last and n_train < per_step:
        raise ValueError(
            f"drop_last=True trains full batches only, but the {n_train} training items "
            f"do not fill one batch of {per_step}: lower batch_size or set "
            "drop_last=False (compile=True turns drop_last='auto' on)."
        )


def make_optimizer(optimizer, params, lr, weight_decay):
    """Adam, AdamW, or the optimiser that a callable ``params -> Optimizer`` builds."""
    if callable(optimizer):
        return optimizer(params)
    cls = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, weight_decay=weight_decay)


def make_scheduler(scheduler, optimizer, max_epochs, patience):
    """None, cosine annealing over ``max_epochs``, plateau halving, or a callable's."""
    if scheduler is None or callable(scheduler):
        return scheduler if scheduler is None else scheduler(optimizer)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=max(1, patience // 2)
    )


def make_loss(loss, spectrum_weight=0.0):
    """MSE, L1, or the callable itself; with ``spectrum_weight > 0``, plus that weight
    times the same loss between the time means of the reconstruction and the target
    (each frequency row averaged over the last axis, time: each item's spectrum)."""
    base = loss if callable(loss) else {"mse": F.mse_loss, "l1": F.l1_loss}[loss]
    if not spectrum_weight:
        return base
    return functools.partial(_with_spectrum, base=base, weight=float(spectrum_weight))


def _with_spectrum(out, target, *, base, weight):
    return base(out, target) + weight * base(out.mean(-1), target.mean(-1))


def check_spectrum_weight(spectrum_weight, model_dim):
    """``spectrum_weight`` as a float ``>= 0``, refused for waveforms (``model_dim`` 1:
    the time mean of a waveform is no spectrum)."""
    spectrum_weight = check_number(spectrum_weight, "spectrum_weight", minimum=0)
    if spectrum_weight and model_dim != 2:
        raise ValueError(
            f"spectrum_weight={spectrum_weight:g} weighs the error of each spectrogram's "
            "time mean (its spectrum); the 1-D model reconstructs waveforms, which have "
            "none. Use spectrum_weight=0 with model='1d'."
        )
    return float(spectrum_weight)
