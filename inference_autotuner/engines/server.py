"""What the GPU server engines (vLLM, SGLang, TensorRT-LLM) share: a binary, a flag catalogue with aliases, argv.

None of these engines runs on a machine without a GPU; their modules are tested through the argv they build.
`AUTOTUNER_<ENGINE>_BIN` (e.g. AUTOTUNER_VLLM_BIN=/path/stand-in) replaces the engine's command, so a stand-in
executable can take its place in tests and dry runs.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from .base import FlagInfo, join_command, params_to_args
from .parallel import effective_parallel, world_size


class ServerEngine:
	"""Base of the GPU server engines; subclasses set the class attributes below."""

	name = ""
	version = ""
	health_path = "/health"
	command: tuple[str, ...] = ()  # how the engine is started, before the model argument
	model_flag: str | None = None  # None: the model is a positional argument
	flags: tuple[FlagInfo, ...] = ()
	memory_flag = ""  # the memory-fraction flag
	memory_default = 0.9
	memory_of_free = False  # True: the fraction is of the memory left after the weights (TensorRT-LLM)
	max_len_flags: tuple[str, ...] = ()

	def __init__(self, command: list[str] | None = None) -> None:
		env = os.environ.get(f"AUTOTUNER_{self.name.upper()}_BIN")
		self.argv0 = command or (shlex.split(env) if env else list(self.command))

	def catalogue(self) -> dict[str, FlagInfo]:
		return {f.name: f for f in self.flags}

	def canonical(self, name: str) -> str:
		"""The catalogue name of a flag given by one of its aliases (unchanged when unknown)."""
		for f in self.flags:
			if name == f.name or name in f.aliases:
				return f.name
		return name

	def _args(self, params: dict[str, Any]) -> list[str]:
		return params_to_args({k: v for k, v in params.items() if not k.startswith("_")})

	def _model(self, model: str) -> list[str]:
		return [f"--{self.model_flag}", model] if self.model_flag else [model]

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		return [*self.argv0, *self._model(model), "--host", host, "--port", str(port), *self._args(params)]

	def serve_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		"""The engine's own command line (`vllm serve MODEL ...`), whatever this host launches it with: what a
		container or pod runs and what a user is shown."""
		flag = type(self).model_flag
		where = [f"--{flag}", model] if flag else [model]
		return [*self.command, *where, "--host", host, "--port", str(port), *self._args(params)]

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8000) -> str:
		return join_command(self.serve_argv(model, params, host="0.0.0.0", port=port))

	def parallel(self, params: dict[str, Any]) -> dict[str, int]:
		flags = {self.canonical(k): v for k, v in params.items()}
		return effective_parallel(self.name, flags, params.get("_llm_api_options"))

	def world_size(self, params: dict[str, Any]) -> int:
		return world_size(self.name, self.parallel(params))

	def memory_settings(self, params: dict[str, Any]) -> tuple[float, bool, int | None]:
		"""(memory fraction, whether it is a fraction of what the weights leave, longest context or None)."""
		flags = {self.canonical(k): v for k, v in params.items()}
		fraction = flags.get(self.memory_flag, self.memory_default)
		max_len = next((flags[f] for f in self.max_len_flags if isinstance(flags.get(f), int)), None)
		return float(fraction), self.memory_of_free, max_len
