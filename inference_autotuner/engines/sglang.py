"""SGLang: `python -m sglang.launch_server --model-path MODEL --host H --port P ...` (GET /health; /health_generate).

The flag catalogue is generated from SGLang's own parser: `scripts/engine_catalog.py sglang` runs
`ServerArgs.add_cli_args` (sglang 0.5.23, installed with --no-deps beside the vLLM venv's torch: see the Makefile's
.tools/sglang) and writes inference_autotuner/data/catalog-sglang.json; only the commonly tuned flags are the tuner's
choice. Booleans are store_true flags: true passes `--flag`, false omits it. The server itself needs a GPU: tested
here through the argv it builds.
"""

from __future__ import annotations

import sys

from .catalog import drift, engine_python, flags_from, load_snapshot
from .server import ServerEngine

TUNED = (
	"tp-size",
	"dp-size",
	"pp-size",
	"ep-size",
	"mem-fraction-static",
	"max-running-requests",
	"chunked-prefill-size",
	"max-prefill-tokens",
	"schedule-policy",
	"schedule-conservativeness",
	"num-continuous-decode-steps",
	"disable-radix-cache",
	"enable-mixed-chunk",
	"enable-torch-compile",
	"stream-interval",
	"attention-backend",
	"moe-runner-backend",
	"kv-cache-dtype",
)
OWNED = ("host", "port", "model-path")  # set by the tuner for every launch

_SNAPSHOT = load_snapshot("sglang")
FLAGS = flags_from(_SNAPSHOT, TUNED, OWNED) if _SNAPSHOT is not None else ()


class SglangEngine(ServerEngine):
	name = "sglang"
	version = (
		f"SGLang {_SNAPSHOT.version} (flags generated from {_SNAPSHOT.source})"
		if _SNAPSHOT
		else "SGLang (no catalogue)"
	)
	catalogue_version = _SNAPSHOT.version if _SNAPSHOT else None
	health_path = "/health"
	metrics_path = "/metrics"  # answered with --enable-metrics (bench/engine_metrics.py maps its names)
	weights_format = "hf"
	command = ("python", "-m", "sglang.launch_server")
	model_flag = "model-path"
	flags = FLAGS
	memory_flag = "mem-fraction-static"
	memory_default = 0.88  # SGLang derives it from GPU size and tp; 0.88 is its usual value on 80 GB GPUs
	max_len_flags = ("context-length",)

	def __init__(self, command: list[str] | None = None) -> None:
		super().__init__(command)
		if self.argv0 == list(self.command):
			self.argv0 = [sys.executable, "-I", "-m", "sglang.launch_server"]  # the tuner's Python, isolated (-I)

	def drift(self) -> str | None:
		"""A warning when the SGLang this engine launches is another version than its flag catalogue."""
		return drift(self.name, engine_python(self.argv0))
