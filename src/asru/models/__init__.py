"""Models: load any HF VLM, build tiny ones offline, find decoder layers."""

from asru.models.layers import language_layers, num_language_layers
from asru.models.loading import load_processor, load_vlm, save_vlm
from asru.models.tiny import TinyModelConfig, build_tiny

__all__ = ["TinyModelConfig", "build_tiny", "language_layers", "load_processor", "load_vlm", "num_language_layers", "save_vlm"]
