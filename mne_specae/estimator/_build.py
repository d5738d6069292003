"""How a :class:`~mne_specae.SpecAE` builds its parts: input stage, network, channels."""

from __future__ import annotations

import torch
from mne.utils import _check_option, _validate_type, logger, warn

from ..nn.corruption import check_corruption
from ..nn.input_stages import WaveformInput
from ..nn.models import ConvAutoencoder1d, ConvAutoencoder2d
from ..spectral.spectrogram import Spectrogram
from ..training.options import check_spectrum_weight
from ..utils._checks import check_int, check_number, check_positive
from ._runner import CHANNEL_AGGREGATIONS, POOLINGS


def check_params(est):
    """The checks of ``est``'s parameters that ``fit`` makes before any data is read
    (the parts check the rest as they are built)."""
    _check_option("model", est.model, ("2d", "1d"))
    _check_option("pooling", est.pooling, POOLINGS)
    _check_option("channel_agg", est.channel_agg, CHANNEL_AGGREGATIONS)
    _validate_type(est.resume, bool, "resume")
    check_number(est.max_time, "max_time", minimum=0, strict=True, allow_none=True)
    if est.sfreq is not None:
        check_positive(est.sfreq, "sfreq")
    check_int(est.random_state, "random_state", minimum=0)
    check_int(est.batch_size_inference, "batch_size_inference")
    check_corruption(est.mask_fraction, est.noise_std, est.band_limit)
    check_spectrum_weight(est.spectrum_weight, 1 if est.model == "1d" else 2)
    if est.model == "1d" and est.normalize == "recording":
        raise ValueError(
            "normalize='recording' is implemented for the 2-D model (per-frequency "
            "statistics of each recording's spectrograms); model='1d' takes "
            "normalize=None, 'item' or 'dataset'."
        )


def warn_empty_band(est, stage, nyquist):
    """Warn when some recordings' spectrograms are empty above their Nyquist frequency
    (``nyquist``: the lowest, ``None`` when unknown) and training does not vary it."""
    if est.model != "2d" or nyquist is None or stage.fmax <= nyquist + 1e-6:
        return
    if est.band_limit:
        logger.info(
            f"Some recordings were sampled at {2 * nyquist:g} Hz: above {nyquist:g} Hz "
            f"their spectrograms are empty; band_limit={est.band_limit:g} empties such "
            "bands in training items at random, so that they do not mark a source."
        )
        return
    warn(
        f"Some recordings were sampled at {2 * nyquist:g} Hz: above {nyquist:g} Hz "
        f"their spectrograms are empty (fmax={stage.fmax:g} Hz), which a model can "
        f"use as a shortcut for the recording source. Set fmax <= {nyquist:g}, or "
        "train with band_limit > 0 (e.g. 0.5) so that empty bands stop marking sources."
    )


def input_stage(est, sfreq):
    """The input stage ``est`` describes, for data at ``sfreq``."""
    if est.model == "1d":
        return WaveformInput(normalize=est.normalize)
    return Spectrogram(
        sfreq,
        n_fft=est.n_fft,
        hop_length=est.hop_length,
        win_length=est.win_length,
        window=tuple(est.window) if isinstance(est.window, list) else est.window,
        fmin=est.fmin,
        fmax=est.fmax,
        freq_scale=est.freq_scale,
        n_freqs=est.n_freqs,
        output=est.output,
        top_db=est.top_db,
        normalize=est.normalize,
        resize=None if est.resize is None else tuple(est.resize),
        channel_mode=est.channel_mode,
        detrend=est.detrend,
        check_finite=False,
    )


def model(est, image_shape):
    """The untrained network of ``est`` for items of ``image_shape``, seeded with
    ``random_state`` (the caller's random state is left alone)."""
    planes, *size = image_shape
    cls = ConvAutoencoder1d if est.model == "1d" else ConvAutoencoder2d
    kwargs = dict(
        in_channels=planes,
        n_layers=est.n_layers,
        filters=est.filters,
        activation=est.activation,
        norm=est.norm,
        bottleneck=est.bottleneck,
        input_size=tuple(size) if est.bottleneck is not None else None,
    )
    if est.kernel_size is not None:
        kwargs["kernel_size"] = est.kernel_size
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(est.random_state)
        net = cls(**kwargs)
    net.latent_shape(tuple(size))  # refuses depths the input size cannot take
    return net


def fitted_channels(est, data):
    """``ch_names_``: the ordered channels of the planes/stack modes, else all used."""
    if not est._separate():
        first = data.ch_names[0]
        for names in data.ch_names[1:]:
            if names != first:
                raise ValueError(
                    f"channel_mode={est.channel_mode!r} needs the same channels, in "
                    f"the same order, in every Epochs; got {first} and {names}. Pick "
                    "them with picks=[...] or use channel_mode='separate'."
                )
        return list(first)
    return list(dict.fromkeys(ch for names in data.ch_names for ch in names))


def build_input_stage(name, config):
    """Rebuild an input stage from its class name and :meth:`InputStage.get_config`."""
    stages = {"Spectrogram": Spectrogram, "WaveformInput": WaveformInput}
    if name not in stages:
        raise ValueError(f"Unknown input stage {name!r}; known: {sorted(stages)}.")
    config = dict(config)
    for key in ("window", "resize"):  # JSON lists back to tuples
        if isinstance(config.get(key), list):
            config[key] = tuple(config[key])
    if name == "Spectrogram":
        config.setdefault("check_finite", False)
    return stages[name](**config)
