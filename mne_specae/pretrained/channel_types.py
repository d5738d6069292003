"""Channel types from the signal itself: :func:`identify_channel_types`.

Every reader types channels by their names, and EDF files often arrive with every
channel typed EEG. Here each channel is judged from its samples, in the steps of
:mod:`._type_decide`: rules at the channel's own rate (flat, tones -> ``"unknown"``;
triggers -> ``"stim"``; rectified envelopes -> ``"misc"``), a channel-type head on rate-aware, scale-free features
(:mod:`._type_features`, long windows at the channel's own rate: respiration, PPG,
EDA or temperature at 4 Hz are normal), and, for biopotentials, the encoder's own
head (ECG, EEG, EMG: windows resampled to the model's rate and embedded). A channel
is ``"unknown"`` when a rule says so, when a head is not sure, or when the channel
lies beyond what the model saw.
"""

from __future__ import annotations

from numbers import Integral

import mne
from mne.utils import _validate_type, logger, verbose, warn

from ..utils._checks import check_fraction, check_int
from ..utils._picks import pick_channels
from ._type_channels import _row, _table, collect_channels, decide_channels, embed_channels
from ._type_decide import UNKNOWN  # noqa: F401 (the CLI reads it here)
from ._type_guards import warn_low_rate
from .loading import resolve_model


@verbose
def identify_channel_types(
    inst, *, picks="all", model=None, max_segments=30, min_probability=0.7, verbose=None
):
    """Name each channel's MNE type from its signal, whatever its type now.

    The current channel types are ignored. The steps (details in
    :mod:`mne_specae.pretrained._type_decide`, the guards in
    :mod:`mne_specae.pretrained._type_guards`):

    Each channel is judged at the rate it was sampled at (column ``sfreq``): the
    recording's; for a channel that holds nothing above some frequency (a slow
    channel of a multi-rate file, upsampled when read: MNE's EDF reader does this by
    FFT), twice that frequency (the rules look at the samples as they are, within
    that band, and the heads at the windows resampled down to it on a copy); for a
    channel whose every sample is repeated ``k`` times (a stream forward-filled to a
    common rate), the recording's rate over ``k``, from every ``k``-th sample.

    1. **Rules**, on up to ``max_segments`` windows of the model's length at the
       channel's own rate (evenly spread; windows touching ``BAD`` annotations or NaN
       samples are left out): a flat channel, a single tone -> ``"unknown"``; a channel
       holding or jumping between a few levels (a trigger, status or marker line) ->
       ``"stim"``; a rectified envelope (never negative, resting at zero with bursts
       upward, not a pulse: an EMG envelope or RMS trace) -> ``"misc"``, kind
       ``"envelope"``.
    2. **The channel-type head** of the model (``model.calibration_.type_head``, see
       :func:`~mne_specae.calibrate_types`), on rate-aware, scale-free features of
       long windows (30 s) at the channel's own rate: ``"eog"``, ``"resp"``,
       ``"bio"`` (PPG, arterial pressure: see ``kind``), ``"gsr"`` (EDA),
       ``"temperature"``, ``"misc"`` (motion, processed signals), ``"unknown"`` (an
       unconnected input), or a biopotential. Low sampling rates (PPG at 64 Hz, EDA
       at 4 Hz) take this path as they are; below 37.5 Hz the low-rate head
       (``calibration_.low_rate_head``) decides, which learnt every type but the
       biopotentials and EOG at 32-4 Hz. A ``"bio"`` answer that does not beat at
       heart lags or has more fast power than a pulse, and a ``"resp"``, ``"gsr"`` or
       ``"temperature"`` answer on less than 20 s of signal, are ``"unknown"``.
    3. **The encoder's heads** (``model.calibration_``) tell ``"ecg"``, ``"eeg"`` and
       ``"emg"`` apart: the windows are resampled to the model's rate on a copy and
       embedded; the channel head (``calibration_.channel_head``) decides from their
       mean embedding and the channel's signal features (a model without one
       averages its items' probabilities). An ``"eeg"`` that may be EOG (blinks and
       saccades, no alpha or beta), or whose channel the recording declares EOG (its
       type, or "EOG" in its name), is ``"unknown"``, and so is an ``"ecg"``,
       ``"eeg"`` or ``"emg"`` too smooth for a biopotential (less than 1 %% of the
       power in 1.5-40 Hz above 10 Hz: a pulse, pressure or breathing wave), an
       ``"eeg"`` that beats like a heart, and an answer at a rate too low to carry
       its signal (below 37.5 Hz: no band above 10 Hz is left).

    A model without a type head (files written before it) goes from step 1 to
    step 3: slow channels are then ``"unknown"``. The object you pass is never
    changed. Fix the types in one line (``on_unit_change="ignore"``: MNE would
    otherwise warn that the units of the changed channels change, e.g. V to NA)::

        table = identify_channel_types(raw)
        raw.set_channel_types(table["ch_type"].to_dict(), on_unit_change="ignore")

    Parameters
    ----------
    inst : mne.io.Raw | mne.Epochs
        The recording. Epochs longer than a window give several windows each; shorter
        ones none.
    picks : str | list | slice
        Channels to identify (MNE's picks; ``"all"``: every channel, whatever its
        type). Bad channels are left out unless named. The channels picked together
        are each other's context (how strongly each moves with the others: an EEG
        electrode moves with its neighbours); one channel picked alone has none.
    model : SpecAE | str | path-like | None
        A fitted model with a ``calibration_`` (see :func:`~mne_specae.calibrate` and
        :func:`~mne_specae.calibrate_types`), its ``.specae`` file, or the name of a
        pretrained one; ``None``: :func:`~mne_specae.load_pretrained`
        (``"biosignals"``).
    max_segments : int
        At most this many model windows per channel, and a third as many 30 s feature
        windows (memory and time stay bounded on long recordings and many channels).
    min_probability : float
        Below this probability of the best type (or family) the channel is
        ``"unknown"``.
    %(verbose)s

    Returns
    -------
    table : pandas.DataFrame
        One row per channel, indexed by name: ``type`` (current), ``predicted`` (an
        MNE type or ``"unknown"``), ``kind`` (what kind of that type, e.g. ``"ppg"``
        or ``"abp"`` for ``"bio"``, ``"trigger"`` for ``"stim"``; empty when the head
        has none), ``ch_type`` (``predicted``, or the current type where
        ``"unknown"``: ready for :meth:`mne.io.Raw.set_channel_types`),
        ``probability`` (of the answer: the encoder's head's for ECG, EEG and EMG, the
        type head's otherwise; ``nan`` where a rule decided), ``second`` and
        ``second_probability`` (the runner-up of the same head), ``n_segments``
        (model windows used), ``sfreq`` (the rate the channel was judged at, Hz),
        ``reason`` (why ``"unknown"``, or the rule that named
        a ``"stim"`` or an envelope ``"misc"``; else empty), ``distance`` and ``error_z`` (how far
        the channel lies from the encoder's training data, see
        :class:`~mne_specae.Calibration`), ``feature_distance`` (the same for the type
        head's features), ``type_probability`` (the type head's probability of the
        answer's family, the biopotentials together for ECG, EEG and EMG; ``nan``
        without a type head), and the statistics of the rules (``flat_fraction``,
        ``held_fraction``, ``level_fraction``, ``fast_fraction``, ``tone_fraction``,
        and the envelope check's ``floor``, ``rest`` and ``periodic``).

    Notes
    -----
    ``"unknown"`` is given to channels shorter than one window, flat or tonal
    channels (before a model is asked), when the best type's probability is below
    ``min_probability``, when the distance or the error exceed the thresholds
    calibrated on the training channels, and to every channel the encoder's head
    judged when its calibration holds NaN or Inf values (a damaged model file:
    loading it warns; see :meth:`Calibration.nonfinite_fields
    <mne_specae.Calibration.nonfinite_fields>`). An ``"ecg"``, ``"eeg"`` or
    ``"emg"`` answer also becomes ``"unknown"`` when the channel lacks what such a
    signal must show (the guards of :mod:`mne_specae.pretrained._type_guards`), and
    when its name says another sensor (``"Pleth"``, ``"acc_x"``, ``"Resp"``: the
    name never decides a type on its own, but it stops a contradicting ``"ecg"``,
    ``"eeg"``, ``"emg"`` or ``"eog"``). The
    model card reports how often this is right on sources the heads never saw.
    """
    _validate_type(inst, (mne.io.BaseRaw, mne.BaseEpochs), "inst", "mne.io.Raw or mne.Epochs")
    model = resolve_model(model)
    calibration = getattr(model, "calibration_", None)
    if calibration is None:
        raise ValueError(
            "This model has no signal-type head (calibration_). Fit one with "
            "mne_specae.calibrate(model, labelled_epochs), or use "
            "model=None for the pretrained encoder."
        )
    if isinstance(max_segments, bool) or not isinstance(max_segments, Integral):
        raise TypeError(f"max_segments must be an int, got {max_segments!r}.")
    max_segments = check_int(max_segments, "max_segments")
    min_probability = check_fraction(min_probability, "min_probability")
    idx = pick_channels(inst.info, picks, default="all", log_bads=True)
    head = getattr(calibration, "type_head", None)
    channels, duration = collect_channels(inst, idx, model, max_segments, slow_ok=head is not None)
    sfreq = inst.info["sfreq"]
    if not channels:
        length = inst.n_times if isinstance(inst, mne.io.BaseRaw) else len(inst.times)
        warn(
            f"The data are shorter ({length / sfreq:.3g} s) than one {duration:g} s "
            "window: no channel can be identified."
        )
        rows = [
            _row(inst.ch_names[i], t, 0, f"shorter than one {duration:g} s window", sfreq=sfreq)
            for i, t in zip(idx, inst.get_channel_types(picks=idx))
        ]
        for row in rows:
            row["ch_type"] = row["type"]
        return _table(rows)

    def embed(chs):
        warn_low_rate(chs, model, head is not None)
        return embed_channels(model, chs)

    lower = [f"{ch['name']} ({ch['sfreq']:g} Hz)" for ch in channels if ch["sfreq"] < sfreq]
    if lower:
        logger.info(
            f"{len(lower)} channel(s) hold nothing above half a lower rate (upsampled when "
            f"read?) and are judged at it: {', '.join(lower)}"
        )
    table = _table(decide_channels(channels, calibration, embed, min_probability))
    counts = table["predicted"].value_counts().to_dict()
    logger.info(f"Identified {len(table)} channel(s): {counts}")
    return table
