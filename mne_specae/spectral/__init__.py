"""Spectrograms: the STFT as a torch module, frequency rows, framing, inversion, and
MNE time-frequency objects of Epochs and Raw."""

from .inversion import griffin_lim, inverse_stft
from .spectrogram import Spectrogram
from .tfr import compute_spectrogram

__all__ = ["Spectrogram", "compute_spectrogram", "griffin_lim", "inverse_stft"]
