"""Memory-fit estimate: will one configuration's weights and KV cache fit on its GPUs? (No engine is started.)

Per GPU, with tp x pp GPUs holding one copy of the model:
  weights  = parameters x bytes of the weight dtype / (tp x pp)   (experts use the MoE dtype)
  kv cache = layers/pp x kv_heads/tp (at least 1) x head_dim x 2 (K and V) x bytes of the KV dtype x tokens
             (MLA models: layers/pp x (kv_lora_rank + rope dim) x bytes x tokens, not split over tp)
  tokens   = one sequence of the longest context the config admits (max-model-len / context-length /
             max_seq_len, else the model's max_position_embeddings): the engines refuse to start below that
  overhead = 2 GiB per GPU (CUDA context, activations, CUDA graphs, communication buffers): a stated guess
Budget: GPU memory x the engine's memory fraction (vLLM --gpu-memory-utilization, default 0.9; SGLang
--mem-fraction-static, default 0.88). TensorRT-LLM sizes its KV cache as a fraction (free_gpu_memory_fraction,
default 0.9) of the memory left after the weights, so there the weights and overhead must fit the whole GPU and the
KV cache that fraction of what is left. Parameter counts come from config.json (dense, GQA, MoE, MLA shapes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

GIB = 1024**3
OVERHEAD_BYTES = 2 * GIB
DTYPE_BYTES = {
	"auto": None,
	"fp32": 4.0,
	"float32": 4.0,
	"fp16": 2.0,
	"float16": 2.0,
	"bf16": 2.0,
	"bfloat16": 2.0,
	"fp8": 1.0,
	"fp8_e4m3": 1.0,
	"fp8_e5m2": 1.0,
	"int8": 1.0,
	"int4": 0.5,
}
GPU_MEMORY_GIB = {"H100": 80, "H200": 141, "B200": 192, "A100": 80, "A100-40GB": 40, "L40S": 48, "L4": 24, "A10G": 24}


class MemoryEstimate(BaseModel):
	"""Per-GPU figures in GiB."""

	fits: bool
	weights_gib: float = Field(description="Weights held by one GPU")
	kv_cache_gib: float = Field(description="KV cache of one longest sequence on one GPU")
	overhead_gib: float
	budget_gib: float = Field(description="GPU memory x the memory fraction")
	gpu_memory_gib: float
	tokens: int = Field(description="Tokens of the one sequence the KV cache must hold")
	parameters_b: float = Field(description="Model parameters, billions")
	max_sequences: int = Field(description="Longest-length sequences the left-over memory holds (0: none)")
	reason: str | None = None


def find_model_config(model_ref: str) -> dict[str, Any] | None:
	"""config.json of a local model folder, or of a Hugging Face repo already in the local hub cache."""
	local = Path(model_ref).expanduser()
	candidates = [local / "config.json", local.parent / "config.json"] if local.exists() else []
	if not candidates and model_ref.count("/") == 1:
		hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", "~/.cache/huggingface")) / "hub")
		snaps = hub.expanduser() / f"models--{model_ref.replace('/', '--')}" / "snapshots"
		candidates = sorted(snaps.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
	for path in candidates:
		if path.is_file():
			try:
				data = json.loads(path.read_text(encoding="utf-8"))
			except (OSError, ValueError):
				return None
			return data if isinstance(data, dict) else None
	return None


def _text_config(cfg: dict[str, Any]) -> dict[str, Any]:
	inner = cfg.get("text_config") or cfg.get("llm_config")
	return {**cfg, **inner} if isinstance(inner, dict) else cfg


def parameter_counts(config: dict[str, Any]) -> tuple[float, float]:
	"""(dense parameters, expert parameters) from a transformers config.json."""
	c = _text_config(config)
	hidden = int(c["hidden_size"])
	layers = int(c["num_hidden_layers"])
	heads = int(c["num_attention_heads"])
	kv_heads = int(c.get("num_key_value_heads") or heads)
	head_dim = int(c.get("head_dim") or hidden // heads)
	vocab = int(c.get("vocab_size", 32000))
	inter = int(c.get("intermediate_size", 4 * hidden))
	embed = vocab * hidden * (1 if c.get("tie_word_embeddings") else 2)
	if c.get("kv_lora_rank"):  # MLA (DeepSeek): compressed KV projections
		q_dim = heads * (int(c.get("qk_nope_head_dim", 128)) + int(c.get("qk_rope_head_dim", 64)))
		q = hidden * int(c["q_lora_rank"]) + int(c["q_lora_rank"]) * q_dim if c.get("q_lora_rank") else hidden * q_dim
		kv = hidden * (int(c["kv_lora_rank"]) + int(c.get("qk_rope_head_dim", 64)))
		kv += int(c["kv_lora_rank"]) * heads * (int(c.get("qk_nope_head_dim", 128)) + int(c.get("v_head_dim", 128)))
		attn = q + kv + heads * int(c.get("v_head_dim", 128)) * hidden
	else:
		attn = hidden * heads * head_dim * 2 + 2 * hidden * kv_heads * head_dim
	experts = int(c.get("num_local_experts") or c.get("n_routed_experts") or c.get("num_experts") or 0)
	if not experts:
		return float(embed + layers * (attn + 3 * hidden * inter)), 0.0
	moe_inter = int(c.get("moe_intermediate_size") or inter)
	dense_layers = int(c.get("first_k_dense_replace", 0))
	moe_layers = layers - dense_layers
	shared = int(c.get("n_shared_experts") or 0) * 3 * hidden * moe_inter
	if c.get("shared_expert_intermediate_size"):
		shared = 3 * hidden * int(c["shared_expert_intermediate_size"])
	dense = embed + layers * attn + dense_layers * 3 * hidden * inter + moe_layers * (shared + hidden * experts)
	return float(dense), float(moe_layers * experts * 3 * hidden * moe_inter)


def kv_bytes_per_token(config: dict[str, Any], kv_bytes: float, tp: int, pp: int) -> float:
	c = _text_config(config)
	layers = -(-int(c["num_hidden_layers"]) // pp)
	if c.get("kv_lora_rank"):
		return layers * (int(c["kv_lora_rank"]) + int(c.get("qk_rope_head_dim", 64))) * kv_bytes
	heads = int(c["num_attention_heads"])
	kv_heads = int(c.get("num_key_value_heads") or heads)
	head_dim = int(c.get("head_dim") or int(c["hidden_size"]) // heads)
	return layers * max(1, kv_heads // tp) * head_dim * 2 * kv_bytes


def _model_bytes(config: dict[str, Any]) -> float:
	q = config.get("quantization_config")
	if isinstance(q, dict) and isinstance(q.get("bits"), int):
		return q["bits"] / 8
	if isinstance(q, dict) and "fp8" in str(q.get("quant_method", "")):
		return 1.0
	dtype = str(_text_config(config).get("torch_dtype") or config.get("dtype") or "bfloat16")
	return 2.0 if dtype in ("float32", "fp32") else DTYPE_BYTES.get(dtype, 2.0) or 2.0


def estimate_memory(
	config: dict[str, Any],
	*,
	quant: dict[str, str],
	tp: int,
	pp: int,
	gpu_memory_gib: float,
	fraction: float,
	max_len: int | None,
	fraction_of_free: bool = False,
) -> MemoryEstimate:
	"""Per-GPU fit of one configuration (see the module docstring for the formula and its assumptions)."""
	native = _model_bytes(config)
	w_bytes = DTYPE_BYTES.get(quant.get("gemm_dtype", "auto")) or native
	moe_bytes = DTYPE_BYTES.get(quant.get("moe_dtype", "auto")) or w_bytes
	kv_b = DTYPE_BYTES.get(quant.get("kvcache_dtype", "auto")) or (2.0 if native < 2 else native)
	dense, expert = parameter_counts(config)
	weights = (dense * w_bytes + expert * moe_bytes) / (tp * pp)
	tokens = int(max_len or _text_config(config).get("max_position_embeddings") or 4096)
	per_token = kv_bytes_per_token(config, kv_b, tp, pp)
	kv = per_token * tokens
	total = gpu_memory_gib * GIB
	if fraction_of_free:
		budget = total
		kv_room = max(0.0, (total - weights - OVERHEAD_BYTES) * fraction)
		fits = weights + OVERHEAD_BYTES <= total and kv <= kv_room
	else:
		budget = total * fraction
		kv_room = max(0.0, budget - weights - OVERHEAD_BYTES)
		fits = weights + kv + OVERHEAD_BYTES <= budget
	g = lambda b: round(b / GIB, 2)  # noqa: E731
	est = MemoryEstimate(
		fits=fits,
		weights_gib=g(weights),
		kv_cache_gib=g(kv),
		overhead_gib=g(OVERHEAD_BYTES),
		budget_gib=g(budget),
		gpu_memory_gib=gpu_memory_gib,
		tokens=tokens,
		parameters_b=round((dense + expert) / 1e9, 2),
		max_sequences=int(kv_room // kv) if kv else 0,
	)
	if not fits:
		est.reason = (
			f"does not fit: per GPU {est.weights_gib} GiB weights + {est.kv_cache_gib} GiB KV cache "
			f"({tokens} tokens) + {est.overhead_gib} GiB overhead > {est.budget_gib} GiB "
			f"({gpu_memory_gib:g} GiB x {fraction:g}{' of what the weights leave' if fraction_of_free else ''}); "
			"raise tp/pp, quantize, or lower the context length"
		)
	return est
