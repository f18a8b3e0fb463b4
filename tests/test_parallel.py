"""Parallel config: six presets per engine mapped to engine flags, constraints, world size, GPUs available.

vLLM, SGLang and TensorRT-LLM cannot run on this machine (no GPU): these tests check the argv the mapping builds.
"""

from __future__ import annotations

import pytest

from inference_autotuner.engines import Hardware, get_engine, plan_launch
from inference_autotuner.engines.parallel import PARALLEL_PRESETS
from inference_autotuner.engines.trtllm import OPTIONS_KEY
from inference_autotuner.space import build_task_space

# (engine, preset) -> (derived flags, world size)
GOLDEN: dict[tuple[str, str], tuple[dict[str, object], int]] = {
	("vllm", "single-gpu"): ({}, 1),
	("vllm", "high-throughput"): ({"data-parallel-size": 4}, 4),
	("vllm", "large-model-tp"): ({"tensor-parallel-size": 8}, 8),
	("vllm", "large-model-tp-pp"): ({"tensor-parallel-size": 4, "pipeline-parallel-size": 2}, 8),
	(
		"vllm",
		"moe-optimized",
	): ({"enable-expert-parallel": True, "tensor-parallel-size": 4, "data-parallel-size": 2}, 8),
	("vllm", "long-context"): ({"tensor-parallel-size": 4, "decode-context-parallel-size": 4}, 4),
	("sglang", "single-gpu"): ({}, 1),
	("sglang", "high-throughput"): ({"dp-size": 4}, 4),
	("sglang", "large-model-tp"): ({"tp-size": 8}, 8),
	("sglang", "large-model-tp-pp"): ({"tp-size": 4, "pp-size": 2}, 8),
	("sglang", "moe-optimized"): ({"ep-size": 8, "tp-size": 8}, 8),
	("sglang", "balanced"): ({"tp-size": 2, "dp-size": 2}, 4),
	("trtllm", "single-gpu"): ({}, 1),
	("trtllm", "balanced"): ({"tp_size": 2}, 2),
	("trtllm", "large-model-tp"): ({"tp_size": 8}, 8),
	("trtllm", "large-model-tp-pp"): ({"tp_size": 4, "pp_size": 2}, 8),
	("trtllm", "moe-optimized"): ({"tp_size": 8, "ep_size": 4, OPTIONS_KEY: {"moe_tensor_parallel_size": 2}}, 8),
	("trtllm", "long-context"): ({"tp_size": 4, "cp_size": 2}, 8),
}


def test_six_presets_per_gpu_engine() -> None:
	for engine in ("vllm", "sglang", "trtllm"):
		assert len(PARALLEL_PRESETS[engine]) == 6
		assert {k[1] for k in GOLDEN if k[0] == engine} == set(PARALLEL_PRESETS[engine])


@pytest.mark.parametrize(("engine", "preset"), sorted(GOLDEN))
def test_every_preset_maps_and_sizes(engine: str, preset: str) -> None:
	flags, size = GOLDEN[(engine, preset)]
	plan = plan_launch(get_engine(engine), {"__parallel__preset": preset})
	assert plan.status == "ok", plan.reason
	assert plan.flags == flags
	assert plan.world_size == size


def test_golden_argv_sglang_and_trtllm() -> None:
	sg = get_engine("sglang")
	plan = plan_launch(sg, {"__parallel__tp": 2, "__parallel__dp": 2, "mem-fraction-static": 0.85})
	argv = sg.launch_argv("/m", plan.flags, host="127.0.0.1", port=30000)
	assert argv[1:] == [
		"-I",  # the tuner's Python runs isolated: no PYTHON* variable changes what it loads
		"-m",
		"sglang.launch_server",
		"--model-path",
		"/m",
		"--host",
		"127.0.0.1",
		"--port",
		"30000",
	] + [
		"--tp-size",
		"2",
		"--dp-size",
		"2",
		"--mem-fraction-static",
		"0.85",
	]
	trt = get_engine("trtllm")
	plan = plan_launch(trt, {"__parallel__preset": "moe-optimized", "__quant__kvcache_dtype": "fp8"})
	argv = trt.launch_argv("/m", plan.flags, host="127.0.0.1", port=8000)
	assert argv[:8] == ["trtllm-serve", "/m", "--host", "127.0.0.1", "--port", "8000", "--tp_size", "8"]
	assert argv[8:10] == ["--ep_size", "4"] and argv[10] == "--config"
	assert open(argv[11]).read() == "kv_cache_config:\n  dtype: fp8\nmoe_tensor_parallel_size: 2\n"


@pytest.mark.parametrize(
	("engine", "params", "reason"),
	[
		("trtllm", {"__parallel__dp": 2}, "TensorRT-LLM has no dp=2"),
		("vllm", {"__parallel__tp": 4, "__parallel__dcp": 3}, "vLLM needs tp divisible by dcp"),
		("vllm", {"__parallel__tp": 4, "__parallel__ep": 2}, "vLLM's expert parallel size is tp x dp = 4"),
		("vllm", {"__parallel__cp": 2}, "vLLM has no cp=2"),
		("sglang", {"__parallel__tp": 4, "__parallel__ep": 3}, "SGLang needs tp divisible by ep"),
		("sglang", {"tp-size": 2, "attn-dp-size": 4}, "SGLang DP attention needs tp % dp == 0"),
		("sglang", {"__parallel__moe_tp": 2}, "SGLang has no moe_tp=2"),
		(
			"trtllm",
			{"__parallel__tp": 8, "__parallel__moe_tp": 2, "__parallel__moe_ep": 2},
			"TensorRT-LLM needs moe_tp",
		),
		("llamacpp", {"__parallel__tp": 2}, "llama.cpp has no tp=2"),
	],
)
def test_constraints_refuse_with_reason(engine: str, params: dict[str, object], reason: str) -> None:
	plan = plan_launch(get_engine(engine), params)
	assert plan.status == "skipped"
	assert plan.reason and plan.reason.startswith(reason), plan.reason


def test_hand_set_flag_counts_for_world_size_and_wins() -> None:
	"""The seed's own shape: SGLang `tp-size` in parameters; a hand-set flag wins over parallel_config."""
	eng = get_engine("sglang")
	plan = plan_launch(eng, {"__parallel__tp": 2, "tensor-parallel-size": 4})
	assert plan.flags == {"tp-size": 4} and plan.world_size == 4
	assert any("set by hand wins" in n for n in plan.notes)
	assert plan_launch(eng, {"tp-size": 2, "mem-fraction-static": 0.8}).world_size == 2


def test_world_size_is_checked_against_the_gpus() -> None:
	plan = plan_launch(get_engine("vllm"), {"__parallel__preset": "large-model-tp"}, hardware=Hardware(gpu_count=4))
	assert plan.status == "skipped" and plan.reason == "needs 8 GPUs (world size) but the deployment has 4"


def test_seed_parallel_grid() -> None:
	space = build_task_space({}, None, {"tp": [2, 4], "pp": 1, "dp": [1, 2]})
	assert space.size() == 4
	assert space.fixed == {"__parallel__pp": 1}
	sizes = sorted(plan_launch(get_engine("vllm"), space.full(c)).world_size for c in space.combinations())
	assert sizes == [2, 4, 4, 8]
