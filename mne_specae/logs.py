"""MNE's verbosity convention for the methods of an estimator.

MNE 1.13's :func:`mne.utils.verbose` no longer reads ``self.verbose``; this decorator
does: a method's own ``verbose`` argument wins, else the estimator's.
"""

from __future__ import annotations

import functools

from mne.utils import use_log_level, verbose


def verbose_method(method):
    """MNE's ``verbose`` for methods: the call's ``verbose``, else ``self.verbose``."""
    method = verbose(method)  # fills %(verbose)s, checks the signature

    @functools.wraps(method)
    def wrapper(self, *args, verbose=None, **kwargs):
        level = verbose if verbose is not None else self.verbose
        with use_log_level(level):
            return method(self, *args, **kwargs)

    return wrapper
