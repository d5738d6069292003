"""Parameter checks shared by the modules, on MNE's validators.

Types are checked with :func:`mne.utils._validate_type`, choices with
:func:`mne.utils._check_option` (used directly where they are needed); these helpers
add the numeric ranges MNE has no validator for, with the same style of message.
"""

from __future__ import annotations

import math

from mne.utils import _ensure_int, _validate_type


def check_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum`` (bools refused)."""
    value = _ensure_int(value, name)
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return value


def check_number(value, name, *, minimum=None, strict=False, allow_none=False):
    """``value`` as a finite float, optionally ``> minimum`` (strict) or ``>= minimum``."""
    if value is None and allow_none:
        return None
    _validate_type(value, "numeric", name, "number" + (" or None" if allow_none else ""))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value:g}.")
    return value


def check_positive(value, name):
    """``value`` as a finite float > 0."""
    value = check_number(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value:g}.")
    return value


def check_fraction(value, name, *, closed=False):
    """``value`` as a float in ``[0, 1)`` (``closed``: ``[0, 1]``)."""
    value = check_number(value, name)
    if not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value:g}.")
    return value
