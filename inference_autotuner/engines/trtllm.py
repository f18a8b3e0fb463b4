"""TensorRT-LLM: `trtllm-serve MODEL --host H --port P ...` (PyTorch backend; GET /health).

Flag names read from TensorRT-LLM's own `tensorrt_llm/commands/serve.py` (click options of `trtllm-serve serve`, main
2025-2026, the 1.x line): underscores, not dashes; booleans are click flags (true passes `--flag`). trtllm-serve has
no quantization or data-type flags: KV cache dtype, model dtype and MoE tensor parallelism go into the LLM-API YAML it
reads with `--config`. This module writes that YAML (one file per distinct content, under the temp dir) from the
options the quantization / parallel mapping derives. Cannot run without a GPU: tested through the argv it builds.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .base import FlagInfo, params_to_args
from .server import ServerEngine

OPTIONS_KEY = "_llm_api_options"  # params key holding derived LLM-API options (a dict), turned into --config FILE

FLAGS = (
	FlagInfo("tp_size", "int", "Tensor parallel GPUs", default=1, tuned=True, aliases=("tensor_parallel_size",)),
	FlagInfo("pp_size", "int", "Pipeline parallel stages", default=1, tuned=True, aliases=("pipeline_parallel_size",)),
	FlagInfo("cp_size", "int", "Context parallel size", default=1, aliases=("context_parallel_size",)),
	FlagInfo("ep_size", "int", "MoE expert parallel size", tuned=True, aliases=("moe_expert_parallel_size",)),
	FlagInfo("cluster_size", "int", "MoE cluster parallel size", aliases=("moe_cluster_parallel_size",)),
	FlagInfo("max_batch_size", "int", "Most requests scheduled at once", default=2048, tuned=True),
	FlagInfo("max_num_tokens", "int", "Most batched tokens per iteration", default=8192, tuned=True),
	FlagInfo("max_seq_len", "int", "Longest request (prompt + output)", tuned=True),
	FlagInfo("max_beam_width", "int", "Beams for beam search", default=1),
	FlagInfo(
		"kv_cache_free_gpu_memory_fraction",
		"float",
		"Fraction of the memory left after weights for the KV cache",
		default=0.9,
		tuned=True,
		aliases=("free_gpu_memory_fraction",),
	),
	FlagInfo("enable_chunked_prefill", "bool", "Chunked prefill", tuned=True),
	FlagInfo("backend", "str", "Runtime", choices=("pytorch", "tensorrt", "_autodeploy"), default="pytorch"),
	FlagInfo("gpus_per_node", "int", "GPUs per node (default: detected)"),
	FlagInfo("num_postprocess_workers", "int", "Workers for response post-processing", default=0, tuned=True),
	FlagInfo("config", "str", "LLM-API options YAML", aliases=("extra_llm_api_options",)),
	FlagInfo("tokenizer", "str", "Tokenizer path or name"),
	FlagInfo("trust_remote_code", "bool", "Allow custom model code"),
	FlagInfo("log_level", "str", "Log level", choices=("verbose", "info", "warning", "error", "internal_error")),
	FlagInfo("reasoning_parser", "str", "Reasoning output parser"),
)


def options_file(options: dict[str, Any]) -> Path:
	"""The YAML file holding `options` (written once; the name is a hash of the content)."""
	text = yaml.safe_dump(options, sort_keys=True)
	digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
	path = Path(tempfile.gettempdir()) / "autotuner-trtllm" / f"llm-api-{digest}.yaml"
	if not path.exists():
		path.parent.mkdir(parents=True, exist_ok=True)
		path.write_text(text, encoding="utf-8")
	return path


class TrtllmEngine(ServerEngine):
	name = "trtllm"
	version = "TensorRT-LLM 1.x `trtllm-serve` (flags read from tensorrt_llm/commands/serve.py)"
	health_path = "/health"
	weights_format = "hf"  # a Hugging Face folder (a known GGUF model is converted once)
	command = ("trtllm-serve",)
	model_flag = None
	flags = FLAGS
	memory_flag = "kv_cache_free_gpu_memory_fraction"
	memory_default = 0.9
	memory_of_free = True
	max_len_flags = ("max_seq_len",)

	def _args(self, params: dict[str, Any]) -> list[str]:
		flags = {k: v for k, v in params.items() if not k.startswith("_")}
		options = params.get(OPTIONS_KEY)
		if options:
			flags["config"] = str(options_file(options))
		return params_to_args(flags)

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8000) -> str:
		text = super().display_command(model, params, port=port)
		options = params.get(OPTIONS_KEY)
		return f"{text}  # {options_file(options).name}: {json.dumps(options)}" if options else text
