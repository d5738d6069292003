"""Labelled channels as :func:`~mne_specae.identify_channel_types` sees them, for
fitting and evaluating the channel-type head (:mod:`._type_fit`): the labels, the
training augmentation (other rates, shorter windows) and :func:`collect_type_data`.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..utils._checks import check_int
from ..utils._picks import pick_channels
from ._type_decide import BIOPOTENTIALS, LOW_RATE, NO_SIGNAL_KINDS, UNKNOWN
from ._type_features import FEATURE_NAMES, window_features
from ._type_windows import at_rate
from .channel_types import collect_channels, embed_channels

#: MNE types a type head can learn (stim is the rules' business).
HEAD_TYPES = ("ecg", "eeg", "emg", "eog", "resp", "bio", "gsr", "temperature", "misc", UNKNOWN)


def channel_label(ch_type, kind):
    """The head's label of a channel of MNE type ``ch_type`` and ``kind``: ``"ecg"``,
    ``"bio/ppg"``, ``"unknown/unconnected"`` (a no-signal kind, whatever the type), or
    ``""`` for channels the head does not learn (``stim``)."""
    kind = str(kind or "").strip().lower().replace("/", "_")
    if kind in NO_SIGNAL_KINDS:
        return f"{UNKNOWN}/{kind}"
    if ch_type not in HEAD_TYPES or ch_type == UNKNOWN:
        return ""
    if ch_type in BIOPOTENTIALS or not kind or kind == ch_type:
        return ch_type
    return f"{ch_type}/{kind}"


class TypeData:
    """Labelled channels as :func:`~mne_specae.identify_channel_types` sees them.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per channel: ``source``, ``recording``, ``channel``, ``true_type``,
        ``kind``, ``label`` (see :func:`channel_label`), ``sfreq``, ``rule`` (the
        rules' reason, empty when the channel reached the heads), ``stim``,
        ``n_windows`` (feature windows), ``n_items`` (embedded windows).
    channels : list of dict
        What the decision needs of each row (features, embeddings).
    """

    def __init__(self, table, channels):
        self.table = table.reset_index(drop=True)
        self.channels = list(channels)

    def __len__(self):
        return len(self.channels)

    def __repr__(self):
        counts = self.table["label"].replace("", "(rules)").value_counts().to_dict()
        return (
            f"<TypeData | {len(self)} channels of {self.table['source'].nunique()} "
            f"source(s): {counts}>"
        )

    def __add__(self, other):
        return TypeData(pd.concat([self.table, other.table]), self.channels + other.channels)

    def subset(self, mask):
        mask = np.asarray(mask, bool)
        return TypeData(self.table[mask], [c for c, m in zip(self.channels, mask) if m])


def _per_inst(value, n, name):
    if value is None:
        return [None] * n
    if isinstance(value, (dict, str)):
        value = [value]
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{name} must have one entry per recording ({n}), got {len(value)}.")
    return value


#: Rates (Hz) each training channel is also seen at (when its own rate is at least
#: 1.5 times higher), and the length (s) of the shorter windows it is also cut into
#: (where the window holds it twice): the head learns that an EMG at 200 Hz or a 10 s
#: EEG recording is still EMG or EEG.
#: The type head learns from the rows at 250, 100 and 32 Hz (and the channel's own
#: rate); the low-rate head (``LOW_RATE``) from those below 37.5 Hz, as a wearable
#: records a PPG or a breathing belt (25-32 Hz) and an EDA or a temperature (4-8 Hz:
#: the Empatica E4 at 4 Hz, the Affectiva Q of the Non-EEG dataset at 8 Hz; rows at
#: 8 Hz too were tried: leave one source out, the other types' specific type was
#: named for 0.629 of their channels against 0.640 without, EDA and temperature alike).
AUGMENT_RATES = (250.0, 100.0, 32.0, 25.0, 16.0, 4.0)
AUGMENT_SECONDS = (10.0,)
#: Shorter windows still (s) that only ECG, EEG and EMG channels are also cut into
#: (``biopotential_features``): a 5 s recording shows a biopotential's rhythm, QRS
#: complexes or bursts, but not a breath, an EDA response or a temperature's course
#: (those need 20 s: ``_type_guards.SLOW_MIN_SECONDS``).
BIOPOTENTIAL_SECONDS = (5.0,)
#: Augmented rates that only the low-rate head learns from (see ``training_rows``: the
#: type head taught them as well named more of MNE's short EEG test files EOG).
LOW_ONLY_RATES = (25.0, 16.0, 4.0)
#: The lowest rate the type head learns rows at (a channel's own rows included).
TYPE_HEAD_MIN_RATE = min(r for r in AUGMENT_RATES if r not in LOW_ONLY_RATES)
#: Types the low-rate head (channels below ``_type_decide.LOW_RATE``) does not learn:
#: they need a higher rate.
FAST_TYPES = ("ecg", "eeg", "emg", "eog")
#: Drifts added to a copy of each training window (and of its shorter windows), as
#: extra rows of ECG, EEG and EMG channels at their own rate (``biopotential_features``): a
#: DC-coupled amplifier (BioSemi, ANT, eXimia) records an electrode's slow drift and,
#: after it starts, a settling transient on every channel, far larger than the EEG
#: (in MNE's 5-11 s test files, 60-97 % of the power below 1.5 Hz). A drift changes no
#: biopotential's type, but a head that never saw one calls such EEG breathing or EDA.
#: Each copy gets a drift of ``DRIFT_SCALE`` (a log-uniform range) times the window's
#: standard deviation: an exponential settling (time constant ``DRIFT_TAUS`` s), a
#: linear trend and slow sines (below ``DRIFT_TOP`` Hz), mixed at random; ``None``: no
#: drifted rows. Leave one source out (2,165 channels of 16 sources), the ECG/EEG/EMG
#: balanced accuracy went from 0.792 to 0.811 with these rows and the 5 s windows
#: (drifts alone 0.801; 5 s windows alone, for every type, 0.801), and to 0.864 with
#: the EOG check sparing a drifting cap electrode
#: (``_type_guards.drifting_cap_electrode``); the other types' specific type named
#: 0.651 -> 0.648. Taught to every type (a breathing belt's or an EDA's signal
#: is as slow as a drift, so a drift replaces it) the rows named it for 0.602; drifts
#: up to 300 x: 0.810 instead of 0.812 (with 5 s windows for every type).
DRIFT_SCALE = (1.0, 100.0)
DRIFT_TAUS = (0.3, 10.0)
DRIFT_TOP = 0.2
#: Seed of the drifts (the rows of a channel are the same on every run).
DRIFT_SEED = 2021


def add_drift(windows, sfreq, rng):
    """``windows`` (``(n_windows, n)``) plus a slow drift each (see ``DRIFT_SCALE``);
    a new array."""
    x = np.asarray(windows, np.float64)
    n_win, n = x.shape
    t = np.arange(n) / sfreq
    sd = x.std(axis=1, keepdims=True)
    sd[~(sd > 0)] = 1.0
    tau = np.exp(rng.uniform(*np.log(DRIFT_TAUS), (n_win, 1)))
    settle = np.exp(-t / tau)
    trend = t / max(t[-1], 1e-9)
    freq = rng.uniform(0.0, DRIFT_TOP, (n_win, 3, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n_win, 3, 1))
    sines = np.sin(2 * np.pi * freq * t + phase).sum(axis=1)
    parts = np.stack([settle, np.broadcast_to(trend, x.shape), sines], axis=1)
    parts = parts - parts.mean(axis=2, keepdims=True)
    parts /= np.maximum(parts.std(axis=2, keepdims=True), 1e-12)
    weights = rng.normal(size=(n_win, 3, 1)) * (rng.random((n_win, 3, 1)) < 0.7)
    weights[np.abs(weights).sum(axis=(1, 2)) == 0, 0] = 1.0
    drift = (weights * parts).sum(axis=1)
    drift /= np.maximum(drift.std(axis=1, keepdims=True), 1e-12)
    scale = np.exp(rng.uniform(*np.log(DRIFT_SCALE), (n_win, 1)))
    return x + drift * scale * sd


def augment_features(windows, sfreq, band_top=None, context=None):
    """``(features, rates)``: feature rows of ``windows`` at lower rates and on shorter
    windows (see ``AUGMENT_RATES``, ``AUGMENT_SECONDS``; bands above ``band_top``, the
    recording's low-pass filter, missing; ``context``, the windows' peer features, kept
    as they are), and the rate of each row;
    ``(0, N_FEATURES)`` rows when none applies. The windows are resampled with zeros
    beyond their edges, as the shipped heads were taught (with each window's line
    continued instead, the leave-one-source-out balanced accuracy at the channels' own
    rates fell from 0.773 to 0.746)."""
    rows, rates = [], []
    for rate in AUGMENT_RATES:
        if sfreq >= 1.5 * rate:
            low, low_rate = at_rate(windows, sfreq, rate, padtype="constant")
            rows.append(window_features(low, low_rate, band_top, context))
            rates += [rate] * len(rows[-1])
    for n in _crops(windows, sfreq):
        rows.append(window_features(windows[:, :n], sfreq, band_top, context))
        rates += [sfreq] * len(rows[-1])
    if not rows:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0)
    return np.concatenate(rows), np.asarray(rates, float)


def _crops(windows, sfreq, seconds=None):
    """Lengths (samples) of the shorter windows (``seconds``, default
    ``AUGMENT_SECONDS``) that fit twice."""
    lengths = (int(round(s * sfreq)) for s in seconds or AUGMENT_SECONDS)
    return [n for n in lengths if windows.shape[1] >= 2 * n]


def biopotential_features(windows, sfreq, band_top=None, context=None):
    """Feature rows that only an ECG, EEG or EMG channel learns from
    (:func:`training_rows`), at ``sfreq``: its shorter windows of
    ``BIOPOTENTIAL_SECONDS``, then the windows and all their shorter windows with a
    drift added (:func:`add_drift`; none when ``DRIFT_SCALE`` is ``None``). A
    biopotential's signal lies above a drift's band, while a drift as large as a
    breathing, EDA or temperature trace replaces it."""
    if not len(windows) or windows.shape[1] < 8:
        return np.empty((0, len(FEATURE_NAMES)))
    rows = [
        window_features(windows[:, :n], sfreq, band_top, context)
        for n in _crops(windows, sfreq, BIOPOTENTIAL_SECONDS)
    ]
    if DRIFT_SCALE is not None:
        rng = np.random.default_rng(DRIFT_SEED)
        rows.append(window_features(add_drift(windows, sfreq, rng), sfreq, band_top, context))
        for n in _crops(windows, sfreq, AUGMENT_SECONDS + BIOPOTENTIAL_SECONDS):
            drifted = add_drift(windows[:, :n], sfreq, rng)
            rows.append(window_features(drifted, sfreq, band_top, context))
    return np.concatenate(rows) if rows else np.empty((0, len(FEATURE_NAMES)))


def training_augment(windows, sfreq, band_top=None, context=None):
    """The extra training rows of a channel's long windows, as :func:`collect_channels`
    keeps them: ``features_aug`` and ``rates_aug`` (:func:`augment_features`) and
    ``features_biopotential`` (:func:`biopotential_features`)."""
    features, rates = augment_features(windows, sfreq, band_top, context)
    extra = biopotential_features(windows, sfreq, band_top, context)
    return dict(features_aug=features, rates_aug=rates, features_biopotential=extra)


def below_low_rate(ch):
    """Whether a collected channel was judged below ``LOW_RATE`` (its own rate, or the
    one it was sampled at before a reader upsampled it): an ECG, EEG, EMG or EOG
    channel so slow teaches neither the type head nor the ECG/EEG/EMG heads (the low-
    rate head and the rate guard decide such channels)."""
    return ch.get("sfreq") is not None and ch["sfreq"] < LOW_RATE


def training_rows(ch, ch_type, *, low_rate=False):
    """A channel's training rows for the type head: its own feature windows and its
    augmented rows but those at ``LOW_ONLY_RATES`` (every row in data collected before
    the rates were kept; none of a biopotential or EOG judged below ``LOW_RATE``, none
    of any channel judged below ``TYPE_HEAD_MIN_RATE``); with
    ``low_rate``, for the low-rate head: its rows below
    ``LOW_RATE`` (none for ``FAST_TYPES``)."""
    feats, extra = ch["features"], ch.get("features_aug")
    sfreq, rates = ch.get("sfreq"), ch.get("rates_aug")
    if extra is None:
        extra, rates = feats[:0], np.empty(0)
    if not low_rate and (
        (ch_type in FAST_TYPES and below_low_rate(ch))
        or (sfreq is not None and sfreq < TYPE_HEAD_MIN_RATE)
    ):
        # no ECG, EEG, EMG or EOG below LOW_RATE (the rate guard), and no channel below
        # the rates the type head learns at: taught the 4 and 8 Hz wrist sensors of the
        # wearable sources (every band above 3.2 Hz missing, imputed), the type head
        # called most of UCI's gesture EMG temperature
        return feats[:0]
    if low_rate:
        if ch_type in FAST_TYPES or rates is None or sfreq is None:
            return feats[:0]
        own = feats if sfreq < LOW_RATE else feats[:0]
        return np.concatenate([own, extra[np.asarray(rates) < LOW_RATE]])
    if rates is not None and len(extra):
        rates = np.asarray(rates)
        extra = extra[~np.isin(rates, LOW_ONLY_RATES) | (rates == sfreq)]
    own = ch.get("features_biopotential")
    if ch_type in BIOPOTENTIALS and own is not None and len(own):
        extra = np.concatenate([extra, own])
    return np.concatenate([feats, extra]) if len(extra) else feats


@verbose
def collect_type_data(
    model,
    insts,
    *,
    types=None,
    kinds=None,
    sources=None,
    max_segments=30,
    augment=True,
    verbose=None,
):
    """Features, rules and embeddings of labelled channels, for fitting and evaluating.

    Parameters
    ----------
    model : SpecAE
        The encoder (its ``calibration_`` is not needed here).
    insts : mne.io.Raw | mne.Epochs | list
        Recordings whose channel types are the truth (``stim`` channels included:
        they test the rules; ``"misc"`` with a kind for motion or processed signals).
    types : list of dict | None
        Per recording, ``{channel: MNE type}`` overriding the file's types.
    kinds : list of dict | None
        Per recording, ``{channel: kind}`` (``"ppg"``, ``"abp"``, ``"accelerometer"``,
        ``"emg_envelope"``, ``"unconnected"``...). A no-signal kind
        (``"unconnected"``, ``"noise"``, ``"open"``) teaches ``"unknown"``.
    sources : list of str | None
        Per recording, its source (the unit held out by :func:`evaluate_types`);
        default: ``raw.info["description"]`` or ``"recording<k>"``.
    max_segments : int
        As in :func:`~mne_specae.identify_channel_types`.
    augment : bool
        Also compute each channel's features at lower rates (250, 100, 32, 25, 16 and
        4 Hz, where its rate is at least 1.5 times higher) and on 10 s windows, as
        extra training rows of the type head (250-32 Hz) and of the low-rate head
        (below 37.5 Hz; never used to evaluate the channel itself).
    %(verbose)s

    Returns
    -------
    data : TypeData
        Add two with ``+``.
    """
    if isinstance(insts, (mne.io.BaseRaw, mne.BaseEpochs)):
        insts = [insts]
    insts = list(insts)
    for k, inst in enumerate(insts):
        _validate_type(inst, (mne.io.BaseRaw, mne.BaseEpochs), f"insts[{k}]", "Raw or Epochs")
    max_segments = check_int(max_segments, "max_segments")
    types, kinds = _per_inst(types, len(insts), "types"), _per_inst(kinds, len(insts), "kinds")
    sources = _per_inst(sources, len(insts), "sources")
    rows, channels = [], []
    for k, inst in enumerate(insts):
        idx = pick_channels(inst.info, "all", default="all")
        recording = inst.info.get("description") or f"recording{k}"
        source = sources[k] or recording
        chs, _ = collect_channels(
            inst,
            idx,
            model,
            max_segments,
            slow_ok=True,
            augment=training_augment if augment else None,
            teach=True,
        )
        reached = [c for c in chs if not c["reason"]]
        if reached:
            feats, errors, owners = embed_channels(model, reached)
            for j, c in enumerate(reached):
                c["emb"], c["err"] = feats[owners == j], errors[owners == j]
        for c in chs:
            true = (types[k] or {}).get(c["name"], c["type"])
            kind = (kinds[k] or {}).get(c["name"], "") or ""
            c["items"] = None  # the embeddings are kept, not the windows
            rows.append(
                dict(
                    source=str(source),
                    recording=str(recording),
                    channel=c["name"],
                    true_type=true,
                    kind=str(kind),
                    label=channel_label(true, kind),
                    sfreq=float(inst.info["sfreq"]),
                    rule=c["reason"],
                    stim=bool(c["stim"]),
                    n_windows=0 if c["features"] is None else len(c["features"]),
                    n_items=len(c.get("emb", ())),
                )
            )
            channels.append(c)
        logger.info(f"collect_type_data: {recording} ({source}): {len(chs)} channel(s)")
    return TypeData(pd.DataFrame(rows), channels)
