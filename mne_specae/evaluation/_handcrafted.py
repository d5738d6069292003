"""Hand-crafted features of each channel: the shared base (channel aggregation, a cache
of the features of identical data), libemg-style EMG time-domain features and catch22."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict

import numpy as np
from mne.utils import _check_option
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..estimator.metadata import epochs_list_of
from ..utils._docs import fill_doc
from ..utils._picks import pick_channels as resolve_picks

#: How the features of the channels of an epoch become its row (as SpecAE's
#: ``channel_agg``): their mean, or concatenated (the same number of channels in every
#: Epochs).
CHANNEL_AGGREGATIONS = ("mean", "concat")

#: Features of the most recent inputs: the hand-crafted features depend on the samples
#: only, and the downstream protocol transforms the same segments in every fold.
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 512


def aggregate_channels(values, channel_agg, *, nan_safe=True):
    """Rows of ``values`` (n_epochs, n_channels, n_features): the mean over the channels
    (ignoring NaN where ``nan_safe``: NaN only where every channel is NaN), or the
    channels' features concatenated, channel after channel."""
    if channel_agg == "concat":
        return values.reshape(len(values), -1)
    if not nan_safe:
        return values.mean(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanmean(values, axis=1)


def fitted_channels(epochs_list, picks, channel_agg):
    """The number of channels and their names (``ch<k>`` where the Epochs name them
    differently), checking that ``"concat"`` gets the same number everywhere."""
    _check_option("channel_agg", channel_agg, CHANNEL_AGGREGATIONS)
    names = [tuple(ep.ch_names[k] for k in resolve_picks(ep.info, picks)) for ep in epochs_list]
    counts = sorted({len(n) for n in names})
    if channel_agg == "concat" and len(counts) > 1:
        raise ValueError(
            f"channel_agg='concat' needs the same number of channels in every Epochs, got {counts}."
        )
    if len(set(names)) == 1:
        return len(names[0]), list(names[0])
    return counts[-1], [f"ch{k}" for k in range(counts[-1])]


def check_transform_channels(n_channels, expected, channel_agg):
    if channel_agg == "concat" and n_channels != expected:
        raise ValueError(
            f"channel_agg='concat': fitted on {expected} channels per epoch, got {n_channels}."
        )


def feature_names(per_channel, channel_agg, channel_names):
    """Names of the output columns: the per-channel names, or ``<name>_<channel>``."""
    if channel_agg == "mean":
        return np.array(list(per_channel), dtype=object)
    return np.array([f"{f}_{ch}" for ch in channel_names for f in per_channel], dtype=object)


class ChannelFeatures(TransformerMixin, BaseEstimator):
    """Base of the per-channel feature sets: subclasses define ``_per_channel`` (the
    feature names) and ``_compute(data, sfreq)`` -> (n_epochs, n_channels, n_features)
    from the samples alone; ``picks`` and ``channel_agg`` are handled here."""

    _per_channel: tuple = ()

    def _check_data(self, epochs_list):
        """Raise on data the features cannot be computed from (e.g. a low rate)."""

    def fit(self, X, y=None):
        """Check the parameters and the data; record the channels (nothing is learned)."""
        epochs_list = epochs_list_of(X)
        self.n_channels_, self.channel_names_ = fitted_channels(
            epochs_list, self.picks, self.channel_agg
        )
        self._check_data(epochs_list)
        return self

    def _features(self, data, sfreq):
        params = {k: v for k, v in self.get_params().items() if k not in ("picks", "channel_agg")}
        digest = hashlib.blake2b(np.ascontiguousarray(data).tobytes(), digest_size=16).hexdigest()
        key = (
            type(self).__qualname__,
            repr(sorted(params.items())),
            float(sfreq),
            data.shape,
            digest,
        )
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        values = np.asarray(self._compute(data, sfreq), dtype=np.float64)
        values.setflags(write=False)
        _CACHE[key] = values
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return values

    def transform(self, X):
        """``(n_epochs, n_features)`` float64 (``n_features`` per channel with
        ``channel_agg="concat"``)."""
        check_is_fitted(self, "n_channels_")
        epochs_list = epochs_list_of(X)
        self._check_data(epochs_list)
        rows = []
        for ep in epochs_list:
            data = ep.get_data(picks=resolve_picks(ep.info, self.picks)).astype(np.float64)
            check_transform_channels(data.shape[1], self.n_channels_, self.channel_agg)
            rows.append(
                aggregate_channels(self._features(data, ep.info["sfreq"]), self.channel_agg)
            )
        return np.concatenate(rows)

    def get_feature_names_out(self, input_features=None):
        """The feature names (``<name>_<channel>`` with ``channel_agg="concat"``)."""
        check_is_fitted(self, "n_channels_")
        return feature_names(self._per_channel, self.channel_agg, self.channel_names_)


@fill_doc
class EMGTimeDomain(ChannelFeatures):
    """The standard time-domain EMG features (libemg's names), computed with numpy.

    Per channel and segment, after removing the segment's mean (``x``, ``N`` samples,
    ``s`` its standard deviation):

    * ``MAV`` mean absolute value, ``mean(|x|)``; ``RMS`` root mean square;
      ``WL`` waveform length, ``sum(|x[i+1] - x[i]|)``; ``VAR`` ``sum(x²) / (N - 1)``;
      ``IEMG`` integrated EMG, ``sum(|x|)`` (the amplitude features: ``log10`` with
      ``log=True``, floored at the smallest positive float so that a flat segment
      stays finite);
    * ``ZC`` zero crossings where ``|x[i] - x[i+1]| > threshold * s``; ``SSC`` slope
      sign changes where ``(x[i] - x[i-1]) * (x[i] - x[i+1]) > (threshold * s)²``;
      ``WAMP`` Willison amplitude, the steps ``|x[i+1] - x[i]| > wamp_threshold * s``
      (counts in the segment). The thresholds are relative to each channel's scale in
      the segment, so the counts do not depend on the gain or the unit; a flat
      segment counts 0 everywhere.

    libemg itself requires numpy < 2; these are its definitions, without its
    package.

    Parameters
    ----------
    %(picks_signal)s
    %(channel_agg_features)s
    threshold : float
        ``ZC`` and ``SSC`` threshold, in standard deviations of the segment: crossings
        within the noise floor are not counted.
    wamp_threshold : float
        ``WAMP`` threshold, in standard deviations of the segment.
    log : bool
        ``log10`` of the amplitude features (``MAV``, ``RMS``, ``WL``, ``VAR``,
        ``IEMG``), whose scale spans orders of magnitude across subjects; ``False``:
        libemg's plain values.
    """

    _per_channel = ("MAV", "RMS", "WL", "ZC", "SSC", "VAR", "IEMG", "WAMP")

    def __init__(
        self, picks=None, channel_agg="mean", threshold=0.05, wamp_threshold=1.0, log=True
    ):
        self.picks = picks
        self.channel_agg = channel_agg
        self.threshold = threshold
        self.wamp_threshold = wamp_threshold
        self.log = log

    def _check_data(self, epochs_list):
        for name in ("threshold", "wamp_threshold"):
            value = getattr(self, name)
            if not (np.isscalar(value) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
        if min(len(ep.times) for ep in epochs_list) < 3:
            raise ValueError("EMGTimeDomain needs segments of at least 3 samples.")

    def _compute(self, data, sfreq):
        return emg_time_domain(data, self.threshold, self.wamp_threshold, self.log)


def emg_time_domain(data, threshold, wamp_threshold, log):
    """(..., n_times) -> (..., 8): MAV, RMS, WL, ZC, SSC, VAR, IEMG, WAMP."""
    flat = np.ptp(data, axis=-1, keepdims=True) == 0  # exactly 0, not rounding residue
    x = np.where(flat, 0.0, data - data.mean(axis=-1, keepdims=True))
    n = x.shape[-1]
    scale = x.std(axis=-1, keepdims=True)
    step = np.diff(x, axis=-1)
    absx = np.abs(x)
    mav = absx.mean(axis=-1)
    rms = np.sqrt((x**2).mean(axis=-1))
    wl = np.abs(step).sum(axis=-1)
    var = (x**2).sum(axis=-1) / (n - 1)
    iemg = absx.sum(axis=-1)
    crossing = (x[..., :-1] * x[..., 1:] < 0) & (np.abs(step) > threshold * scale)
    slope = (x[..., 1:-1] - x[..., :-2]) * (x[..., 1:-1] - x[..., 2:])
    ssc = slope > (threshold * scale) ** 2
    wamp = np.abs(step) > wamp_threshold * scale
    amplitude = np.stack([mav, rms, wl, var, iemg], axis=-1)
    if log:
        with np.errstate(invalid="ignore"):
            amplitude = np.log10(np.maximum(amplitude, np.finfo(np.float64).tiny))
    counts = [c.sum(axis=-1).astype(np.float64) for c in (crossing, ssc, wamp)]
    nonfinite = ~np.isfinite(data).all(axis=-1)
    for c in counts:
        c[nonfinite] = np.nan  # comparisons with NaN are False: no count, not zero
    mav, rms, wl, var, iemg = np.moveaxis(amplitude, -1, 0)
    return np.stack([mav, rms, wl, counts[0], counts[1], var, iemg, counts[2]], axis=-1)


#: The catch22 features, in pycatch22's order.
CATCH22_NAMES = (
    "DN_HistogramMode_5",
    "DN_HistogramMode_10",
    "DN_OutlierInclude_p_001_mdrmd",
    "DN_OutlierInclude_n_001_mdrmd",
    "CO_FirstCrossing_acf_1e_pointOfCrossing",
    "CO_FirstMin_ac",
    "SP_Summaries_fft_area_5_1",
    "SP_Summaries_fft_wq_50",
    "FC_LocalSimple_mean3_stde",
    "FC_LocalSimple_mean1_taurat",
    "MD_pNN_pnn40",
    "SB_BinaryStats_mean_longstretch1",
    "SB_BinaryStats_diff_longstretch0",
    "SB_MotifThree_quantile_hh",
    "CO_HistogramAMI_even_5bin_ami2",
    "CO_trev_1_num",
    "IN_AutoMutualInfoStats_40_gaussian_fmmi",
    "SB_TransitionMatrix_quantile_3_ac_sumdiagcov",
    "PD_PeriodicityWang_th0_01",
    "CO_Embed2_Dist_tau_d_expfit_meandiff",
    "SC_FluctAnal_2_rsrangefit_50_1_logi_prop_r1",
    "SC_FluctAnal_2_dfa_50_1_2_logi_prop_r1",
)
CATCH22_INSTALL = (
    "Catch22 needs the pycatch22 package: pip install pycatch22 (or mne-specae[baselines])."
)


def _pycatch22():
    try:
        import pycatch22
    except ImportError as err:
        raise ImportError(CATCH22_INSTALL) from err
    return pycatch22


@fill_doc
class Catch22(ChannelFeatures):
    """The catch22 features of each channel (``pycatch22``, an optional dependency).

    Computed by `pycatch22`_: the 22 "CAnonical Time-series CHaracteristics" of Lubba
    et al. (2019), on each channel's segment z-scored (as catch22 is defined); with
    ``catch24=True`` also the segment's mean and standard deviation (in the data's
    unit, V), which z-scoring removes. A segment with a non-finite sample gets NaN features (pycatch22
    would return NaN too); about 10 ms per channel and segment.

    .. _pycatch22: https://pypi.org/project/pycatch22/

    Parameters
    ----------
    %(picks_signal)s
    %(channel_agg_features)s
    catch24 : bool
        Add ``DN_Mean`` and ``DN_Spread_Std`` of the raw segment.
    """

    def __init__(self, picks=None, channel_agg="mean", catch24=False):
        self.picks = picks
        self.channel_agg = channel_agg
        self.catch24 = catch24

    @property
    def _per_channel(self):
        return CATCH22_NAMES + (("DN_Mean", "DN_Spread_Std") if self.catch24 else ())

    def _check_data(self, epochs_list):
        _pycatch22()

    def _compute(self, data, sfreq):
        pycatch22 = _pycatch22()
        n_features = 22 + 2 * bool(self.catch24)
        out = np.full((*data.shape[:-1], n_features), np.nan)
        for index in np.ndindex(*data.shape[:-1]):
            x = data[index]
            if not np.isfinite(x).all():
                continue
            std = x.std()
            z = (x - x.mean()) / std if std > 0 else np.zeros_like(x)
            out[index][:22] = pycatch22.catch22_all(z.tolist())["values"]
            if self.catch24:
                out[index][22:] = x.mean(), std
        return out
