"""deployment_mode predict: real aiconfigurator calls (the `predict` extra), labelling, infeasible mapping, plan."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_autotuner.runner.events import TaskEvent
from inference_autotuner.services.validate import parse_spec

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
	importlib.util.find_spec("aiconfigurator") is None,
	reason="aiconfigurator is not installed (pip install -e '.[predict]')",
)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args],
		capture_output=True,
		text=True,
		timeout=timeout,
		cwd=REPO,
		env={**__import__("os").environ, "COLUMNS": "200"},
	)


def qwen_spec(**over: Any) -> dict[str, Any]:
	spec: dict[str, Any] = {
		"task_name": "pred-qwen",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [8, 16, 32, 64, 128]},
		"quant_config": {"gemm_dtype": ["auto", "fp8"], "kvcache_dtype": ["auto", "fp8"]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "bayesian",
			"max_iterations": 20,
			"seed": 3,
		},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [32, 64]},
		"slo": {"tpot": {"threshold": 0.03, "hard_fail": True, "fail_ratio": 0.0}},
	}
	spec.update(over)
	return spec


def run_task(spec: dict[str, Any], **runner_kw: Any):  # type: ignore[no-untyped-def]
	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.services.views import experiments_of
	from inference_autotuner.store import Store

	store = Store()
	task_id = get_or_create_task(store, parse_spec(spec))
	TaskRunner(store, task_id, **runner_kw).run()
	return experiments_of(store, task_id)


def test_predicted_tuning_end_to_end_through_the_cli(tmp_path: Path) -> None:
	"""A 20-experiment TPE tuning of Qwen3-32B on H200 with vLLM: every experiment predicted, labelled everywhere."""
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(qwen_spec()))
	t0 = time.monotonic()
	res = cli("tune", str(path))
	wall = time.monotonic() - t0
	assert res.returncode == 0, res.stderr + res.stdout
	assert "PREDICTED" in res.stdout and "vllm serve Qwen/Qwen3-32B" in res.stdout
	print(f"20 predicted experiments through the CLI: {wall:.1f} s wall (process start included)")
	data = json.loads(cli("show", "pred-qwen", "-f", "json").stdout)
	exps = data["experiments"]
	assert len(exps) == 20 and data["predicted"] is True
	assert all(e["predicted"] for e in exps)
	assert {e["status"] for e in exps} <= {"success", "infeasible"}
	best = next(e for e in exps if e["id"] == data["best_experiment_id"])
	assert best["predicted"] and best["objective_value"] > 0
	for e in exps:
		if e["status"] == "success":
			run = e["runs"][0]
			assert run["predicted"] is True and run["ttft"]["p99"] == run["ttft"]["mean"]
			assert e["gpu_info"]["prediction"]["system"] == "h200_sxm"
			assert e["gpu_info"]["prediction"]["version"] == "0.24.0"
			assert e["launch_command"].startswith("vllm serve Qwen/Qwen3-32B")
	assert "(predicted)" in cli("show", "pred-qwen").stdout
	assert "(predicted)" in cli("list").stdout
	csv_text = cli("export", "pred-qwen").stdout
	assert csv_text.splitlines()[0].split(",").count("predicted") == 1 and ",True," in csv_text


def test_infeasible_mapping_oom_and_no_data() -> None:
	"""OOM (70B bf16 on one H100) and a combination the database has no data for become infeasible, with reasons."""
	spec = {
		"task_name": "pred-oom",
		"model": {"id_or_path": "meta-llama/Meta-Llama-3.1-70B"},
		"base_runtime": "trtllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H100", "gpu_count": 8},
		"parameters": {"max_batch_size": [32]},
		"parallel_config": {"tp": [1, 4], "cp": [1, 2]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 4,
		},
		"benchmark": {"traffic_scenarios": ["D(1024,256)"], "num_concurrency": [16]},
	}
	by_par = {(e.params["__parallel__tp"], e.params["__parallel__cp"]): e for e in run_task(spec)}
	assert by_par[(4, 1)].status == "success" and by_par[(4, 1)].predicted
	assert by_par[(1, 1)].status == "infeasible"
	assert "predicted out of memory" in (by_par[(1, 1)].failure_reason or "")
	assert by_par[(4, 2)].status == "infeasible" and "context parallelism" in (by_par[(4, 2)].failure_reason or "")
	# SGLang fp8 KV cache on H100: aiconfigurator 0.12.0 has no attention table for it
	sg = qwen_spec(
		task_name="pred-nodata",
		base_runtime="sglang",
		hardware={"gpu": "H100"},
		parameters={},
		quant_config={"kvcache_dtype": ["fp8"]},
		parallel_config={"tp": [2]},
		optimization={
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 1,
		},
		slo=None,
	)
	(only,) = run_task(sg)
	assert only.status == "infeasible" and "cannot predict" in (only.failure_reason or "")


def test_moe_dp_and_queueing() -> None:
	"""An MoE model gets MoE parallel fields; concurrency past the batch cap queues (Little's law raises TTFT)."""
	from inference_autotuner.deploy.predict import AiconfiguratorPredictor
	from inference_autotuner.engines import get_engine
	from inference_autotuner.engines.plan import plan_launch

	spec = parse_spec(
		qwen_spec(
			model={"id_or_path": "Qwen/Qwen3-30B-A3B"},
			benchmark={"num_concurrency": [64], "traffic_scenarios": ["D(1000,200)"]},
		)
	)
	dep = AiconfiguratorPredictor.from_spec(spec)
	assert dep.moe
	engine = get_engine("vllm")
	plan = plan_launch(engine, {"__parallel__tp": 2, "max-num-seqs": 64})
	runs, info = dep.predict(spec=spec, plan=plan)
	assert info["args"]["moe_tp_size"] == 2 and runs[0].predicted
	capped = plan_launch(engine, {"__parallel__tp": 2, "max-num-seqs": 8})
	queued, info2 = dep.predict(spec=spec, plan=capped)
	assert info2["runs"][0]["batch_size"] == 8
	assert queued[0].ttft.mean > runs[0].ttft.mean  # 56 of 64 requests wait for a slot
	assert queued[0].e2e.mean == pytest.approx(64 / queued[0].request_throughput)


@pytest.mark.parametrize(
	("over", "needle"),
	[
		({"model": {"id_or_path": "meta-llama/Llama-3.1-70B"}}, "did you mean meta-llama/Meta-Llama-3.1-70B"),
		({"hardware": {"gpu": "TPUv5"}}, "no GPU system 'TPUv5'"),
		({"hardware": None}, "needs hardware.gpu"),
		(
			{
				"base_runtime": "llamacpp",
				"parameters": {"parallel": [1, 2]},
				"quant_config": None,
				"parallel_config": None,
			},
			"no performance data for engine 'llamacpp'",
		),
		({"runtime_image_tag": "9.9.9"}, "versions with data"),
	],
)
def test_user_errors_are_clear(tmp_path: Path, over: dict[str, Any], needle: str) -> None:
	spec = qwen_spec(**over)
	if spec["hardware"] is None:
		del spec["hardware"]
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	res = cli("tune", str(path))
	assert res.returncode != 0 and "Traceback" not in res.stderr
	assert needle in res.stderr.replace("\n", " "), res.stderr


class ZeroEngine:
	"""Stands in for vLLM in the measuring half (no GPU here): benchmarks/zero_server.py, a real local process."""

	name = "vllm"
	version = "zero stand-in"
	health_path = "/health"

	def catalogue(self) -> dict[str, Any]:
		return {}

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		# 20 ms a token: slower than the client, as an engine is (a zero-delay server makes the client the
		# bottleneck, and the run audit rightly refuses such figures as the engine's)
		return [sys.executable, str(REPO / "benchmarks" / "zero_server.py"), "--port", str(port), "--token-ms", "20"]

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8080) -> str:
		return "zero_server.py"

	def world_size(self, params: dict[str, Any]) -> int:
		return 1


def test_plan_top_2_predicts_then_measures_the_best_two(tmp_path: Path) -> None:
	"""The predicting half is real (aiconfigurator); the measuring half is the real runner and local deployer, with a
	stand-in server for vLLM (no GPU here), so the error % is only checked for its arithmetic."""
	from inference_autotuner.deploy.predict import _bundled_dir
	from inference_autotuner.runner.plan import run_plan
	from inference_autotuner.store import Store

	model = tmp_path / "Qwen3-32B"  # a local folder with config.json: predicted from its shape, no download
	model.mkdir()
	(model / "config.json").write_text((_bundled_dir() / "Qwen--Qwen3-32B_config.json").read_text())
	spec = parse_spec(
		qwen_spec(
			task_name="plan-small",
			model={"id_or_path": str(model)},
			deployment_mode="local",
			parameters={"max-num-seqs": [16, 64]},
			quant_config=None,
			parallel_config={"tp": [1, 2]},
			benchmark={"traffic_scenarios": ["D(64,16)"], "num_concurrency": [4], "max_requests_per_iteration": 8},
			slo=None,
			optimization={
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"strategy": "bayesian",
				"max_iterations": 2,
				"timeout_per_iteration": 60,
			},
		)
	)
	store = Store()
	events: list[TaskEvent] = []
	data = run_plan(store, spec, 2, emit=events.append, cancel=threading.Event(), measure_engine=ZeroEngine())
	assert data["predicted_configurations"] == 4 and data["measure_mode"] == "local"
	assert [r["rank"] for r in data["rows"]] == [1, 2]
	predicted = [r["predicted_objective"] for r in data["rows"]]
	assert predicted == sorted(predicted, reverse=True)  # maximize: rank 1 has the highest prediction
	for r in data["rows"]:
		assert r["measured_status"] == "success" and r["measured_objective"] > 0
		assert r["error_pct"] == pytest.approx(
			(r["predicted_objective"] - r["measured_objective"]) / r["measured_objective"] * 100
		)
	from inference_autotuner.services.views import experiments_of, find_task

	measured = experiments_of(store, find_task(store, "plan-small-measured").id)
	assert len(measured) == 2 and not any(e.predicted for e in measured)
	assert [e.params for e in measured] == [r["params"] for r in data["rows"]]  # measured in predicted order
	predicted_task = experiments_of(store, find_task(store, "plan-small-predicted").id)
	assert all(e.predicted for e in predicted_task)


def test_plan_refuses_a_predict_spec_without_a_real_mode(tmp_path: Path) -> None:
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(qwen_spec()))
	res = cli("plan", str(path), "--top", "2")
	assert res.returncode == 1 and "--measure-mode" in res.stderr
