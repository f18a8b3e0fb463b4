"""Engines: one module per inference engine behind the small `Engine` protocol."""

from __future__ import annotations

from ..errors import AutotunerError
from .base import Engine, FlagInfo, check_value, closest_flag, params_to_args
from .llamacpp import LlamaCppEngine
from .plan import Hardware, LaunchPlan, plan_launch
from .sglang import SglangEngine
from .trtllm import TrtllmEngine
from .vllm import VllmEngine

ENGINES: dict[str, type[Engine]] = {
	"llamacpp": LlamaCppEngine,
	"vllm": VllmEngine,
	"sglang": SglangEngine,
	"trtllm": TrtllmEngine,
}


def get_engine(name: str) -> Engine:
	try:
		return ENGINES[name]()
	except KeyError:
		raise AutotunerError(
			f"engine '{name}' is not available in this version",
			hint=f"available engines: {', '.join(sorted(ENGINES))}",
		) from None


__all__ = [
	"ENGINES",
	"Engine",
	"FlagInfo",
	"Hardware",
	"LaunchPlan",
	"check_value",
	"closest_flag",
	"get_engine",
	"params_to_args",
	"plan_launch",
]
