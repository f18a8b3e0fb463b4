"""vLLM: `vllm serve MODEL --host H --port P ...` (OpenAI server; GET /health answers 200 once the engine is ready).

Flag names and choices read from vLLM's own definitions: `vllm/engine/arg_utils.py` (EngineArgs.add_cli_args) and
`vllm/config/{cache,parallel,model,scheduler}.py` on vLLM main (2025-2026, the 0.11+ `vllm serve` CLI). Booleans are
argparse BooleanOptionalAction flags: true passes `--flag`, false omits it (use `no-<flag>: true` to turn a default
off). Cannot run without a GPU: tested here through the argv it builds.
"""

from __future__ import annotations

from .base import FlagInfo
from .server import ServerEngine

_KV = ("auto", "float16", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla")
_DTYPE = ("auto", "half", "float16", "bfloat16", "float", "float32")

FLAGS = (
	FlagInfo("tensor-parallel-size", "int", "Tensor parallel GPUs", default=1, tuned=True, aliases=("tp",)),
	FlagInfo("pipeline-parallel-size", "int", "Pipeline parallel stages", default=1, tuned=True, aliases=("pp",)),
	FlagInfo("data-parallel-size", "int", "Data parallel replicas", default=1, tuned=True, aliases=("dp",)),
	FlagInfo(
		"decode-context-parallel-size", "int", "Decode context parallel (divides tp)", default=1, aliases=("dcp",)
	),
	FlagInfo("enable-expert-parallel", "bool", "Expert parallelism for MoE layers (EP size = tp x dp)"),
	FlagInfo(
		"gpu-memory-utilization", "float", "Fraction of GPU memory for weights + KV cache", default=0.9, tuned=True
	),
	FlagInfo("max-num-seqs", "int", "Most sequences in one batch", tuned=True),
	FlagInfo("max-num-batched-tokens", "int", "Most tokens in one batch (chunked prefill budget)", tuned=True),
	FlagInfo("max-model-len", "int", "Context length (default: the model's)", tuned=True),
	FlagInfo("block-size", "int", "KV cache block size in tokens", choices=("1", "8", "16", "32", "64", "128")),
	FlagInfo("enable-chunked-prefill", "bool", "Split long prefills into chunks", tuned=True),
	FlagInfo("no-enable-chunked-prefill", "bool", "Disable chunked prefill"),
	FlagInfo("enable-prefix-caching", "bool", "Reuse KV cache of shared prefixes (on by default)", tuned=True),
	FlagInfo("no-enable-prefix-caching", "bool", "Disable prefix caching", tuned=True),
	FlagInfo("enforce-eager", "bool", "No CUDA graphs (eager mode)", tuned=True),
	FlagInfo("async-scheduling", "bool", "Overlap scheduling with model execution", tuned=True),
	FlagInfo("scheduling-policy", "str", "Request scheduling", choices=("fcfs", "priority"), default="fcfs"),
	FlagInfo("max-num-partial-prefills", "int", "Concurrent partial prefills", default=1),
	FlagInfo("long-prefill-token-threshold", "int", "Tokens from which a prefill counts as long"),
	FlagInfo("quantization", "str", "Quantization method (fp8, awq, gptq, experts_int8, ...)", aliases=("q",)),
	FlagInfo("kv-cache-dtype", "str", "KV cache data type", choices=_KV, default="auto", tuned=True),
	FlagInfo("dtype", "str", "Weights/activations data type", choices=_DTYPE, default="auto"),
	FlagInfo("attention-backend", "str", "Attention backend (FLASH_ATTN, FLASHINFER, TRITON_ATTN, ...)"),
	FlagInfo("cpu-offload-gb", "float", "GiB of weights offloaded to CPU memory per GPU", default=0),
	FlagInfo("kv-cache-memory-bytes", "int", "KV cache size per GPU in bytes (overrides the utilization)"),
	FlagInfo(
		"distributed-executor-backend", "str", "Worker backend", choices=("mp", "ray", "uni", "external_launcher")
	),
	FlagInfo("compilation-config", "str", "torch.compile / CUDA graph config (JSON)", aliases=("O",)),
	FlagInfo("served-model-name", "str", "Model name in the API"),
	FlagInfo("tokenizer", "str", "Tokenizer name or path"),
	FlagInfo("load-format", "str", "Weight loading format"),
	FlagInfo("trust-remote-code", "bool", "Allow custom model code"),
	FlagInfo("seed", "int", "Random seed"),
	FlagInfo("disable-log-stats", "bool", "No periodic stats log"),
	FlagInfo("allow-deprecated-quantization", "bool", "Accept deprecated methods such as experts_int8"),
)


class VllmEngine(ServerEngine):
	name = "vllm"
	version = "vLLM 0.11+ `vllm serve` (flags read from vllm/engine/arg_utils.py, main 2025-2026)"
	health_path = "/health"
	command = ("vllm", "serve")
	model_flag = None
	flags = FLAGS
	memory_flag = "gpu-memory-utilization"
	memory_default = 0.9
	max_len_flags = ("max-model-len",)
