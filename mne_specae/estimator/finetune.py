"""Fine-tuning: training that starts from a fitted model (``SpecAE.fit(init=...)``).

The new network is built as for any fit and then given ``init``'s weights (copied:
``init`` itself is never changed). That only makes sense when the two networks are
the same and see the same kind of input, so :func:`check_init` compares, before any
training, everything that shapes the weights or their input: the model class and the
network's settings, the input stage's settings, the sampling rate and the segment
length. Training settings (``lr``, ``max_epochs``, ``batch_size``, ``patience``, the
schedule, the corruption, ...) may differ: they are what fine-tuning changes.
"""

from __future__ import annotations

import inspect
import math
import os

from mne.utils import _validate_type, logger
from sklearn.utils.validation import check_is_fitted

from ..nn.models import ConvAutoencoder1d, ConvAutoencoder2d, _filters_per_layer

#: What a differing entry is, for the error message.
_HINTS = {
    "in_channels": "planes per item (channel_mode and the channels)",
    "input_size": "the image size of a dense bottleneck (resize, segment length)",
    "pool_size": "the model class's pooling",
    "sfreq": "resample the data as init was trained, e.g. make_segments(raw, sfreq=...)",
    "n_times": "cut segments of init's length, e.g. make_segments(raw, duration=...)",
}


#: Turns ``init="pretrained"``, a pretrained name or a ``.specae`` path into a fitted
#: model: :func:`mne_specae.pretrained.loading.resolve_model`, registered by that
#: module (a floor above this one, which may not import it) when the package loads.
_RESOLVER = []


def set_init_resolver(resolver):
    """Register ``resolver(model, *, device, item_name)`` -> fitted SpecAE (what
    :func:`~mne_specae.pretrained.loading.resolve_model` is)."""
    _RESOLVER[:] = [resolver]


#: ``fit(init="auto")``: decided once the fit's input stage and image shape are known
#: (:func:`auto_init`).
AUTO = "auto"


def resolve_init(est, init):
    """``init`` as a fitted model and how messages name it: a :class:`SpecAE` as it
    is; ``"pretrained"`` the shipped encoder; another string or a path the pretrained
    encoder of that name, else the ``.specae`` file (loaded on the CPU); ``"auto"``
    stays ``"auto"`` (see :func:`auto_init`)."""
    if isinstance(init, str) and init == AUTO:
        return AUTO, None
    if init is None or not isinstance(init, (str, os.PathLike)):
        return init, ("init", "sklearn.base.clone(init)")
    if not _RESOLVER:
        raise RuntimeError(
            "init names a pretrained encoder or a file, and no resolver is registered: "
            "import mne_specae (its pretrained subpackage registers it)."
        )
    if est.checkpoint is not None:  # before the file is read
        validate_init(est, None)
    label = f"init={str(init)!r}"
    model = None if isinstance(init, str) and init == "pretrained" else init
    loaded = _RESOLVER[0](model, device="cpu", item_name="init")
    logger.info(f"Starting from the weights of {label}")
    if model is None or (isinstance(init, str) and not os.path.exists(init)):
        again = "load_pretrained()" if model is None else f"load_pretrained({init!r})"
    else:
        again = f"SpecAE.load({str(init)!r})"
    return loaded, (label, f"sklearn.base.clone({again})")


def auto_init(est, stage, image_shape, n_times, sfreq):
    """What ``fit(init="auto")`` starts from: the shipped encoder when it is this fit's
    network on this fit's input (same settings, sampling rate and segment length) and
    no checkpoint is asked for; else ``None`` (random weights). Either way the reason
    is logged. Returns ``(init, named)`` as :func:`resolve_init`."""
    if est.checkpoint is not None or est.model != "2d":
        why = "a checkpoint is asked for" if est.checkpoint is not None else "model='1d'"
        logger.info(f"init='auto': training from random weights ({why}).")
        return None, None
    if not _RESOLVER:  # pragma: no cover - registered when the package loads
        return None, None
    shipped = _RESOLVER[0](None, device="cpu", item_name="init")
    differences = init_differences(est, shipped, stage, image_shape, n_times, sfreq)
    if differences:
        logger.info(
            "init='auto': training from random weights; the shipped encoder is another "
            f"network or input ({'; '.join(differences)})."
        )
        return None, None
    logger.info(
        "init='auto': starting from the shipped encoder's weights (the same network and "
        "input; init=None trains from random weights)."
    )
    return shipped, ("init='auto'", "sklearn.base.clone(load_pretrained())")


def validate_init(est, init):
    """``init`` is a fitted model of ``est``'s class, and ``est`` asks for no checkpoint
    (checked before any work).

    Parameters
    ----------
    est : SpecAE
        The estimator being fitted.
    init : SpecAE
        The model to start from.
    """
    if est.checkpoint is not None:
        raise ValueError(
            "init cannot be combined with checkpoint: a checkpoint's fingerprint does not "
            "record the initial weights, so a resumed fine-tune could not be told from a "
            "fresh run of the same settings. Fine-tune without checkpoint (set "
            "checkpoint=None), or train from random weights with it."
        )
    _validate_type(
        init,
        type(est),
        "init",
        f"{type(est).__name__} (fitted), 'pretrained', a pretrained encoder's name, a "
        ".specae file or None",
    )
    check_is_fitted(
        init,
        ("model_", "input_stage_", "sfreq_", "n_times_"),
        msg="init must be a fitted SpecAE (call fit, SpecAE.load or "
        "load_pretrained first); got an unfitted %(name)s.",
    )


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _same(a, b):
    a, b = _plain(a), _plain(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def network_config(est, image_shape):
    """The ``get_config()`` the estimator's network will have, without building it."""
    cls = ConvAutoencoder1d if est.model == "1d" else ConvAutoencoder2d
    defaults = inspect.signature(cls).parameters
    planes, *size = image_shape
    try:
        filters = _filters_per_layer(est.filters, est.n_layers)
    except (TypeError, ValueError):
        filters = est.filters  # invalid: the model's own check says why later
    return dict(
        in_channels=planes,
        n_layers=est.n_layers,
        filters=filters,
        kernel_size=(
            defaults["kernel_size"].default if est.kernel_size is None else est.kernel_size
        ),
        pool_size=defaults["pool_size"].default,
        activation=est.activation,
        norm=est.norm,
        bottleneck=est.bottleneck,
        input_size=list(size) if est.bottleneck is not None else None,
    )


def init_differences(est, init, stage, image_shape, n_times, sfreq=None):
    """``"name: init's -> this fit's"`` for every setting that differs.

    Parameters
    ----------
    est : SpecAE
        The estimator being fitted.
    init : SpecAE
        The fitted model to start from.
    stage : Spectrogram | WaveformInput
        The input stage built for this fit (its settings, with the data's ``sfreq``).
    image_shape : tuple of int
        ``(planes, *spatial)`` of one item of this fit.
    n_times : int
        Samples per segment of this fit's data.
    sfreq : float | None
        This fit's sampling rate (compared with a relative tolerance), or ``None``.

    Returns
    -------
    differences : list of str
    """
    out = []

    def compare(name, old, new):
        if not _same(old, new):
            hint = f" ({_HINTS[name]})" if name in _HINTS else ""
            out.append(f"{name}: {_plain(old)!r} -> {_plain(new)!r}{hint}")

    compare("model", init.model, est.model)
    if est.model == init.model:
        theirs = init.model_.get_config()
        for key, value in network_config(est, image_shape).items():
            compare(key, theirs.get(key), value)
        if type(stage).__name__ != type(init.input_stage_).__name__:
            compare("input stage", type(init.input_stage_).__name__, type(stage).__name__)
        else:
            old, new = init.input_stage_.get_config(), stage.get_config()
            for key in [k for k in old if k != "sfreq"] + [k for k in new if k not in old]:
                compare(key, old.get(key), new.get(key))  # (sfreq: compared with tolerance)
    compare("n_times", int(init.n_times_), int(n_times))
    if sfreq is not None and not math.isclose(float(init.sfreq_), float(sfreq), rel_tol=1e-9):
        out.insert(0, f"sfreq: {float(init.sfreq_):g} -> {float(sfreq):g} ({_HINTS['sfreq']})")
    return out


def check_init(est, init, stage, image_shape, n_times, sfreq, named=None):
    """Refuse to fine-tune from an ``init`` that is not the same network on the same
    input; the :class:`ValueError` names every difference (init -> this fit).
    ``named``: how the message names ``init`` and how to start from its settings
    (from :func:`resolve_init`)."""
    label, again = named or ("init", "sklearn.base.clone(init)")
    differences = init_differences(est, init, stage, image_shape, n_times, sfreq)
    if differences:
        listed = "\n  ".join(differences)
        raise ValueError(
            f"{label} is not the same network on the same input as this fit, so its "
            f"weights cannot be the starting point. What differs (init -> this fit):\n"
            f"  {listed}\nSet the network and input-stage parameters as init has them "
            f"(e.g. start from {again}.set_params(lr=..., max_epochs=...)), and give data "
            "at init's sampling rate and segment length; training settings may differ."
        )
