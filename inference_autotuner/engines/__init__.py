"""Engines: one module per inference engine behind the small `Engine` protocol."""

from __future__ import annotations

from ..errors import AutotunerError
from .base import Engine, FlagInfo, check_value, closest_flag, params_to_args
from .llamacpp import LlamaCppEngine

ENGINES = {"llamacpp": LlamaCppEngine}


def get_engine(name: str) -> Engine:
	try:
		return ENGINES[name]()
	except KeyError:
		raise AutotunerError(
			f"engine '{name}' is not available in this version",
			hint=f"available engines: {', '.join(sorted(ENGINES))}",
		) from None


__all__ = ["ENGINES", "Engine", "FlagInfo", "check_value", "closest_flag", "get_engine", "params_to_args"]
