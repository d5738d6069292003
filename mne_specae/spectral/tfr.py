"""Spectrograms of MNE objects: Epochs and Raw in, EpochsTFRArray and RawTFRArray out."""

from __future__ import annotations

import mne
import numpy as np
import torch
from mne.utils import logger, verbose

from ..utils._checks import check_int
from ..utils._devices import cpu_threads, resolve_device
from ..utils._picks import pick_channels
from .spectrogram import Spectrogram


@verbose
def compute_spectrogram(inst, *, picks=None, device="auto", batch_size=512, verbose=None, **kwargs):
    """Spectrograms of Epochs or Raw as MNE time-frequency objects.

    Parameters
    ----------
    inst : mne.Epochs | mne.io.Raw
        The segments (e.g. from :func:`~mne_specae.make_segments`) or a recording.
    picks : str | array-like | slice | None
        Channels, as in MNE (names, types, indices, ``"data"``, ``"all"``), with MNE's
        rule for bad channels: type and generic picks leave out the channels in
        ``info["bads"]``, channels named (or indexed) explicitly are kept even when
        bad. ``None``: every ECG, EEG and EMG channel and MNE's data channels (MEG,
        sEEG, ECoG, DBS, fNIRS...), not bad; never EOG, stim, misc or other
        auxiliary channels.
    device : str | torch.device
        Where to compute: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``.
    batch_size : int
        Channel-segments per batch sent to the device.
    %(verbose)s
    **kwargs
        Options of :class:`Spectrogram` (``n_fft``, ``hop_length``, ``window``,
        ``fmin``, ``fmax``, ``freq_scale``, ``n_freqs``, ``output``, ``top_db``,
        ``band_mode``, ``normalize``, ``resize``, ...). ``sfreq`` comes from ``inst``; only
        ``channel_mode="separate"`` applies (MNE objects are per channel).

    Returns
    -------
    tfr : mne.time_frequency.EpochsTFRArray | mne.time_frequency.RawTFRArray
        float32 data ``(n_epochs, n_channels, n_freqs, n_frames)`` (complex64 for
        ``output="complex"``), ``method="stft"``, ``freqs`` (Hz; band centres for
        log/mel axes) and ``times`` (frame centres, in the time base of ``inst``);
        after ``resize``, where the resized rows and columns lie
        (:meth:`Spectrogram.image_freqs`, :meth:`Spectrogram.image_times`).
        Epochs keep their info, events, event_id, metadata, selection and drop_log.
        Units (for signals in volts; recorded in ``tfr.info["temp"]``, which
        :func:`~mne_specae.viz.plot_spectrogram` reads): power V²/Hz
        (``scaling="density"``) or V² (``"spectrum"``), magnitude their square root,
        dB re 1 V²/Hz (or 1 V²); normalised images are unitless z-scores.
    """
    from mne.time_frequency import EpochsTFRArray, RawTFRArray

    if not isinstance(inst, (mne.BaseEpochs, mne.io.BaseRaw)):
        raise TypeError(
            f"compute_spectrogram takes mne.Epochs or mne.io.Raw, got {type(inst).__name__}. "
            "For arrays, use Spectrogram(sfreq)(torch.as_tensor(x))."
        )
    if kwargs.get("channel_mode", "separate") != "separate":
        raise ValueError(
            "compute_spectrogram returns one spectrogram per channel: "
            "channel_mode must be 'separate'."
        )
    if "sfreq" in kwargs:
        raise TypeError("sfreq comes from inst.info['sfreq']; do not pass it.")
    if kwargs.get("normalize") == "recording":
        raise ValueError(
            "normalize='recording' standardises each image with statistics of many "
            "segments of its recording: it is a setting of SpecAE (and of "
            "train_autoencoder with recordings=...), not of compute_spectrogram. Use "
            "normalize=None here and standardise the returned data as needed."
        )
    batch_size = check_int(batch_size, "batch_size")
    sg = Spectrogram(inst.info["sfreq"], **kwargs)
    dev = resolve_device(device)
    sg.to(dev)
    idx = pick_channels(inst.info, picks, default="data", with_ref_meg=False)
    info = mne.pick_info(inst.info, idx)
    n_times = len(inst.times)
    sg._check_length(n_times)
    shape = sg.output_shape(n_times, len(idx))
    complex_out = sg.output == "complex"
    freqs = sg.image_freqs()
    times = sg.image_times(n_times, tmin=inst.times[0])
    dtype = np.complex64 if complex_out else np.float32

    def run(batch):  # numpy (..., n_times) -> numpy (..., F, T)
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(dev)
        with torch.no_grad(), cpu_threads(dev):  # threads for a busy CPU
            out = sg(x)
        if complex_out:
            out = torch.complex(out[..., 0, :, :], out[..., 1, :, :])
        return out.cpu().numpy()

    from tqdm.auto import tqdm

    if isinstance(inst, mne.io.BaseRaw):
        data = np.empty((len(idx), *shape[-2:]), dtype)
        for row, ch in enumerate(
            tqdm(idx, desc="Spectrogram", unit="channel", disable=len(idx) < 8 or logger.level > 20)
        ):
            data[row] = run(inst.get_data(picks=[ch]))[0]
        return RawTFRArray(_with_units(info, sg), data, times, freqs, method="stft")

    n_epochs = len(inst)
    per_batch = max(1, batch_size // len(idx))
    data = np.empty((n_epochs, len(idx), *shape[-2:]), dtype)
    starts = range(0, n_epochs, per_batch)
    for start in tqdm(
        starts, desc="Spectrogram", unit="batch", disable=len(starts) < 8 or logger.level > 20
    ):
        stop = min(start + per_batch, n_epochs)
        data[start:stop] = run(inst.get_data(picks=idx, item=slice(start, stop)))
    logger.info(
        f"Spectrograms of {n_epochs} epochs x {len(idx)} channels: "
        f"{data.shape[-2]} freqs x {data.shape[-1]} frames ({sg.output}) on {dev}"
    )
    return EpochsTFRArray(
        _with_units(info, sg),
        data,
        times,
        freqs,
        method="stft",
        events=inst.events.copy(),
        event_id=dict(inst.event_id),
        selection=inst.selection.copy(),
        drop_log=inst.drop_log,
        metadata=None if inst.metadata is None else inst.metadata.copy(),
    )


def units_of(sg):
    """The units of a :class:`Spectrogram`'s output, for signals in volts."""
    if sg.normalize is not None:
        return "z-score (normalised)"
    density = sg.scaling == "density"
    power = "V²/Hz" if density else "V²"
    band = " (band sum)" if sg.freq_scale != "linear" and sg.band_mode == "sum" else ""
    return {
        "power": f"Power{band} ({power})",
        "magnitude": f"Magnitude{band} ({'V/√Hz' if density else 'V'})",
        "db": f"Power{band} (dB re 1 {power})",
        "complex": f"STFT ({'V/√Hz' if density else 'V'})",
    }[sg.output]


def _with_units(info, sg):
    """Record the units in ``info["temp"]`` (a copy's; it survives indexing and
    averaging, not saving), unless the caller keeps something else there."""
    temp = info.get("temp")
    if temp is None or isinstance(temp, dict):
        info["temp"] = {**(temp or {}), "mne_specae_units": units_of(sg)}
    return info
