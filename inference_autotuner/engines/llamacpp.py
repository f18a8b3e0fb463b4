"""llama.cpp: `llama-server` where it is on PATH, else llama.cpp's own server through the xllamacpp wheel.

Flag names are llama-server's (read from llama.cpp's `common/arg.cpp` and `tools/server/README.md`; the catalogue
covers the flags this tool tunes or passes; the in-process launcher accepts the same names).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from .base import FlagInfo, join_command, params_to_args

_CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")

_FLAGS = [
	FlagInfo("ctx-size", "int", "Prompt context size in tokens, shared by all slots (0 = model's)", tuned=True),
	FlagInfo("batch-size", "int", "Logical maximum batch size", default=2048, tuned=True),
	FlagInfo("ubatch-size", "int", "Physical maximum batch size", default=512, tuned=True),
	FlagInfo("threads", "int", "Threads used for generation", tuned=True),
	FlagInfo("threads-batch", "int", "Threads used for batch and prompt processing", tuned=True),
	FlagInfo("parallel", "int", "Number of server slots (concurrent sequences)", default=1, tuned=True),
	FlagInfo("cont-batching", "bool", "Continuous batching (on by default in llama-server)", default=True, tuned=True),
	FlagInfo("no-cont-batching", "bool", "Disable continuous batching"),
	FlagInfo("flash-attn", "str", "Flash attention", choices=("on", "off", "auto"), default="auto", tuned=True),
	FlagInfo("cache-type-k", "str", "KV cache data type for K", choices=_CACHE_TYPES, default="f16", tuned=True),
	FlagInfo("cache-type-v", "str", "KV cache data type for V", choices=_CACHE_TYPES, default="f16", tuned=True),
	FlagInfo("poll", "int", "Polling level to wait for work (0 = no polling)", default=50, tuned=True),
	FlagInfo("threads-http", "int", "Threads of the HTTP server"),
	FlagInfo("n-gpu-layers", "int", "Layers to offload to the GPU"),
	FlagInfo("keep", "int", "Tokens to keep from the initial prompt"),
	FlagInfo("seed", "int", "Sampling seed"),
	FlagInfo("defrag-thold", "float", "KV cache defragmentation threshold"),
	FlagInfo("kv-unified", "bool", "One KV buffer shared by all sequences"),
	FlagInfo("no-kv-unified", "bool", "Separate KV buffers per sequence"),
	FlagInfo("no-warmup", "bool", "Skip the warm-up run at start"),
	FlagInfo("mlock", "bool", "Keep the model in RAM"),
	FlagInfo("no-mmap", "bool", "Do not memory-map the model"),
	FlagInfo("cache-prompt", "bool", "Reuse the KV cache of a previous prompt"),
	FlagInfo("no-cache-prompt", "bool", "Do not reuse the KV cache of a previous prompt"),
]


class LlamaCppEngine:
	name = "llamacpp"
	version = "llama.cpp server (xllamacpp wheel or llama-server)"
	health_path = "/health"
	metrics_path = "/metrics"  # Prometheus figures (bench/engine_metrics.py)

	def __init__(self, binary: str | None = None) -> None:
		# AUTOTUNER_LLAMA_SERVER=builtin forces the xllamacpp launcher even where llama-server is on PATH
		choice = os.environ.get("AUTOTUNER_LLAMA_SERVER", "")
		if binary is None and choice != "builtin":
			binary = choice or shutil.which("llama-server")
		self.binary = binary

	def catalogue(self) -> dict[str, FlagInfo]:
		return {f.name: f for f in _FLAGS}

	def _server(self) -> list[str]:
		if self.binary:
			return [self.binary]
		# -I: isolated, so no PYTHON* variable or the working directory changes what this Python loads
		return [sys.executable, "-I", "-m", "inference_autotuner.engines.llamacpp_server"]

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		return [*self._server(), "--model", model, "--host", host, "--port", str(port), *params_to_args(params)]

	def world_size(self, params: dict[str, Any]) -> int:
		return 1  # one server process; on a GPU build layers may be split, but the tuner treats it as one device

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8080) -> str:
		argv = ["llama-server", "--model", model, "--host", "0.0.0.0", "--port", str(port), *params_to_args(params)]
		return join_command(argv)
