"""SpecAE: a scikit-learn compatible spectrogram autoencoder for MNE Epochs."""

from __future__ import annotations

import functools

import numpy as np
import torch
from mne.utils import _check_option, _validate_type, logger, use_log_level, verbose, warn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import inference
from .checks import check_int, check_positive
from .docs import fill_doc
from .input_stages import WaveformInput
from .items import ItemSet, as_epochs_list
from .models import ConvAutoencoder1d, ConvAutoencoder2d
from .presets import RECOMMENDED as _R
from .spectrogram import Spectrogram
from .training import train_autoencoder

FEATURE_PREFIX = "specae_"


def _verbose_method(method):
    """MNE's ``verbose`` for methods: the call's ``verbose``, else the estimator's."""
    method = verbose(method)  # fills %(verbose)s, checks the signature

    @functools.wraps(method)
    def wrapper(self, *args, verbose=None, **kwargs):
        level = verbose if verbose is not None else self.verbose
        with use_log_level(level):
            return method(self, *args, **kwargs)

    return wrapper


@fill_doc
class SpecAE(TransformerMixin, BaseEstimator):
    """Spectrogram autoencoder for MNE Epochs (scikit-learn compatible).

    Turns each channel of each segment into a spectrogram on the device, trains a
    convolutional autoencoder to reconstruct it, and gives pooled encoder features
    as embeddings. The unit of training is one channel of one segment, so Epochs of
    different modalities and channel sets train together. The defaults are
    :data:`mne_specae.presets.RECOMMENDED`; ``SpecAE(**presets.STUDY)`` is the
    study's method.

    Parameters
    ----------
    model : ``"2d"`` | ``"1d"``
        ``"2d"``: :class:`~mne_specae.ConvAutoencoder2d` on spectrograms (the study);
        ``"1d"``: :class:`~mne_specae.ConvAutoencoder1d` on standardised waveforms (the
        study's planned comparison; spectrogram settings are then unused).
    %(picks_signal)s
    %(n_fft)s
    %(hop_length)s
    %(win_length)s
    %(window)s
    %(fmin)s
    %(fmax)s
    %(freq_scale)s
    %(n_freqs)s
    %(output)s
    %(top_db)s
    %(detrend)s
    %(normalize)s
    %(resize)s
    %(channel_mode)s
    %(n_layers)s
    %(filters)s
    %(kernel_size)s
    %(activation)s
    %(norm)s
    %(bottleneck)s
    %(max_epochs)s
    %(batch_size)s
    %(lr)s
    %(patience)s
    %(val_fraction)s
    %(scheduler)s
    %(precision)s
    pooling : ``"mean"`` | ``"max"`` | ``"meanmax"`` | ``"multiscale"``
        How the encoder's latent (e.g. 64 x 4 x 4) is pooled over space into the
        embedding (64 features; 128 for ``"meanmax"``). ``"multiscale"``: the
        spatial mean of every encoder block's output, concatenated (``sum(filters)``
        features): the shallow blocks keep fine spectral and temporal detail (such
        as the sharp broadband columns of heart beats) that the deepest latent
        averages away. With a dense ``bottleneck`` the embedding is the bottleneck.
    channel_agg : ``"mean"`` | ``"concat"``
        Multi-channel epochs: average the channels' embeddings, or concatenate them
        (per-channel features; needs the same number of channels everywhere).
    sfreq : float | None
        Sampling rate of array inputs (Epochs carry their own).
    %(device)s
    random_state : int
        Seed of the initial weights, the validation split and the batch order (a
        local generator: torch's global random state is left as it was).
    %(checkpoint)s
    %(resume)s
    batch_size_inference : int
        Items per batch in transform and reconstruct.
    %(verbose_estimator)s

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained autoencoder (on the CPU after fitting).
    input_stage_ : Spectrogram | WaveformInput
        The input stage, with fitted normalisation statistics.
    history_ : History
        Losses, timing and throughput per epoch.
    ch_names_ : list of str
        The channels the model was trained on (in the planes and stack modes, the
        channels, in order, that every input must have).
    n_features_out_ : int
        Columns of :meth:`transform` (names: :meth:`get_feature_names_out`).
    sfreq_, n_times_ : float, int
        What the model was trained on; inputs must match.
    """

    def __init__(
        self,
        model=_R["model"],
        *,
        picks=None,
        n_fft=_R["n_fft"],
        hop_length=_R["hop_length"],
        win_length=_R["win_length"],
        window=_R["window"],
        fmin=_R["fmin"],
        fmax=_R["fmax"],
        freq_scale=_R["freq_scale"],
        n_freqs=_R["n_freqs"],
        output=_R["output"],
        top_db=_R["top_db"],
        detrend=_R["detrend"],
        normalize=_R["normalize"],
        resize=_R["resize"],
        channel_mode=_R["channel_mode"],
        n_layers=_R["n_layers"],
        filters=_R["filters"],
        kernel_size=_R["kernel_size"],
        activation=_R["activation"],
        norm=_R["norm"],
        bottleneck=_R["bottleneck"],
        max_epochs=_R["max_epochs"],
        batch_size=_R["batch_size"],
        lr=_R["lr"],
        patience=_R["patience"],
        val_fraction=_R["val_fraction"],
        scheduler=_R["scheduler"],
        precision="auto",
        pooling=_R["pooling"],
        channel_agg=_R["channel_agg"],
        sfreq=None,
        device="auto",
        random_state=0,
        checkpoint=None,
        resume=False,
        batch_size_inference=256,
        verbose=None,
    ):
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------- building
    def _check_params(self):
        _check_option("model", self.model, ("2d", "1d"))
        _check_option("pooling", self.pooling, inference.POOLINGS)
        _check_option("channel_agg", self.channel_agg, inference.CHANNEL_AGGREGATIONS)
        _validate_type(self.resume, bool, "resume")
        if self.sfreq is not None:
            check_positive(self.sfreq, "sfreq")
        check_int(self.random_state, "random_state", minimum=0)
        check_int(self.batch_size_inference, "batch_size_inference")

    def _separate(self):
        return self.model == "1d" or self.channel_mode == "separate"

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
        with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
            torch.manual_seed(self.random_state)
            model = cls(**kwargs)
        model.latent_shape(tuple(size))  # refuses depths the input size cannot take
        return model

    def _fitted_channels(self, data):
        """``ch_names_``: the ordered channels of the planes/stack modes, else all used."""
        if not self._separate():
            first = data.ch_names[0]
            for names in data.ch_names[1:]:
                if names != first:
                    raise ValueError(
                        f"channel_mode={self.channel_mode!r} needs the same channels, in "
                        f"the same order, in every Epochs; got {first} and {names}. Pick "
                        "them with picks=[...] or use channel_mode='separate'."
                    )
            return list(first)
        return list(dict.fromkeys(ch for names in data.ch_names for ch in names))

    # -------------------------------------------------------------------- fit
    @_verbose_method
    def fit(self, X, y=None, groups=None, *, verbose=None):
        """Train the autoencoder.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array, shape (n_epochs, n_channels, n_times)
            Segments (e.g. from :func:`~mne_specae.make_segments`). Lists may mix
            modalities and channel sets (``channel_mode="separate"``).
        y : None
            Ignored (unsupervised); present for scikit-learn pipelines.
        groups : array-like, shape (n_epochs,) | None
            Group of each epoch for the validation split. Default for Epochs: the
            ``subject`` metadata column, else ``recording``; for arrays: each epoch
            its own group (the channels of one epoch stay on one side).
        %(verbose)s

        Returns
        -------
        self : SpecAE
        """
        self._check_params()
        data = ItemSet(X, self.sfreq, self.picks)
        ch_names = self._fitted_channels(data)
        if self.channel_agg == "concat" and self._separate() and len(set(data.n_channels)) > 1:
            raise ValueError("channel_agg='concat' needs the same number of channels in "
                             f"every Epochs, got {sorted(set(data.n_channels))}.")
        stage = self._build_input_stage(data.sfreq)
        nyquist = data.lowest_nyquist()
        if self.model == "2d" and nyquist is not None and stage.fmax > nyquist + 1e-6:
            warn(
                f"Some recordings were sampled at {2 * nyquist:g} Hz: above {nyquist:g} Hz "
                f"their spectrograms are empty (fmax={stage.fmax:g} Hz), which a model can "
                f"use as a shortcut for the recording source. Set fmax <= {nyquist:g}."
            )
        epoch_groups = data.groups(groups)
        items, owner = data.items(self._separate())
        n_ch = 1 if items.ndim == 2 else items.shape[1]
        image_shape = stage.image_shape(data.n_times, n_ch)
        model = self._build_model(image_shape)
        logger.info(
            f"Training a {type(model).__name__} on {len(items)} items "
            f"(input {tuple(image_shape)}, latent {model.latent_shape(image_shape[1:])})"
        )
        history = train_autoencoder(
            model, items, input_stage=stage, groups=epoch_groups[owner],
            val_fraction=self.val_fraction, max_epochs=self.max_epochs,
            batch_size=self.batch_size, lr=self.lr, scheduler=self.scheduler,
            patience=self.patience, device=self.device, precision=self.precision,
            seed=self.random_state, checkpoint=self.checkpoint, resume=self.resume,
        )
        self.model_ = model.cpu().eval()
        self.input_stage_ = stage.cpu().eval()
        self.history_ = history
        self.sfreq_ = data.sfreq
        self.n_times_ = data.n_times
        self.n_channels_ = None if n_ch == 1 else n_ch
        self.ch_names_ = ch_names
        self.image_shape_ = tuple(image_shape)
        per_item = inference.n_pooled_features(model, self.pooling, self.bottleneck)
        concat = self.channel_agg == "concat" and self._separate()
        self.n_features_out_ = per_item * (data.n_channels[0] if concat else 1)
        return self

    # ------------------------------------------------------------- inference
    def _check_data(self, X):
        check_is_fitted(self, "model_")
        sfreq = self.sfreq if self.sfreq is not None else self.sfreq_
        if self._separate():
            data = ItemSet(X, sfreq, self.picks)
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
        expected = self.n_features_out_ // inference.n_pooled_features(
            self.model_, self.pooling, self.bottleneck)
        if (self.channel_agg == "concat" and self._separate()
                and any(c != expected for c in data.n_channels)):
            raise ValueError(f"channel_agg='concat': this model gives {expected} channels' "
                             f"features per epoch; the data have {data.n_channels} channels.")
        return data

    def _items_per_epoch(self, data):
        return data.n_channels if self._separate() else [1] * len(data.n_channels)

    def _encode(self, X, with_error):
        data = self._check_data(X)
        items, owner = data.items(self._separate())
        values = inference.encode_items(
            self.model_, self.input_stage_, items, pooling=self.pooling,
            with_error=with_error, device=self.device, batch_size=self.batch_size_inference)
        return data, owner, values

    @_verbose_method
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
        blocks = inference.per_epoch(features, data.n_epochs, self._items_per_epoch(data))
        embeddings = inference.aggregate(blocks, self.channel_agg)
        if not recon_error:
            return embeddings, None
        errors = np.bincount(owner, weights=values[:, -1]) / np.bincount(owner)
        return embeddings, errors

    @_verbose_method
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

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`: ``specae_000``, ``specae_001``, ...

        Parameters
        ----------
        input_features : None
            Ignored (the inputs are waveforms, not named features).

        Returns
        -------
        names : numpy.ndarray of str
        """
        check_is_fitted(self, "n_features_out_")
        return np.array([f"{FEATURE_PREFIX}{i:03d}" for i in range(self.n_features_out_)],
                        dtype=object)

    @_verbose_method
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
            items, _ = data.items(self._separate())
            outs = inference.run_batches(
                self.model_, self.input_stage_, items, lambda m, images: m.encode(images),
                device=self.device, batch_size=self.batch_size_inference)
            values = torch.cat(outs).numpy()
        blocks = inference.per_epoch(values, data.n_epochs, self._items_per_epoch(data))
        return blocks if isinstance(X, (list, tuple)) else blocks[0]

    @_verbose_method
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

    @_verbose_method
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
        from .io import write_model

        check_is_fitted(self, "model_")
        return write_model(self, fname, overwrite=overwrite)

    @classmethod
    def load(cls, fname, *, device=None):
        """Load an estimator saved with :meth:`save` (no code from the file runs).

        Parameters
        ----------
        fname : path-like
            The file.
        device : str | None
            Where to run. ``None``: the saved ``device`` when this machine has it,
            else ``"auto"`` (a model trained on a GPU runs on a CPU-only machine).

        Returns
        -------
        estimator : SpecAE
            Fitted, ready for :meth:`transform`.
        """
        from .io import load_estimator

        return load_estimator(cls, fname, device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["3darray"], "requires_fit": True}
