"""inference-autotuner: find the best serving configuration of an LLM inference engine."""

__version__ = "0.1.0"
