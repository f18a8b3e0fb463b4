"""System presets (seeded at start) and preset merging (union, intersection, last_wins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..store import Store
from ..store.models import Preset

_QUANT = {
	"default": ("No quantization: the checkpoint's own dtypes", {"gemm_dtype": "auto", "kvcache_dtype": "auto"}),
	"kv-cache-fp8": (
		"FP8 KV cache, weights as stored: more concurrent sequences at little quality cost",
		{"gemm_dtype": "auto", "kvcache_dtype": "fp8"},
	),
	"dynamic-fp8": (
		"Dynamic FP8 weights and activations plus FP8 KV cache (Hopper and newer)",
		{"gemm_dtype": "fp8", "kvcache_dtype": "fp8", "attention_dtype": "auto"},
	),
	"bf16-stable": ("BF16 everywhere: the accuracy baseline", {"gemm_dtype": "bfloat16", "kvcache_dtype": "auto"}),
	"aggressive-moe": (
		"FP8 GEMMs, FP8 KV cache and FP8 MoE experts for large mixture-of-experts models",
		{"gemm_dtype": "fp8", "kvcache_dtype": "fp8", "moe_dtype": "fp8"},
	),
}

_PARALLEL: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
	"vllm": {
		"single-gpu": ("One GPU", {"tp": 1, "pp": 1, "dp": 1}),
		"high-throughput": ("Data parallel replicas for throughput", {"tp": 1, "pp": 1, "dp": [2, 4]}),
		"large-model-tp": ("Tensor parallel for models that do not fit one GPU", {"tp": [2, 4, 8], "pp": 1, "dp": 1}),
		"large-model-tp-pp": ("Tensor + pipeline parallel across nodes", {"tp": [4, 8], "pp": [2], "dp": 1}),
		"moe-optimized": ("Expert parallel for MoE models", {"tp": [2, 4], "ep": [2, 4], "dp": 1}),
		"long-context": ("Decode context parallel for long contexts", {"tp": [2, 4], "dcp": [2], "dp": 1}),
	},
	"sglang": {
		"single-gpu": ("One GPU", {"tp": 1, "pp": 1, "dp": 1}),
		"high-throughput": ("Data parallel (tp % dp == 0)", {"tp": [2, 4], "pp": 1, "dp": [2]}),
		"large-model-tp": ("Tensor parallel", {"tp": [2, 4, 8], "pp": 1, "dp": 1}),
		"large-model-tp-pp": ("Tensor + pipeline parallel", {"tp": [4, 8], "pp": [2], "dp": 1}),
		"moe-optimized": ("Expert parallel with dense TP for MoE", {"tp": [4, 8], "ep": [4, 8], "moe_dense_tp": [1]}),
		"balanced": ("Balanced TP and DP", {"tp": [2, 4], "dp": [1, 2]}),
	},
	"trtllm": {
		"single-gpu": ("One GPU", {"tp": 1, "pp": 1, "dp": 1}),
		"large-model-tp": ("Tensor parallel (no data parallel in TensorRT-LLM)", {"tp": [2, 4, 8], "pp": 1, "dp": 1}),
		"large-model-tp-pp": ("Tensor + pipeline parallel", {"tp": [4, 8], "pp": [2], "dp": 1}),
		"moe-optimized": ("MoE TP/EP", {"tp": [4, 8], "moe_tp": [1, 2], "moe_ep": [2, 4], "dp": 1}),
		"long-context": ("Context parallel for long inputs", {"tp": [2, 4], "cp": [2], "dp": 1}),
		"balanced": ("Balanced TP and PP", {"tp": [2, 4], "pp": [1, 2], "dp": 1}),
	},
}

_PARAMS: dict[str, tuple[str, str, dict[str, Any]]] = {
	"llamacpp-cpu-throughput": (
		"llamacpp",
		"llama.cpp on a CPU: slots and threads, the two knobs that matter most",
		{"parallel": [1, 2, 4], "threads": [1, 2]},
	),
	"llamacpp-batching": (
		"llamacpp",
		"llama.cpp batch sizes with continuous batching",
		{"batch-size": [512, 2048], "ubatch-size": [128, 512], "cont-batching": [True]},
	),
}


def system_presets() -> list[dict[str, Any]]:
	out: list[dict[str, Any]] = []
	for name, (desc, cfg) in _QUANT.items():
		out.append({"name": f"quant-{name}", "description": desc, "category": "quantization", "parameters": cfg})
	for runtime, presets in _PARALLEL.items():
		for name, (desc, cfg) in presets.items():
			out.append(
				{
					"name": f"parallel-{runtime}-{name}",
					"description": desc,
					"category": "parallel",
					"runtime": runtime,
					"parameters": cfg,
				}
			)
	for name, (runtime, desc, params) in _PARAMS.items():
		out.append(
			{"name": name, "description": desc, "category": "parameters", "runtime": runtime, "parameters": params}
		)
	return out


def seed_system_presets(store: Store) -> int:
	"""Insert the system presets that are missing (by name); user presets of the same name are left alone."""
	added = 0
	with store.session() as s:
		have = set(s.scalars(select(Preset.name)))
		for p in system_presets():
			if p["name"] not in have:
				s.add(Preset(is_system=True, **p))
				added += 1
	return added


def _values(v: Any) -> list[Any]:
	return list(v) if isinstance(v, list) else [v]


def _collapse(values: list[Any]) -> Any:
	return values[0] if len(values) == 1 else values


def merge_parameters(sets: list[dict[str, Any]], strategy: str) -> tuple[dict[str, Any], list[str]]:
	"""Merge parameter maps. union: every flag, values united; intersection: flags in all, common values;
	last_wins: every flag, the last preset's value. Conflicts: flags whose values differed."""
	conflicts: list[str] = []
	keys: list[str] = []
	for params in sets:
		keys.extend(k for k in params if k not in keys)
	merged: dict[str, Any] = {}
	for key in keys:
		present = [p[key] for p in sets if key in p]
		if any(present[0] != other for other in present[1:]):
			conflicts.append(key)
		if strategy == "last_wins":
			merged[key] = present[-1]
		elif strategy == "union":
			if any(isinstance(v, dict) for v in present):  # ranges cannot be united: the last one wins
				merged[key] = present[-1]
				continue
			vals: list[Any] = []
			for v in present:
				vals.extend(x for x in _values(v) if x not in vals)
			merged[key] = _collapse(vals)
		else:  # intersection
			if len(present) != len(sets):
				continue
			if any(isinstance(v, dict) for v in present):
				if all(v == present[0] for v in present):
					merged[key] = present[0]
				continue
			common = [x for x in _values(present[0]) if all(x in _values(v) for v in present[1:])]
			if common:
				merged[key] = _collapse(common)
	return merged, conflicts
