"""Input stages: what turns a batch of waveforms into the model's input, on the device.

An autoencoder never sees waveforms directly: an input stage makes its input from
them, per batch, on the device, so no image is ever stored. Two stages exist:
:class:`~mne_specae.Spectrogram` (images for :class:`~mne_specae.ConvAutoencoder2d`)
and :class:`WaveformInput` (standardised waveforms for
:class:`~mne_specae.ConvAutoencoder1d`). Both implement :class:`InputStage`, the one
interface the training engine, :class:`~mne_specae.SpecAE` and the model files use.
"""

from __future__ import annotations

import torch
from mne.utils import _check_option
from torch import nn


class InputStage(nn.Module):
    """The interface of an input stage (subclass it to add one).

    Attributes
    ----------
    channel_mode : str
        ``"separate"``: one item is one channel of one segment, ``(batch, n_times)``;
        ``"planes"``/``"stack"``: one item is one segment, ``(batch, n_channels,
        n_times)``.
    needs_fitting : bool
        Whether :meth:`fit_normalization` must run on the training data before use.
    """

    channel_mode = "separate"

    @property
    def needs_fitting(self):
        return False

    def get_config(self):
        """Constructor arguments that rebuild this stage (JSON-serialisable)."""
        raise NotImplementedError

    def image_shape(self, n_times, n_channels=1):
        """``(planes, *spatial)``: the model input of one item of ``n_times`` samples."""
        raise NotImplementedError

    def to_images(self, x):
        """Waveform batch -> model input ``(batch, planes, *spatial)``."""
        raise NotImplementedError

    def fit_normalization(self, waveforms, batch_size=256):
        """Fit statistics on the training waveforms (nothing to fit by default)."""
        return self


class WaveformInput(InputStage):
    """Input stage of the 1-D model: waveforms -> ``(batch, channels, n_times)``.

    Parameters
    ----------
    normalize : None | ``"item"``
        Standardise each item (all its channels together) to mean 0, std 1 —
        recordings in different units become comparable, as the spectrogram's
        per-item normalisation does for the 2-D model.
    """

    def __init__(self, normalize="item"):
        super().__init__()
        _check_option("normalize", normalize, (None, "item"))
        self.normalize = normalize

    def get_config(self):
        """Constructor arguments (JSON-serialisable)."""
        return dict(normalize=self.normalize)

    def forward(self, x):
        """``(batch, n_times)`` or ``(batch, channels, n_times)`` -> 3-D float32."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"WaveformInput expects a torch.Tensor, got {type(x).__name__}; "
                            "use torch.as_tensor(array).")
        x = x.to(torch.float32)
        if x.ndim == 2:
            x = x.unsqueeze(1)
        if x.ndim != 3:
            raise ValueError(f"Expected (batch, [channels,] n_times), got {tuple(x.shape)}.")
        if self.normalize == "item":
            mean = x.mean(dim=(1, 2), keepdim=True)
            std = x.std(dim=(1, 2), keepdim=True, unbiased=False)
            x = (x - mean) / torch.where(std > 0, std, torch.ones_like(std))
        return x

    def to_images(self, x):
        """The model input: :meth:`forward`."""
        return self(x)

    def image_shape(self, n_times, n_channels=1):
        """Model input shape of one item: ``(n_channels, n_times)``."""
        return (n_channels, n_times)


def build_input_stage(name, config):
    """Rebuild an input stage from its class name and :meth:`InputStage.get_config`."""
    from .spectrogram import Spectrogram

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
