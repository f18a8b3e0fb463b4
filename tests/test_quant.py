"""Quantization config: presets and fields mapped to each engine's own flags, refusals, offline-quantized models.

vLLM, SGLang and TensorRT-LLM cannot run on this machine (no GPU): these tests check the argv and the LLM-API options
the mapping produces against the flag names read from each engine's own argument definitions.
"""

from __future__ import annotations

import pytest

from inference_autotuner.engines import get_engine, plan_launch
from inference_autotuner.engines.quant import QUANT_PRESETS, map_quant
from inference_autotuner.engines.trtllm import OPTIONS_KEY
from inference_autotuner.space import build_task_space

# (engine, preset) -> derived flags (TensorRT-LLM: LLM-API options), or the start of the skip reason
GOLDEN: dict[tuple[str, str], dict[str, object] | str] = {
	("vllm", "default"): {},
	("vllm", "kv-cache-fp8"): {"kv-cache-dtype": "fp8"},
	("vllm", "dynamic-fp8"): {"quantization": "fp8", "kv-cache-dtype": "fp8"},
	("vllm", "bf16-stable"): {"dtype": "bfloat16"},
	("vllm", "aggressive-moe"): {"quantization": "fp8", "kv-cache-dtype": "fp8"},
	("sglang", "default"): {},
	("sglang", "kv-cache-fp8"): {"kv-cache-dtype": "fp8_e4m3"},
	("sglang", "dynamic-fp8"): {"quantization": "fp8", "kv-cache-dtype": "fp8_e4m3"},
	("sglang", "bf16-stable"): {"dtype": "bfloat16"},
	("sglang", "aggressive-moe"): {"quantization": "fp8", "kv-cache-dtype": "fp8_e4m3"},
	("trtllm", "default"): {},
	("trtllm", "kv-cache-fp8"): {OPTIONS_KEY: {"kv_cache_config": {"dtype": "fp8"}}},
	("trtllm", "dynamic-fp8"): "TensorRT-LLM quantizes weights offline",
	("trtllm", "bf16-stable"): {OPTIONS_KEY: {"dtype": "bfloat16"}},
	("trtllm", "aggressive-moe"): "TensorRT-LLM quantizes weights offline",
	("llamacpp", "default"): {},
	("llamacpp", "kv-cache-fp8"): "llama.cpp's --cache-type-k/-v have no fp8",
	("llamacpp", "dynamic-fp8"): "llama.cpp takes its weight types from the GGUF file",
	("llamacpp", "bf16-stable"): "llama.cpp takes its weight types from the GGUF file",
	("llamacpp", "aggressive-moe"): "llama.cpp takes its weight types from the GGUF file",
}


@pytest.mark.parametrize(("engine", "preset"), sorted(GOLDEN))
def test_every_preset_on_every_engine(engine: str, preset: str) -> None:
	plan = plan_launch(get_engine(engine), {"__quant__preset": preset}, model_ref="org/Some-Model")
	expected = GOLDEN[(engine, preset)]
	if isinstance(expected, str):
		assert plan.status == "skipped" and plan.reason and plan.reason.startswith(expected), plan.reason
	else:
		assert plan.status == "ok", plan.reason
		assert plan.flags == expected
		assert plan.quant == QUANT_PRESETS[preset]


def test_golden_argv_vllm_dynamic_fp8(monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.delenv("AUTOTUNER_TOOLS_DIR", raising=False)  # `vllm serve MODEL`, not the CPU build's module
	eng = get_engine("vllm")
	plan = plan_launch(eng, {"__quant__preset": "dynamic-fp8", "max-num-seqs": 64})
	argv = eng.launch_argv("/models/llama", plan.flags, host="127.0.0.1", port=8001)
	assert argv[2:] == [
		"/models/llama",
		"--host",
		"127.0.0.1",
		"--port",
		"8001",
		"--quantization",
		"fp8",
		"--kv-cache-dtype",
		"fp8",
		"--max-num-seqs",
		"64",
	]


def test_llamacpp_kv_cache_types() -> None:
	eng = get_engine("llamacpp")
	for norm, cache in (("int8", "q8_0"), ("int4", "q4_0"), ("fp16", "f16")):
		plan = plan_launch(eng, {"__quant__kvcache_dtype": norm, "parallel": 4})
		assert plan.status == "ok"
		argv = eng.launch_argv("m.gguf", plan.flags, host="127.0.0.1", port=1)
		assert argv[-6:] == ["--cache-type-k", cache, "--cache-type-v", cache, "--parallel", "4"]


def test_fields_override_the_preset() -> None:
	plan = plan_launch(get_engine("vllm"), {"__quant__preset": "dynamic-fp8", "__quant__kvcache_dtype": "fp8_e5m2"})
	assert plan.flags == {"quantization": "fp8", "kv-cache-dtype": "fp8_e5m2"}


def test_flag_set_by_hand_wins_over_derived() -> None:
	plan = plan_launch(get_engine("sglang"), {"__quant__preset": "kv-cache-fp8", "kv-cache-dtype": "fp8_e5m2"})
	assert plan.status == "ok"
	assert plan.flags == {"kv-cache-dtype": "fp8_e5m2"}
	assert any("set by hand wins" in n for n in plan.notes)


def test_refusals_name_the_reason() -> None:
	vllm = get_engine("vllm")
	assert "int8" in str(plan_launch(vllm, {"__quant__kvcache_dtype": "int8"}).reason)
	moe = plan_launch(vllm, {"__quant__moe_dtype": "fp8"})
	assert moe.status == "skipped" and "gemm_dtype fp8" in str(moe.reason)
	assert plan_launch(vllm, {"__quant__moe_dtype": "int8"}).flags == {"quantization": "experts_int8"}
	attn = plan_launch(get_engine("sglang"), {"__quant__attention_dtype": "fp8"})
	assert attn.status == "skipped" and "fp8 KV cache" in str(attn.reason)
	ok = plan_launch(get_engine("sglang"), {"__quant__attention_dtype": "fp8", "__quant__kvcache_dtype": "fp8"})
	assert ok.flags == {"attention-backend": "fa3", "kv-cache-dtype": "fp8_e4m3"}


def test_offline_quantized_models_skip_dynamic_quantization() -> None:
	config = {"quantization_config": {"quant_method": "awq", "bits": 4}}
	plan = plan_launch(get_engine("vllm"), {"__quant__preset": "dynamic-fp8"}, model_config=config)
	assert plan.status == "ok"
	assert plan.flags == {"kv-cache-dtype": "fp8"}  # the KV cache still applies; the weights stay AWQ
	assert any("pre-quantized (awq" in n for n in plan.notes)
	by_name = plan_launch(get_engine("trtllm"), {"__quant__preset": "dynamic-fp8"}, model_ref="org/Llama-3-8B-GPTQ")
	assert by_name.status == "ok" and by_name.flags == {OPTIONS_KEY: {"kv_cache_config": {"dtype": "fp8"}}}


def test_unknown_values_are_refused() -> None:
	with pytest.raises(ValueError, match="kvcache_dtype takes one of"):
		map_quant("vllm", {"kvcache_dtype": "fp9"})


def test_seed_quant_grid_is_four_experiments() -> None:
	"""The seed roadmap example: gemm_dtype [auto, fp8] x kvcache_dtype [auto, fp8_e5m2] = 4 experiments."""
	quant = {"gemm_dtype": ["auto", "fp8"], "kvcache_dtype": ["auto", "fp8_e5m2"]}
	space = build_task_space({}, quant, None)
	assert space.size() == 4
	combos = space.combinations()
	assert {"__quant__gemm_dtype": "fp8", "__quant__kvcache_dtype": "fp8_e5m2"} in combos
	flags = [plan_launch(get_engine("vllm"), c).flags for c in combos]
	assert flags == [
		{},
		{"kv-cache-dtype": "fp8_e5m2"},
		{"quantization": "fp8"},
		{"quantization": "fp8", "kv-cache-dtype": "fp8_e5m2"},
	]


def test_presets_expand_to_one_dimension() -> None:
	space = build_task_space({"max-num-seqs": [64, 128]}, {"presets": ["default", "kv-cache-fp8"]}, None)
	assert space.size() == 4
	assert {c["__quant__preset"] for c in space.combinations()} == {"default", "kv-cache-fp8"}
