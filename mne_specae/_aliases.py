"""The module paths of mne-specae 0.1 before it had subpackages, kept importable.

``import mne_specae.baselines`` or ``from mne_specae.splits import split_by_group``
keep working: each old name is the new module itself (no copy, no warning).
"""

import sys
from importlib import import_module

#: old module name -> where it lives now
OLD_PATHS = {
    "baselines": "evaluation.baselines",
    "calibration": "estimator.calibration",
    "channel_types": "pretrained.channel_types",
    "checkpoints": "training.checkpoints",
    "corruption": "nn.corruption",
    "downstream": "evaluation.downstream",
    "embedding": "estimator.metadata",
    "filterbanks": "spectral.filterbanks",
    "finetune": "estimator.finetune",
    "history": "training.history",
    "input_stages": "nn.input_stages",
    "inversion": "spectral.inversion",
    "models": "nn.models",
    "preparation": "stores.preparation",
    "reconstruction": "estimator.reconstruction",
    "segment_store": "stores.store",
    "spectrogram": "spectral.spectrogram",
    "splits": "training.splits",
    "streaming": "training.streaming",
    "tfr": "spectral.tfr",
    "unusual": "pretrained.unusual",
}


def install(package):
    """Make every old path of ``package`` (its name) an alias of its new module, in
    ``sys.modules`` and as an attribute of the package."""
    parent = sys.modules[package]
    for old, new in OLD_PATHS.items():
        module = import_module(f"{package}.{new}")
        sys.modules[f"{package}.{old}"] = module
        setattr(parent, old, module)
