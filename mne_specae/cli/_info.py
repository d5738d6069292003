"""What a bug report needs: versions, devices, threads and the data folder."""

from __future__ import annotations

import os
import platform
import sys

_PACKAGES = (
    "mne",
    "torch",
    "numpy",
    "scipy",
    "sklearn",
    "pandas",
    "matplotlib",
    "umap",
    "wfdb",
    "tqdm",
)


def system_info(resolve_device):
    """Plain-text report, one item per line (``mne-specae info``)."""
    from importlib import import_module

    import torch

    from .._version import __version__
    from ..datasets import get_data_path

    lines = [
        f"mne-specae    {__version__}",
        f"Python        {platform.python_version()} ({sys.executable})",
        f"Platform      {platform.platform()}",
    ]
    for name in _PACKAGES:
        try:
            version = getattr(import_module(name), "__version__", "?")
        except Exception as err:  # an optional package that fails to import
            version = f"not available ({type(err).__name__})"
        lines.append(f"{name:<13} {version}")
    lines.append(f"device='auto' {resolve_device('auto')}")
    if torch.cuda.is_available():
        for k in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(k)
            lines.append(
                f"  cuda:{k}      {torch.cuda.get_device_name(k)} "
                f"(compute capability {major}.{minor})"
            )
    else:
        lines.append("CUDA          not available")
    lines.append(f"CPU cores     {os.cpu_count()}")
    lines.append(
        f"torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})"
    )
    from ..utils._threads import ENV_VAR, _State

    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "(not set)")
        if var == "OMP_WAIT_POLICY" and _State.wait_policy_set:
            value += " (set by mne-specae at import)"
        lines.append(f"{var:<13} {value}")
    lines.append(f"{ENV_VAR} {os.environ.get(ENV_VAR, '(not set)')} (in use: {_State.setting})")
    try:
        lines.append(f"data folder   {_data_folder(get_data_path())}")
    except Exception as err:
        lines.append(f"data folder   unknown ({err})")
    return "\n".join(lines)


def _data_folder(folder):
    """The data folder and how many registry recordings it holds (all files present)."""
    from ..datasets import EXTENDED_RECORDINGS, SAMPLE_RECORDINGS
    from ..datasets.sample import count_present

    n_sample = len(SAMPLE_RECORDINGS)
    if not folder.is_dir():
        return f"{folder} (does not exist: 0 of {n_sample} sample recordings)"
    n_extended = count_present(folder, EXTENDED_RECORDINGS)
    return (
        f"{folder} ({count_present(folder)} of {n_sample} sample recordings present"
        + (f"; {n_extended} of {len(EXTENDED_RECORDINGS)} extended" if n_extended else "")
        + ")"
    )
