"""SpecAE: a scikit-learn compatible spectrogram autoencoder for MNE Epochs."""

from __future__ import annotations

import platform
from numbers import Real

import mne
import numpy as np
import torch
from mne.utils import logger, verbose, warn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .models import ConvAutoencoder1d, ConvAutoencoder2d, WaveformInput, build_model
from .spectrogram import Spectrogram, resolve_device
from .training import History, load_safely, save_atomic, train_autoencoder

MODEL_FORMAT = "mne-specae-model"
MODEL_FORMAT_VERSION = 1
POOLINGS = ("mean", "max", "meanmax", "multiscale")
CHANNEL_AGGREGATIONS = ("mean", "concat")


def _as_epochs_list(X):
    if isinstance(X, mne.BaseEpochs):
        return [X]
    if isinstance(X, (list, tuple)) and len(X) and all(isinstance(e, mne.BaseEpochs) for e in X):
        return list(X)
    return None


class _Data:
    """Waveforms of one input (Epochs, list of Epochs or array), as the model sees them."""

    def __init__(self, X, sfreq):
        epochs = _as_epochs_list(X)
        self.epochs = epochs
        if epochs is not None:
            rates = {float(e.info["sfreq"]) for e in epochs}
            lengths = {len(e.times) for e in epochs}
            if len(rates) > 1 or len(lengths) > 1:
                raise ValueError(
                    f"All Epochs must share one sampling rate and segment length; got "
                    f"{sorted(rates)} Hz and {sorted(lengths)} samples. Cut them with the "
                    "same make_segments(raw, duration=..., sfreq=...)."
                )
            self.sfreq = rates.pop()
            self.n_times = lengths.pop()
            self.n_channels = [len(e.ch_names) for e in epochs]
            self.n_epochs = [len(e) for e in epochs]
            if sum(self.n_epochs) == 0:
                raise ValueError("The Epochs hold no epoch.")
        else:
            if isinstance(X, (list, tuple)) and len(X) == 0:
                raise ValueError("X is an empty list.")
            if not isinstance(X, (np.ndarray, torch.Tensor)):
                raise TypeError(
                    f"X must be mne.Epochs, a list of Epochs, or an array (n_epochs, "
                    f"n_channels, n_times); got {type(X).__name__}."
                )
            if X.ndim != 3:
                raise ValueError(f"An array X must be (n_epochs, n_channels, n_times), got "
                                 f"shape {tuple(X.shape)}.")
            if sfreq is None:
                raise ValueError("X is an array: set SpecAE(sfreq=...) to its sampling rate.")
            self.array = X
            self.sfreq = float(sfreq)
            self.n_times = X.shape[-1]
            self.n_channels = [X.shape[1]]
            self.n_epochs = [X.shape[0]]

    def blocks(self):
        """Yield (index of the Epochs, float32 array (n_epochs, n_channels, n_times))."""
        if self.epochs is None:
            data = self.array
            data = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data
            yield 0, np.asarray(data, dtype=np.float32)
            return
        for k, ep in enumerate(self.epochs):
            yield k, ep.get_data(picks="all").astype(np.float32)

    def groups(self):
        """Group label of each epoch (subject, else recording), or None."""
        if self.epochs is None:
            return None
        labels = []
        for k, ep in enumerate(self.epochs):
            md = ep.metadata
            if md is not None and "subject" in md and not (md["subject"] == "unknown").all():
                labels.append(md["subject"].astype(str).to_numpy())
            elif md is not None and "recording" in md:
                labels.append(md["recording"].astype(str).to_numpy())
            else:
                labels.append(np.full(len(ep), f"epochs-{k}"))
        return np.concatenate(labels)

    def lowest_nyquist(self):
        if self.epochs is None:
            return None
        rates = [e.metadata["sfreq_orig"].min() for e in self.epochs
                 if e.metadata is not None and "sfreq_orig" in e.metadata]
        return min(rates) / 2 if rates else None


class SpecAE(TransformerMixin, BaseEstimator):
    """Spectrogram autoencoder for MNE Epochs (scikit-learn compatible).

    Turns each channel of each segment into a spectrogram on the device, trains a
    convolutional autoencoder to reconstruct it, and gives pooled encoder features
    as embeddings. The unit of training is one channel of one segment, so Epochs of
    different modalities and channel sets train together.

    Parameters
    ----------
    model : ``"2d"`` | ``"1d"``
        ``"2d"``: :class:`~mne_specae.ConvAutoencoder2d` on spectrograms (the study);
        ``"1d"``: :class:`~mne_specae.ConvAutoencoder1d` on standardised waveforms (the
        study's planned comparison; spectrogram settings are then unused).
    n_fft, hop_length, win_length, window, fmin, fmax, freq_scale, n_freqs, output, top_db, detrend
        Spectrogram settings, see :class:`~mne_specae.Spectrogram`. Defaults: 0.5 s
        Hann windows every 40 samples, 0-Nyquist, dB with 80 dB range, no detrending.
    normalize : ``"item"`` | ``"dataset"`` | None
        Per-image z-score (default: robust to recordings in different units), fixed
        per-frequency statistics fitted on the training data, or none.
    resize : tuple of int | None
        ``(height, width)`` of the network's input images. Default ``(64, 64)``; the
        study used ``(480, 640)``.
    channel_mode : ``"separate"`` | ``"planes"`` | ``"stack"``
        One image per channel (default), channels as image planes, or channels stacked
        along frequency (the last two need the same channels in every Epochs).
    n_layers, filters, kernel_size, activation, norm, bottleneck
        Network settings, see :class:`~mne_specae.ConvAutoencoder2d`; the defaults are
        the study's network (4 layers of 64 3x3 filters). ``kernel_size=None`` takes
        the model's default (3 for 2-D, 9 for 1-D).
    max_epochs, batch_size, lr, patience, val_fraction, scheduler, precision
        Training settings, see :func:`~mne_specae.training.train_autoencoder`
        (Adam, MSE, validation split grouped by subject, early stopping).
    pooling : ``"mean"`` | ``"max"`` | ``"meanmax"`` | ``"multiscale"``
        How the encoder's latent (e.g. 64 x 4 x 4) is pooled over space into the
        embedding (64 features; 128 for ``"meanmax"``). ``"multiscale"``: the
        spatial mean of every encoder block's output, concatenated (``sum(filters)``
        features, e.g. 4 x 32 = 128): the shallow blocks keep fine spectral and
        temporal detail (such as the sharp broadband columns of heart beats) that the
        deepest, 16x-downsampled latent averages away. With a dense ``bottleneck``
        the embedding is the bottleneck whatever the pooling.
    channel_agg : ``"mean"`` | ``"concat"``
        Multi-channel epochs: average the channels' embeddings (default), or
        concatenate them (per-channel features; needs equal channel counts).
    sfreq : float | None
        Sampling rate of array inputs (Epochs carry their own).
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ...
    random_state : int
        Seed of the initial weights, the validation split and the batch order.
    checkpoint : str | None
        Checkpoint file, rewritten after every epoch. When it exists, :meth:`fit`
        resumes from it (an interrupted run continues; a finished run is not trained
        further); a checkpoint of other data or another seed is refused.
    batch_size_inference : int
        Items per batch in transform/reconstruct.
    verbose : bool | str | int | None
        Default verbosity of the methods (MNE's convention).

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained autoencoder (on the CPU after fitting).
    input_stage_ : Spectrogram | WaveformInput
        The input stage, with fitted normalisation statistics.
    history_ : History
        Losses, timing and throughput per epoch.
    n_features_out_ : int
        Columns of :meth:`transform` for single-channel input.
    sfreq_, n_times_ : float, int
        What the model was trained on; inputs must match.
    """

    def __init__(
        self,
        model="2d",
        *,
        n_fft=256,
        hop_length=40,
        win_length=None,
        window="hann",
        fmin=0.0,
        fmax=None,
        freq_scale="linear",
        n_freqs=None,
        output="db",
        top_db=80.0,
        detrend=None,
        normalize="item",
        resize=(64, 64),
        channel_mode="separate",
        n_layers=4,
        filters=64,
        kernel_size=None,
        activation="relu",
        norm=None,
        bottleneck=None,
        max_epochs=50,
        batch_size=64,
        lr=1e-3,
        patience=5,
        val_fraction=0.2,
        scheduler=None,
        precision="auto",
        pooling="mean",
        channel_agg="mean",
        sfreq=None,
        device="auto",
        random_state=0,
        checkpoint=None,
        batch_size_inference=256,
        verbose=None,
    ):
        self.model = model
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.fmin = fmin
        self.fmax = fmax
        self.freq_scale = freq_scale
        self.n_freqs = n_freqs
        self.output = output
        self.top_db = top_db
        self.detrend = detrend
        self.normalize = normalize
        self.resize = resize
        self.channel_mode = channel_mode
        self.n_layers = n_layers
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.norm = norm
        self.bottleneck = bottleneck
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.scheduler = scheduler
        self.precision = precision
        self.pooling = pooling
        self.channel_agg = channel_agg
        self.sfreq = sfreq
        self.device = device
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.batch_size_inference = batch_size_inference
        self.verbose = verbose

    # ------------------------------------------------------------- building
    def _check_params(self):
        if self.model not in ("2d", "1d"):
            raise ValueError(f"model must be '2d' or '1d', got {self.model!r}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if self.channel_agg not in CHANNEL_AGGREGATIONS:
            raise ValueError(f"channel_agg must be one of {CHANNEL_AGGREGATIONS}, got "
                             f"{self.channel_agg!r}.")
        if self.sfreq is not None and (not isinstance(self.sfreq, Real) or self.sfreq <= 0):
            raise ValueError(f"sfreq must be a positive number or None, got {self.sfreq!r}.")

    def _build_input_stage(self, sfreq):
        if self.model == "1d":
            return WaveformInput(normalize="item" if self.normalize else None)
        return Spectrogram(
            sfreq, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
            window=tuple(self.window) if isinstance(self.window, list) else self.window,
            fmin=self.fmin, fmax=self.fmax, freq_scale=self.freq_scale,
            n_freqs=self.n_freqs, output=self.output, top_db=self.top_db,
            normalize=self.normalize,
            resize=None if self.resize is None else tuple(self.resize),
            channel_mode=self.channel_mode, detrend=self.detrend, check_finite=False,
        )

    def _build_model(self, image_shape):
        planes, *size = image_shape
        cls = ConvAutoencoder1d if self.model == "1d" else ConvAutoencoder2d
        kwargs = dict(in_channels=planes, n_layers=self.n_layers, filters=self.filters,
                      activation=self.activation, norm=self.norm, bottleneck=self.bottleneck,
                      input_size=tuple(size) if self.bottleneck is not None else None)
        if self.kernel_size is not None:
            kwargs["kernel_size"] = self.kernel_size
        return cls(**kwargs)

    def _items(self, data):
        """All waveforms as one float32 tensor of items, and each item's epoch index."""
        separate = self._separate()
        n_channels = data.n_channels
        if not separate and len(set(n_channels)) > 1:
            raise ValueError(
                f"channel_mode={self.channel_mode!r} needs the same channels in every "
                f"Epochs; got {sorted(set(n_channels))} channels. Use channel_mode='separate'."
            )
        n_items = sum(e * (c if separate else 1) for e, c in zip(data.n_epochs, n_channels))
        shape = (n_items, data.n_times) if separate else (n_items, n_channels[0], data.n_times)
        items = torch.empty(shape, dtype=torch.float32)
        owner = np.empty(n_items, dtype=np.int64)
        row = epoch0 = 0
        for _, block in data.blocks():
            n_ep, n_ch = block.shape[:2]
            flat = block.reshape(-1, data.n_times) if separate else block
            items[row : row + len(flat)] = torch.from_numpy(flat)
            owner[row : row + len(flat)] = epoch0 + np.repeat(np.arange(n_ep), n_ch if separate else 1)
            row += len(flat)
            epoch0 += n_ep
        if not bool(torch.isfinite(items).all()):
            raise ValueError("The data hold NaN/Inf samples; make_segments drops such segments.")
        return items, owner

    # -------------------------------------------------------------------- fit
    @verbose
    def fit(self, X, y=None, groups=None, *, verbose=None):
        """Train the autoencoder.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array, shape (n_epochs, n_channels, n_times)
            Segments (e.g. from :func:`~mne_specae.make_segments`). Lists may mix
            modalities and channel sets (``channel_mode="separate"``).
        y : None
            Ignored (unsupervised); present for scikit-learn pipelines.
        groups : array-like | None
            Group of each epoch for the validation split. Default for Epochs: the
            ``subject`` metadata column, else ``recording``; for arrays: none (a random
            split of items).
        %(verbose)s

        Returns
        -------
        self : SpecAE
        """
        self._check_params()
        data = _Data(X, self.sfreq)
        stage = self._build_input_stage(data.sfreq)
        nyquist = data.lowest_nyquist()
        if self.model == "2d" and nyquist is not None and stage.fmax > nyquist + 1e-6:
            warn(
                f"Some recordings were sampled at {2 * nyquist:g} Hz: above {nyquist:g} Hz "
                f"their spectrograms are empty (fmax={stage.fmax:g} Hz), which a model can "
                f"use as a shortcut for the recording source. Set fmax <= {nyquist:g}."
            )
        items, owner = self._items(data)
        epoch_groups = groups if groups is not None else data.groups()
        item_groups = None if epoch_groups is None else np.asarray(epoch_groups)[owner]
        n_ch = 1 if items.ndim == 2 else items.shape[1]
        image_shape = stage.image_shape(data.n_times, n_ch)
        torch.manual_seed(self.random_state)
        model = self._build_model(image_shape)
        if isinstance(stage, Spectrogram) and self.normalize == "dataset":
            stage.fit_normalization(items)
        logger.info(
            f"Training a {type(model).__name__} on {len(items)} items "
            f"(input {tuple(image_shape)}, latent {model.latent_shape(image_shape[1:])})"
        )
        history = train_autoencoder(
            model, items, input_stage=stage, groups=item_groups,
            val_fraction=self.val_fraction, max_epochs=self.max_epochs,
            batch_size=self.batch_size, lr=self.lr, scheduler=self.scheduler,
            patience=self.patience, device=self.device, precision=self.precision,
            seed=self.random_state, checkpoint=self.checkpoint,
            resume=self.checkpoint is not None,
        )
        self.model_ = model.cpu().eval()
        self.input_stage_ = stage.cpu().eval()
        self.history_ = history
        self.sfreq_ = data.sfreq
        self.n_times_ = data.n_times
        self.n_channels_ = None if n_ch == 1 else n_ch
        self.image_shape_ = tuple(image_shape)
        if self.bottleneck is not None:
            self.n_features_out_ = self.bottleneck
        elif self.pooling == "multiscale":
            self.n_features_out_ = sum(model.filters)
        else:
            self.n_features_out_ = model.filters[-1] * (2 if self.pooling == "meanmax" else 1)
        return self

    # ------------------------------------------------------------- inference
    def _check_data(self, X):
        check_is_fitted(self, "model_")
        data = _Data(X, self.sfreq if self.sfreq is not None else self.sfreq_)
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
        return data

    def _run(self, items, fn):
        """Apply ``fn(model, images)`` to items in batches on the device; CPU tensors out."""
        device = resolve_device(self.device)
        model = self.model_.to(device)
        stage = self.input_stage_.to(device)
        outs = []
        try:
            with torch.no_grad():
                for start in range(0, len(items), self.batch_size_inference):
                    x = items[start : start + self.batch_size_inference].to(device)
                    images = stage.to_images(x) if hasattr(stage, "to_images") else stage(x)
                    outs.append(fn(model, images).float().cpu())
        finally:
            self.model_.cpu()
            self.input_stage_.cpu()
        return outs

    def _pool(self, z):
        if z.ndim == 2:  # dense bottleneck
            return z
        dims = tuple(range(2, z.ndim))
        if self.pooling in ("mean", "multiscale"):
            return z.mean(dims)
        if self.pooling == "max":
            return z.amax(dims)
        return torch.cat([z.mean(dims), z.amax(dims)], dim=1)

    def _separate(self):
        return self.model == "1d" or self.channel_mode == "separate"

    def _per_epoch(self, values, data):
        """(n_items, ...) item values -> one (n_epochs, n_channels or 1, ...) per Epochs."""
        out, row = [], 0
        for n_ep, n_ch in zip(data.n_epochs, data.n_channels):
            k = n_ch if self._separate() else 1
            out.append(values[row : row + n_ep * k].reshape(n_ep, k, *values.shape[1:]))
            row += n_ep * k
        return out

    def _encode_items(self, X, *, with_error):
        """Pooled features of every item (and its reconstruction error) in one pass."""
        data = self._check_data(X)
        items, owner = self._items(data)

        def fn(model, images):
            if self.pooling == "multiscale" and model.to_code is None:
                blocks = model.encode_blocks(images)
                z = blocks[-1]
                features = torch.cat([self._pool(b) for b in blocks], dim=1)
            else:
                z = model.encode(images)
                features = self._pool(z)
            if not with_error:
                return features
            rec = model.decode(z, output_size=tuple(images.shape[2:]))
            error = (rec.float() - images).square().flatten(1).mean(1, keepdim=True)
            return torch.cat([features, error], dim=1)

        return data, owner, torch.cat(self._run(items, fn)).numpy()

    def _aggregate(self, blocks):
        if self.channel_agg == "mean":
            return np.concatenate([b.mean(axis=1) for b in blocks]).astype(np.float32)
        counts = {b.shape[1] for b in blocks}
        if len(counts) > 1:
            raise ValueError("channel_agg='concat' needs the same number of channels in "
                             f"every Epochs, got {sorted(counts)}.")
        return np.concatenate([b.reshape(len(b), -1) for b in blocks]).astype(np.float32)

    def embed(self, X, *, recon_error=True):
        """Embeddings and per-epoch reconstruction errors from one pass of the network.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`.
        recon_error : bool
            Also compute the reconstruction errors.

        Returns
        -------
        embeddings : numpy.ndarray, shape (n_epochs, n_features)
            As :meth:`transform`.
        errors : numpy.ndarray, shape (n_epochs,) | None
            As :meth:`reconstruction_error` (``None`` with ``recon_error=False``).
        """
        data, owner, values = self._encode_items(X, with_error=recon_error)
        features = values[:, :-1] if recon_error else values
        embeddings = self._aggregate(self._per_epoch(features, data))
        if not recon_error:
            return embeddings, None
        errors = np.bincount(owner, weights=values[:, -1]) / np.bincount(owner)
        return embeddings, errors

    @verbose
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
        latent : list of numpy.ndarray
            One array per Epochs, ``(n_epochs, n_channels, n_features)`` (pooled) or
            ``(n_epochs, n_channels, *latent_shape)``; ``n_channels`` is 1 in planes
            and stack modes.
        """
        if pooled:
            data, _, values = self._encode_items(X, with_error=False)
            return self._per_epoch(values, data)
        data = self._check_data(X)
        items, _ = self._items(data)
        latent = torch.cat(self._run(items, lambda model, images: model.encode(images)))
        return self._per_epoch(latent.numpy(), data)

    @verbose
    def transform(self, X, verbose=None):
        """Embeddings: pooled encoder features, one row per epoch.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array
            As for :meth:`fit`; a list gives the rows of all Epochs in order.
        %(verbose)s

        Returns
        -------
        embeddings : numpy.ndarray, shape (n_epochs, n_features)
            float32. Channels are averaged (``channel_agg="mean"``) or concatenated.
        """
        return self.embed(X, recon_error=False)[0]

    def _reconstruct_items(self, X):
        """Network inputs and reconstructions of every item."""
        items, _ = self._items(self._check_data(X))
        pairs = self._run(items, lambda model, images: torch.stack([images, model(images)]))
        pairs = torch.cat(pairs, dim=1).numpy()
        return pairs[0], pairs[1]

    @verbose
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
        return -float(np.mean(self.reconstruction_error(X, verbose=False)))

    @verbose
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
            width)`` with the input stage's frequencies and frame times (after resize),
            in the normalised units the network sees. For ``model="1d"``:
            :class:`mne.EpochsArray` of reconstructed standardised waveforms.
        inputs : same type
            Only with ``return_input=True``.
        """
        epochs_list = _as_epochs_list(X)
        if epochs_list is None:
            raise TypeError("reconstruct takes mne.Epochs or a list of them (arrays have "
                            "no channel info to build MNE objects from).")
        if self.model == "2d" and (self.channel_mode != "separate" or self.output == "complex"):
            raise ValueError("reconstruct needs channel_mode='separate' and a real output "
                             "(one image per channel).")
        inputs, recon = self._reconstruct_items(epochs_list)
        results = ([], [])
        row = 0
        for ep in epochs_list:
            n = len(ep) * len(ep.ch_names)
            for arr, out in ((recon, results[0]), (inputs, results[1])):
                block = arr[row : row + n].reshape(len(ep), len(ep.ch_names), *arr.shape[2:])
                out.append(self._as_mne(ep, block))
            row += n
        single = isinstance(X, mne.BaseEpochs)
        recon_out = results[0][0] if single else results[0]
        input_out = results[1][0] if single else results[1]
        return (recon_out, input_out) if return_input else recon_out

    def _as_mne(self, epochs, block):
        from mne.time_frequency import EpochsTFRArray

        common = dict(events=epochs.events.copy(), event_id=dict(epochs.event_id),
                      selection=epochs.selection.copy(), drop_log=epochs.drop_log,
                      metadata=None if epochs.metadata is None else epochs.metadata.copy())
        info = epochs.info.copy()
        if self.model == "1d":
            return mne.EpochsArray(block, info, tmin=epochs.tmin, verbose=False, **common)
        stage = self.input_stage_
        freqs, times = stage.freqs, stage.times(self.n_times_, tmin=epochs.tmin)
        height, width = block.shape[-2:]
        freqs = np.interp(np.linspace(0, len(freqs) - 1, height), np.arange(len(freqs)), freqs)
        times = np.interp(np.linspace(0, len(times) - 1, width), np.arange(len(times)), times)
        return EpochsTFRArray(info, block.astype(np.float32), times, freqs, method="stft",
                              **common)

    def add_embeddings(self, epochs, *, prefix="specae_", recon_error=True, verbose=None):
        """Write embeddings (and reconstruction errors) into ``epochs.metadata``.

        See :func:`mne_specae.add_embeddings`.
        """
        from .embedding import add_embeddings

        return add_embeddings(epochs, self, prefix=prefix, recon_error=recon_error,
                              verbose=verbose)

    # ------------------------------------------------------------ save / load
    def save(self, fname, *, overwrite=False):
        """Save the fitted estimator to one file (weights, settings, statistics, history).

        The file holds tensors and plain settings only and is read with
        ``torch.load(weights_only=True)``: loading it never runs code from the file.

        Parameters
        ----------
        fname : path-like
            File name (conventionally ``*.specae``).
        overwrite : bool
            Replace an existing file.

        Returns
        -------
        fname : pathlib.Path
        """
        from pathlib import Path

        from . import __version__

        check_is_fitted(self, "model_")
        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
        params = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in self.get_params().items()}
        for key, value in params.items():
            if callable(value):
                raise ValueError(f"Cannot save the callable parameter {key}={value!r}: "
                                 "model files hold plain settings only.")
        state = dict(
            format=MODEL_FORMAT,
            format_version=MODEL_FORMAT_VERSION,
            package_version=__version__,
            torch_version=str(torch.__version__),
            python_version=platform.python_version(),
            params=params,
            model_class=type(self.model_).__name__,
            model_config=self.model_.get_config(),
            model_state={k: v.cpu() for k, v in self.model_.state_dict().items()},
            input_stage_config=self.input_stage_.get_config(),
            input_stage_state={k: v.cpu() for k, v in self.input_stage_.state_dict().items()},
            history=self.history_.to_dict(),
            fitted=dict(sfreq=self.sfreq_, n_times=self.n_times_,
                        n_channels=self.n_channels_, image_shape=list(self.image_shape_),
                        n_features_out=self.n_features_out_),
        )
        return save_atomic(state, fname)

    @classmethod
    def load(cls, fname, *, device=None):
        """Load an estimator saved with :meth:`save` (no code from the file runs).

        Parameters
        ----------
        fname : path-like
            The file.
        device : str | None
            Override the saved ``device`` parameter (e.g. ``"cpu"``).

        Returns
        -------
        estimator : SpecAE
            Fitted, ready for :meth:`transform`.
        """
        state = load_safely(fname, what="mne-specae model file")
        if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
            raise ValueError(f"{fname} is not an mne-specae model file (no "
                             f"'{MODEL_FORMAT}' header).")
        if state["format_version"] > MODEL_FORMAT_VERSION:
            raise ValueError(
                f"{fname} was written by mne-specae {state['package_version']} (model "
                f"format {state['format_version']}); this version reads format "
                f"{MODEL_FORMAT_VERSION}. Upgrade mne-specae."
            )
        params = dict(state["params"])
        for key in ("resize", "window"):  # saved as lists, given as tuples
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        if device is not None:
            params["device"] = device
        est = cls(**params)
        fitted = state["fitted"]
        model = build_model(state["model_class"], state["model_config"])
        stage_cfg = dict(state["input_stage_config"])
        if est.model == "1d":
            stage = WaveformInput(**stage_cfg)
        else:
            if isinstance(stage_cfg.get("window"), list):
                stage_cfg["window"] = tuple(stage_cfg["window"])
            if stage_cfg.get("resize") is not None:
                stage_cfg["resize"] = tuple(stage_cfg["resize"])
            stage = Spectrogram(check_finite=False, **stage_cfg)
        try:
            model.load_state_dict(state["model_state"])
            stage.load_state_dict(state["input_stage_state"])
        except RuntimeError as err:
            raise ValueError(f"{fname}: the weights do not match the saved model settings "
                             f"(the file is inconsistent): {str(err).splitlines()[0]}") from err
        est.model_ = model.eval()
        est.input_stage_ = stage.eval()
        est.history_ = History.from_dict(state["history"])
        est.sfreq_ = float(fitted["sfreq"])
        est.n_times_ = int(fitted["n_times"])
        est.n_channels_ = fitted["n_channels"]
        est.image_shape_ = tuple(fitted["image_shape"])
        est.n_features_out_ = int(fitted["n_features_out"])
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags
