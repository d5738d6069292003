"""What a model knows about its training data, for judging new signals.

A :class:`Calibration` holds, for one fitted :class:`~mne_specae.SpecAE`:

* a **signal-type head**: a linear (multinomial logistic) classifier of the pooled
  embedding of one channel of one segment into ECG, EEG or EMG, fitted on labelled
  training items and stored as plain numbers (no pickled scikit-learn object);
* **references of the reconstruction error** per signal type: the median and a
  robust spread (the median absolute deviation, scaled to a standard deviation) of
  ``log10`` of each training item's error;
* **out-of-distribution thresholds** calibrated on the training channels: how far a
  channel's median error and its embedding's distance to the nearest type's centre
  may go before the model no longer knows what it sees.

:func:`calibrate` fits one on labelled Epochs and attaches it to the model
(``est.calibration_``); :meth:`SpecAE.save <mne_specae.SpecAE.save>` writes it into
the model file and :func:`~mne_specae.load_pretrained` returns the shipped model with
its own. :func:`~mne_specae.identify_channel_types` and
:func:`~mne_specae.annotate_unusual` read it.
"""

from __future__ import annotations

import numpy as np
from mne.utils import logger, verbose, warn

from ..segments import SIGNAL_TYPES
from ._items import as_epochs_list
from ._type_head import TypeHead, head_shapes_match

CALIBRATION_VERSION = 1
#: ``1.4826 * MAD`` estimates a standard deviation for normal data.
MAD_TO_STD = 1.4826
#: Quantile of the training channels' statistics that sets an OOD threshold, and the
#: margin above it (a channel must be clearly beyond what the training data did).
OOD_QUANTILE = 0.995
OOD_MARGIN = 1.5


def robust_location(values):
    """Median and ``1.4826 * MAD`` of ``values`` (the spread floored at 1e-6)."""
    values = np.asarray(values, float)
    median = float(np.median(values))
    spread = float(MAD_TO_STD * np.median(np.abs(values - median)))
    return median, max(spread, 1e-6)


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    expo = np.exp(logits)
    return expo / expo.sum(axis=1, keepdims=True)


class Calibration:
    """A signal-type head, error references and OOD thresholds for one model.

    Build one with :func:`calibrate`; the attributes are plain numbers so that it
    is saved in (and read from) a model file with ``weights_only=True``.

    Attributes
    ----------
    classes : list of str
        The signal types the head tells apart, e.g. ``["ecg", "eeg", "emg"]``.
    mean, scale : numpy.ndarray, shape (n_features,)
        Standardisation of the embedding.
    coef : numpy.ndarray, shape (n_classes, n_features)
    intercept : numpy.ndarray, shape (n_classes,)
        The linear head on standardised features.
    centres : numpy.ndarray, shape (n_classes, n_features)
        Mean standardised embedding of each class.
    error_reference : dict
        ``{signal_type: (median, spread)}`` of ``log10`` reconstruction errors of the
        training items (see :func:`robust_location`).
    max_distance : float
        Largest median distance (root-mean-square over standardised features) of a
        channel's embeddings to the nearest class centre that counts as known.
    max_error_z : float
        Largest robust z-score of a channel's median ``log10`` error, relative to the
        reference of its predicted type, that counts as known.
    n_items : dict
        Training items per class.
    type_head : TypeHead | None
        The channel-type head (MNE types from rate-aware features, see
        :func:`~mne_specae.calibrate_types`); ``None`` in models calibrated for ECG,
        EEG and EMG only.
    channel_head : TypeHead | None
        ECG, EEG or EMG of a whole channel from its mean embedding and its median
        rate-aware features (fitted with the type head); when present it replaces the
        items' averaged probabilities of the head above (its thresholds still apply).
    low_rate_head : TypeHead | None
        The channel-type head of channels sampled below 37.5 Hz (a wearable's PPG,
        motion, EDA or temperature; too slow for ECG, EEG and EMG), fitted on the
        training channels' features at such rates; ``None`` in files before it (the
        type head then decides them too).
    """

    #: The optional heads, in files since they were added.
    HEADS = ("type_head", "channel_head", "low_rate_head")

    def __init__(
        self,
        classes,
        mean,
        scale,
        coef,
        intercept,
        centres,
        error_reference,
        max_distance,
        max_error_z,
        n_items,
        type_head=None,
        channel_head=None,
        low_rate_head=None,
    ):
        self.type_head, self.channel_head = type_head, channel_head
        self.low_rate_head = low_rate_head
        self.classes = [str(c) for c in classes]
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.centres = np.asarray(centres, np.float64)
        self.error_reference = {
            str(k): (float(v[0]), float(v[1])) for k, v in error_reference.items()
        }
        self.max_distance = float(max_distance)
        self.max_error_z = float(max_error_z)
        self.n_items = {str(k): int(v) for k, v in n_items.items()}
        n_classes, n_features = self.coef.shape
        if not head_shapes_match(self, len(self.classes)):
            raise ValueError(
                "Inconsistent calibration: the head's shapes do not match "
                f"({n_classes} classes, {n_features} features)."
            )
        broken = self.nonfinite_fields()
        if broken:
            warn(
                f"This calibration holds non-finite values ({', '.join(broken)}): its "
                "answers cannot be trusted. identify_channel_types will call every "
                "channel 'unknown', and annotate_unusual refuses signal types whose "
                "error reference is not finite. Recalibrate the model: "
                "mne_specae.calibrate(model, labelled_epochs)."
            )

    def nonfinite_fields(self):
        """Names of the fields that hold NaN or Inf (an empty list when all are
        finite), e.g. ``["max_distance", "error_reference['ecg']"]``."""
        broken = [
            name
            for name in ("mean", "scale", "coef", "intercept", "centres")
            if not np.isfinite(getattr(self, name)).all()
        ]
        broken += [
            f"error_reference[{kind!r}]"
            for kind, values in self.error_reference.items()
            if not np.isfinite(values).all()
        ]
        broken += [
            name for name in ("max_distance", "max_error_z") if not np.isfinite(getattr(self, name))
        ]
        for name in self.HEADS:
            if getattr(self, name, None) is not None:
                broken += [f"{name}.{f}" for f in getattr(self, name).nonfinite_fields()]
        return broken

    @property
    def n_features(self):
        return self.coef.shape[1]

    def __repr__(self):
        counts = ", ".join(f"{c}: {self.n_items.get(c, 0)}" for c in self.classes)
        types = "" if self.type_head is None else f", type head {self.type_head.types}"
        return f"<Calibration | {self.n_features} features, items per type {counts}{types}>"

    # ------------------------------------------------------------------ scoring
    def _standardize(self, features):
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(
                f"Expected embeddings with {self.n_features} features, got "
                f"shape {features.shape}: the calibration belongs to another "
                "model."
            )
        return (features - self.mean) / self.scale

    def predict_proba(self, features):
        """Class probabilities of each item, shape ``(n_items, n_classes)``."""
        z = self._standardize(features)
        return _softmax(z @ self.coef.T + self.intercept)

    def distance(self, features):
        """RMS distance of each item's standardised embedding to the nearest centre."""
        z = self._standardize(features)
        d = np.sqrt(((z[:, None, :] - self.centres[None]) ** 2).mean(axis=2))
        return d.min(axis=1)

    def error_z(self, errors, signal_type):
        """Robust z-score of ``log10(errors)`` against the references of a type."""
        if signal_type not in self.error_reference:
            raise ValueError(
                f"No error reference for {signal_type!r}; this calibration "
                f"knows {sorted(self.error_reference)}."
            )
        median, spread = self.error_reference[signal_type]
        log_err = np.log10(np.maximum(np.asarray(errors, np.float64), 1e-12))
        return (log_err - median) / spread

    # ------------------------------------------------------------------ files
    def to_dict(self):
        """Plain Python types only (for model files read with ``weights_only=True``)."""
        return dict(
            version=CALIBRATION_VERSION,
            classes=list(self.classes),
            mean=self.mean.tolist(),
            scale=self.scale.tolist(),
            coef=self.coef.tolist(),
            intercept=self.intercept.tolist(),
            centres=self.centres.tolist(),
            error_reference={k: list(v) for k, v in self.error_reference.items()},
            max_distance=self.max_distance,
            max_error_z=self.max_error_z,
            n_items=dict(self.n_items),
        ) | {
            name: getattr(self, name).to_dict()
            for name in self.HEADS
            if getattr(self, name, None) is not None
        }

    @classmethod
    def from_dict(cls, state):
        """The inverse of :meth:`to_dict` (checks the version and the keys)."""
        if not isinstance(state, dict):
            raise ValueError(f"A calibration is a dict, got {type(state).__name__}.")
        version = state.get("version")
        if version != CALIBRATION_VERSION:
            raise ValueError(
                f"Calibration version {version!r}: this version of "
                f"mne-specae reads version {CALIBRATION_VERSION}."
            )
        keys = (
            "classes",
            "mean",
            "scale",
            "coef",
            "intercept",
            "centres",
            "error_reference",
            "max_distance",
            "max_error_z",
            "n_items",
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"Damaged calibration: missing {missing}.")
        heads = {  # optional: files before them have none
            name: None if state.get(name) is None else TypeHead.from_dict(state[name])
            for name in cls.HEADS
        }
        return cls(**{k: state[k] for k in keys}, **heads)


def channel_items(est, epochs):
    """Per-item embeddings and errors of Epochs, with the channel of each item
    (:meth:`SpecAE.embed_items <mne_specae.SpecAE.embed_items>` as a tuple).

    Returns
    -------
    features : numpy.ndarray, shape (n_items, n_features)
    errors : numpy.ndarray, shape (n_items,)
    channels : numpy.ndarray of str, shape (n_items,)
        The channel name of each item (items are epoch-major).
    """
    items = est.embed_items(epochs, recon_error=True)
    return items.features, items.errors, items.ch_names


def _multinomial_form(clf, classes):
    """One row of weights and one intercept per class, in the order of ``classes``.

    For two classes scikit-learn keeps a single decision function ``s`` (for
    ``clf.classes_[1]``); rows ``-s / 2`` and ``s / 2`` give the same probabilities
    through the softmax (``sigmoid(s)`` for the second class).
    """
    coef, intercept = np.asarray(clf.coef_), np.asarray(clf.intercept_)
    if len(clf.classes_) == 2 and coef.shape[0] == 1:
        coef = np.concatenate([-coef / 2, coef / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    order = [list(clf.classes_).index(c) for c in classes]
    return coef[order], intercept[order]


def fit_calibration(X, err, y, channel_id, *, C=0.1):
    """A :class:`Calibration` from items: embeddings ``X``, errors ``err``, signal
    types ``y`` and the channel of each item ``channel_id`` (see :func:`calibrate`)."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(y))
    if len(classes) < 2:
        raise ValueError(f"calibrate needs at least two signal types, got {classes}.")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-8] = 1.0
    Z = (X - mean) / scale
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    clf.fit(Z, y)
    coef, intercept = _multinomial_form(clf, classes)
    centres = np.stack([Z[y == c].mean(axis=0) for c in classes])
    log_err = np.log10(np.maximum(err, 1e-12))
    reference = {c: robust_location(log_err[y == c]) for c in classes}
    head = dict(classes=classes, mean=mean, scale=scale, coef=coef, intercept=intercept)
    n_items = {c: int((y == c).sum()) for c in classes}
    cal = Calibration(
        **head,
        centres=centres,
        error_reference=reference,
        max_distance=1.0,
        max_error_z=1.0,
        n_items=n_items,
    )  # thresholds set below
    # thresholds from the training channels, aggregated like identify_channel_types
    distance = cal.distance(X)
    dists, zs = [], []
    for cid in np.unique(channel_id):
        sel = channel_id == cid
        dists.append(np.median(distance[sel]))
        zs.append(np.median(cal.error_z(err[sel], y[sel][0])))
    cal.max_distance = OOD_MARGIN * float(np.quantile(dists, OOD_QUANTILE))
    cal.max_error_z = OOD_MARGIN * max(float(np.quantile(zs, OOD_QUANTILE)), 1.0)
    logger.info(
        f"Calibrated on {len(y)} items of {len(dists)} channels ({cal.n_items}); "
        f"max distance {cal.max_distance:.3g}, max error z {cal.max_error_z:.3g}"
    )
    return cal


@verbose
def calibrate(est, epochs, *, label="signal_type", C=0.1, verbose=None):
    """Fit a :class:`Calibration` for a fitted model on labelled Epochs.

    The head is a standardised multinomial logistic regression of each item's (one
    channel of one segment) embedding, with balanced class weights. Two or three
    signal types may be present (with two, e.g. EEG and ECG, the binary regression is
    stored as two opposite rows, so the softmax gives its probabilities). The thresholds
    come from the same items, aggregated per channel as
    :func:`~mne_specae.identify_channel_types` does: the median error and distance
    of each training channel; a threshold is ``OOD_MARGIN`` times the
    ``OOD_QUANTILE`` quantile of those values (for the error, of their robust
    z-scores).

    Parameters
    ----------
    est : SpecAE
        A fitted model (``channel_mode="separate"``).
    epochs : mne.Epochs | list of mne.Epochs
        Labelled segments, e.g. the model's training data.
    label : str
        Metadata column with each epoch's signal type (``"ecg"``, ``"eeg"``,
        ``"emg"``); every epoch of one Epochs must have one type.
    C : float
        Inverse regularisation strength of the logistic regression.
    %(verbose)s

    Returns
    -------
    calibration : Calibration
        Also stored as ``est.calibration_`` (a channel-type head of a previous
        calibration is not kept: fit it again with
        :func:`~mne_specae.calibrate_types`).
    """
    epochs_list = as_epochs_list(epochs)
    if epochs_list is None:
        raise TypeError(
            f"calibrate needs labelled mne.Epochs (or a list of them), got {type(epochs).__name__}."
        )
    if est.channel_mode != "separate":
        raise ValueError(
            "calibrate needs a model that embeds each channel on its own "
            f"(channel_mode='separate'), not {est.channel_mode!r}."
        )
    feats, errs, labels, channel_ids = [], [], [], []
    for k, ep in enumerate(epochs_list):
        if ep.metadata is None or label not in ep.metadata:
            raise ValueError(f"Epochs {k} has no '{label}' metadata column.")
        f, e, ch = channel_items(est, ep)
        per_epoch = len(f) // len(ep)
        values = np.repeat(ep.metadata[label].astype(str).to_numpy(), per_epoch)
        unknown = sorted(set(values) - set(SIGNAL_TYPES))
        if unknown:
            raise ValueError(
                f"Epochs {k}: '{label}' holds {unknown}; the head learns {list(SIGNAL_TYPES)}."
            )
        recording = np.repeat(
            ep.metadata["recording"].astype(str).to_numpy()
            if "recording" in ep.metadata
            else np.full(len(ep), str(k)),
            per_epoch,
        )
        feats.append(f)
        errs.append(e)
        labels.append(values)
        channel_ids.append(np.char.add(np.char.add(recording, ":"), ch.astype(str)))
    X, err = np.concatenate(feats), np.concatenate(errs)
    y, channel_id = np.concatenate(labels), np.concatenate(channel_ids)
    cal = fit_calibration(X, err, y, channel_id, C=C)
    est.calibration_ = cal
    return cal
