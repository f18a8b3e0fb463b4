"""SGLang: `python -m sglang.launch_server --model-path MODEL --host H --port P ...` (GET /health; /health_generate).

Flag names and choices read from SGLang 0.5.23's own definitions: `sglang/srt/arg_groups/fields/{parallel,model,
schedule,memory,exec_,serving}.py` (the ServerArgs fields; a field `tp_size` is the flag `--tp-size`, aliases as
declared there, e.g. `--tensor-parallel-size`). Booleans are store_true flags: true passes `--flag`, false omits it.
Cannot run without a GPU: tested here through the argv it builds.
"""

from __future__ import annotations

import sys

from .base import FlagInfo
from .server import ServerEngine

_KV = ("auto", "fp8_e5m2", "fp8_e4m3", "mxfp8", "bf16", "bfloat16", "nvfp4", "fp4_mx_block16")
_ATTN: tuple[str, ...] = (
	"triton",
	"torch_native",
	"flex_attention",
	"fa3",
	"fa4",
	"flashinfer",
	"flashmla",
	"cutlass_mla",
	"aiter",
)
_ATTN += ("trtllm_mha", "trtllm_mla", "dual_chunk_flash_attn")
_MOE: tuple[str, ...] = (
	"auto",
	"deep_gemm",
	"triton",
	"triton_kernel",
	"flashinfer_trtllm",
	"flashinfer_cutlass",
	"flashinfer_mxfp4",
)
_MOE += ("flashinfer_cutedsl", "cutlass", "aiter", "marlin")
_SCHED = ("lpm", "random", "fcfs", "dfs-weight", "lof", "priority", "routing-key", "hrrn", "shortest-prefill-first")
_QUANT: tuple[str, ...] = (
	"awq",
	"fp8",
	"mxfp8",
	"gptq",
	"marlin",
	"gptq_marlin",
	"awq_marlin",
	"bitsandbytes",
	"gguf",
	"modelopt",
)
_QUANT += (
	"modelopt_fp8",
	"modelopt_fp4",
	"w8a8_int8",
	"w8a8_fp8",
	"moe_wna16",
	"w4afp8",
	"mxfp4",
	"compressed-tensors",
)

FLAGS = (
	FlagInfo("tp-size", "int", "Tensor parallel GPUs", default=1, tuned=True, aliases=("tensor-parallel-size", "tp")),
	FlagInfo("dp-size", "int", "Data parallel replicas", default=1, tuned=True, aliases=("data-parallel-size", "dp")),
	FlagInfo("pp-size", "int", "Pipeline parallel stages", default=1, tuned=True, aliases=("pipeline-parallel-size",)),
	FlagInfo(
		"dcp-size", "int", "Decode context parallel (divides tp)", default=1, aliases=("decode-context-parallel-size",)
	),
	FlagInfo(
		"attn-cp-size", "int", "Attention context parallel", default=1, aliases=("attention-context-parallel-size",)
	),
	FlagInfo("attn-dp-size", "int", "Data-parallel attention groups inside tp", default=1),
	FlagInfo("ep-size", "int", "Expert parallel size", default=1, tuned=True, aliases=("expert-parallel-size", "ep")),
	FlagInfo("moe-dense-tp-size", "int", "TP size of the dense MLP layers of MoE models"),
	FlagInfo("mem-fraction-static", "float", "Fraction of memory for weights + KV pool", tuned=True),
	FlagInfo("max-running-requests", "int", "Most requests running at once", tuned=True),
	FlagInfo("max-total-tokens", "int", "Tokens in the KV pool (default: from the memory fraction)"),
	FlagInfo("chunked-prefill-size", "int", "Tokens per prefill chunk (-1: off)", tuned=True),
	FlagInfo("max-prefill-tokens", "int", "Most tokens in one prefill batch", default=16384, tuned=True),
	FlagInfo("schedule-policy", "str", "Request scheduling", choices=_SCHED, default="fcfs", tuned=True),
	FlagInfo("schedule-conservativeness", "float", "How conservative scheduling is (lower: more requests)", tuned=True),
	FlagInfo("num-continuous-decode-steps", "int", "Decode steps between scheduling rounds", default=1, tuned=True),
	FlagInfo("page-size", "int", "Tokens per KV cache page", default=1),
	FlagInfo("disable-radix-cache", "bool", "Turn off the prefix (radix) cache", tuned=True),
	FlagInfo("enable-mixed-chunk", "bool", "Mix prefill and decode in one batch", tuned=True),
	FlagInfo("enable-torch-compile", "bool", "torch.compile the model", tuned=True),
	FlagInfo("enable-hierarchical-cache", "bool", "Spill the KV cache to host memory"),
	FlagInfo("stream-interval", "int", "Tokens between streamed chunks", default=1, tuned=True),
	FlagInfo("attention-backend", "str", "Attention kernels", choices=_ATTN, tuned=True),
	FlagInfo("prefill-attention-backend", "str", "Attention kernels for prefill", choices=_ATTN),
	FlagInfo("decode-attention-backend", "str", "Attention kernels for decode", choices=_ATTN),
	FlagInfo("moe-runner-backend", "str", "MoE kernels", choices=_MOE, default="auto", tuned=True),
	FlagInfo("quantization", "str", "Quantization method", choices=_QUANT),
	FlagInfo("kv-cache-dtype", "str", "KV cache data type", choices=_KV, default="auto", tuned=True),
	FlagInfo("dtype", "str", "Weights/activations data type", choices=("auto", "half", "float16", "bfloat16", "float")),
	FlagInfo("context-length", "int", "Context length (default: the model's)"),
	FlagInfo("load-balance-method", "str", "DP load balancing", choices=("auto", "round_robin", "total_requests")),
	FlagInfo("served-model-name", "str", "Model name in the API"),
	FlagInfo("trust-remote-code", "bool", "Allow custom model code"),
	FlagInfo("random-seed", "int", "Random seed"),
	FlagInfo("skip-server-warmup", "bool", "Skip the warm-up request"),
)


class SglangEngine(ServerEngine):
	name = "sglang"
	version = "SGLang 0.5.23 (flags read from sglang/srt/arg_groups/fields/*.py)"
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
