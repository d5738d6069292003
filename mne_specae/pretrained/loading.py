"""Encoders shipped inside the package: offline, checked, loaded without running code.

The files live in ``mne_specae/pretrained/assets/`` (package data, read through
:mod:`importlib.resources`). Each is an ordinary ``.specae`` model file with its
:class:`~mne_specae.Calibration` inside; its sha256 is recorded here, so
a damaged or swapped file is refused before it is opened. The script that trains
them is ``scripts/train_pretrained.py``; the model card is the documentation page
"The pretrained encoder".
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from mne.utils import _check_option, _validate_type, logger, verbose
from sklearn.utils.validation import check_is_fitted

from ..estimator import finetune
from ..estimator.specae import SpecAE
from ..utils._files import file_sha256

#: The shipped encoders: file name, its sha256, and what it was trained on.
PRETRAINED = {
    "biosignals": dict(
        file="biosignals.specae",
        sha256="7ab6c83a8d71e8bcb7a9b38e30629fbf7ee4f355c6ce07bcf9b6653d67028099",
        description=(
            "2-D spectrogram autoencoder (32 x 64 log-frequency images, 2-60 Hz, each "
            "image z-scored) trained on 125,254 channel-segments of the pretraining "
            "corpus (9 public repositories: ICU, Muse, MNE fixtures, Myo, UCI gestures, "
            "MIT-BIH, UniBo, BioSPPy, WFDB samples), never on the developers' sample "
            "subjects; heads fitted on the corpus (14 repositories, wrist wearables "
            "among them) and the developers' recordings, the channel head reading how "
            "strongly each channel moves with the others."
        ),
    )
}


@contextmanager
def pretrained_file(name="biosignals"):
    """Context manager giving a path to a shipped model file, valid inside the block.

    When the package is imported from a zip, :func:`importlib.resources.as_file`
    extracts the file to a temporary copy that is deleted when the block ends: read
    (or load) the file inside it.

    Parameters
    ----------
    name : str
        Which encoder (a key of ``PRETRAINED``).

    Yields
    ------
    path : pathlib.Path
        The file.
    """
    _check_option("name", name, sorted(PRETRAINED))
    ref = resources.files(__package__) / "assets" / PRETRAINED[name]["file"]
    with resources.as_file(ref) as path:
        yield Path(path)


def pretrained_path(name="biosignals"):
    """Path of a shipped model file inside the installed package (on disk).

    Only for a package installed as files; when it is imported from a zip there is
    no lasting path: use ``with pretrained_file(name) as path:`` instead.
    """
    _check_option("name", name, sorted(PRETRAINED))
    ref = resources.files(__package__) / "assets" / PRETRAINED[name]["file"]
    if not isinstance(ref, Path):
        raise RuntimeError(
            f"mne-specae is imported from an archive ({type(ref).__name__}): the file "
            f"{PRETRAINED[name]['file']!r} has no lasting path. Use `with "
            "mne_specae.pretrained.pretrained_file(name) as path:` to read it."
        )
    return ref


@verbose
def load_pretrained(name="biosignals", *, device=None, verbose=None):
    """A fitted :class:`~mne_specae.SpecAE` shipped with the package.

    Works offline: the weights are package data. The file's sha256 is checked
    against the value recorded in the code before it is opened, and it is opened
    with ``torch.load(weights_only=True)``, so it cannot run code.

    Parameters
    ----------
    name : str
        Which encoder: ``"biosignals"`` (ECG, EEG and EMG; see the model card).
    device : str | None
        Where to run it (as ``SpecAE(device=...)``); ``None``: ``"auto"``.
    %(verbose)s

    Returns
    -------
    est : SpecAE
        Fitted, with ``est.calibration_`` (the signal-type head and the references
        that :func:`~mne_specae.identify_channel_types` and
        :func:`~mne_specae.annotate_unusual` use). Fine-tune it with
        ``SpecAE(...).fit(epochs, init=est)``.
    """
    with pretrained_file(name) as path:  # a temporary copy when imported from a zip
        if not path.is_file():
            raise FileNotFoundError(
                f"The pretrained model {name!r} is missing from this installation "
                f"({path}). Reinstall mne-specae."
            )
        expected = PRETRAINED[name]["sha256"]
        found = file_sha256(path)
        if found != expected:
            raise ValueError(
                f"The pretrained model file {path} is damaged or was replaced: its sha256 "
                f"is {found}, this version of mne-specae ships {expected}. Reinstall "
                "mne-specae."
            )
        est = SpecAE.load(path, device=device)
    logger.info(
        f"Loaded the pretrained encoder {name!r} ({PRETRAINED[name]['file']}, "
        f"sha256 {found[:12]}...)"
    )
    return est


def resolve_model(model, *, device=None, item_name="model"):
    """A fitted :class:`~mne_specae.SpecAE` from what a user names as the model.

    The one resolver of the functions that take ``model=`` (``identify_channel_types``,
    ``annotate_unusual``) and of the command line's ``--model``.

    Parameters
    ----------
    model : SpecAE | str | path-like | None
        A fitted estimator (returned as it is, on its own ``device``), a ``.specae``
        file, the name of a pretrained encoder (a key of ``PRETRAINED``; an existing
        file of that name wins), or ``None``: the pretrained ``"biosignals"``.
    device : str | None
        Where a loaded model runs (as for :func:`load_pretrained` and
        :meth:`SpecAE.load <mne_specae.SpecAE.load>`); not used for an estimator.
    item_name : str
        How error messages name ``model`` (``"--model"`` on the command line).

    Returns
    -------
    est : SpecAE
        Fitted.
    """
    if model is None:
        return load_pretrained(device=device, verbose=False)
    _validate_type(
        model,
        (SpecAE, str, os.PathLike),
        item_name,
        "a fitted SpecAE, a pretrained name, a .specae file or None",
    )
    if isinstance(model, SpecAE):
        check_is_fitted(model, "model_")
        return model
    if isinstance(model, str) and model in PRETRAINED and not Path(model).exists():
        return load_pretrained(model, device=device, verbose=False)
    if not Path(model).is_file():
        raise FileNotFoundError(
            f"{item_name} {model}: no such model file, and not the name of a pretrained "
            f"encoder ({', '.join(sorted(PRETRAINED))})."
        )
    return SpecAE.load(model, device=device)


finetune.set_init_resolver(resolve_model)  # SpecAE.fit(init="pretrained" | name | file)
