"""The ``mne-specae`` command line: ``demo``, ``train``, ``embed``, ``identify``,
``prepare`` and ``info`` (``mne-specae COMMAND --help`` lists the options)."""

from ._main import main

__all__ = ["main"]
