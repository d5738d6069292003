"""Convolutional autoencoders: the study's 2-D network and the 1-D model it planned next.

:class:`ConvAutoencoder2d` defaults to the study's network: an encoder of 4 x
[Conv2d 3x3, 64 filters, ReLU, MaxPool 2x2] (a 480 x 640 spectrogram becomes a
64 x 30 x 40 latent) and a decoder of 4 x [ConvTranspose2d 3x3, 64 filters, ReLU,
2x upsampling] followed by an output convolution back to the input planes.
:class:`ConvAutoencoder1d` is the same idea on waveforms ``(channels, n_times)``; its
input stage is :class:`~mne_specae.input_stages.WaveformInput`.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}
NORMS = (None, "batch", "instance", "group")


def _filters_per_layer(filters, n_layers):
    if isinstance(filters, Integral):
        filters = [int(filters)] * n_layers
    filters = [int(f) for f in filters]
    if len(filters) != n_layers:
        raise ValueError(f"filters has {len(filters)} entries for {n_layers} layers.")
    if any(f < 1 for f in filters):
        raise ValueError(f"filters must be >= 1, got {filters}.")
    return filters


def _norm_layer(norm, n_channels, dim):
    if norm is None:
        return nn.Identity()
    if norm == "batch":
        return (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)(n_channels)
    if norm == "instance":
        return (nn.InstanceNorm1d if dim == 1 else nn.InstanceNorm2d)(n_channels, affine=True)
    return nn.GroupNorm(math.gcd(8, n_channels), n_channels)


def _check_common(n_layers, kernel_size, activation, norm):
    if not isinstance(n_layers, Integral) or n_layers < 1:
        raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}.")
    if not isinstance(kernel_size, Integral) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 1, got {kernel_size!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}.")


class _ConvAutoencoder(nn.Module):
    """Shared logic of the 1-D and 2-D autoencoders (``dim`` spatial dimensions); its
    defaults are those of :class:`ConvAutoencoder2d` (the study's network)."""

    dim = 2

    def __init__(
        self,
        in_channels=1,
        n_layers=4,
        filters=64,
        kernel_size=3,
        pool_size=2,
        activation="relu",
        norm=None,
        bottleneck=None,
        input_size=None,
    ):
        super().__init__()
        _check_common(n_layers, kernel_size, activation, norm)
        if not isinstance(in_channels, Integral) or in_channels < 1:
            raise ValueError(f"in_channels must be an int >= 1, got {in_channels!r}.")
        if not isinstance(pool_size, Integral) or pool_size < 2:
            raise ValueError(f"pool_size must be an int >= 2, got {pool_size!r}.")
        self.in_channels = int(in_channels)
        self.n_layers = int(n_layers)
        self.filters = _filters_per_layer(filters, self.n_layers)
        self.kernel_size = int(kernel_size)
        self.pool_size = int(pool_size)
        self.activation = activation
        self.norm = norm
        self.bottleneck = None if bottleneck is None else int(bottleneck)
        self.input_size = (
            None
            if input_size is None
            else tuple(
                int(s) for s in ((input_size,) if isinstance(input_size, Integral) else input_size)
            )
        )
        if self.input_size is not None and len(self.input_size) != self.dim:
            raise ValueError(f"input_size must have {self.dim} entries, got {input_size!r}.")
        if self.bottleneck is not None and self.input_size is None:
            raise ValueError("A dense bottleneck needs input_size (the size of the inputs).")

        conv = nn.Conv1d if self.dim == 1 else nn.Conv2d
        deconv = nn.ConvTranspose1d if self.dim == 1 else nn.ConvTranspose2d
        pool = nn.MaxPool1d if self.dim == 1 else nn.MaxPool2d
        act = ACTIVATIONS[activation]
        pad = self.kernel_size // 2

        layers, previous = [], self.in_channels
        for n_out in self.filters:
            layers += [
                conv(previous, n_out, self.kernel_size, padding=pad),
                _norm_layer(norm, n_out, self.dim),
                act(),
                pool(self.pool_size),
            ]
            previous = n_out
        self.encoder = nn.Sequential(*layers)

        if self.bottleneck is not None:
            latent = self.latent_shape(self.input_size)
            n_flat = math.prod(latent)
            self.to_code = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, self.bottleneck))
            self.from_code = nn.Sequential(
                nn.Linear(self.bottleneck, n_flat), act(), nn.Unflatten(1, latent)
            )
        else:
            self.to_code = self.from_code = None

        mode = "nearest"
        layers = []
        for n_out in reversed(self.filters):
            layers += [
                deconv(previous, n_out, self.kernel_size, padding=pad),
                _norm_layer(norm, n_out, self.dim),
                act(),
                nn.Upsample(scale_factor=self.pool_size, mode=mode),
            ]
            previous = n_out
        layers.append(conv(previous, self.in_channels, self.kernel_size, padding=pad))
        self.decoder = nn.Sequential(*layers)

    # --------------------------------------------------------------- geometry
    @property
    def multiple(self):
        """Input sizes are padded to a multiple of this (``pool_size ** n_layers``)."""
        return self.pool_size**self.n_layers

    def padded_size(self, size):
        """Spatial size after padding up to a multiple of :attr:`multiple`.

        Raises a ``ValueError`` for a size the model's depth does not fit (see
        :meth:`check_input_size`).
        """
        size = self.check_input_size(size)
        return tuple(-(-s // self.multiple) * self.multiple for s in size)

    def check_input_size(self, size):
        """Refuse an input size smaller than :attr:`multiple` on any axis.

        Every axis is zero-padded up to a multiple of ``pool_size ** n_layers``.
        With a size of at least that multiple, the padding is less than the size
        itself (under 2x per axis) and the deepest layer pools real data; below it,
        the model mostly convolves zeros (``n_layers=10`` pads a 16 x 32 image to
        1024 x 1024: 2048 times the pixels).

        Parameters
        ----------
        size : int | tuple of int
            Spatial size of one input (``(height, width)``; ``n_times`` in 1-D).

        Returns
        -------
        size : tuple of int
        """
        size = (size,) if isinstance(size, Integral) else tuple(int(s) for s in size)
        if len(size) != self.dim or any(s < 1 for s in size):
            raise ValueError(
                f"Expected a spatial size of {self.dim} positive int(s), got {size!r}."
            )
        if min(size) >= self.multiple:
            return size
        padded = tuple(-(-s // self.multiple) * self.multiple for s in size)
        depth = 0  # the largest depth whose multiple fits the smallest axis
        while self.pool_size ** (depth + 1) <= min(size):
            depth += 1
        fix = (
            f"Use n_layers <= {depth} for this size, or a larger input (e.g. resize)."
            if depth >= 1
            else f"No depth fits an axis shorter than pool_size="
            f"{self.pool_size}: use a larger input (e.g. resize) or a smaller pool_size."
        )
        raise ValueError(
            f"n_layers={self.n_layers} with pool_size={self.pool_size} needs inputs of at "
            f"least {self.multiple} on every axis (pool_size ** n_layers); an input of "
            f"size {size} would be zero-padded to {padded}. {fix}"
        )

    def latent_shape(self, input_size):
        """Shape ``(filters[-1], *spatial)`` of the convolutional latent for one input."""
        padded = self.padded_size(input_size)
        return (self.filters[-1], *(s // self.multiple for s in padded))

    def get_config(self):
        """Constructor arguments that rebuild this model (JSON-serialisable)."""
        return dict(
            in_channels=self.in_channels,
            n_layers=self.n_layers,
            filters=list(self.filters),
            kernel_size=self.kernel_size,
            pool_size=self.pool_size,
            activation=self.activation,
            norm=self.norm,
            bottleneck=self.bottleneck,
            input_size=None if self.input_size is None else list(self.input_size),
        )

    # ---------------------------------------------------------------- compute
    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Expected a torch.Tensor, got {type(x).__name__}.")
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            what = (
                "(batch, channels, n_times)" if self.dim == 1 else "(batch, planes, height, width)"
            )
            raise ValueError(
                f"Expected input {what} with {self.in_channels} channel(s), got shape "
                f"{tuple(x.shape)}."
            )
        if self.input_size is not None and tuple(x.shape[2:]) != self.input_size:
            raise ValueError(
                f"This model was built for inputs of size {self.input_size} "
                f"(dense bottleneck), got {tuple(x.shape[2:])}."
            )

    def _pad(self, x):
        size = tuple(x.shape[2:])
        target = self.padded_size(size)
        if target == size:
            return x
        pads = []
        for s, t in zip(reversed(size), reversed(target)):
            pads += [0, t - s]  # pad at the end of each spatial axis, cropped back later
        return F.pad(x, pads)

    def encode(self, x):
        """Latent of ``x``: ``(batch, filters[-1], *spatial)``, or ``(batch, bottleneck)``."""
        self._check_input(x)
        z = self.encoder(self._pad(x))
        return z if self.to_code is None else self.to_code(z)

    def encode_blocks(self, x):
        """Output of every encoder block (after its pooling), shallowest first.

        The last entry is the convolutional latent (before a dense bottleneck).
        """
        self._check_input(x)
        h, outputs = self._pad(x), []
        for block in range(self.n_layers):
            h = self.encoder[4 * block : 4 * block + 4](h)
            outputs.append(h)
        return outputs

    def decode(self, z, output_size=None):
        """Reconstruction from a latent, cropped to ``output_size`` when given."""
        if self.from_code is not None:
            z = self.from_code(z)
        out = self.decoder(z)
        if output_size is not None:
            out = out[(..., *(slice(0, s) for s in output_size))]
        return out

    def forward(self, x):
        """Reconstruction of ``x`` (same shape)."""
        return self.decode(self.encode(x), output_size=tuple(x.shape[2:]))


class ConvAutoencoder2d(_ConvAutoencoder):
    """Convolutional autoencoder for spectrogram images (the study's network).

    Parameters
    ----------
    in_channels : int
        Input planes (1 for a power/dB spectrogram, 2 for complex, ``n_channels`` in
        the spectrogram's ``"planes"`` mode).
    n_layers : int
        Convolution + pooling blocks in the encoder (and upsampling blocks in the
        decoder). Study: 4.
    filters : int | list of int
        Filters per encoder layer (the decoder mirrors them). Study: 64.
    kernel_size : int
        Odd kernel size. Study: 3.
    pool_size : int
        Max-pooling / upsampling factor per layer. Study: 2.
    activation : str
        ``"relu"`` (study), ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"``, ``"tanh"``.
    norm : None | ``"batch"`` | ``"instance"`` | ``"group"``
        Normalisation after each convolution (study: none).
    bottleneck : int | None
        Optional dense layer of this size between encoder and decoder (needs
        ``input_size``).
    input_size : tuple of int | None
        ``(height, width)`` of the inputs; required with ``bottleneck``.

    Notes
    -----
    Inputs whose height or width is not a multiple of ``pool_size ** n_layers`` are
    zero-padded at the bottom/right and the reconstruction is cropped back, so any
    size of at least ``pool_size ** n_layers`` works (smaller ones are refused, see
    :meth:`check_input_size`); the latent then has ``ceil(size / 16)`` rows and
    columns (defaults). A 480 x 640 input gives a 64 x 30 x 40 latent.
    """

    dim = 2


class ConvAutoencoder1d(_ConvAutoencoder):
    """Convolutional autoencoder for raw waveform segments ``(channels, n_times)``.

    The 1-D counterpart of :class:`ConvAutoencoder2d`, for the study's planned
    comparison of waveform and spectrogram models.

    Parameters
    ----------
    in_channels : int
        Signal channels per item (1: one channel of one segment).
    n_layers : int
        Convolution + pooling blocks.
    filters : int | list of int
        Filters per encoder layer.
    kernel_size : int
        Odd kernel size in samples.
    pool_size : int
        Max-pooling / upsampling factor per layer (4: a 2560-sample segment becomes
        10 latent steps with the defaults).
    activation, norm, bottleneck, input_size
        As for :class:`ConvAutoencoder2d` (``input_size`` is ``n_times``).
    """

    dim = 1

    def __init__(
        self,
        in_channels=1,
        n_layers=4,
        filters=64,
        kernel_size=9,
        pool_size=4,
        activation="relu",
        norm=None,
        bottleneck=None,
        input_size=None,
    ):
        super().__init__(
            in_channels,
            n_layers,
            filters,
            kernel_size,
            pool_size,
            activation,
            norm,
            bottleneck,
            input_size,
        )


MODELS = {"ConvAutoencoder2d": ConvAutoencoder2d, "ConvAutoencoder1d": ConvAutoencoder1d}


def build_model(name, config):
    """Rebuild a model from its class name and :meth:`get_config` output."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; known: {sorted(MODELS)}.")
    return MODELS[name](**config)
