"""asru: controllable machine unlearning for multimodal LLMs."""

__version__ = "0.1.0"
