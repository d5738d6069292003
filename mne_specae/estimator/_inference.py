"""The inference methods of :class:`~mne_specae.SpecAE` (embed, transform, encode,
reconstruct, ...), as a mixin over the batch runner of :mod:`._runner`."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ..training._store_checks import checked
from ..utils._logs import verbose_method
from ._items import ItemSet, as_epochs_list, item_set
from ._runner import (  # noqa: F401 (re-exported)
    CHANNEL_AGGREGATIONS,
    FEATURE_PREFIX,
    POOLINGS,
    aggregate,
    encode_items,
    n_pooled_features,
    per_epoch,
    run_batches,
)
from .metadata import add_embeddings
from .reconstruction import reconstruct


class EncoderMethods:
    """What a fitted :class:`~mne_specae.SpecAE` does with data (a mixin: it reads the
    estimator's parameters and fitted attributes)."""

    @property
    def n_features_out_(self):
        """Columns of :meth:`transform`: the fitted network's pooled features with the
        current ``pooling`` and ``bottleneck``, times the channels of the training
        Epochs with ``channel_agg="concat"`` (so ``set_params(pooling=...)`` after
        fitting holds, as :meth:`transform` does)."""
        if "model_" not in self.__dict__:
            raise AttributeError("'n_features_out_': the model is not fitted")
        per_item = n_pooled_features(self.model_, self.pooling, self.bottleneck)
        if not (self.channel_agg == "concat" and self._separate()):
            return per_item
        n_channels = self.__dict__.get("n_epoch_channels_")
        if n_channels is None:
            raise ValueError(
                "channel_agg='concat' needs the number of channels per epoch, and this "
                "model was fitted on Epochs with different numbers of channels: refit "
                "it with channel_agg='concat' on Epochs of one channel count."
            )
        return per_item * n_channels

    def _check_data(self, X, *, per_item=False):
        """The :class:`ItemSet` of ``X``, checked against what the model was trained on
        (``per_item``: rows are not aggregated per epoch, so ``channel_agg`` sets no
        channel count, and ``picks`` apply to Epochs only)."""
        check_is_fitted(self, "model_")
        sfreq = self.sfreq if self.sfreq is not None else self.sfreq_
        epochs = as_epochs_list(X) is not None
        if self._separate():
            data = item_set(X, sfreq, self.picks if epochs or not per_item else None)
        else:
            data = ItemSet(
                X,
                sfreq,
                self.picks if epochs else None,
                ch_names=self.ch_names_ if epochs else None,
            )
        if data.sfreq != self.sfreq_ or data.n_times != self.n_times_:
            raise ValueError(
                f"This model was trained on segments of {self.n_times_} samples at "
                f"{self.sfreq_:g} Hz ({self.n_times_ / self.sfreq_:g} s); the data have "
                f"{data.n_times} samples at {data.sfreq:g} Hz. Cut them with "
                f"make_segments(raw, duration={self.n_times_ / self.sfreq_:g}, "
                f"sfreq={self.sfreq_:g})."
            )
        if self.n_channels_ is not None and any(c != self.n_channels_ for c in data.n_channels):
            raise ValueError(
                f"This model takes {self.n_channels_} channels per epoch "
                f"(channel_mode={self.channel_mode!r}); got {data.n_channels}."
            )
        if not per_item and self.channel_agg == "concat" and self._separate():
            # n_features_out_ says why when the training Epochs had several channel counts
            expected = self.n_features_out_ // n_pooled_features(
                self.model_, self.pooling, self.bottleneck
            )
            if any(c != expected for c in data.n_channels):
                raise ValueError(
                    f"channel_agg='concat': this model gives {expected} channels' "
                    f"features per epoch; the data have {data.n_channels} channels."
                )
        return data

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
        return np.array(
            [f"{FEATURE_PREFIX}{i:03d}" for i in range(self.n_features_out_)], dtype=object
        )

    def _run_settings(self):
        """Precision and memory format of inference: those of training (on CUDA)."""
        return dict(
            precision=getattr(self, "precision", "fp32"),
            channels_last=getattr(self, "channels_last", False),
        )

    def _recordings(self, data):
        """Each item's recording label with ``normalize="recording"``, else None."""
        if getattr(self.input_stage_, "needs_item_index", False):
            return data.recordings(self._separate())
        return None

    def _items_per_epoch(self, data):
        return data.n_channels if self._separate() else [1] * len(data.n_channels)

    def _encode(self, X, with_error, *, per_item=False):
        data = self._check_data(X, per_item=per_item)
        items, owner = data.items(self._separate())
        items = checked(items)  # a store's reads, for NaN/Inf (Epochs are checked)
        values = encode_items(
            self.model_,
            self.input_stage_,
            items,
            pooling=self.pooling,
            with_error=with_error,
            device=self.device,
            batch_size=self.batch_size_inference,
            recordings=self._recordings(data),
            **self._run_settings(),
        )
        return data, owner, values

    @verbose_method
    def embed_items(self, X, *, recon_error=True, verbose=None):
        """Embeddings and reconstruction errors of each item, before any aggregation.

        An item is what the network sees at once: one channel of one epoch (with
        ``channel_mode="separate"`` and ``model="1d"``), else one epoch with all its
        channels. :meth:`embed` aggregates these rows per epoch (``channel_agg``); here
        they come as they are, with the channel and the epoch of each, for judgements
        per channel (:func:`~mne_specae.calibrate`,
        :func:`~mne_specae.identify_channel_types`,
        :func:`~mne_specae.annotate_unusual`). One pass of the network, on the
        estimator's ``device``, in batches of ``batch_size_inference``.

        Parameters
        ----------
        X : mne.Epochs | list of mne.Epochs | array | SegmentStore
            As for :meth:`transform`. An array ``(n_epochs, n_channels, n_times)`` is
            at the sampling rate ``sfreq`` (if set, else the model's ``sfreq_``), and
            all its channels are used: ``picks`` select channels of Epochs (unlike
            :meth:`transform`, which refuses an array when ``picks`` is set).
        recon_error : bool
            Also compute the reconstruction errors.
        %(verbose)s

        Returns
        -------
        items : sklearn.utils.Bunch
            Rows in the order of ``X``, epoch-major (the channels of the first epoch,
            then those of the second, ...), with the keys (also attributes):

            ``features`` : numpy.ndarray, shape (n_items, n_item_features)
                The pooled encoder features of each item, float32
                (``n_item_features`` is ``n_features_out_``, or with
                ``channel_agg="concat"`` ``n_features_out_`` divided by the channels
                an epoch has).
            ``errors`` : numpy.ndarray, shape (n_items,) | None
                Mean squared reconstruction error of each item, in the squared units
                of the network's (normalised) input; ``None`` with
                ``recon_error=False``.
            ``ch_names`` : numpy.ndarray of str, shape (n_items,) | None
                The channel of each item (``"ch0"``, ``"ch1"``, ... for an array; a
                store's ``channel`` column); ``None`` in the planes and stack modes,
                where each item holds the channels ``ch_names_``.
            ``epoch`` : numpy.ndarray of int, shape (n_items,)
                The epoch of each item: its index over the epochs of ``X`` (those of
                a list of Epochs counted in order; a store's items are their own
                epochs).
        """
        data, owner, values = self._encode(X, recon_error, per_item=True)
        ch_names = None
        if getattr(data, "store", None) is not None:  # one channel per item, named
            ch_names = data.store.read_columns("channel")["channel"].astype(str).to_numpy()
        elif self._separate():  # epoch-major: every epoch has its Epochs' channels
            ch_names = np.concatenate(
                [
                    np.tile(np.asarray(names, dtype=str), n_ep)
                    for names, n_ep in zip(data.ch_names, data.n_epochs)
                ]
            )
        return Bunch(
            features=values[:, :-1] if recon_error else values,
            errors=values[:, -1] if recon_error else None,
            ch_names=ch_names,
            epoch=owner,
        )

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
                self.model_,
                self.input_stage_,
                items,
                lambda m, images: m.encode(images),
                device=self.device,
                batch_size=self.batch_size_inference,
                recordings=self._recordings(data),
                **self._run_settings(),
            )
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

        return reconstruct(self, X, return_input=return_input)

    def add_embeddings(
        self, epochs, *, prefix=FEATURE_PREFIX, recon_error=True, standardize_by=None, verbose=None
    ):
        """Write embeddings (and reconstruction errors) into ``epochs.metadata``.

        See :func:`mne_specae.add_embeddings`.
        """

        return add_embeddings(
            epochs,
            self,
            prefix=prefix,
            recon_error=recon_error,
            standardize_by=standardize_by,
            verbose=self.verbose if verbose is None else verbose,
        )
