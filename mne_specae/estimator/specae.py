"""SpecAE: a scikit-learn compatible spectrogram autoencoder for MNE Epochs."""

from __future__ import annotations

from mne.utils import logger
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..presets import RECOMMENDED as _R
from ..training.loop import train_autoencoder
from ..training.options import ESTIMATOR_OPTIONS
from ..utils._docs import fill_doc
from ..utils._logs import verbose_method
from . import _build, finetune
from . import _inference as inference
from ._items import item_set
from ._model_file import load_estimator, write_model


@fill_doc
class SpecAE(inference.EncoderMethods, TransformerMixin, BaseEstimator):
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
        ``"1d"``: :class:`~mne_specae.ConvAutoencoder1d` on waveforms (the study's
        planned comparison; spectrogram settings are then unused, and ``normalize``
        applies to the waveform: see :class:`~mne_specae.input_stages.WaveformInput`;
        ``"item"`` compares recordings in different units).
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
    %(mask_fraction)s
    %(noise_std)s
    %(band_limit)s
    %(spectrum_weight)s
    %(precision)s
    %(channels_last)s
    %(compile)s
    %(pooling)s
    channel_agg : ``"mean"`` | ``"concat"``
        Multi-channel epochs: average the channels' embeddings, or concatenate them
        (per-channel features; needs the same number of channels everywhere).
    sfreq : float | None
        Sampling rate of array inputs (Epochs carry their own).
    %(device)s
    random_state : int
        Seed of the initial weights, the validation split, the batch order and the
        input corruption (local generators: torch's global random state is left as
        it was).
    %(max_time)s
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
        Columns of :meth:`transform` (names: :meth:`get_feature_names_out`), with the
        current ``pooling`` and ``channel_agg``.
    n_epoch_channels_ : int | None
        Channels per epoch of the training Epochs (``None`` when they differed).
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
        mask_fraction=_R["mask_fraction"],
        noise_std=_R["noise_std"],
        band_limit=_R["band_limit"],
        spectrum_weight=_R["spectrum_weight"],
        precision="auto",
        channels_last="auto",
        compile=False,
        pooling=_R["pooling"],
        channel_agg=_R["channel_agg"],
        sfreq=None,
        device="auto",
        random_state=0,
        max_time=None,
        checkpoint=None,
        resume=False,
        batch_size_inference=256,
        verbose=None,
    ):
        self.model = model
        self.picks = picks
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
        self.mask_fraction = mask_fraction
        self.noise_std = noise_std
        self.band_limit = band_limit
        self.spectrum_weight = spectrum_weight
        self.precision = precision
        self.channels_last = channels_last
        self.compile = compile
        self.pooling = pooling
        self.channel_agg = channel_agg
        self.sfreq = sfreq
        self.device = device
        self.random_state = random_state
        self.max_time = max_time
        self.checkpoint = checkpoint
        self.resume = resume
        self.batch_size_inference = batch_size_inference
        self.verbose = verbose

    # ------------------------------------------------------------- building
    def _check_params(self):
        _build.check_params(self)

    def _separate(self):
        return self.model == "1d" or self.channel_mode == "separate"

    def _build_input_stage(self, sfreq):
        return _build.input_stage(self, sfreq)

    def _build_model(self, image_shape):
        return _build.model(self, image_shape)

    def _fitted_channels(self, data):
        return _build.fitted_channels(self, data)

    # -------------------------------------------------------------------- fit
    @verbose_method
    def fit(self, X, y=None, groups=None, *, init="auto", verbose=None):
        """Train the autoencoder, from random weights or from a fitted model's.

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
        init : SpecAE | str | path-like | None
            Fine-tuning: the weights of a fitted model replace the random initial
            ones (``init`` is not changed): a :class:`SpecAE`; ``"pretrained"``, the
            shipped encoder (:func:`~mne_specae.load_pretrained`); another string, a
            pretrained encoder's name (``"biosignals"``) or a ``.specae`` file (a file
            of a pretrained name wins); ``None``: random weights; ``"auto"`` (the
            default): the shipped encoder when it is this fit's network on this
            fit's input (else random weights; which one is logged). A named init's
            network and input-stage settings, sampling rate and segment length must
            be this fit's (a :class:`ValueError` names every difference before
            training; start from ``sklearn.base.clone(init)``, e.g.
            ``SpecAE(**load_pretrained().get_params())``); training settings (``lr``,
            ``max_epochs``, ...) may differ. ``normalize="dataset"`` statistics are
            fitted on ``X``. Not with ``checkpoint``. ``init.calibration_`` is not
            carried over: :func:`~mne_specae.calibrate` the result again.
        %(verbose)s

        Returns
        -------
        self : SpecAE
        """
        self._check_params()
        init, named = finetune.resolve_init(self, init)
        if init is not None and named is not None:  # not "auto"
            finetune.validate_init(self, init)
        data = item_set(X, self.sfreq, self.picks)
        ch_names = self._fitted_channels(data)
        if self.channel_agg == "concat" and self._separate() and len(set(data.n_channels)) > 1:
            raise ValueError(
                "channel_agg='concat' needs the same number of channels in "
                f"every Epochs, got {sorted(set(data.n_channels))}."
            )
        stage = self._build_input_stage(data.sfreq)
        _build.warn_empty_band(self, stage, data.lowest_nyquist())
        epoch_groups = data.groups(groups)
        items, owner = data.items(self._separate())
        n_ch = 1 if items.ndim == 2 else items.shape[1]
        image_shape = stage.image_shape(data.n_times, n_ch)
        if named is None and init is not None:  # "auto": the shipped encoder if it fits
            init, named = finetune.auto_init(self, stage, image_shape, data.n_times, data.sfreq)
        if init is not None:
            finetune.check_init(self, init, stage, image_shape, data.n_times, data.sfreq, named)
        model = self._build_model(image_shape)
        if init is not None:  # copied into the new tensors: init's stay as they are
            model.load_state_dict(init.model_.state_dict())
        logger.info(
            f"{'Fine-tuning' if init is not None else 'Training'} a {type(model).__name__} "
            f"on {len(items)} items "
            f"(input {tuple(image_shape)}, latent {model.latent_shape(image_shape[1:])})"
        )
        history = train_autoencoder(
            model,
            items,
            input_stage=stage,
            groups=epoch_groups[owner],
            recordings=data.recordings(self._separate()) if self.normalize == "recording" else None,
            seed=self.random_state,
            **{name: getattr(self, name) for name in ESTIMATOR_OPTIONS},
        )
        self.__dict__.pop("calibration_", None)  # it belonged to the previous weights
        self.model_ = model.cpu().eval()
        self.input_stage_ = stage.cpu().eval()
        self.history_ = history
        self.sfreq_ = data.sfreq
        self.n_times_ = data.n_times
        self.n_channels_ = None if n_ch == 1 else n_ch
        self.ch_names_ = ch_names
        self.image_shape_ = tuple(image_shape)
        counts = set(data.n_channels)  # n_features_out_ follows from it (concat)
        self.n_epoch_channels_ = int(data.n_channels[0]) if len(counts) == 1 else None
        return self

    # ------------------------------------------------------------- inference
    # (here, not in the EncoderMethods mixin: scikit-learn's set_output wraps only the
    # transform a class defines itself)
    @verbose_method
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
            float32, ``n_features = n_features_out_`` (names:
            :meth:`get_feature_names_out`). Channels are averaged
            (``channel_agg="mean"``) or concatenated.
        """
        return self.embed(X, recon_error=False)[0]

    # ------------------------------------------------------------ save / load
    def save(self, fname, *, overwrite=False):
        """Save the fitted estimator to one file (weights, settings, statistics, history).

        The file holds tensors and plain settings only and is read with
        ``torch.load(weights_only=True)``: loading it never runs code from the file.
        ``checkpoint``, ``resume`` and ``max_time`` describe the training run, not the
        model: they are not saved (a loaded model has their defaults).

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
