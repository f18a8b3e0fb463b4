"""Memory-fit estimate against figures one can check by hand.

Model shapes are the published config.json values of Llama-3.1-8B / Llama-3.1-70B (hidden 4096/8192, 32/80 layers,
32/64 heads, 8 KV heads, intermediate 14336/28672, vocab 128256, 131072 positions): 8.03 B and 70.6 B parameters.
A 70B model in bf16 (141 GB of weights) cannot fit one 80 GB GPU; 8B in bf16 (16 GB) does. No GPU is used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_autotuner.engines import Hardware, get_engine, plan_launch
from inference_autotuner.engines.memory import estimate_memory, find_model_config, parameter_counts

LLAMA_8B = {
	"hidden_size": 4096,
	"num_hidden_layers": 32,
	"num_attention_heads": 32,
	"num_key_value_heads": 8,
	"intermediate_size": 14336,
	"vocab_size": 128256,
	"max_position_embeddings": 131072,
	"torch_dtype": "bfloat16",
	"tie_word_embeddings": False,
}
LLAMA_70B = {**LLAMA_8B, "hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64}
LLAMA_70B["intermediate_size"] = 28672
MIXTRAL = {**LLAMA_8B, "num_local_experts": 8, "vocab_size": 32000, "max_position_embeddings": 32768}
H100 = Hardware.of("H100", 8, None)


def test_parameter_counts_match_the_published_sizes() -> None:
	assert sum(parameter_counts(LLAMA_8B)) == pytest.approx(8.03e9, rel=0.01)
	assert sum(parameter_counts(LLAMA_70B)) == pytest.approx(70.6e9, rel=0.01)
	assert sum(parameter_counts(MIXTRAL)) == pytest.approx(46.7e9, rel=0.01)  # Mixtral-8x7B


def test_70b_bf16_does_not_fit_one_80gb_gpu_but_8b_does() -> None:
	q = {"gemm_dtype": "auto", "kvcache_dtype": "auto"}
	big = estimate_memory(LLAMA_70B, quant=q, tp=1, pp=1, gpu_memory_gib=80, fraction=0.9, max_len=None)
	assert not big.fits and big.weights_gib > 130
	assert big.reason and "does not fit" in big.reason and "131072 tokens" in big.reason
	small = estimate_memory(LLAMA_8B, quant=q, tp=1, pp=1, gpu_memory_gib=80, fraction=0.9, max_len=None)
	assert small.fits and 14 < small.weights_gib < 16 and small.kv_cache_gib == 16.0
	assert small.max_sequences >= 2


def test_tp_quantization_and_context_length_change_the_verdict() -> None:
	vllm = get_engine("vllm")
	path = {"model_config": LLAMA_70B, "hardware": H100}
	refused = plan_launch(vllm, {}, **path)  # type: ignore[arg-type]
	assert refused.status == "infeasible" and refused.memory and not refused.memory.fits
	assert plan_launch(vllm, {"__parallel__tp": 8}, **path).status == "ok"  # type: ignore[arg-type]
	fp8_long = plan_launch(vllm, {"__quant__preset": "dynamic-fp8"}, **path)  # type: ignore[arg-type]
	assert fp8_long.status == "infeasible"
	fp8 = plan_launch(vllm, {"__quant__preset": "dynamic-fp8", "max-model-len": 8192}, **path)  # type: ignore[arg-type]
	assert fp8.status == "ok" and fp8.memory and fp8.memory.tokens == 8192
	low = plan_launch(vllm, {"__parallel__tp": 8, "gpu-memory-utilization": 0.1}, **path)  # type: ignore[arg-type]
	assert low.status == "infeasible" and "x 0.1" in str(low.reason)


def test_trtllm_fraction_is_of_what_the_weights_leave() -> None:
	trt = get_engine("trtllm")
	plan = plan_launch(trt, {"__parallel__tp": 4}, model_config=LLAMA_70B, hardware=H100)
	assert plan.status == "ok" and plan.memory and plan.memory.budget_gib == 80.0
	# tp=2: 65.7 GiB weights + 2 GiB leave 12.3 GiB, x 0.9 < 20 GiB of KV cache for 131072 tokens
	assert plan_launch(trt, {"__parallel__tp": 2}, model_config=LLAMA_70B, hardware=H100).status == "infeasible"


def test_config_json_is_read_from_a_local_folder_and_the_hub_cache(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
	folder = tmp_path / "llama"
	folder.mkdir()
	(folder / "config.json").write_text(json.dumps(LLAMA_8B))
	assert find_model_config(str(folder)) == LLAMA_8B
	snap = tmp_path / "hub" / "models--meta-llama--Llama-3.1-70B" / "snapshots" / "abc"
	snap.mkdir(parents=True)
	(snap / "config.json").write_text(json.dumps(LLAMA_70B))
	monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
	assert find_model_config("meta-llama/Llama-3.1-70B") == LLAMA_70B
	assert find_model_config("nobody/missing") is None
