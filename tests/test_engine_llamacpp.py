"""The real llama.cpp engine through the whole experiment path: start, measure, score, stop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from inference_autotuner.deploy.base import Launch
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.engines import get_engine
from inference_autotuner.runner.events import TaskEvent
from inference_autotuner.runner.experiment import run_experiment
from inference_autotuner.services.validate import parse_spec

pytestmark = pytest.mark.engine


def spec_for(model: Path):  # type: ignore[no-untyped-def]
	return parse_spec(
		{
			"task_name": "engine-test",
			"model": {"id_or_path": str(model)},
			"base_runtime": "llama.cpp",
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"objective": "maximize_throughput",
				"timeout_per_iteration": 120,
			},
			"benchmark": {
				"traffic_scenarios": ["D(64,32)"],
				"num_concurrency": [4],
				"max_requests_per_iteration": 16,
				"max_time_per_iteration": 60,
				"warmup_requests": 2,
			},
		}
	)


def measure(model: Path, tmp_path: Path, **params):  # type: ignore[no-untyped-def]
	events: list[TaskEvent] = []
	out = run_experiment(
		spec=spec_for(model),
		engine=get_engine("llamacpp"),
		deployer=LocalProcessDeployer(),
		model_path=model,
		params={"threads": 2, "ctx-size": 4096, **params},
		log_path=tmp_path / f"exp-{params}.log",
		cancel=threading.Event(),
		emit=events.append,
		number=1,
	)
	assert out.status == "success", out.reason
	return out, events


def test_engine_knobs_change_the_measurement(model_path: Path, tmp_path: Path) -> None:
	"""The tuned flags really reach the engine and change what is measured, at concurrency 4.

	Measured on these 2-core machines (2026-11): threads 2 vs 1 about 1.6x throughput; parallel 4 vs 1 about 1.2x
	throughput (not the 2x once noted) and a higher TPOT (four sequences share each decode step: ~2.5x). TTFT also
	drops with more slots (~1.6x) but not reliably when other work loads the machine, so it is not asserted.
	Loose ratios only: timings vary +-10% run to run.
	"""
	problems: list[str] = ["not measured"]
	for _attempt in range(2):  # noisy machines: one repeat of the whole comparison before judging
		p1, _ = measure(model_path, tmp_path, parallel=1)
		p4, events = measure(model_path, tmp_path, parallel=4)
		p4t1, _ = measure(model_path, tmp_path, parallel=4, threads=1)
		f1, f4, f4t1 = p1.score.figures, p4.score.figures, p4t1.score.figures
		problems = []
		if not f4["mean_tpot"] > 1.5 * f1["mean_tpot"]:
			problems.append(f"TPOT parallel 1: {f1['mean_tpot']:.4f} s, 4: {f4['mean_tpot']:.4f} s")
		if not f4["total_throughput"] > 0.9 * f1["total_throughput"]:
			problems.append(
				f"throughput parallel 1: {f1['total_throughput']:.1f}, 4: {f4['total_throughput']:.1f} tok/s"
			)
		if not f4["total_throughput"] > 1.2 * f4t1["total_throughput"]:
			problems.append(f"threads 2: {f4['total_throughput']:.1f} tok/s, 1: {f4t1['total_throughput']:.1f} tok/s")
		if not problems:
			break
	assert not problems, problems
	run = p4.runs[0]
	assert run.completed == 16 and run.errored == 0
	assert run.input_tokens == 16 * 64 and run.output_tokens == 16 * 32, "token counts from the server's usage"
	assert run.ttft.p50 is not None and run.e2e.p50 is not None and run.ttft.p50 < run.e2e.p50
	assert run.tpot.mean is not None and run.tpot.mean > 0
	assert p4.startup_seconds > 0 and p4.bench_seconds > 0
	kinds = [e.type for e in events]
	assert kinds[0] == "engine_ready" and "run_started" in kinds and kinds[-1] == "run_finished"


def test_bad_flag_value_fails_the_experiment_with_the_log(model_path: Path, tmp_path: Path) -> None:
	out = run_experiment(
		spec=spec_for(model_path),
		engine=get_engine("llamacpp"),
		deployer=LocalProcessDeployer(),
		model_path=model_path,
		params={"cache-type-k": "q9_9"},
		log_path=tmp_path / "bad.log",
		cancel=threading.Event(),
		emit=lambda e: None,
		number=1,
	)
	assert out.status == "failed"
	assert "exited with code" in (out.reason or "") and "q9_9" in (out.reason or "")


def test_flags_reach_the_server(model_path: Path, tmp_path: Path) -> None:
	"""The server itself reports the slots and per-slot context the tuned flags asked for (no timing involved)."""
	import httpx

	from inference_autotuner.deploy.ports import free_port

	engine = get_engine("llamacpp")
	deployer = LocalProcessDeployer()
	port = free_port()
	params = {"parallel": 3, "ctx-size": 3072, "threads": 1, "cache-type-k": "q8_0"}
	dep = deployer.start(
		Launch(
			argv=engine.launch_argv(str(model_path), params, host="127.0.0.1", port=port),
			port=port,
			health_path=engine.health_path,
			env={},
			labels={},
		),
		log_path=tmp_path / "e.log",
		timeout=60,
	)
	try:
		assert httpx.get(dep.base_url + "/props").json()["total_slots"] == 3
		slots = httpx.get(dep.base_url + "/slots").json()
		assert [s["n_ctx"] for s in slots] == [1024, 1024, 1024]
	finally:
		deployer.stop(dep)
	assert "q8_0" in (tmp_path / "e.log").read_text()
