"""Runtime-agnostic quantization: four normalized fields, five presets, and each engine's own flags for them.

A spec states intent (`quant_config`: field lists or `presets: [...]`); `map_quant` turns one normalized choice into
the flags of one engine, or says why that engine cannot honour it (the experiment is then skipped, never launched).
Offline-quantized models (AWQ, GPTQ, GGUF, or a `quantization_config` in config.json) keep their own weight format:
gemm_dtype and moe_dtype are then not mapped (a note says so); the KV cache dtype still applies.

Sources read (flag names and accepted values): vLLM `vllm/engine/arg_utils.py` + `vllm/config/cache.py` (main,
2025-2026; `--quantization`, `--kv-cache-dtype`, `--dtype`), SGLang 0.5.23 `sglang/srt/arg_groups/fields/model.py`
(`--quantization`, `--kv-cache-dtype` auto|fp8_e5m2|fp8_e4m3|bf16|..., `--attention-backend`), TensorRT-LLM
`tensorrt_llm/commands/serve.py` (no quantization flags: the LLM-API YAML given with `--config`, e.g.
`kv_cache_config.dtype: fp8`), llama.cpp `common/arg.cpp` (`--cache-type-k/-v`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUANT_FIELDS = ("gemm_dtype", "kvcache_dtype", "attention_dtype", "moe_dtype")
QUANT_VALUES: dict[str, tuple[str, ...]] = {
	"gemm_dtype": ("auto", "fp16", "bf16", "fp8", "int8"),
	"kvcache_dtype": ("auto", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "int8", "int4"),
	"attention_dtype": ("auto", "fp16", "bf16", "fp8"),
	"moe_dtype": ("auto", "bf16", "fp8", "int8", "int4"),
}
DEFAULT_QUANT = {f: "auto" for f in QUANT_FIELDS}

QUANT_PRESETS: dict[str, dict[str, str]] = {
	"default": dict(DEFAULT_QUANT),
	"kv-cache-fp8": {**DEFAULT_QUANT, "kvcache_dtype": "fp8"},
	"dynamic-fp8": {**DEFAULT_QUANT, "gemm_dtype": "fp8", "kvcache_dtype": "fp8"},
	"bf16-stable": {**DEFAULT_QUANT, "gemm_dtype": "bf16", "attention_dtype": "bf16"},
	"aggressive-moe": {**DEFAULT_QUANT, "gemm_dtype": "fp8", "kvcache_dtype": "fp8", "moe_dtype": "fp8"},
}
QUANT_PRESET_HELP = {
	"default": "the model's own dtypes everywhere",
	"kv-cache-fp8": "fp8 KV cache (each engine's default fp8 format, e4m3): about 2x the tokens in the same memory",
	"dynamic-fp8": "online fp8 weights/activations (W8A8) plus an fp8 KV cache",
	"bf16-stable": "bf16 weights and attention: the numerically safe baseline",
	"aggressive-moe": "fp8 dense and expert weights with an fp8 KV cache, for large MoE models",
}

_OFFLINE_MARKERS = ("awq", "gptq", "gguf", "exl2", "bnb", "nvfp4", "modelopt", "compressed")


@dataclass
class Derived:
	"""What a normalized config becomes for one engine."""

	flags: dict[str, Any] = field(default_factory=dict)
	options: dict[str, Any] = field(default_factory=dict)  # TensorRT-LLM LLM-API YAML options (nested)
	notes: list[str] = field(default_factory=list)
	skip: str | None = None

	def refuse(self, reason: str) -> Derived:
		self.skip = self.skip or reason
		return self


def normalize_quant(values: dict[str, Any]) -> dict[str, str]:
	"""Fill missing fields with auto; raises ValueError naming a bad field or value."""
	out = dict(DEFAULT_QUANT)
	for name, value in values.items():
		if name not in QUANT_VALUES:
			raise ValueError(f"unknown quantization field '{name}'; valid: {', '.join(QUANT_FIELDS)}")
		if str(value) not in QUANT_VALUES[name]:
			raise ValueError(f"{name} takes one of {', '.join(QUANT_VALUES[name])}, got {value!r}")
		out[name] = str(value)
	return out


def is_offline_quantized(model_ref: str, config: dict[str, Any] | None) -> str | None:
	"""Why the model's weights are already quantized (so dynamic quantization is not applied), or None."""
	if config and isinstance(config.get("quantization_config"), dict):
		method = config["quantization_config"].get("quant_method", "a quantization_config")
		return f"the model is pre-quantized ({method} in config.json)"
	low = model_ref.lower()
	if low.endswith(".gguf"):
		return "the model is a GGUF file (its weights are quantized already)"
	hit = next((m for m in _OFFLINE_MARKERS if m in low.replace("\\", "/").split("/")[-1]), None)
	return f"the model name says it is pre-quantized ({hit})" if hit else None


_VLLM_KV = {"fp16": "float16", "bf16": "bfloat16", "fp8": "fp8", "fp8_e4m3": "fp8_e4m3", "fp8_e5m2": "fp8_e5m2"}
_SGLANG_KV = {"bf16": "bf16", "fp8": "fp8_e4m3", "fp8_e4m3": "fp8_e4m3", "fp8_e5m2": "fp8_e5m2"}
_LLAMA_KV = {"fp16": "f16", "bf16": "bf16", "int8": "q8_0", "int4": "q4_0"}
_TORCH_DTYPE = {"fp16": "float16", "bf16": "bfloat16"}


def _model_dtype(q: dict[str, str], d: Derived, engine: str) -> str | None:
	"""The --dtype implied by gemm_dtype/attention_dtype fp16|bf16 (they must agree)."""
	wanted = {q[f] for f in ("gemm_dtype", "attention_dtype") if q[f] in _TORCH_DTYPE}
	if len(wanted) > 1:
		d.refuse(f"{engine}: gemm_dtype and attention_dtype ask for different model dtypes ({', '.join(wanted)})")
		return None
	return _TORCH_DTYPE[wanted.pop()] if wanted else None


def _fp8_attention_needs_fp8_kv(q: dict[str, str], d: Derived, engine: str) -> None:
	if q["attention_dtype"] == "fp8" and not q["kvcache_dtype"].startswith("fp8"):
		d.refuse(f"{engine} computes attention in fp8 only over an fp8 KV cache: set kvcache_dtype to fp8 too")


def _map_vllm(q: dict[str, str], offline: str | None) -> Derived:
	d = Derived()
	dtype = _model_dtype(q, d, "vLLM")
	if dtype:
		d.flags["dtype"] = dtype
	gemm, moe = q["gemm_dtype"], q["moe_dtype"]
	if not offline:
		if gemm == "int8":
			d.refuse("vLLM has no online int8 GEMM quantization: use a pre-quantized W8A8 checkpoint")
		elif moe == "int4":
			d.refuse("vLLM has no online int4 MoE quantization: use a pre-quantized (e.g. moe_wna16) checkpoint")
		elif gemm == "fp8":
			if moe not in ("auto", "fp8"):
				d.refuse(f"vLLM --quantization fp8 quantizes the experts too: moe_dtype {moe} cannot be combined")
			d.flags["quantization"] = "fp8"
		elif moe == "fp8":
			d.refuse("vLLM has no fp8 quantization for the experts alone: set gemm_dtype fp8 too (or moe_dtype int8)")
		elif moe == "int8":
			d.flags["quantization"] = "experts_int8"
	_fp8_attention_needs_fp8_kv(q, d, "vLLM")
	kv = q["kvcache_dtype"]
	if kv in ("int8", "int4"):
		d.refuse(f"vLLM's --kv-cache-dtype has no {kv}: use fp8, fp8_e4m3 or fp8_e5m2")
	elif kv != "auto":
		d.flags["kv-cache-dtype"] = _VLLM_KV[kv]
	return d


def _map_sglang(q: dict[str, str], offline: str | None) -> Derived:
	d = Derived()
	dtype = _model_dtype(q, d, "SGLang")
	if dtype:
		d.flags["dtype"] = dtype
	gemm, moe = q["gemm_dtype"], q["moe_dtype"]
	if not offline:
		if gemm == "int8" or moe in ("int8", "int4"):
			d.refuse("SGLang has no online int8/int4 quantization: use a pre-quantized (w8a8_int8, AWQ, GPTQ) model")
		elif gemm == "fp8":
			if moe not in ("auto", "fp8"):
				d.refuse(f"SGLang --quantization fp8 quantizes the experts too: moe_dtype {moe} cannot be combined")
			d.flags["quantization"] = "fp8"
		elif moe == "fp8":
			d.refuse("SGLang's online fp8 covers dense and MoE layers together: set gemm_dtype fp8 too")
	_fp8_attention_needs_fp8_kv(q, d, "SGLang")
	if q["attention_dtype"] == "fp8":
		d.flags["attention-backend"] = "fa3"  # FlashAttention-3 runs fp8 attention over an fp8 KV cache (Hopper+)
	kv = q["kvcache_dtype"]
	if kv in ("fp16", "int8", "int4"):
		d.refuse(f"SGLang's --kv-cache-dtype has no {kv}: use bf16, fp8_e4m3 or fp8_e5m2")
	elif kv != "auto":
		d.flags["kv-cache-dtype"] = _SGLANG_KV[kv]
	return d


def _map_trtllm(q: dict[str, str], offline: str | None) -> Derived:
	d = Derived()
	dtype = _model_dtype(q, d, "TensorRT-LLM")
	if dtype:
		d.options["dtype"] = dtype
	if not offline and (q["gemm_dtype"] in ("fp8", "int8") or q["moe_dtype"] not in ("auto", "bf16")):
		d.refuse(
			"TensorRT-LLM quantizes weights offline (ModelOpt checkpoint, quant_algo FP8/W8A8/W4A8): "
			"serve a pre-quantized checkpoint instead of gemm_dtype/moe_dtype"
		)
	_fp8_attention_needs_fp8_kv(q, d, "TensorRT-LLM")
	kv = q["kvcache_dtype"]
	if kv in ("fp8", "fp8_e4m3"):
		d.options["kv_cache_config"] = {"dtype": "fp8"}
	elif kv != "auto":
		d.refuse(f"TensorRT-LLM's kv_cache_config.dtype has no {kv}: use fp8 (e4m3) or auto")
	return d


def _map_llamacpp(q: dict[str, str], offline: str | None) -> Derived:
	d = Derived()
	for name in ("gemm_dtype", "moe_dtype", "attention_dtype"):
		if q[name] != "auto":
			d.refuse(f"llama.cpp takes its weight types from the GGUF file: {name} {q[name]} cannot apply (use auto)")
	kv = q["kvcache_dtype"]
	if kv.startswith("fp8"):
		d.refuse(f"llama.cpp's --cache-type-k/-v have no {kv}: use int8 (q8_0), int4 (q4_0), fp16 or bf16")
	elif kv != "auto":
		d.flags["cache-type-k"] = d.flags["cache-type-v"] = _LLAMA_KV[kv]
		if kv in ("int8", "int4"):
			d.notes.append("llama.cpp needs flash attention for a quantized V cache (flash-attn auto/on)")
	return d


_MAPPERS = {"vllm": _map_vllm, "sglang": _map_sglang, "trtllm": _map_trtllm, "llamacpp": _map_llamacpp}


def map_quant(engine: str, quant: dict[str, str], *, offline: str | None = None) -> Derived:
	"""Engine flags for a normalized quantization config (see QUANT_FIELDS); `offline`: why weights are pre-quantized."""
	q = normalize_quant(quant)
	if offline and (q["gemm_dtype"] != "auto" or q["moe_dtype"] != "auto"):
		kept = {k: q[k] for k in ("gemm_dtype", "moe_dtype") if q[k] != "auto"}
		q.update({k: "auto" for k in kept})
		d = _MAPPERS[engine](q, offline)
		d.notes.append(f"{offline}: {', '.join(f'{k} {v}' for k, v in kept.items())} not applied")
		return d
	return _MAPPERS[engine](q, offline)
