"""Private helpers shared by the subpackages: parameter checks, shared docstrings,
logging, files written atomically and read safely, devices, picks.

Nothing here is public API; the names users need are re-exported by :mod:`mne_specae`.
"""
