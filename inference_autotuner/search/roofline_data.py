"""What the roofline prior (search/roofline.py) knows without aiconfigurator: GPU specs and well-known architectures.

GPU figures are the vendors' public datasheet numbers for one GPU (SXM parts where there are several): memory,
memory bandwidth, dense (no sparsity) bf16 and fp8 tensor throughput (None: no fp8 tensor cores, an fp8 GEMM there
is weight-only), and the per-direction bandwidth between GPUs of one node (NVLink, else PCIe). Memory sizes are
engines/memory.py's GPU_MEMORY_GIB where it has the GPU (one truth per fact).

Architectures are the public shapes of a few model families (layers, hidden size, heads, KV heads, head size,
intermediate size, vocabulary, experts and experts per token) written as the keys of a Hugging Face config.json, so
engines/memory.py's parameter and KV-cache counts read them as they read a real config.json. A model's own
config.json (a local folder or the Hugging Face cache) always wins over this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..engines.memory import GPU_MEMORY_GIB


@dataclass(frozen=True)
class GPUSpec:
	"""One GPU's datasheet figures (bytes/s and FLOP/s as given, memory in GiB)."""

	name: str
	memory_gib: float
	bandwidth_gbs: float  # HBM/GDDR bandwidth, GB/s
	bf16_tflops: float  # dense
	fp8_tflops: float | None  # dense; None: no fp8 tensor cores (Ampere and older)
	link_gbs: float  # GPU-to-GPU bandwidth per direction (NVLink, else PCIe), GB/s
	link_latency_us: float = 8.0  # one collective's fixed cost


def _mem(name: str, fallback: float) -> float:
	return float(GPU_MEMORY_GIB.get(name, fallback))


GPU_SPECS: dict[str, GPUSpec] = {
	g.name: g
	for g in (
		GPUSpec("H100", _mem("H100", 80), 3350, 989, 1979, 450),
		GPUSpec("H100-PCIE", 80, 2000, 756, 1513, 64, 15.0),
		GPUSpec("H200", _mem("H200", 141), 4800, 989, 1979, 450),
		GPUSpec("B200", _mem("B200", 192), 8000, 2250, 4500, 900),
		GPUSpec("B300", 288, 8000, 2250, 4500, 900),
		GPUSpec("GB200", 186, 8000, 2500, 5000, 900),
		GPUSpec("A100", _mem("A100", 80), 2039, 312, None, 300),
		GPUSpec("A100-40GB", _mem("A100-40GB", 40), 1555, 312, None, 300),
		GPUSpec("A30", 24, 933, 165, None, 100),
		GPUSpec("L40S", _mem("L40S", 48), 864, 362, 733, 32, 15.0),
		GPUSpec("L4", _mem("L4", 24), 300, 121, 242, 32, 15.0),
		GPUSpec("A10G", _mem("A10G", 24), 600, 70, None, 32, 15.0),
		GPUSpec("MI300X", 192, 5300, 1307, 2615, 448),
	)
}
_GPU_ALIASES = {"H100-SXM": "H100", "A100-SXM": "A100", "A100-80GB": "A100", "H200-SXM": "H200", "B200-SXM": "B200"}


def gpu_spec(name: str | None) -> GPUSpec | None:
	"""The GPU named in hardware.gpu (case, '_' and ' ' ignored; aiconfigurator's 'h100_sxm' works too), or None."""
	if not name:
		return None
	key = name.strip().upper().replace("_", "-").replace(" ", "-")
	key = _GPU_ALIASES.get(key, key)
	return GPU_SPECS.get(key) or GPU_SPECS.get(key.removesuffix("-SXM"))


def _llama(layers: int, hidden: int, heads: int, inter: int, *, tie: bool = False, head_dim: int = 128) -> dict:
	return {
		"num_hidden_layers": layers,
		"hidden_size": hidden,
		"num_attention_heads": heads,
		"num_key_value_heads": 8,
		"head_dim": head_dim,
		"intermediate_size": inter,
		"vocab_size": 128256,
		"tie_word_embeddings": tie,
		"max_position_embeddings": 131072,
		"torch_dtype": "bfloat16",
	}


def _qwen3(layers: int, hidden: int, heads: int, kv: int, inter: int, *, tie: bool = False) -> dict:
	return {
		"num_hidden_layers": layers,
		"hidden_size": hidden,
		"num_attention_heads": heads,
		"num_key_value_heads": kv,
		"head_dim": 128,
		"intermediate_size": inter,
		"vocab_size": 151936,
		"tie_word_embeddings": tie,
		"max_position_embeddings": 40960,
		"torch_dtype": "bfloat16",
	}


def _qwen3_moe(layers: int, hidden: int, heads: int, moe_inter: int) -> dict:
	return {
		**_qwen3(layers, hidden, heads, 4, moe_inter * 8),
		"num_experts": 128,
		"num_experts_per_tok": 8,
		"moe_intermediate_size": moe_inter,
	}


# family-size keys (see _key): the public shapes of each model
ARCHITECTURES: dict[str, dict[str, Any]] = {
	"llama-3-8b": _llama(32, 4096, 32, 14336),
	"llama-3-70b": _llama(80, 8192, 64, 28672),
	"llama-3-405b": _llama(126, 16384, 128, 53248),
	"llama-3-1b": _llama(16, 2048, 32, 8192, tie=True, head_dim=64),
	"llama-3-3b": _llama(28, 3072, 24, 8192, tie=True),
	"qwen3-0.6b": _qwen3(28, 1024, 16, 8, 3072, tie=True),
	"qwen3-1.7b": _qwen3(28, 2048, 16, 8, 6144, tie=True),
	"qwen3-4b": _qwen3(36, 2560, 32, 8, 9728, tie=True),
	"qwen3-8b": _qwen3(36, 4096, 32, 8, 12288),
	"qwen3-14b": _qwen3(40, 5120, 40, 8, 17408),
	"qwen3-32b": _qwen3(64, 5120, 64, 8, 25600),
	"qwen3-30b-a3b": _qwen3_moe(48, 2048, 32, 768),
	"qwen3-235b-a22b": _qwen3_moe(94, 4096, 64, 1536),
	"mistral-7b": {**_llama(32, 4096, 32, 14336), "vocab_size": 32768, "max_position_embeddings": 32768},
	"deepseek-v3": {
		"num_hidden_layers": 61,
		"hidden_size": 7168,
		"num_attention_heads": 128,
		"num_key_value_heads": 128,
		"intermediate_size": 18432,
		"moe_intermediate_size": 2048,
		"n_routed_experts": 256,
		"num_experts_per_tok": 8,
		"n_shared_experts": 1,
		"first_k_dense_replace": 3,
		"q_lora_rank": 1536,
		"kv_lora_rank": 512,
		"qk_rope_head_dim": 64,
		"qk_nope_head_dim": 128,
		"v_head_dim": 128,
		"vocab_size": 129280,
		"max_position_embeddings": 163840,
		"torch_dtype": "bfloat16",
	},
}
_FAMILIES = (
	(r"(?:meta-)?llama-?3(?:\.\d)?-(\d+b)", "llama-3-{}"),
	(r"qwen3-(\d+b-a\d+b)", "qwen3-{}"),
	(r"qwen3-(\d+(?:\.\d+)?b)", "qwen3-{}"),
	(r"mistral-(7b)", "mistral-{}"),
	(r"deepseek-(?:v3|r1)", "deepseek-v3"),
)


def _key(ref: str) -> str | None:
	name = ref.rstrip("/").rsplit("/", 1)[-1].lower().replace("_", "-")
	for pattern, template in _FAMILIES:
		m = re.search(pattern, name)
		if m:
			return template.format(*m.groups())
	return None


def known_architecture(ref: str) -> dict[str, Any] | None:
	"""The table's config for a hub id or folder name ('meta-llama/Meta-Llama-3.1-70B-Instruct' -> llama-3-70b;
	an FP8 or AWQ variant has the same shape), or None."""
	key = _key(ref)
	return dict(ARCHITECTURES[key]) if key in ARCHITECTURES else None
