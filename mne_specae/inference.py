"""A trained autoencoder applied to items: batches on the device, pooling, per-epoch
rows, and :class:`EncoderMethods`, the inference methods of
:class:`~mne_specae.SpecAE` (embed, transform, encode, reconstruct, ...)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._store_checks import checked
from .devices import cpu_threads, resolve_device, use_bf16, use_channels_last
from .items import ItemSet, as_epochs_list, item_set
from .logs import verbose_method

FEATURE_PREFIX = "specae_"

POOLINGS = ("mean", "max", "meanmax", "multiscale")
CHANNEL_AGGREGATIONS = ("mean", "concat")


def run_batches(model, stage, items, fn, *, device, batch_size, precision="fp32",
                channels_last=False):
    """Apply ``fn(model, images)`` to items in batches on the device; CPU tensors out.

    The model and the input stage go to the device for the call and back to the CPU
    afterwards (also when ``fn`` fails). On CUDA, ``precision`` and ``channels_last``
    mean what they mean in training (bf16 autocast, channels-last images and weights
    for a 2-D model), so a model is evaluated as it was trained; elsewhere they change
    nothing (fp32, the default layout). Outputs come back as float32.
    """
    device = resolve_device(device)
    cuda = device.type == "cuda"
    bf16 = cuda and use_bf16(precision, device)
    last = cuda and use_channels_last(channels_last, device) and getattr(model, "dim", 2) == 2
    model.to(device)
    stage.to(device)
    if last:
        model.to(memory_format=torch.channels_last)
    outs = []
    try:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16), \
                cpu_threads(device):
            for start in range(0, len(items), batch_size):
                images = stage.to_images(items[start : start + batch_size].to(device))
                if last and images.ndim == 4:
                    images = images.contiguous(memory_format=torch.channels_last)
                outs.append(fn(model, images).float().cpu())
    finally:
        model.cpu()
        stage.cpu()
    return outs


def pool(z, mode):
    """Pool a latent ``(batch, filters, *spatial)`` over space (a dense code passes)."""
    if z.ndim == 2:  # dense bottleneck
        return z
    dims = tuple(range(2, z.ndim))
    if mode in ("mean", "multiscale"):
        return z.mean(dims)
    if mode == "max":
        return z.amax(dims)
    return torch.cat([z.mean(dims), z.amax(dims)], dim=1)


def n_pooled_features(model, pooling, bottleneck):
    """Features per item that :func:`encode_items` gives."""
    if bottleneck is not None:
        return bottleneck
    if pooling == "multiscale":
        return sum(model.filters)
    return model.filters[-1] * (2 if pooling == "meanmax" else 1)


def encode_items(model, stage, items, *, pooling, with_error, device, batch_size,
                 precision="fp32", channels_last=False):
    """Pooled features of every item (and its reconstruction error, last column);
    ``precision`` and ``channels_last`` as for :func:`run_batches`."""

    def fn(model, images):
        if pooling == "multiscale" and model.to_code is None:
            blocks = model.encode_blocks(images)
            z = blocks[-1]
            features = torch.cat([pool(b, pooling) for b in blocks], dim=1)
        else:
            z = model.encode(images)
            features = pool(z, pooling)
        if not with_error:
            return features
        rec = model.decode(z, output_size=tuple(images.shape[2:]))
        error = (rec.float() - images.float()).square().flatten(1).mean(1, keepdim=True)
        return torch.cat([features.float(), error], dim=1)

    outs = run_batches(model, stage, items, fn, device=device, batch_size=batch_size,
                       precision=precision, channels_last=channels_last)
    return torch.cat(outs).numpy()


def per_epoch(values, n_epochs, n_channels):
    """``(n_items, ...)`` -> one ``(n_epochs, n_channels, ...)`` array per Epochs.

    ``n_channels`` holds the items per epoch of each Epochs (1 in the planes and
    stack modes).
    """
    out, row = [], 0
    for n_ep, k in zip(n_epochs, n_channels):
        out.append(values[row : row + n_ep * k].reshape(n_ep, k, *values.shape[1:]))
        row += n_ep * k
    return out


def aggregate(blocks, channel_agg):
    """Per-epoch rows from per-channel features: their mean, or concatenated."""
    if channel_agg == "mean":
        return np.concatenate([b.mean(axis=1) for b in blocks]).astype(np.float32)
    counts = {b.shape[1] for b in blocks}
    if len(counts) > 1:
        raise ValueError("channel_agg='concat' needs the same number of channels in "
                         f"every Epochs, got {sorted(counts)}.")
    return np.concatenate([b.reshape(len(b), -1) for b in blocks]).astype(np.float32)


class EncoderMethods:
    """What a fitted :class:`~mne_specae.SpecAE` does with data (a mixin: it reads the
    estimator's parameters and fitted attributes)."""

    def _check_data(self, X):
        check_is_fitted(self, "model_")
        sfreq = self.sfreq if self.sfreq is not None else self.sfreq_
        if self._separate():
            data = item_set(X, sfreq, self.picks)
        else:
            data = ItemSet(X, sfreq, None if as_epochs_list(X) is None else self.picks,
                           ch_names=None if as_epochs_list(X) is None else self.ch_names_)
        if data.sfreq != self.sfreq_ or data.n_times != self.n_times_:
            raise ValueError(
                f"This model was trained on segments of {self.n_times_} samples at "
                f"{self.sfreq_:g} Hz ({self.n_times_ / self.sfreq_:g} s); the data have "
                f"{data.n_times} samples at {data.sfreq:g} Hz. Cut them with "
                f"make_segments(raw, duration={self.n_times_ / self.sfreq_:g}, "
                f"sfreq={self.sfreq_:g})."
            )
        if self.n_channels_ is not None and any(c != self.n_channels_ for c in data.n_channels):
            raise ValueError(f"This model takes {self.n_channels_} channels per epoch "
                             f"(channel_mode={self.channel_mode!r}); got {data.n_channels}.")
        expected = self.n_features_out_ // n_pooled_features(
            self.model_, self.pooling, self.bottleneck)
        if (self.channel_agg == "concat" and self._separate()
                and any(c != expected for c in data.n_channels)):
            raise ValueError(f"channel_agg='concat': this model gives {expected} channels' "
                             f"features per epoch; the data have {data.n_channels} channels.")
        return data

    def _run_settings(self):
        """Precision and memory format of inference: those of training (on CUDA)."""
        return dict(precision=getattr(self, "precision", "fp32"),
                    channels_last=getattr(self, "channels_last", False))

    def _items_per_epoch(self, data):
        return data.n_channels if self._separate() else [1] * len(data.n_channels)

    def _encode(self, X, with_error):
        data = self._check_data(X)
        items, owner = data.items(self._separate())
        items = checked(items)  # a store's reads, for NaN/Inf (Epochs are checked)
        values = encode_items(
            self.model_, self.input_stage_, items, pooling=self.pooling,
            with_error=with_error, device=self.device, batch_size=self.batch_size_inference,
            **self._run_settings())
        return data, owner, values

    @verbose_method
    def embed(self, X, *, recon_error=True, verbose=None):
        """Embeddings and per-epoch reconstruction errors from one pass of the network.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`.
        recon_error : bool
            Also compute the reconstruction errors.
        %(verbose)s

        Returns
        -------
        embeddings : numpy.ndarray, shape (n_epochs, n_features)
            As :meth:`transform`.
        errors : numpy.ndarray, shape (n_epochs,) | None
            As :meth:`reconstruction_error` (``None`` with ``recon_error=False``).
        """
        data, owner, values = self._encode(X, recon_error)
        features = values[:, :-1] if recon_error else values
        blocks = per_epoch(features, data.n_epochs, self._items_per_epoch(data))
        embeddings = aggregate(blocks, self.channel_agg)
        if not recon_error:
            return embeddings, None
        errors = np.bincount(owner, weights=values[:, -1]) / np.bincount(owner)
        return embeddings, errors

    @verbose_method
    def encode(self, X, *, pooled=True, verbose=None):
        """Encoder output per epoch and channel.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`.
        pooled : bool
            Pooled features (default) or the full convolutional latent (e.g.
            64 x 30 x 40 for the study's 480 x 640 input: large).
        %(verbose)s

        Returns
        -------
        latent : numpy.ndarray | list of numpy.ndarray
            ``(n_epochs, n_channels, n_features)`` (pooled) or ``(n_epochs,
            n_channels, *latent_shape)``; ``n_channels`` is 1 in the planes and stack
            modes. A list (one array per Epochs) for a list.
        """
        if pooled:
            data, _, values = self._encode(X, False)
        else:
            data = self._check_data(X)
            items = checked(data.items(self._separate())[0])
            outs = run_batches(
                self.model_, self.input_stage_, items, lambda m, images: m.encode(images),
                device=self.device, batch_size=self.batch_size_inference,
                **self._run_settings())
            values = torch.cat(outs).numpy()
        blocks = per_epoch(values, data.n_epochs, self._items_per_epoch(data))
        return blocks if isinstance(X, (list, tuple)) else blocks[0]

    @verbose_method
    def reconstruction_error(self, X, verbose=None):
        """Mean squared reconstruction error of each epoch (over channels and pixels).

        High values flag segments unlike the training data (artefacts, other signal
        types).

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`.
        %(verbose)s

        Returns
        -------
        errors : numpy.ndarray, shape (n_epochs,)
            In the squared units of the network's (normalised) input.
        """
        return self.embed(X, recon_error=True)[1]

    def score(self, X, y=None):
        """Negative mean reconstruction error (higher is better), for model selection.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``-mean(reconstruction_error(X))``.
        """
        return -float(np.mean(self.reconstruction_error(X)))

    @verbose_method
    def reconstruct(self, X, *, return_input=False, verbose=None):
        """Reconstructed spectrograms as MNE objects.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs
            Segments; arrays are not accepted (no channel info to keep).
        return_input : bool
            Also return the network's input spectrograms (same normalised units).
        %(verbose)s

        Returns
        -------
        reconstruction : mne.time_frequency.EpochsTFRArray | list
            One per Epochs (a list for a list): ``(n_epochs, n_channels, height,
            width)`` for the channels the model uses, with the input stage's
            frequencies and frame times (after resize), in the normalised units the
            network sees. For ``model="1d"``: :class:`mne.EpochsArray` of
            reconstructed standardised waveforms.
        inputs : same type
            Only with ``return_input=True``.
        """
        from .reconstruction import reconstruct

        return reconstruct(self, X, return_input=return_input)

    def add_embeddings(self, epochs, *, prefix=FEATURE_PREFIX, recon_error=True, verbose=None):
        """Write embeddings (and reconstruction errors) into ``epochs.metadata``.

        See :func:`mne_specae.add_embeddings`.
        """
        from .embedding import add_embeddings

        return add_embeddings(epochs, self, prefix=prefix, recon_error=recon_error,
                              verbose=self.verbose if verbose is None else verbose)
