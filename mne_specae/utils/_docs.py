"""Shared parameter documentation: written once, rendered in every docstring that uses it.

A docstring names an entry as ``%(name)s``; :func:`fill_doc` replaces it with the
entry, indented to fit, and adds to every parameter the default value read from the
signature of the documented function or class (``n_fft : int, default=256``), so the
documented default is always the one in the code. Entries from MNE's own docdict (``verbose``,
...) work too.
"""

from __future__ import annotations

import inspect
import re

from mne.utils.docs import docdict as _mne_docdict

docdict = {}

# ------------------------------------------------------------------ spectrogram
docdict["n_fft"] = """
n_fft : int
    FFT length in samples (frequency resolution ``sfreq / n_fft``)."""
docdict["hop_length"] = """
hop_length : int | None
    Samples between frames; ``None``: ``win_length // 4``."""
docdict["win_length"] = """
win_length : int | None
    Window length in samples (``<= n_fft``; zero-padded to ``n_fft``); ``None``:
    ``n_fft``."""
docdict["window"] = """
window : str | tuple
    Window type, any name :func:`scipy.signal.get_window` knows (``"hann"``,
    ``"hamming"``, ``("tukey", 0.25)``, ``("kaiser", 8.0)``, ...), periodic."""
docdict["fmin"] = """
fmin : float
    Lowest frequency in Hz. A linear axis keeps the FFT bins in ``[fmin, fmax]``;
    log and mel bands span ``[fmin, fmax]`` (a log axis from 0 starts at the first
    non-zero bin)."""
docdict["fmax"] = """
fmax : float | None
    Highest frequency in Hz; ``None``: the Nyquist frequency. Keep it below the
    Nyquist frequency of every recording (an empty band above it identifies the
    source)."""
docdict["freq_scale"] = """
freq_scale : ``"linear"`` | ``"log"`` | ``"mel"``
    Frequency axis. ``"mel"``: triangular filters equally spaced on the HTK mel scale
    (``m = 2595 log10(1 + f / 700)``), as torchaudio's ``melscale_fbanks(norm=None,
    mel_scale="htk")``; ``"log"``: the same filters with logarithmically spaced
    edges."""
docdict["n_freqs"] = """
n_freqs : int | None
    Number of log or mel bands (``None``: 64). Not used with a linear axis (set
    ``n_fft``, ``fmin``, ``fmax`` or ``resize`` instead)."""
docdict["band_mode"] = """
band_mode : ``"mean"`` | ``"sum"``
    How a log or mel band combines the FFT bins under its triangular filter.
    ``"mean"``: a weighted average (each filter divided by the sum of its
    weights), in the units of the bins: V²/Hz with ``scaling="density"`` (white
    noise is flat across the bands, at its density) and V² per bin with
    ``"spectrum"``. ``"sum"``: a weighted sum (triangles of peak 1, torchaudio's
    ``melscale_fbanks(norm=None)``): the band power in V² with ``"spectrum"``;
    with ``"density"`` the density summed over the band's bins (V²/Hz times a
    number of bins: multiply by ``sfreq / n_fft`` for V²), so that wider bands
    read higher (white noise rises about 11 dB over 32 log bands from 2 to
    200 Hz). Bands narrower than the bin spacing interpolate the bins at their
    centre in both modes. Not used by a linear axis. Model files of format 1
    (written before this option) keep ``"sum"``."""
docdict["output"] = """
output : ``"power"`` | ``"magnitude"`` | ``"db"`` | ``"complex"``
    Power (V²/Hz with ``scaling="density"``, V² with ``"spectrum"``), its square
    root, power in dB (``10 log10(max(power, amin) / ref)``, dB re 1 V²/Hz, clipped
    at ``top_db`` below each item's peak like librosa's ``power_to_db``), or the
    complex STFT as two real planes scaled so that ``real**2 + imag**2`` is the
    power."""
docdict["scaling"] = """
scaling : ``"density"`` | ``"spectrum"``
    Power spectral density (V²/Hz, as :func:`scipy.signal.spectrogram` and MNE's
    PSD) or power spectrum (V²), one-sided (non-DC, non-Nyquist bins doubled)."""
docdict["top_db"] = """
top_db : float | None
    Dynamic range kept by ``output="db"``, in dB below each item's peak."""
docdict["detrend"] = """
detrend : None | ``"constant"`` | ``"linear"``
    Remove each waveform's mean (``"constant"``) or least-squares line
    (``"linear"``) before the STFT. A DC offset (common in uncalibrated ADC
    recordings) otherwise leaks into the lowest bins through the window's main lobe
    and, with ``normalize="item"``, dominates the image."""
docdict["normalize"] = """
normalize : None | ``"item"`` | ``"dataset"`` | ``"recording"``
    None; z-score of each item's image (mean 0, std 1: robust to recordings in
    different units); fixed per-frequency statistics fitted on the training
    data; or, ``"recording"``, per-frequency statistics of all the images of the
    item's own recording and channel, computed on the data passed to each call
    (``fit``, ``transform``, ...) and never saved: a channel's gain and its
    recording's average spectrum are removed, differences between the segments of
    a recording kept. A recording is the ``recording`` metadata column of Epochs
    (an Epochs without it is one recording, and so is the array of each call),
    or a store's ``recording`` column; a recording and channel with a single segment
    is standardised on its own, as ``"item"``. For ``SpecAE(model="1d")`` it
    applies to the waveform: none; each item standardised on its own; or one mean
    and std per channel of the training waveforms (saved with the model);
    ``"recording"`` is for the 2-D model only."""
docdict["resize"] = """
resize : tuple of int | None
    ``(height, width)`` of the image. An axis that grows is interpolated bilinearly
    (``align_corners=True``: the first and last rows and columns keep their
    frequencies and times); an axis that shrinks is an antialiased average of the
    power (before any dB conversion), each pixel centred on the samples it covers
    (``Spectrogram.image_freqs`` and ``image_times`` say where). The study used
    ``(480, 640)``."""
docdict["channel_mode"] = """
channel_mode : ``"separate"`` | ``"planes"`` | ``"stack"``
    For inputs ``(..., n_channels, n_times)``: one image per channel; channels as
    the planes of one image; or channels stacked along the frequency axis, one tall
    image per segment (the last two need the same channels in every input)."""

# ---------------------------------------------------------------------- network
docdict["n_layers"] = """
n_layers : int
    Convolution + pooling blocks in the encoder (and upsampling blocks in the
    decoder). The study: 4."""
docdict["filters"] = """
filters : int | list of int
    Filters per encoder layer (the decoder mirrors them). The study: 64."""
docdict["kernel_size"] = """
kernel_size : int | None
    Odd kernel size; ``None``: the model's default (3 for 2-D, 9 for 1-D). The
    study: 3."""
docdict["activation"] = """
activation : str
    ``"relu"`` (the study), ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"`` or
    ``"tanh"``."""
docdict["norm"] = """
norm : None | ``"batch"`` | ``"instance"`` | ``"group"``
    Normalisation after each convolution (the study: none)."""
docdict["bottleneck"] = """
bottleneck : int | None
    Optional dense layer of this size between encoder and decoder; the embedding is
    then the bottleneck."""

# --------------------------------------------------------------------- training
docdict["max_epochs"] = """
max_epochs : int
    Upper bound on passes over the training items."""
docdict["max_time"] = """
max_time : float | None
    Time budget of the training run in seconds (``None``: none). Checked between
    batches, from the start of the call (of a resumed run: from the resume): once it
    is spent, the current epoch ends after that batch (its items so far count, and
    the validation loss is computed as after any epoch), the best weights are
    restored and ``history_.stop_reason`` is ``"max_time"``; at least one batch is
    always trained. The last validation pass and checkpoint come after the budget.
    Under torchrun the main process decides, every 25 batches and at each epoch's
    end. A setting of the run and the machine, like ``checkpoint``: not part of a
    checkpoint's fingerprint (a run may resume with another budget, and one stopped
    by ``max_time`` continues) and not saved in model files."""
docdict["batch_size"] = """
batch_size : int
    Items per optimisation step (in total, over all processes under torchrun)."""
docdict["lr"] = """
lr : float
    Learning rate of Adam."""
docdict["patience"] = """
patience : int
    Epochs without improvement of the monitored loss before stopping; the best
    weights are restored."""
docdict["val_fraction"] = """
val_fraction : float
    Fraction of items held out for validation and early stopping, split by group
    (subject, else recording) so that no group is on both sides (0: none; the
    training loss then decides)."""
docdict["scheduler"] = """
scheduler : None | ``"cosine"`` | ``"plateau"``
    Learning-rate schedule, stepped once per epoch (plateau: on the monitored
    loss)."""
docdict["mask_fraction"] = """
mask_fraction : float
    Denoising objective (masked spectrograms): in training batches only, the model
    sees its input with about this fraction of the time frames and of the frequency
    rows hidden (per item, 2 contiguous stripes of random positions and widths per
    axis; time frames only for the 1-D model) and must reconstruct the clean input,
    on which the loss is computed. Hidden values are set to 0 (each item's mean
    with ``normalize="item"``). In ``[0, 1)``; 0: plain reconstruction.
    Validation, embeddings and reconstructions always use the clean input (see
    :func:`mne_specae.corruption.corrupt`)."""
docdict["noise_std"] = """
noise_std : float
    Denoising objective: in training batches only, Gaussian noise of this standard
    deviation is added to the (normalised) model input; the loss is computed on the
    clean input. ``>= 0``; 0: none."""
docdict["spectrum_weight"] = """
spectrum_weight : float
    Weight of each item's spectrum in the loss (2-D model): the loss adds this
    weight times the same loss between the time means of the reconstruction and of
    the clean input (each frequency row averaged over time). A pixel of a
    spectrogram varies a lot from frame to frame (the STFT of noise-like EEG and EMG
    is speckled), so the plain loss is mostly frame-to-frame detail; this term makes
    the level of each frequency band, what state changes shift, count. The
    validation loss includes it. ``>= 0``; 0: the plain loss (see the model card for
    what it changed in the recipe selection)."""
docdict["band_limit"] = """
band_limit : float
    Robustness to band limits: in training batches only, this fraction of the items
    (in ``[0, 1]``) is band-limited at a random frequency in the upper half of the
    frequency axis (image rows; 0 Hz to Nyquist of a waveform), as a recording
    low-passed there or sampled at twice that rate would be, and the model must
    reconstruct the full band; the loss is computed on the clean input. So the band
    that a source's sampling rate or filters leave empty stops marking the source.
    0: none (see :func:`mne_specae.corruption.corrupt`)."""
docdict["pooling"] = """
pooling : ``"mean"`` | ``"max"`` | ``"meanmax"`` | ``"multiscale"`` | ``"multiscale_bands"``
    How the encoder's latent (e.g. 64 x 4 x 4) is pooled over space into the
    embedding (64 features; 128 for ``"meanmax"``). ``"multiscale"``: the
    spatial mean of every encoder block's output, concatenated (``sum(filters)``
    features): the shallow blocks keep fine spectral and temporal detail (such
    as the sharp broadband columns of heart beats) that the deepest latent
    averages away. ``"multiscale_bands"``: the same, with each block's output
    averaged over time and over each quarter of its frequency rows, low to high
    (``4 * sum(filters)`` features, filter by filter; a 1-D model has no frequency
    axis and gives ``"multiscale"``'s): a convolutional network's whole-image means
    hardly say *where* in frequency a pattern is, which band powers (EEG rhythms)
    are about. With a dense ``bottleneck`` the embedding is the bottleneck."""
docdict["precision"] = """
precision : ``"auto"`` | ``"fp32"`` | ``"bf16"``
    ``"auto"``: bf16 autocast on CUDA GPUs of compute capability 8.0 or more, fp32
    elsewhere (the weights stay fp32). :class:`~mne_specae.SpecAE`'s embeddings,
    codes and reconstruction errors on CUDA use the same precision."""
docdict["channels_last"] = """
channels_last : ``"auto"`` | bool
    Channels-last memory format for the 2-D model's weights and images (what
    tensor cores read fastest); ``"auto"``: on CUDA, and on the CPU while training
    (oneDNN's convolutions run about 1.7 x faster in it; the weights are given back in
    the standard layout; results equal to float rounding).
    :class:`~mne_specae.SpecAE`'s embeddings on CUDA use the same format; the 1-D
    model ignores it."""
docdict["compile"] = """
compile : bool
    Train through :func:`torch.compile`: a compilation of seconds to minutes at the
    start, then faster steps on a GPU. Training batches are then all full
    (``drop_last="auto"``: one batch shape, one graph); validation and inference
    run the module as it is. Not part of a checkpoint's fingerprint."""
docdict["drop_last"] = """
drop_last : ``"auto"`` | bool
    Train on full batches only: each epoch leaves out the items of its shuffled
    order after the last full batch (other items every epoch).
    ``"auto"``: only with ``compile=True`` (a smaller last batch would compile
    another graph). Validation always uses every item."""
docdict["device"] = """
device : str | torch.device
    ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``."""
docdict["checkpoint"] = """
checkpoint : path-like | None
    Checkpoint file, rewritten atomically after every epoch. It records what the
    run was (model, input stage, optimiser and schedule, batch size, input
    corruption, split and a checksum of the data), so that a resumed run can only
    continue the same run. A setting of the training run, not of the model: it is
    not saved in model files (a loaded model has ``checkpoint=None``,
    ``resume=False``)."""
docdict["resume"] = """
resume : bool
    Continue the run recorded in ``checkpoint``. ``False`` refuses to start when
    the checkpoint file exists (delete it or choose another path: work is never
    overwritten silently); ``True`` continues it, after checking that it records
    exactly this run (settings and data; a mismatch is an error that names what
    differs), and starts afresh when the file does not exist yet. A setting of the
    training run: not saved in model files (a loaded model has ``resume=False``)."""

# ------------------------------------------------------------------------- MNE
docdict["picks_signal"] = """
picks : str | array-like | slice | None
    Channels to use, as in MNE (names, types or indices). ``None``: every ECG, EEG
    and EMG channel; channels in ``info["bads"]`` are left out unless named
    explicitly. Stim, misc and other non-signal channels never enter by default."""
docdict["channel_agg_features"] = """
channel_agg : ``"mean"`` | ``"concat"``
    Average the channels' features (ignoring NaN: NaN only where every channel is),
    or concatenate them, channel after channel (the same number of channels in
    every Epochs)."""
docdict["verbose_estimator"] = """
verbose : bool | str | int | None
    Default verbosity of every method (MNE's levels: ``"info"`` shows progress,
    ``"warning"`` only problems); a method's own ``verbose`` argument wins.
    ``None``: MNE's current level."""

# --------------------------------------------------------------------- datasets
docdict["data_path"] = """
path : path-like | None
    Data folder (see :func:`~mne_specae.datasets.get_data_path`)."""
docdict["download"] = """
download : bool
    Download missing files; ``False`` raises if one is missing."""
docdict["fetch_params"] = docdict["data_path"] + docdict["download"]


def _add_defaults(doc, signature, indent):
    """Add ``, default=...`` to each parameter's type line, read from ``signature``."""
    if signature is None:
        return doc
    lines = doc.split("\n")
    in_params = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if (
            stripped == "Parameters"
            and i + 1 < len(lines)
            and lines[i + 1].strip().startswith("---")
        ):
            in_params = True
            continue
        if (
            in_params
            and i + 1 < len(lines)
            and stripped
            and lines[i + 1].strip().startswith("---")
            and set(lines[i + 1].strip()) == {"-"}
        ):
            break  # the next section
        match = _PARAM.match(line)
        if not in_params or match is None or match.group(1) != indent:
            continue
        name, kind = match.group(2), match.group(3)
        param = signature.parameters.get(name)
        if param is None or param.default is inspect.Parameter.empty or "default=" in kind:
            continue
        lines[i] = f"{line.rstrip()}, default={param.default!r}"
    return "\n".join(lines)


_PARAM = re.compile(r"^(\s*)(\w+) : (.*)$")
_KEY = re.compile(r"%\((\w+)\)s")


def fill_doc(obj):
    """Fill the ``%(name)s`` entries of ``obj``'s docstring that this docdict holds.

    Other ``%`` sequences (MNE's ``%(verbose)s``, ``%%``) are left for
    :func:`mne.utils.verbose`, which fills them when it wraps the function.

    Parameters
    ----------
    obj : callable
        Function or class; its ``__doc__`` is replaced.

    Returns
    -------
    obj : callable
        The same object.
    """
    doc = obj.__doc__
    if not doc:
        return obj
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        signature = None
    lines = doc.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    indent = " " * (min(indents) if indents else 0)

    def replace(match):
        name = match.group(1)
        if name not in docdict:
            if name in _mne_docdict:
                return match.group(0)
            raise RuntimeError(f"{obj.__qualname__}: no docdict entry {name!r}")
        return docdict[name].strip("\n").replace("\n", "\n" + indent)

    obj.__doc__ = _add_defaults(_KEY.sub(replace, doc), signature, indent)
    return obj
