"""Steps inside a fold of the downstream protocol: seeded copies, standardised features, scores."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone


def with_seed(estimator, seed):
    """A clone of ``estimator`` with ``random_state=seed`` where it has one."""
    estimator = clone(estimator)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


def balanced_accuracy(y_true, y_pred):
    """Balanced accuracy over the classes present in ``y_true`` (the mean recall; for a
    fold holding one class, its recall)."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))
