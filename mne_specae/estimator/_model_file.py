"""The ``.specae`` model file: what :meth:`SpecAE.save <mne_specae.SpecAE.save>` writes
and :meth:`SpecAE.load <mne_specae.SpecAE.load>` reads.

Written with :func:`~mne_specae.utils._files.save_atomic` and read with
:func:`~mne_specae.utils._files.load_safely` (``torch.load(weights_only=True)``:
opening a model file never runs code from it).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from .._version import __version__
from ..nn.models import build_model
from ..training.history import History
from ..utils._devices import available_device
from ..utils._files import load_safely, save_atomic
from ._build import build_input_stage
from ._runner import n_pooled_features
from .calibration import Calibration

MODEL_FORMAT = "mne-specae-model"
MODEL_FORMAT_VERSION = 2
#: Parameters that describe a training run, not the model: never written to model
#: files (a machine path in a shared file; a loaded model's fit would find the old
#: run's checkpoint), dropped from older files that hold them.
RUN_PARAMS = ("checkpoint", "resume", "max_time")
_MODEL_KEYS = (
    "format",
    "format_version",
    "package_version",
    "params",
    "model_class",
    "model_config",
    "model_state",
    "input_stage_class",
    "input_stage_config",
    "input_stage_state",
    "history",
    "fitted",
)


# ----------------------------------------------------------------- model files
def write_model(est, fname, *, overwrite=False):
    """Write a fitted :class:`~mne_specae.SpecAE` to one file (see :meth:`SpecAE.save`)."""

    fname = Path(fname)
    if fname.exists() and not overwrite:
        raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
    params = {
        k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, os.PathLike) else v)
        for k, v in est.get_params().items()
        if k not in RUN_PARAMS
    }
    for key, value in params.items():
        if callable(value):
            raise ValueError(
                f"Cannot save the callable parameter {key}={value!r}: "
                "model files hold plain settings only."
            )
    state = dict(
        format=MODEL_FORMAT,
        format_version=MODEL_FORMAT_VERSION,
        package_version=__version__,
        torch_version=str(torch.__version__),
        python_version=platform.python_version(),
        params=params,
        model_class=type(est.model_).__name__,
        model_config=est.model_.get_config(),
        model_state={k: v.cpu() for k, v in est.model_.state_dict().items()},
        input_stage_class=type(est.input_stage_).__name__,
        input_stage_config=est.input_stage_.get_config(),
        input_stage_state={k: v.cpu() for k, v in est.input_stage_.state_dict().items()},
        history=est.history_.to_dict(),
        fitted=dict(
            sfreq=est.sfreq_,
            n_times=est.n_times_,
            n_channels=est.n_channels_,
            ch_names=list(est.ch_names_),
            image_shape=list(est.image_shape_),
            n_features_out=est.n_features_out_,
            n_epoch_channels=est.n_epoch_channels_,
        ),
    )
    calibration = getattr(est, "calibration_", None)
    if calibration is not None:  # optional: older readers ignore the key
        state["calibration"] = calibration.to_dict()
    return save_atomic(state, fname)


def read_model(fname, known_params):
    """Read and check a model file: the format, its keys, the parameters, the weights.

    Parameters
    ----------
    fname : path-like
        The file.
    known_params : collection of str
        Parameter names this version of :class:`~mne_specae.SpecAE` has.

    Returns
    -------
    state : dict
        The file's content, with the keys of older formats filled in.
    """
    state = load_safely(fname, what="mne-specae model file")
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise ValueError(f"{fname} is not an mne-specae model file (no '{MODEL_FORMAT}' header).")
    version = state.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{fname}: damaged model file (format_version {version!r} is not a positive int)."
        )
    if version > MODEL_FORMAT_VERSION:
        raise ValueError(
            f"{fname} was written by mne-specae {state.get('package_version', '?')} (model "
            f"format {version}); this version reads formats up to {MODEL_FORMAT_VERSION}. "
            "Upgrade mne-specae."
        )
    if version == 1:
        _upgrade_from_v1(state)
    if isinstance(state.get("params"), dict):  # older files kept the run's settings
        for key in RUN_PARAMS:
            state["params"].pop(key, None)
    missing = [key for key in _MODEL_KEYS if key not in state]
    if missing:
        raise ValueError(f"{fname}: damaged model file, missing {missing}.")
    unknown = sorted(set(state["params"]) - set(known_params))
    if unknown:
        raise ValueError(
            f"{fname} has parameter(s) {unknown} that this version of mne-specae does not "
            f"know (written by mne-specae {state['package_version']}). Upgrade mne-specae."
        )
    for part in ("model_state", "input_stage_state"):
        for key, value in state[part].items():
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"{fname}: damaged model file ({part}[{key!r}] is not a tensor).")
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"{fname}: the weights hold NaN/Inf values ({part}[{key!r}]); "
                    "the model cannot be used. Retrain it."
                )
    return state


def _upgrade_from_v1(state):
    """Format 1 (0.1.0.dev0 before picks): fill the keys format 2 added."""
    params = state.get("params", {})
    state.setdefault(
        "input_stage_class", "WaveformInput" if params.get("model") == "1d" else "Spectrogram"
    )
    fitted = state.get("fitted", {})
    fitted.setdefault("ch_names", [])
    stage_config = state.get("input_stage_config", {})
    if state["input_stage_class"] == "Spectrogram":
        stage_config.update(LEGACY_SPECTROGRAM_CONFIG)


def _epoch_channels(est, model, fitted):
    """``n_epoch_channels_`` of a file written before it was stored: the channels of a
    ``channel_agg="concat"`` model (its features over those of one item), else
    unknown."""
    if est.channel_agg != "concat" or not est._separate():
        return None
    per_item = n_pooled_features(model, est.pooling, est.bottleneck)
    return int(fitted["n_features_out"]) // per_item


#: Spectrogram settings whose default changed after model format 1: older files keep
#: the behaviour they were trained with.
LEGACY_SPECTROGRAM_CONFIG = {"band_mode": "sum"}


def load_estimator(cls, fname, device=None):
    """A fitted ``cls`` (:class:`~mne_specae.SpecAE`) from a model file."""

    known = cls().get_params()
    state = read_model(fname, known)
    params = dict(state["params"])
    for key in ("resize", "window"):  # saved as lists, given as tuples
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    params["device"] = available_device(params.get("device", "auto")) if device is None else device
    try:
        est = cls(**params)
        with torch.random.fork_rng(devices=[]):  # the weights come from the file
            model = build_model(state["model_class"], state["model_config"])
        stage = build_input_stage(state["input_stage_class"], state["input_stage_config"])
        model.load_state_dict(state["model_state"])
        stage.load_state_dict(state["input_stage_state"])
        fitted = state["fitted"]
        est.history_ = History.from_dict(state["history"])
        est.sfreq_ = float(fitted["sfreq"])
        est.n_times_ = int(fitted["n_times"])
        est.n_channels_ = fitted["n_channels"]
        est.ch_names_ = list(fitted["ch_names"])
        est.image_shape_ = tuple(fitted["image_shape"])
        est.n_epoch_channels_ = (
            fitted["n_epoch_channels"]
            if "n_epoch_channels" in fitted
            else _epoch_channels(est, model, fitted)
        )
        if state.get("calibration") is not None:
            est.calibration_ = Calibration.from_dict(state["calibration"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{fname}: the file is inconsistent (settings and weights do not match): {detail}"
        ) from err
    est.model_ = model.eval()
    est.input_stage_ = stage.eval()
    return est
