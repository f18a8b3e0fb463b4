"""The roofline prior (search/roofline.py, search/roofline_data.py) and strategy auto's fallback to it
(search/prior.py). No GPU is needed: the roofline is arithmetic on the model's shape and the GPU's datasheet."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from inference_autotuner.engines import get_engine
from inference_autotuner.engines.memory import GPU_MEMORY_GIB
from inference_autotuner.search.prior import effective_prior, prepare, prior_from_roofline
from inference_autotuner.search.roofline import RooflineInfeasible, estimate, model_shape
from inference_autotuner.search.roofline_data import GPU_SPECS, gpu_spec, known_architecture
from inference_autotuner.search.strategies import make_sampler
from inference_autotuner.search.structured import StructuredSampler
from inference_autotuner.space import build_task_space, params_key
from inference_autotuner.spec.models import TaskSpec

H100 = GPU_SPECS["H100"]
WORK = {"isl": 1024, "osl": 256}


def test_architecture_table_gives_the_public_parameter_counts() -> None:
	"""Shapes written from the public configs give the models' advertised sizes (dense and MoE, total/active)."""
	for ref, total, active in (
		("meta-llama/Meta-Llama-3.1-70B-Instruct", 70.6, 69.5),
		("meta-llama/Llama-3.1-8B", 8.0, 7.5),
		("Qwen/Qwen3-32B", 32.8, 32.0),
		("Qwen/Qwen3-30B-A3B", 30.5, 3.0),
		("Qwen/Qwen3-235B-A22B-FP8", 235.1, 21.6),
		("deepseek-ai/DeepSeek-V3", 671.0, 36.6),
	):
		shape = model_shape(ref)
		assert (shape.dense + shape.experts) / 1e9 == pytest.approx(total, abs=0.2), ref
		assert shape.active / 1e9 == pytest.approx(active, abs=0.2), ref
	assert known_architecture("gpt2") is None


def test_a_local_config_json_wins_over_the_table(tmp_path: Path) -> None:
	cfg = {**known_architecture("Qwen/Qwen3-8B"), "num_hidden_layers": 2}  # type: ignore[dict-item]
	folder = tmp_path / "Qwen3-8B"
	folder.mkdir()
	(folder / "config.json").write_text(json.dumps(cfg))
	assert model_shape(str(folder)).layers == 2
	assert model_shape("Qwen/Qwen3-8B").layers == 36


def test_gpu_specs_are_found_by_any_spelling_and_agree_with_the_memory_table() -> None:
	assert gpu_spec("h100_sxm") is H100 and gpu_spec("H100-SXM") is H100 and gpu_spec(" h200 ") is GPU_SPECS["H200"]
	assert gpu_spec("TPU-v5") is None and gpu_spec(None) is None
	for name, gib in GPU_MEMORY_GIB.items():
		assert GPU_SPECS[name].memory_gib == gib
	assert GPU_SPECS["A100"].fp8_tflops is None  # Ampere: no fp8 tensor cores


def test_more_tp_lowers_tpot_until_communication_dominates() -> None:
	shape = model_shape("meta-llama/Llama-3.1-8B")
	tpots = [estimate(shape, H100, tp=tp, concurrency=32, **WORK).tpot for tp in (1, 2, 4, 8)]
	assert tpots == sorted(tpots, reverse=True) and tpots[-1] < tpots[0] / 2
	# each doubling gains less (all-reduce cost grows with tp while the bytes per GPU halve)
	gains = [a / b for a, b in zip(tpots, tpots[1:], strict=False)]
	assert gains == sorted(gains, reverse=True)
	# over a slow link (GPUs joined by a network, not NVLink) communication dominates: more tp is slower
	slow = replace(H100, link_gbs=2.0, link_latency_us=200.0)
	small = model_shape("Qwen/Qwen3-8B")
	slow_tpots = [estimate(small, slow, tp=tp, concurrency=64, **WORK).tpot for tp in (1, 2, 4, 8)]
	assert slow_tpots[1] > slow_tpots[0] and slow_tpots[3] > slow_tpots[2]


def test_a_model_that_does_not_fit_is_infeasible() -> None:
	big = model_shape("meta-llama/Llama-3.1-70B")
	with pytest.raises(RooflineInfeasible, match="does not fit"):
		estimate(big, H100, tp=1, concurrency=8, **WORK)  # 141 GB of bf16 weights on one 80 GB GPU
	assert estimate(big, H100, tp=2, concurrency=8, **WORK).tpot > 0
	with pytest.raises(RooflineInfeasible):
		estimate(model_shape("meta-llama/Llama-3.1-405B"), H100, tp=8, concurrency=8, **WORK)
	# weights fit but no room is left for one sequence's KV cache
	with pytest.raises(RooflineInfeasible, match="one sequence"):
		estimate(big, H100, tp=2, isl=100_000, osl=1000, concurrency=1)


def test_fp8_halves_weight_bytes_and_kv_cache_bytes() -> None:
	shape = model_shape("Qwen/Qwen3-32B")
	bf16 = estimate(shape, H100, tp=2, concurrency=512, **WORK)
	fp8 = estimate(shape, H100, tp=2, gemm_dtype="fp8", concurrency=512, **WORK)
	assert fp8.weights_gib == pytest.approx(bf16.weights_gib / 2)
	assert fp8.tpot < bf16.tpot and fp8.kv_room_gib > bf16.kv_room_gib
	# an fp8 KV cache holds twice the sequences: the memory-bound batch doubles
	one = estimate(shape, H100, tp=1, gemm_dtype="fp8", concurrency=4096, **WORK)
	two = estimate(shape, H100, tp=1, gemm_dtype="fp8", kv_dtype="fp8", concurrency=4096, **WORK)
	assert one.batch < 4096 and two.batch == pytest.approx(2 * one.batch, abs=1)


def test_batch_cap_trades_tpot_for_throughput() -> None:
	shape = model_shape("meta-llama/Llama-3.1-8B")
	runs = [estimate(shape, H100, batch_cap=cap, concurrency=256, **WORK) for cap in (8, 32, 128)]
	assert [r.batch for r in runs] == [8, 32, 128]
	assert runs[0].tpot < runs[1].tpot < runs[2].tpot
	assert runs[0].request_rate < runs[1].request_rate < runs[2].request_rate
	assert runs[0].ttft > runs[2].ttft  # requests beyond the cap queue


def _spec(**over: object) -> TaskSpec:
	base: dict[str, object] = {
		"task_name": "t",
		"model": {"id_or_path": "meta-llama/Llama-3.1-70B"},
		"base_runtime": "vllm",
		"deployment_mode": "docker",
		"hardware": {"gpu": "H100", "gpu_count": 8},
		"parameters": {"max-num-seqs": [32, 256]},
		"parallel_config": {"tp": [1, 2, 4]},
		"quant_config": {"gemm_dtype": ["auto", "fp8"]},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [256]},
		"slo": {"tpot": {"threshold": 0.05, "hard_fail": True}},
	}
	return TaskSpec.model_validate({**base, **over})


def test_roofline_prior_scores_every_configuration_with_the_task_objective_and_slo() -> None:
	spec = _spec(optimization={"prior": "roofline"})
	assert effective_prior(spec) == "roofline"
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	prior = prior_from_roofline(spec, space, get_engine("vllm"))
	assert len(prior) == 12
	keys = {params_key(space.full(c)): c for c in space.iter_combinations()}
	for key, value in prior.items():
		c = keys[key]
		if c["__parallel__tp"] == 1 and c["__quant__gemm_dtype"] == "auto":
			assert value is None  # 141 GB of weights on one H100
	feasible = {k: v for k, v in prior.items() if v is not None}
	assert len(feasible) >= 4
	best = keys[min(feasible, key=lambda k: feasible[k])]
	assert best["__quant__gemm_dtype"] == "fp8"  # fewer bytes per token: the fastest per GPU


def _prepare(spec: TaskSpec) -> tuple[StructuredSampler, list[str]]:
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	study = optuna.create_study(sampler=make_sampler(spec.optimization, space))
	logs: list[str] = []
	prepare(study, spec, space, get_engine(str(spec.base_runtime)), logs.append, model_path=spec.model.ref)
	assert isinstance(study.sampler, StructuredSampler)
	return study.sampler, logs


def test_auto_falls_back_to_the_roofline_where_aiconfigurator_cannot_predict() -> None:
	"""MI300X: aiconfigurator has no such system (whether or not it is installed), the roofline has its datasheet."""
	spec = _spec(hardware={"gpu": "MI300X", "gpu_count": 8})
	assert effective_prior(spec) == "predict"
	sampler, logs = _prepare(spec)
	assert any("prior 'predict' (the default of strategy auto) not used" in m and "MI300X" in m for m in logs), logs
	assert any(m.startswith("prior 'roofline' (strategy auto's fallback") and "12 configurations" in m for m in logs)
	assert len(sampler._prior) == 12 and any(v is not None for v in sampler._prior.values())


def test_auto_searches_without_a_prior_when_neither_can_predict() -> None:
	spec = _spec(hardware={"gpu": "MI300X", "gpu_count": 8}, model={"id_or_path": "acme/unknown-model"})
	sampler, logs = _prepare(spec)
	assert any("not used either" in m and "does not know the shape" in m for m in logs), logs
	assert not sampler._prior


def test_explicit_roofline_prior_on_a_cpu_engine_is_logged_and_ignored() -> None:
	spec = TaskSpec.model_validate(
		{
			"task_name": "t",
			"model": {"id_or_path": "smollm2"},
			"base_runtime": "llamacpp",
			"parameters": {"parallel": [1, 2], "threads": [1, 2]},
			"optimization": {"strategy": "gp", "prior": "roofline"},
		}
	)
	sampler, logs = _prepare(spec)
	assert any(m.startswith("prior 'roofline' not used") and "GPU engines" in m for m in logs), logs
	assert not sampler._prior
