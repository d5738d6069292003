"""Where computations run: device choice, mixed precision, memory format, cuDNN,
and the number of torch threads on the CPU (:func:`cpu_threads`, from ``_threads``).

One place decides what ``device="auto"``, ``precision="auto"`` and
``channels_last="auto"`` mean, for the spectrograms, the training engine, inference
and :class:`~mne_specae.SpecAE` alike.
"""

from __future__ import annotations

import contextlib

import torch
from mne.utils import _check_option, _validate_type

from ._threads import cpu_threads, record_torch_default

PRECISIONS = ("auto", "fp32", "bf16")
__all__ = [
    "PRECISIONS",
    "available_device",
    "cpu_threads",
    "cudnn_autotune",
    "resolve_device",
    "use_bf16",
    "use_channels_last",
]

# a different count at a later call means the user called torch.set_num_threads
record_torch_default(torch.get_num_threads())


def resolve_device(device="auto"):
    """Return a :class:`torch.device`: ``"auto"`` picks CUDA, then MPS, then the CPU.

    Parameters
    ----------
    device : str | torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, ...

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, torch.device):
        return device
    _validate_type(device, (str, torch.device), "device", "str or torch.device")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} but PyTorch sees no CUDA GPU here (torch "
            f"{torch.__version__}). Use device='auto' or 'cpu'."
        )
    if dev.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"device={device!r} but PyTorch sees no Apple MPS device here. "
            "Use device='auto' or 'cpu'."
        )
    return dev


def available_device(device):
    """``device`` if it exists on this machine, else ``"auto"`` (for saved settings).

    A model trained on a GPU names ``"cuda"`` in its settings; on a CPU-only machine
    it must still load and run.
    """
    if device == "auto" or isinstance(device, torch.device):
        return device
    try:
        resolve_device(device)
    except (RuntimeError, ValueError, TypeError):
        return "auto"
    return device


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def use_bf16(precision, device):
    """Whether to train and infer under bf16 autocast.

    ``"auto"`` chooses bf16 only on CUDA devices of compute capability 8.0 or more
    (Ampere and later have bf16 tensor cores; older GPUs emulate it slowly);
    ``"bf16"`` asks for it anywhere; ``"fp32"`` never.

    Parameters
    ----------
    precision : ``"auto"`` | ``"fp32"`` | ``"bf16"``
        The requested precision.
    device : torch.device
        The device the model runs on.

    Returns
    -------
    bf16 : bool
    """
    _check_option("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision == "bf16"
    if device.type != "cuda":
        return False
    return torch.cuda.get_device_capability(device) >= (8, 0)


def use_channels_last(channels_last, device):
    """Channels-last memory format for 2-D models: ``"auto"`` means on CUDA."""
    if channels_last == "auto":
        return device.type == "cuda"
    _validate_type(channels_last, bool, "channels_last", "bool or 'auto'")
    return channels_last


@contextlib.contextmanager
def cudnn_autotune(device):
    """Let cuDNN pick the fastest convolution algorithms while training on CUDA.

    ``torch.backends.cudnn.benchmark`` is set for the duration of the block (on
    CUDA only: elsewhere nothing changes) and restored afterwards: the tuning is
    per input shape, which a training run keeps fixed.

    Parameters
    ----------
    device : torch.device
        Where the block runs.
    """
    before = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before
