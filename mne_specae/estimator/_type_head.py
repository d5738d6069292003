"""The channel-type head: MNE channel types from rate-aware signal features.

A :class:`TypeHead` is a standardised multinomial logistic regression of one window's
features (:mod:`mne_specae.pretrained._type_features`: scale-free, computed at the
channel's own rate) into **labels**: an MNE channel type, or ``"type/kind"`` when a
type covers signals that look nothing alike (``"bio/ppg"``, ``"bio/abp"``,
``"misc/accelerometer"``, ``"misc/emg_envelope"``, ``"unknown/unconnected"``). A
type's probability is the sum over its labels. ECG, EEG and EMG are labels too; which
of the three a biopotential is, the encoder's own head decides
(:class:`~mne_specae.Calibration`), so the head only has to tell biopotentials from
the rest.

Robustness to sources it never saw:

* features missing at a channel's rate (bands above Nyquist) are imputed with the
  training mean (0 after standardisation): the rate itself is no feature;
* standardised features are clipped to ``+-CLIP``: one extreme value cannot decide;
* items are weighted so that every label, and every source within a label, weighs
  the same (a large source does not define its type);
* a channel whose features lie far from every label's centre (beyond what the
  training channels did, ``max_distance``) is ``"unknown"``.

It is stored as plain lists of numbers (``to_dict``), inside the calibration of the
model file (read with ``weights_only=True``).
"""

from __future__ import annotations

import numpy as np

TYPE_HEAD_VERSION = 1
#: Standardised features are clipped to this magnitude.
CLIP = 5.0
#: Quantile of the training channels' median distance, and the margin above it, that
#: sets ``max_distance``.
DISTANCE_QUANTILE = 0.99
DISTANCE_MARGIN = 1.5
#: Features added after heads were shipped, always the last columns, in this order
#: (``pretrained._type_context.CONTEXT_NAMES``; this floor cannot import it): a head
#: fitted without them (the type heads, and any head saved before them) ignores them.
LATER_FEATURES = ("peer_r_max", "peer_r_top3")


def label_type(label):
    """The MNE channel type of a label: ``"bio"`` for ``"bio/ppg"``."""
    return str(label).split("/", 1)[0]


def label_kind(label):
    """The kind of a label: ``"ppg"`` for ``"bio/ppg"``, ``""`` for ``"ecg"``."""
    parts = str(label).split("/", 1)
    return parts[1] if len(parts) == 2 else ""


def head_shapes_match(head, n_classes):
    """Whether a standardised linear head's arrays (``coef``, ``intercept``, ``mean``,
    ``scale``, ``centres``) agree with ``n_classes`` classes and ``coef``'s features."""
    n_rows, n_features = head.coef.shape
    return (
        n_rows == n_classes
        and head.mean.shape == (n_features,)
        and head.scale.shape == (n_features,)
        and head.intercept.shape == (n_classes,)
        and head.centres.shape == (n_classes, n_features)
    )


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    expo = np.exp(logits)
    return expo / expo.sum(axis=1, keepdims=True)


class TypeHead:
    """Channel-type labels from rate-aware features (see the module's notes).

    Attributes
    ----------
    labels : list of str
        ``"type"`` or ``"type/kind"``.
    feature_names : list of str
    mean, scale : numpy.ndarray, shape (n_features,)
    coef : numpy.ndarray, shape (n_labels, n_features)
    intercept : numpy.ndarray, shape (n_labels,)
    centres : numpy.ndarray, shape (n_labels, n_features)
        Mean standardised (clipped) features of each label.
    max_distance : float
    n_channels : dict
        Training channels per label.
    sources : list of str
        The sources it was fitted on.
    """

    def __init__(
        self,
        labels,
        feature_names,
        mean,
        scale,
        coef,
        intercept,
        centres,
        max_distance,
        n_channels,
        sources=(),
    ):
        self.labels = [str(v) for v in labels]
        self.feature_names = [str(v) for v in feature_names]
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.centres = np.asarray(centres, np.float64)
        self.max_distance = float(max_distance)
        self.n_channels = {str(k): int(v) for k, v in dict(n_channels).items()}
        self.sources = [str(v) for v in sources]
        n_labels, n_features = self.coef.shape
        if not head_shapes_match(self, len(self.labels)) or len(self.feature_names) != n_features:
            raise ValueError(
                "Inconsistent channel-type head: the shapes do not match "
                f"({n_labels} labels, {n_features} features)."
            )

    @property
    def types(self):
        """The MNE types of the labels, each once, in the order of ``labels``."""
        return list(dict.fromkeys(label_type(v) for v in self.labels))

    def __repr__(self):
        return (
            f"<TypeHead | {len(self.labels)} labels ({', '.join(self.labels)}), "
            f"{len(self.feature_names)} features>"
        )

    def nonfinite_fields(self):
        """Names of the fields holding NaN or Inf."""
        out = [
            name
            for name in ("mean", "scale", "coef", "intercept", "centres")
            if not np.isfinite(getattr(self, name)).all()
        ]
        return out + ([] if np.isfinite(self.max_distance) else ["max_distance"])

    def _columns(self, features):
        """``features`` as an array, without the ``LATER_FEATURES`` when the head was
        not fitted on them."""
        features = np.asarray(features, np.float64)
        later = len(LATER_FEATURES)
        if (
            features.ndim == 2
            and features.shape[1] == len(self.feature_names) + later
            and not set(LATER_FEATURES) & set(self.feature_names)
        ):
            features = features[:, :-later]
        return features

    def standardize(self, features):
        """Standardised, imputed (``nan`` -> 0) and clipped features."""
        features = self._columns(features)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(
                f"Expected {len(self.feature_names)} features per window, got shape "
                f"{features.shape}: the head was fitted on other features."
            )
        z = (features - self.mean) / self.scale
        return np.clip(np.nan_to_num(z, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)

    def predict_proba(self, features):
        """Label probabilities of each window, shape ``(n_windows, n_labels)``."""
        z = self.standardize(features)
        return _softmax(z @ self.coef.T + self.intercept)

    def distance(self, features):
        """RMS distance (over the features present) of each window to the nearest
        label centre."""
        features = self._columns(features)
        z = self.standardize(features)
        present = np.isfinite(features)
        n = np.maximum(present.sum(axis=1), 1)
        d2 = ((z[:, None, :] - self.centres[None]) ** 2 * present[:, None, :]).sum(axis=2)
        return np.sqrt(d2 / n[:, None]).min(axis=1)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, features, labels, channels, sources, *, feature_names, C=1.0, by_source=True):
        """Fit a head on windows.

        Parameters
        ----------
        features : numpy.ndarray, shape (n_windows, n_features)
        labels : array of str, shape (n_windows,)
            ``"type"`` or ``"type/kind"`` of each window.
        channels : array of str, shape (n_windows,)
            An identifier of each window's channel (for the distance threshold).
        sources : array of str, shape (n_windows,)
            Each window's source (for the weights).
        feature_names : list of str
        C : float
            Inverse regularisation strength.
        by_source : bool
            Weight items so that every source within a label weighs the same (else
            every label weighs the same, whatever its sources).
        """
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(features, np.float64)
        y = np.asarray(labels, str)
        channels, sources = np.asarray(channels, str), np.asarray(sources, str)
        classes = sorted(set(y))
        if len(classes) < 2:
            raise ValueError(f"A channel-type head needs at least two labels, got {classes}.")
        # a feature missing in every row (a band above every training row's Nyquist,
        # for the low-rate head) is imputed at 0 with a unit scale, without a warning
        seen = np.isfinite(X).any(axis=0)
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        mean[seen] = np.nanmean(X[:, seen], axis=0)
        scale[seen] = np.nanstd(X[:, seen], axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-8), scale, 1.0)
        weight = np.zeros(len(y))
        for c in classes:
            in_class = y == c
            srcs = np.unique(sources[in_class]) if by_source else [None]
            for s in srcs:
                sel = in_class & (sources == s) if by_source else in_class
                weight[sel] = 1.0 / (len(classes) * len(srcs) * sel.sum())
        weight *= len(y) / weight.sum()
        head = cls(
            classes,
            feature_names,
            mean,
            scale,
            np.zeros((len(classes), X.shape[1])),
            np.zeros(len(classes)),
            np.zeros((len(classes), X.shape[1])),
            np.inf,
            {},
            sorted(set(sources)),
        )
        Z = head.standardize(X)
        clf = LogisticRegression(C=C, max_iter=1000, tol=1e-3)
        clf.fit(Z, y, sample_weight=weight)
        coef, intercept = np.asarray(clf.coef_), np.asarray(clf.intercept_)
        if len(clf.classes_) == 2:  # one decision function: two opposite rows
            coef = np.concatenate([-coef / 2, coef / 2])
            intercept = np.concatenate([-intercept / 2, intercept / 2])
        order = [list(clf.classes_).index(c) for c in classes]
        head.coef, head.intercept = coef[order], intercept[order]
        head.centres = np.stack([Z[y == c].mean(axis=0) for c in classes])
        head.n_channels = {str(c): len(np.unique(channels[y == c])) for c in classes}
        distance = head.distance(X)
        medians = [np.median(distance[channels == ch]) for ch in np.unique(channels)]
        head.max_distance = DISTANCE_MARGIN * float(np.quantile(medians, DISTANCE_QUANTILE))
        return head

    # ------------------------------------------------------------------ files
    def to_dict(self):
        """Plain Python types only (for model files read with ``weights_only=True``)."""
        return dict(
            version=TYPE_HEAD_VERSION,
            labels=[str(v) for v in self.labels],
            feature_names=[str(v) for v in self.feature_names],
            mean=self.mean.tolist(),
            scale=self.scale.tolist(),
            coef=self.coef.tolist(),
            intercept=self.intercept.tolist(),
            centres=self.centres.tolist(),
            max_distance=float(self.max_distance),
            n_channels={str(k): int(v) for k, v in self.n_channels.items()},
            sources=[str(v) for v in self.sources],
        )

    @classmethod
    def from_dict(cls, state):
        """The inverse of :meth:`to_dict` (checks the version and the keys)."""
        if not isinstance(state, dict):
            raise ValueError(f"A channel-type head is a dict, got {type(state).__name__}.")
        if state.get("version") != TYPE_HEAD_VERSION:
            raise ValueError(
                f"Channel-type head version {state.get('version')!r}: this version of "
                f"mne-specae reads version {TYPE_HEAD_VERSION}."
            )
        keys = (
            "labels",
            "feature_names",
            "mean",
            "scale",
            "coef",
            "intercept",
            "centres",
            "max_distance",
            "n_channels",
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"Damaged channel-type head: missing {missing}.")
        return cls(**{k: state[k] for k in keys}, sources=state.get("sources", ()))
