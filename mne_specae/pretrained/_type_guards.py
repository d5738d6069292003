"""Guards applied to an answer of :func:`~mne_specae.identify_channel_types` once it
is given (:mod:`._type_decide` gives it): physics that a channel of the answered type
must show, else the answer becomes ``"unknown"`` with a reason naming the guess.

The EOG guard, which spares a cap electrode under a drift, is in :mod:`._type_eog`.

**The smoothness guard.** ECG, EEG and EMG all have power above 10 Hz (the QRS
complex, beta activity, motor units); a pulse, a pressure or a breathing wave has
almost none. An ``"ecg"``, ``"eeg"`` or ``"emg"`` answer becomes ``"unknown"`` when
less than ``BIOPOTENTIAL_FAST`` (1 %) of the channel's power between 1.5 and 40 Hz
lies above 10 Hz (``fast_share``; bands above the usable Nyquist left out, no guard
when none above 10 Hz is left). On the corpus: one ECG lead of 113 below it (0.7 %;
the 2nd percentile 4 %), 46 of 54 PPG and arterial pressure channels (0-0.5 %) and
every respiration belt but two. And EEG does not beat: an ``"eeg"`` answer becomes
``"unknown"`` when the autocorrelation of the channel smoothed to about 16 Hz peaks
at heart lags (0.33-1.4 s, ``acf_heart``) at ``EEG_MAX_HEART`` (0.5) or more: on the
corpus every EEG channel stayed below 0.44 (99 % below 0.25), while arterial
pressure and PPG reach 0.6-0.9.

**The pulse guard.** A PPG or an arterial pressure (``"bio"``) is a smooth wave that
beats with the heart: a ``"bio"`` answer becomes ``"unknown"`` when the channel's
heart-lag autocorrelation is below ``BIO_MIN_HEART`` (0.15) or more than
``BIO_MAX_FAST`` (2 %) of its power in 1.5-40 Hz lies above 10 Hz. On the corpus
(leave one source out, with NeuroKit's files) 23 channels were called ``bio``
wrongly, 21 of them EEG of MNE's 5-11 s test files (eximia, EDF ``test_reduced``):
heart-lag autocorrelation 0-0.27 and 0.8-13.6 % of fast power; the 39 right ``bio``
answers had 0.18-0.93 and at most 1.5 %. Both thresholds were chosen on that
evaluation (its ICU plethysmograms and pressures, some during alarms, go down to
0.18), so its figures are optimistic by that choice.

**The length guard.** Breathing (6-30 breaths a minute), EDA (responses of 5-10 s on a
drifting level) and skin temperature only show over tens of seconds: a ``"resp"``,
``"gsr"`` or ``"temperature"`` answer becomes ``"unknown"`` when the channel's feature
windows (the whole recording or epoch when it is shorter than 30 s) last less than
``SLOW_MIN_SECONDS`` (20 s). On the corpus every respiration, EDA and temperature
channel came from recordings of a minute or more, while the 5-s EEG test files of
MNE's fixtures (158 channels, most of one DC-drifting file) were called ``resp``.

**The rate guard.** ECG, EEG and EMG are told apart from slow signals by their power
above 10 Hz (the QRS complex, beta activity, motor units), which a channel sampled
below ``BIOPOTENTIAL_MIN_RATE`` (37.5 Hz: the 10-15 Hz band below 0.8 x Nyquist, where
the features count a band) does not have, so the smoothness guard cannot check it: an
``"ecg"``, ``"eeg"`` or ``"emg"`` answer at such a rate becomes ``"unknown"`` (such
channels go to the low-rate head, which knows no biopotential; this guard covers
files without one). Wearables record PPG at 25-64 Hz, motion at 25-32 Hz, EDA and
temperature at 4 Hz; every corpus ECG, EEG and EMG source is sampled at 125 Hz or
more. On the corpus resampled to 32, 25 and 4 Hz (leave one source out), the heads
before it called 7-12 channels of other types ECG, EEG or EMG at each rate. A
stricter rate for EMG (100 Hz: surface EMG has most of its power in 20-150 Hz) was
tried and dropped: on the corpus's EMG resampled to 64 Hz it turned 341 right EMG
answers ``unknown`` and 5 wrong ones. The rate is the one a channel was sampled at
(:func:`._type_windows.sampled_rate`): a slow channel upsampled when its multi-rate
file was read counts at its own rate, not the file's.

**The name guard.** The name never decides a type, but a name that says the channel
records something else (``"Pleth"``, ``"acc_x"``, ``"Resp"``, ``"Temp"``, ``"RF RMS"``,
``"Status"``: :func:`~mne_specae.datasets.channels.sensor_from_name`) stops an answer
of an electrical potential, ``"ecg"``, ``"eeg"``, ``"emg"`` or ``"eog"``: it becomes
``"unknown"``, the reason names both, and ``ch_type`` keeps the recording's type. A
beating accelerometer, a ballistocardiogram or a heart-sound microphone looks like
ECG or EMG to the signal alone (on the corpus, leave one source out: BioSPPy's
accelerometer, BCG and PCG, the only channels of other types called biopotentials),
an E4's PPG at 64 Hz like EOG; their names say what they are.
"""

from __future__ import annotations

import numpy as np
from mne.utils import warn

from ..datasets.channels import sensor_from_name
from ._type_decide import BIOPOTENTIALS, LOW_RATE, UNKNOWN, _describe
from ._type_features import BANDS, FEATURE_NAMES, NYQUIST_USE, band_share

#: Least share of the power in 1.5-40 Hz above 10 Hz of a biopotential (see the notes).
BIOPOTENTIAL_FAST = 0.01
#: Highest heart-lag autocorrelation peak of an EEG channel (see the notes).
EEG_MAX_HEART = 0.5
#: Types that only show over tens of seconds, and the least length (s) of the feature
#: windows to name them: two breaths at 6 a minute; EDA's responses last 5-10 s over a
#: level that drifts for longer. Shorter recordings answer ``unknown`` (see the notes).
SLOW_TYPES = ("resp", "gsr", "temperature")
SLOW_MIN_SECONDS = 20.0
#: A ``bio`` answer (a pulse or pressure wave) needs a beat: a heart-lag
#: autocorrelation of at least this (see the notes) ...
BIO_MIN_HEART = 0.15
#: ... and a smooth wave: at most this share of the power in 1.5-40 Hz above 10 Hz.
BIO_MAX_FAST = 0.02
#: Least rate (Hz) of an ``"ecg"``, ``"eeg"`` or ``"emg"`` answer: the 10-15 Hz band
#: counts below ``NYQUIST_USE`` x Nyquist (see the notes).
BIOPOTENTIAL_MIN_RATE = 2 * BANDS[FEATURE_NAMES.index("logrel_10_15")][1] / NYQUIST_USE
assert BIOPOTENTIAL_MIN_RATE == LOW_RATE  # the low-rate head knows no biopotential


def fast_share(median_features):
    """Share of the power in 1.5-40 Hz that lies in 10-40 Hz (see the notes), ``nan``
    when no band above 10 Hz is below the usable Nyquist frequency."""
    if median_features is None:
        return np.nan
    first = median_features[FEATURE_NAMES.index("logrel_10_15")]
    total = band_share(median_features, 1.5, 40.0)
    if not np.isfinite(first) or total <= 0:
        return np.nan
    return band_share(median_features, 10.0, 40.0) / total


def smooth_guard(row, types, median_features):
    """An ECG, EEG or EMG answer made ``"unknown"`` when the channel is too smooth
    for a biopotential, or an EEG answer when the channel beats (see the notes; in
    place)."""
    predicted = row.get("predicted")
    if predicted not in BIOPOTENTIALS:
        return row
    share = fast_share(median_features)
    heart = np.nan
    if median_features is not None:
        heart = median_features[FEATURE_NAMES.index("acf_heart")]
    others = {t: p for t, p in (types or {}).items() if t not in BIOPOTENTIALS}
    hint = f"; the signal features' next guess: {_describe(others, 1)}" if others else ""
    if np.isfinite(share) and share < BIOPOTENTIAL_FAST:
        row["reason"] = (
            f"too smooth for {predicted.upper()} ({100 * share:.1f} % of the power "
            f"in 1.5-40 Hz above 10 Hz; a biopotential has at least "
            f"{100 * BIOPOTENTIAL_FAST:g} %): a pulse, pressure or breathing wave?{hint}"
        )
    elif predicted == "eeg" and heart >= EEG_MAX_HEART:
        row["reason"] = (
            f"beats like a heart (autocorrelation {heart:.2f} at heart lags; EEG stays "
            f"below {EEG_MAX_HEART:g}): a pulse or pressure wave, or ECG?{hint}"
        )
    if row["reason"]:
        row["predicted"] = UNKNOWN
    return row


def slow_guard(row, seconds):
    """A ``resp``, ``gsr`` or ``temperature`` answer made ``"unknown"`` when the
    channel's feature windows are shorter than :data:`SLOW_MIN_SECONDS` (in place)."""
    predicted = row.get("predicted")
    if predicted in SLOW_TYPES and seconds < SLOW_MIN_SECONDS:
        why = (
            # rounded down: 19.96 s must not read "20 s ... at least 20 s"
            f"too short to tell {predicted} ({np.floor(seconds * 10) / 10:g} s of signal; "
            f"breathing, EDA and temperature need at least {SLOW_MIN_SECONDS:g} s)"
        )
        _overrule(row, why, predicted)
    return row


def pulse_guard(row, median_features):
    """A ``bio`` answer made ``"unknown"`` when the channel does not beat at heart lags
    or has more fast power than a pulse or pressure wave (see the notes; in place)."""
    if row.get("predicted") != "bio" or median_features is None:
        return row
    heart = median_features[FEATURE_NAMES.index("acf_heart")]
    share = fast_share(median_features)
    if np.isfinite(heart) and heart < BIO_MIN_HEART:
        why = (
            f"does not beat (autocorrelation {heart:.2f} at heart lags; a pulse or "
            f"pressure wave has at least {BIO_MIN_HEART:g})"
        )
    elif np.isfinite(share) and share > BIO_MAX_FAST:
        why = (
            f"too fast for a pulse or pressure wave ({100 * share:.1f} % of the power in "
            f"1.5-40 Hz above 10 Hz; such a wave has at most {100 * BIO_MAX_FAST:g} %)"
        )
    else:
        return row
    return _overrule(row, why, "bio" + (f"/{row['kind']}" if row.get("kind") else ""))


def rate_guard(row, sfreq):
    """An ``"ecg"``, ``"eeg"`` or ``"emg"`` answer made ``"unknown"`` when the channel
    is sampled too slowly to carry (and check) that signal (see the notes; in place)."""
    predicted = row.get("predicted")
    if predicted not in BIOPOTENTIALS or sfreq is None or sfreq >= BIOPOTENTIAL_MIN_RATE:
        return row
    why = (
        f"sampled too slowly for {predicted.upper()} ({sfreq:g} Hz; ECG, EEG and EMG "
        "show in their power above 10 Hz (QRS complex, beta activity, motor units), "
        f"which needs at least {BIOPOTENTIAL_MIN_RATE:g} Hz)"
    )
    return _overrule(row, why, predicted, who="the model's")


def _overrule(row, why, guess, who="the features'"):
    """``row`` made ``"unknown"`` (no kind), its reason ``why`` and the guess (in place)."""
    row["reason"] = f"{why}: {who} guess was {guess} ({row.get('probability', np.nan):.2f})"
    row["predicted"], row["kind"] = UNKNOWN, ""
    return row


def name_guard(row, name):
    """An ``"ecg"``, ``"eeg"``, ``"emg"`` or ``"eog"`` answer made ``"unknown"`` when the
    channel's name says it records something else (in place; see the notes)."""
    predicted = row.get("predicted")
    sensor = sensor_from_name(name) if predicted in (*BIOPOTENTIALS, "eog") else None
    if sensor is not None:
        mne_type, kind = sensor
        said = f"{kind} ({mne_type})" if kind else mne_type
        _overrule(
            row,
            f"the name {str(name)!r} says {said}, the signal a biopotential (its type is "
            "kept; set it yourself if the name is wrong)",
            predicted,
            who="the model's",
        )
    return row


def warn_low_rate(channels, model, has_head):
    """Warn when channels the encoder judges lack the top of its input band."""
    fmax = getattr(model.input_stage_, "fmax", None)
    slow = [  # (below 37.5 Hz the rate guard answers for each channel)
        ch
        for ch in channels
        if fmax is not None and BIOPOTENTIAL_MIN_RATE <= ch["sfreq"] < 2 * fmax
    ]
    if not slow:
        return
    sfreq = min(ch["sfreq"] for ch in slow)
    names = [ch["name"] for ch in slow]
    who = (
        f"the channel(s) the type head calls biopotentials ({', '.join(names[:5])}"
        + (", ..." if len(names) > 5 else "")
        + ")"
        if has_head
        else "the channels"
    )
    warn(
        f"Sampled at {sfreq:g} Hz, a channel holds nothing above {sfreq / 2:g} Hz, but "
        f"the model's input reaches {fmax:g} Hz and it was trained on recordings that "
        "have that band (EMG has most of its power above 20 Hz). Which of ECG, EEG and "
        f"EMG {who} are is less reliable; check them."
    )
