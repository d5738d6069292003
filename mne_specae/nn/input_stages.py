"""Input stages: what turns a batch of waveforms into the model's input, on the device.

An autoencoder never sees waveforms directly: an input stage makes its input from
them, per batch, on the device, so no image is ever stored. Two stages exist:
:class:`~mne_specae.Spectrogram` (images for :class:`~mne_specae.ConvAutoencoder2d`)
and :class:`WaveformInput` (standardised waveforms for
:class:`~mne_specae.ConvAutoencoder1d`). Both implement :class:`InputStage`, the one
interface the training engine, :class:`~mne_specae.SpecAE` and the model files use.
"""

from __future__ import annotations

import numpy as np
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


def standardize(x, dims):
    """Each item to mean 0, std 1 over ``dims`` (a constant item: centred, not scaled)."""
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


@torch.no_grad()
def fit_moments(waveforms, batch_size, values, dims):
    """Mean and std of each feature of ``values(batch)`` over ``dims``, batch by batch.

    ``waveforms`` (tensor, array or lazy rows such as ``StoreItems``) is read
    ``batch_size`` items at a time; each batch's moments are taken on its device in its
    dtype, centred per batch, and pooled in float64 on the host (MPS has no float64)
    with Chan et al.'s pairwise update. Returns ``(mean, std)``, float64 arrays.
    """
    if not hasattr(waveforms, "shape") or isinstance(waveforms, np.ndarray):
        waveforms = torch.as_tensor(waveforms)  # tensors and lazy rows: as they are
    count, mean, m2 = 0, 0.0, 0.0
    for start in range(0, waveforms.shape[0], batch_size):
        batch = values(waveforms[start : start + batch_size])
        batch_mean = batch.mean(dim=dims, keepdim=True)
        batch_m2 = (batch - batch_mean).square().sum(dim=dims)
        n = batch.numel() // batch_mean.numel()
        batch_mean = batch_mean.flatten().cpu().numpy().astype(np.float64)
        delta = batch_mean - mean  # Chan et al.'s pairwise update
        mean = mean + delta * n / (count + n)
        m2 = m2 + batch_m2.cpu().numpy().astype(np.float64) + delta**2 * count * n / (count + n)
        count += n
    if count == 0:
        raise ValueError("fit_normalization needs at least one training waveform.")
    return mean, np.sqrt(np.maximum(m2 / count, 0.0))


class DatasetStatistics:
    """Mixin of the input stages with ``normalize="dataset"``: statistics fitted on the
    training data (``norm_mean``, ``norm_std`` buffers) and saved with the model."""

    @property
    def needs_fitting(self):
        """Whether :meth:`fit_normalization` must see the training data first."""
        return self.normalize == "dataset"

    @torch.no_grad()
    def fit_normalization(self, waveforms, batch_size=256):
        """Fit the ``normalize="dataset"`` statistics on the training waveforms: the mean
        and std of each input channel (:class:`WaveformInput`) or of each image row, a
        frequency (:class:`~mne_specae.Spectrogram`).

        Parameters
        ----------
        waveforms : torch.Tensor | array | StoreItems, shape (n_items, [n_channels,] n_times)
            The training waveforms (read a batch at a time).
        batch_size : int
            Items per batch.

        Returns
        -------
        self : InputStage
            This stage.
        """
        self._fit_statistics(waveforms, batch_size)
        return self

    def _check_fitted(self, n_found, mismatch):
        """Raise unless statistics were fitted for ``n_found`` rows (``mismatch``: why not)."""
        if self.norm_mean.numel() == 0:
            raise RuntimeError(
                "normalize='dataset' needs statistics: call fit_normalization(waveforms) first."
            )
        if self.norm_mean.shape[0] != n_found:
            raise ValueError(mismatch)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("norm_mean", "norm_std"):  # fitted statistics: take the saved shape
            if prefix + name in state_dict and hasattr(self, name):
                saved, here = state_dict[prefix + name], getattr(self, name)
                setattr(self, name, torch.empty_like(saved, device=here.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class WaveformInput(DatasetStatistics, InputStage):
    """Input stage of the 1-D model: waveforms -> ``(batch, channels, n_times)``.

    Parameters
    ----------
    normalize : None | ``"item"`` | ``"dataset"``
        ``"item"``: standardise each item (all its channels together) to mean 0, std 1
        (recordings in different units become comparable, as the spectrogram's
        per-item normalisation does for the 2-D model). ``"dataset"``: one mean and
        std per input channel, fitted on the training waveforms
        (:meth:`fit_normalization`) and saved with the model: items keep their
        relative amplitudes (a recording in millivolts stays larger than one in
        microvolts). ``None``: the waveforms as they are.
    """

    def __init__(self, normalize="item"):
        super().__init__()
        _check_option("normalize", normalize, (None, "item", "dataset"))
        self.normalize = normalize
        if normalize == "dataset":  # (older files, never "dataset", have no such keys)
            self.register_buffer("norm_mean", torch.zeros(0))
            self.register_buffer("norm_std", torch.zeros(0))

    def get_config(self):
        """Constructor arguments (JSON-serialisable)."""
        return dict(normalize=self.normalize)

    def forward(self, x):
        """``(batch, n_times)`` or ``(batch, channels, n_times)`` -> 3-D float32."""
        x = self._as_3d(x)
        if self.normalize == "item":
            x = standardize(x, (1, 2))
        elif self.normalize == "dataset":
            self._check_fitted(
                x.shape[1],
                f"The dataset statistics were fitted for {self.norm_mean.shape[0]} "
                f"channel(s), these items have {x.shape[1]}.",
            )
            x = (x - self.norm_mean[:, None]) / self.norm_std[:, None]
        return x

    @staticmethod
    def _as_3d(x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"WaveformInput expects a torch.Tensor, got {type(x).__name__}; "
                "use torch.as_tensor(array)."
            )
        x = x.to(torch.float32)
        if x.ndim == 2:
            x = x.unsqueeze(1)
        if x.ndim != 3:
            raise ValueError(f"Expected (batch, [channels,] n_times), got {tuple(x.shape)}.")
        return x

    def _fit_statistics(self, waveforms, batch_size):
        """The mean and std of each input channel (only with ``normalize="dataset"``)."""
        if self.normalize != "dataset":
            return

        def channels(batch):  # (batch, channels, n_times); float64 on the CPU
            x = self._as_3d(batch)
            return x.double() if x.device.type == "cpu" else x

        mean, std = fit_moments(waveforms, batch_size, channels, dims=(0, 2))
        std = np.where(std > 0, std, 1.0)  # a flat channel: centred, not scaled
        device = self.norm_mean.device  # where the stage is (the training engine moves it)
        self.norm_mean = torch.as_tensor(mean, dtype=torch.float32).to(device)
        self.norm_std = torch.as_tensor(std, dtype=torch.float32).to(device)

    def to_images(self, x):
        """The model input: :meth:`forward`."""
        return self(x)

    def image_shape(self, n_times, n_channels=1):
        """Model input shape of one item: ``(n_channels, n_times)``."""
        return (n_channels, n_times)
