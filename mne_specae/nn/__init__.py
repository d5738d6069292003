"""Networks and what feeds them: the convolutional autoencoders, input stages and the
corrupted inputs of the denoising objective."""

from .corruption import corrupt
from .input_stages import InputStage, WaveformInput
from .models import ConvAutoencoder1d, ConvAutoencoder2d

__all__ = ["ConvAutoencoder1d", "ConvAutoencoder2d", "InputStage", "WaveformInput", "corrupt"]
