"""What the shipped encoder does: loading it (weights in ``assets/``), channel types
from the signal, and unusual segments."""

from .channel_types import identify_channel_types
from .loading import load_pretrained
from .unusual import annotate_unusual

__all__ = ["annotate_unusual", "identify_channel_types", "load_pretrained"]
