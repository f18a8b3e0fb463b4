"""Environment variables as parameters: `env:NAME` in `parameters` is searched like a flag (vLLM's CPU knobs such as
VLLM_CPU_KVCACHE_SPACE, on GPUs e.g. VLLM_ATTENTION_BACKEND), passes the same allow-list as the spec's `env`, is
stored with the experiment's params, and reaches the engine's environment, never its argv. (The real vLLM tuning
test checks that vLLM saw it: its log states the KV cache size it was given.)
"""

from __future__ import annotations

import pytest

from inference_autotuner.engines import get_engine, plan_launch
from inference_autotuner.engines.plan import env_value
from inference_autotuner.errors import SpecError
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.space import build_task_space

BASE = {"task_name": "t", "model": {"id_or_path": "org/m"}, "base_runtime": "vllm"}


def test_env_parameters_are_a_search_dimension_that_reaches_the_environment_only() -> None:
	spec = parse_spec(
		{
			**BASE,
			"env": {"VLLM_CPU_KVCACHE_SPACE": "1"},
			"parameters": {"env:VLLM_CPU_KVCACHE_SPACE": [1, 2], "max-num-seqs": [4]},
		}
	)
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	assert space.size() == 2
	eng = get_engine("vllm")
	plans = [plan_launch(eng, space.full(c)) for c in space.combinations()]
	assert sorted(p.env["VLLM_CPU_KVCACHE_SPACE"] for p in plans) == ["1", "2"]
	for plan in plans:
		assert all(not k.startswith("env:") for k in plan.flags)
		argv = eng.launch_argv("/m", plan.flags, host="h", port=1)
		assert not any("KVCACHE" in a for a in argv)
		assert plan.record()["env"] == plan.env  # kept with the experiment's plan record


@pytest.mark.parametrize(
	("name", "value", "why"),
	[
		("env:LD_PRELOAD", ["libx.so"], "could change how programs load"),
		("env:CUDA_VISIBLE_DEVICES", ["0"], "set by the tuner"),
		("env:HF_TOKEN", ["x"], "secret"),
		("env:VLLM_CPU_KVCACHE_SPACE", ["1\x00"], "without NUL"),
	],
)
def test_env_parameters_pass_the_allow_list(name: str, value: list, why: str) -> None:  # type: ignore[type-arg]
	with pytest.raises(SpecError) as info:
		parse_spec({**BASE, "parameters": {name: value}})
	assert why in str(info.value)


def test_values_become_text() -> None:
	assert [env_value(v) for v in (True, False, 4.0, 0.5, 3, "TRITON_ATTN")] == [
		"1",
		"0",
		"4",
		"0.5",
		"3",
		"TRITON_ATTN",
	]
