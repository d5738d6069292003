"""MNE's verbosity convention for the methods of an estimator, and warnings of worker
processes.

MNE 1.13's :func:`mne.utils.verbose` no longer reads ``self.verbose``; this decorator
does: a method's own ``verbose`` argument wins, else the estimator's.

A joblib worker process prints its warnings itself, in Python's raw format (file,
line, source line), past the caller's formatting (the command line's one-line
``mne-specae: warning: ...``) and filters. :func:`collect_warnings` runs the work in
the worker and hands its warnings back with the result; :func:`reemit_warnings` warns
them again in the caller, with MNE's :func:`~mne.utils.warn`.
"""

from __future__ import annotations

import builtins
import functools
import warnings

from mne.utils import use_log_level, verbose, warn


def verbose_method(method):
    """MNE's ``verbose`` for methods: the call's ``verbose``, else ``self.verbose``."""
    method = verbose(method)  # fills %(verbose)s, checks the signature

    @functools.wraps(method)
    def wrapper(self, *args, verbose=None, **kwargs):
        level = verbose if verbose is not None else self.verbose
        with use_log_level(level):
            return method(self, *args, **kwargs)

    return wrapper


def collect_warnings(func, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` and keep the warnings it emits, instead of
    printing them (in a worker process).

    Returns
    -------
    result : object
        What ``func`` returned.
    caught : list of tuple
        ``(category name, message)`` of each warning, in order (plain strings: they
        cross process boundaries). Hand them to :func:`reemit_warnings`.
    """
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")  # the caller's filters decide, when re-emitted
        result = func(*args, **kwargs)
    return result, [(w.category.__name__, str(w.message)) for w in record]


def reemit_warnings(caught):
    """Warn, in this process, what :func:`collect_warnings` caught elsewhere.

    Each message goes through :func:`mne.utils.warn` (so it is formatted and filtered
    as this process's own warnings, and silenced by MNE's log level). Categories that
    are not built-in warning classes come back as ``RuntimeWarning``.
    """
    for name, message in caught:
        category = getattr(builtins, name, None)
        if not (isinstance(category, type) and issubclass(category, Warning)):
            category = RuntimeWarning
        warn(message, category)
